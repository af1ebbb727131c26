//! Raw hypercalls for a 64-bit PV guest, and typed wrappers.
//!
//! Xen fills the 4 KiB `hypercall_page` (its address is announced with the
//! `XEN_ELFNOTE_HYPERCALL_PAGE` note, see the `boot` crate) with one 32-byte stub per
//! hypercall. The x86_64 ABI: hypercall arguments in `rdi, rsi, rdx, r10, r8`, result in
//! `rax`; the stub's `syscall` clobbers `rcx` and `r11`, and Xen may scrub the argument
//! registers, so all of them are declared clobbered. `call` pushes onto the stack, so these
//! asm blocks must not carry `nostack` (the kernel target also disables the red zone).
//!
//! Wrappers return `Result<_, XenError>`; batched operations (grant map/unmap/copy,
//! `mmu_update`, ...) also leave a per-entry status in each entry, which the caller checks
//! (e.g. with [`abi::grant_table::GntStatus::check`]).

use crate::abi::callback::{CallbackRegister, TrapInfo, CALLBACKOP_REGISTER};
use crate::abi::event_channel as ev;
use crate::abi::grant_table::{
    GnttabCopy, GnttabMapGrantRef, GnttabQuerySize, GnttabSetupTable, GnttabUnmapGrantRef,
    GNTTABOP_COPY, GNTTABOP_MAP_GRANT_REF, GNTTABOP_QUERY_SIZE, GNTTABOP_SETUP_TABLE,
    GNTTABOP_UNMAP_GRANT_REF,
};
use crate::abi::memory::{self as mem, XenMemoryDomain, XenMemoryExchange, XenMemoryReservation};
use crate::abi::mmu::{MmuUpdate, MmuextOp, MulticallEntry};
use crate::abi::physdev as pd;
use crate::abi::vcpu as vc;
use crate::abi::{self, hypercall_nr as nr, DomId, EvtchnPort, Pfn, DOMID_SELF};
use crate::XenError;

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

#[inline]
fn ptr<T>(p: &T) -> u64 {
    p as *const T as u64
}

#[inline]
fn mptr<T>(p: &mut T) -> u64 {
    p as *mut T as u64
}

/// `hypercall5` for an op whose argument is one structure the caller owns.
///
/// # Safety
/// `arg` must be the structure `op`/`cmd` expects.
#[inline]
unsafe fn op2<T>(op: usize, cmd: u32, arg: &mut T) -> Result<u64, XenError> {
    // SAFETY: forwarded contract; `arg` is valid and writable for the call.
    XenError::check(unsafe { hypercall5(op, cmd as u64, mptr(arg), 0, 0, 0) })
}

// ---------------------------------------------------------------------------------------
// console_io

/// `HYPERVISOR_console_io(CONSOLEIO_write)`: Xen's emergency console. Refused (`-EPERM`)
/// to a domU on release builds of Xen unless `guest_loglvl`/debug builds allow it.
pub fn console_io_write(bytes: &[u8]) -> Result<(), XenError> {
    // SAFETY: `bytes` is readable for its length during the call.
    let r = unsafe {
        hypercall5(
            nr::CONSOLE_IO,
            abi::CONSOLEIO_WRITE as u64,
            bytes.len() as u64,
            bytes.as_ptr() as u64,
            0,
            0,
        )
    };
    XenError::check(r).map(|_| ())
}

// ---------------------------------------------------------------------------------------
// sched_op

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

/// `SCHEDOP_block`: sleeps until an event is pending. Xen clears the vCPU's upcall mask
/// while blocked, so call it with events masked and a pending check done just before.
pub fn sched_block() {
    // SAFETY: `SCHEDOP_block` takes no argument.
    unsafe { sched_op(abi::sched::SCHEDOP_BLOCK, 0) };
}

/// `SCHEDOP_poll`: sleeps until one of `ports` is pending or system time reaches
/// `timeout_abs_ns` (0: no timeout). Works with events masked. Returns `Ok` in both cases;
/// the caller tests the ports' pending bits.
pub fn sched_poll(ports: &[EvtchnPort], timeout_abs_ns: u64) -> Result<(), XenError> {
    let mut arg = abi::sched::SchedPoll {
        ports: ports.as_ptr() as u64,
        nr_ports: ports.len() as u32,
        timeout: timeout_abs_ns,
    };
    // SAFETY: `arg` and the port array it points to live for the call.
    let r = unsafe { sched_op(abi::sched::SCHEDOP_POLL, mptr(&mut arg)) };
    XenError::check(r).map(|_| ())
}

/// `SCHEDOP_shutdown_code`: records the shutdown reason to report if the domain later
/// crashes or exits without one, without shutting down now.
pub fn sched_shutdown_code(reason: u32) -> Result<u64, XenError> {
    let mut arg = abi::sched::SchedShutdown { reason };
    // SAFETY: `arg` is a valid `sched_shutdown`.
    let r = unsafe { sched_op(abi::sched::SCHEDOP_SHUTDOWN_CODE, mptr(&mut arg)) };
    XenError::check(r)
}

// ---------------------------------------------------------------------------------------
// event_channel_op

/// `EVTCHNOP_send`: notifies the remote end of `port`. Returns the raw hypercall result
/// (kept for the console; see [`evtchn_notify`] for a `Result`).
pub fn evtchn_send(port: EvtchnPort) -> i64 {
    let mut arg = ev::EvtchnSend { port };
    // SAFETY: `arg` is a valid `evtchn_send` for the duration of the call.
    unsafe {
        hypercall5(
            nr::EVENT_CHANNEL_OP,
            ev::EVTCHNOP_SEND as u64,
            mptr(&mut arg),
            0,
            0,
            0,
        )
    }
}

/// `EVTCHNOP_send` as a `Result`.
pub fn evtchn_notify(port: EvtchnPort) -> Result<(), XenError> {
    XenError::check(evtchn_send(port)).map(|_| ())
}

/// `EVTCHNOP_alloc_unbound`: a fresh local port that `remote_dom` may bind to.
pub fn evtchn_alloc_unbound(remote_dom: DomId) -> Result<EvtchnPort, XenError> {
    let mut a = ev::EvtchnAllocUnbound {
        dom: DOMID_SELF,
        remote_dom,
        port: 0,
    };
    // SAFETY: matching argument structure.
    unsafe { op2(nr::EVENT_CHANNEL_OP, ev::EVTCHNOP_ALLOC_UNBOUND, &mut a) }?;
    Ok(a.port)
}

/// `EVTCHNOP_bind_interdomain`: connects to `remote_port` of `remote_dom`; returns the
/// local port.
pub fn evtchn_bind_interdomain(
    remote_dom: DomId,
    remote_port: EvtchnPort,
) -> Result<EvtchnPort, XenError> {
    let mut a = ev::EvtchnBindInterdomain {
        remote_dom,
        remote_port,
        local_port: 0,
    };
    // SAFETY: matching argument structure.
    unsafe { op2(nr::EVENT_CHANNEL_OP, ev::EVTCHNOP_BIND_INTERDOMAIN, &mut a) }?;
    Ok(a.local_port)
}

/// `EVTCHNOP_bind_virq` (`abi::virq::*`) on `vcpu`.
pub fn evtchn_bind_virq(virq: u32, vcpu: u32) -> Result<EvtchnPort, XenError> {
    let mut a = ev::EvtchnBindVirq {
        virq,
        vcpu,
        port: 0,
    };
    // SAFETY: matching argument structure.
    unsafe { op2(nr::EVENT_CHANNEL_OP, ev::EVTCHNOP_BIND_VIRQ, &mut a) }?;
    Ok(a.port)
}

/// `EVTCHNOP_bind_pirq`: binds a physical IRQ (e.g. an MSI-X pirq from pcifront).
pub fn evtchn_bind_pirq(pirq: u32, will_share: bool) -> Result<EvtchnPort, XenError> {
    let mut a = ev::EvtchnBindPirq {
        pirq,
        flags: if will_share {
            ev::BIND_PIRQ_WILL_SHARE
        } else {
            0
        },
        port: 0,
    };
    // SAFETY: matching argument structure.
    unsafe { op2(nr::EVENT_CHANNEL_OP, ev::EVTCHNOP_BIND_PIRQ, &mut a) }?;
    Ok(a.port)
}

/// `EVTCHNOP_close`.
pub fn evtchn_close(port: EvtchnPort) -> Result<(), XenError> {
    let mut a = ev::EvtchnClose { port };
    // SAFETY: matching argument structure.
    unsafe { op2(nr::EVENT_CHANNEL_OP, ev::EVTCHNOP_CLOSE, &mut a) }.map(|_| ())
}

/// `EVTCHNOP_unmask` (re-delivers an event that arrived while masked).
pub fn evtchn_unmask(port: EvtchnPort) -> Result<(), XenError> {
    let mut a = ev::EvtchnUnmask { port };
    // SAFETY: matching argument structure.
    unsafe { op2(nr::EVENT_CHANNEL_OP, ev::EVTCHNOP_UNMASK, &mut a) }.map(|_| ())
}

/// `EVTCHNOP_bind_vcpu`: delivers `port` to `vcpu`.
pub fn evtchn_bind_vcpu(port: EvtchnPort, vcpu: u32) -> Result<(), XenError> {
    let mut a = ev::EvtchnBindVcpu { port, vcpu };
    // SAFETY: matching argument structure.
    unsafe { op2(nr::EVENT_CHANNEL_OP, ev::EVTCHNOP_BIND_VCPU, &mut a) }.map(|_| ())
}

/// `EVTCHNOP_status` of `port` in `dom` (`DOMID_SELF` for our own).
pub fn evtchn_status(dom: DomId, port: EvtchnPort) -> Result<ev::EvtchnStatus, XenError> {
    let mut a = ev::EvtchnStatus {
        dom,
        port,
        ..Default::default()
    };
    // SAFETY: matching argument structure.
    unsafe { op2(nr::EVENT_CHANNEL_OP, ev::EVTCHNOP_STATUS, &mut a) }?;
    Ok(a)
}

// ---------------------------------------------------------------------------------------
// grant_table_op

/// `HYPERVISOR_grant_table_op(cmd, ops, count)`.
///
/// # Safety
/// `ops` must point to `count` structures of the type `cmd` expects, valid for the call.
#[inline]
pub unsafe fn grant_table_op(cmd: u32, ops: u64, count: u32) -> Result<u64, XenError> {
    // SAFETY: forwarded contract.
    XenError::check(unsafe { hypercall5(nr::GRANT_TABLE_OP, cmd as u64, ops, count as u64, 0, 0) })
}

/// `GNTTABOP_setup_table` for this domain: asks for `frames.len()` grant table frames and
/// fills `frames` with their machine frame numbers (to be mapped by the caller).
pub fn gnttab_setup_table(frames: &mut [Pfn]) -> Result<(), XenError> {
    let mut a = GnttabSetupTable {
        dom: DOMID_SELF,
        nr_frames: frames.len() as u32,
        status: 0,
        frame_list: frames.as_mut_ptr() as u64,
    };
    // SAFETY: `a` and the frame array it points to are valid and writable for the call.
    unsafe { grant_table_op(GNTTABOP_SETUP_TABLE, mptr(&mut a), 1) }?;
    grant_status_to_errno(a.status)
}

/// `GNTTABOP_query_size` for this domain: `(nr_frames, max_nr_frames)`.
pub fn gnttab_query_size() -> Result<(u32, u32), XenError> {
    let mut a = GnttabQuerySize {
        dom: DOMID_SELF,
        ..Default::default()
    };
    // SAFETY: matching argument structure.
    unsafe { grant_table_op(GNTTABOP_QUERY_SIZE, mptr(&mut a), 1) }?;
    grant_status_to_errno(a.status)?;
    Ok((a.nr_frames, a.max_nr_frames))
}

/// `GNTTABOP_map_grant_ref` on a batch. `Err` means the hypercall itself failed (no entry
/// was processed, or the batch was malformed); otherwise each entry's `status` tells.
///
/// # Safety
/// Each entry's `host_addr` (with `GNTMAP_host_map`) must be a page-aligned virtual
/// address the caller owns and nothing else references: Xen replaces its mapping.
pub unsafe fn gnttab_map_grant_ref(ops: &mut [GnttabMapGrantRef]) -> Result<(), XenError> {
    // SAFETY: forwarded contract; the array is valid and writable.
    unsafe {
        grant_table_op(
            GNTTABOP_MAP_GRANT_REF,
            ops.as_mut_ptr() as u64,
            ops.len() as u32,
        )
    }
    .map(|_| ())
}

/// `GNTTABOP_unmap_grant_ref` on a batch; per-entry `status` as for the map.
///
/// # Safety
/// The mappings must no longer be referenced by the caller.
pub unsafe fn gnttab_unmap_grant_ref(ops: &mut [GnttabUnmapGrantRef]) -> Result<(), XenError> {
    // SAFETY: forwarded contract.
    unsafe {
        grant_table_op(
            GNTTABOP_UNMAP_GRANT_REF,
            ops.as_mut_ptr() as u64,
            ops.len() as u32,
        )
    }
    .map(|_| ())
}

/// `GNTTABOP_copy` on a batch; per-entry `status` as for the map.
///
/// # Safety
/// Local (non-gref) frames written by the copy must be frames the caller owns and may
/// have overwritten; no Rust reference may alias the written bytes.
pub unsafe fn gnttab_copy(ops: &mut [GnttabCopy]) -> Result<(), XenError> {
    // SAFETY: forwarded contract.
    unsafe { grant_table_op(GNTTABOP_COPY, ops.as_mut_ptr() as u64, ops.len() as u32) }.map(|_| ())
}

/// Maps a `GNTST_*` status of a single-entry op to an errno-style error.
fn grant_status_to_errno(status: i16) -> Result<(), XenError> {
    use crate::abi::grant_table::*;
    match status {
        GNTST_OKAY => Ok(()),
        GNTST_BAD_DOMAIN => Err(XenError::ESRCH),
        GNTST_PERMISSION_DENIED => Err(XenError::EPERM),
        GNTST_EAGAIN => Err(XenError::EAGAIN),
        GNTST_NO_SPACE => Err(XenError::ENOSPC),
        _ => Err(XenError::EINVAL),
    }
}

// ---------------------------------------------------------------------------------------
// memory_op

/// `HYPERVISOR_memory_op(cmd, arg)`.
///
/// # Safety
/// `arg` must be what `cmd` expects.
#[inline]
pub unsafe fn memory_op(cmd: u32, arg: u64) -> Result<u64, XenError> {
    // SAFETY: forwarded contract.
    XenError::check(unsafe { hypercall5(nr::MEMORY_OP, cmd as u64, arg, 0, 0, 0) })
}

fn reservation(extents: &mut [Pfn], order: u32, mem_flags: u32) -> XenMemoryReservation {
    XenMemoryReservation {
        extent_start: extents.as_mut_ptr() as u64,
        nr_extents: extents.len() as u64,
        extent_order: order,
        mem_flags,
        domid: DOMID_SELF,
    }
}

/// `XENMEM_increase_reservation`: allocates `extents.len()` extents of `2^order` pages;
/// fills `extents` with their machine frames. Returns how many were allocated.
pub fn increase_reservation(
    extents: &mut [Pfn],
    order: u32,
    mem_flags: u32,
) -> Result<usize, XenError> {
    let mut r = reservation(extents, order, mem_flags);
    // SAFETY: `r` and the extent array are valid and writable for the call.
    unsafe { memory_op(mem::XENMEM_INCREASE_RESERVATION, mptr(&mut r)) }.map(|n| n as usize)
}

/// `XENMEM_decrease_reservation`: gives the extents starting at the listed frames back to
/// Xen. Returns how many were released.
///
/// # Safety
/// The frames must be unmapped from the caller's page tables and never touched again.
pub unsafe fn decrease_reservation(extents: &mut [Pfn], order: u32) -> Result<usize, XenError> {
    let mut r = reservation(extents, order, 0);
    // SAFETY: forwarded contract; `r` is valid.
    unsafe { memory_op(mem::XENMEM_DECREASE_RESERVATION, mptr(&mut r)) }.map(|n| n as usize)
}

/// `XENMEM_populate_physmap`: backs the listed pseudo-physical frames with memory; on
/// return `extents` holds the machine frames. Returns how many were populated.
pub fn populate_physmap(
    extents: &mut [Pfn],
    order: u32,
    mem_flags: u32,
) -> Result<usize, XenError> {
    let mut r = reservation(extents, order, mem_flags);
    // SAFETY: `r` and the extent array are valid and writable for the call.
    unsafe { memory_op(mem::XENMEM_POPULATE_PHYSMAP, mptr(&mut r)) }.map(|n| n as usize)
}

/// `XENMEM_exchange`: trades `in_frames` (extents of `2^in_order` pages, by machine frame)
/// for extents of `2^out_order` pages placed at the pseudo-physical frames in `out_frames`
/// (overwritten with the new machine frames). The usual use: `2^N` scattered pages for one
/// machine-contiguous extent below `2^address_bits` (pass `mem_flags` =
/// `xenmemf_address_bits(32)` for DMA32, 0 for any). Returns extents exchanged; `Err` with
/// partial progress leaves the first `nr_exchanged` exchanged (reported in the error case
/// by the second tuple element).
///
/// # Safety
/// The input frames must be unmapped and unreferenced; the caller updates its p2m and
/// page tables for the output frames.
pub unsafe fn memory_exchange(
    in_frames: &mut [Pfn],
    in_order: u32,
    out_frames: &mut [Pfn],
    out_order: u32,
    mem_flags: u32,
) -> Result<u64, (XenError, u64)> {
    let mut x = XenMemoryExchange {
        in_: reservation(in_frames, in_order, 0),
        out: reservation(out_frames, out_order, mem_flags),
        nr_exchanged: 0,
    };
    // SAFETY: forwarded contract; `x` and both arrays are valid for the call.
    match unsafe { memory_op(mem::XENMEM_EXCHANGE, mptr(&mut x)) } {
        Ok(_) => Ok(x.nr_exchanged),
        Err(e) => Err((e, x.nr_exchanged)),
    }
}

fn memory_domain_op(cmd: u32) -> Result<u64, XenError> {
    let mut d = XenMemoryDomain { domid: DOMID_SELF };
    // SAFETY: these commands take a `domid_t` pointer.
    unsafe { memory_op(cmd, mptr(&mut d.domid)) }
}

/// `XENMEM_current_reservation`: pages this domain holds.
pub fn current_reservation() -> Result<u64, XenError> {
    memory_domain_op(mem::XENMEM_CURRENT_RESERVATION)
}

/// `XENMEM_maximum_reservation`: this domain's page limit.
pub fn maximum_reservation() -> Result<u64, XenError> {
    memory_domain_op(mem::XENMEM_MAXIMUM_RESERVATION)
}

/// `XENMEM_maximum_ram_page`: highest machine frame of the host.
pub fn maximum_ram_page() -> Result<u64, XenError> {
    // SAFETY: takes no argument.
    unsafe { memory_op(mem::XENMEM_MAXIMUM_RAM_PAGE, 0) }
}

// ---------------------------------------------------------------------------------------
// page tables

/// `HYPERVISOR_mmu_update`: applies `reqs` for `DOMID_SELF`. Returns how many succeeded
/// (all of them on `Ok`).
///
/// # Safety
/// The updates must keep the caller's address space sound: no live Rust reference may
/// point into a page whose mapping changes.
pub unsafe fn mmu_update(reqs: &[MmuUpdate]) -> Result<u32, XenError> {
    let mut done: u32 = 0;
    // SAFETY: forwarded contract; `reqs` and `done` are valid for the call.
    let r = unsafe {
        hypercall5(
            nr::MMU_UPDATE,
            reqs.as_ptr() as u64,
            reqs.len() as u64,
            mptr(&mut done),
            DOMID_SELF as u64,
            0,
        )
    };
    XenError::check(r).map(|_| done)
}

/// `HYPERVISOR_mmuext_op` (pin/unpin, TLB flushes, new base pointer...). Returns how many
/// succeeded.
///
/// # Safety
/// As for [`mmu_update`].
pub unsafe fn mmuext_op(ops: &[MmuextOp]) -> Result<u32, XenError> {
    let mut done: u32 = 0;
    // SAFETY: forwarded contract.
    let r = unsafe {
        hypercall5(
            nr::MMUEXT_OP,
            ops.as_ptr() as u64,
            ops.len() as u64,
            mptr(&mut done),
            DOMID_SELF as u64,
            0,
        )
    };
    XenError::check(r).map(|_| done)
}

/// `HYPERVISOR_update_va_mapping`: sets the PTE of `va` to `pte`, then flushes per
/// `flags` (`UVMF_*`).
///
/// # Safety
/// As for [`mmu_update`].
pub unsafe fn update_va_mapping(va: u64, pte: u64, flags: u64) -> Result<(), XenError> {
    // SAFETY: forwarded contract.
    XenError::check(unsafe { hypercall5(nr::UPDATE_VA_MAPPING, va, pte, flags, 0, 0) }).map(|_| ())
}

/// `HYPERVISOR_multicall`: issues the batch; each entry's `result` holds its return value.
///
/// # Safety
/// Each entry must be a valid hypercall as for [`hypercall5`].
pub unsafe fn multicall(calls: &mut [MulticallEntry]) -> Result<(), XenError> {
    // SAFETY: forwarded contract.
    let r = unsafe {
        hypercall5(
            nr::MULTICALL,
            calls.as_mut_ptr() as u64,
            calls.len() as u64,
            0,
            0,
            0,
        )
    };
    XenError::check(r).map(|_| ())
}

/// `HYPERVISOR_vm_assist(cmd, type)`.
pub fn vm_assist(cmd: u32, type_: u32) -> Result<(), XenError> {
    // SAFETY: no pointers.
    XenError::check(unsafe { hypercall5(nr::VM_ASSIST, cmd as u64, type_ as u64, 0, 0, 0) })
        .map(|_| ())
}

// ---------------------------------------------------------------------------------------
// physdev_op

/// `HYPERVISOR_physdev_op(cmd, arg)`.
///
/// # Safety
/// `arg` must be what `cmd` expects.
#[inline]
pub unsafe fn physdev_op<T>(cmd: u32, arg: &mut T) -> Result<u64, XenError> {
    // SAFETY: forwarded contract.
    unsafe { op2(nr::PHYSDEV_OP, cmd, arg) }
}

/// `PHYSDEVOP_map_pirq`: maps an MSI/MSI-X/GSI source to a pirq. `arg.pirq` is updated.
/// (In a PV driver domain pciback does this for pcifront's `enable_msix`; this is for
/// direct use by a privileged domain.)
pub fn physdev_map_pirq(arg: &mut pd::PhysdevMapPirq) -> Result<i32, XenError> {
    // SAFETY: matching argument structure.
    unsafe { physdev_op(pd::PHYSDEVOP_MAP_PIRQ, arg) }?;
    Ok(arg.pirq)
}

/// `PHYSDEVOP_unmap_pirq`.
pub fn physdev_unmap_pirq(domid: DomId, pirq: i32) -> Result<(), XenError> {
    let mut a = pd::PhysdevUnmapPirq { domid, pirq };
    // SAFETY: matching argument structure.
    unsafe { physdev_op(pd::PHYSDEVOP_UNMAP_PIRQ, &mut a) }.map(|_| ())
}

/// `PHYSDEVOP_irq_status_query`: `XENIRQSTAT_*` flags of `pirq` (needs EOI? shared?).
pub fn physdev_irq_status_query(pirq: u32) -> Result<u32, XenError> {
    let mut a = pd::PhysdevIrqStatusQuery {
        irq: pirq,
        flags: 0,
    };
    // SAFETY: matching argument structure.
    unsafe { physdev_op(pd::PHYSDEVOP_IRQ_STATUS_QUERY, &mut a) }?;
    Ok(a.flags)
}

/// `PHYSDEVOP_eoi` for `pirq`.
pub fn physdev_eoi(pirq: u32) -> Result<(), XenError> {
    let mut a = pd::PhysdevEoi { irq: pirq };
    // SAFETY: matching argument structure.
    unsafe { physdev_op(pd::PHYSDEVOP_EOI, &mut a) }.map(|_| ())
}

/// `PHYSDEVOP_set_iopl`.
pub fn physdev_set_iopl(iopl: u32) -> Result<(), XenError> {
    let mut a = pd::PhysdevSetIopl { iopl };
    // SAFETY: matching argument structure.
    unsafe { physdev_op(pd::PHYSDEVOP_SET_IOPL, &mut a) }.map(|_| ())
}

// ---------------------------------------------------------------------------------------
// vcpu_op, timers, callbacks, traps

/// `HYPERVISOR_vcpu_op(cmd, vcpu, arg)`.
///
/// # Safety
/// `arg` must be 0 or a pointer to what `cmd` expects.
#[inline]
pub unsafe fn vcpu_op(cmd: u32, vcpu: u32, arg: u64) -> Result<u64, XenError> {
    // SAFETY: forwarded contract.
    XenError::check(unsafe { hypercall5(nr::VCPU_OP, cmd as u64, vcpu as u64, arg, 0, 0) })
}

/// `VCPUOP_set_singleshot_timer`: VIRQ_TIMER at absolute system time `abs_ns`. With
/// `future_only`, fails with `ETIME` if the time has passed.
pub fn vcpu_set_singleshot_timer(
    vcpu: u32,
    abs_ns: u64,
    future_only: bool,
) -> Result<(), XenError> {
    let mut a = vc::VcpuSetSingleshotTimer {
        timeout_abs_ns: abs_ns,
        flags: if future_only {
            vc::VCPU_SSHOTTMR_FUTURE
        } else {
            0
        },
    };
    // SAFETY: matching argument structure.
    unsafe { vcpu_op(vc::VCPUOP_SET_SINGLESHOT_TIMER, vcpu, mptr(&mut a)) }.map(|_| ())
}

/// `VCPUOP_stop_periodic_timer` (Xen starts a 10 ms periodic VIRQ_TIMER by default).
pub fn vcpu_stop_periodic_timer(vcpu: u32) -> Result<(), XenError> {
    // SAFETY: takes no argument.
    unsafe { vcpu_op(vc::VCPUOP_STOP_PERIODIC_TIMER, vcpu, 0) }.map(|_| ())
}

/// `VCPUOP_is_up`.
pub fn vcpu_is_up(vcpu: u32) -> Result<bool, XenError> {
    // SAFETY: takes no argument.
    unsafe { vcpu_op(vc::VCPUOP_IS_UP, vcpu, 0) }.map(|r| r != 0)
}

/// `VCPUOP_register_vcpu_info`.
///
/// # Safety
/// The `vcpu_info` location must stay mapped and reserved for Xen for the domain's life.
pub unsafe fn vcpu_register_vcpu_info(vcpu: u32, mfn: Pfn, offset: u32) -> Result<(), XenError> {
    let mut a = vc::VcpuRegisterVcpuInfo {
        mfn,
        offset,
        rsvd: 0,
    };
    // SAFETY: forwarded contract; matching argument structure.
    unsafe { vcpu_op(vc::VCPUOP_REGISTER_VCPU_INFO, vcpu, mptr(&mut a)) }.map(|_| ())
}

/// `HYPERVISOR_set_timer_op`: one-shot VIRQ_TIMER at absolute system time `abs_ns`
/// (0 cancels).
pub fn set_timer_op(abs_ns: u64) -> Result<(), XenError> {
    // SAFETY: no pointers.
    XenError::check(unsafe { hypercall5(nr::SET_TIMER_OP, abs_ns, 0, 0, 0, 0) }).map(|_| ())
}

/// `HYPERVISOR_set_callbacks(event, failsafe, syscall)` (x86_64 form).
///
/// # Safety
/// The addresses must be entry points written for Xen's PV callback frame.
pub unsafe fn set_callbacks(event: u64, failsafe: u64, syscall: u64) -> Result<(), XenError> {
    // SAFETY: forwarded contract.
    XenError::check(unsafe { hypercall5(nr::SET_CALLBACKS, event, failsafe, syscall, 0, 0) })
        .map(|_| ())
}

/// `CALLBACKOP_register`.
///
/// # Safety
/// As for [`set_callbacks`].
pub unsafe fn callback_register(type_: u16, flags: u16, address: u64) -> Result<(), XenError> {
    let mut a = CallbackRegister {
        type_,
        flags,
        address,
    };
    // SAFETY: forwarded contract; matching argument structure.
    unsafe { op2(nr::CALLBACK_OP, CALLBACKOP_REGISTER, &mut a) }.map(|_| ())
}

/// `HYPERVISOR_set_trap_table`: installs the virtual IDT. `table` must end with an
/// all-zero entry (checked).
///
/// # Safety
/// The handlers must be entry points written for Xen's PV exception frame.
pub unsafe fn set_trap_table(table: &[TrapInfo]) -> Result<(), XenError> {
    if table.last().is_none_or(|t| t.address != 0) {
        return Err(XenError::EINVAL);
    }
    // SAFETY: forwarded contract; the table is readable and terminated.
    XenError::check(unsafe { hypercall5(nr::SET_TRAP_TABLE, ptr(&table[0]), 0, 0, 0, 0) })
        .map(|_| ())
}

// ---------------------------------------------------------------------------------------
// xen_version

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

/// `XENVER_get_features`: word `idx` of the `XENFEAT_*` bitmap.
pub fn xen_features(idx: u32) -> Result<u32, XenError> {
    let mut a = abi::version::XenFeatureInfo {
        submap_idx: idx,
        submap: 0,
    };
    // SAFETY: matching argument structure.
    unsafe { op2(nr::XEN_VERSION, abi::version::XENVER_GET_FEATURES, &mut a) }?;
    Ok(a.submap)
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
