//! Monotonic time from vCPU 0's `vcpu_time_info` (Xen system time, ns since boot).

use core::ptr::{addr_of, read_volatile};
use core::sync::atomic::{fence, Ordering};

use xen::abi::shared_info::VcpuTimeInfo;

use crate::shared;

fn rdtsc() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: `rdtsc` reads the time-stamp counter; it touches no memory.
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    ((hi as u64) << 32) | lo as u64
}

/// Xen system time now, in nanoseconds. Reads the time record under its version counter
/// (odd = Xen is updating it; changed = retry), as `xen.h` prescribes.
pub fn now_ns() -> u64 {
    let si = shared::ptr();
    loop {
        // SAFETY: vcpu_info[0].time lives in the mapped shared info page; fields are read
        // volatile because Xen updates them under the version protocol.
        let (v1, rec) = unsafe {
            let t = addr_of!((*si).vcpu_info[0].time);
            let v1 = read_volatile(addr_of!((*t).version));
            fence(Ordering::Acquire);
            (v1, read_volatile(t))
        };
        fence(Ordering::Acquire);
        // SAFETY: as above.
        let v2 = unsafe { read_volatile(addr_of!((*si).vcpu_info[0].time.version)) };
        if v1 & 1 == 0 && v1 == v2 {
            return VcpuTimeInfo::system_time_at(&rec, rdtsc());
        }
        core::hint::spin_loop();
    }
}
