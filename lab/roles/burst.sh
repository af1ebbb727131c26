# Guest role "burst": the peer of role "lazy". vsnoop.conns connections at once to port
# 5003, each sending vsnoop.burst bytes; then one connection to port 5004 that sends its
# bytes 1.5 s after connecting (vnet burst). Lines for dom0: BURST <port> ..., GUEST-DONE.
peer=$(arg vsnoop.peer)
i=0
until ping -c1 -W1 "$peer" >/dev/null 2>&1 || [ "$i" -ge 60 ]; do i=$((i + 1)); done
/lab/bin/vnet burst "$peer" 5003 "$(arg vsnoop.conns 6)" "$(arg vsnoop.burst 1200)"
/lab/bin/vnet burst "$peer" 5004 1 "$(arg vsnoop.burst 1200)" 1500
echo "GUEST-DONE"
