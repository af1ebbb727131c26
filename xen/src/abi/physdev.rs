//! Physical device operations (`physdev.h`), `HYPERVISOR_physdev_op(cmd, arg)`: what a PV
//! driver domain needs to receive a passed-through device's MSI/MSI-X interrupts as pirqs.

use super::{DomId, Pfn};

pub const PHYSDEVOP_IRQ_STATUS_QUERY: u32 = 5;
pub const PHYSDEVOP_SET_IOPL: u32 = 6;
pub const PHYSDEVOP_EOI: u32 = 12;
pub const PHYSDEVOP_MAP_PIRQ: u32 = 13;
pub const PHYSDEVOP_UNMAP_PIRQ: u32 = 14;
pub const PHYSDEVOP_PIRQ_EOI_GMFN_V2: u32 = 28;
pub const PHYSDEVOP_GET_FREE_PIRQ: u32 = 23;

/// `XENIRQSTAT_needs_eoi`: the pirq needs `PHYSDEVOP_eoi` after each event.
pub const XENIRQSTAT_NEEDS_EOI: u32 = 1 << 0;
/// `XENIRQSTAT_shared`.
pub const XENIRQSTAT_SHARED: u32 = 1 << 1;

pub const MAP_PIRQ_TYPE_MSI: i32 = 0;
pub const MAP_PIRQ_TYPE_GSI: i32 = 1;
pub const MAP_PIRQ_TYPE_UNKNOWN: i32 = 2;
pub const MAP_PIRQ_TYPE_MSI_SEG: i32 = 3;
pub const MAP_PIRQ_TYPE_MULTI_MSI: i32 = 4;

/// `struct physdev_eoi`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevEoi {
    pub irq: u32,
}

/// `struct physdev_irq_status_query`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevIrqStatusQuery {
    pub irq: u32,
    /// OUT: `XENIRQSTAT_*`.
    pub flags: u32,
}

/// `struct physdev_set_iopl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevSetIopl {
    pub iopl: u32,
}

/// `struct physdev_pirq_eoi_gmfn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevPirqEoiGmfn {
    pub gmfn: Pfn,
}

/// `struct physdev_map_pirq`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevMapPirq {
    pub domid: DomId,
    /// `MAP_PIRQ_TYPE_*`.
    pub type_: i32,
    /// GSI, or MSI-X table entry index.
    pub index: i32,
    /// IN/OUT: -1 lets Xen choose.
    pub pirq: i32,
    /// Bus (high 16 bits: segment for `MSI_SEG`).
    pub bus: i32,
    pub devfn: i32,
    /// Number of vectors (`MULTI_MSI`), else ignored.
    pub entry_nr: i32,
    /// Machine address of the MSI-X table (MSI-X), 0 for MSI.
    pub table_base: u64,
}

/// `struct physdev_unmap_pirq`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevUnmapPirq {
    pub domid: DomId,
    pub pirq: i32,
}

/// `struct physdev_get_free_pirq`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhysdevGetFreePirq {
    pub type_: i32,
    /// OUT.
    pub pirq: u32,
}
