# xen-core: the driver domain's Xen facilities, each step checked from dom0:
# xenstore read (its own name and domid), write (a key dom0 reads back), watch (dom0 fires
# it, the domain answers), a 100 ms one-shot timer (the domain reports the measured delay),
# and a grant (dom0 maps the granted page with gntdev, checks its pattern; the domain then
# revokes it). Started with vsnoop.selftest=xen-core on its command line.
log=/var/log/xen/console/guest-vsnoop.log
fresh_console vsnoop
xl create /lab/config/vsnoop-dd.cfg "kernel=\"$VSNOOP_ELF\"" 'on_crash="preserve"' \
  'cmdline="vsnoop.selftest=xen-core"' || fail "xl create failed"
domid=$(xl domid vsnoop) || fail "no domid"
base=/local/domain/$domid/data/xen-core
key() { xenstore-read "$base/$1" 2>/dev/null; }
has() { [ "$(key "$1")" = "$2" ]; }
step() { # seconds key expected what
  wait_for "$1" has "$2" "$3" || { show_console vsnoop; fail "$4 (key $2 = '$(key "$2")', want '$3')"; }
  note "ok: $4"
}
step 30 seen-name vsnoop "domain read its name from xenstore"
step 5 seen-domid "$domid" "domain read its domid from xenstore"
step 5 hello from-vsnoop "dom0 reads back the domain's write"
step 10 ready 1 "domain set its watch"
xenstore-write "$base/ping" 1
step 10 pong 1 "watch fired by dom0 reached the domain"
wait_for 10 key timer-ms || fail "no timer report"
ms=$(key timer-ms)
note "100 ms timer measured ${ms} ms"
[ "${ms%%.*}" -ge 100 ] && [ "${ms%%.*}" -lt 300 ] || fail "timer delay ${ms} ms outside [100, 300)"
wait_for 10 key gref || fail "no grant reference published"
/lab/bin/gntread "$domid" "$(key gref)" vsnoop-grant-ok || fail "dom0 could not map/read the granted page"
xenstore-write "$base/grant-read" 1
step 10 revoked 1 "domain revoked the grant after dom0 unmapped it"
step 10 dma-contiguous 1 "domain got a machine-contiguous DMA region (XENMEM_exchange)"
xenstore-write "$base/finish" 1
wait_for 30 dom_gone vsnoop || fail "domain did not power off (state '$(dom_state vsnoop)')"
show_console vsnoop
pass
