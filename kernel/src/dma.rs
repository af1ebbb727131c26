//! DMA-able memory for devices (the NIC): buffers whose machine addresses a device can use.
//! In a PV domain a device sees machine addresses (the IOMMU maps this domain's frames
//! 1:1), so a buffer larger than a page must be machine-contiguous: those come from
//! `mm::make_contiguous` (`XENMEM_exchange`).

use alloc::alloc::{alloc_zeroed, dealloc, Layout};

use xen::abi::PAGE_SIZE;

use crate::mm::{self, MmError};

/// A machine-contiguous, page-aligned, zeroed region.
#[derive(Debug)]
pub struct DmaRegion {
    va: u64,
    mfn: u64,
    order: u32,
}

impl DmaRegion {
    /// Virtual address.
    pub fn va(&self) -> u64 {
        self.va
    }
    /// Machine (= device) address.
    pub fn machine_addr(&self) -> u64 {
        self.mfn << 12
    }
    /// Size in bytes.
    pub fn len(&self) -> usize {
        PAGE_SIZE << self.order
    }
    fn layout(order: u32) -> Layout {
        Layout::from_size_align(PAGE_SIZE << order, PAGE_SIZE).expect("valid DMA layout")
    }
}

/// Allocates `pages` pages (rounded up to a power of two), machine-contiguous.
pub fn alloc(pages: usize) -> Result<DmaRegion, MmError> {
    let order = pages.max(1).next_power_of_two().trailing_zeros();
    let layout = DmaRegion::layout(order);
    // SAFETY: non-zero size; freed in `free` with the same layout.
    let ptr = unsafe { alloc_zeroed(layout) };
    if ptr.is_null() {
        return Err(MmError::BadPfn(0));
    }
    let va = ptr as u64;
    let mfn = if order == 0 {
        mm::virt_to_mfn(va).ok_or(MmError::BadPfn(va >> 12))?
    } else {
        // SAFETY: the pages were just allocated and nothing references them.
        match unsafe { mm::make_contiguous(va, order) } {
            Ok(m) => m,
            Err(e) => {
                // SAFETY: same pointer and layout as the allocation.
                unsafe { dealloc(ptr, layout) };
                return Err(e);
            }
        }
    };
    if order > 0 {
        // The exchanged frames come from Xen's free pool: zero them.
        // SAFETY: the region is mapped RW and ours.
        unsafe { core::ptr::write_bytes(ptr, 0, PAGE_SIZE << order) };
    }
    Ok(DmaRegion { va, mfn, order })
}

/// Returns a region to the heap (its frames stay contiguous, which is harmless).
pub fn free(r: DmaRegion) {
    // SAFETY: allocated by `alloc` with this layout.
    unsafe { dealloc(r.va as *mut u8, DmaRegion::layout(r.order)) };
}

/// Returns a region given by its parts (`va` and the page count passed to [`alloc`]).
///
/// # Safety
/// `va` and `pages` are exactly what one [`alloc`] call returned / was given, and nothing
/// (us or a device) uses the memory any more.
pub unsafe fn free_parts(va: u64, pages: usize) {
    let order = pages.max(1).next_power_of_two().trailing_zeros();
    // SAFETY: forwarded contract: `alloc` used this layout for `va`.
    unsafe { dealloc(va as *mut u8, DmaRegion::layout(order)) };
}
