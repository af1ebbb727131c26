//! Flow key, per-flow entry (the table's element) and its public snapshot.
//!
//! The entry is 90 bytes including the key (see `flow_entry_is_90_bytes`), so
//! that with the table's index (6 bytes per flow) a flow costs 96 bytes: 32-bit
//! sequence state, 32-bit per-flow counters, and a two-bit idle clock in the flag
//! byte (see [`Flow::idle_epochs`]).

use crate::counters::FlowCounters;
use crate::seq;
use crate::wire::{map_v4, IpVersion, Seg, TcpFrame};
use crate::VifId;

/// Identifies a TCP connection through a vif: (vif, remote IP, guest IP, remote port,
/// guest port). "Remote" is the peer on the network (the data sender), i.e. the
/// source of frames toward the guest. IPv4 addresses are stored as `::ffff:a.b.c.d`
/// (IPv6 frames carrying such addresses are not for vSnoop, so there is no clash).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FlowKey {
    /// The guest interface.
    pub vif: VifId,
    /// Remote (sender) TCP port.
    pub remote_port: u16,
    /// Guest TCP port.
    pub guest_port: u16,
    /// Remote (sender) address.
    pub remote: [u8; 16],
    /// Guest address.
    pub guest: [u8; 16],
}

impl FlowKey {
    /// Key of an IPv4 connection.
    pub fn v4(
        vif: VifId,
        remote: [u8; 4],
        remote_port: u16,
        guest: [u8; 4],
        guest_port: u16,
    ) -> Self {
        FlowKey {
            vif,
            remote_port,
            guest_port,
            remote: map_v4(remote),
            guest: map_v4(guest),
        }
    }
    /// Key of an IPv6 connection.
    pub fn v6(
        vif: VifId,
        remote: [u8; 16],
        remote_port: u16,
        guest: [u8; 16],
        guest_port: u16,
    ) -> Self {
        FlowKey {
            vif,
            remote_port,
            guest_port,
            remote,
            guest,
        }
    }
    /// Key of a frame travelling from the network to the guest.
    pub fn from_network_frame(vif: VifId, f: &TcpFrame) -> Self {
        FlowKey {
            vif,
            remote_port: f.src_port,
            guest_port: f.dst_port,
            remote: f.src,
            guest: f.dst,
        }
    }
    /// Key of a (compactly parsed) frame travelling from the network to the guest.
    #[inline(always)]
    pub(crate) fn of_network_seg(vif: VifId, f: &Seg, frame: &[u8]) -> Self {
        let (src, dst) = f.addrs(frame);
        FlowKey {
            vif,
            remote_port: f.src_port,
            guest_port: f.dst_port,
            remote: src,
            guest: dst,
        }
    }
    /// Key of a (compactly parsed) frame sent by the guest.
    #[inline(always)]
    pub(crate) fn of_guest_seg(vif: VifId, f: &Seg, frame: &[u8]) -> Self {
        let (src, dst) = f.addrs(frame);
        FlowKey {
            vif,
            remote_port: f.dst_port,
            guest_port: f.src_port,
            remote: dst,
            guest: src,
        }
    }
    /// Key of a frame sent by the guest.
    pub fn from_guest_frame(vif: VifId, f: &TcpFrame) -> Self {
        FlowKey {
            vif,
            remote_port: f.dst_port,
            guest_port: f.src_port,
            remote: f.dst,
            guest: f.src,
        }
    }
}

/// A flow key as five native-endian words, the form the table hashes and compares
/// (scalars, so a lookup keeps it in registers): `p` = vif | remote port << 16 |
/// guest port << 32; `r` and `g` = the remote and guest address, 8 bytes each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyWords {
    pub p: u64,
    pub r0: u64,
    pub r1: u64,
    pub g0: u64,
    pub g1: u64,
}

#[inline(always)]
fn halves(a: &[u8; 16]) -> (u64, u64) {
    let (w, _) = a.as_chunks::<8>();
    (u64::from_ne_bytes(w[0]), u64::from_ne_bytes(w[1]))
}

#[inline(always)]
fn ports(vif: VifId, remote_port: u16, guest_port: u16) -> u64 {
    vif as u64 | (remote_port as u64) << 16 | (guest_port as u64) << 32
}

impl KeyWords {
    #[inline(always)]
    pub fn of(k: &FlowKey) -> Self {
        let (r0, r1) = halves(&k.remote);
        let (g0, g1) = halves(&k.guest);
        KeyWords {
            p: ports(k.vif, k.remote_port, k.guest_port),
            r0,
            r1,
            g0,
            g1,
        }
    }
    /// True if `k` is this key.
    #[inline(always)]
    pub fn is(&self, k: &FlowKey) -> bool {
        let (r0, r1) = halves(&k.remote);
        let (g0, g1) = halves(&k.guest);
        ((self.p ^ ports(k.vif, k.remote_port, k.guest_port))
            | (self.r0 ^ r0)
            | (self.r1 ^ r1)
            | (self.g0 ^ g0)
            | (self.g1 ^ g1))
            == 0
    }
    /// The key of a frame from the network (`to_guest`) or from the guest, read
    /// from `frame`, the frame `f` was parsed from. IPv4 addresses become
    /// `::ffff:a.b.c.d`.
    #[inline(always)]
    pub fn of_seg(vif: VifId, f: &Seg, frame: &[u8], to_guest: bool) -> Self {
        let at = f.l3_off as usize + f.addr_off();
        // Source then destination address, as they sit in the IP header.
        let (s0, s1, d0, d1) = match f.ip {
            IpVersion::V4 => match frame.get(at..at + 8) {
                Some(&[s0, s1, s2, s3, d0, d1, d2, d3]) => {
                    (0, v4_low([s0, s1, s2, s3]), 0, v4_low([d0, d1, d2, d3]))
                }
                _ => (0, 0, 0, 0),
            },
            IpVersion::V6 => {
                let word = |i: usize| match frame.get(at + i..at + i + 8) {
                    Some(&[b0, b1, b2, b3, b4, b5, b6, b7]) => {
                        u64::from_ne_bytes([b0, b1, b2, b3, b4, b5, b6, b7])
                    }
                    _ => 0,
                };
                (word(0), word(8), word(16), word(24))
            }
        };
        if to_guest {
            KeyWords {
                p: ports(vif, f.src_port, f.dst_port),
                r0: s0,
                r1: s1,
                g0: d0,
                g1: d1,
            }
        } else {
            KeyWords {
                p: ports(vif, f.dst_port, f.src_port),
                r0: d0,
                r1: d1,
                g0: s0,
                g1: s1,
            }
        }
    }
}

/// The second word of `::ffff:a.b.c.d`: bytes 8..16 = `0 0 ff ff a b c d`.
#[inline(always)]
fn v4_low(a: [u8; 4]) -> u64 {
    u64::from_ne_bytes([0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3]])
}

/// State of a tracked flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FlowState {
    /// The sender's SYN reached the guest; waiting for the guest's SYN-ACK.
    SynSeen = 1,
    /// The guest sent a SYN (active open); waiting for the sender's SYN-ACK.
    GuestSynSent = 2,
    /// Both SYNs seen; waiting for the guest's first non-SYN ACK, which proves the
    /// guest's socket is established (a listener with a full accept queue drops the
    /// third ACK and any data in it).
    Establishing = 3,
    /// Early-acknowledging in-order data.
    Active = 4,
    /// The guest's RX ring is (nearly) full: no early ACKs until slots return.
    NoBuffer = 5,
    /// Gap, out-of-order data or retransmission seen: no early ACKs until the guest's
    /// own ACKs catch up.
    UnexpectedSeq = 6,
    /// The sender's FIN was seen: passive for good (guest ACK filtering continues
    /// while the guest is behind vSnoop's ACK point).
    Closing = 7,
}

impl FlowState {
    /// Every state, in `index` order.
    pub const ALL: [FlowState; 7] = [
        FlowState::SynSeen,
        FlowState::GuestSynSent,
        FlowState::Establishing,
        FlowState::Active,
        FlowState::NoBuffer,
        FlowState::UnexpectedSeq,
        FlowState::Closing,
    ];
    /// Row/column of this state in `Counters::transitions` (1..=7; 0 is "no flow").
    pub fn index(self) -> usize {
        self as usize
    }
    pub(crate) fn slot(s: Option<FlowState>) -> usize {
        s.map_or(0, FlowState::index)
    }
    pub(crate) fn from_u8(v: u8) -> Option<FlowState> {
        FlowState::ALL.get((v as usize).wrapping_sub(1)).copied()
    }
    /// True for the states in which data sequence tracking runs.
    pub fn is_synchronized(self) -> bool {
        matches!(
            self,
            FlowState::Active | FlowState::NoBuffer | FlowState::UnexpectedSeq | FlowState::Closing
        )
    }
}

/// Flag bits of [`Flow::flags`].
pub(crate) mod fl {
    /// Timestamps offered by the first SYN; after the handshake: negotiated.
    pub const TS_OK: u8 = 0x01;
    /// SACK-permitted offered by the first SYN; after the handshake: negotiated.
    pub const SACK_OK: u8 = 0x02;
    /// Per-flow switch.
    pub const ENABLED: u8 = 0x04;
    /// Before ESTABLISHING: the first SYN carried a window-scale option.
    pub const SYN_WS: u8 = 0x08;
    /// From ESTABLISHING on (the same bit, free once the window scale is settled):
    /// the sender opened the connection, so the guest is a listener whose request
    /// socket may answer a segment with a pure ACK before its socket exists.
    pub const PASSIVE: u8 = 0x08;
    /// The guest sent a FIN.
    pub const GUEST_FIN: u8 = 0x10;
    /// The sender sent an RST at exactly the next expected sequence number, which
    /// resets the guest's connection (the flow is CLOSING and may be evicted while
    /// dirty).
    pub const RST_SEEN: u8 = 0x20;
    /// The idle clock: the engine's epoch (see `Engine::epoch`) modulo 4 at the
    /// flow's last activity.
    pub const EPOCH: u8 = 0xc0;
    pub const EPOCH_SHIFT: u32 = 6;
}

/// Bit of [`Flow::state_ws`]: the handshake hold keeps frames of this flow.
pub(crate) const HOLDING: u8 = 0x08;

/// One flow-table entry (key + state). An entry with `state_ws & 0x07 == 0` is free.
/// Packed to 2-byte alignment (90 bytes, no padding): the key and the small fields
/// the lookup reads first lead, the counters trail.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C, packed(2))]
pub(crate) struct Flow {
    pub key: FlowKey,
    /// Bits 0-2: state (0 = free slot); bit 3: [`HOLDING`]; high nibble: guest
    /// window scale.
    pub state_ws: u8,
    /// `fl::*` bits (the top two are the idle clock, `fl::EPOCH`).
    pub flags: u8,
    /// Raw window of the guest's latest (non-stale) segment.
    pub guest_wnd: u16,
    /// Next expected sequence number from the sender: every byte below it is known
    /// to be in the guest (delivered in order, or acknowledged by the guest). In
    /// UNEXPECTED-SEQ: the end of the contiguous run `[resume_seq, rcv_nxt)` of
    /// bytes known delivered.
    pub rcv_nxt: u32,
    /// Highest ACK number the sender has been sent (early ACKs and forwarded or
    /// rewritten guest segments): the sender's SND.UNA as far as vSnoop knows. With
    /// [`ACK_PENDING`] set it is committed but not sent yet (a deferred early ACK).
    pub ack_point: u32,
    /// Highest ACK number the guest itself sent (`guest_ack <= ack_point <= rcv_nxt`).
    pub guest_ack: u32,
    /// TS.Recent kept for synthesized ACKs (RFC 7323 §4.3).
    pub ts_recent: u32,
    /// Highest TSval seen on any delivered segment: the PAWS reference (the
    /// guest's TS.Recent can never exceed it).
    pub ts_max: u32,
    /// Latest TSval seen in the guest's own segments.
    pub guest_tsval: u32,
    /// Guest's SND.NXT (highest seq + length it sent, SYN and FIN included).
    pub guest_snd_nxt: u32,
    /// UNEXPECTED-SEQ: start of the contiguous run known delivered.
    pub resume_seq: u32,
    pub early_acks: u32,
    /// Sequence space early-acked, modulo 2^32.
    pub acked: u32,
    pub suppressed: u32,
    /// Deferred early ACKs (R12): bit 31 is [`ACK_PENDING`]; bits 0-30 name the queue
    /// entry that is to send it (`defer.rs`), so that no other entry of this key does.
    pub defer_tag: u32,
}

/// Bit of [`Flow::defer_tag`]: `ack_point` is committed but the sender has not been
/// sent it yet: a deferred early ACK waits in the engine's queue (`defer.rs`) and the
/// guest's next ACK-bearing segment carries it instead.
pub(crate) const ACK_PENDING: u32 = 1 << 31;

/// Entry id of a pending ACK that no queue entry will send (its entry came up while
/// vSnoop was switched off): the flow's next early ACK queues a new entry. Never issued
/// to an entry (`DeferQueue::push`).
pub(crate) const UNQUEUED: u32 = !ACK_PENDING;

impl Flow {
    #[inline]
    pub fn is_free(&self) -> bool {
        self.state_ws & 0x07 == 0
    }
    #[inline]
    pub fn state(&self) -> Option<FlowState> {
        FlowState::from_u8(self.state_ws & 0x07)
    }
    #[inline]
    pub fn set_state_raw(&mut self, s: FlowState) {
        self.state_ws = (self.state_ws & 0xf8) | s as u8;
    }
    /// The handshake hold keeps frames of this flow.
    #[inline]
    pub fn holding(&self) -> bool {
        self.state_ws & HOLDING != 0
    }
    #[inline]
    pub fn set_holding(&mut self, on: bool) {
        if on {
            self.state_ws |= HOLDING;
        } else {
            self.state_ws &= !HOLDING;
        }
    }
    #[inline]
    pub fn wscale(&self) -> u8 {
        self.state_ws >> 4
    }
    #[inline]
    pub fn set_wscale(&mut self, ws: u8) {
        self.state_ws = (self.state_ws & 0x0f) | (ws.min(14) << 4);
    }
    /// Records activity in idle-clock epoch `epoch` (only its low two bits count).
    #[inline]
    pub fn touch(&mut self, epoch: u8) {
        self.flags = (self.flags & !fl::EPOCH) | ((epoch & 3) << fl::EPOCH_SHIFT);
    }
    /// Whole epochs since the last activity as seen from epoch `now`, modulo 4: a
    /// flow idle for four epochs or more looks fresh again, so the caller must
    /// look (`Engine::expire_idle`) at least once an epoch.
    #[inline]
    pub fn idle_epochs(&self, now: u8) -> u8 {
        now.wrapping_sub(self.flags >> fl::EPOCH_SHIFT) & 3
    }
    #[inline]
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
    #[inline]
    pub fn set_flag(&mut self, f: u8, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }
    /// The guest's advertised right edge: `guest_ack + guest_wnd << wscale`.
    #[inline]
    pub fn guest_right(&self) -> u32 {
        self.guest_ack
            .wrapping_add((self.guest_wnd as u32) << self.wscale())
    }
    /// True if vSnoop acknowledged bytes the guest has not acknowledged yet.
    #[inline]
    pub fn is_dirty(&self) -> bool {
        seq::lt(self.guest_ack, self.ack_point)
    }
    /// A deferred early ACK for `ack_point` is waiting (see [`ACK_PENDING`]).
    #[inline]
    pub fn ack_pending(&self) -> bool {
        self.defer_tag & ACK_PENDING != 0
    }
    /// The queue entry that is to send the pending ACK, if one is pending.
    #[inline]
    pub fn pending_entry(&self) -> Option<u32> {
        self.ack_pending().then_some(self.defer_tag & !ACK_PENDING)
    }
    /// A pending ACK is queued as entry `id` (31 bits).
    #[inline]
    pub fn set_pending_entry(&mut self, id: u32) {
        self.defer_tag = ACK_PENDING | (id & !ACK_PENDING);
    }
    /// A pending ACK waits for a queue entry of its own (see [`UNQUEUED`]).
    #[inline]
    pub fn pending_queued(&self) -> bool {
        self.ack_pending() && self.defer_tag & !ACK_PENDING != UNQUEUED
    }
    /// The sender got `ack_point` (or the flow's obligations ended).
    #[inline]
    pub fn clear_ack_pending(&mut self) {
        self.defer_tag = 0;
    }
    pub fn add_acked_bytes(&mut self, n: u32) {
        self.acked = self.acked.wrapping_add(n);
    }
    pub fn counters(&self) -> FlowCounters {
        FlowCounters {
            early_acks: self.early_acks,
            early_acked_bytes: self.acked,
            guest_suppressed: self.suppressed,
        }
    }
}

/// The raw window field that advertises right edge `right` with ACK `ack` under
/// shift `ws`: rounded down, never negative, at most 65535.
#[inline]
pub fn window_field(right: u32, ack: u32, ws: u8) -> u16 {
    if seq::lt(right, ack) {
        return 0;
    }
    (right.wrapping_sub(ack) >> ws).min(0xffff) as u16
}

/// A read-only snapshot of one flow, for operators and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowInfo {
    /// The flow's key.
    pub key: FlowKey,
    /// Current state (NO-BUFFER is reported as ACTIVE once the vif has slots again).
    pub state: FlowState,
    /// Per-flow switch.
    pub enabled: bool,
    /// Next expected sequence number from the sender.
    pub rcv_nxt: u32,
    /// Highest ACK the sender has been sent, or is to be sent by a deferred early
    /// ACK when `ack_pending`.
    pub ack_point: u32,
    /// A deferred early ACK for `ack_point` is waiting (R12).
    pub ack_pending: bool,
    /// Highest ACK the guest sent.
    pub guest_ack: u32,
    /// Guest's advertised right edge.
    pub guest_right: u32,
    /// Guest's window scale (0 if not negotiated).
    pub guest_wscale: u8,
    /// Timestamps negotiated.
    pub timestamps: bool,
    /// SACK negotiated.
    pub sack: bool,
    /// Per-flow counters.
    pub counters: FlowCounters,
}

impl FlowInfo {
    pub(crate) fn of(f: &Flow, state: FlowState) -> Self {
        FlowInfo {
            key: f.key,
            state,
            enabled: f.has(fl::ENABLED),
            rcv_nxt: f.rcv_nxt,
            ack_point: f.ack_point,
            ack_pending: f.ack_pending(),
            guest_ack: f.guest_ack,
            guest_right: f.guest_right(),
            guest_wscale: f.wscale(),
            timestamps: f.has(fl::TS_OK),
            sack: f.has(fl::SACK_OK),
            counters: f.counters(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_entry_is_90_bytes() {
        assert_eq!(core::mem::size_of::<Flow>(), 90);
        assert_eq!(core::mem::align_of::<Flow>(), 2);
    }

    #[test]
    fn packing() {
        let mut f = Flow::default();
        assert!(f.is_free());
        f.set_state_raw(FlowState::Closing);
        f.set_wscale(14);
        assert_eq!(f.state(), Some(FlowState::Closing));
        assert_eq!(f.wscale(), 14);
        f.set_wscale(20);
        assert_eq!(f.wscale(), 14);
        for s in FlowState::ALL {
            f.set_state_raw(s);
            assert_eq!(f.state(), Some(s));
            assert_eq!(FlowState::from_u8(s as u8), Some(s));
        }
        assert_eq!(FlowState::from_u8(0), None);
        assert_eq!(FlowState::from_u8(8), None);
        f.add_acked_bytes(u32::MAX);
        f.add_acked_bytes(2);
        assert_eq!(f.counters().early_acked_bytes, 1);
        f.set_flag(fl::RST_SEEN | fl::TS_OK, true);
        for e in 0..=9u8 {
            f.touch(e);
            assert_eq!(f.idle_epochs(e), 0);
            assert_eq!(f.idle_epochs(e.wrapping_add(3)), 3);
            assert_eq!(f.idle_epochs(e.wrapping_add(4)), 0);
            assert_eq!(f.state(), Some(FlowState::Closing));
            assert!(f.has(fl::RST_SEEN) && f.has(fl::TS_OK) && !f.has(fl::ENABLED));
        }
    }

    /// The key read straight from a frame equals the key built from the parsed
    /// addresses, for both directions, IPv4 and IPv6, with and without a VLAN tag.
    #[test]
    fn key_words_from_frames_match_flow_keys() {
        use crate::wire::{parse_seg, SegmentSpec};
        for (i, (ip, src, dst)) in [
            (
                IpVersion::V4,
                map_v4([198, 51, 100, 7]),
                map_v4([10, 0, 0, 2]),
            ),
            (
                IpVersion::V4,
                map_v4([255, 0, 1, 254]),
                map_v4([0, 0, 0, 1]),
            ),
            (
                IpVersion::V6,
                [0x20; 16],
                core::array::from_fn(|i| i as u8 + 1),
            ),
        ]
        .into_iter()
        .enumerate()
        {
            for vlan in [None, Some(0x0123)] {
                let spec = SegmentSpec {
                    vlan_tci: vlan,
                    src_port: 40000 + i as u16,
                    seq: 1,
                    ack: 2,
                    window: 3,
                    timestamps: Some((4, 5)),
                    ..SegmentSpec::test(ip, src, dst, &[9; 10])
                };
                let mut buf = [0u8; 200];
                let n = spec.write(&mut buf).unwrap();
                let f = parse_seg(&buf[..n]).unwrap();
                for vif in [0, 7, 0xffff] {
                    let net = FlowKey::of_network_seg(vif, &f, &buf[..n]);
                    assert_eq!(net, FlowKey::v6(vif, src, 40000 + i as u16, dst, 80));
                    let w = KeyWords::of_seg(vif, &f, &buf[..n], true);
                    assert_eq!(w, KeyWords::of(&net));
                    assert!(w.is(&net));
                    let guest = FlowKey::of_guest_seg(vif, &f, &buf[..n]);
                    assert_eq!(guest, FlowKey::v6(vif, dst, 80, src, 40000 + i as u16));
                    let w = KeyWords::of_seg(vif, &f, &buf[..n], false);
                    assert_eq!(w, KeyWords::of(&guest));
                    assert!(w.is(&guest) && !w.is(&net));
                }
            }
        }
    }

    #[test]
    fn window_field_rounds_down_and_clamps() {
        assert_eq!(window_field(1000, 0, 3), 125);
        assert_eq!(window_field(1007, 0, 3), 125);
        assert_eq!(window_field(5, 10, 0), 0);
        assert_eq!(window_field(1 << 30, 0, 0), 0xffff);
        assert_eq!(window_field(5, 0xffff_fff0, 0), 21);
    }
}
