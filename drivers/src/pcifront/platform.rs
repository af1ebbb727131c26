//! What pcifront needs from the kernel, as two small traits. The kernel implements them
//! with hypercalls and its xenstore client; host tests with a simulated pciback.

use alloc::string::String;
use alloc::vec::Vec;
use core::ptr::NonNull;

use xen::abi::pciif::XenPciSharedinfo;
use xen::abi::{DomId, EvtchnPort, GrantRef};

/// Grants, event channels, a clock and a way to wait.
pub trait FrontPlatform {
    /// Grants domain `backend` read-write access to our shared page (`gnttab` entry on
    /// the page's machine frame). `Err(code)` with the grant status or errno.
    fn grant_page(
        &mut self,
        backend: DomId,
        page: NonNull<XenPciSharedinfo>,
    ) -> Result<GrantRef, i32>;

    /// `EVTCHNOP_alloc_unbound` with `remote_dom = backend`: our local port.
    fn alloc_unbound(&mut self, backend: DomId) -> Result<EvtchnPort, i32>;

    /// `EVTCHNOP_send` on our port.
    fn notify(&mut self, port: EvtchnPort);

    /// Monotonic time in nanoseconds (Xen system time).
    fn now_ns(&mut self) -> u64;

    /// Waits until an event is pending on `port` (then clears it), or until `deadline_ns`
    /// ([`FrontPlatform::now_ns`]'s clock), whichever comes first. With `port == None`
    /// it just sleeps a little (at most until the deadline). Returning early is allowed:
    /// callers re-check their condition and the clock.
    fn wait(&mut self, port: Option<EvtchnPort>, deadline_ns: u64);
}

/// Why a xenstore access failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The node does not exist.
    NotFound,
    /// Anything else (the client's message).
    Other(String),
}

/// The xenstore accesses pcifront makes (no transactions). Paths are absolute, or
/// relative to our domain's home (`device/pci/0/...`).
pub trait Store {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, StoreError>;
    fn write(&mut self, path: &str, value: &[u8]) -> Result<(), StoreError>;
}

impl<D: crate::xenstore::Doorbell> Store for crate::xenstore::XsClient<D> {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, StoreError> {
        crate::xenstore::XsClient::read(self, crate::xenstore::Tx::NONE, path).map_err(store_err)
    }

    fn write(&mut self, path: &str, value: &[u8]) -> Result<(), StoreError> {
        crate::xenstore::XsClient::write(self, crate::xenstore::Tx::NONE, path, value)
            .map_err(store_err)
    }
}

fn store_err(e: crate::xenstore::XsError) -> StoreError {
    if e.is_enoent() {
        StoreError::NotFound
    } else {
        StoreError::Other(alloc::format!("{e}"))
    }
}
