//! Event/failsafe callbacks and the virtual IDT: `callback.h`, `struct trap_info`
//! (`arch-x86/xen.h`), used by `HYPERVISOR_callback_op`, `HYPERVISOR_set_callbacks` and
//! `HYPERVISOR_set_trap_table`.

pub const CALLBACKTYPE_EVENT: u16 = 0;
pub const CALLBACKTYPE_FAILSAFE: u16 = 1;
pub const CALLBACKTYPE_SYSCALL: u16 = 2;
pub const CALLBACKTYPE_NMI: u16 = 4;
pub const CALLBACKTYPE_SYSENTER: u16 = 5;
pub const CALLBACKTYPE_SYSCALL32: u16 = 7;

/// `CALLBACKF_mask_events`: mask event upcalls on entry to the callback.
pub const CALLBACKF_MASK_EVENTS: u16 = 1 << 0;

pub const CALLBACKOP_REGISTER: u32 = 0;
pub const CALLBACKOP_UNREGISTER: u32 = 1;

/// `struct callback_register`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallbackRegister {
    /// `CALLBACKTYPE_*`.
    pub type_: u16,
    /// `CALLBACKF_*`.
    pub flags: u16,
    /// Entry point (`xen_callback_t`, a plain address on x86_64).
    pub address: u64,
}

/// `struct callback_unregister`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallbackUnregister {
    pub type_: u16,
    pub _unused: u16,
}

/// `struct trap_info`: one virtual IDT entry. A table handed to `set_trap_table` ends with
/// an all-zero entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapInfo {
    pub vector: u8,
    /// Bits 0-1: DPL allowed to raise it with `int`; bit 2 (`TI_IF`): do not mask events
    /// on entry (interrupt gate when clear).
    pub flags: u8,
    /// Code selector (`FLAT_KERNEL_CS64`).
    pub cs: u16,
    pub address: u64,
}

/// `trap_info.flags` bit that leaves event delivery enabled on entry (`TI_SET_IF`).
pub const TI_IF: u8 = 1 << 2;
