//! Xen public ABI: structures and constants, mirrored from `/usr/include/xen/*.h` (Xen 4.17).

pub mod console;
pub mod sched;
pub mod start_info;
pub mod version;

/// `__HYPERVISOR_*` hypercall numbers (`xen.h`).
pub mod hypercall_nr {
    pub const SET_TRAP_TABLE: usize = 0;
    pub const MMU_UPDATE: usize = 1;
    pub const SET_CALLBACKS: usize = 4;
    pub const MEMORY_OP: usize = 12;
    pub const MULTICALL: usize = 13;
    pub const UPDATE_VA_MAPPING: usize = 14;
    pub const SET_TIMER_OP: usize = 15;
    pub const XEN_VERSION: usize = 17;
    pub const CONSOLE_IO: usize = 18;
    pub const GRANT_TABLE_OP: usize = 20;
    pub const VM_ASSIST: usize = 21;
    pub const VCPU_OP: usize = 24;
    pub const MMUEXT_OP: usize = 26;
    pub const SCHED_OP: usize = 29;
    pub const CALLBACK_OP: usize = 30;
    pub const EVENT_CHANNEL_OP: usize = 32;
    pub const PHYSDEV_OP: usize = 33;
}

/// Start of the read-only machine-to-physical table every 64-bit PV guest sees
/// (`__MACH2PHYS_VIRT_START`, `arch-x86/xen-x86_64.h`).
pub const MACH2PHYS_VIRT_START: u64 = 0xFFFF_8000_0000_0000;

/// Xen's page size on x86.
pub const PAGE_SIZE: usize = 4096;
/// log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;

/// `evtchn_port_t`.
pub type EvtchnPort = u32;
/// `domid_t`.
pub type DomId = u16;
/// `xen_pfn_t` (machine or pseudo-physical frame number).
pub type Pfn = u64;

/// `EVTCHNOP_send` (`event_channel.h`).
pub const EVTCHNOP_SEND: u32 = 4;

/// `struct evtchn_send`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EvtchnSend {
    pub port: EvtchnPort,
}
