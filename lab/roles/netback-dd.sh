# Guest role "netback-dd": a Linux network driver domain (the baseline): xen-netback and a
# bridge; every vif that appears joins the bridge (no hotplug scripts in this lab).
modprobe xen-netback
modprobe bridge
ip link add br0 type bridge
ip link set br0 up
echo "ROLE netback-dd ready"
while true; do
  for d in /sys/class/net/vif*; do
    [ -e "$d" ] || continue
    n=${d##*/}
    if [ ! -e "$d/master" ]; then
      ip link set "$n" master br0 && ip link set "$n" up && echo "ROLE bridged $n"
    fi
  done
  sleep 0.3
done
