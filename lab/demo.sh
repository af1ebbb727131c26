# The demo (run in dom0 by /init): start the vsnoop driver domain and show its console.
echo "DEMO: xl create /lab/config/vsnoop-dd.cfg"
xl create /lab/config/vsnoop-dd.cfg 'kernel="/lab/vsnoop.elf"' 'on_crash="preserve"' 2>&1 | sed 's/^/DEMO: xl: /'
i=0
while xl list vsnoop >/dev/null 2>&1 && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
sleep 0.5
echo "DEMO: the driver domain's console (xl console vsnoop):"
sed 's/^/[vsnoop] /' /var/log/xen/console/guest-vsnoop.log | tr -d '\r'
echo "DEMO: xl list:"
xl list | sed 's/^/DEMO:   /'
