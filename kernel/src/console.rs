//! The kernel's console: the PV console ring, behind a lock, with `print!`/`println!`.
//!
//! Writing never blocks for long: when dom0 does not drain the ring, the writer notifies,
//! yields a bounded number of times, then drops the rest of the message and counts it.

use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use drivers::console_ring::ConsoleRing;
use spin::Mutex;
use xen::abi::{console::XenconsInterface, EvtchnPort};
use xen::hypercall;

/// Yields to wait for dom0 to drain a full ring before dropping output.
const FULL_RING_YIELDS: u32 = 2000;

struct Console {
    ring: ConsoleRing,
    evtchn: EvtchnPort,
}

static CONSOLE: Mutex<Option<Console>> = Mutex::new(None);
/// Bytes dropped because the ring stayed full.
pub static DROPPED_BYTES: AtomicU64 = AtomicU64::new(0);

/// Attaches the console to its ring page.
///
/// # Safety
/// `page` must be the mapped console ring page from `start_info` and stay mapped forever.
pub unsafe fn init(page: NonNull<XenconsInterface>, evtchn: EvtchnPort) {
    // SAFETY: forwarded contract; this is the only producer.
    let ring = unsafe { ConsoleRing::new(page) };
    *CONSOLE.lock() = Some(Console { ring, evtchn });
}

impl Console {
    fn write_raw(&mut self, mut bytes: &[u8]) {
        let mut waited = 0;
        while !bytes.is_empty() {
            let n = self.ring.write(bytes);
            bytes = &bytes[n..];
            hypercall::evtchn_send(self.evtchn);
            if n == 0 {
                if waited >= FULL_RING_YIELDS {
                    DROPPED_BYTES.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    return;
                }
                waited += 1;
                hypercall::yield_now();
            }
        }
    }

    fn flush(&mut self) {
        for _ in 0..FULL_RING_YIELDS {
            if self.ring.drained() {
                return;
            }
            hypercall::evtchn_send(self.evtchn);
            hypercall::yield_now();
        }
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Terminals want CR LF; write line by line.
        let mut lines = s.split('\n');
        if let Some(first) = lines.next() {
            self.write_raw(first.as_bytes());
        }
        for line in lines {
            self.write_raw(b"\r\n");
            self.write_raw(line.as_bytes());
        }
        Ok(())
    }
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments) {
    use fmt::Write;
    if let Some(c) = CONSOLE.lock().as_mut() {
        let _ = c.write_fmt(args);
    }
}

/// Panic-path printing: works even if the panic happened while the console lock was held.
pub fn print_panic(args: fmt::Arguments) {
    use fmt::Write;
    if CONSOLE.is_locked() {
        // SAFETY: single vCPU, no event upcalls yet: a held lock can only belong to the code
        // that panicked, which will never resume.
        unsafe { CONSOLE.force_unlock() };
    }
    if let Some(c) = CONSOLE.lock().as_mut() {
        let _ = c.write_fmt(args);
        c.flush();
    }
}

/// Waits (bounded) until dom0 has read everything written.
pub fn flush() {
    if let Some(c) = CONSOLE.lock().as_mut() {
        c.flush();
    }
}

/// Prints to the Xen console ring.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::_print(format_args!($($arg)*)) };
}

/// Prints a line to the Xen console ring.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::_print(format_args!("{}\n", format_args!($($arg)*))) };
}
