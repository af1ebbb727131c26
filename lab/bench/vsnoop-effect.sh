# The vSnoop benchmark (run in dom0 by ./run-xen.sh bench and, shorter, by demo).
# Topology (BRIEF §6): the receiver g1 shares pCPU 2 with two other VMs, each at 60% CPU
# load (60 ms busy / 40 ms idle); the sender g0 has pCPU 0 (with an idle dom0); the driver
# domain has pCPU 1; Xen runs the credit scheduler (30 ms slices). For each driver domain in
# $PHASES, g0 runs $ROUNDS rounds of $COUNT transfers of each size in $SIZES to g1; with
# vsnoop, rounds alternate vSnoop off / on (switched at run time through xenstore).
# Output: SAMPLEROW / BENCHROW / PINGROW lines, parsed by lab/bench.sh on the host.
. /lab/lab-lib.sh
. /lab/bench.env

mode_of() { # DD ROUND
  if [ "$1" = vsnoop ]; then
    [ $(($2 % 2)) -eq 0 ] && echo off || echo on
  else
    echo linux
  fi
}

bench_guest() { # NAME CPU ROLE IP EXTRA DD MAC
  fresh_console "$1"
  xl create /lab/config/guest.cfg "name=\"$1\"" "cpus=\"$2\"" 'memory=128' \
    "extra=\"console=hvc0 quiet vsnoop.role=$3 vsnoop.ip=$4/24 $5\"" \
    "vif=[\"backend=$6,mac=$7\"]" >/tmp/xl-$1.log 2>&1 || { cat /tmp/xl-$1.log; return 1; }
}

run_phase() { # DD
  dd=$1
  echo "BENCH-PHASE $dd"
  bench_guest g1 2 sink 10.0.0.21 "vsnoop.load=$LOAD" "$dd" 00:16:3e:00:00:21 || return 1
  bench_guest g2 2 load 10.0.0.22 "vsnoop.load=$LOAD" "$dd" 00:16:3e:00:00:22 || return 1
  bench_guest g3 2 load 10.0.0.23 "vsnoop.load=$LOAD" "$dd" 00:16:3e:00:00:23 || return 1
  bench_guest g0 0 sender 10.0.0.20 \
    "vsnoop.peer=10.0.0.21 vsnoop.rounds=$ROUNDS vsnoop.count=$COUNT vsnoop.sizes=$SIZES vsnoop.gap=4" \
    "$dd" 00:16:3e:00:00:20 || return 1
  ddid=$(xl domid "$dd")
  r=0
  while [ "$r" -lt "$ROUNDS" ]; do
    ready() { grep -q "^GUEST-READY $r" "$GUEST_LOG/guest-g0.log" 2>/dev/null; }
    wait_for 600 ready || { show_console g0 | tail; echo "sender never reached round $r"; return 1; }
    m=$(mode_of "$dd" "$r")
    [ "$dd" = vsnoop ] && xenstore-write "/local/domain/$ddid/control/vsnoop-snoop" "$m"
    echo "BENCH-ROUND $dd $r $m"
    r=$((r + 1))
  done
  wait_for 900 guest_done g0 || { show_console g0 | tail; echo "sender did not finish"; return 1; }
  tr -d '\r' <"$GUEST_LOG/guest-g0.log" | while read -r tag r rest; do
    case "$tag" in
      GUEST-SAMPLE) echo "SAMPLEROW $dd $(mode_of "$dd" "$r") $r $rest" ;;
      GUEST-BENCH) echo "BENCHROW $dd $(mode_of "$dd" "$r") $r $rest" ;;
      GUEST-PINGRTT) echo "PINGROW $dd $(mode_of "$dd" "$r") $r $rest" ;;
    esac
  done
  for g in g0 g1 g2 g3; do xl destroy "$g" 2>/dev/null; done
}

for phase in $PHASES; do
  case "$phase" in
    vsnoop)
      fresh_console vsnoop
      xl create /lab/config/vsnoop-dd.cfg "kernel=\"$VSNOOP_ELF\"" 'cpus="1"' || { echo "BENCH-ERROR vsnoop create"; continue; }
      wait_for 30 grep -q "serving: netback up" "$GUEST_LOG/guest-vsnoop.log" || { echo "BENCH-ERROR vsnoop not serving"; continue; }
      head -6 "$GUEST_LOG/guest-vsnoop.log" | tr -d '\r' | sed 's/^/[vsnoop] /'
      run_phase vsnoop || echo "BENCH-ERROR vsnoop phase failed"
      sleep 11 # the status keys are refreshed every 10 s while vSnoop is on
      ddid=$(xl domid vsnoop)
      hs=""
      for k in held-frames redelivered hold-expired; do
        hs="$hs $k=$(xenstore-read "/local/domain/$ddid/data/vsnoop/$k" 2>/dev/null)"
      done
      echo "[vsnoop] handshake hold (data/vsnoop/*):$hs"
      ds=""
      for k in acks-deferred deferred-by-guest deferred-sent; do
        ds="$ds $k=$(xenstore-read "/local/domain/$ddid/data/vsnoop/$k" 2>/dev/null)"
      done
      echo "[vsnoop] deferred early ACKs (data/vsnoop/*, R12):$ds"
      grep -E "vSnoop switched|stats" "$GUEST_LOG/guest-vsnoop.log" | tr -d '\r' | tail -8 | sed 's/^/[vsnoop] /'
      xl shutdown -w vsnoop >/dev/null 2>&1 || xl destroy vsnoop ;;
    linux)
      fresh_console linuxdd
      xl create /lab/config/linux-dd.cfg 'cpus="1"' || { echo "BENCH-ERROR linuxdd create"; continue; }
      wait_for 60 grep -q "ROLE netback-dd ready" "$GUEST_LOG/guest-linuxdd.log" || { echo "BENCH-ERROR linuxdd not up"; continue; }
      run_phase linuxdd || echo "BENCH-ERROR linuxdd phase failed"
      xl destroy linuxdd ;;
  esac
done
echo "BENCH-END"
