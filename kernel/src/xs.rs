//! The kernel's xenstore connection: `drivers::xenstore::XsClient` over the store page from
//! `start_info`, with a doorbell backed by the store event channel and `SCHEDOP_poll`.

use core::ptr::NonNull;

use drivers::xenstore::{Doorbell, Timeout, XsClient};
use spin::Mutex;
use xen::abi::start_info::StartInfo;
use xen::abi::xs_wire::XenstoreDomainInterface;
use xen::abi::{EvtchnPort, PAGE_SHIFT};
use xen::hypercall;

use crate::{events, time};

/// How long one request may wait for xenstored's reply.
const REQUEST_TIMEOUT_NS: u64 = 5_000_000_000;
/// Longest single sleep while waiting (bounds the damage of a lost notification).
const POLL_SLICE_NS: u64 = 20_000_000;

/// Notifies xenstored over the store event channel; waits by polling that channel.
pub struct StoreBell {
    port: EvtchnPort,
    deadline_ns: u64,
}

impl StoreBell {
    /// The store event channel.
    pub fn port(&self) -> EvtchnPort {
        self.port
    }
}

impl Doorbell for StoreBell {
    fn notify(&mut self) {
        // Each request starts with a notify: its reply gets a fresh time budget.
        self.deadline_ns = time::now_ns() + REQUEST_TIMEOUT_NS;
        hypercall::evtchn_send(self.port);
    }

    fn wait(&mut self) -> Result<(), Timeout> {
        let now = time::now_ns();
        if now >= self.deadline_ns {
            return Err(Timeout);
        }
        if !events::take_pending(self.port) {
            let until = (now + POLL_SLICE_NS).min(self.deadline_ns);
            let _ = hypercall::sched_poll(&[self.port], until);
            events::take_pending(self.port);
        }
        Ok(())
    }
}

/// The xenstore connection, once `init` ran.
pub static XS: Mutex<Option<XsClient<StoreBell>>> = Mutex::new(None);

/// Connects to xenstore through the page and channel Xen put in `start_info`.
pub fn init(si: &StartInfo) {
    // SAFETY: the store page is this domain's own frame inside the boot mapping (virtual =
    // pseudo-physical); reading the M2P for it is always allowed.
    let pfn = unsafe { hypercall::mfn_to_pfn(si.store_mfn) };
    let page = NonNull::new((pfn << PAGE_SHIFT) as *mut XenstoreDomainInterface)
        .expect("xenstore page at 0");
    let bell = StoreBell {
        port: si.store_evtchn,
        deadline_ns: 0,
    };
    // SAFETY: the page is mapped for the domain's life and this is its only client.
    *XS.lock() = Some(unsafe { XsClient::new(page, bell) });
}

/// Runs `f` with the xenstore client.
pub fn with<T>(f: impl FnOnce(&mut XsClient<StoreBell>) -> T) -> T {
    let mut guard = XS.lock();
    f(guard.as_mut().expect("xenstore used before xs::init"))
}
