# nic-linux: the baseline for `nic`. A *Linux* driver domain (xen-pcifront + virtio_net +
# xen-netback + a bridge) owns NIC B (QEMU's virtio-net, passed through with pciback); guest
# g1 sits behind it. dom0, on NIC A of the same L2 segment, and g1 ping each other and move
# LAB_BYTES each way at once with equal sha256; Xen logs no VT-d fault; destroying and
# re-creating the driver domain and the guest works (they ping again). Helpers: lab-lib.sh.
nic_scenario linuxdd
pass
