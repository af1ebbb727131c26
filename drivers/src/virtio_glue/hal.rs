//! [`XenHal`]: `virtio_drivers::Hal` for a PV domain, routed to the kernel's
//! [`DmaProvider`].
//!
//! In a PV domain the device sees machine addresses (VT-d maps our frames 1:1 by machine
//! frame), and our pseudo-physically contiguous pages are in general *not* machine
//! contiguous. So:
//! - `dma_alloc` takes machine-contiguous memory from the kernel (`XENMEM_exchange`);
//! - `share` returns the machine address of a buffer when all pages it spans are
//!   machine-contiguous (always so for a buffer inside one page), and otherwise
//!   **bounces** it through a fresh machine-contiguous allocation (copied in for
//!   driver-to-device, copied back and freed in `unshare` for device-to-driver).
//!   `unshare` recognises a bounce because its machine address differs from the
//!   buffer's own, and finds it again with [`DmaProvider::machine_to_virt`]: no state.
//!
//! [`super::Nic`] only ever shares single pages it got from `dma_alloc`, so it never
//! bounces; the bounce path is for other `virtio_drivers` users (indirect descriptor
//! lists, `VirtIONet`'s heap buffers).

use core::marker::PhantomData;
use core::ptr::{self, NonNull};

use virtio_drivers::{BufferDirection, Hal, PhysAddr};
use xen::abi::PAGE_SIZE;

/// What the kernel provides for device DMA and MMIO. Associated functions (no `self`):
/// `virtio_drivers::Hal` is called without an instance, so the kernel implements this on
/// a unit type backed by its global memory manager.
pub trait DmaProvider {
    /// Allocates `pages` zeroed, page-aligned pages that are machine-contiguous; returns
    /// their virtual address and the machine address of the first byte. `None` if out
    /// of memory.
    fn dma_alloc(pages: usize) -> Option<(NonNull<u8>, u64)>;

    /// Frees an allocation of `dma_alloc`.
    ///
    /// # Safety
    /// `va`, `machine` and `pages` are exactly what one `dma_alloc` call returned / was
    /// given, and the memory is no longer used by us or by the device.
    unsafe fn dma_free(va: NonNull<u8>, machine: u64, pages: usize);

    /// The machine address of the byte at virtual address `va` (heap, image, stack or a
    /// DMA allocation), or `None` if `va` is not mapped memory of ours.
    fn virt_to_machine(va: usize) -> Option<u64>;

    /// The virtual address of the byte at machine address `machine`, for memory returned
    /// by `dma_alloc` (M2P lookup), or `None`.
    fn machine_to_virt(machine: u64) -> Option<NonNull<u8>>;

    /// Maps `len` bytes of device memory at machine address `phys` uncached (the BAR
    /// iomem the toolstack granted us) and returns the virtual address of `phys`. May be
    /// called several times for the same range (return the same mapping or a new one);
    /// mappings are never unmapped. `None` if the range cannot be mapped.
    fn map_mmio(phys: u64, len: usize) -> Option<NonNull<u8>>;
}

/// `virtio_drivers::Hal` over a [`DmaProvider`].
pub struct XenHal<D: DmaProvider>(PhantomData<D>);

/// Pages spanned by `len` bytes starting at page offset `off`.
fn pages_spanned(off: usize, len: usize) -> usize {
    (off + len).div_ceil(PAGE_SIZE).max(1)
}

/// The machine address of `[va, va + len)` if every page it touches is
/// machine-contiguous with the first.
pub fn contiguous_machine<D: DmaProvider>(va: usize, len: usize) -> Option<u64> {
    let first = D::virt_to_machine(va)?;
    let off = va % PAGE_SIZE;
    for i in 1..pages_spanned(off, len) {
        let page_va = va - off + i * PAGE_SIZE;
        let want = first.checked_add((page_va - va) as u64)?;
        if D::virt_to_machine(page_va)? != want {
            return None;
        }
    }
    Some(first)
}

// SAFETY: dma_alloc returns zeroed, page-aligned memory from the kernel that aliases
// nothing else; mmio_phys_to_virt returns the kernel's mapping of the granted BAR range;
// share/unshare give the device machine addresses of memory that stays valid until
// unshare (the caller's contract), copying through a private bounce allocation when the
// buffer is not machine-contiguous.
unsafe impl<D: DmaProvider> Hal for XenHal<D> {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        match D::dma_alloc(pages) {
            Some((va, ma)) if ma != 0 => (ma, va),
            // virtio_drivers treats a zero address as allocation failure (DmaError).
            _ => (0, NonNull::dangling()),
        }
    }

    unsafe fn dma_dealloc(paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        // SAFETY: forwarded contract (same values as the allocation).
        unsafe { D::dma_free(vaddr, paddr, pages) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, size: usize) -> NonNull<u8> {
        // `Nic::probe` maps every region virtio_drivers asks for before it asks, so this
        // only fails if the kernel breaks `map_mmio`'s contract.
        D::map_mmio(paddr, size)
            .expect("DmaProvider::map_mmio failed for a region it mapped before")
    }

    unsafe fn share(buffer: NonNull<[u8]>, direction: BufferDirection) -> PhysAddr {
        let va = buffer.as_ptr() as *mut u8 as usize;
        let len = buffer.len();
        if let Some(ma) = contiguous_machine::<D>(va, len) {
            return ma;
        }
        let pages = pages_spanned(0, len);
        let (bva, bma) = D::dma_alloc(pages).expect("out of DMA memory for a bounce buffer");
        if direction != BufferDirection::DeviceToDriver {
            // SAFETY: the caller guarantees `buffer` is valid for reads; the bounce is a
            // fresh allocation of at least `len` bytes.
            unsafe { ptr::copy_nonoverlapping(va as *const u8, bva.as_ptr(), len) };
        }
        bma
    }

    unsafe fn unshare(paddr: PhysAddr, buffer: NonNull<[u8]>, direction: BufferDirection) {
        let va = buffer.as_ptr() as *mut u8 as usize;
        let len = buffer.len();
        if contiguous_machine::<D>(va, len) == Some(paddr) {
            return;
        }
        let bva = D::machine_to_virt(paddr).expect("bounce buffer not found by machine address");
        if direction != BufferDirection::DriverToDevice {
            // SAFETY: the caller guarantees `buffer` is valid for writes; the bounce holds
            // `len` bytes the device wrote.
            unsafe { ptr::copy_nonoverlapping(bva.as_ptr(), va as *mut u8, len) };
        }
        // SAFETY: allocated in `share` with this page count; the device is done with it.
        unsafe { D::dma_free(bva, paddr, pages_spanned(0, len)) };
    }
}

/// A machine-contiguous DMA allocation, freed on drop.
pub struct DmaBuf<D: DmaProvider> {
    va: NonNull<u8>,
    ma: u64,
    pages: usize,
    _d: PhantomData<D>,
}

impl<D: DmaProvider> DmaBuf<D> {
    /// `pages` zeroed pages, or `None`.
    pub fn new(pages: usize) -> Option<Self> {
        let (va, ma) = D::dma_alloc(pages)?;
        Some(DmaBuf {
            va,
            ma,
            pages,
            _d: PhantomData,
        })
    }

    pub fn machine_addr(&self) -> u64 {
        self.ma
    }

    pub fn len(&self) -> usize {
        self.pages * PAGE_SIZE
    }

    pub fn is_empty(&self) -> bool {
        self.pages == 0
    }

    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `dma_alloc` gave us `pages` pages of initialised (zeroed) memory that
        // only this value refers to.
        unsafe { core::slice::from_raw_parts(self.va.as_ptr(), self.len()) }
    }

    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.va.as_ptr(), self.len()) }
    }
}

impl<D: DmaProvider> Drop for DmaBuf<D> {
    fn drop(&mut self) {
        // SAFETY: the values of our `dma_alloc`; the owner (Nic) drops buffers only
        // after the device was reset.
        unsafe { D::dma_free(self.va, self.ma, self.pages) };
    }
}
