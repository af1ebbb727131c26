# netback: two Linux guests behind the *vsnoop* driver domain: links come up, the guests
# ping each other, LAB_BYTES each way arrive with the same sha256, network-detach/-attach
# work, destroying a guest cleans up its vif in vsnoop; vsnoop shuts down cleanly.
log=/var/log/xen/console/guest-vsnoop.log
fresh_console vsnoop
xl create /lab/config/vsnoop-dd.cfg "kernel=\"$VSNOOP_ELF\"" 'on_crash="preserve"' || fail "xl create vsnoop failed"
wait_for 30 grep -q "serving: netback up" "$log" || { show_console vsnoop; fail "vsnoop not serving within 30 s"; }
pair_scenario vsnoop
xl destroy g1
xl shutdown vsnoop || fail "xl shutdown vsnoop failed"
wait_for 30 dom_gone vsnoop || fail "vsnoop still listed 30 s after xl shutdown"
show_console vsnoop | tail -30
if xl dmesg | grep -E "Unhandled|crashed|domain_crash" >/tmp/crash.txt; then
  cat /tmp/crash.txt; fail "xl dmesg reports a crash"
fi
pass
