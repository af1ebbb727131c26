//! Engine counters: totals ([`Counters`]) and per-flow ([`FlowCounters`]).

use crate::flow::FlowState;
use crate::wire::NotForSnoop;

/// Why a frame got no early ACK (frames from the network) or was forwarded
/// untouched without being looked at (frames from the guest).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassReason {
    /// Not IPv4/IPv6.
    NotIp,
    /// Not TCP directly after the IP header (includes IPv6 extension headers).
    NotTcp,
    /// IPv4 fragment.
    Fragment,
    /// Truncated header.
    Truncated,
    /// Malformed header or TCP options.
    Malformed,
    /// IPv6 with IPv4-mapped addresses.
    Unsupported,
    /// No flow for the key (handshake not seen, evicted, or reset).
    NoFlow,
    /// A new flow could not be added: table full of flows that cannot be evicted.
    TableFull,
    /// Engine or flow switched off.
    Disabled,
    /// The handshake is not complete yet.
    Handshake,
    /// No payload (pure ACK or window update from the sender).
    NoData,
    /// SYN, FIN or RST: the guest's to answer.
    ControlFlag,
    /// The flow is closing (sender's FIN seen).
    Closing,
    /// Data beyond the guest's advertised right edge.
    OutOfWindow,
    /// The sender's ACK field acknowledges data the guest never sent.
    BadAck,
    /// Timestamps negotiated but missing, or PAWS would reject it.
    Timestamp,
    /// Urgent data, or no ACK flag: left to the guest.
    Unusual,
    /// The IPv4 header or TCP checksum does not verify.
    BadChecksum,
    /// ECN Congestion Experienced: the guest must echo it.
    EcnCe,
    /// Fewer free RX slots than `min_free_rx_slots`.
    NoBuffer,
    /// Gap, out-of-order data or retransmission: waiting for the guest.
    UnexpectedSeq,
    /// `ack_out` too small for the ACK frame.
    AckBufferTooSmall,
    /// Handshake data that the hold has no room for (or larger than
    /// `Config::hold_frame_max`).
    HoldFull,
    /// A held frame coming back (the data path redelivering it): nothing to learn.
    Redelivery,
}

impl From<NotForSnoop> for PassReason {
    fn from(e: NotForSnoop) -> Self {
        match e {
            NotForSnoop::NotIp => PassReason::NotIp,
            NotForSnoop::NotTcp => PassReason::NotTcp,
            NotForSnoop::Fragment => PassReason::Fragment,
            NotForSnoop::Truncated => PassReason::Truncated,
            NotForSnoop::Malformed => PassReason::Malformed,
            NotForSnoop::Unsupported => PassReason::Unsupported,
        }
    }
}

macro_rules! pass_counters {
    ($($variant:ident => $field:ident),* $(,)?) => {
        /// Counts of frames that passed without action, one field per [`PassReason`].
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct PassCounters {
            $(
                #[doc = concat!("Frames passed for [`PassReason::", stringify!($variant), "`].")]
                pub $field: u64,
            )*
        }

        impl PassCounters {
            /// Adds one to the counter of `r`.
            pub fn bump(&mut self, r: PassReason) {
                match r {
                    $(PassReason::$variant => self.$field += 1,)*
                }
            }
            /// The counter of `r`.
            pub fn get(&self, r: PassReason) -> u64 {
                match r {
                    $(PassReason::$variant => self.$field,)*
                }
            }
            /// Sum over all reasons.
            pub fn total(&self) -> u64 {
                0 $(+ self.$field)*
            }
        }
    };
}

pass_counters! {
    NotIp => not_ip,
    NotTcp => not_tcp,
    Fragment => fragment,
    Truncated => truncated,
    Malformed => malformed,
    Unsupported => unsupported,
    NoFlow => no_flow,
    TableFull => table_full,
    Disabled => disabled,
    Handshake => handshake,
    NoData => no_data,
    ControlFlag => control_flag,
    Closing => closing,
    OutOfWindow => out_of_window,
    BadAck => bad_ack,
    Timestamp => timestamp,
    Unusual => unusual,
    BadChecksum => bad_checksum,
    EcnCe => ecn_ce,
    NoBuffer => no_buffer,
    UnexpectedSeq => unexpected_seq,
    AckBufferTooSmall => ack_buffer_too_small,
    HoldFull => hold_full,
    Redelivery => redelivery,
}

/// Number of rows/columns of [`Counters::transitions`]: index 0 is "no flow"
/// (creation / removal), then each [`FlowState`] by its `index()`.
pub const STATE_SLOTS: usize = 9;

/// Engine-wide totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames passed to `on_delivered_to_guest*`.
    pub rx_delivered: u64,
    /// Frames passed to `on_not_delivered`.
    pub rx_not_delivered: u64,
    /// Early ACKs written.
    pub early_acks: u64,
    /// Sequence space newly acknowledged by early ACKs (with deferred early ACKs,
    /// R12: committed for one, whether vSnoop or the guest's segment then sent it).
    pub early_acked_bytes: u64,
    /// Frames from the network that got no early ACK, by reason.
    pub rx_pass: PassCounters,
    /// Frames passed to `on_from_guest*`.
    pub tx_frames: u64,
    /// Guest segments of tracked flows forwarded untouched.
    pub guest_forwarded: u64,
    /// Guest pure ACKs suppressed (would have been duplicates caused by vSnoop).
    pub guest_suppressed: u64,
    /// Guest segments whose ACK and window were rewritten up to vSnoop's ACK point.
    pub guest_rewritten: u64,
    /// Guest frames not matched to a tracked flow, by reason (forwarded untouched).
    pub tx_pass: PassCounters,
    /// Flows created (SYN seen).
    pub flows_created: u64,
    /// Flows evicted to make room for a new one.
    pub evicted_full: u64,
    /// Flows removed by `expire_idle`.
    pub evicted_idle: u64,
    /// `expire_idle` calls that came more than one idle-clock epoch after the
    /// previous one: idle flows may then have missed their eviction window and wait
    /// another round (see `Engine::expire_idle`).
    pub expire_late: u64,
    /// Flows removed after an RST.
    pub removed_rst: u64,
    /// Flows removed by `on_vif_reset`.
    pub removed_vif_reset: u64,
    /// Times a vif's free RX slots fell below the threshold.
    pub vif_no_buffer_entered: u64,
    /// Frames copied into the handshake hold (each one was early-acked).
    pub held_frames: u64,
    /// Held frames released: the guest acknowledged them.
    pub hold_released: u64,
    /// Held frames handed to the data path for redelivery.
    pub redelivered: u64,
    /// Flows whose held frames were given up after the last redelivery (the guest
    /// never took its first held bytes; the flow is removed).
    pub hold_expired: u64,
    /// Held frames dropped because their flow ended (RST, new SYN, vif reset).
    pub hold_dropped: u64,
    /// Early ACKs deferred (`Config::ack_defer_ns`): a pending ACK was queued. Later
    /// in-order data of the same flow joins the pending ACK instead.
    pub acks_deferred: u64,
    /// Pending ACKs the guest's own segment carried (forwarded or rewritten up to
    /// vSnoop's ACK point), nearly always before they were due (also after one came
    /// due while vSnoop was switched off): vSnoop stepped aside.
    pub deferred_by_guest: u64,
    /// Pending ACKs sent when due (counted in `early_acks` too).
    pub deferred_sent: u64,
    /// `transitions[from][to]`: state changes (index 0 = no flow, see [`FlowState::index`]).
    pub transitions: [[u64; STATE_SLOTS]; STATE_SLOTS],
}

impl Counters {
    /// Number of transitions `from -> to` (`None` = no flow: creation or removal).
    pub fn transition(&self, from: Option<FlowState>, to: Option<FlowState>) -> u64 {
        self.transitions[FlowState::slot(from)][FlowState::slot(to)]
    }
    pub(crate) fn count_transition(&mut self, from: Option<FlowState>, to: Option<FlowState>) {
        self.transitions[FlowState::slot(from)][FlowState::slot(to)] += 1;
    }
}

/// Per-flow counters (32-bit, wrapping).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowCounters {
    /// Early ACKs sent for this flow.
    pub early_acks: u32,
    /// Sequence space early-acked for this flow (modulo 2^32; the engine-wide
    /// total is 64-bit).
    pub early_acked_bytes: u32,
    /// Guest pure ACKs suppressed.
    pub guest_suppressed: u32,
}
