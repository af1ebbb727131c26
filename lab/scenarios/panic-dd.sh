# panic-dd: a forced panic (vsnoop.panic on the command line) prints its message and
# location on the console and the domain is reported crashed, not hung.
log=/var/log/xen/console/guest-vsnoop.log
fresh_console vsnoop
xl create /lab/config/vsnoop-dd.cfg "kernel=\"$VSNOOP_ELF\"" 'on_crash="preserve"' 'cmdline="vsnoop.panic"' \
  || fail "xl create failed"
wait_for 30 grep -q "vsnoop PANIC at" "$log" || { show_console vsnoop; fail "no panic message within 30 s"; }
crashed() { dom_state vsnoop | grep -q c; }
wait_for 30 crashed || fail "domain not reported crashed (state '$(dom_state vsnoop)')"
show_console vsnoop
grep -q "vsnoop PANIC at kernel/src/kmain.rs:[0-9]*:[0-9]*: forced" "$log" || fail "panic message lacks location or text"
xl destroy vsnoop
pass
