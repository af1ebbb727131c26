//! Memory reservation operations (`memory.h`), `HYPERVISOR_memory_op(cmd, arg)`.

use super::{DomId, XenUlong};

pub const XENMEM_INCREASE_RESERVATION: u32 = 0;
pub const XENMEM_DECREASE_RESERVATION: u32 = 1;
pub const XENMEM_MAXIMUM_RAM_PAGE: u32 = 2;
pub const XENMEM_CURRENT_RESERVATION: u32 = 3;
pub const XENMEM_MAXIMUM_RESERVATION: u32 = 4;
pub const XENMEM_MACHPHYS_MFN_LIST: u32 = 5;
pub const XENMEM_POPULATE_PHYSMAP: u32 = 6;
pub const XENMEM_ADD_TO_PHYSMAP: u32 = 7;
pub const XENMEM_EXCHANGE: u32 = 11;
pub const XENMEM_MACHPHYS_MAPPING: u32 = 12;
pub const XENMEM_MAXIMUM_GPFN: u32 = 14;

/// `XENMEMF_address_bits(x)`: allocate below `2^x` (machine address), e.g. 32 for DMA32.
pub const fn xenmemf_address_bits(bits: u32) -> u32 {
    bits
}
/// `XENMEMF_populate_on_demand`.
pub const XENMEMF_POPULATE_ON_DEMAND: u32 = 1 << 16;
/// `XENMEMF_exact_node_request`.
pub const XENMEMF_EXACT_NODE_REQUEST: u32 = 1 << 17;

/// `struct xen_memory_reservation`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenMemoryReservation {
    /// Guest handle of an array of `nr_extents` `xen_pfn_t`.
    pub extent_start: u64,
    pub nr_extents: XenUlong,
    /// Each extent is `2^extent_order` pages (and that aligned).
    pub extent_order: u32,
    /// `XENMEMF_*`.
    pub mem_flags: u32,
    pub domid: DomId,
}

/// `struct xen_memory_exchange` (`XENMEM_exchange`): trade `in` extents for `out` ones,
/// e.g. order-0 pages for one machine-contiguous order-N extent.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenMemoryExchange {
    pub in_: XenMemoryReservation,
    pub out: XenMemoryReservation,
    /// OUT: input extents exchanged. Must be zero on entry.
    pub nr_exchanged: XenUlong,
}

/// `struct xen_memory_domain` (`XENMEM_current_reservation` etc.'s argument).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenMemoryDomain {
    pub domid: DomId,
}

/// `struct xen_machphys_mapping` (`XENMEM_machphys_mapping`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenMachphysMapping {
    pub v_start: XenUlong,
    pub v_end: XenUlong,
    pub max_mfn: XenUlong,
}
