# Guest role "sender": the benchmark's TCP sender. Runs vsnoop.rounds rounds; before each
# it prints "GUEST-READY r" and waits vsnoop.gap seconds (dom0 sets the driver domain's
# mode for the round meanwhile), then vsnoop.count transfers of each size in vsnoop.sizes
# (vnet bench) and 20 pings. Lines: GUEST-BENCH r <size> <BENCH ...>, GUEST-PINGRTT r ...
peer=$(arg vsnoop.peer)
rounds=$(arg vsnoop.rounds 4)
gap=$(arg vsnoop.gap 4)
count=$(arg vsnoop.count 100)
sizes=$(arg vsnoop.sizes 100000 | tr , ' ')
i=0
until ping -c1 -W1 "$peer" >/dev/null 2>&1 || [ "$i" -ge 60 ]; do i=$((i + 1)); done
r=0
while [ "$r" -lt "$rounds" ]; do
  echo "GUEST-READY $r"
  sleep "$gap"
  for size in $sizes; do
    /lab/bin/vnet bench "$peer" 5002 "$size" "$count" 3 >/tmp/bench.out
    sed -n "s/^SAMPLE [0-9]* /GUEST-SAMPLE $r $size /p" /tmp/bench.out
    echo "GUEST-BENCH $r $size $(grep '^BENCH' /tmp/bench.out)"
  done
  echo "GUEST-PINGRTT $r $(ping -c 20 -i 0.2 "$peer" | tail -1)"
  r=$((r + 1))
done
echo "GUEST-DONE"
