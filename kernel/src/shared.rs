//! The shared info page: mapped once into a window; holds vCPU 0's time info and the
//! 2-level event channel bitmaps.

use core::sync::atomic::{AtomicPtr, Ordering};

use xen::abi::shared_info::SharedInfo;
use xen::abi::start_info::StartInfo;

use crate::mm;

static SHARED_INFO: AtomicPtr<SharedInfo> = AtomicPtr::new(core::ptr::null_mut());

/// Maps `start_info.shared_info` (a machine address) into a window.
pub fn init(si: &StartInfo) -> Result<(), mm::MmError> {
    let w = mm::window_alloc()?;
    // SAFETY: the shared info page is Xen's page for this domain, meant to be mapped RW.
    unsafe { mm::map_mfn(&w, si.shared_info >> 12, mm::PAGE_RW)? };
    // The window stays mapped for the domain's life: it is never freed.
    SHARED_INFO.store(w.va() as *mut SharedInfo, Ordering::Release);
    Ok(())
}

/// Raw pointer to the shared info page; only dereferenced field by field with volatile or
/// atomic accesses, since Xen writes it concurrently.
pub fn ptr() -> *mut SharedInfo {
    let p = SHARED_INFO.load(Ordering::Acquire);
    assert!(!p.is_null(), "shared info used before shared::init");
    p
}
