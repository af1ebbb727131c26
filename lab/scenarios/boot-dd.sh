# boot-dd: the vsnoop driver domain boots, prints its banner on the PV console ring, powers
# off cleanly; xl forgets it and Xen logged no crash.
log=/var/log/xen/console/guest-vsnoop.log
fresh_console vsnoop
xl create /lab/config/vsnoop-dd.cfg "kernel=\"$VSNOOP_ELF\"" 'on_crash="preserve"' || fail "xl create failed"
wait_for 30 grep -q "^vsnoop [0-9]" "$log" || { show_console vsnoop; fail "no banner on the console within 30 s"; }
wait_for 30 dom_gone vsnoop || fail "domain still listed after 30 s (state '$(dom_state vsnoop)')"
show_console vsnoop
grep -q "powering off" "$log" || fail "console lacks the power-off message"
if xl dmesg | grep -E "Unhandled|crashed|domain_crash" | grep -v "^(XEN) Dom0" >/tmp/crash.txt; then
  cat /tmp/crash.txt; fail "xl dmesg reports a crash"
fi
pass
