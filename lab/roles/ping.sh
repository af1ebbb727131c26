# Guest role "ping": ping the peer (vsnoop.peer) until it answers, then 10 times; print
# "GUEST-PING ok <busybox summary>" or "GUEST-PING fail", then GUEST-DONE. The guest stays up.
peer=$(arg vsnoop.peer)
i=0
until ping -c1 -W1 "$peer" >/dev/null 2>&1 || [ "$i" -ge 60 ]; do i=$((i + 1)); done
if [ "$i" -ge 60 ]; then
  echo "GUEST-PING fail"
else
  echo "GUEST-PING ok $(ping -c 10 -i 0.2 "$peer" | tail -1)"
fi
echo "GUEST-DONE"
