# Guest role "load": a VM that only burns CPU (vsnoop.load=BUSY_MS:IDLE_MS).
load=$(arg vsnoop.load 60:40)
/lab/bin/vnet load "${load%%:*}" "${load##*:}" &
echo "GUEST-LOAD ${load}"
