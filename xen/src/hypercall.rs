//! Raw hypercalls for a 64-bit PV guest.
//!
//! Xen fills the 4 KiB `hypercall_page` (its address is announced with the
//! `XEN_ELFNOTE_HYPERCALL_PAGE` note, see the `boot` crate) with one 32-byte stub per
//! hypercall. The x86_64 ABI: hypercall arguments in `rdi, rsi, rdx, r10, r8`, result in
//! `rax`; the stub's `syscall` clobbers `rcx` and `r11`, and Xen may scrub the argument
//! registers, so all of them are declared clobbered. `call` pushes onto the stack, so these
//! asm blocks must not carry `nostack` (the kernel target also disables the red zone).

use crate::abi::{self, hypercall_nr as nr};

extern "C" {
    /// Defined by the `boot` crate's entry assembly, page-aligned, filled in by Xen.
    static hypercall_page: [u8; 4096];
}

#[inline(always)]
fn entry(op: usize) -> usize {
    debug_assert!(op < 4096 / 32);
    // Only the address of the extern static is taken; it is never read from Rust.
    let base = core::ptr::addr_of!(hypercall_page) as usize;
    base + op * 32
}

/// Issues hypercall `op` with up to five arguments.
///
/// # Safety
/// The caller guarantees that the arguments are what hypercall `op` expects: pointers point
/// to valid, correctly laid-out memory that lives for the call.
#[inline]
pub unsafe fn hypercall5(op: usize, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
    let ret: i64;
    // SAFETY: the stub at `entry(op)` is Xen's; registers follow the PV hypercall ABI and
    // everything Xen may change is declared as an output or clobber.
    unsafe {
        core::arch::asm!(
            "call {stub}",
            stub = in(reg) entry(op),
            inlateout("rdi") a1 => _,
            inlateout("rsi") a2 => _,
            inlateout("rdx") a3 => _,
            inlateout("r10") a4 => _,
            inlateout("r8") a5 => _,
            lateout("rax") ret,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    ret
}

/// `HYPERVISOR_sched_op(cmd, arg)`.
///
/// # Safety
/// `arg` must be what `cmd` expects (0 or a pointer to the matching `sched_*` struct).
#[inline]
pub unsafe fn sched_op(cmd: u32, arg: u64) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { hypercall5(nr::SCHED_OP, cmd as u64, arg, 0, 0, 0) }
}

/// Ends this domain with `reason` (`SHUTDOWN_*`). Does not return.
pub fn shutdown(reason: u32) -> ! {
    let arg = abi::sched::SchedShutdown { reason };
    loop {
        // SAFETY: `arg` is a valid `sched_shutdown` for the duration of the call.
        unsafe { sched_op(abi::sched::SCHEDOP_SHUTDOWN, &arg as *const _ as u64) };
    }
}

/// Gives up the CPU for a moment (`SCHEDOP_yield`).
pub fn yield_now() {
    // SAFETY: `SCHEDOP_yield` takes no argument.
    unsafe { sched_op(abi::sched::SCHEDOP_YIELD, 0) };
}

/// `EVTCHNOP_send`: notifies the remote end of `port`.
pub fn evtchn_send(port: abi::EvtchnPort) -> i64 {
    let mut arg = abi::EvtchnSend { port };
    // SAFETY: `arg` is a valid `evtchn_send` for the duration of the call.
    unsafe {
        hypercall5(
            nr::EVENT_CHANNEL_OP,
            abi::EVTCHNOP_SEND as u64,
            &mut arg as *mut _ as u64,
            0,
            0,
            0,
        )
    }
}

/// `(major, minor)` of the running Xen.
pub fn xen_version() -> (u16, u16) {
    // SAFETY: `XENVER_version` takes no argument buffer.
    let v = unsafe {
        hypercall5(
            nr::XEN_VERSION,
            abi::version::XENVER_VERSION as u64,
            0,
            0,
            0,
            0,
        )
    };
    ((v >> 16) as u16, v as u16)
}

/// The extra version string (e.g. `.7`), as raw NUL-padded bytes.
pub fn xen_extraversion() -> [u8; abi::version::XEN_EXTRAVERSION_LEN] {
    let mut buf = [0u8; abi::version::XEN_EXTRAVERSION_LEN];
    // SAFETY: `buf` is a writable `xen_extraversion_t` for the duration of the call.
    unsafe {
        hypercall5(
            nr::XEN_VERSION,
            abi::version::XENVER_EXTRAVERSION as u64,
            buf.as_mut_ptr() as u64,
            0,
            0,
            0,
        )
    };
    buf
}

/// Reads entry `mfn` of the read-only machine-to-physical table: the pseudo-physical frame
/// this domain maps machine frame `mfn` at.
///
/// # Safety
/// `mfn` must be a machine frame that belongs to this domain (e.g. one from `start_info`);
/// the M2P is mapped read-only by Xen for every PV guest.
pub unsafe fn mfn_to_pfn(mfn: u64) -> u64 {
    let table = abi::MACH2PHYS_VIRT_START as *const u64;
    // SAFETY: forwarded contract; the table covers every machine frame of the host.
    unsafe { core::ptr::read_volatile(table.add(mfn as usize)) }
}
