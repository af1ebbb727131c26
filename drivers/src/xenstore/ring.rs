//! The byte-stream transport over the xenstore page (`struct xenstore_domain_interface`):
//! we produce into `req` and consume from `rsp`; xenstored does the opposite.
//!
//! Indices are free-running `u32`s. The peer's indices are read once (volatile) per call
//! and validated: xenstored's `req_cons` may never pass our `req_prod`, and its
//! `rsp_prod` may never be more than a ring ahead of our `rsp_cons`. Either violation is a
//! [`RingError::Corrupt`].

use core::ptr::{addr_of, addr_of_mut, NonNull};
use core::sync::atomic::{fence, Ordering};

use xen::abi::xs_wire::{XenstoreDomainInterface, XENSTORE_RING_SIZE};

use crate::ring::RingError;

const MASK: u32 = XENSTORE_RING_SIZE as u32 - 1;

/// Our end of the xenstore ring page.
pub struct XsRing {
    page: NonNull<XenstoreDomainInterface>,
}

// SAFETY: the page is plain shared memory; the owner serialises our side.
unsafe impl Send for XsRing {}

macro_rules! get {
    ($p:expr, $f:ident) => {
        // SAFETY: `page` is valid per `XsRing::new`; volatile because xenstored writes it.
        unsafe { core::ptr::read_volatile(addr_of!((*$p).$f)) }
    };
}

macro_rules! set {
    ($p:expr, $f:ident, $v:expr) => {
        // SAFETY: as for `get`.
        unsafe { core::ptr::write_volatile(addr_of_mut!((*$p).$f), $v) }
    };
}

impl XsRing {
    /// Wraps the mapped xenstore page.
    ///
    /// # Safety
    /// `page` must point to the mapped, writable xenstore ring page (or a test double) for
    /// the life of the value, and no one else on our side may use it.
    pub unsafe fn new(page: NonNull<XenstoreDomainInterface>) -> Self {
        XsRing { page }
    }

    fn p(&self) -> *mut XenstoreDomainInterface {
        self.page.as_ptr()
    }

    /// Copies as much of `data` as fits into the request ring and publishes it. Returns
    /// the bytes taken (0 when full); the caller then notifies xenstored.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, RingError> {
        let p = self.p();
        let cons: u32 = get!(p, req_cons);
        let prod: u32 = get!(p, req_prod);
        let used = prod.wrapping_sub(cons);
        if used > XENSTORE_RING_SIZE as u32 {
            return Err(RingError::Corrupt {
                what: "xenstore req_cons",
                peer: cons,
                ours: prod,
            });
        }
        // Read the consumer before overwriting the space it freed.
        fence(Ordering::SeqCst);
        let n = data.len().min(XENSTORE_RING_SIZE - used as usize);
        for (i, &b) in data[..n].iter().enumerate() {
            let idx = (prod.wrapping_add(i as u32) & MASK) as usize;
            // SAFETY: `idx < XENSTORE_RING_SIZE`, inside `req`.
            unsafe { core::ptr::write_volatile(addr_of_mut!((*p).req[idx]), b) };
        }
        fence(Ordering::Release);
        set!(p, req_prod, prod.wrapping_add(n as u32));
        Ok(n)
    }

    /// Copies up to `buf.len()` available reply bytes out of the response ring and frees
    /// their space. Returns the bytes read (0 when empty).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, RingError> {
        let p = self.p();
        let cons: u32 = get!(p, rsp_cons);
        let prod: u32 = get!(p, rsp_prod);
        let avail = prod.wrapping_sub(cons);
        if avail > XENSTORE_RING_SIZE as u32 {
            return Err(RingError::Corrupt {
                what: "xenstore rsp_prod",
                peer: prod,
                ours: cons,
            });
        }
        fence(Ordering::Acquire);
        let n = buf.len().min(avail as usize);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let idx = (cons.wrapping_add(i as u32) & MASK) as usize;
            // SAFETY: `idx < XENSTORE_RING_SIZE`, inside `rsp`.
            *b = unsafe { core::ptr::read_volatile(addr_of!((*p).rsp[idx])) };
        }
        // Finish reading before handing the space back.
        fence(Ordering::SeqCst);
        set!(p, rsp_cons, cons.wrapping_add(n as u32));
        Ok(n)
    }

    /// Whether xenstored has consumed everything we wrote (validated as in `write`).
    pub fn requests_drained(&self) -> Result<bool, RingError> {
        let p = self.p();
        let cons: u32 = get!(p, req_cons);
        let prod: u32 = get!(p, req_prod);
        if prod.wrapping_sub(cons) > XENSTORE_RING_SIZE as u32 {
            return Err(RingError::Corrupt {
                what: "xenstore req_cons",
                peer: cons,
                ours: prod,
            });
        }
        Ok(cons == prod)
    }

    /// `connection` (`XENSTORE_CONNECTED` / `XENSTORE_RECONNECT`) as xenstored set it.
    pub fn connection(&self) -> u32 {
        get!(self.p(), connection)
    }

    /// `server_features` (`XENSTORE_SERVER_FEATURE_*`).
    pub fn server_features(&self) -> u32 {
        get!(self.p(), server_features)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use alloc::boxed::Box;

    fn page() -> Box<XenstoreDomainInterface> {
        Box::new(XenstoreDomainInterface::zeroed())
    }

    #[test]
    fn write_and_read_wrap_at_u32_max() {
        let mut pg = page();
        pg.req_prod = u32::MAX - 5;
        pg.req_cons = u32::MAX - 5;
        pg.rsp_prod = u32::MAX - 2;
        pg.rsp_cons = u32::MAX - 2;
        let raw = NonNull::from(&mut *pg);
        // SAFETY: the box outlives the ring; test accesses do not overlap calls.
        let mut r = unsafe { XsRing::new(raw) };
        let data: std::vec::Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
        assert_eq!(r.write(&data), Ok(1024));
        assert_eq!(r.write(&data), Ok(0));
        assert_eq!(r.requests_drained(), Ok(false));
        // SAFETY: no call in progress.
        let p = unsafe { &mut *raw.as_ptr() };
        for (i, &b) in data[..1024].iter().enumerate() {
            assert_eq!(
                p.req[((u32::MAX - 5).wrapping_add(i as u32) & MASK) as usize],
                b
            );
        }
        p.req_cons = p.req_prod;
        assert_eq!(r.requests_drained(), Ok(true));
        // Peer produces 10 reply bytes across the wrap.
        for i in 0..10u32 {
            p.rsp[((u32::MAX - 2).wrapping_add(i) & MASK) as usize] = i as u8 + 1;
        }
        p.rsp_prod = (u32::MAX - 2).wrapping_add(10);
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf), Ok(4));
        assert_eq!(buf, [1, 2, 3, 4]);
        let mut buf = [0u8; 64];
        assert_eq!(r.read(&mut buf), Ok(6));
        assert_eq!(&buf[..6], &[5, 6, 7, 8, 9, 10]);
        assert_eq!(r.read(&mut buf), Ok(0));
    }

    #[test]
    fn impossible_peer_indices_are_errors() {
        let mut pg = page();
        let raw = NonNull::from(&mut *pg);
        // SAFETY: as above.
        let mut r = unsafe { XsRing::new(raw) };
        let p = raw.as_ptr();
        // SAFETY: no call in progress.
        unsafe {
            (*p).req_prod = 10;
            (*p).req_cons = 11; // consumed beyond what we produced
        }
        assert!(matches!(r.write(b"x"), Err(RingError::Corrupt { .. })));
        assert!(r.requests_drained().is_err());
        // SAFETY: as above.
        unsafe {
            (*p).rsp_cons = 100;
            (*p).rsp_prod = 100 + 1025; // more than a ring of data
        }
        let mut buf = [0u8; 8];
        assert!(matches!(r.read(&mut buf), Err(RingError::Corrupt { .. })));
        // SAFETY: as above.
        unsafe { (*p).rsp_prod = 99 }; // behind our consumer
        assert!(r.read(&mut buf).is_err());
        // SAFETY: as above.
        assert_eq!(unsafe { (*p).rsp_cons }, 100, "nothing consumed on error");
    }
}
