//! Event channels without upcalls: vCPU 0 keeps event delivery masked, the main loop sleeps
//! in `SCHEDOP_poll` on every registered port (with a timeout for the next timer), then
//! test-and-clears the pending bits in the shared info page and runs the handlers.
//! Nothing ever busy-waits.
// Part of this API serves the netback and NIC glue that build on it (issues 5 and 6).
#![allow(dead_code)]

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ptr::addr_of_mut;
use core::sync::atomic::{AtomicU64, Ordering};

use xen::abi::EvtchnPort;
use xen::hypercall;

use crate::{shared, time};

/// `SCHEDOP_poll` takes at most this many ports.
const MAX_POLL_PORTS: usize = 128;

type Handler = Box<dyn FnMut(EvtchnPort)>;
type TimerFn = Box<dyn FnOnce()>;

/// The dispatcher: handlers by port, and one-shot timers.
#[derive(Default)]
pub struct Dispatcher {
    handlers: Vec<(EvtchnPort, Handler)>,
    timers: Vec<(u64, TimerFn)>,
    /// Events handled, for counters.
    pub events: u64,
    /// Wake-ups of the main loop.
    pub wakeups: u64,
}

fn pending_word(port: EvtchnPort) -> &'static AtomicU64 {
    let si = shared::ptr();
    // SAFETY: `evtchn_pending` is a u64 array in the mapped shared page; Xen sets bits with
    // locked operations, so atomic access is the right view of it.
    unsafe {
        AtomicU64::from_ptr(addr_of_mut!(
            (*si).evtchn_pending[(port / 64) as usize % 64]
        ))
    }
}

/// Test-and-clear `port`'s pending bit.
pub fn take_pending(port: EvtchnPort) -> bool {
    let bit = 1u64 << (port % 64);
    pending_word(port).fetch_and(!bit, Ordering::AcqRel) & bit != 0
}

impl Dispatcher {
    /// Runs `handler` whenever `port` fires. A second registration replaces the first.
    pub fn register(&mut self, port: EvtchnPort, handler: Handler) {
        self.handlers.retain(|(p, _)| *p != port);
        assert!(
            self.handlers.len() < MAX_POLL_PORTS,
            "too many event channels"
        );
        self.handlers.push((port, handler));
    }

    /// Stops watching `port`.
    pub fn unregister(&mut self, port: EvtchnPort) {
        self.handlers.retain(|(p, _)| *p != port);
    }

    /// Runs `f` once at Xen system time `deadline_ns` or soon after.
    pub fn at(&mut self, deadline_ns: u64, f: TimerFn) {
        self.timers.push((deadline_ns, f));
    }

    /// Whether anything is left to wait for.
    pub fn idle(&self) -> bool {
        self.handlers.is_empty() && self.timers.is_empty()
    }

    /// Sleeps until a registered port fires or the next timer is due, then runs what is
    /// due. Returns the number of handlers and timers run.
    pub fn run_once(&mut self) -> usize {
        let deadline = self.timers.iter().map(|(d, _)| *d).min();
        let mut ports = [0 as EvtchnPort; MAX_POLL_PORTS];
        for (slot, (p, _)) in ports.iter_mut().zip(self.handlers.iter()) {
            *slot = *p;
        }
        let nports = self.handlers.len();
        let already = self.handlers.iter().any(|(p, _)| {
            let bit = 1u64 << (p % 64);
            pending_word(*p).load(Ordering::Acquire) & bit != 0
        });
        let due = deadline.is_some_and(|d| d <= time::now_ns());
        if !already && !due {
            // Timeout 0 means "none" to Xen; a deadline in the past returns at once.
            let timeout = deadline.map(|d| d.max(1)).unwrap_or(0);
            let _ = hypercall::sched_poll(&ports[..nports], timeout);
            self.wakeups += 1;
        }
        let mut ran = 0;
        for (p, h) in self.handlers.iter_mut() {
            if take_pending(*p) {
                h(*p);
                ran += 1;
            }
        }
        let now = time::now_ns();
        let mut i = 0;
        while i < self.timers.len() {
            if self.timers[i].0 <= now {
                let (_, f) = self.timers.swap_remove(i);
                f();
                ran += 1;
            } else {
                i += 1;
            }
        }
        self.events += ran as u64;
        ran
    }
}
