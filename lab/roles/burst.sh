# Guest role "burst": vsnoop.conns connections at once to the peer's "lazy" listener, each
# sending vsnoop.burst bytes (vnet burst). Lines for dom0: BURST ..., GUEST-DONE.
peer=$(arg vsnoop.peer)
i=0
until ping -c1 -W1 "$peer" >/dev/null 2>&1 || [ "$i" -ge 60 ]; do i=$((i + 1)); done
/lab/bin/vnet burst "$peer" 5003 "$(arg vsnoop.conns 6)" "$(arg vsnoop.burst 1200)"
echo "GUEST-DONE"
