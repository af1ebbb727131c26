//! The hypervisor services netback needs, as small traits. The kernel implements them with
//! hypercalls (grant-table ops, event channels, the xenstore client); host tests implement
//! them with a simulated hypervisor. Nothing in `netback` calls Xen directly.
//!
//! - [`GrantMap`]: map / unmap one granted page of another domain (the shared rings).
//! - [`GrantCopy`]: a batch of grant copies between a foreign grant and local memory.
//! - [`EventChannel`]: bind an inter-domain channel, notify, close.
//! - [`Xenstore`]: read / write / directory / rm / watch / unwatch.
//! - [`Log`]: one log line.
//!
//! [`Hv`] bundles them; implement the five traits on one type and it is an `Hv`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

use xen::abi::{DomId, EvtchnPort, GrantRef, PAGE_SIZE};

/// A hypervisor operation failed (the reason is only logged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HvError {
    /// The negative status or errno the hypervisor returned (informational).
    pub code: i32,
    /// What failed ("map", "bind", ...).
    pub what: &'static str,
}

impl fmt::Display for HvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed ({})", self.what, self.code)
    }
}

/// A foreign page mapped into our address space by [`GrantMap::map_grant`].
#[derive(Debug, PartialEq, Eq)]
pub struct ForeignPage {
    /// Opaque to netback: whatever the implementation needs to unmap (grant handle,
    /// window slot...).
    pub handle: u64,
    /// The mapping: [`PAGE_SIZE`] bytes, readable and writable, 8-aligned.
    pub ptr: NonNull<u8>,
}

/// Maps single granted pages of other domains (read-write).
///
/// # Safety
/// An implementation promises that the page returned by `map_grant` stays mapped,
/// readable and writable for [`PAGE_SIZE`] bytes at an 8-aligned address until it is
/// passed to `unmap_grant`, and that nothing else on our side uses that memory. Netback
/// builds rings on it ([`crate::ring::BackRing`]) relying on that.
pub unsafe trait GrantMap {
    /// Maps grant `gref` of domain `domid`.
    fn map_grant(&mut self, domid: DomId, gref: GrantRef) -> Result<ForeignPage, HvError>;
    /// Unmaps a page returned by `map_grant`. On error the implementation must keep the
    /// mapping's address space reserved (it may still point at the foreign frame).
    fn unmap_grant(&mut self, page: ForeignPage) -> Result<(), HvError>;
}

/// Which way a [`CopyOp`] copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyDir {
    /// From the foreign grant into local memory (guest TX). `GNTCOPY_source_gref`.
    FromGuest,
    /// From local memory into the foreign grant (guest RX). `GNTCOPY_dest_gref`.
    ToGuest,
}

/// One grant copy: `len` bytes between `(domid, gref, gref_offset)` and a local segment.
///
/// The local segment never crosses a [`PAGE_SIZE`] boundary of our virtual address
/// space (so it is inside one machine frame: the kernel translates
/// `local_addr() & !0xfff` to a machine frame number and uses `local_addr() & 0xfff` as
/// the offset), and neither does the foreign side (`gref_offset + len <= PAGE_SIZE`).
/// The op borrows its local memory for `'a`: mutably for [`CopyDir::FromGuest`],
/// shared for [`CopyDir::ToGuest`].
#[derive(Debug)]
pub struct CopyOp<'a> {
    pub dir: CopyDir,
    pub domid: DomId,
    pub gref: GrantRef,
    pub gref_offset: u16,
    local: NonNull<u8>,
    len: u16,
    /// OUT: `GNTST_*` (0 = okay). Set by [`GrantCopy::grant_copy`].
    pub status: i16,
    _borrow: PhantomData<&'a mut [u8]>,
}

impl<'a> CopyOp<'a> {
    /// Local address of the segment.
    pub fn local_addr(&self) -> usize {
        self.local.as_ptr() as usize
    }

    /// Local segment pointer.
    pub fn local_ptr(&self) -> NonNull<u8> {
        self.local
    }

    /// Bytes to copy (1..=PAGE_SIZE).
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Never true: ops are at least one byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Appends the ops copying guest bytes `(gref, offset..offset+dst.len())` into `dst`,
/// split so no local segment crosses a page boundary (at most two ops when
/// `offset + dst.len() <= PAGE_SIZE`). The caller has checked the foreign bounds.
pub(crate) fn push_from_guest<'a>(
    ops: &mut Vec<CopyOp<'a>>,
    domid: DomId,
    gref: GrantRef,
    offset: u16,
    dst: &'a mut [u8],
) {
    push_split(
        ops,
        CopyDir::FromGuest,
        domid,
        gref,
        offset,
        dst.as_mut_ptr(),
        dst.len(),
    );
}

/// Appends the ops copying `src` into the guest's `(gref, offset..)`, split as in
/// [`push_from_guest`].
pub(crate) fn push_to_guest<'a>(
    ops: &mut Vec<CopyOp<'a>>,
    domid: DomId,
    gref: GrantRef,
    offset: u16,
    src: &'a [u8],
) {
    // The pointer is only read through (`ToGuest`), see `GrantCopy`'s contract.
    push_split(
        ops,
        CopyDir::ToGuest,
        domid,
        gref,
        offset,
        src.as_ptr() as *mut u8,
        src.len(),
    );
}

fn push_split<'a>(
    ops: &mut Vec<CopyOp<'a>>,
    dir: CopyDir,
    domid: DomId,
    gref: GrantRef,
    mut offset: u16,
    mut p: *mut u8,
    mut len: usize,
) {
    debug_assert!(offset as usize + len <= PAGE_SIZE);
    while len > 0 {
        let room = PAGE_SIZE - (p as usize % PAGE_SIZE);
        let n = len.min(room);
        if let Some(local) = NonNull::new(p) {
            ops.push(CopyOp {
                dir,
                domid,
                gref,
                gref_offset: offset,
                local,
                len: n as u16,
                status: 0,
                _borrow: PhantomData,
            });
        }
        offset += n as u16;
        p = p.wrapping_add(n);
        len -= n;
    }
}

/// Batched grant copy (`GNTTABOP_copy`).
///
/// # Safety
/// An implementation must, for each op, copy exactly `len()` bytes between the foreign
/// grant and the local segment, write local memory only for [`CopyDir::FromGuest`] ops
/// and only inside `[local_addr(), local_addr() + len())`, and read it only there for
/// [`CopyDir::ToGuest`]; it must check the foreign side (the grant belongs to `domid`, is
/// granted to us, is writable for `ToGuest`) and report each op's `GNTST_*` in `status`.
/// When the hypercall itself fails, every op it covered gets a non-zero status.
/// The kernel should issue the ops in chunks of at least 64 per hypercall.
pub unsafe trait GrantCopy {
    fn grant_copy(&mut self, ops: &mut [CopyOp<'_>]);
}

/// Event channels.
pub trait EventChannel {
    /// `EVTCHNOP_bind_interdomain`: our local port.
    fn bind_interdomain(
        &mut self,
        remote_dom: DomId,
        remote_port: EvtchnPort,
    ) -> Result<EvtchnPort, HvError>;
    /// `EVTCHNOP_send`.
    fn notify(&mut self, port: EvtchnPort);
    /// `EVTCHNOP_close`.
    fn close(&mut self, port: EvtchnPort);
}

/// Why a xenstore operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XsFail {
    /// The node does not exist (`ENOENT`).
    NotFound,
    /// Anything else (logged).
    Other(String),
}

/// The xenstore operations netback uses (outside transactions). Paths are absolute.
pub trait Xenstore {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, XsFail>;
    fn write(&mut self, path: &str, value: &[u8]) -> Result<(), XsFail>;
    fn directory(&mut self, path: &str) -> Result<Vec<String>, XsFail>;
    fn rm(&mut self, path: &str) -> Result<(), XsFail>;
    fn watch(&mut self, path: &str, token: &str) -> Result<(), XsFail>;
    fn unwatch(&mut self, path: &str, token: &str) -> Result<(), XsFail>;
}

impl<D: crate::xenstore::Doorbell> Xenstore for crate::xenstore::XsClient<D> {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, XsFail> {
        crate::xenstore::XsClient::read(self, crate::xenstore::Tx::NONE, path).map_err(xs_fail)
    }
    fn write(&mut self, path: &str, value: &[u8]) -> Result<(), XsFail> {
        crate::xenstore::XsClient::write(self, crate::xenstore::Tx::NONE, path, value)
            .map_err(xs_fail)
    }
    fn directory(&mut self, path: &str) -> Result<Vec<String>, XsFail> {
        crate::xenstore::XsClient::directory(self, crate::xenstore::Tx::NONE, path).map_err(xs_fail)
    }
    fn rm(&mut self, path: &str) -> Result<(), XsFail> {
        crate::xenstore::XsClient::rm(self, crate::xenstore::Tx::NONE, path).map_err(xs_fail)
    }
    fn watch(&mut self, path: &str, token: &str) -> Result<(), XsFail> {
        crate::xenstore::XsClient::watch(self, path, token).map_err(xs_fail)
    }
    fn unwatch(&mut self, path: &str, token: &str) -> Result<(), XsFail> {
        crate::xenstore::XsClient::unwatch(self, path, token).map_err(xs_fail)
    }
}

fn xs_fail(e: crate::xenstore::XsError) -> XsFail {
    if e.is_enoent() {
        XsFail::NotFound
    } else {
        XsFail::Other(alloc::format!("{e}"))
    }
}

/// A log sink (the kernel prints on the Xen console). Lines do not name netback: the
/// sink says where they come from (the kernel's logger target, the simulation's echo).
pub trait Log {
    fn log(&mut self, line: fmt::Arguments<'_>);
}

/// Everything netback needs from the platform.
pub trait Hv: GrantMap + GrantCopy + EventChannel + Xenstore + Log {}
impl<T: GrantMap + GrantCopy + EventChannel + Xenstore + Log> Hv for T {}
