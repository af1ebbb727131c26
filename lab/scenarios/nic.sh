# nic: vsnoop owns the NIC. The vsnoop driver domain gets NIC B (QEMU's virtio-net, passed
# through with pciback: pcifront + its virtio-net driver) and switches between it and guest
# g1's vif. dom0, on NIC A of the same L2 segment, and g1 ping each other and move LAB_BYTES
# each way at once with equal sha256; Xen logs no VT-d fault; destroying and re-creating
# vsnoop and the guest works (they ping again). The same checks as nic-linux (lab-lib.sh).
# vsnoop's console contract: "serving: netback up", then a line with "nic: up" within 60 s
# (or "nic: <error>").
nic_scenario vsnoop
pass
