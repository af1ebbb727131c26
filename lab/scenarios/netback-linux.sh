# netback-linux: the baseline. Two Linux guests behind a *Linux* driver domain
# (xen-netback + bridge): links come up, the guests ping each other, LAB_BYTES each way
# arrive with the same sha256, network-detach/-attach work, destroying a guest cleans up.
fresh_console linuxdd
xl create /lab/config/linux-dd.cfg || fail "xl create linuxdd failed"
wait_for 60 grep -q "ROLE netback-dd ready" "$GUEST_LOG/guest-linuxdd.log" \
  || { show_console linuxdd | tail -20; fail "Linux driver domain did not come up"; }
pair_scenario linuxdd
pass
