# Guest role "sink": the receiver of the vSnoop benchmark: accepts transfers (vnet sink)
# while running a CPU load (vsnoop.load=BUSY_MS:IDLE_MS, default none).
/lab/bin/vnet sink 5002 &
load=$(arg vsnoop.load)
[ -n "$load" ] && /lab/bin/vnet load "${load%%:*}" "${load##*:}" &
echo "GUEST-SINK ready"
