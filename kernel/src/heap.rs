//! The kernel heap: `linked_list_allocator` over all of this domain's free memory, which
//! `mm::init` maps (from the end of the boot region to `nr_pages`).

use linked_list_allocator::LockedHeap;

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Hands `[start, start + size)` to the allocator. Call once, before the first allocation.
///
/// # Safety
/// The region must be mapped, writable, and used by nothing else for the domain's life.
pub unsafe fn init(start: u64, size: u64) {
    // SAFETY: forwarded contract; the allocator gets exclusive ownership of the region.
    unsafe { ALLOCATOR.lock().init(start as *mut u8, size as usize) };
}

/// `(used, free)` bytes of the heap.
pub fn usage() -> (usize, usize) {
    let heap = ALLOCATOR.lock();
    (heap.used(), heap.free())
}
