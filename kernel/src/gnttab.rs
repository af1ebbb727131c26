//! Grant tables (v1) for this domain: granting our pages to other domains and revoking
//! them, mapping other domains' grants into windows, and batched grant copies.
// Part of this API serves the netback and NIC glue that build on it (issues 5 and 6).
#![allow(dead_code)]

use alloc::vec::Vec;
use core::ptr::addr_of_mut;
use core::sync::atomic::{fence, AtomicU16, Ordering};

use spin::Mutex;
use xen::abi::grant_table::*;
use xen::abi::{DomId, GrantHandle, GrantRef, PAGE_SIZE};
use xen::hypercall;

use crate::mm::{self, MmError, Window};

/// Grant-table frames we ask Xen for (512 v1 entries each).
const FRAMES: usize = 4;
const ENTRIES_PER_FRAME: usize = PAGE_SIZE / core::mem::size_of::<GrantEntryV1>();
/// Copy ops per `GNTTABOP_copy` hypercall.
pub const COPY_BATCH: usize = 64;

/// Errors of the grant layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantError {
    /// Every grant reference is in use.
    TableFull,
    /// The reference is not one we handed out.
    BadRef(GrantRef),
    /// The other domain still maps or copies the page: try again later.
    StillInUse(GrantRef),
    /// Xen refused the operation (`GNTST_*`).
    Status(i16),
    /// The hypercall itself failed.
    Xen(xen::XenError),
    /// No window to map into.
    Mm(MmError),
}

impl From<MmError> for GrantError {
    fn from(e: MmError) -> Self {
        GrantError::Mm(e)
    }
}
impl From<xen::XenError> for GrantError {
    fn from(e: xen::XenError) -> Self {
        GrantError::Xen(e)
    }
}

struct Table {
    /// Virtual address of each mapped table frame.
    frames: Vec<u64>,
    free: Vec<GrantRef>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);

impl Table {
    fn entry(&self, r: GrantRef) -> Option<*mut GrantEntryV1> {
        let (f, i) = (
            r as usize / ENTRIES_PER_FRAME,
            r as usize % ENTRIES_PER_FRAME,
        );
        self.frames
            .get(f)
            .map(|va| (*va as *mut GrantEntryV1).wrapping_add(i))
    }
}

/// Sets up `FRAMES` grant-table frames and maps them.
pub fn init() -> Result<(), GrantError> {
    let mut mfns = [0u64; FRAMES];
    hypercall::gnttab_setup_table(&mut mfns)?;
    let mut frames = Vec::with_capacity(FRAMES);
    for mfn in mfns {
        let w = mm::window_alloc()?;
        // SAFETY: grant-table frames are Xen's frames for this domain, meant to be
        // mapped writable by it.
        unsafe { mm::map_mfn(&w, mfn, mm::PAGE_RW)? };
        // The window stays mapped for the domain's life: it is never freed.
        frames.push(w.va());
    }
    let total = (FRAMES * ENTRIES_PER_FRAME) as GrantRef;
    let free = (GNTTAB_NR_RESERVED_ENTRIES..total).rev().collect();
    *TABLE.lock() = Some(Table { frames, free });
    Ok(())
}

/// Lets `domid` map or copy our page with machine frame `mfn`.
pub fn grant_access(domid: DomId, mfn: u64, readonly: bool) -> Result<GrantRef, GrantError> {
    let mut guard = TABLE.lock();
    let t = guard.as_mut().ok_or(GrantError::TableFull)?;
    let r = t.free.pop().ok_or(GrantError::TableFull)?;
    let e = t.entry(r).ok_or(GrantError::BadRef(r))?;
    // SAFETY: `e` is inside a mapped grant-table frame; frame and domid are written before
    // the flags that make the entry live, as grant_table.h requires.
    unsafe {
        core::ptr::write_volatile(addr_of_mut!((*e).frame), mfn as u32);
        core::ptr::write_volatile(addr_of_mut!((*e).domid), domid);
        fence(Ordering::Release);
        let flags = GTF_PERMIT_ACCESS | if readonly { GTF_READONLY } else { 0 };
        core::ptr::write_volatile(addr_of_mut!((*e).flags), flags);
    }
    Ok(r)
}

/// Revokes grant `r`. Fails with `StillInUse` while the grantee maps the page (the entry
/// stays live then; call again after it unmapped).
pub fn end_access(r: GrantRef) -> Result<(), GrantError> {
    let mut guard = TABLE.lock();
    let t = guard.as_mut().ok_or(GrantError::BadRef(r))?;
    if r < GNTTAB_NR_RESERVED_ENTRIES || t.free.contains(&r) {
        return Err(GrantError::BadRef(r));
    }
    let e = t.entry(r).ok_or(GrantError::BadRef(r))?;
    // SAFETY: `flags` is a u16 in a mapped grant-table frame that Xen updates with atomic
    // operations; compare-exchange to 0 only if no GTF_reading/GTF_writing is set.
    let flags = unsafe { AtomicU16::from_ptr(addr_of_mut!((*e).flags)) };
    let cur = flags.load(Ordering::Acquire);
    if cur & (GTF_READING | GTF_WRITING) != 0 {
        return Err(GrantError::StillInUse(r));
    }
    if flags
        .compare_exchange(cur, 0, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(GrantError::StillInUse(r));
    }
    t.free.push(r);
    Ok(())
}

/// A foreign page mapped into a window.
#[derive(Debug)]
pub struct ForeignMap {
    window: Window,
    handle: GrantHandle,
}

impl ForeignMap {
    /// Virtual address of the mapped page.
    pub fn va(&self) -> u64 {
        self.window.va()
    }
}

/// Maps `domid`'s grant `r` into a window.
pub fn map(domid: DomId, r: GrantRef, readonly: bool) -> Result<ForeignMap, GrantError> {
    let window = mm::window_alloc()?;
    let mut op = GnttabMapGrantRef {
        host_addr: window.va(),
        flags: GNTMAP_HOST_MAP | if readonly { GNTMAP_READONLY } else { 0 },
        ref_: r,
        dom: domid,
        ..Default::default()
    };
    // SAFETY: the window slot is ours, unmapped, and has its L1 table (window_alloc).
    let res = unsafe { hypercall::gnttab_map_grant_ref(core::slice::from_mut(&mut op)) };
    if let Err(e) = res {
        mm::window_free(window);
        return Err(GrantError::Xen(e));
    }
    if op.status != GNTST_OKAY {
        mm::window_free(window);
        return Err(GrantError::Status(op.status));
    }
    Ok(ForeignMap {
        window,
        handle: op.handle,
    })
}

/// Unmaps a foreign page and frees its window.
pub fn unmap(m: ForeignMap) -> Result<(), GrantError> {
    let mut op = GnttabUnmapGrantRef {
        host_addr: m.window.va(),
        dev_bus_addr: 0,
        handle: m.handle,
        status: 0,
    };
    // SAFETY: the caller gives up the mapping (it is consumed).
    unsafe { hypercall::gnttab_unmap_grant_ref(core::slice::from_mut(&mut op))? };
    if op.status != GNTST_OKAY {
        // The window stays reserved (never freed): its PTE still points at the frame.
        return Err(GrantError::Status(op.status));
    }
    mm::window_free(m.window);
    Ok(())
}

/// Runs grant copies in batches of [`COPY_BATCH`]; each op's `status` says how it went.
///
/// # Safety
/// Local destination frames must be ours and not aliased by live references.
pub unsafe fn copy(ops: &mut [GnttabCopy]) -> Result<(), GrantError> {
    for chunk in ops.chunks_mut(COPY_BATCH) {
        // SAFETY: forwarded contract.
        unsafe { hypercall::gnttab_copy(chunk)? };
    }
    Ok(())
}
