//! Producer side of the PV console ring (`io/console.h`): the guest writes `out`, dom0's
//! xenconsoled consumes it.
//!
//! The page is shared with dom0, which moves `out_cons` at any time, so it is only touched
//! through volatile accesses on a raw pointer, each shared index read once per call. A
//! consumer index that claims more than the ring holds (dom0 bug or corruption) is treated as
//! "ring full", never trusted for an out-of-bounds write: every write index is masked.

use core::ptr::{addr_of, addr_of_mut, NonNull};
use core::sync::atomic::{fence, Ordering};

use xen::abi::console::{XenconsInterface, OUT_SIZE};

/// The output half of a console ring page.
pub struct ConsoleRing {
    page: NonNull<XenconsInterface>,
}

// SAFETY: the ring is a plain memory page; access is serialised by the owner (a lock in the
// kernel), and the remote side is only ever accessed through volatile reads and writes.
unsafe impl Send for ConsoleRing {}

impl ConsoleRing {
    /// Wraps a mapped console page.
    ///
    /// # Safety
    /// `page` must point to a mapped, writable console ring page that stays mapped for the
    /// life of the returned value, and no other producer may write its `out` half.
    pub unsafe fn new(page: NonNull<XenconsInterface>) -> Self {
        ConsoleRing { page }
    }

    /// Copies as much of `bytes` as fits into the ring and publishes it. Returns how many
    /// bytes were taken (0 when the ring is full); the caller then notifies the event channel.
    pub fn write(&mut self, bytes: &[u8]) -> usize {
        let p = self.page.as_ptr();
        // SAFETY: `p` is valid per `new`'s contract; fields are accessed via raw pointers.
        let (cons, prod) = unsafe {
            (
                core::ptr::read_volatile(addr_of!((*p).out_cons)),
                core::ptr::read_volatile(addr_of!((*p).out_prod)),
            )
        };
        fence(Ordering::Acquire);
        let used = prod.wrapping_sub(cons) as usize;
        if used >= OUT_SIZE {
            return 0;
        }
        let n = bytes.len().min(OUT_SIZE - used);
        for (i, &b) in bytes[..n].iter().enumerate() {
            let idx = (prod.wrapping_add(i as u32) as usize) & (OUT_SIZE - 1);
            // SAFETY: `idx < OUT_SIZE`, inside the page's `output` array.
            unsafe { core::ptr::write_volatile(addr_of_mut!((*p).output[idx]), b) };
        }
        // The data must be visible before the new producer index.
        fence(Ordering::Release);
        // SAFETY: as above.
        unsafe {
            core::ptr::write_volatile(addr_of_mut!((*p).out_prod), prod.wrapping_add(n as u32))
        };
        n
    }

    /// Whether dom0 has consumed everything written so far.
    pub fn drained(&self) -> bool {
        let p = self.page.as_ptr();
        // SAFETY: as in `write`.
        unsafe {
            core::ptr::read_volatile(addr_of!((*p).out_cons))
                == core::ptr::read_volatile(addr_of!((*p).out_prod))
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::boxed::Box;
    use std::vec::Vec;

    fn page() -> Box<XenconsInterface> {
        Box::new(XenconsInterface {
            input: [0; 1024],
            output: [0; OUT_SIZE],
            in_cons: 0,
            in_prod: 0,
            out_cons: 0,
            out_prod: 0,
        })
    }

    fn consume(p: &mut XenconsInterface) -> Vec<u8> {
        let mut out = Vec::new();
        while p.out_cons != p.out_prod {
            out.push(p.output[(p.out_cons as usize) & (OUT_SIZE - 1)]);
            p.out_cons = p.out_cons.wrapping_add(1);
        }
        out
    }

    #[test]
    fn writes_until_full_then_resumes_and_wraps_indices() {
        let mut pg = page();
        // Start near the u32 wrap to cover free-running index arithmetic.
        pg.out_cons = u32::MAX - 10;
        pg.out_prod = u32::MAX - 10;
        let raw = NonNull::from(&mut *pg);
        let mut ring = unsafe { ConsoleRing::new(raw) };
        let msg: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        assert_eq!(ring.write(&msg), OUT_SIZE);
        assert_eq!(ring.write(&msg[OUT_SIZE..]), 0, "full ring takes nothing");
        let first = consume(unsafe { &mut *raw.as_ptr() });
        assert_eq!(first, msg[..OUT_SIZE]);
        assert!(ring.drained());
        assert_eq!(ring.write(&msg[OUT_SIZE..]), 3000 - OUT_SIZE);
        let second = consume(unsafe { &mut *raw.as_ptr() });
        assert_eq!(second, msg[OUT_SIZE..]);
    }

    #[test]
    fn bogus_consumer_index_is_treated_as_full() {
        let mut pg = page();
        pg.out_cons = 5000; // consumer "ahead" of producer: used wraps to a huge value
        let mut ring = unsafe { ConsoleRing::new(NonNull::from(&mut *pg)) };
        assert_eq!(ring.write(b"hello"), 0);
    }
}
