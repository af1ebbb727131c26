//! `struct shared_info`, `vcpu_info`, `vcpu_time_info` (`xen.h`, x86_64 arch parts from
//! `arch-x86/xen-x86_64.h` and `arch-x86/xen.h`): the page Xen shares with every guest
//! (event channel bitmaps, per-vCPU upcall flags, system time).

/// `XEN_LEGACY_MAX_VCPUS`: vCPUs whose `vcpu_info` lives in the shared info page.
pub const XEN_LEGACY_MAX_VCPUS: usize = 32;

/// `XEN_PVCLOCK_TSC_STABLE_BIT` (`vcpu_time_info.flags`).
pub const XEN_PVCLOCK_TSC_STABLE_BIT: u8 = 1 << 0;
/// `XEN_PVCLOCK_GUEST_STOPPED`.
pub const XEN_PVCLOCK_GUEST_STOPPED: u8 = 1 << 1;

/// `struct vcpu_time_info`. Readers follow the `version` seqlock: odd means an update is in
/// progress; re-read until the version is even and unchanged across the read.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuTimeInfo {
    pub version: u32,
    pub pad0: u32,
    /// TSC at the last update.
    pub tsc_timestamp: u64,
    /// Nanoseconds since boot at `tsc_timestamp`.
    pub system_time: u64,
    /// `ns = ((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul >> 32`.
    pub tsc_to_system_mul: u32,
    pub tsc_shift: i8,
    /// `XEN_PVCLOCK_*`.
    pub flags: u8,
    pub pad1: [u8; 2],
}

impl VcpuTimeInfo {
    /// System time in ns for `tsc`, from one consistent snapshot of this structure.
    pub fn system_time_at(&self, tsc: u64) -> u64 {
        let mut delta = tsc.wrapping_sub(self.tsc_timestamp);
        if self.tsc_shift >= 0 {
            delta <<= self.tsc_shift as u32;
        } else {
            delta >>= (-(self.tsc_shift as i32)) as u32;
        }
        let ns = ((delta as u128 * self.tsc_to_system_mul as u128) >> 32) as u64;
        self.system_time.wrapping_add(ns)
    }
}

/// `struct arch_vcpu_info` (x86_64).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArchVcpuInfo {
    /// Faulting address of the last page fault.
    pub cr2: u64,
    pub pad: u64,
}

/// `struct vcpu_info` (64 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuInfo {
    /// Set by Xen when an event is pending; cleared by the guest before scanning.
    pub evtchn_upcall_pending: u8,
    /// Non-zero masks event upcalls (the PV "interrupts disabled" flag).
    pub evtchn_upcall_mask: u8,
    /// One bit per word of `shared_info.evtchn_pending` with pending ports.
    pub evtchn_pending_sel: u64,
    pub arch: ArchVcpuInfo,
    pub time: VcpuTimeInfo,
}

/// `struct arch_shared_info` (x86_64).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArchSharedInfo {
    pub max_pfn: u64,
    pub pfn_to_mfn_frame_list_list: u64,
    pub nmi_reason: u64,
    pub p2m_cr3: u64,
    pub p2m_vaddr: u64,
    pub p2m_generation: u64,
}

/// `struct shared_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SharedInfo {
    pub vcpu_info: [VcpuInfo; XEN_LEGACY_MAX_VCPUS],
    /// 2-level event channel pending bitmap: bit `p % 64` of word `p / 64` is port `p`.
    pub evtchn_pending: [u64; 64],
    /// Mask bitmap, same layout.
    pub evtchn_mask: [u64; 64],
    pub wc_version: u32,
    pub wc_sec: u32,
    pub wc_nsec: u32,
    pub wc_sec_hi: u32,
    pub arch: ArchSharedInfo,
}
