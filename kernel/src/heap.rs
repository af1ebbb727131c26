//! The kernel heap: `linked_list_allocator` over a region in the image's `.bss`.
//!
//! Xen maps the whole loaded image (including `.bss`) before entry, so this region is usable
//! from the first instruction without touching page tables.

use linked_list_allocator::LockedHeap;

/// Size of the boot heap.
pub const HEAP_SIZE: usize = 8 * 1024 * 1024;

#[repr(C, align(4096))]
struct HeapArea([u8; HEAP_SIZE]);

static mut HEAP_AREA: HeapArea = HeapArea([0; HEAP_SIZE]);

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Hands the heap region to the allocator. Call once, before the first allocation.
pub fn init() {
    // SAFETY: called once at boot on the only CPU before any allocation; HEAP_AREA is used
    // by nothing else, so the allocator gets exclusive ownership of it.
    unsafe {
        let start = core::ptr::addr_of_mut!(HEAP_AREA) as *mut u8;
        ALLOCATOR.lock().init(start, HEAP_SIZE);
    }
}

/// `(used, free)` bytes of the heap.
pub fn usage() -> (usize, usize) {
    let heap = ALLOCATOR.lock();
    (heap.used(), heap.free())
}
