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
    # Clean up whatever the scenario left running.
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
