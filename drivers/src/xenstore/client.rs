//! A synchronous xenstore client over the ring page, usable before event upcalls exist.
//!
//! One request is in flight at a time: the client writes it, notifies xenstored through
//! the [`Doorbell`], and waits (through the doorbell again) until the reply with its
//! request id arrives. Watch events that arrive meanwhile are queued for
//! [`XsClient::poll_watch`], never lost; replies with another request id (the late reply
//! of a request that timed out) are dropped and counted.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ptr::NonNull;

use xen::abi::xs_wire::{XenstoreDomainInterface, XENSTORE_PAYLOAD_MAX, XENSTORE_RING_SIZE};

use super::ring::XsRing;
use super::wire::{
    self, check_path, encode_request, Header, MsgType, WatchEvent, WireError, XsErrno, HEADER_LEN,
};
use crate::ring::RingError;

/// How the client reaches xenstored's event channel and waits for it.
///
/// The kernel backs it with `EVTCHNOP_send` on `start_info.store_evtchn` and
/// `SCHEDOP_poll` on that port with a short timeout (or `SCHEDOP_yield`), counting down an
/// overall deadline; host tests run a simulated xenstored inside `wait`.
pub trait Doorbell {
    /// Signals xenstored that the request ring has data or the reply ring has space.
    fn notify(&mut self);
    /// Waits a little for xenstored (until an event, a short timeout or a yield).
    /// `Err(Timeout)` once the caller's patience is exhausted: the operation in progress
    /// then fails with [`XsError::Timeout`].
    fn wait(&mut self) -> Result<(), Timeout>;
}

/// The doorbell gave up waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout;

/// A transaction id; [`Tx::NONE`] for operations outside a transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tx(pub u32);

impl Tx {
    /// No transaction.
    pub const NONE: Tx = Tx(0);
}

/// Why an operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XsError {
    /// xenstored answered `XS_ERROR`. `EAGAIN` from `transaction_end` means "redo the
    /// transaction"; `ENOENT` that the node does not exist.
    Errno(XsErrno),
    /// `XS_ERROR` with a string not in `xsd_errors[]`.
    UnknownErrno(String),
    /// A malformed reply, or an unusable argument (path, value too long...).
    Wire(WireError),
    /// The reply's type is neither the request's nor `XS_ERROR`.
    UnexpectedReply { sent: MsgType, got: MsgType },
    /// The ring's indices are impossible; the connection is unusable.
    Ring(RingError),
    /// The doorbell gave up before the reply came.
    Timeout,
    /// An earlier framing, ring or mid-request failure left the byte stream out of sync;
    /// every later call fails with this.
    Broken,
}

impl XsError {
    /// Whether this is xenstored's `EAGAIN` (transaction conflict).
    pub fn is_eagain(&self) -> bool {
        matches!(self, XsError::Errno(XsErrno::EAGAIN))
    }

    /// Whether this is xenstored's `ENOENT`.
    pub fn is_enoent(&self) -> bool {
        matches!(self, XsError::Errno(XsErrno::ENOENT))
    }
}

impl From<WireError> for XsError {
    fn from(e: WireError) -> Self {
        XsError::Wire(e)
    }
}

impl fmt::Display for XsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XsError::Errno(e) => write!(f, "xenstore: {}", e.as_str()),
            XsError::UnknownErrno(s) => write!(f, "xenstore: unknown error {s:?}"),
            XsError::Wire(e) => write!(f, "xenstore: {e}"),
            XsError::UnexpectedReply { sent, got } => {
                write!(f, "xenstore: {got:?} reply to {sent:?}")
            }
            XsError::Ring(e) => write!(f, "xenstore ring: {e:?}"),
            XsError::Timeout => f.write_str("xenstore: timed out"),
            XsError::Broken => f.write_str("xenstore: connection out of sync"),
        }
    }
}

/// Watch events kept at most, in number and in path + token bytes (a guest can make
/// xenstored fire events on a watched subtree as fast as it writes, with paths of up to
/// 3 KiB). Beyond either, the queue is dropped (counted) and replaced by one event per
/// registered watch on its own path when the caller next polls: watches here are
/// level-triggered (the caller re-reads what the path covers), so nothing is lost, and
/// the memory a peer can make us hold is bounded.
pub const MAX_QUEUED_EVENTS: usize = 4096;
/// See [`MAX_QUEUED_EVENTS`].
pub const MAX_QUEUED_EVENT_BYTES: usize = 256 << 10;

/// The client. See the module documentation.
pub struct XsClient<D: Doorbell> {
    ring: XsRing,
    bell: D,
    next_req_id: u32,
    /// Request id we await a reply for.
    pending: Option<u32>,
    reply: Option<(Header, Vec<u8>)>,
    /// Bytes read from the ring not yet forming a whole message.
    inbuf: Vec<u8>,
    events: VecDeque<WatchEvent>,
    /// Path + token bytes of `events`.
    event_bytes: usize,
    /// The queue overflowed: events are dropped until the caller polls, which gets one
    /// event per registered watch instead.
    overflowed: bool,
    /// Registered watches (path, token), for the events that replace an overflowed
    /// queue.
    watches: Vec<(String, String)>,
    broken: bool,
    stale_replies: u64,
    dropped_events: u64,
}

impl<D: Doorbell> XsClient<D> {
    /// A client on the xenstore page.
    ///
    /// # Safety
    /// `page` must point to the mapped xenstore ring page (`start_info.store_mfn`) for the
    /// life of the client, and nothing else on our side may use the page.
    pub unsafe fn new(page: NonNull<XenstoreDomainInterface>, bell: D) -> Self {
        XsClient {
            // SAFETY: forwarded contract.
            ring: unsafe { XsRing::new(page) },
            bell,
            next_req_id: 1,
            pending: None,
            reply: None,
            inbuf: Vec::new(),
            events: VecDeque::new(),
            event_bytes: 0,
            overflowed: false,
            watches: Vec::new(),
            broken: false,
            stale_replies: 0,
            dropped_events: 0,
        }
    }

    /// The doorbell (e.g. to reset its deadline).
    pub fn doorbell(&mut self) -> &mut D {
        &mut self.bell
    }

    /// Replies dropped because their request id was not the one awaited.
    pub fn stale_replies(&self) -> u64 {
        self.stale_replies
    }

    /// Watch events dropped: malformed, or beyond [`MAX_QUEUED_EVENTS`] /
    /// [`MAX_QUEUED_EVENT_BYTES`] (each overflow is resolved by one event per watch).
    pub fn dropped_events(&self) -> u64 {
        self.dropped_events
    }

    /// Whether the connection is out of sync (every call fails with [`XsError::Broken`]).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    // ---- operations ---------------------------------------------------------------

    /// `XS_READ`: the node's value.
    pub fn read(&mut self, tx: Tx, path: &str) -> Result<Vec<u8>, XsError> {
        check_path(path)?;
        self.request(MsgType::Read, tx, &wire::nul_strings(&[path])?)
    }

    /// `XS_READ` of a UTF-8 value.
    pub fn read_string(&mut self, tx: Tx, path: &str) -> Result<String, XsError> {
        String::from_utf8(self.read(tx, path)?).map_err(|_| XsError::Wire(WireError::Malformed))
    }

    /// `XS_WRITE`: creates or replaces the node (and missing parents).
    pub fn write(&mut self, tx: Tx, path: &str, value: &[u8]) -> Result<(), XsError> {
        check_path(path)?;
        let mut p = wire::nul_strings(&[path])?;
        p.extend_from_slice(value);
        let r = self.request(MsgType::Write, tx, &p)?;
        wire::parse_ok(&r).map_err(XsError::from)
    }

    /// `XS_MKDIR`: creates the node (empty value) if missing.
    pub fn mkdir(&mut self, tx: Tx, path: &str) -> Result<(), XsError> {
        self.path_op(MsgType::Mkdir, tx, path)
    }

    /// `XS_RM`: removes the node and its subtree.
    pub fn rm(&mut self, tx: Tx, path: &str) -> Result<(), XsError> {
        self.path_op(MsgType::Rm, tx, path)
    }

    /// `XS_DIRECTORY`: the node's children's names.
    pub fn directory(&mut self, tx: Tx, path: &str) -> Result<Vec<String>, XsError> {
        check_path(path)?;
        let r = self.request(MsgType::Directory, tx, &wire::nul_strings(&[path])?)?;
        wire::parse_directory(&r).map_err(XsError::from)
    }

    /// `XS_GET_DOMAIN_PATH`: `/local/domain/<domid>`.
    pub fn get_domain_path(&mut self, domid: u16) -> Result<String, XsError> {
        let mut buf = [0u8; 6];
        let s = fmt_u32(domid as u32, &mut buf);
        let r = self.request(MsgType::GetDomainPath, Tx::NONE, &wire::nul_strings(&[s])?)?;
        let mut v = wire::split_nul_strings(&r)?;
        if v.len() != 1 || v[0].is_empty() {
            return Err(XsError::Wire(WireError::Malformed));
        }
        Ok(v.remove(0))
    }

    /// `XS_WATCH`: events for `path` and its subtree are reported with `token` by
    /// [`XsClient::poll_watch`]. xenstored fires one event right away.
    pub fn watch(&mut self, path: &str, token: &str) -> Result<(), XsError> {
        self.watch_op(MsgType::Watch, path, token)?;
        if !self.watches.iter().any(|(p, t)| p == path && t == token) {
            self.watches.push((String::from(path), String::from(token)));
        }
        Ok(())
    }

    /// `XS_UNWATCH`. Events already queued stay queued.
    pub fn unwatch(&mut self, path: &str, token: &str) -> Result<(), XsError> {
        self.watches.retain(|(p, t)| !(p == path && t == token));
        self.watch_op(MsgType::Unwatch, path, token)
    }

    /// The next watch event: queued ones first, else whatever the ring holds now. Never
    /// waits.
    pub fn poll_watch(&mut self) -> Result<Option<WatchEvent>, XsError> {
        if let Some(e) = self.pop_event() {
            return Ok(Some(e));
        }
        if self.broken {
            return Err(XsError::Broken);
        }
        self.pump()?;
        Ok(self.pop_event())
    }

    fn pop_event(&mut self) -> Option<WatchEvent> {
        if self.overflowed {
            // Whatever was dropped, each watch's path now says "look again".
            self.overflowed = false;
            for (path, token) in &self.watches {
                self.event_bytes += path.len() + token.len();
                self.events.push_back(WatchEvent {
                    path: path.clone(),
                    token: token.clone(),
                });
            }
        }
        let e = self.events.pop_front()?;
        self.event_bytes -= e.path.len() + e.token.len();
        Some(e)
    }

    /// Events queued now, and their path + token bytes.
    pub fn queued_events(&self) -> (usize, usize) {
        (self.events.len(), self.event_bytes)
    }

    /// The next watch event, waiting through the doorbell until one arrives.
    pub fn wait_watch(&mut self) -> Result<WatchEvent, XsError> {
        loop {
            if let Some(e) = self.poll_watch()? {
                return Ok(e);
            }
            self.bell.wait().map_err(|Timeout| XsError::Timeout)?;
        }
    }

    /// `XS_TRANSACTION_START`.
    pub fn transaction_start(&mut self) -> Result<Tx, XsError> {
        let r = self.request(MsgType::TransactionStart, Tx::NONE, b"\0")?;
        Ok(Tx(wire::parse_tx_id(&r)?))
    }

    /// `XS_TRANSACTION_END`: commits (`commit`) or aborts. A commit that conflicts fails
    /// with `XsError::Errno(XsErrno::EAGAIN)`: redo the transaction from the start.
    pub fn transaction_end(&mut self, tx: Tx, commit: bool) -> Result<(), XsError> {
        let arg: &[u8] = if commit { b"T\0" } else { b"F\0" };
        let r = self.request(MsgType::TransactionEnd, tx, arg)?;
        wire::parse_ok(&r).map_err(XsError::from)
    }

    /// Runs `body` in a transaction and commits it, redoing everything (at most
    /// `max_attempts` times in all) while xenstored answers `EAGAIN`. An error from `body`
    /// aborts the transaction and is returned (an `EAGAIN` from `body` is retried too).
    pub fn transaction<T>(
        &mut self,
        max_attempts: u32,
        mut body: impl FnMut(&mut Self, Tx) -> Result<T, XsError>,
    ) -> Result<T, XsError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let tx = self.transaction_start()?;
            let result = match body(self, tx) {
                Ok(v) => self.transaction_end(tx, true).map(|()| v),
                Err(e) => {
                    if !matches!(e, XsError::Timeout | XsError::Broken | XsError::Ring(_)) {
                        // Best effort: the body's error is what the caller needs.
                        let _ = self.transaction_end(tx, false);
                    }
                    Err(e)
                }
            };
            match result {
                Err(e) if e.is_eagain() && attempt < max_attempts => continue,
                r => return r,
            }
        }
    }

    // ---- machinery ----------------------------------------------------------------

    fn path_op(&mut self, ty: MsgType, tx: Tx, path: &str) -> Result<(), XsError> {
        check_path(path)?;
        let r = self.request(ty, tx, &wire::nul_strings(&[path])?)?;
        wire::parse_ok(&r).map_err(XsError::from)
    }

    fn watch_op(&mut self, ty: MsgType, path: &str, token: &str) -> Result<(), XsError> {
        check_path(path)?;
        let r = self.request(ty, Tx::NONE, &wire::nul_strings(&[path, token])?)?;
        wire::parse_ok(&r).map_err(XsError::from)
    }

    fn fail(&mut self, e: XsError) -> XsError {
        self.broken = true;
        self.pending = None;
        e
    }

    /// Sends one request and waits for its reply's payload.
    fn request(&mut self, ty: MsgType, tx: Tx, payload: &[u8]) -> Result<Vec<u8>, XsError> {
        if self.broken {
            return Err(XsError::Broken);
        }
        if payload.len() > XENSTORE_PAYLOAD_MAX {
            return Err(XsError::Wire(WireError::Oversized(payload.len() as u32)));
        }
        let id = self.next_req_id;
        self.next_req_id = match self.next_req_id.wrapping_add(1) {
            0 => 1,
            n => n,
        };
        let msg = encode_request(ty, id, tx.0, payload)?;
        self.pending = Some(id);
        self.reply = None;

        let mut off = 0;
        while off < msg.len() {
            let n = match self.ring.write(&msg[off..]) {
                Ok(n) => n,
                Err(e) => return Err(self.fail(XsError::Ring(e))),
            };
            off += n;
            if n > 0 {
                self.bell.notify();
                continue;
            }
            // Ring full: keep draining replies so xenstored is never stuck on us.
            self.pump()?;
            if self.bell.wait().is_err() {
                if off > 0 {
                    // Half a request is in the ring: the stream cannot be resynchronised.
                    return Err(self.fail(XsError::Timeout));
                }
                self.pending = None;
                return Err(XsError::Timeout);
            }
        }

        loop {
            self.pump()?;
            if let Some((h, payload)) = self.reply.take() {
                self.pending = None;
                return match h.ty {
                    t if t == ty => Ok(payload),
                    MsgType::Error => Err(match XsErrno::parse(&payload) {
                        Some(e) => XsError::Errno(e),
                        None => XsError::UnknownErrno(
                            String::from_utf8_lossy(
                                payload.strip_suffix(b"\0").unwrap_or(&payload),
                            )
                            .into_owned(),
                        ),
                    }),
                    got => Err(XsError::UnexpectedReply { sent: ty, got }),
                };
            }
            if self.bell.wait().is_err() {
                // The late reply will carry this id and be dropped as stale.
                self.pending = None;
                return Err(XsError::Timeout);
            }
        }
    }

    /// Moves every available reply byte out of the ring and sorts whole messages: watch
    /// events into the queue, the awaited reply into `reply`, anything else dropped.
    fn pump(&mut self) -> Result<(), XsError> {
        let mut buf = [0u8; XENSTORE_RING_SIZE];
        let mut got_any = false;
        loop {
            let n = match self.ring.read(&mut buf) {
                Ok(n) => n,
                Err(e) => return Err(self.fail(XsError::Ring(e))),
            };
            if n == 0 {
                break;
            }
            got_any = true;
            self.inbuf.extend_from_slice(&buf[..n]);
            self.sort_messages()?;
        }
        if got_any {
            // xenstored may be waiting for reply-ring space.
            self.bell.notify();
        }
        Ok(())
    }

    fn sort_messages(&mut self) -> Result<(), XsError> {
        let mut used = 0;
        while self.inbuf.len() - used >= HEADER_LEN {
            let h = match Header::decode(&self.inbuf[used..]) {
                Ok(h) => h,
                Err(e) => return Err(self.fail(XsError::Wire(e))),
            };
            let end = used + HEADER_LEN + h.len as usize;
            if self.inbuf.len() < end {
                break;
            }
            let payload = &self.inbuf[used + HEADER_LEN..end];
            if h.ty == MsgType::WatchEvent {
                match wire::parse_watch_event(payload) {
                    Ok(ev) => {
                        let n = ev.path.len() + ev.token.len();
                        if !self.overflowed
                            && (self.events.len() >= MAX_QUEUED_EVENTS
                                || self.event_bytes + n > MAX_QUEUED_EVENT_BYTES)
                        {
                            self.overflowed = true;
                            self.dropped_events += self.events.len() as u64;
                            self.events = VecDeque::new();
                            self.event_bytes = 0;
                        }
                        if self.overflowed {
                            self.dropped_events += 1;
                        } else {
                            self.event_bytes += n;
                            self.events.push_back(ev);
                        }
                    }
                    Err(_) => self.dropped_events += 1,
                }
            } else if self.pending == Some(h.req_id) && self.reply.is_none() {
                self.reply = Some((h, payload.to_vec()));
            } else {
                self.stale_replies += 1;
            }
            used = end;
        }
        self.inbuf.drain(..used);
        Ok(())
    }
}

/// Formats `v` in decimal into `buf`.
fn fmt_u32(mut v: u32, buf: &mut [u8; 6]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    core::str::from_utf8(&buf[i..]).unwrap_or("0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_domids() {
        let mut b = [0u8; 6];
        assert_eq!(fmt_u32(0, &mut b), "0");
        assert_eq!(fmt_u32(7, &mut b), "7");
        assert_eq!(fmt_u32(65535, &mut b), "65535");
    }
}
