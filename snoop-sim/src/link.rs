//! A point-to-point Ethernet link direction: FIFO serialization at a fixed rate, a fixed
//! propagation delay, optional random loss and reordering (for the engine's gap handling).

use crate::rng::Rng;
use crate::time::Nanos;

/// Per-frame wire overhead not in the frame buffer: FCS (4) + preamble/SFD (8) + IFG (12).
pub const WIRE_OVERHEAD: usize = 24;
/// Minimum Ethernet frame (without FCS).
pub const MIN_FRAME: usize = 60;

#[derive(Clone, Debug)]
pub struct LinkParams {
    /// Line rate in bit/s.
    pub rate_bps: u64,
    /// One-way propagation (+ switch/NIC) latency.
    pub prop_ns: Nanos,
    /// Probability that a frame is lost.
    pub loss: f64,
    /// Probability that a frame is held back by `reorder_delay_ns` (arrives after later frames).
    pub reorder: f64,
    pub reorder_delay_ns: Nanos,
}

impl LinkParams {
    /// Serialization time of a frame of `len` bytes (without FCS) on this link.
    pub fn serialize_ns(&self, len: usize) -> Nanos {
        let bits = (len.max(MIN_FRAME) + WIRE_OVERHEAD) as u64 * 8;
        (bits * 1_000_000_000).div_ceil(self.rate_bps)
    }
}

#[derive(Clone, Debug, Default)]
pub struct LinkStats {
    pub frames: u64,
    pub bytes: u64,
    pub lost: u64,
    pub reordered: u64,
}

pub struct Link {
    pub params: LinkParams,
    busy_until: Nanos,
    rng: Rng,
    pub stats: LinkStats,
}

impl Link {
    pub fn new(params: LinkParams, seed: u64) -> Self {
        Link {
            params,
            busy_until: 0,
            rng: Rng::new(seed),
            stats: LinkStats::default(),
        }
    }
    /// Queues a frame of `len` bytes at `now`; returns its arrival time at the far end, or
    /// `None` if the link loses it.
    pub fn transmit(&mut self, now: Nanos, len: usize) -> Option<Nanos> {
        let start = now.max(self.busy_until);
        let done = start + self.params.serialize_ns(len);
        self.busy_until = done;
        self.stats.frames += 1;
        self.stats.bytes += len as u64;
        if self.rng.chance(self.params.loss) {
            self.stats.lost += 1;
            return None;
        }
        let mut arrive = done + self.params.prop_ns;
        if self.rng.chance(self.params.reorder) {
            self.stats.reordered += 1;
            arrive += self.params.reorder_delay_ns;
        }
        Some(arrive)
    }
}
