# bench: the vSnoop benchmark in the lab (lab/bench/vsnoop-effect.sh), parsed into a table,
# a CSV of every sample and a CDF plot. Sourced by run-xen.sh; `demo` runs a short version.
# shellcheck shell=bash

# lab_bench OUTDIR PHASES ROUNDS COUNT SIZES
lab_bench() {
  local out=$1 initrd logf
  mkdir -p "$out"
  BENCH_NAME=vsnoop-effect
  BENCH_ENV="PHASES=\"$2\"
ROUNDS=$3
COUNT=$4
SIZES=$5
LOAD=60:40"
  initrd=$(lab_initrd bench)
  LAB_SMP=3 XEN_EXTRA="sched=credit dom0_max_vcpus=1 dom0_vcpus_pin" qemu_args "$initrd"
  logf="$out/console.log"
  log "booting the benchmark lab (3 pCPUs, credit scheduler); console log: $logf"
  timeout "${VSNOOP_BENCH_TIMEOUT:-3600}" "${QEMU_ARGS[@]}" </dev/null 2>&1 | sed -u 's/\r$//' | tee "$logf" \
    | grep --line-buffered -E '^(LAB:|BENCH-|\[vsnoop\])' || true
  rm -rf "$(dirname "$initrd")"
  bench_report "$out"
}

# Turns the console's rows into samples.csv, summary.csv, a table and cdf-100k.png.
bench_report() {
  local out=$1
  grep '^SAMPLEROW ' "$out/console.log" | awk 'BEGIN {print "dd,mode,round,bytes,ms,mbps,acked_ms"}
    {print $2","$3","$4","$5","$6","$7","$8}' >"$out/samples.csv"
  grep '^PINGROW ' "$out/console.log" >"$out/ping.txt" || true
  if [ "$(wc -l <"$out/samples.csv")" -le 1 ]; then
    log "no samples: see $out/console.log"; grep -E '^BENCH-ERROR' "$out/console.log" || true; return 1
  fi
  # Per (dd, mode, size): median / p10 / p90 throughput over all samples, median time,
  # median "all data acknowledged" time, ping average.
  awk -F, 'NR > 1 {k = $1 "," $2 "," $4; n[k]++; v[k, n[k]] = $6 + 0; t[k, n[k]] = $5 + 0; a[k, n[k]] = $7 + 0}
    function sortk(k, arr,   i, j, x) {
      for (i = 1; i <= n[k]; i++) s[i] = arr[k, i] + 0
      for (i = 2; i <= n[k]; i++) { x = s[i]; for (j = i - 1; j > 0 && s[j] > x; j--) s[j + 1] = s[j]; s[j + 1] = x }
    }
    END {
      print "dd,mode,bytes,samples,median_mbps,p10_mbps,p90_mbps,median_ms,median_acked_ms"
      for (k in n) {
        sortk(k, v); m = s[int(n[k] / 2) + 1]; p10 = s[int(n[k] / 10) + 1]; p90 = s[int(n[k] * 9 / 10) + 1]
        sortk(k, t); mt = s[int(n[k] / 2) + 1]
        sortk(k, a); ma = s[int(n[k] / 2) + 1]
        printf "%s,%d,%.1f,%.1f,%.1f,%.2f,%.2f\n", k, n[k], m, p10, p90, mt, ma
      }
    }' "$out/samples.csv" | sort >"$out/summary.csv"
  echo
  echo "vSnoop in the lab: receiver VM sharing a pCPU with 2 VMs at 60% load, credit scheduler"
  printf '%-8s %-5s %9s %7s %11s %9s %9s %10s %12s %10s\n' driver vsnoop bytes samples median_Mbps p10_Mbps p90_Mbps median_ms acked_ms ping_ms
  tail -n +2 "$out/summary.csv" | while IFS=, read -r dd mode bytes n med p10 p90 mt ma; do
    ping=$(awk -v d="$dd" -v m="$mode" '$2 == d && $3 == m {split($0, f, "= "); split(f[2], g, "/"); s += g[2]; c++}
      END {if (c) printf "%.2f", s / c; else printf "-"}' "$out/ping.txt")
    printf '%-8s %-5s %9s %7s %11s %9s %9s %10s %12s %10s\n' "$dd" "$mode" "$bytes" "$n" "$med" "$p10" "$p90" "$mt" "$ma" "$ping"
  done
  awk -F, 'NR > 1 {m[$1 "," $2 "," $3] = $5; a[$1 "," $2 "," $3] = $9}
    END {
      for (k in m) { split(k, p, ","); if (p[1] == "vsnoop" && p[2] == "on") {
        off = m["vsnoop,off," p[3]]; lin = m["linuxdd,linux," p[3]]
        if (off) printf "ratio %s B: vSnoop on / off = %.2fx (median throughput, connect to EOF)\n", p[3], m[k] / off
        if (a[k] > 0) printf "ratio %s B: vSnoop off / on = %.2fx (median time until all data acknowledged)\n", p[3], a["vsnoop,off," p[3]] / a[k]
        if (lin) printf "ratio %s B: vsnoop (on) / Linux driver domain = %.2fx; vsnoop (off) / Linux = %.2fx\n", p[3], m[k] / lin, off / lin
      } }
    }' "$out/summary.csv"
  bench_plot "$out"
}

bench_plot() {
  local out=$1 cfg
  command -v gnuplot >/dev/null || { log "gnuplot missing: no plot"; return 0; }
  for cfg in vsnoop,off vsnoop,on linuxdd,linux; do
    awk -F, -v c="$cfg" 'NR > 1 && ($1 "," $2) == c && $4 == 100000 {print $6}' "$out/samples.csv" | sort -g \
      | awk '{v[NR] = $1} END {for (i = 1; i <= NR; i++) print v[i], i / NR}' >"$out/cdf-${cfg/,/-}.dat"
  done
  local plots=() titles=("vsnoop, vSnoop off" "vsnoop, vSnoop on" "Linux driver domain") i=0
  for cfg in vsnoop-off vsnoop-on linuxdd-linux; do
    [ -s "$out/cdf-$cfg.dat" ] && plots+=("\"$out/cdf-$cfg.dat\" using 1:2 with lines lw 2 title \"${titles[$i]}\"")
    i=$((i + 1))
  done
  [ ${#plots[@]} -gt 0 ] || return 0
  local IFS=,
  gnuplot <<GP
set terminal pngcairo size 900,600 font "DejaVu Sans,11"
set output "$out/cdf-100k.png"
set title "100 KB transfers to a VM sharing its CPU with 2 loaded VMs (lab, credit scheduler)"
set xlabel "throughput per transfer (Mbit/s)"
set ylabel "CDF"
set key bottom right
set grid
plot ${plots[*]}
GP
  log "plot: $out/cdf-100k.png; samples: $out/samples.csv; summary: $out/summary.csv"
}
