# netback: two Linux guests behind the *vsnoop* driver domain: links come up, the guests
# ping each other, LAB_BYTES each way arrive with the same sha256, network-detach/-attach
# work, destroying a guest cleans up its vif in vsnoop; switching vSnoop off quiesces it
# (data/vsnoop/quiesced); vsnoop shuts down cleanly.
log=/var/log/xen/console/guest-vsnoop.log
fresh_console vsnoop
xl create /lab/config/vsnoop-dd.cfg "kernel=\"$VSNOOP_ELF\"" 'on_crash="preserve"' || fail "xl create vsnoop failed"
wait_for 30 grep -q "serving: netback up" "$log" || { show_console vsnoop; fail "vsnoop not serving within 30 s"; }
pair_scenario vsnoop
# Quiescing before maintenance: vSnoop off, then data/vsnoop/quiesced = 1 once no flow
# holds early-acked bytes its guest has not acknowledged (docs/config.md).
ddid=$(xl domid vsnoop)
vstat() { xenstore-read "/local/domain/$ddid/data/vsnoop/$1" 2>/dev/null; }
[ "$(vstat quiesced)" = 0 ] || fail "data/vsnoop/quiesced is '$(vstat quiesced)' while vSnoop is on"
xenstore-write "/local/domain/$ddid/control/vsnoop-snoop" off
quiet() { [ "$(vstat quiesced)" = 1 ] && [ "$(vstat outstanding-flows)" = 0 ]; }
wait_for 10 quiet || { show_console vsnoop | tail -5; fail "not quiesced 10 s after switching vSnoop off (quiesced '$(vstat quiesced)', outstanding-flows '$(vstat outstanding-flows)')"; }
xenstore-write "/local/domain/$ddid/control/vsnoop-snoop" on
unquiet() { [ "$(vstat quiesced)" = 0 ]; }
wait_for 10 unquiet || fail "data/vsnoop/quiesced still '$(vstat quiesced)' after switching vSnoop on"
note "ok: quiesce (vSnoop off -> quiesced=1, on -> 0)"
xl destroy g1
xl shutdown vsnoop || fail "xl shutdown vsnoop failed"
wait_for 30 dom_gone vsnoop || fail "vsnoop still listed 30 s after xl shutdown"
show_console vsnoop | tail -30
if xl dmesg | grep -E "Unhandled|crashed|domain_crash" >/tmp/crash.txt; then
  cat /tmp/crash.txt; fail "xl dmesg reports a crash"
fi
pass
