//! `io/ring.h` shared request/response rings: the front and back halves' private indices
//! and the index arithmetic, over a shared page given as a raw pointer.
//!
//! A ring page is a 64-byte [`SringHeader`] followed by `nr_ents` slots, each a
//! [`Slot`] union of the request and response types (`nr_ents` is what ring.h's
//! `__RING_SIZE` computes: the slots that fit, rounded down to a power of two). The peer
//! writes the same page at any time, so:
//! - every shared index is read once (volatile) into a local and validated before use;
//!   a producer index that claims more entries than the ring can hold (or runs backwards)
//!   is a [`RingError::Corrupt`], never trusted;
//! - every request or response is copied out of its slot once (`RING_COPY_REQUEST`), and
//!   the caller works on the copy;
//! - all indices are free-running `u32`s; only `idx & (nr_ents - 1)` selects a slot.
//!
//! Ordering follows ring.h: a write barrier before publishing a producer index, a read
//! barrier after reading one and before reading the slots it covers, and a full barrier
//! between publishing and reading the peer's event index. On x86 the first two are
//! compiler barriers and the last an `mfence`.

use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::ptr::{addr_of, addr_of_mut, NonNull};
use core::sync::atomic::{fence, Ordering};

use xen::abi::netif;
use xen::abi::ring::{ring_entries, RingIdx, SringHeader, SRING_HEADER_SIZE};

/// Ring entry types: plain data for which every bit pattern is a valid value, so a slot
/// copied out of shared memory is always a valid `Self` whatever the peer wrote.
///
/// # Safety
/// Implement only for `#[repr(C)]` types made of integers (and arrays/unions of them).
pub unsafe trait Pod: Copy {}

// SAFETY: integers, and `#[repr(C)]` structs/unions of integers.
unsafe impl Pod for u8 {}
// SAFETY: as above.
unsafe impl Pod for u16 {}
// SAFETY: as above.
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for u64 {}
// SAFETY: as above.
unsafe impl Pod for netif::NetifTxRequest {}
// SAFETY: as above.
unsafe impl Pod for netif::NetifTxResponse {}
// SAFETY: as above.
unsafe impl Pod for netif::NetifRxRequest {}
// SAFETY: as above.
unsafe impl Pod for netif::NetifRxResponse {}
// SAFETY: as above.
unsafe impl Pod for netif::NetifExtraInfo {}
// SAFETY: as above.
unsafe impl Pod for netif::XenNetifCtrlRequest {}
// SAFETY: as above.
unsafe impl Pod for netif::XenNetifCtrlResponse {}

/// One ring slot: `union NAME_sring_entry`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union Slot<Req: Pod, Rsp: Pod> {
    pub req: Req,
    pub rsp: Rsp,
}

/// What can go wrong on a shared ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// The peer's index is impossible (`what` names it); the ring must be torn down.
    Corrupt {
        what: &'static str,
        peer: RingIdx,
        ours: RingIdx,
    },
    /// No free slot for a request.
    Full,
    /// A response was pushed with no consumed, unanswered request to answer.
    NoRequest,
    /// The page is too small, or misaligned, for even one slot.
    BadGeometry,
}

/// Access to a shared ring page (`struct NAME_sring`).
struct Sring<Req: Pod, Rsp: Pod> {
    base: NonNull<u8>,
    nr_ents: u32,
    _types: PhantomData<(Req, Rsp)>,
}

impl<Req: Pod, Rsp: Pod> Sring<Req, Rsp> {
    /// # Safety
    /// See [`FrontRing::init`].
    unsafe fn new(page: NonNull<u8>, bytes: usize) -> Result<Self, RingError> {
        let nr_ents = ring_entries(bytes, size_of::<Slot<Req, Rsp>>());
        let align = align_of::<Slot<Req, Rsp>>().max(align_of::<SringHeader>());
        if nr_ents == 0 || !(page.as_ptr() as usize).is_multiple_of(align) {
            return Err(RingError::BadGeometry);
        }
        Ok(Sring {
            base: page,
            nr_ents,
            _types: PhantomData,
        })
    }

    fn hdr(&self) -> *mut SringHeader {
        self.base.as_ptr().cast()
    }

    fn slot(&self, idx: RingIdx) -> *mut Slot<Req, Rsp> {
        let i = (idx & (self.nr_ents - 1)) as usize;
        // SAFETY: `i < nr_ents`, and `nr_ents` slots fit after the header (`new`).
        unsafe {
            self.base
                .as_ptr()
                .add(SRING_HEADER_SIZE)
                .cast::<Slot<Req, Rsp>>()
                .add(i)
        }
    }
}

macro_rules! shared_get {
    ($s:expr, $field:ident) => {
        // SAFETY: the header is inside the page (`Sring::new`); volatile because the peer
        // writes it concurrently.
        unsafe { core::ptr::read_volatile(addr_of!((*$s.hdr()).$field)) }
    };
}

macro_rules! shared_set {
    ($s:expr, $field:ident, $v:expr) => {
        // SAFETY: as for `shared_get`.
        unsafe { core::ptr::write_volatile(addr_of_mut!((*$s.hdr()).$field), $v) }
    };
}

/// The frontend half: produces requests, consumes responses.
pub struct FrontRing<Req: Pod, Rsp: Pod> {
    s: Sring<Req, Rsp>,
    req_prod_pvt: RingIdx,
    /// The last `req_prod` we published (the backend may answer up to here).
    req_prod_pushed: RingIdx,
    rsp_cons: RingIdx,
}

// SAFETY: the ring is plain shared memory; the owner serialises access on our side.
unsafe impl<Req: Pod + Send, Rsp: Pod + Send> Send for FrontRing<Req, Rsp> {}

impl<Req: Pod, Rsp: Pod> FrontRing<Req, Rsp> {
    /// Initialises the shared page (`SHARED_RING_INIT`) and attaches at index 0.
    ///
    /// # Safety
    /// `page` must be valid for reads and writes of `bytes` bytes for the life of the
    /// ring and shared only with the peer (alignment is checked: a misaligned or too
    /// small page is [`RingError::BadGeometry`]). Whatever the peer writes, this side
    /// only reads and writes inside the page.
    pub unsafe fn init(page: NonNull<u8>, bytes: usize) -> Result<Self, RingError> {
        // SAFETY: forwarded contract.
        let r = unsafe { Self::attach(page, bytes, 0) }?;
        // SAFETY: the header is inside the page.
        unsafe { core::ptr::write_volatile(r.s.hdr(), SringHeader::default()) };
        Ok(r)
    }

    /// Attaches to an initialised page whose indices are at `idx` (`FRONT_RING_ATTACH`).
    ///
    /// # Safety
    /// As for [`FrontRing::init`].
    pub unsafe fn attach(page: NonNull<u8>, bytes: usize, idx: RingIdx) -> Result<Self, RingError> {
        // SAFETY: forwarded contract.
        let s = unsafe { Sring::new(page, bytes) }?;
        Ok(FrontRing {
            s,
            req_prod_pvt: idx,
            req_prod_pushed: idx,
            rsp_cons: idx,
        })
    }

    /// Number of slots (`RING_SIZE`).
    pub fn size(&self) -> u32 {
        self.s.nr_ents
    }

    /// Private request producer index.
    pub fn req_prod_pvt(&self) -> RingIdx {
        self.req_prod_pvt
    }

    /// Response consumer index.
    pub fn rsp_cons(&self) -> RingIdx {
        self.rsp_cons
    }

    /// `RING_FREE_REQUESTS`.
    pub fn free_requests(&self) -> u32 {
        self.s.nr_ents - self.req_prod_pvt.wrapping_sub(self.rsp_cons)
    }

    /// `RING_FULL`.
    pub fn is_full(&self) -> bool {
        self.free_requests() == 0
    }

    /// Writes `req` into the next free slot (not yet visible to the backend).
    pub fn put_request(&mut self, req: Req) -> Result<(), RingError> {
        if self.is_full() {
            return Err(RingError::Full);
        }
        let slot = self.s.slot(self.req_prod_pvt);
        // SAFETY: the slot is inside the page and owned by us until published.
        unsafe { core::ptr::write_volatile(addr_of_mut!((*slot).req), req) };
        self.req_prod_pvt = self.req_prod_pvt.wrapping_add(1);
        Ok(())
    }

    /// `RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`: publishes the requests put so far; returns
    /// whether the backend asked to be notified.
    pub fn push_requests_and_check_notify(&mut self) -> bool {
        let old = self.req_prod_pushed;
        let new = self.req_prod_pvt;
        fence(Ordering::Release);
        shared_set!(self.s, req_prod, new);
        fence(Ordering::SeqCst);
        self.req_prod_pushed = new;
        let event: RingIdx = shared_get!(self.s, req_event);
        new.wrapping_sub(event) < new.wrapping_sub(old)
    }

    /// Responses available, after checking that the backend's `rsp_prod` only covers
    /// requests we published.
    pub fn unconsumed_responses(&self) -> Result<u32, RingError> {
        let prod: RingIdx = shared_get!(self.s, rsp_prod);
        let avail = prod.wrapping_sub(self.rsp_cons);
        if avail > self.req_prod_pushed.wrapping_sub(self.rsp_cons) {
            return Err(RingError::Corrupt {
                what: "rsp_prod",
                peer: prod,
                ours: self.rsp_cons,
            });
        }
        Ok(avail)
    }

    /// Copies out the next response, if any.
    pub fn next_response(&mut self) -> Result<Option<Rsp>, RingError> {
        if self.unconsumed_responses()? == 0 {
            return Ok(None);
        }
        fence(Ordering::Acquire);
        let slot = self.s.slot(self.rsp_cons);
        // SAFETY: inside the page; the backend published this slot; any bit pattern is a
        // valid `Rsp` (`Pod`).
        let rsp = unsafe { core::ptr::read_volatile(addr_of!((*slot).rsp)) };
        self.rsp_cons = self.rsp_cons.wrapping_add(1);
        Ok(Some(rsp))
    }

    /// `RING_FINAL_CHECK_FOR_RESPONSES`: asks for a notification on the next response and
    /// re-checks, so no response can slip in unnoticed.
    pub fn final_check_for_responses(&mut self) -> Result<bool, RingError> {
        if self.unconsumed_responses()? > 0 {
            return Ok(true);
        }
        shared_set!(self.s, rsp_event, self.rsp_cons.wrapping_add(1));
        fence(Ordering::SeqCst);
        Ok(self.unconsumed_responses()? > 0)
    }
}

/// The backend half: consumes requests, produces responses.
pub struct BackRing<Req: Pod, Rsp: Pod> {
    s: Sring<Req, Rsp>,
    rsp_prod_pvt: RingIdx,
    /// The last `rsp_prod` we published.
    rsp_prod_pushed: RingIdx,
    req_cons: RingIdx,
}

// SAFETY: as for `FrontRing`.
unsafe impl<Req: Pod + Send, Rsp: Pod + Send> Send for BackRing<Req, Rsp> {}

impl<Req: Pod, Rsp: Pod> BackRing<Req, Rsp> {
    /// Attaches at index 0 (`BACK_RING_INIT`): for a page the frontend just initialised.
    ///
    /// # Safety
    /// As for [`FrontRing::init`].
    pub unsafe fn init(page: NonNull<u8>, bytes: usize) -> Result<Self, RingError> {
        // SAFETY: forwarded contract.
        unsafe { Self::attach_at(page, bytes, 0) }
    }

    /// Attaches where the shared page says the backend is (`rsp_prod`), as Linux netback
    /// does on (re)connection, and rejects a page whose `req_prod` is more than a ring
    /// ahead of it.
    ///
    /// # Safety
    /// As for [`FrontRing::init`].
    pub unsafe fn attach(page: NonNull<u8>, bytes: usize) -> Result<Self, RingError> {
        // SAFETY: forwarded contract.
        let s = unsafe { Sring::<Req, Rsp>::new(page, bytes) }?;
        let rsp_prod: RingIdx = shared_get!(s, rsp_prod);
        // SAFETY: forwarded contract.
        let r = unsafe { Self::attach_at(page, bytes, rsp_prod) }?;
        r.unconsumed_requests()?;
        Ok(r)
    }

    /// Attaches with both private indices at `idx` (`BACK_RING_ATTACH`).
    ///
    /// # Safety
    /// As for [`FrontRing::init`].
    pub unsafe fn attach_at(
        page: NonNull<u8>,
        bytes: usize,
        idx: RingIdx,
    ) -> Result<Self, RingError> {
        // SAFETY: forwarded contract.
        let s = unsafe { Sring::new(page, bytes) }?;
        Ok(BackRing {
            s,
            rsp_prod_pvt: idx,
            rsp_prod_pushed: idx,
            req_cons: idx,
        })
    }

    /// Number of slots (`RING_SIZE`).
    pub fn size(&self) -> u32 {
        self.s.nr_ents
    }

    /// Request consumer index.
    pub fn req_cons(&self) -> RingIdx {
        self.req_cons
    }

    /// Private response producer index.
    pub fn rsp_prod_pvt(&self) -> RingIdx {
        self.rsp_prod_pvt
    }

    /// Requests consumed but not yet answered.
    pub fn unanswered(&self) -> u32 {
        self.req_cons.wrapping_sub(self.rsp_prod_pvt)
    }

    /// `RING_HAS_UNCONSUMED_REQUESTS` with the hostile-peer check: the frontend's
    /// `req_prod` may be at most one ring ahead of our responses
    /// (`RING_REQUEST_PROD_OVERFLOW`) and never behind our consumer.
    pub fn unconsumed_requests(&self) -> Result<u32, RingError> {
        let prod: RingIdx = shared_get!(self.s, req_prod);
        let outstanding = prod.wrapping_sub(self.rsp_prod_pvt);
        if outstanding > self.s.nr_ents || outstanding < self.unanswered() {
            return Err(RingError::Corrupt {
                what: "req_prod",
                peer: prod,
                ours: self.req_cons,
            });
        }
        Ok(prod.wrapping_sub(self.req_cons))
    }

    /// Copies out the next request, if any.
    pub fn next_request(&mut self) -> Result<Option<Req>, RingError> {
        if self.unconsumed_requests()? == 0 {
            return Ok(None);
        }
        fence(Ordering::Acquire);
        let slot = self.s.slot(self.req_cons);
        // SAFETY: inside the page; the frontend published this slot; any bit pattern is a
        // valid `Req` (`Pod`).
        let req = unsafe { core::ptr::read_volatile(addr_of!((*slot).req)) };
        self.req_cons = self.req_cons.wrapping_add(1);
        Ok(Some(req))
    }

    /// Writes a response into the slot of the oldest unanswered request (not yet visible
    /// to the frontend).
    pub fn put_response(&mut self, rsp: Rsp) -> Result<(), RingError> {
        if self.unanswered() == 0 {
            return Err(RingError::NoRequest);
        }
        let slot = self.s.slot(self.rsp_prod_pvt);
        // SAFETY: inside the page; the slot's request was consumed, so it is ours.
        unsafe { core::ptr::write_volatile(addr_of_mut!((*slot).rsp), rsp) };
        self.rsp_prod_pvt = self.rsp_prod_pvt.wrapping_add(1);
        Ok(())
    }

    /// `RING_PUSH_RESPONSES_AND_CHECK_NOTIFY`: publishes the responses put so far;
    /// returns whether the frontend asked to be notified.
    pub fn push_responses_and_check_notify(&mut self) -> bool {
        let old = self.rsp_prod_pushed;
        let new = self.rsp_prod_pvt;
        fence(Ordering::Release);
        shared_set!(self.s, rsp_prod, new);
        fence(Ordering::SeqCst);
        self.rsp_prod_pushed = new;
        let event: RingIdx = shared_get!(self.s, rsp_event);
        new.wrapping_sub(event) < new.wrapping_sub(old)
    }

    /// `RING_FINAL_CHECK_FOR_REQUESTS`: asks for a notification on the next request and
    /// re-checks, so no request can slip in unnoticed.
    pub fn final_check_for_requests(&mut self) -> Result<bool, RingError> {
        self.final_check_for_at_least(1)
    }

    /// Like [`Self::final_check_for_requests`] for a consumer that needs `n` requests at
    /// once (a frame spanning `n` slots): asks to be notified when the frontend's index
    /// reaches `req_cons + n`; whether `n` are there now.
    pub fn final_check_for_at_least(&mut self, n: u32) -> Result<bool, RingError> {
        let n = n.max(1);
        if self.unconsumed_requests()? >= n {
            return Ok(true);
        }
        shared_set!(self.s, req_event, self.req_cons.wrapping_add(n));
        fence(Ordering::SeqCst);
        Ok(self.unconsumed_requests()? >= n)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;
    use std::vec::Vec;
    use xen::abi::netif::{NetifTxRequest, NetifTxResponse, NET_TX_RING_SIZE};
    use xen::abi::PAGE_SIZE;

    type Front = FrontRing<NetifTxRequest, NetifTxResponse>;
    type Back = BackRing<NetifTxRequest, NetifTxResponse>;

    struct Page(Vec<u64>);
    impl Page {
        fn new() -> Self {
            Page(vec![0u64; PAGE_SIZE / 8])
        }
        fn ptr(&mut self) -> NonNull<u8> {
            NonNull::new(self.0.as_mut_ptr().cast()).unwrap()
        }
        fn hdr(&mut self) -> &mut SringHeader {
            // SAFETY: the page starts with the header; test-only exclusive access.
            unsafe { &mut *self.ptr().as_ptr().cast::<SringHeader>() }
        }
    }

    fn req(id: u16) -> NetifTxRequest {
        NetifTxRequest {
            gref: id as u32 + 1000,
            offset: 0,
            flags: 0,
            id,
            size: 60,
        }
    }

    fn pair_at(pg: &mut Page, idx: u32) -> (Front, Back) {
        let h = pg.hdr();
        *h = SringHeader::default();
        h.req_prod = idx;
        h.rsp_prod = idx;
        // SAFETY: the page outlives the rings in each test.
        unsafe {
            (
                Front::attach(pg.ptr(), PAGE_SIZE, idx).unwrap(),
                Back::attach(pg.ptr(), PAGE_SIZE).unwrap(),
            )
        }
    }

    #[test]
    fn geometry_matches_ring_h() {
        let mut pg = Page::new();
        // SAFETY: as in `pair_at`.
        let f = unsafe { Front::init(pg.ptr(), PAGE_SIZE) }.unwrap();
        assert_eq!(f.size(), NET_TX_RING_SIZE);
        assert_eq!(pg.hdr().req_event, 1);
        assert_eq!(pg.hdr().rsp_event, 1);
        // SAFETY: as above; too small and misaligned pages are refused.
        unsafe {
            assert_eq!(
                Front::init(pg.ptr(), 70).err(),
                Some(RingError::BadGeometry)
            );
            let odd = NonNull::new(pg.ptr().as_ptr().add(2)).unwrap();
            assert_eq!(Back::init(odd, 4000).err(), Some(RingError::BadGeometry));
        }
    }

    /// Fills and drains the ring several times across the 2^32 index wrap.
    #[test]
    fn round_trips_across_u32_wrap() {
        for start in [0u32, u32::MAX - 3, u32::MAX - 255, u32::MAX - 300, u32::MAX] {
            let mut pg = Page::new();
            let (mut f, mut b) = pair_at(&mut pg, start);
            let n = f.size();
            let mut next_id = 0u16;
            let mut expect = 0u16;
            for round in 0..5u32 {
                let batch = if round % 2 == 0 { n } else { n / 2 + 3 };
                for _ in 0..batch {
                    f.put_request(req(next_id)).unwrap();
                    next_id = next_id.wrapping_add(1);
                }
                if batch == n {
                    assert!(f.is_full());
                    assert_eq!(f.put_request(req(0)), Err(RingError::Full));
                }
                f.push_requests_and_check_notify();
                assert_eq!(b.unconsumed_requests(), Ok(batch));
                while let Some(r) = b.next_request().unwrap() {
                    assert_eq!(r.id, expect);
                    assert_eq!(r.gref, expect as u32 + 1000);
                    expect = expect.wrapping_add(1);
                    b.put_response(NetifTxResponse {
                        id: r.id,
                        status: 0,
                    })
                    .unwrap();
                }
                assert_eq!(
                    b.put_response(NetifTxResponse::default()),
                    Err(RingError::NoRequest)
                );
                b.push_responses_and_check_notify();
                let mut got = 0;
                while let Some(rsp) = f.next_response().unwrap() {
                    assert_eq!(rsp.status, 0);
                    got += 1;
                }
                assert_eq!(got, batch);
                assert_eq!(f.free_requests(), n);
            }
            assert_eq!(
                f.req_prod_pvt(),
                start.wrapping_add(f.rsp_cons().wrapping_sub(start))
            );
            assert_eq!(b.req_cons(), b.rsp_prod_pvt());
        }
    }

    #[test]
    fn hostile_req_prod_is_an_error_never_trusted() {
        let mut pg = Page::new();
        let (_f, mut b) = pair_at(&mut pg, u32::MAX - 10);
        let n = b.size();
        // One ring ahead is fine...
        pg.hdr().req_prod = (u32::MAX - 10).wrapping_add(n);
        assert_eq!(b.unconsumed_requests(), Ok(n));
        // ...one more is not, and nothing is consumed.
        pg.hdr().req_prod = (u32::MAX - 10).wrapping_add(n + 1);
        assert!(matches!(
            b.next_request(),
            Err(RingError::Corrupt {
                what: "req_prod",
                ..
            })
        ));
        assert_eq!(b.req_cons(), u32::MAX - 10);
        // Running backwards behind what we consumed is also corrupt.
        pg.hdr().req_prod = (u32::MAX - 10).wrapping_add(3);
        for _ in 0..3 {
            b.next_request().unwrap().unwrap();
        }
        pg.hdr().req_prod = (u32::MAX - 10).wrapping_add(1);
        assert!(matches!(
            b.unconsumed_requests(),
            Err(RingError::Corrupt { .. })
        ));
        assert!(matches!(
            b.final_check_for_requests(),
            Err(RingError::Corrupt { .. })
        ));
        // A backend attaching to a page whose req_prod is beyond a ring is refused.
        pg.hdr().rsp_prod = 5;
        pg.hdr().req_prod = 5 + n + 1;
        // SAFETY: as in `pair_at`.
        assert!(unsafe { Back::attach(pg.ptr(), PAGE_SIZE) }.is_err());
    }

    #[test]
    fn hostile_rsp_prod_is_an_error() {
        let mut pg = Page::new();
        let (mut f, _b) = pair_at(&mut pg, 7);
        f.put_request(req(1)).unwrap();
        f.put_request(req(2)).unwrap();
        // Only one pushed so far: a response for the unpublished one is impossible.
        f.push_requests_and_check_notify();
        f.put_request(req(3)).unwrap();
        pg.hdr().rsp_prod = 7 + 3;
        assert!(matches!(
            f.next_response(),
            Err(RingError::Corrupt {
                what: "rsp_prod",
                ..
            })
        ));
        pg.hdr().rsp_prod = 7 + 2;
        assert_eq!(f.unconsumed_responses(), Ok(2));
        pg.hdr().rsp_prod = 6;
        assert!(f.unconsumed_responses().is_err());
    }

    #[test]
    fn notification_follows_event_indices() {
        let mut pg = Page::new();
        let (mut f, mut b) = pair_at(&mut pg, u32::MAX - 1);
        // Backend idle: it set req_event = req_cons + 1 in its final check.
        assert_eq!(b.final_check_for_requests(), Ok(false));
        f.put_request(req(1)).unwrap();
        assert!(
            f.push_requests_and_check_notify(),
            "first request after idle notifies"
        );
        f.put_request(req(2)).unwrap();
        assert!(!f.push_requests_and_check_notify(), "backend already woken");
        // The final check sees work that arrived before it armed the event.
        assert_eq!(b.final_check_for_requests(), Ok(true));
        b.next_request().unwrap();
        b.next_request().unwrap();
        assert_eq!(b.final_check_for_requests(), Ok(false));
        assert_eq!(pg.hdr().req_event, (u32::MAX - 1).wrapping_add(3));
        // Responses: the frontend arms rsp_event the same way.
        assert_eq!(f.final_check_for_responses(), Ok(false));
        b.put_response(NetifTxResponse { id: 1, status: 0 })
            .unwrap();
        assert!(b.push_responses_and_check_notify());
        b.put_response(NetifTxResponse { id: 2, status: 0 })
            .unwrap();
        assert!(!b.push_responses_and_check_notify());
        assert_eq!(f.final_check_for_responses(), Ok(true));
    }

    /// Random interleavings of both halves with random hostile index writes never panic,
    /// and indices the peer may not claim are always reported.
    #[test]
    fn random_ops_and_corruption_never_panic() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..200 {
            let mut pg = Page::new();
            let start = next() as u32;
            let (mut f, mut b) = pair_at(&mut pg, start);
            for _ in 0..300 {
                match next() % 9 {
                    0 => {
                        let _ = f.put_request(req(next() as u16));
                    }
                    1 => {
                        f.push_requests_and_check_notify();
                    }
                    2 => {
                        let _ = b.next_request();
                    }
                    3 => {
                        let _ = b.put_response(NetifTxResponse::default());
                    }
                    4 => {
                        b.push_responses_and_check_notify();
                    }
                    5 => {
                        let _ = f.next_response();
                    }
                    6 => {
                        let _ = b.final_check_for_requests();
                        let _ = f.final_check_for_responses();
                    }
                    7 => pg.hdr().req_prod = next() as u32,
                    _ => pg.hdr().rsp_prod = next() as u32,
                }
                assert!(b.unanswered() <= b.size());
                assert!(f.free_requests() <= f.size());
                if let Ok(n) = b.unconsumed_requests() {
                    assert!(n + b.unanswered() <= b.size());
                }
            }
        }
    }
}
