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
  log "booting the benchmark lab (3 pCPUs, credit scheduler); console log: $out/console.log"
  bench_boot "$out" 3 "sched=credit dom0_max_vcpus=1 dom0_vcpus_pin" '^(LAB:|BENCH-|\[vsnoop\])'
  bench_report "$out"
}

# One benchmark boot (mode "bench", $BENCH_NAME / $BENCH_ENV set by the caller): the console
# goes to OUTDIR/console.log, lines matching LIVE-PATTERN to the terminal as they come.
bench_boot() { # OUTDIR SMP XEN_EXTRA LIVE-PATTERN
  local out=$1 initrd
  initrd=$(lab_initrd bench)
  LAB_SMP=$2 XEN_EXTRA=$3 qemu_args "$initrd"
  timeout "${VSNOOP_BENCH_TIMEOUT:-3600}" "${QEMU_ARGS[@]}" </dev/null 2>&1 | sed -u 's/\r$//' | tee "$out/console.log" \
    | grep --line-buffered -E "$4" || true
  rm -rf "$(dirname "$initrd")"
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

# --- bench-nic: dom0 -> guest through the driver domain that owns the NIC -----------------
# lab_bench_nic OUTDIR COUNT: one boot of the standard lab (2 pCPUs, credit2, no load) runs
# lab/bench/nic.sh (vsnoop, then the Linux driver domain); then the table, the CSVs, the plot.
lab_bench_nic() {
  local out=$1
  mkdir -p "$out"
  BENCH_NAME=nic
  BENCH_ENV="COUNT=$2
SIZES=\"1000000 10000000\"
PINGS=${VSNOOP_BENCH_PINGS:-50}"
  log "booting the lab for bench-nic (2 pCPUs, credit2); console log: $out/console.log"
  bench_boot "$out" 2 "" '^(LAB:|BENCH-|\[vsnoop\]|\[bench-nic\])'
  nic_report "$out"
}

# Percentiles of one column of a CSV: nic_stats FILE FILTER-AWK-EXPR COLUMN -> "n median p10 p90 avg"
nic_stats() {
  awk -F, "NR > 1 && ($2) {print \$$3}" "$1" | sort -g | awk '{v[NR] = $1; s += $1}
    END {if (NR) printf "%d %.2f %.2f %.2f %.2f\n", NR, v[int(NR / 2) + 1], v[int(NR / 10) + 1], v[int(NR * 9 / 10) + 1], s / NR}'
}

nic_report() {
  local out=$1 dd size
  local log="$out/console.log"
  grep '^SAMPLEROW ' "$log" | awk 'BEGIN {print "dd,bytes,ms,mbps,acked_ms"} {print $2","$3","$4","$5","$6}' >"$out/samples.csv"
  grep '^PINGROW ' "$log" | awk 'BEGIN {print "dd,rtt_ms"} {print $2","$3}' >"$out/ping.csv"
  grep '^FOOTROW ' "$log" | awk 'BEGIN {print "dd,memory_mb,image_bytes,kernel_bytes,ramdisk_bytes"} {print $2","$3","$4","$5","$6}' >"$out/footprint.csv"
  grep -E '^BENCH-ERROR' "$log" || true
  if [ "$(wc -l <"$out/samples.csv")" -le 1 ] && [ "$(wc -l <"$out/ping.csv")" -le 1 ]; then
    log "no samples: see $log"; return 1
  fi
  # metric,unit,vsnoop,linux,ratio (vsnoop / Linux); "-" where a side has no data.
  {
    echo "metric,unit,vsnoop,linux,ratio_vsnoop_over_linux"
    for size in 1000000 10000000; do
      for k in median:2 p10:3 p90:4; do
        local v="" l=""
        v=$(nic_stats "$out/samples.csv" "\$1 == \"vsnoop\" && \$2 == $size" 4 | cut -d' ' -f"${k#*:}")
        l=$(nic_stats "$out/samples.csv" "\$1 == \"linuxdd\" && \$2 == $size" 4 | cut -d' ' -f"${k#*:}")
        echo "throughput_$((size / 1000000))MB_${k%%:*},Mbit/s,${v:--},${l:--}"
      done
      v=$(nic_stats "$out/samples.csv" "\$1 == \"vsnoop\" && \$2 == $size" 3 | cut -d' ' -f2)
      l=$(nic_stats "$out/samples.csv" "\$1 == \"linuxdd\" && \$2 == $size" 3 | cut -d' ' -f2)
      echo "time_$((size / 1000000))MB_median,ms,${v:--},${l:--}"
    done
    for k in avg:5 median:2 p90:4; do
      v=$(nic_stats "$out/ping.csv" '$1 == "vsnoop"' 2 | cut -d' ' -f"${k#*:}")
      l=$(nic_stats "$out/ping.csv" '$1 == "linuxdd"' 2 | cut -d' ' -f"${k#*:}")
      echo "ping_rtt_${k%%:*},ms,${v:--},${l:--}"
    done
    v=$(awk -F, '$1 == "vsnoop" {print $2}' "$out/footprint.csv"); l=$(awk -F, '$1 == "linuxdd" {print $2}' "$out/footprint.csv")
    echo "memory,MiB,${v:--},${l:--}"
    v=$(awk -F, '$1 == "vsnoop" {print $3}' "$out/footprint.csv"); l=$(awk -F, '$1 == "linuxdd" {print $3}' "$out/footprint.csv")
    echo "image,bytes,${v:--},${l:--}"
  } | awk -F, 'NR == 1 {print; next}
      {r = "-"; if ($3 != "-" && $4 != "-" && $4 + 0 > 0) r = sprintf($3 / $4 < 0.1 ? "%.4f" : "%.2f", $3 / $4); print $0 "," r}' >"$out/summary.csv"
  echo
  echo "NIC: dom0 (e1000) -> guest through the driver domain that owns the passed-through virtio-net"
  echo "(2 pCPUs, credit2, no load; $(grep -c '^PINGROW vsnoop' "$log") / $(grep -c '^PINGROW linuxdd' "$log") pings, transfers per size: $(awk -F, '$2 == 1000000' "$out/samples.csv" | grep -c '^vsnoop') / $(awk -F, '$2 == 1000000' "$out/samples.csv" | grep -c '^linuxdd'))"
  awk -F, 'NR == 1 {printf "%-22s %-7s %10s %10s %13s\n", "metric", "unit", "vsnoop", "Linux", "vsnoop/Linux"; next}
    {printf "%-22s %-7s %10s %10s %13s\n", $1, $2, $3, $4, ($5 == "-" ? "-" : $5 "x")}' "$out/summary.csv"
  echo "(throughput: higher is better; time, ping, memory, image: lower is better)"
  nic_plot "$out"
}

nic_plot() {
  local out=$1 dd size
  command -v gnuplot >/dev/null || { log "gnuplot missing: no plot"; return 0; }
  for dd in vsnoop linuxdd; do
    for size in 1000000 10000000; do
      awk -F, -v d="$dd" -v s="$size" 'NR > 1 && $1 == d && $2 == s {print $4}' "$out/samples.csv" | sort -g \
        | awk '{v[NR] = $1} END {for (i = 1; i <= NR; i++) print v[i], i / NR}' >"$out/cdf-$dd-$size.dat"
    done
    awk -F, -v d="$dd" 'NR > 1 && $1 == d {print $2}' "$out/ping.csv" | sort -g \
      | awk '{v[NR] = $1} END {for (i = 1; i <= NR; i++) print v[i], i / NR}' >"$out/cdf-$dd-ping.dat"
  done
  # One panel per measure; a missing series (e.g. vsnoop without a NIC) is left out.
  local panel plots f title
  {
    echo 'set terminal pngcairo size 1500,500 font "DejaVu Sans,10"'
    echo "set output \"$out/nic.png\""
    echo 'set multiplot layout 1,3 title "dom0 -> guest through the driver domain owning the NIC (lab, 2 pCPUs, credit2)"'
    echo 'set ylabel "CDF"; set grid; set key bottom right'
    for panel in 1000000 10000000 ping; do
      plots=()
      for dd in vsnoop linuxdd; do
        f="$out/cdf-$dd-$panel.dat"
        title=vsnoop; [ "$dd" = linuxdd ] && title="Linux driver domain"
        [ -s "$f" ] && plots+=("\"$f\" using 1:2 with lines lw 2 title \"$title\"")
      done
      if [ "$panel" = ping ]; then
        echo 'set title "ping RTT"; set xlabel "ms"'
      else
        echo "set title \"$((panel / 1000000)) MB transfers\"; set xlabel \"Mbit/s per transfer\""
      fi
      if [ ${#plots[@]} -gt 0 ]; then
        (IFS=,; echo "plot ${plots[*]}")
      else
        echo 'set label 1 "no data" at graph 0.5,0.5 center; plot [0:1] [0:1] NaN notitle; unset label 1'
      fi
    done
    echo 'unset multiplot'
  } | gnuplot
  log "plot: $out/nic.png; data: $out/{summary,samples,ping,footprint}.csv"
}
