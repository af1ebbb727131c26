//! Xen public ABI: structures and constants, mirrored from `/usr/include/xen/*.h` (Xen 4.17,
//! `__XEN_INTERFACE_VERSION__` 0x00040e00, x86_64).
//!
//! Every `#[repr(C)]` type and every constant here is checked against the C headers by
//! `tests/abi_layout.rs` (sizes, alignments, field offsets and sizes, values). Module names
//! follow the header they mirror: `io/netif.h` is [`netif`], `grant_table.h` is
//! [`grant_table`], and so on. Guest handles (`XEN_GUEST_HANDLE(T)`) are plain `u64`
//! addresses on x86_64.

pub mod callback;
pub mod console;
pub mod errno;
pub mod event_channel;
pub mod grant_table;
pub mod memory;
pub mod mmu;
pub mod netif;
pub mod pciif;
pub mod physdev;
pub mod ring;
pub mod sched;
pub mod shared_info;
pub mod start_info;
pub mod vcpu;
pub mod version;
pub mod xenbus;
pub mod xs_wire;

/// `__HYPERVISOR_*` hypercall numbers (`xen.h`).
pub mod hypercall_nr {
    pub const SET_TRAP_TABLE: usize = 0;
    pub const MMU_UPDATE: usize = 1;
    pub const SET_GDT: usize = 2;
    pub const STACK_SWITCH: usize = 3;
    pub const SET_CALLBACKS: usize = 4;
    pub const FPU_TASKSWITCH: usize = 5;
    pub const MEMORY_OP: usize = 12;
    pub const MULTICALL: usize = 13;
    pub const UPDATE_VA_MAPPING: usize = 14;
    pub const SET_TIMER_OP: usize = 15;
    pub const XEN_VERSION: usize = 17;
    pub const CONSOLE_IO: usize = 18;
    pub const GRANT_TABLE_OP: usize = 20;
    pub const VM_ASSIST: usize = 21;
    pub const UPDATE_VA_MAPPING_OTHERDOMAIN: usize = 22;
    pub const IRET: usize = 23;
    pub const VCPU_OP: usize = 24;
    pub const SET_SEGMENT_BASE: usize = 25;
    pub const MMUEXT_OP: usize = 26;
    pub const SCHED_OP: usize = 29;
    pub const CALLBACK_OP: usize = 30;
    pub const EVENT_CHANNEL_OP: usize = 32;
    pub const PHYSDEV_OP: usize = 33;
    pub const HVM_OP: usize = 34;
}

/// Start of the read-only machine-to-physical table every 64-bit PV guest sees
/// (`__MACH2PHYS_VIRT_START`, `arch-x86/xen-x86_64.h`).
pub const MACH2PHYS_VIRT_START: u64 = 0xFFFF_8000_0000_0000;
/// End of the machine-to-physical table (`__MACH2PHYS_VIRT_END`).
pub const MACH2PHYS_VIRT_END: u64 = 0xFFFF_8040_0000_0000;
/// Start of the hypervisor's reserved virtual range (`__HYPERVISOR_VIRT_START`).
pub const HYPERVISOR_VIRT_START: u64 = 0xFFFF_8000_0000_0000;
/// End of the hypervisor's reserved virtual range (`__HYPERVISOR_VIRT_END`).
pub const HYPERVISOR_VIRT_END: u64 = 0xFFFF_8800_0000_0000;

/// 64-bit kernel code selector of a PV guest (`FLAT_KERNEL_CS64`, ring 3 in hardware).
pub const FLAT_KERNEL_CS64: u16 = 0xe033;
/// 64-bit kernel stack selector (`FLAT_KERNEL_SS64`).
pub const FLAT_KERNEL_SS64: u16 = 0xe02b;
/// 64-bit kernel data selector (`FLAT_KERNEL_DS64`, the NULL selector).
pub const FLAT_KERNEL_DS64: u16 = 0x0000;

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
/// `xen_ulong_t`.
pub type XenUlong = u64;
/// `grant_ref_t`.
pub type GrantRef = u32;
/// `grant_handle_t`.
pub type GrantHandle = u32;

/// `DOMID_SELF`: the calling domain.
pub const DOMID_SELF: DomId = 0x7FF0;
/// `DOMID_IO`.
pub const DOMID_IO: DomId = 0x7FF1;
/// `DOMID_XEN`.
pub const DOMID_XEN: DomId = 0x7FF2;
/// `DOMID_COW`.
pub const DOMID_COW: DomId = 0x7FF3;
/// `DOMID_INVALID`.
pub const DOMID_INVALID: DomId = 0x7FF4;
/// `DOMID_IDLE`.
pub const DOMID_IDLE: DomId = 0x7FFF;
/// `DOMID_FIRST_RESERVED`: domain ids from here up are not real domains.
pub const DOMID_FIRST_RESERVED: DomId = 0x7FF0;

/// `CONSOLEIO_write`.
pub const CONSOLEIO_WRITE: u32 = 0;
/// `CONSOLEIO_read`.
pub const CONSOLEIO_READ: u32 = 1;

/// `VMASST_CMD_enable`.
pub const VMASST_CMD_ENABLE: u32 = 0;
/// `VMASST_CMD_disable`.
pub const VMASST_CMD_DISABLE: u32 = 1;
/// `VMASST_TYPE_4gb_segments`.
pub const VMASST_TYPE_4GB_SEGMENTS: u32 = 0;
/// `VMASST_TYPE_4gb_segments_notify`.
pub const VMASST_TYPE_4GB_SEGMENTS_NOTIFY: u32 = 1;
/// `VMASST_TYPE_writable_pagetables`.
pub const VMASST_TYPE_WRITABLE_PAGETABLES: u32 = 2;
/// `VMASST_TYPE_pae_extended_cr3`.
pub const VMASST_TYPE_PAE_EXTENDED_CR3: u32 = 3;
/// `VMASST_TYPE_architectural_iopl`.
pub const VMASST_TYPE_ARCHITECTURAL_IOPL: u32 = 4;
/// `VMASST_TYPE_runstate_update_flag`.
pub const VMASST_TYPE_RUNSTATE_UPDATE_FLAG: u32 = 5;
/// `VMASST_TYPE_m2p_strict`.
pub const VMASST_TYPE_M2P_STRICT: u32 = 32;

/// `VIRQ_*` (`xen.h`): virtual interrupts bindable with `EVTCHNOP_bind_virq`.
pub mod virq {
    /// Timebase update and/or requested timeout (per vCPU).
    pub const TIMER: u32 = 0;
    /// Request to dump debug info.
    pub const DEBUG: u32 = 1;
    /// Bytes received on the emergency console (dom0).
    pub const CONSOLE: u32 = 2;
    /// Exceptional event for some domain (dom0).
    pub const DOM_EXC: u32 = 3;
    /// Xen is low on heap memory (dom0).
    pub const ENOMEM: u32 = 12;
}

/// `struct evtchn_send`, re-exported here because the kernel's console uses it by this path.
pub use event_channel::EvtchnSend;
/// `EVTCHNOP_send`, re-exported at the old path.
pub use event_channel::EVTCHNOP_SEND;
