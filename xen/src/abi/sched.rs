//! Scheduler operations (`sched.h`), `HYPERVISOR_sched_op(cmd, arg)`.

pub const SCHEDOP_YIELD: u32 = 0;
pub const SCHEDOP_BLOCK: u32 = 1;
pub const SCHEDOP_SHUTDOWN: u32 = 2;
pub const SCHEDOP_POLL: u32 = 3;
pub const SCHEDOP_REMOTE_SHUTDOWN: u32 = 4;
pub const SCHEDOP_SHUTDOWN_CODE: u32 = 5;
pub const SCHEDOP_WATCHDOG: u32 = 6;

pub const SHUTDOWN_POWEROFF: u32 = 0;
pub const SHUTDOWN_REBOOT: u32 = 1;
pub const SHUTDOWN_SUSPEND: u32 = 2;
pub const SHUTDOWN_CRASH: u32 = 3;
pub const SHUTDOWN_WATCHDOG: u32 = 4;
pub const SHUTDOWN_SOFT_RESET: u32 = 5;

/// `struct sched_shutdown`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedShutdown {
    pub reason: u32,
}

/// `struct sched_poll` (x86_64 layout: the port list is a guest handle, i.e. a pointer).
/// `timeout` is an absolute system time in ns; 0 waits without a timeout.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SchedPoll {
    pub ports: u64,
    pub nr_ports: u32,
    pub timeout: u64,
}

/// `struct sched_watchdog`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedWatchdog {
    pub id: u32,
    pub timeout: u32,
}
