# hold: vSnoop's handshake hold against a real Linux listener whose accept queue overflows.
# g2 opens 6 connections at once to g1, whose listener (backlog 2, syncookies off) accepts
# nothing for 4 s: Linux drops the third ACK and the data of connections that find the queue
# full, after vsnoop may have early-acked that data from its hold, and retransmits its
# SYN-ACK; the hold delivers the data again until the guest's socket takes it. Every
# connection's bytes must arrive intact, the hold must drain, vsnoop must quiesce and shut
# down cleanly. The counters say whether this boot exercised the redelivery path.
log=/var/log/xen/console/guest-vsnoop.log
fresh_console vsnoop
xl create /lab/config/vsnoop-dd.cfg "kernel=\"$VSNOOP_ELF\"" 'on_crash="preserve"' || fail "xl create vsnoop failed"
wait_for 30 grep -q "serving: netback up" "$log" || { show_console vsnoop; fail "vsnoop not serving within 30 s"; }
start_guest_role g1 lazy 10.0.0.11 10.0.0.12 00:16:3e:00:00:11 vsnoop "vsnoop.conns=6 vsnoop.wait=4000" \
  || fail "xl create g1 failed"
listening() { grep -q "^LAZY listening" "$GUEST_LOG/guest-g1.log" 2>/dev/null; }
wait_for 90 listening || { show_console g1 | tail -15; fail "g1's listener did not start"; }
start_guest_role g2 burst 10.0.0.12 10.0.0.11 00:16:3e:00:00:12 vsnoop "vsnoop.conns=6 vsnoop.burst=1200" \
  || fail "xl create g2 failed"
wait_for 240 guest_done g1 && wait_for 60 guest_done g2 || {
  show_console g1 | tail -15; show_console g2 | tail -15; fail "the guests did not finish"; }
tr -d '\r' <"$GUEST_LOG/guest-g1.log" | grep "^LAZY conn" | while read -r l; do note "g1: $l"; done
lazy=$(guest_line g1 "LAZY done"); burst=$(guest_line g2 "BURST done")
note "g1: LAZY done $lazy; g2: BURST done $burst; g1 listen overflows: $(guest_line g1 GUEST-OVERFLOWS)"
[ "$lazy" = "ok=6 bad=0" ] || { show_console g2 | tail -10; fail "the listener got corrupted or missing data: $lazy"; }
[ "$burst" = "ok=6 failed=0" ] || { show_console g2 | tail -10; fail "a connection failed: $burst"; }
# Switched off, vsnoop refreshes its status every 100 ms; quiesced = no early-acked byte left,
# the hold included.
ddid=$(xl domid vsnoop)
vstat() { xenstore-read "/local/domain/$ddid/data/vsnoop/$1" 2>/dev/null; }
xenstore-write "/local/domain/$ddid/control/vsnoop-snoop" off
quiet() { [ "$(vstat quiesced)" = 1 ] && [ "$(vstat hold-frames)" = 0 ]; }
wait_for 10 quiet || fail "not quiesced 10 s after switching vSnoop off (hold-frames '$(vstat hold-frames)', outstanding-flows '$(vstat outstanding-flows)')"
held=$(vstat held-frames); redelivered=$(vstat redelivered); expired=$(vstat hold-expired)
note "vsnoop handshake hold: $held frames held, $redelivered redelivered, $expired given up"
[ "$expired" = 0 ] || fail "the hold gave up $expired frames"
if [ "${redelivered:-0}" -gt 0 ]; then
  note "ok: the redelivery path was exercised and every byte arrived"
else
  note "(this boot did not exercise the redelivery path: no listener dropped held data)"
fi
xl destroy g1
xl destroy g2
xl shutdown vsnoop || fail "xl shutdown vsnoop failed"
wait_for 30 dom_gone vsnoop || fail "vsnoop still listed 30 s after xl shutdown"
show_console vsnoop | grep -E "hold|redeliver" | tail -5
if xl dmesg | grep -E "Unhandled|crashed|domain_crash" >/tmp/crash.txt; then
  cat /tmp/crash.txt; fail "xl dmesg reports a crash"
fi
pass
