//! The netback's view of the hypervisor (`drivers::netback::Hv`), backed by real
//! hypercalls: grant maps into windows, batched grant copies, inter-domain event channels,
//! the xenstore client, and the console log.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ptr::NonNull;

use drivers::netback::hv::{CopyDir, CopyOp, ForeignPage, GrantCopy, GrantMap, HvError, Log};
use drivers::netback::{EventChannel, Xenstore, XsFail};
use xen::abi::grant_table::{GnttabCopy, GnttabCopyPtr, GNTCOPY_DEST_GREF, GNTCOPY_SOURCE_GREF};
use xen::abi::{DomId, EvtchnPort, GrantRef, DOMID_SELF};
use xen::hypercall;

use crate::gnttab::{self, ForeignMap, COPY_BATCH};
use crate::{mm, xs};

/// Hypercall-backed implementation of the netback's traits.
#[derive(Default)]
pub struct KernelHv {
    maps: BTreeMap<u64, ForeignMap>,
    next_handle: u64,
    /// Grant copies issued and failed, for counters.
    pub copies: u64,
    pub copy_failures: u64,
}

fn hv_err(what: &'static str, code: i32) -> HvError {
    HvError { code, what }
}

// SAFETY: `map_grant` returns a pointer to a whole 4 KiB page that stays mapped until
// `unmap_grant` consumes its handle; handles are unique.
unsafe impl GrantMap for KernelHv {
    fn map_grant(&mut self, domid: DomId, gref: GrantRef) -> Result<ForeignPage, HvError> {
        let m = gnttab::map(domid, gref, false).map_err(|e| match e {
            gnttab::GrantError::Status(s) => hv_err("grant map", s as i32),
            _ => hv_err("grant map", -1),
        })?;
        let ptr = NonNull::new(m.va() as *mut u8).ok_or(hv_err("grant map", -1))?;
        self.next_handle += 1;
        self.maps.insert(self.next_handle, m);
        Ok(ForeignPage {
            handle: self.next_handle,
            ptr,
        })
    }

    fn unmap_grant(&mut self, page: ForeignPage) -> Result<(), HvError> {
        let m = self
            .maps
            .remove(&page.handle)
            .ok_or(hv_err("grant unmap (unknown handle)", -1))?;
        gnttab::unmap(m).map_err(|_| hv_err("grant unmap", -1))
    }
}

// SAFETY: every op's local segment lies within one page of memory the caller lent us for
// the call (CopyOp's borrow); we hand Xen that page's machine frame and offset.
unsafe impl GrantCopy for KernelHv {
    fn grant_copy(&mut self, ops: &mut [CopyOp<'_>]) {
        let mut batch: Vec<GnttabCopy> = Vec::with_capacity(COPY_BATCH);
        for chunk in ops.chunks_mut(COPY_BATCH) {
            batch.clear();
            for op in chunk.iter() {
                let addr = op.local_addr() as u64;
                let mfn = mm::virt_to_mfn(addr & !0xfff).unwrap_or(0);
                let local = GnttabCopyPtr::frame(DOMID_SELF, mfn, (addr & 0xfff) as u16);
                let remote = GnttabCopyPtr::gref(op.domid, op.gref, op.gref_offset);
                let (source, dest, flags) = match op.dir {
                    CopyDir::FromGuest => (remote, local, GNTCOPY_SOURCE_GREF),
                    CopyDir::ToGuest => (local, remote, GNTCOPY_DEST_GREF),
                };
                batch.push(GnttabCopy {
                    source,
                    dest,
                    len: op.len() as u16,
                    flags,
                    status: 0,
                });
            }
            // SAFETY: local frames are the caller's lent buffers (see the impl's SAFETY).
            let ok = unsafe { gnttab::copy(&mut batch) }.is_ok();
            self.copies += chunk.len() as u64;
            for (op, c) in chunk.iter_mut().zip(batch.iter()) {
                op.status = if ok { c.status } else { -1 };
                if op.status != 0 {
                    self.copy_failures += 1;
                }
            }
        }
    }
}

impl EventChannel for KernelHv {
    fn bind_interdomain(
        &mut self,
        remote_dom: DomId,
        remote_port: EvtchnPort,
    ) -> Result<EvtchnPort, HvError> {
        hypercall::evtchn_bind_interdomain(remote_dom, remote_port)
            .map_err(|e| hv_err("bind_interdomain", -e.0))
    }
    fn notify(&mut self, port: EvtchnPort) {
        hypercall::evtchn_send(port);
    }
    fn close(&mut self, port: EvtchnPort) {
        let _ = hypercall::evtchn_close(port);
    }
}

impl Xenstore for KernelHv {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, XsFail> {
        xs::with(|x| Xenstore::read(x, path))
    }
    fn write(&mut self, path: &str, value: &[u8]) -> Result<(), XsFail> {
        xs::with(|x| Xenstore::write(x, path, value))
    }
    fn directory(&mut self, path: &str) -> Result<Vec<String>, XsFail> {
        xs::with(|x| Xenstore::directory(x, path))
    }
    fn rm(&mut self, path: &str) -> Result<(), XsFail> {
        xs::with(|x| Xenstore::rm(x, path))
    }
    fn watch(&mut self, path: &str, token: &str) -> Result<(), XsFail> {
        xs::with(|x| Xenstore::watch(x, path, token))
    }
    fn unwatch(&mut self, path: &str, token: &str) -> Result<(), XsFail> {
        xs::with(|x| Xenstore::unwatch(x, path, token))
    }
}

impl Log for KernelHv {
    fn log(&mut self, line: fmt::Arguments<'_>) {
        log::info!(target: "netback", "{line}");
    }
}
