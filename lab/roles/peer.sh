# Guest role "peer" (sourced by the guest's /init): ping the peer, then send it
# vsnoop.bytes pseudo-random bytes while receiving as many from it; print sha256 sums.
# Lines for dom0: GUEST-PING ok|fail, GUEST-SENT <sum>, GUEST-RECV <sum>, GUEST-DONE.
peer=$(arg vsnoop.peer)
bytes=$(arg vsnoop.bytes 100000000)
seed=$(arg vsnoop.seed 1)
( /lab/bin/vnet recv 5001 | sha256sum | sed 's/ .*//; s/^/GUEST-RECV /' ) &
recv_pid=$!
i=0
until ping -c1 -W1 "$peer" >/dev/null 2>&1; do
  i=$((i + 1))
  [ "$i" -ge 60 ] && break
done
if [ "$i" -ge 60 ]; then
  echo "GUEST-PING fail"
else
  echo "GUEST-PING ok $(ping -c 5 -i 0.2 "$peer" | tail -1)"
fi
mkfifo /tmp/sent
( sha256sum </tmp/sent | sed 's/ .*//; s/^/GUEST-SENT /' ) &
sum_pid=$!
uptime_s() { cut -d' ' -f1 /proc/uptime; }
t0=$(uptime_s)
/lab/bin/vnet gen "$bytes" "$seed" | tee /tmp/sent | /lab/bin/vnet send "$peer" 5001 || echo "GUEST-SEND-FAIL"
echo "GUEST-SEND-TIME $(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN {printf "%.2f", b - a}') s for $bytes bytes"
wait "$sum_pid"
wait "$recv_pid"
echo "GUEST-DONE"
