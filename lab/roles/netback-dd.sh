# Guest role "netback-dd": a Linux network driver domain (the baseline): xen-netback and a
# bridge; every vif that appears joins the bridge (no hotplug scripts in this lab). Given a
# NIC by dom0 (pci=[...] in its xl config: pcifront shows it as 0000:00:00.0), it drives it
# with virtio_pci + virtio_net and bridges it with the vifs: a switch between the LAN and
# the guests, like vsnoop. Lines for dom0: "ROLE netback-dd ready", then with a NIC
# "ROLE nic-bridged IF MAC VENDOR:DEVICE" or "ROLE nic-missing: why", then "ROLE bridged vifN.M".
modprobe xen-netback
modprobe bridge
ip link add br0 type bridge
ip link set br0 up
echo "ROLE netback-dd ready"

# The interface virtio_net made for the passed-through NIC.
virtio_if() {
  for d in /sys/class/net/*; do
    [ "$(basename "$(readlink "$d/device/driver" 2>/dev/null)")" = virtio_net ] && { echo "${d##*/}"; return 0; }
  done
  return 1
}
if ls -d /sys/bus/xen/devices/pci-* >/dev/null 2>&1; then
  modprobe xen-pcifront
  modprobe virtio_pci
  modprobe virtio_net
  i=0
  until virtio_if >/dev/null || [ "$i" -ge 100 ]; do sleep 0.2; i=$((i + 1)); done
  if nic=$(virtio_if); then
    id=$(for p in /sys/bus/pci/devices/*; do echo "$(cat "$p/vendor"):$(cat "$p/device")"; done | sed 's/0x//g' | tr '\n' ' ')
    ip link set "$nic" master br0 && ip link set "$nic" up \
      && echo "ROLE nic-bridged $nic $(cat "/sys/class/net/$nic/address") pci $id" \
      || echo "ROLE nic-missing: cannot bridge $nic"
  else
    echo "ROLE nic-missing: no virtio_net interface 20 s after loading pcifront (pci devices: $(ls /sys/bus/pci/devices 2>/dev/null | tr '\n' ' '))"
    dmesg | grep -iE 'pcifront|virtio|pci' | tail -10
  fi
fi

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
