# Helpers for lab scenarios, sourced in dom0. A scenario calls exactly one of pass / fail.
# Result lines are parsed by the host (lab/test.sh):
#   VSNOOP-RESULT PASS <name>
#   VSNOOP-RESULT FAIL <name>: <reason>
#   VSNOOP-LAB-DEFECT <name>: <reason>   (dom0 itself is broken: a lab verdict, not vsnoop's)

LAB_IMAGES=/lab/images
VSNOOP_ELF=/lab/vsnoop.elf

pass() { echo "VSNOOP-RESULT PASS $SCENARIO"; exit 0; }
fail() { echo "VSNOOP-RESULT FAIL $SCENARIO: $*"; exit 1; }
note() { echo "[$SCENARIO] $*"; }
# The lab itself failed (dom0's tools, pciback, ...): not a verdict on the driver domain.
# On stderr, so that it reaches the console even from a command substitution.
lab_defect() {
  echo "VSNOOP-LAB-DEFECT $SCENARIO: $*" >&2
  echo "VSNOOP-RESULT FAIL $SCENARIO: LAB: $*" >&2
  exit 1
}
# Background helpers a scenario starts are killed after it (lab_run_list), even if it fails.
bg_track() { echo "$1" >>/tmp/lab-bg.pids; }

# Starts a domain's console log afresh (logs are per domain name and would otherwise mix
# the output of earlier boots of the same name).
fresh_console() { rm -f "/var/log/xen/console/guest-$1.log"; }

# Prints a guest's console log (xenconsoled --log=guest) with a prefix.
show_console() { # domain-name
  sed "s/^/[$1 console] /" "/var/log/xen/console/guest-$1.log" 2>/dev/null | tr -d '\r'
}

# Waits until a command succeeds: wait_for SECONDS CMD...
wait_for() {
  local t=$1 i=0; shift
  while ! "$@" >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -ge $((t * 10)) ] && return 1; sleep 0.1
  done
}

# State letters of a domain in `xl list` (r b p s c d), empty if it does not exist.
dom_state() { xl list "$1" 2>/dev/null | awk 'NR==2 {print $5}'; }
dom_gone() { ! xl list "$1" >/dev/null 2>&1; }

# dom0 integrity: the tools' hashes taken when the image was built.
lab_integrity_ok() { sha256sum -c --quiet /lab/integrity.sha256 >/tmp/integrity.out 2>&1; }

lab_run_list() {
  local name rc
  for name in $(cat "$1"); do
    echo "VSNOOP-SCENARIO-START $name"
    xl dmesg -c >/dev/null 2>&1   # each scenario judges only its own hypervisor messages
    timeout "${SCENARIO_TIMEOUT:-300}" sh -c "SCENARIO=$name; . /lab/lab-lib.sh; . /lab/scenarios/$name.sh" 2>&1
    rc=$?
    [ "$rc" -eq 124 ] && echo "VSNOOP-RESULT FAIL $name: scenario still running after ${SCENARIO_TIMEOUT:-300}s, killed"
    if [ "$rc" -ne 0 ]; then
      # Evidence for the failure: the tail of every domain console of this scenario.
      for f in /var/log/xen/console/guest-*.log; do
        [ -e "$f" ] || continue
        d=${f##*/guest-}; d=${d%.log}
        tail -n 25 "$f" | tr -d '\r' | sed "s/^/[$d console] /"
      done
    fi
    rm -f /var/log/xen/console/guest-*.log
    # Clean up whatever the scenario left running: its background helpers (bg_track),
    # then its domains.
    [ -f /tmp/lab-bg.pids ] && kill $(cat /tmp/lab-bg.pids) >/dev/null 2>&1
    rm -f /tmp/lab-bg.pids
    for d in $(xl list 2>/dev/null | awk 'NR>2 {print $1}'); do xl destroy "$d" >/dev/null 2>&1; done
    if ! lab_integrity_ok; then
      echo "VSNOOP-LAB-DEFECT $name: dom0 files changed under the lab ($(head -3 /tmp/integrity.out | tr '\n' ' '))"
    fi
    echo "VSNOOP-SCENARIO-END $name rc=$rc"
  done
}

# --- two guests behind a driver domain ---------------------------------------------------
GUEST_LOG=/var/log/xen/console
# Bytes each guest sends its peer: VSNOOP_LAB_BYTES on the host (default 8 MB: under TCG,
# 100 MB each way takes several minutes per scenario).
[ -f /lab/lab.env ] && . /lab/lab.env
LAB_BYTES=${LAB_BYTES:-8000000}

# start_guest NAME IP PEER-IP MAC BACKEND [extra cmdline words]
start_guest() {
  fresh_console "$1"
  xl create /lab/config/guest.cfg "name=\"$1\"" \
    "extra=\"console=hvc0 quiet vsnoop.role=peer vsnoop.ip=$2/24 vsnoop.peer=$3 vsnoop.seed=${1#g} vsnoop.bytes=${LAB_BYTES:-100000000} $6\"" \
    "vif=[\"backend=$5,mac=$4\"]" >/tmp/xl-$1.log 2>&1 || { cat /tmp/xl-$1.log; return 1; }
}

guest_line() { # NAME TAG -> the rest of the guest's first TAG line
  tr -d '\r' <"$GUEST_LOG/guest-$1.log" 2>/dev/null | sed -n "s/^$2 //p" | head -1
}
guest_done() { grep -q "^GUEST-DONE" "$GUEST_LOG/guest-$1.log" 2>/dev/null; }

# The guests' traffic test: both reach each other and exchange BYTES each way intact.
# pair_traffic_ok BACKEND (prints why on failure)
pair_traffic_ok() {
  wait_for $((240 + LAB_BYTES / 100000)) guest_done g1 && wait_for 60 guest_done g2 || {
    show_console g1 | tail -15; show_console g2 | tail -15; echo "guests did not finish"; return 1; }
  for g in g1 g2; do
    case "$(guest_line $g GUEST-PING)" in ok*) note "$g ping: $(guest_line $g GUEST-PING)" ;; *) echo "$g could not ping its peer"; return 1 ;; esac
  done
  s1=$(guest_line g1 GUEST-SENT); r2=$(guest_line g2 GUEST-RECV)
  s2=$(guest_line g2 GUEST-SENT); r1=$(guest_line g1 GUEST-RECV)
  note "g1: $(guest_line g1 GUEST-SEND-TIME), g2: $(guest_line g2 GUEST-SEND-TIME)"
  note "g1->g2 sent $s1 received $r2"
  note "g2->g1 sent $s2 received $r1"
  [ -n "$s1" ] && [ "$s1" = "$r2" ] || { echo "g1->g2 transfer corrupted or lost"; return 1; }
  [ -n "$s2" ] && [ "$s2" = "$r1" ] || { echo "g2->g1 transfer corrupted or lost"; return 1; }
}

# backend_state DD FE-NAME DEVID -> the xenbus state of the vif backend in driver domain DD
backend_state() {
  xenstore-read "/local/domain/$(xl domid "$1")/backend/vif/$(xl domid "$2")/$3/state" 2>/dev/null
}

frontend_state() { # FE-NAME DEVID
  xenstore-read "/local/domain/$(xl domid "$1")/device/vif/$2/state" 2>/dev/null
}

# The whole guest-pair check behind driver domain DD (netback and netback-linux):
# two guests, ping, LAB_BYTES each way with equal sha256, detach/attach, destroy cleanup.
pair_scenario() { # DD
  dd=$1
  start_guest g1 10.0.0.11 10.0.0.12 00:16:3e:00:00:11 "$dd" || fail "xl create g1 failed"
  start_guest g2 10.0.0.12 10.0.0.11 00:16:3e:00:00:12 "$dd" || fail "xl create g2 failed"
  why=$(pair_traffic_ok "$dd") || fail "$why"
  echo "$why"
  fe_up() { [ "$(frontend_state g1 0)" = 4 ]; }
  wait_for 10 fe_up || fail "g1's vif not Connected (frontend state '$(frontend_state g1 0)')"
  if [ "$dd" = linuxdd ]; then
    # A Linux driver domain needs `xl devd` to remove a detached device's backend
    # directory; this lab's has none, so dom0 plays that part (vsnoop does it itself).
    xl network-detach g1 0 &
    detach_pid=$!
    closed() { [ "$(backend_state "$dd" g1 0)" = 6 ]; }
    wait_for 30 closed && xenstore-rm "/local/domain/$(xl domid "$dd")/backend/vif/$(xl domid g1)/0"
    wait "$detach_pid" || fail "network-detach failed"
  else
    xl network-detach g1 0 || fail "network-detach failed"
  fi
  gone() { [ -z "$(backend_state "$dd" g1 0)" ]; }
  wait_for 30 gone || fail "vif 0 of g1 still in the backend tree after detach"
  note "ok: network-detach"
  xl network-attach g1 "backend=$dd" mac=00:16:3e:00:00:11 || fail "network-attach failed"
  devid=$(xl network-list g1 | awk 'NR==2 {print $1}')
  fe_back() { [ "$(frontend_state g1 "$devid")" = 4 ]; }
  wait_for 30 fe_back || fail "re-attached vif $devid not Connected (frontend state '$(frontend_state g1 "$devid")', backend '$(backend_state "$dd" g1 "$devid")')"
  note "ok: network-attach (vif $devid connected)"
  g2id=$(xl domid g2)
  xl destroy g2
  cleaned() { ! xenstore-ls "/local/domain/$(xl domid "$dd")/backend/vif/$g2id" >/dev/null 2>&1; }
  wait_for 30 cleaned || fail "g2's vif backend left behind after destroy"
  note "ok: destroying g2 cleaned up its vif"
}

# --- the passed-through NIC (nic, nic-linux, bench-nic) ----------------------------------
# NIC B (QEMU's virtio-net at 00:05.0) is handed to the driver domain through pciback
# (`pci=['0000:00:05.0']`); dom0 keeps NIC A (e1000, MAC DOM0_MAC) on the same QEMU hub, so
# dom0 reaches the guests through the driver domain and the NIC, like a host on the LAN.
NIC_BDF=0000:00:05.0
DOM0_MAC=52:54:00:00:00:0a
DOM0_IP=10.0.0.1

dom0_nic_if() { # the interface of NIC A (dom0 has no udev: the kernel name, eth0)
  for d in /sys/class/net/*; do
    [ "$(cat "$d/address" 2>/dev/null)" = "$DOM0_MAC" ] && { echo "${d##*/}"; return 0; }
  done
  return 1
}

# Brings NIC A up with DOM0_IP/24 (idempotent). e1000 is a module and nothing loads it at
# boot (no udev); its failure is the lab's.
dom0_nic_up() {
  modprobe e1000 >/tmp/e1000.log 2>&1 || lab_defect "modprobe e1000 (dom0's NIC A) failed: $(head -c 200 /tmp/e1000.log)"
  wait_for 10 dom0_nic_if || lab_defect "dom0's NIC A ($DOM0_MAC) has no interface"
  DOM0_IF=$(dom0_nic_if)
  ip link set "$DOM0_IF" up
  ip -4 addr show dev "$DOM0_IF" | grep -q "inet $DOM0_IP/" \
    || ip addr add "$DOM0_IP/24" dev "$DOM0_IF" || lab_defect "cannot give $DOM0_IF $DOM0_IP"
}

nic_is_assignable() { xl pci-assignable-list 2>/dev/null | grep -q "$NIC_BDF"; }

# Hands NIC B to pciback (idempotent). Any failure here is the lab's, not the driver domain's.
nic_assignable() {
  modprobe xen-pciback >/tmp/pciback.log 2>&1 \
    || lab_defect "modprobe xen-pciback failed: $(tr '\n' ' ' </tmp/pciback.log | head -c 300)"
  if ! nic_is_assignable; then
    xl pci-assignable-add "$NIC_BDF" >/tmp/pciback.log 2>&1 \
      || lab_defect "xl pci-assignable-add $NIC_BDF failed: $(tr '\n' ' ' </tmp/pciback.log | head -c 300)"
  fi
  nic_is_assignable || lab_defect "$NIC_BDF missing from xl pci-assignable-list after pci-assignable-add"
}

# VT-d faults Xen logged since the last call (appended to /tmp/xl-dmesg.log). Xen 4.17
# (drivers/passthrough/vtd/iommu.c) prints a DMA fault as
#   (XEN) [VT-D]DMAR:[DMA Read] Request device [0000:00:05.0] fault addr 7f3a000
#   (XEN) [VT-D]DMAR: reason 06 - PTE Read access is not set
# and an interrupt-remapping fault as "[VT-D]INTR-REMAP: Request device [...] fault index".
# Prints the fault lines; succeeds when there are none.
no_vtd_faults() {
  xl dmesg -c >/tmp/xl-dmesg.new 2>/dev/null
  cat /tmp/xl-dmesg.new >>/tmp/xl-dmesg.log
  ! grep -E 'Request device \[|\[VT-D\](DMAR|INTR-REMAP|UNKNOWN): reason|Fault Overflow|iommu_fault' /tmp/xl-dmesg.new
}

no_crash_logged() { # prints the crash lines of /tmp/xl-dmesg.log; succeeds when there are none
  ! grep -E "Unhandled|crashed|domain_crash" /tmp/xl-dmesg.log | grep -v "^(XEN) Dom0"
}

vsnoop_nic_up() { grep -q "nic: up" "$GUEST_LOG/guest-vsnoop.log" 2>/dev/null; }
vsnoop_nic_line() { tr -d '\r' <"$GUEST_LOG/guest-vsnoop.log" 2>/dev/null | grep "nic: " | tail -1; }
vsnoop_dead() { dom_gone vsnoop || dom_state vsnoop | grep -q '[cs]'; }
vsnoop_nic_settled() { vsnoop_nic_up || vsnoop_dead; }
linuxdd_nic_settled() { grep -q "^ROLE nic-" "$GUEST_LOG/guest-linuxdd.log" 2>/dev/null; }

# nic_dd_start DD: creates driver domain DD (vsnoop | linuxdd) with NIC B passed through and
# waits until it serves vifs and its NIC is up; notes its NIC line. On failure it shows the
# console, sets NIC_WHY and returns 1 (the driver domain's verdict); a libxl/pciback failure
# is reported with lab_defect.
nic_dd_start() {
  NIC_WHY=
  fresh_console "$1"
  case "$1" in
    vsnoop) xl create /lab/config/vsnoop-dd.cfg "kernel=\"$VSNOOP_ELF\"" 'on_crash="preserve"' "pci=['$NIC_BDF']" ;;
    linuxdd) xl create /lab/config/linux-dd.cfg "pci=['$NIC_BDF']" ;;
  esac >/tmp/xl-"$1".log 2>&1 || {
    cat /tmp/xl-"$1".log
    # libxl sets up the passthrough before the kernel runs: a PCI error there is the lab's.
    grep -qi 'pci' /tmp/xl-"$1".log \
      && lab_defect "xl create $1 with pci=['$NIC_BDF'] failed in libxl/pciback: $(grep -i pci /tmp/xl-"$1".log | head -2 | tr '\n' ' ')"
    NIC_WHY="xl create $1 (pci=['$NIC_BDF']) failed"; return 1; }
  if [ "$1" = vsnoop ]; then
    wait_for 30 grep -q "serving: netback up" "$GUEST_LOG/guest-vsnoop.log" \
      || { show_console vsnoop | tail -30; NIC_WHY="vsnoop (given the NIC) not serving within 30 s (state '$(dom_state vsnoop)')"; return 1; }
    wait_for 60 vsnoop_nic_settled
    if ! vsnoop_nic_up; then
      show_console vsnoop | tail -30
      if [ -n "$(vsnoop_nic_line)" ]; then
        NIC_WHY="vsnoop never printed 'nic: up' (its last NIC line: '$(vsnoop_nic_line)'; domain state '$(dom_state vsnoop)')"
      else
        NIC_WHY="vsnoop never printed 'nic: up' within 60 s, nor any 'nic: ' line (domain state '$(dom_state vsnoop)')"
      fi
      return 1
    fi
    note "vsnoop: $(tr -d '\r' <"$GUEST_LOG/guest-vsnoop.log" | grep -m1 'nic: up' | sed 's/.*nic: up/nic: up/')"
  else
    wait_for 60 grep -q "ROLE netback-dd ready" "$GUEST_LOG/guest-linuxdd.log" \
      || { show_console linuxdd | tail -20; NIC_WHY="Linux driver domain did not come up"; return 1; }
    wait_for 60 linuxdd_nic_settled
    grep -q "^ROLE nic-bridged" "$GUEST_LOG/guest-linuxdd.log" || {
      show_console linuxdd | tail -30
      NIC_WHY="Linux driver domain did not bridge the NIC ($(tr -d '\r' <"$GUEST_LOG/guest-linuxdd.log" | grep -m1 '^ROLE nic-'))"
      return 1; }
    note "linuxdd: $(tr -d '\r' <"$GUEST_LOG/guest-linuxdd.log" | grep -m1 '^ROLE nic-bridged' | sed 's/^ROLE //')"
  fi
}

# start_guest_role NAME ROLE IP PEER-IP MAC BACKEND: a Linux guest with one vif.
start_guest_role() { # NAME ROLE IP PEER MAC DD [EXTRA-KERNEL-ARGS]
  fresh_console "$1"
  xl create /lab/config/guest.cfg "name=\"$1\"" \
    "extra=\"console=hvc0 quiet vsnoop.role=$2 vsnoop.ip=$3/24 vsnoop.peer=$4 vsnoop.seed=${1#g} vsnoop.bytes=$LAB_BYTES ${7:-}\"" \
    "vif=[\"backend=$6,mac=$5\"]" >/tmp/xl-$1.log 2>&1 || { cat /tmp/xl-$1.log; return 1; }
}

# destroy_guest NAME DD: xl destroy, playing `xl devd`'s part for a Linux driver domain
# (this lab runs none in it): libxl waits for the vif's backend directory to go away.
destroy_guest() {
  if [ "$2" = linuxdd ]; then
    dg_be=/local/domain/$(xl domid "$2")/backend/vif/$(xl domid "$1")
    xl destroy "$1" &
    dg_pid=$!
    dg_closed() { [ "$(xenstore-read "$dg_be/0/state" 2>/dev/null)" = 6 ]; }
    wait_for 5 dg_closed; xenstore-rm "$dg_be" 2>/dev/null
    wait "$dg_pid"
  else
    xl destroy "$1"
  fi
}

ping_summary() { tail -1 | sed 's/^rtt //; s/^round-trip //'; } # "min/avg/max/mdev = ... ms"

# The whole NIC check behind driver domain DD (nic: vsnoop, nic-linux: linuxdd): dom0 (on
# NIC A) and guest g1 (behind DD, which owns NIC B) ping each other and exchange LAB_BYTES
# each way at once with equal sha256; Xen logs no VT-d fault; DD and g1 are destroyed and
# re-created, and dom0 and g1 ping each other again; no crash in `xl dmesg`.
nic_scenario() { # DD
  dd=$1 gip=10.0.0.11 gmac=00:16:3e:00:00:11
  : >/tmp/xl-dmesg.log
  dom0_nic_up
  nic_assignable
  note "dom0: $DOM0_IF $DOM0_IP; $NIC_BDF assignable; driver domain $dd"
  nic_dd_start "$dd" || fail "$NIC_WHY"
  # dom0's receiver for the guest's stream (listening before the guest dials it).
  rm -f /tmp/nic-rx /tmp/nic-tx /tmp/nic-rx.sum /tmp/nic-tx.sum
  mkfifo /tmp/nic-rx /tmp/nic-tx
  sha256sum </tmp/nic-rx >/tmp/nic-rx.sum &
  rxsum_pid=$!; bg_track $rxsum_pid
  /lab/bin/vnet recv 5001 >/tmp/nic-rx &
  rx_pid=$!; bg_track $rx_pid
  start_guest_role g1 peer "$gip" "$DOM0_IP" "$gmac" "$dd" || fail "xl create g1 failed"
  pinged() { [ -n "$(guest_line g1 GUEST-PING)" ]; }
  wait_for 120 pinged || { show_console g1 | tail -15; fail "guest g1 never reported its ping of dom0"; }
  case "$(guest_line g1 GUEST-PING)" in
    ok*) note "g1 -> dom0 ping: $(guest_line g1 GUEST-PING | sed 's/^ok round-trip //')" ;;
    *) show_console g1 | tail -15; fail "guest g1 cannot ping dom0 ($DOM0_IP) through $dd and the NIC" ;;
  esac
  ping -c 3 -i 0.2 -W 2 "$gip" >/tmp/ping.out 2>&1 || { cat /tmp/ping.out; fail "dom0 cannot ping g1 ($gip) through the NIC and $dd"; }
  # dom0 -> g1 while g1 -> dom0 (the guest started sending after its ping).
  sha256sum </tmp/nic-tx >/tmp/nic-tx.sum &
  txsum_pid=$!; bg_track $txsum_pid
  t0=$(date +%s.%N)
  /lab/bin/vnet gen "$LAB_BYTES" 100 | tee /tmp/nic-tx | /lab/bin/vnet send "$gip" 5001 \
    || fail "dom0 -> g1 transfer failed (vnet send)"
  t1=$(date +%s.%N)
  wait_for $((240 + LAB_BYTES / 100000)) guest_done g1 || { show_console g1 | tail -15; fail "guest g1 did not finish its transfer"; }
  wait "$txsum_pid"; wait "$rx_pid"; wait "$rxsum_pid"
  tx=$(cut -d' ' -f1 /tmp/nic-tx.sum); rx=$(cut -d' ' -f1 /tmp/nic-rx.sum)
  gsent=$(guest_line g1 GUEST-SENT); grecv=$(guest_line g1 GUEST-RECV)
  note "dom0 -> g1: $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s for $LAB_BYTES bytes; g1 -> dom0: $(guest_line g1 GUEST-SEND-TIME)"
  note "dom0 -> g1 sent $tx received $grecv"
  note "g1 -> dom0 sent $gsent received $rx"
  [ -n "$tx" ] && [ "$tx" = "$grecv" ] || fail "dom0 -> g1 transfer corrupted or lost"
  [ -n "$gsent" ] && [ "$gsent" = "$rx" ] || fail "g1 -> dom0 transfer corrupted or lost"
  faults=$(no_vtd_faults) || { echo "$faults" | head -20; fail "Xen logged VT-d faults during the traffic ($(echo "$faults" | head -1))"; }
  note "ok: no VT-d fault during the traffic"

  # Destroy and re-create the driver domain and the guest.
  destroy_guest g1 "$dd"; wait_for 30 dom_gone g1 || fail "g1 still listed after xl destroy"
  xl destroy "$dd"; wait_for 30 dom_gone "$dd" || fail "$dd still listed after xl destroy"
  nic_is_assignable || lab_defect "$NIC_BDF not back in xl pci-assignable-list after destroying $dd"
  # A driver domain destroyed while its NIC has live DMA rings: the device (no FLR) keeps
  # using them until Xen stops it, so a fault here is expected and not counted.
  faults=$(no_vtd_faults) || note "VT-d faults while destroying $dd (expected, not counted): $(echo "$faults" | head -1)"
  nic_dd_start "$dd" || fail "re-created $dd: $NIC_WHY"
  start_guest_role g1 ping "$gip" "$DOM0_IP" "$gmac" "$dd" || fail "xl create g1 (again) failed"
  wait_for 120 pinged || { show_console g1 | tail -15; fail "re-created g1 never reported its ping of dom0"; }
  case "$(guest_line g1 GUEST-PING)" in
    ok*) note "re-created: g1 -> dom0 ping: $(guest_line g1 GUEST-PING | sed 's/^ok round-trip //')" ;;
    *) show_console g1 | tail -15; fail "re-created g1 cannot ping dom0 through the re-created $dd" ;;
  esac
  ping -c 20 -i 0.2 -W 2 "$gip" >/tmp/ping.out 2>&1 || { cat /tmp/ping.out; fail "dom0 cannot ping the re-created g1"; }
  note "re-created: dom0 -> g1 ping (20): $(ping_summary </tmp/ping.out)"
  faults=$(no_vtd_faults) || { echo "$faults" | head -20; fail "Xen logged VT-d faults after the re-creation ($(echo "$faults" | head -1))"; }
  destroy_guest g1 "$dd"
  xl destroy "$dd"
  no_vtd_faults >/dev/null
  crash=$(no_crash_logged) || { echo "$crash"; fail "xl dmesg reports a crash"; }
  note "ok: re-created $dd and g1; no VT-d fault, no crash in xl dmesg"
}
