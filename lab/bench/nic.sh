# The NIC benchmark (run in dom0 by ./run-xen.sh bench-nic): dom0 -> guest through the driver
# domain that owns NIC B, vsnoop first, then the Linux baseline (pcifront + virtio_net +
# xen-netback + bridge), in the same boot. Standard lab: 2 pCPUs, credit2, no CPU load.
# dom0 sits on NIC A (e1000), the same L2 segment; guest g1 (role sink) is behind the driver
# domain. Per driver domain: $PINGS pings (one RTT each), $COUNT transfers of each size in
# $SIZES (`vnet bench`: connect, write, half-close, the sink's EOF; 2 warm-up transfers), and
# the footprint: the domain's memory (`xl list`) and its image (vsnoop's ELF; Linux's kernel
# + initramfs). Output: PINGROW / SAMPLEROW / FOOTROW lines, parsed by lab/bench.sh.
SCENARIO=bench-nic
. /lab/lab-lib.sh
. /lab/bench.env
lab_defect() { echo "BENCH-ERROR LAB: $*"; echo "BENCH-END"; exit 1; }

gip=10.0.0.21
dom0_nic_up
nic_assignable
sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", a - b}'; }
cpu_s() { xl vcpu-list "$1" 2>/dev/null | awk 'NR > 1 {s += $6} END {printf "%.1f", s}'; }

for dd in vsnoop linuxdd; do
  echo "BENCH-PHASE $dd"
  if ! nic_dd_start "$dd"; then
    echo "BENCH-ERROR $dd: $NIC_WHY"
    xl destroy "$dd" 2>/dev/null
    continue
  fi
  mem=$(xl list "$dd" | awk 'NR==2 {print $3}')
  if [ "$dd" = vsnoop ]; then
    echo "FOOTROW $dd $mem $(stat -c %s "$VSNOOP_ELF") $(stat -c %s "$VSNOOP_ELF") 0"
    grep -m1 '^vsnoop [0-9]' "$GUEST_LOG/guest-vsnoop.log" | tr -d '\r' | sed 's/^/[vsnoop] /'
  else
    k=$(stat -c %s "$LAB_IMAGES/vmlinuz"); r=$(stat -c %s "$LAB_IMAGES/guest-lab.cpio.gz")
    echo "FOOTROW $dd $mem $((k + r)) $k $r"
  fi
  start_guest_role g1 sink "$gip" "$DOM0_IP" 00:16:3e:00:00:21 "$dd" || { echo "BENCH-ERROR $dd: xl create g1 failed"; xl destroy "$dd"; continue; }
  i=0
  until ping -c1 -W1 "$gip" >/dev/null 2>&1 || [ "$i" -ge 90 ]; do i=$((i + 1)); done
  if [ "$i" -ge 90 ]; then
    show_console g1 | tail -10
    echo "BENCH-ERROR $dd: dom0 cannot ping g1 ($gip)"
  else
    ping -c "$PINGS" -i 0.2 -W 2 "$gip" >/tmp/ping.out 2>&1
    sed -n "s/.*time=\([0-9.]*\) ms.*/PINGROW $dd \1/p" /tmp/ping.out
    echo "BENCH-PING $dd $(ping_summary </tmp/ping.out)"
    for size in $SIZES; do
      c0_dd=$(cpu_s "$dd"); c0_g=$(cpu_s g1); c0_d0=$(cpu_s Domain-0); t0=$(date +%s.%N)
      if /lab/bin/vnet bench "$gip" 5002 "$size" "$COUNT" 2 >/tmp/bench.out 2>&1; then
        # CPU seconds each domain spent during the run (xl vcpu-list), against wall time.
        echo "BENCH-CPU $dd $size dd=$(sub "$(cpu_s "$dd")" "$c0_dd") g1=$(sub "$(cpu_s g1)" "$c0_g") dom0=$(sub "$(cpu_s Domain-0)" "$c0_d0") wall=$(sub "$(date +%s.%N)" "$t0")"
        sed -n "s/^SAMPLE [0-9]* /SAMPLEROW $dd $size /p" /tmp/bench.out
        echo "BENCH-RESULT $dd $(grep '^BENCH' /tmp/bench.out)"
      else
        echo "BENCH-ERROR $dd: vnet bench $size failed: $(tail -2 /tmp/bench.out | tr '\n' ' ')"
      fi
    done
  fi
  faults=$(no_vtd_faults) || echo "BENCH-ERROR $dd: VT-d faults: $(echo "$faults" | head -2 | tr '\n' ' ')"
  destroy_guest g1 "$dd"
  xl destroy "$dd"
  wait_for 30 dom_gone "$dd"
  no_vtd_faults >/dev/null
done
echo "BENCH-END"
