# Guest role "lazy": a listener whose accept queue overflows (vnet lazy: backlog 2, nothing
# accepted for vsnoop.wait ms once the first connection is queued, then vsnoop.conns
# connections accepted and checked). Syncookies off, so a connection that finds the queue
# full keeps its request socket and the guest retransmits its SYN-ACK: the case vSnoop's
# handshake hold exists for (docs/snoop.md, R11). Lines for dom0: LAZY ..., GUEST-OVERFLOWS n,
# GUEST-DONE.
echo 0 >/proc/sys/net/ipv4/tcp_syncookies
/lab/bin/vnet lazy 5003 2 "$(arg vsnoop.wait 4000)" "$(arg vsnoop.conns 6)"
# TcpExt ListenOverflows: SYNs and third ACKs dropped because the accept queue was full.
ov=$(awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 } else { for (i = 1; i <= NF; i++) if (n[i] == "ListenOverflows") print $i } }' /proc/net/netstat)
echo "GUEST-OVERFLOWS ${ov:-unknown}"
echo "GUEST-DONE"
