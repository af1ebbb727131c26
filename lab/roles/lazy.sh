# Guest role "lazy": listeners whose accept queues overflow (vnet lazy), the case vSnoop's
# handshake hold exists for (docs/snoop.md, R11). Syncookies off, so a connection that finds
# a queue full keeps its request socket.
# - port 5003: backlog 2, nothing accepted for vsnoop.wait ms once the first connection is
#   queued, then vsnoop.conns connections accepted and checked (the "burst" peer opens them
#   all at once: most find the queue full at their SYN);
# - port 5004: backlog 2 with deferred accept (a connection completes with its first data);
#   when the peer's connection is half-open the listener fills its own queue with 3 loopback
#   connections, so that the peer's first data (sent 1.5 s after connecting) is dropped by
#   Linux after it reached the guest's ring; accepted 3 s later.
# Lines for dom0: LAZY <port> ..., GUEST-OVERFLOWS n (TcpExt ListenOverflows), GUEST-DONE.
echo 0 >/proc/sys/net/ipv4/tcp_syncookies
/lab/bin/vnet lazy 5004 2 3000 1 3 &
deferred=$!
/lab/bin/vnet lazy 5003 2 "$(arg vsnoop.wait 4000)" "$(arg vsnoop.conns 6)"
wait "$deferred"
ov=$(awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } else { for (i = 1; i <= NF; i++) if (n[i] == "ListenOverflows") print $i } }' /proc/net/netstat)
echo "GUEST-OVERFLOWS ${ov:-unknown}"
echo "GUEST-DONE"
