//! `io/pciif.h`: the pcifront/pciback protocol. One shared page ([`XenPciSharedinfo`])
//! carries a single in-flight [`XenPciOp`]; the frontend sets [`XEN_PCIF_ACTIVE`] in
//! `flags`, notifies, and waits for pciback to clear it.

/// `XEN_PCI_MAGIC`: the `magic` xenstore value pciback expects.
pub const XEN_PCI_MAGIC: &str = "7";

/// `XEN_PCIF_active`: an op is in flight (set by the frontend, cleared by the backend).
pub const XEN_PCIF_ACTIVE: u32 = 1 << 0;
/// `XEN_PCIB_AERHANDLER`.
pub const XEN_PCIB_AERHANDLER: u32 = 1 << 1;
/// `XEN_PCIB_active`: an AER op from the backend is in flight.
pub const XEN_PCIB_ACTIVE: u32 = 1 << 2;

pub const XEN_PCI_OP_CONF_READ: u32 = 0;
pub const XEN_PCI_OP_CONF_WRITE: u32 = 1;
pub const XEN_PCI_OP_ENABLE_MSI: u32 = 2;
pub const XEN_PCI_OP_DISABLE_MSI: u32 = 3;
pub const XEN_PCI_OP_ENABLE_MSIX: u32 = 4;
pub const XEN_PCI_OP_DISABLE_MSIX: u32 = 5;
pub const XEN_PCI_OP_AER_DETECTED: u32 = 6;
pub const XEN_PCI_OP_AER_RESUME: u32 = 7;
pub const XEN_PCI_OP_AER_MMIO: u32 = 8;
pub const XEN_PCI_OP_AER_SLOTRESET: u32 = 9;
pub const XEN_PCI_OP_ENABLE_MULTI_MSI: u32 = 10;

pub const XEN_PCI_ERR_SUCCESS: i32 = 0;
pub const XEN_PCI_ERR_DEV_NOT_FOUND: i32 = -1;
pub const XEN_PCI_ERR_INVALID_OFFSET: i32 = -2;
pub const XEN_PCI_ERR_ACCESS_DENIED: i32 = -3;
pub const XEN_PCI_ERR_NOT_IMPLEMENTED: i32 = -4;
pub const XEN_PCI_ERR_OP_FAILED: i32 = -5;

/// MSI-X entries one op can carry (`SH_INFO_MAX_VEC`).
pub const SH_INFO_MAX_VEC: usize = 128;

/// `struct xen_msix_entry`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenMsixEntry {
    /// OUT: the pirq pciback bound the entry to.
    pub vector: u16,
    /// IN: MSI-X table index.
    pub entry: u16,
}

/// `struct xen_pci_op`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XenPciOp {
    /// `XEN_PCI_OP_*`.
    pub cmd: u32,
    /// OUT: `XEN_PCI_ERR_*` or a negative errno.
    pub err: i32,
    pub domain: u32,
    pub bus: u32,
    pub devfn: u32,
    /// Config space offset.
    pub offset: i32,
    /// Access size: 1, 2 or 4.
    pub size: i32,
    /// IN/OUT: the value written or read; for MSI enable, OUT: the pirq.
    pub value: u32,
    /// IN: extra info (number of MSI-X entries for `enable_msix`).
    pub info: u32,
    pub msix_entries: [XenMsixEntry; SH_INFO_MAX_VEC],
}

impl Default for XenPciOp {
    fn default() -> Self {
        XenPciOp {
            cmd: 0,
            err: 0,
            domain: 0,
            bus: 0,
            devfn: 0,
            offset: 0,
            size: 0,
            value: 0,
            info: 0,
            msix_entries: [XenMsixEntry::default(); SH_INFO_MAX_VEC],
        }
    }
}

/// `struct xen_pcie_aer_op`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenPcieAerOp {
    pub cmd: u32,
    pub err: i32,
    pub domain: u32,
    pub bus: u32,
    pub devfn: u32,
}

/// `struct xen_pci_sharedinfo`: the shared page.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenPciSharedinfo {
    /// `XEN_PCIF_*` / `XEN_PCIB_*`.
    pub flags: u32,
    pub op: XenPciOp,
    pub aer_op: XenPcieAerOp,
}
