//! Simulation parameters (defaults = the model documented in docs/simulation.md).

use crate::dd::DdParams;
use crate::link::LinkParams;
use crate::sched::SchedParams;
use crate::time::{Nanos, MS, SEC, US};

/// Who shares the receiver VM's physical CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contention {
    /// The receiver plus `others` VMs share one pCPU (the paper: 3 VMs in total).
    Shared { others: usize },
    /// The receiver has a pCPU of its own.
    Dedicated,
}

#[derive(Clone, Debug)]
pub struct SimConfig {
    /// vSnoop engine on (early ACKs) or off (pass-through).
    pub snoop: bool,
    /// Engine configuration (`enabled` is overridden by `snoop`).
    pub engine: snoop::Config,
    pub ipv6: bool,
    /// Sender → driver domain.
    pub fwd: LinkParams,
    /// Driver domain → sender.
    pub rev: LinkParams,
    pub contention: Contention,
    /// Every VM (receiver included) alternates runnable-busy / blocked-idle phases of these
    /// wall-clock lengths (60 % duty), each VM with its own random phase.
    pub load_busy_ns: Nanos,
    pub load_idle_ns: Nanos,
    pub sched: SchedParams,
    pub dd: DdParams,
    /// Event-channel notification → the running guest's handler runs.
    pub guest_latency_ns: Nanos,
    /// Receiver socket buffer (its window) and sender socket buffer.
    pub rx_buf: usize,
    pub tx_buf: usize,
    /// Receiver delayed-ACK timer (Linux `TCP_DELACK_MIN`) after the quick-ACK phase.
    pub delack_ns: Nanos,
    /// Receiver ACKs every segment for the first this many MSS of a connection (Linux quickack).
    pub quickack_segments: u64,
    /// Scheduler/load warm-up before the first transfer.
    pub warmup_ns: Nanos,
    /// A transfer not finished after this much simulated time is a stall (error).
    pub max_transfer_ns: Nanos,
}

impl SimConfig {
    /// The paper's setup: 3 VMs share a core, 60 % load each.
    pub fn shared(snoop: bool) -> Self {
        let link = LinkParams {
            rate_bps: 1_000_000_000,
            prop_ns: 40 * US,
            loss: 0.0,
            reorder: 0.0,
            reorder_delay_ns: 40 * US,
        };
        SimConfig {
            snoop,
            engine: snoop::Config {
                // The handshake hold (docs/snoop.md): the kernel's default budget.
                hold_bytes: 1 << 20,
                // Deferred early ACKs (docs/snoop.md, R12): the kernel's default delay.
                ack_defer_ns: 50 * US,
                ..snoop::Config::default()
            },
            ipv6: false,
            fwd: link.clone(),
            rev: link,
            contention: Contention::Shared { others: 2 },
            load_busy_ns: 60 * MS,
            load_idle_ns: 40 * MS,
            sched: SchedParams::default(),
            dd: DdParams {
                ring_slots: 256,
                rx_target: 192,
                backlog_bytes: 512 * 1024,
                vif: 1,
            },
            guest_latency_ns: 5 * US,
            rx_buf: 512 * 1024,
            tx_buf: 2 << 20,
            delack_ns: 40 * MS,
            quickack_segments: 16,
            warmup_ns: SEC,
            max_transfer_ns: 300 * SEC,
        }
    }

    /// The control: the receiver VM alone on its core (still with its own 60 % load).
    pub fn dedicated(snoop: bool) -> Self {
        SimConfig {
            contention: Contention::Dedicated,
            ..Self::shared(snoop)
        }
    }

    /// Adds random loss (both directions) and reordering (data direction).
    pub fn with_impairments(mut self, loss: f64, reorder: f64) -> Self {
        self.fwd.loss = loss;
        self.rev.loss = loss;
        self.fwd.reorder = reorder;
        self
    }

    pub fn n_vcpus(&self) -> usize {
        match self.contention {
            Contention::Shared { others } => 1 + others,
            Contention::Dedicated => 1,
        }
    }
}
