//! The per-flow state machine: what a segment from the sender (delivered or lost)
//! or from the guest does to a flow, and what the engine must do about it.
//!
//! Invariants kept on every synchronized flow (see docs/snoop.md):
//! - `guest_ack <= ack_point <= rcv_nxt` (sequence space);
//! - every byte below `rcv_nxt` (ACTIVE / NO-BUFFER) is in the guest, delivered in
//!   order and acceptable to the guest's TCP, or acknowledged by the guest itself;
//!   in UNEXPECTED-SEQ the bytes `[resume_seq, rcv_nxt)` are. Once the guest sent
//!   its FIN (`fl::GUEST_FIN`, never cleared) `rcv_nxt` still advances over
//!   delivered data, which a closed socket may discard: from then on nothing is
//!   early-acked, so the claim is never relied on;
//! - the sender last saw, with ACK `ack_point`, the window
//!   `window_field(guest_right(), ack_point, wscale)`; except while a deferred early
//!   ACK is pending (R12, `Flow::ack_pending`): then `ack_point` is committed but not
//!   sent, and no guest segment is suppressed until the sender has it.

use crate::ack::AckFields;
use crate::counters::{Counters, PassReason};
use crate::flow::{fl, window_field, Flow, FlowState};
use crate::seq;
use crate::wire::{Seg, TcpFlags};

/// Lazily computed checksum validity of the frame being processed.
pub(crate) struct CsumCheck<'a> {
    frame: &'a [u8],
    verify: bool,
    cached: Option<bool>,
}

impl<'a> CsumCheck<'a> {
    pub fn new(frame: &'a [u8], verify: bool) -> Self {
        CsumCheck {
            frame,
            verify,
            cached: None,
        }
    }
    #[inline(always)]
    pub fn ok(&mut self, f: &Seg) -> bool {
        if !self.verify {
            return true;
        }
        self.verified(f)
    }
    #[inline(never)]
    fn verified(&mut self, f: &Seg) -> bool {
        let frame = self.frame;
        *self.cached.get_or_insert_with(|| f.checksums_ok(frame))
    }
}

/// Conditions of one delivery.
pub(crate) struct RxEnv<'a> {
    /// `rx_free_slots >= min_free_rx_slots`.
    pub slots_ok: bool,
    /// Global switch.
    pub enabled: bool,
    /// `ack_out` can hold the early ACK.
    pub ack_room: bool,
    /// What the handshake hold can take of this frame.
    pub hold: HoldRoom,
    pub csum: CsumCheck<'a>,
}

/// The handshake hold's answer for one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HoldRoom {
    /// No hold configured.
    Off,
    /// Configured, but this frame does not fit.
    Full,
    /// The frame fits.
    Room,
}

/// Result of a delivered sender segment.
pub(crate) enum RxOutcome {
    /// Send this early ACK (`newly` = sequence space it newly acknowledges;
    /// `prev_ack_point` restores the flow if the frame cannot be written after all;
    /// `hold`: the frame must go into the handshake hold, and if the ACK cannot be
    /// written `rcv_nxt` goes back to `prev_ack_point` too).
    Ack {
        fields: AckFields,
        newly: u32,
        prev_ack_point: u32,
        hold: bool,
    },
    /// No early ACK.
    Pass(PassReason),
    /// Remove the flow (connection reset during the handshake).
    Remove,
}

/// Result of a guest segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxOutcome {
    /// Forward untouched.
    Forward,
    /// Rewrite ACK and window, then forward.
    Rewrite { ack: u32, window: u16 },
    /// Drop: a pure ACK that would reach the sender as a duplicate caused by vSnoop.
    Suppress,
}

const SIGNIFICANT: u8 =
    TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST | TcpFlags::URG | TcpFlags::ECE | TcpFlags::CWR;

fn tsval(f: &Seg) -> Option<u32> {
    f.opts.tsval()
}

impl Flow {
    /// Moves to `to`, counting the transition if the state changes.
    pub(crate) fn goto(&mut self, to: FlowState, c: &mut Counters) {
        let from = self.state();
        if from != Some(to) {
            c.count_transition(from, Some(to));
            self.set_state_raw(to);
        }
    }

    /// The sender's SYN (without ACK) reached the guest: (re)start a passive open.
    pub(crate) fn start_passive(&mut self, f: &Seg, epoch: u8, c: &mut Counters) {
        let prev = self.state();
        let key = self.key;
        *self = Flow {
            key,
            ..Flow::default()
        };
        let isn1 = f.seq.wrapping_add(1);
        self.rcv_nxt = isn1;
        self.ack_point = isn1;
        self.guest_ack = isn1;
        self.resume_seq = isn1;
        let ts = tsval(f);
        self.ts_recent = ts.unwrap_or(0);
        self.ts_max = ts.unwrap_or(0);
        self.flags = fl::ENABLED;
        self.touch(epoch);
        self.set_flag(fl::TS_OK, ts.is_some());
        self.set_flag(fl::SACK_OK, f.opts.sack_permitted);
        self.set_flag(fl::SYN_WS, f.opts.wscale.is_some());
        self.set_state_raw(FlowState::SynSeen);
        c.count_transition(prev, Some(FlowState::SynSeen));
    }

    /// The guest sent a SYN (without ACK): (re)start an active open.
    pub(crate) fn start_active(&mut self, f: &Seg, epoch: u8, c: &mut Counters) {
        let prev = self.state();
        let key = self.key;
        *self = Flow {
            key,
            ..Flow::default()
        };
        self.guest_snd_nxt = f.seq.wrapping_add(1);
        let ts = tsval(f);
        self.guest_tsval = ts.unwrap_or(0);
        self.flags = fl::ENABLED;
        self.touch(epoch);
        self.set_flag(fl::TS_OK, ts.is_some());
        self.set_flag(fl::SACK_OK, f.opts.sack_permitted);
        self.set_flag(fl::SYN_WS, f.opts.wscale.is_some());
        self.set_wscale(f.opts.wscale.unwrap_or(0));
        self.set_state_raw(FlowState::GuestSynSent);
        c.count_transition(prev, Some(FlowState::GuestSynSent));
    }

    /// A segment from the sender could not be delivered: its bytes create a gap.
    pub(crate) fn on_sender_lost(&mut self, f: &Seg, c: &mut Counters) {
        if matches!(self.state(), Some(FlowState::Active | FlowState::NoBuffer)) && f.seq_len() > 0
        {
            self.resume_seq = self.rcv_nxt;
            self.goto(FlowState::UnexpectedSeq, c);
        }
    }

    /// A segment from the sender (not a bare SYN) is in the guest's RX buffer.
    pub(crate) fn on_sender_delivered(
        &mut self,
        f: &Seg,
        env: &mut RxEnv<'_>,
        c: &mut Counters,
    ) -> RxOutcome {
        let Some(st) = self.state() else {
            return RxOutcome::Pass(PassReason::NoFlow);
        };
        if f.flags.has(TcpFlags::RST) {
            if !env.csum.ok(f) {
                return RxOutcome::Pass(PassReason::BadChecksum);
            }
            if !st.is_synchronized() && !self.holding() {
                return RxOutcome::Remove;
            }
            // The guest may or may not accept it (RFC 5961): go passive for good. Only
            // an RST at exactly the next expected sequence number resets a Linux
            // connection (anything else in the window gets a challenge ACK), so only
            // that one ends the flow's obligations (evictable while dirty, not counted
            // by `outstanding_flows`).
            if f.seq == self.rcv_nxt {
                self.set_flag(fl::RST_SEEN, true);
                // A pending ACK stays: the guest may not take this RST (its RCV.NXT
                // can differ from ours), and the sender must get the committed point
                // before anything at it is suppressed.
            }
            self.goto(FlowState::Closing, c);
            return RxOutcome::Pass(PassReason::ControlFlag);
        }
        match st {
            FlowState::GuestSynSent => {
                if f.flags.has(TcpFlags::SYN | TcpFlags::ACK)
                    && f.ack == self.guest_snd_nxt
                    && env.csum.ok(f)
                {
                    let isn1 = f.seq.wrapping_add(1);
                    self.rcv_nxt = isn1;
                    self.ack_point = isn1;
                    self.guest_ack = isn1;
                    self.resume_seq = isn1;
                    let ts = tsval(f);
                    self.ts_recent = ts.unwrap_or(0);
                    self.ts_max = ts.unwrap_or(0);
                    if ts.is_none() {
                        self.set_flag(fl::TS_OK, false);
                    }
                    if !f.opts.sack_permitted {
                        self.set_flag(fl::SACK_OK, false);
                    }
                    if !(self.has(fl::SYN_WS) && f.opts.wscale.is_some()) {
                        self.set_wscale(0);
                    }
                    self.set_flag(fl::PASSIVE, false);
                    self.goto(FlowState::Establishing, c);
                }
                RxOutcome::Pass(PassReason::Handshake)
            }
            FlowState::Establishing => self.establishing_delivered(f, env),
            FlowState::SynSeen => RxOutcome::Pass(PassReason::Handshake),
            _ => self.synchronized_delivered(st, f, env, c),
        }
    }

    /// Why the guest's TCP might not accept this data segment, if it might not.
    #[inline(always)]
    fn unacceptable(&self, f: &Seg, env: &mut RxEnv<'_>) -> Option<PassReason> {
        if !f.flags.has(TcpFlags::ACK) || f.flags.has(TcpFlags::URG) {
            return Some(PassReason::Unusual);
        }
        let end = f.seq.wrapping_add(f.payload_len());
        if seq::gt(end, self.guest_right()) {
            return Some(PassReason::OutOfWindow);
        }
        if seq::gt(f.ack, self.guest_snd_nxt) {
            return Some(PassReason::BadAck);
        }
        if self.has(fl::TS_OK) {
            match tsval(f) {
                Some(v) if seq::ge(v, self.ts_max) => {}
                _ => return Some(PassReason::Timestamp),
            }
        }
        if !env.csum.ok(f) {
            return Some(PassReason::BadChecksum);
        }
        None
    }

    /// TS.Recent (RFC 7323 §4.3): a segment whose left edge is at or below the last
    /// ACK sent and whose TSval is not older updates it. While a deferred early ACK
    /// is pending, the sender has not been sent `ack_point`: TS.Recent keeps the
    /// TSval of the first segment that ACK covers (the earliest unacknowledged one,
    /// as a delayed ACK echoes).
    pub(crate) fn learn_timestamps(&mut self, f: &Seg) {
        if let Some(v) = tsval(f) {
            if !self.ack_pending() && seq::le(f.seq, self.ack_point) && seq::ge(v, self.ts_recent) {
                self.ts_recent = v;
            }
            if seq::gt(v, self.ts_max) {
                self.ts_max = v;
            }
        }
    }

    fn synchronized_delivered(
        &mut self,
        st: FlowState,
        f: &Seg,
        env: &mut RxEnv<'_>,
        c: &mut Counters,
    ) -> RxOutcome {
        if f.flags.has(TcpFlags::SYN) {
            return RxOutcome::Pass(PassReason::ControlFlag);
        }
        let len = f.payload_len();
        if f.flags.has(TcpFlags::FIN) {
            // The guest answers FINs; vSnoop stays passive for the rest of the flow.
            // The data in front of an in-order FIN is in the guest's buffers like any
            // other in-order data, so it may be early-acked; the FIN itself is not.
            if len > 0
                && matches!(st, FlowState::Active | FlowState::NoBuffer)
                && f.seq == self.rcv_nxt
                && self.unacceptable(f, env).is_none()
            {
                let out = self.accept_in_order(f, env, c);
                self.goto(FlowState::Closing, c);
                return out;
            }
            if self.has(fl::TS_OK) && env.csum.ok(f) {
                self.learn_timestamps(f);
            }
            self.goto(FlowState::Closing, c);
            return RxOutcome::Pass(PassReason::ControlFlag);
        }
        if len == 0 {
            if self.has(fl::TS_OK) && self.unacceptable(f, env).is_none() {
                self.learn_timestamps(f);
            }
            return RxOutcome::Pass(PassReason::NoData);
        }
        if st == FlowState::Closing {
            return RxOutcome::Pass(PassReason::Closing);
        }
        if matches!(st, FlowState::Active | FlowState::NoBuffer) {
            if f.seq == self.rcv_nxt {
                if let Some(r) = self.unacceptable(f, env) {
                    self.resume_seq = self.rcv_nxt;
                    self.goto(FlowState::UnexpectedSeq, c);
                    return RxOutcome::Pass(r);
                }
                return self.accept_in_order(f, env, c);
            }
            // Gap, reordering or retransmission: hand control back to the guest.
            self.resume_seq = self.rcv_nxt;
            self.goto(FlowState::UnexpectedSeq, c);
        }
        let end = f.seq.wrapping_add(len);
        let bad = self.unacceptable(f, env);
        // UNEXPECTED-SEQ: keep the contiguous run [resume_seq, rcv_nxt) of bytes known
        // to be in the guest, so that ACTIVE can resume at its end.
        match bad {
            None => {
                self.learn_timestamps(f);
                if seq::le(f.seq, self.rcv_nxt) && seq::ge(end, self.resume_seq) {
                    self.resume_seq = seq::min(self.resume_seq, f.seq);
                    self.rcv_nxt = seq::max(self.rcv_nxt, end);
                } else if seq::gt(f.seq, self.rcv_nxt) {
                    self.resume_seq = f.seq;
                    self.rcv_nxt = end;
                }
                RxOutcome::Pass(PassReason::UnexpectedSeq)
            }
            Some(r) => RxOutcome::Pass(r),
        }
    }

    /// In-order data (`seq == rcv_nxt`, payload > 0) that the guest's TCP will
    /// accept (`unacceptable` checked by the caller), delivered to an ACTIVE or
    /// NO-BUFFER flow: the early ACK, or why there is none.
    #[inline(always)]
    fn accept_in_order(&mut self, f: &Seg, env: &mut RxEnv<'_>, c: &mut Counters) -> RxOutcome {
        let end = f.seq.wrapping_add(f.payload_len());
        self.learn_timestamps(f);
        self.rcv_nxt = end;
        if f.ecn() == 3 {
            return RxOutcome::Pass(PassReason::EcnCe);
        }
        if !env.slots_ok {
            self.goto(FlowState::NoBuffer, c);
            return RxOutcome::Pass(PassReason::NoBuffer);
        }
        self.goto(FlowState::Active, c);
        if !env.enabled || !self.has(fl::ENABLED) {
            return RxOutcome::Pass(PassReason::Disabled);
        }
        if self.has(fl::GUEST_FIN) {
            // The guest sent its FIN: if its application closed the socket (rather
            // than shut down writing only) its TCP discards new data and resets.
            return RxOutcome::Pass(PassReason::Closing);
        }
        if !env.ack_room {
            return RxOutcome::Pass(PassReason::AckBufferTooSmall);
        }
        self.early_ack(end, false)
    }

    /// What an early ACK of the committed `ack_point` carries now (an early ACK is
    /// written with these; a deferred one is brought up to date with them when sent).
    #[inline(always)]
    pub(crate) fn pending_ack_fields(&self) -> AckFields {
        AckFields {
            seq: self.guest_snd_nxt,
            ack: self.ack_point,
            window: window_field(self.guest_right(), self.ack_point, self.wscale()),
            timestamps: if self.has(fl::TS_OK) {
                Some((self.guest_tsval, self.ts_recent))
            } else {
                None
            },
        }
    }

    /// The early ACK up to `end` (raises `ack_point`; `hold`: the frame goes into the
    /// handshake hold).
    #[inline(always)]
    fn early_ack(&mut self, end: u32, hold: bool) -> RxOutcome {
        let prev_ack_point = self.ack_point;
        let newly = end.wrapping_sub(self.ack_point);
        self.ack_point = end;
        RxOutcome::Ack {
            fields: self.pending_ack_fields(),
            newly,
            prev_ack_point,
            hold,
        }
    }

    /// A sender segment delivered while the guest's socket may not exist yet (a
    /// listener with a full accept queue drops the third ACK and the data after it).
    /// In-order data is early-acked only if the handshake hold keeps a copy to
    /// deliver again; `rcv_nxt` advances over held data only, so an early ACK never
    /// covers a byte that is neither acknowledged by the guest nor held.
    fn establishing_delivered(&mut self, f: &Seg, env: &mut RxEnv<'_>) -> RxOutcome {
        let ts_ok = self.has(fl::TS_OK);
        let len = f.payload_len();
        // Only what a Linux listener takes as the third ACK: ACK = its ISS + 1.
        let eligible = len > 0
            && !f.flags.has(TcpFlags::FIN)
            && f.seq == self.rcv_nxt
            && f.ack == self.guest_snd_nxt;
        let why = if !eligible {
            Some(PassReason::Handshake)
        } else if let Some(r) = self.unacceptable(f, env) {
            Some(r)
        } else if f.ecn() == 3 {
            Some(PassReason::EcnCe)
        } else if !env.slots_ok {
            Some(PassReason::NoBuffer)
        } else if !env.enabled || !self.has(fl::ENABLED) {
            Some(PassReason::Disabled)
        } else if env.hold == HoldRoom::Off {
            Some(PassReason::Handshake)
        } else if env.hold == HoldRoom::Full {
            Some(PassReason::HoldFull)
        } else if !env.ack_room {
            Some(PassReason::AckBufferTooSmall)
        } else {
            None
        };
        if let Some(r) = why {
            // The guest's TCP updates TS.Recent from the third ACK and what follows.
            if ts_ok && env.csum.ok(f) {
                self.learn_timestamps(f);
            }
            return RxOutcome::Pass(r);
        }
        let end = f.seq.wrapping_add(len);
        self.learn_timestamps(f);
        self.rcv_nxt = end;
        self.early_ack(end, true)
    }

    /// A segment from the guest. Returns what to do with it and whether the flow is
    /// to be removed afterwards (guest RST). `strict`: a handshake hold is configured,
    /// so ESTABLISHING waits for real proof of the guest's socket (see below).
    pub(crate) fn on_guest(
        &mut self,
        f: &Seg,
        strict: bool,
        c: &mut Counters,
    ) -> (TxOutcome, bool) {
        let Some(st) = self.state() else {
            return (TxOutcome::Forward, false);
        };
        let fl_ = f.flags;
        let ts_ok = self.has(fl::TS_OK);
        if let Some(v) = tsval(f) {
            if ts_ok && seq::ge(v, self.guest_tsval) {
                self.guest_tsval = v;
            }
        }
        let end = f.seq.wrapping_add(f.seq_len());
        if seq::gt(end, self.guest_snd_nxt) {
            self.guest_snd_nxt = end;
        }
        match st {
            FlowState::SynSeen => {
                if fl_.has(TcpFlags::SYN | TcpFlags::ACK) && f.ack == self.rcv_nxt {
                    if !f.opts.has_ts {
                        self.set_flag(fl::TS_OK, false);
                    } else if ts_ok {
                        self.guest_tsval = tsval(f).unwrap_or(0);
                    }
                    if !f.opts.sack_permitted {
                        self.set_flag(fl::SACK_OK, false);
                    }
                    let ws = match (self.has(fl::SYN_WS), f.opts.wscale) {
                        (true, Some(w)) => w,
                        _ => 0,
                    };
                    self.set_wscale(ws);
                    self.guest_snd_nxt = f.seq.wrapping_add(1);
                    self.guest_ack = f.ack;
                    self.ack_point = f.ack;
                    // The SYN-ACK window is never scaled (RFC 7323 §2.2).
                    self.guest_wnd = f.window >> ws;
                    self.set_flag(fl::PASSIVE, true);
                    self.goto(FlowState::Establishing, c);
                }
                return (TxOutcome::Forward, fl_.has(TcpFlags::RST));
            }
            FlowState::GuestSynSent => return (TxOutcome::Forward, fl_.has(TcpFlags::RST)),
            FlowState::Establishing => {
                if !fl_.has(TcpFlags::ACK) || fl_.any(TcpFlags::SYN | TcpFlags::RST) {
                    return (TxOutcome::Forward, fl_.has(TcpFlags::RST));
                }
                // A listener's request socket answers an out-of-window or PAWS-failed
                // segment with a pure ACK of the sender's ISN + 1 before any socket
                // exists: only data, a FIN or an ACK of sender data proves one. (An
                // active opener's third ACK proves it: its socket is established.)
                // Waiting costs nothing with a hold (in-order data is held and
                // early-acked meanwhile); without one, the first ACK is taken as proof
                // as before (docs/snoop.md, Known limits).
                let proof = !self.has(fl::PASSIVE)
                    || !(strict || self.is_dirty())
                    || f.payload_len() > 0
                    || fl_.has(TcpFlags::FIN)
                    || seq::gt(f.ack, self.guest_ack);
                if !proof {
                    return (TxOutcome::Forward, false);
                }
                // The guest's socket is established.
                self.goto(FlowState::Active, c);
                if !self.is_dirty() {
                    // Nothing early-acked: start from what the guest acknowledges.
                    self.rcv_nxt = f.ack;
                    self.resume_seq = f.ack;
                    self.guest_ack = f.ack;
                    self.ack_point = f.ack;
                    self.guest_wnd = f.window;
                    self.set_flag(fl::GUEST_FIN, fl_.has(TcpFlags::FIN));
                    return (TxOutcome::Forward, false);
                }
                // Held data was early-acked: every byte below `rcv_nxt` is in the
                // guest or in the hold, which delivers it again until the guest
                // acknowledges it. The guest's ACK is filtered like any other.
                self.resume_seq = self.rcv_nxt;
            }
            _ => {}
        }
        if fl_.has(TcpFlags::SYN) {
            // A SYN-ACK retransmission (or a new handshake vSnoop did not restart
            // for): the guest's to send as it is, never rewritten or suppressed.
            return (TxOutcome::Forward, fl_.has(TcpFlags::RST));
        }
        if fl_.has(TcpFlags::FIN) {
            self.set_flag(fl::GUEST_FIN, true);
        }
        let rst = fl_.has(TcpFlags::RST);
        if !fl_.has(TcpFlags::ACK) {
            return (TxOutcome::Forward, rst);
        }
        let a = f.ack;
        let w = f.window;
        let ws = self.wscale();
        let stale = seq::lt(a, self.guest_ack);
        let r_cur = self.guest_right();
        let r_seg = if stale {
            r_cur
        } else {
            a.wrapping_add((w as u32) << ws)
        };
        let mut outcome = if !self.is_dirty() || seq::gt(a, self.ack_point) {
            TxOutcome::Forward
        } else {
            let significant = f.payload_len() > 0 || fl_.any(SIGNIFICANT) || f.opts.sack_blocks > 0;
            let sent = window_field(r_cur, self.ack_point, ws);
            if a == self.ack_point {
                if significant || w != sent {
                    TxOutcome::Forward
                } else {
                    TxOutcome::Suppress
                }
            } else {
                let wprime = window_field(r_seg, self.ack_point, ws);
                if significant {
                    TxOutcome::Rewrite {
                        ack: self.ack_point,
                        window: wprime,
                    }
                } else if !stale && a == self.guest_ack && w == self.guest_wnd {
                    // The guest's own duplicate: it passes (below the sender's SND.UNA,
                    // so the sender ignores it, RFC 9293 §3.10.7.4).
                    TxOutcome::Forward
                } else if wprime != sent {
                    TxOutcome::Rewrite {
                        ack: self.ack_point,
                        window: wprime,
                    }
                } else {
                    TxOutcome::Suppress
                }
            }
        };
        if self.ack_pending() {
            // R12: a deferred early ACK is waiting and the sender has not seen
            // `ack_point` yet: this segment carries it instead (nothing is suppressed,
            // since for the sender nothing would be a duplicate).
            self.clear_ack_pending();
            c.deferred_by_guest += 1;
            outcome = match outcome {
                TxOutcome::Forward if seq::ge(a, self.ack_point) => TxOutcome::Forward,
                TxOutcome::Rewrite { .. } => outcome,
                _ if a == self.ack_point => TxOutcome::Forward,
                _ => TxOutcome::Rewrite {
                    ack: self.ack_point,
                    window: window_field(r_seg, self.ack_point, ws),
                },
            };
        }
        if !stale {
            self.guest_ack = a;
            self.guest_wnd = w;
        }
        if seq::gt(a, self.ack_point) {
            self.ack_point = a;
        }
        if seq::gt(a, self.rcv_nxt) {
            self.rcv_nxt = a;
        }
        if st == FlowState::UnexpectedSeq
            && seq::ge(self.guest_ack, self.resume_seq)
            && seq::ge(self.guest_ack, self.ack_point)
        {
            self.goto(FlowState::Active, c);
        }
        (outcome, rst)
    }
}
