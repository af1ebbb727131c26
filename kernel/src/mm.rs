//! PV memory: the p2m table, page-table edits through Xen, the heap over all of this
//! domain's memory, and a virtual-address window area for foreign and special mappings.
//!
//! Layout (virtual = pseudo-physical, since the image is linked at 0):
//! - `[0, boot_end)`: what Xen's domain builder mapped: the image, p2m list, `start_info`,
//!   xenstore/console pages, bootstrap page tables, boot stack.
//! - `[boot_end, nr_pages)`: free pseudo-physical pages; we map the part Xen did not, and it
//!   all becomes the main heap.
//! - `[WINDOW_BASE, WINDOW_BASE + WINDOW_PAGES)`: page slots whose PTEs are pointed at
//!   other frames: `shared_info`, grant-table frames, foreign grants (rings).
//!
//! New page-table pages come from a pool in `.bss` (already mapped and zeroed); each is
//! made read-only in our own mapping before it is linked, as Xen requires of PV page tables.
// Part of this API serves the netback and NIC glue that build on it (issues 5 and 6).
#![allow(dead_code)]

use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Mutex;
use xen::abi::mmu::{MmuUpdate, MMU_NORMAL_PT_UPDATE, UVMF_INVLPG};
use xen::abi::start_info::StartInfo;
use xen::abi::PAGE_SIZE;
use xen::hypercall;

const PTE_PRESENT: u64 = 1 << 0;
const PTE_RW: u64 = 1 << 1;
const PTE_USER: u64 = 1 << 2;
const PTE_PWT: u64 = 1 << 3;
const PTE_PCD: u64 = 1 << 4;
const PTE_ACCESSED: u64 = 1 << 5;
const PTE_DIRTY: u64 = 1 << 6;
const PTE_ADDR: u64 = 0x000F_FFFF_FFFF_F000;
/// Flags of a page-directory entry (any level above L1).
const DIR_FLAGS: u64 = PTE_PRESENT | PTE_RW | PTE_USER | PTE_ACCESSED | PTE_DIRTY;
/// Flags of a writable data page.
pub const PAGE_RW: u64 = PTE_PRESENT | PTE_RW | PTE_ACCESSED | PTE_DIRTY;
/// Flags of a read-only data page.
pub const PAGE_RO: u64 = PTE_PRESENT | PTE_ACCESSED;
/// Flags of an uncached writable page (device memory): PCD|PWT select PAT entry 3, which
/// is UC in the PAT Xen sets up for PV guests.
pub const PAGE_RW_UNCACHED: u64 = PAGE_RW | PTE_PCD | PTE_PWT;

/// Page-table pages available for mapping the heap and windows (each L1 covers 2 MiB).
const PT_POOL_PAGES: usize = 96;
/// Start of the window area: far above any pseudo-physical address we map 1:1.
pub const WINDOW_BASE: u64 = 0x40_0000_0000; // 256 GiB
/// Window slots (4 KiB each).
pub const WINDOW_PAGES: usize = 1024;

#[repr(C, align(4096))]
struct PtPool([[u64; 512]; PT_POOL_PAGES]);
static mut PT_POOL: PtPool = PtPool([[0; 512]; PT_POOL_PAGES]);
static PT_POOL_NEXT: AtomicUsize = AtomicUsize::new(0);

/// Errors of the memory layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MmError {
    /// No page-table page left in the pool.
    PtPoolExhausted,
    /// No window slot left.
    NoWindow,
    /// Xen refused a page-table update.
    Xen(xen::XenError),
    /// A pseudo-physical frame outside this domain.
    BadPfn(u64),
}

impl From<xen::XenError> for MmError {
    fn from(e: xen::XenError) -> Self {
        MmError::Xen(e)
    }
}

struct Mm {
    /// The pfn-to-mfn list Xen built (writable by us: we keep it current after exchanges).
    p2m: &'static mut [u64],
    pt_base: u64,
    windows_used: [u64; WINDOW_PAGES / 64],
}

static MM: Mutex<Option<Mm>> = Mutex::new(None);

/// Facts about memory for the banner and counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemInfo {
    pub nr_pages: u64,
    pub boot_end_pfn: u64,
    pub heap_start: u64,
    pub heap_bytes: u64,
}

fn pt_index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * (level - 1))) & 511) as usize
}

/// Virtual address of a page-table page given its entry in the parent table: every page
/// table we use (Xen's bootstrap ones and our pool) is mapped at `pfn << 12`.
fn table_of(entry: u64) -> *mut u64 {
    // SAFETY: the M2P read is for a frame that is one of our page tables.
    let pfn = unsafe { hypercall::mfn_to_pfn((entry & PTE_ADDR) >> 12) };
    (pfn << 12) as *mut u64
}

impl Mm {
    fn pfn_to_mfn(&self, pfn: u64) -> Result<u64, MmError> {
        self.p2m
            .get(pfn as usize)
            .copied()
            .ok_or(MmError::BadPfn(pfn))
    }

    /// A fresh page-table page from the pool, already read-only in our mapping. Returns its
    /// machine frame.
    fn new_table(&self) -> Result<u64, MmError> {
        let i = PT_POOL_NEXT.fetch_add(1, Ordering::Relaxed);
        if i >= PT_POOL_PAGES {
            return Err(MmError::PtPoolExhausted);
        }
        // SAFETY: only the address of the pool entry is taken.
        let va = unsafe { core::ptr::addr_of!(PT_POOL.0[i]) } as u64;
        let mfn = self.pfn_to_mfn(va >> 12)?;
        // SAFETY: the pool page is zeroed `.bss` that nothing references; dropping its
        // writable mapping is what Xen requires before it may become a page table.
        unsafe { hypercall::update_va_mapping(va, (mfn << 12) | PAGE_RO, UVMF_INVLPG)? };
        Ok(mfn)
    }

    /// Machine address of the L1 entry for `va`, creating missing tables on the way.
    fn l1_entry(&self, va: u64) -> Result<u64, MmError> {
        let mut table = self.pt_base as *mut u64;
        let mut table_mfn = self.pfn_to_mfn(self.pt_base >> 12)?;
        for level in (2..=4).rev() {
            let idx = pt_index(va, level);
            // SAFETY: `table` is a mapped page-table page (read-only is enough to read).
            let mut entry = unsafe { core::ptr::read_volatile(table.add(idx)) };
            if entry & PTE_PRESENT == 0 {
                let mfn = self.new_table()?;
                entry = (mfn << 12) | DIR_FLAGS;
                let req = MmuUpdate {
                    ptr: ((table_mfn << 12) + idx as u64 * 8) | MMU_NORMAL_PT_UPDATE,
                    val: entry,
                };
                // SAFETY: links a zeroed, read-only table page into a missing slot.
                unsafe { hypercall::mmu_update(&[req])? };
            }
            table_mfn = (entry & PTE_ADDR) >> 12;
            table = table_of(entry);
        }
        Ok((table_mfn << 12) + pt_index(va, 1) as u64 * 8)
    }

    fn is_mapped(&self, va: u64) -> bool {
        let mut table = self.pt_base as *const u64;
        for level in (1..=4).rev() {
            // SAFETY: `table` is a mapped page-table page.
            let entry = unsafe { core::ptr::read_volatile(table.add(pt_index(va, level))) };
            if entry & PTE_PRESENT == 0 {
                return false;
            }
            if level > 1 {
                table = table_of(entry);
            }
        }
        true
    }
}

/// Maps every page of this domain that Xen did not map and returns the heap region
/// `[start, end)` (virtual), which starts after the boot region.
///
/// # Safety
/// Call once at boot, before the heap is in use, with Xen's `start_info`.
pub unsafe fn init(si: &StartInfo) -> Result<MemInfo, MmError> {
    // SAFETY: Xen maps the p2m list (nr_pages entries, writable) at `mfn_list` for the
    // domain's life; only this module touches it.
    let p2m =
        unsafe { core::slice::from_raw_parts_mut(si.mfn_list as *mut u64, si.nr_pages as usize) };
    let mm = Mm {
        p2m,
        pt_base: si.pt_base,
        windows_used: [0; WINDOW_PAGES / 64],
    };
    // The boot region ends after the bootstrap page tables and the boot stack page.
    let boot_end_pfn = (si.pt_base >> 12) + si.nr_pt_frames + 1;
    let mut pfn = boot_end_pfn;
    while pfn < si.nr_pages && mm.is_mapped(pfn << 12) {
        pfn += 1;
    }
    // Map the rest, a batch of PTE writes at a time (fresh VAs: no TLB flush needed).
    let mut batch = [MmuUpdate::default(); 256];
    let mut n = 0;
    while pfn < si.nr_pages {
        let va = pfn << 12;
        batch[n] = MmuUpdate {
            ptr: mm.l1_entry(va)? | MMU_NORMAL_PT_UPDATE,
            val: (mm.pfn_to_mfn(pfn)? << 12) | PAGE_RW,
        };
        n += 1;
        if n == batch.len() {
            // SAFETY: maps our own frames at their unused 1:1 addresses.
            unsafe { hypercall::mmu_update(&batch[..n])? };
            n = 0;
        }
        pfn += 1;
    }
    if n > 0 {
        // SAFETY: as above.
        unsafe { hypercall::mmu_update(&batch[..n])? };
    }
    let heap_start = boot_end_pfn << 12;
    *MM.lock() = Some(mm);
    Ok(MemInfo {
        nr_pages: si.nr_pages,
        boot_end_pfn,
        heap_start,
        heap_bytes: (si.nr_pages << 12) - heap_start,
    })
}

/// Machine frame of the page at virtual address `va` (heap, image, or boot region).
pub fn virt_to_mfn(va: u64) -> Option<u64> {
    MM.lock()
        .as_ref()
        .and_then(|mm| mm.pfn_to_mfn(va >> 12).ok())
}

/// A window slot: a page-sized virtual address whose mapping we control.
#[derive(Debug)]
pub struct Window {
    va: u64,
}

impl Window {
    /// Virtual address of the slot.
    pub fn va(&self) -> u64 {
        self.va
    }
}

/// Takes a free window slot with its L1 page table in place (ready for a grant map).
pub fn window_alloc() -> Result<Window, MmError> {
    let mut guard = MM.lock();
    let mm = guard.as_mut().ok_or(MmError::NoWindow)?;
    for (w, word) in mm.windows_used.iter_mut().enumerate() {
        if *word != u64::MAX {
            let bit = (!*word).trailing_zeros() as usize;
            let va = WINDOW_BASE + ((w * 64 + bit) * PAGE_SIZE) as u64;
            *word |= 1 << bit;
            let mm_ro = &*mm;
            if let Err(e) = mm_ro.l1_entry(va) {
                mm.windows_used[w] &= !(1 << bit);
                return Err(e);
            }
            return Ok(Window { va });
        }
    }
    Err(MmError::NoWindow)
}

/// Maps `pages` frames of device memory, starting at machine frame `mfn`, uncached at
/// consecutive window slots and returns the virtual address of the first. The mapping is
/// permanent (BARs stay mapped for the domain's life). Xen checks that the toolstack
/// granted us the range (`iomem` permission); a refusal undoes what was mapped.
///
/// # Safety
/// The frames must be device memory we may access (a BAR of a device passed to us): Rust
/// does not own them and only volatile accesses may go through the mapping.
pub unsafe fn map_io(mfn: u64, pages: usize) -> Result<u64, MmError> {
    let mut guard = MM.lock();
    let mm = guard.as_mut().ok_or(MmError::NoWindow)?;
    if pages == 0 || pages > WINDOW_PAGES {
        return Err(MmError::NoWindow);
    }
    let used = |mm: &Mm, slot: usize| mm.windows_used[slot / 64] & (1 << (slot % 64)) != 0;
    let first = (0..=WINDOW_PAGES - pages)
        .find(|&s| (s..s + pages).all(|i| !used(mm, i)))
        .ok_or(MmError::NoWindow)?;
    for slot in first..first + pages {
        mm.windows_used[slot / 64] |= 1 << (slot % 64);
    }
    let base = WINDOW_BASE + (first * PAGE_SIZE) as u64;
    let mut done = 0;
    let mut result = Ok(base);
    for i in 0..pages {
        let va = base + (i * PAGE_SIZE) as u64;
        let r = mm.l1_entry(va).and_then(|_| {
            // SAFETY: a free window slot (ours, nothing references it) pointed at device
            // memory the caller vouches for.
            unsafe {
                hypercall::update_va_mapping(
                    va,
                    ((mfn + i as u64) << 12) | PAGE_RW_UNCACHED,
                    UVMF_INVLPG,
                )
            }
            .map_err(MmError::Xen)
        });
        if let Err(e) = r {
            result = Err(e);
            break;
        }
        done += 1;
    }
    if result.is_err() {
        for i in 0..pages {
            if i < done {
                // SAFETY: undoes a mapping made just above; nothing used it yet.
                let _ = unsafe {
                    hypercall::update_va_mapping(base + (i * PAGE_SIZE) as u64, 0, UVMF_INVLPG)
                };
            }
            let slot = first + i;
            mm.windows_used[slot / 64] &= !(1 << (slot % 64));
        }
    }
    result
}

/// Returns a slot; its mapping must already be gone (grant unmapped or [`unmap`] called).
pub fn window_free(w: Window) {
    let slot = ((w.va - WINDOW_BASE) as usize) / PAGE_SIZE;
    if let Some(mm) = MM.lock().as_mut() {
        mm.windows_used[slot / 64] &= !(1 << (slot % 64));
    }
}

/// Points window `w` at machine frame `mfn` with `flags` (`PAGE_RW`, `PAGE_RO`, ...).
///
/// # Safety
/// The caller must own the frame's contents as far as Rust is concerned (e.g. a frame Xen
/// gives us: shared_info, grant table frames, device memory).
pub unsafe fn map_mfn(w: &Window, mfn: u64, flags: u64) -> Result<(), MmError> {
    // SAFETY: forwarded contract; the slot's L1 exists (window_alloc).
    unsafe { hypercall::update_va_mapping(w.va, (mfn << 12) | flags, UVMF_INVLPG)? };
    Ok(())
}

/// Clears window `w`'s mapping.
///
/// # Safety
/// No reference into the window may be used afterwards.
pub unsafe fn unmap(w: &Window) -> Result<(), MmError> {
    // SAFETY: forwarded contract.
    unsafe { hypercall::update_va_mapping(w.va, 0, UVMF_INVLPG)? };
    Ok(())
}

/// Replaces the machine frames behind `pages` pages at `va` (heap pages we own, mapped
/// 1:1) with one machine-contiguous extent, via `XENMEM_exchange`. Returns the first mfn.
///
/// # Safety
/// `[va, va + pages * 4096)` must be heap pages owned by the caller with no live
/// references into them: their contents are lost.
pub unsafe fn make_contiguous(va: u64, order: u32) -> Result<u64, MmError> {
    let pages = 1usize << order;
    let mut guard = MM.lock();
    let mm = guard.as_mut().ok_or(MmError::BadPfn(0))?;
    let first = va >> 12;
    let mut old = alloc::vec![0u64; pages];
    for (i, m) in old.iter_mut().enumerate() {
        *m = mm.pfn_to_mfn(first + i as u64)?;
        // SAFETY: per the contract nothing references the page; Xen only hands over
        // frames that are not mapped anywhere.
        unsafe { hypercall::update_va_mapping(va + (i * PAGE_SIZE) as u64, 0, UVMF_INVLPG)? };
    }
    let mut out = [0u64; 1];
    // SAFETY: `old` lists frames we own and just unmapped; `out` receives the new extent.
    let res = unsafe { hypercall::memory_exchange(&mut old, 0, &mut out, order, 0) };
    let base = match res {
        Ok(_) => out[0],
        Err((e, _)) => {
            // Nothing was exchanged: map the old frames back.
            for (i, m) in old.iter().enumerate() {
                // SAFETY: restores the mapping we removed above.
                unsafe {
                    hypercall::update_va_mapping(
                        va + (i * PAGE_SIZE) as u64,
                        (m << 12) | PAGE_RW,
                        UVMF_INVLPG,
                    )?
                };
            }
            return Err(MmError::Xen(e));
        }
    };
    for i in 0..pages {
        let (pfn, mfn) = (first + i as u64, base + i as u64);
        let m2p = MmuUpdate {
            ptr: (mfn << 12) | xen::abi::mmu::MMU_MACHPHYS_UPDATE,
            val: pfn,
        };
        // SAFETY: maps the new frames, which Xen just gave us, where the old ones were, and
        // records the new pfn<->mfn pairs in the M2P and our p2m.
        unsafe {
            hypercall::mmu_update(&[m2p])?;
            hypercall::update_va_mapping(
                va + (i * PAGE_SIZE) as u64,
                (mfn << 12) | PAGE_RW,
                UVMF_INVLPG,
            )?;
        }
        mm.p2m[pfn as usize] = mfn;
    }
    Ok(base)
}
