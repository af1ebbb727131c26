//! vSnoop acknowledgement-offload engine (pure, `no_std`, no I/O, no `unsafe`).
//!
//! A Xen driver domain runs this engine beside its netback. When a guest shares a
//! CPU with other VMs, its TCP ACKs wait for the guest to be scheduled; vSnoop
//! acknowledges in-order TCP data on the guest's behalf as soon as the data is in
//! the guest's RX buffers, and only then. The full rule set, the state diagram and
//! the data-path contract are in `docs/snoop.md`.
//!
//! How the data path calls the engine:
//! - after a frame from the network has been copied into a posted RX buffer of the
//!   guest: [`Engine::on_delivered_to_guest`] with the number of posted RX requests
//!   left; send the early ACK it writes (if any) toward the network;
//! - when a frame for the guest is dropped instead: [`Engine::on_not_delivered`];
//! - for every frame the guest transmits, before it leaves: [`Engine::on_from_guest`]
//!   (drop it on [`GuestVerdict::Suppress`]);
//! - when the guest posts RX buffers: [`Engine::on_rx_space`]; when a vif goes away:
//!   [`Engine::on_vif_reset`]; periodically: [`Engine::expire_idle`].
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod ack;
mod coalesce;
mod counters;
mod defer;
mod engine;
mod flow;
mod hold;
mod machine;
mod seq;
mod table;
pub mod wire;

pub use ack::ACK_FRAME_MAX;
pub use coalesce::AckCoalescer;
pub use counters::{Counters, FlowCounters, PassCounters, PassReason, STATE_SLOTS};
pub use engine::{Engine, RxChecksum, TxChecksum};
pub use flow::{FlowInfo, FlowKey, FlowState};
pub use hold::MAX_TRIES as HOLD_MAX_TRIES;

/// Identifies a guest interface (vif) in the driver domain.
pub type VifId = u16;

/// Engine configuration, fixed at start-up (except the global switch).
#[derive(Clone, Debug)]
pub struct Config {
    /// Flow-table capacity (allocated once in `Engine::new`; at most 2^32 - 2).
    pub max_flows: usize,
    /// A flow idle for this long (ns) may be evicted by `expire_idle` (when that
    /// breaks no rule). The idle clock is coarse: a flow goes after between 1x and
    /// 4x this (see [`Engine::expire_idle`]).
    pub idle_timeout_ns: u64,
    /// Global on/off switch (see [`Engine::set_enabled`]).
    pub enabled: bool,
    /// NO-BUFFER threshold: early ACKs stop while the guest has fewer free RX slots than this.
    pub min_free_rx_slots: u32,
    /// Key of the flow-table hash. Use a random value per boot so that remote peers
    /// cannot choose colliding flow keys.
    pub hash_seed: u64,
    /// Byte budget of the handshake hold (0 = no hold). With a hold, in-order data
    /// that reaches the guest while its socket may not exist yet (ESTABLISHING) is
    /// early-acked and a copy kept until the guest acknowledges it; the caller must
    /// then call [`Engine::poll_redeliver`] regularly and deliver what it returns.
    /// Without one, such data waits for the guest's own ACK.
    pub hold_bytes: usize,
    /// Wait (ns) before a held frame the guest has not acknowledged is delivered
    /// again; it doubles with each try (see [`HOLD_MAX_TRIES`]).
    pub hold_retry_ns: u64,
    /// Largest frame the hold takes (bigger ones are not early-acked during the
    /// handshake). A data path that merges segments into GSO packets and cannot
    /// redeliver a held one as GSO sets this to its MTU-sized frame.
    pub hold_frame_max: usize,
    /// Deferred early ACKs (0 = off: an early ACK goes out as soon as its data is in
    /// the guest's buffers). With a delay, the early ACK waits this long (ns) for the
    /// guest's own segment to carry it, so that vSnoop steps aside for a guest that
    /// is running and acknowledges in time; the caller must then call
    /// [`Engine::poll_deferred_ack`] when [`Engine::ack_next_due`] has passed.
    /// Handshake-hold ACKs are never deferred.
    pub ack_defer_ns: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_flows: 4096,
            idle_timeout_ns: 60_000_000_000,
            enabled: true,
            min_free_rx_slots: 8,
            hash_seed: 0x5eed_0f5a_009e_1100,
            hold_bytes: 0,
            hold_retry_ns: 200_000_000,
            hold_frame_max: usize::MAX,
            ack_defer_ns: 0,
        }
    }
}

/// What to do with a frame the guest sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuestVerdict {
    /// Forward the frame (possibly rewritten in place by the engine, checksums fixed).
    Forward,
    /// Drop it: a pure ACK that would reach the sender as a duplicate of an early ACK.
    Suppress,
}
