//! Page-table hypercalls (`xen.h`): `mmu_update`, `mmuext_op`, `update_va_mapping`,
//! and `multicall`.

use super::{Pfn, XenUlong};

pub const MMU_NORMAL_PT_UPDATE: u64 = 0;
pub const MMU_MACHPHYS_UPDATE: u64 = 1;
pub const MMU_PT_UPDATE_PRESERVE_AD: u64 = 2;
pub const MMU_PT_UPDATE_NO_TRANSLATE: u64 = 3;

/// `struct mmu_update`: `ptr` is the machine address of the PTE (its low 2 bits carry the
/// `MMU_*` command), `val` the new PTE.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmuUpdate {
    pub ptr: u64,
    pub val: u64,
}

pub const MMUEXT_PIN_L1_TABLE: u32 = 0;
pub const MMUEXT_PIN_L2_TABLE: u32 = 1;
pub const MMUEXT_PIN_L3_TABLE: u32 = 2;
pub const MMUEXT_PIN_L4_TABLE: u32 = 3;
pub const MMUEXT_UNPIN_TABLE: u32 = 4;
pub const MMUEXT_NEW_BASEPTR: u32 = 5;
pub const MMUEXT_TLB_FLUSH_LOCAL: u32 = 6;
pub const MMUEXT_INVLPG_LOCAL: u32 = 7;
pub const MMUEXT_TLB_FLUSH_MULTI: u32 = 8;
pub const MMUEXT_INVLPG_MULTI: u32 = 9;
pub const MMUEXT_TLB_FLUSH_ALL: u32 = 10;
pub const MMUEXT_INVLPG_ALL: u32 = 11;
pub const MMUEXT_FLUSH_CACHE: u32 = 12;
pub const MMUEXT_SET_LDT: u32 = 13;
pub const MMUEXT_NEW_USER_BASEPTR: u32 = 15;
pub const MMUEXT_CLEAR_PAGE: u32 = 16;
pub const MMUEXT_COPY_PAGE: u32 = 17;

/// `struct mmuext_op`. `arg1` is `mfn` or `linear_addr`; `arg2` is `nr_ents`, the
/// `vcpumask` guest handle or `src_mfn`, depending on `cmd`: all are 64-bit slots on
/// x86_64, so they are plain `u64`s here.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmuextOp {
    /// `MMUEXT_*`.
    pub cmd: u32,
    pub arg1: u64,
    pub arg2: u64,
}

impl MmuextOp {
    /// A command whose `arg1` is a machine frame (pin, unpin, new base pointer...).
    pub fn with_mfn(cmd: u32, mfn: Pfn) -> Self {
        MmuextOp {
            cmd,
            arg1: mfn,
            arg2: 0,
        }
    }

    /// A command whose `arg1` is a virtual address (`INVLPG_*`).
    pub fn with_addr(cmd: u32, linear_addr: u64) -> Self {
        MmuextOp {
            cmd,
            arg1: linear_addr,
            arg2: 0,
        }
    }
}

/// `UVMF_NONE`: no TLB flush after `update_va_mapping`.
pub const UVMF_NONE: u64 = 0;
/// `UVMF_TLB_FLUSH`: flush the whole TLB.
pub const UVMF_TLB_FLUSH: u64 = 1;
/// `UVMF_INVLPG`: flush only the one entry.
pub const UVMF_INVLPG: u64 = 2;
/// `UVMF_FLUSHTYPE_MASK`.
pub const UVMF_FLUSHTYPE_MASK: u64 = 3;
/// `UVMF_LOCAL`: flush on this vCPU only.
pub const UVMF_LOCAL: u64 = 0;
/// `UVMF_ALL`: flush on all vCPUs.
pub const UVMF_ALL: u64 = 1 << 2;

/// `struct multicall_entry`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MulticallEntry {
    pub op: XenUlong,
    /// OUT: the call's return value.
    pub result: XenUlong,
    pub args: [XenUlong; 6],
}
