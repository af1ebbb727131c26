# boot-dd: the vsnoop driver domain boots, prints its banner on the PV console ring, serves,
# and powers off cleanly on `xl shutdown`; xl forgets it and Xen logged no crash. It boots
# with a flow table and hold far bigger than its 64 MiB (1M flows = 96 MiB, 64 MiB hold):
# vsnoop must cut them down to half its free heap, say so, and serve.
log=/var/log/xen/console/guest-vsnoop.log
fresh_console vsnoop
xl create /lab/config/vsnoop-dd.cfg "kernel=\"$VSNOOP_ELF\"" 'on_crash="preserve"' \
  'cmdline="vsnoop.flows=1048576 vsnoop.hold=65536"' || fail "xl create failed"
wait_for 30 grep -q "^vsnoop [0-9]" "$log" || { show_console vsnoop; fail "no banner on the console within 30 s"; }
wait_for 30 grep -q "serving: netback up" "$log" || { show_console vsnoop; fail "not serving within 30 s"; }
grep -q "more than half of the free heap" "$log" || { show_console vsnoop; fail "no warning about vsnoop.flows/vsnoop.hold too big for the domain's memory"; }
xl shutdown vsnoop || fail "xl shutdown failed"
wait_for 30 dom_gone vsnoop || fail "domain still listed 30 s after xl shutdown (state '$(dom_state vsnoop)')"
show_console vsnoop
grep -q "shutdown requested by the toolstack" "$log" || fail "console lacks the shutdown message"
grep -q "powering off" "$log" || fail "console lacks the power-off message"
if xl dmesg | grep -E "Unhandled|crashed|domain_crash" | grep -v "^(XEN) Dom0" >/tmp/crash.txt; then
  cat /tmp/crash.txt; fail "xl dmesg reports a crash"
fi
pass
