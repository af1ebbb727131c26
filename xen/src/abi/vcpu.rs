//! vCPU operations (`vcpu.h`), `HYPERVISOR_vcpu_op(cmd, vcpuid, arg)`.

pub const VCPUOP_INITIALISE: u32 = 0;
pub const VCPUOP_UP: u32 = 1;
pub const VCPUOP_DOWN: u32 = 2;
pub const VCPUOP_IS_UP: u32 = 3;
pub const VCPUOP_GET_RUNSTATE_INFO: u32 = 4;
pub const VCPUOP_REGISTER_RUNSTATE_MEMORY_AREA: u32 = 5;
pub const VCPUOP_SET_PERIODIC_TIMER: u32 = 6;
pub const VCPUOP_STOP_PERIODIC_TIMER: u32 = 7;
pub const VCPUOP_SET_SINGLESHOT_TIMER: u32 = 8;
pub const VCPUOP_STOP_SINGLESHOT_TIMER: u32 = 9;
pub const VCPUOP_REGISTER_VCPU_INFO: u32 = 10;
pub const VCPUOP_SEND_NMI: u32 = 11;
pub const VCPUOP_GET_PHYSID: u32 = 12;

/// `VCPU_SSHOTTMR_future`: fail with `-ETIME` if the deadline already passed.
pub const VCPU_SSHOTTMR_FUTURE: u32 = 1 << 0;

pub const RUNSTATE_RUNNING: i32 = 0;
pub const RUNSTATE_RUNNABLE: i32 = 1;
pub const RUNSTATE_BLOCKED: i32 = 2;
pub const RUNSTATE_OFFLINE: i32 = 3;

/// `struct vcpu_runstate_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuRunstateInfo {
    /// `RUNSTATE_*`.
    pub state: i32,
    pub state_entry_time: u64,
    /// Nanoseconds spent in each `RUNSTATE_*`.
    pub time: [u64; 4],
}

/// `struct vcpu_set_periodic_timer`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuSetPeriodicTimer {
    pub period_ns: u64,
}

/// `struct vcpu_set_singleshot_timer`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuSetSingleshotTimer {
    /// Absolute system time (ns) of the deadline.
    pub timeout_abs_ns: u64,
    /// `VCPU_SSHOTTMR_*`.
    pub flags: u32,
}

/// `struct vcpu_register_vcpu_info`: move this vCPU's `vcpu_info` out of the shared page.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuRegisterVcpuInfo {
    pub mfn: u64,
    pub offset: u32,
    pub rsvd: u32,
}
