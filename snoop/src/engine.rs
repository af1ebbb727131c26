//! The engine: classifies frames, finds flows, runs the state machine, writes
//! early ACKs and rewrites guest segments.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::ack::{ack_len, ack_tcp_offset, patch_ack, write_ack, ACK_FRAME_MAX};
use crate::counters::{Counters, PassReason};
use crate::defer::{DeferQueue, Pending};
use crate::flow::{fl, Flow, FlowInfo, FlowKey, FlowState, KeyWords, UNQUEUED};
use crate::hold::Hold;
use crate::machine::{CsumCheck, HoldRoom, RxEnv, RxOutcome, TxOutcome};
use crate::table::FlowTable;
use crate::wire::checksum::{update16, update32};
use crate::wire::{parse_seg, Seg, TcpFlags, TcpHeader};
use crate::{Config, GuestVerdict, VifId};

/// How far the data path vouches for the checksums of a frame delivered to the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxChecksum {
    /// The engine verifies the IPv4 header and TCP checksums before it trusts a
    /// segment (a segment that fails would be dropped by the guest).
    Verify,
    /// The guest will accept the checksums without looking (the NIC validated them
    /// and the RX response carries `NETRXF_data_validated`): skip verification.
    Trusted,
}

/// State of the TCP checksum of a frame sent by the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxChecksum {
    /// The checksum is complete: a rewrite updates it incrementally (RFC 1624).
    Complete,
    /// The checksum is blank/partial (`NETTXF_csum_blank`): the field holds the
    /// pseudo-header seed that offload completes later, so a rewrite leaves it alone.
    Partial,
}

const BARE_SYN_MASK: u8 = TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST | TcpFlags::FIN;

/// Whether a flow may be dropped without breaking a rule: nothing early-acked is
/// outstanding (the guest acknowledged everything vSnoop did, held frames
/// included), or the sender reset the connection.
fn evictable(f: &Flow) -> bool {
    match f.state() {
        None => false,
        Some(FlowState::SynSeen | FlowState::GuestSynSent) => true,
        Some(_) => !f.is_dirty() || f.has(fl::RST_SEEN),
    }
}

/// Eviction rank when the table is full: half-open and closing flows first, then
/// other evictable flows; `None` = must stay.
fn evict_rank(f: &Flow) -> Option<u32> {
    if !evictable(f) {
        return None;
    }
    match f.state() {
        Some(
            FlowState::SynSeen
            | FlowState::GuestSynSent
            | FlowState::Establishing
            | FlowState::Closing,
        ) => Some(0),
        _ => Some(1),
    }
}

/// The vSnoop engine. See the crate documentation and docs/snoop.md.
pub struct Engine {
    cfg: Config,
    table: FlowTable,
    counters: Counters,
    /// One bit per vif: set while its free RX slots are below the threshold.
    nobuf: Box<VifBitmap>,
    /// The idle clock's epoch is `now_ns >> epoch_shift`: the smallest power of two
    /// of nanoseconds that is at least half of `idle_timeout_ns`.
    epoch_shift: u32,
    /// Time of the previous `expire_idle` call.
    last_expire_ns: Option<u64>,
    /// The handshake hold (module `hold`).
    hold: Hold,
    /// Deferred early ACKs (module `defer`).
    defer: DeferQueue,
}

/// One bit per vif id (NO-BUFFER), 8 KiB.
type VifBitmap = [u64; VIFS / 64];
const VIFS: usize = VifId::MAX as usize + 1;

impl Engine {
    /// Size in bytes of one flow-table entry, key included.
    pub const FLOW_ENTRY_BYTES: usize = core::mem::size_of::<Flow>();

    /// Most entries the deferred-ACK queue (R12) holds, whatever `max_flows`: about
    /// 10 MiB at most. The queue holds the early ACKs of the last `ack_defer_ns`, so
    /// this is 1.3 G ACKs/s at the kernel's 50 µs (6.5 M/s at its 10 ms maximum); when
    /// it is full, early ACKs go out at once, as with no delay.
    pub const ACK_DEFER_QUEUE_MAX: usize = 65_536;

    /// Creates an engine; allocates the flow table ([`Engine::FLOW_ENTRY_BYTES`] per
    /// flow and a 4-byte index slot per 2/3 flow) and an 8 KiB per-vif bitmap.
    /// Afterwards only the handshake hold (within `hold_bytes`) and the deferred-ACK
    /// queue (at most [`Engine::ACK_DEFER_QUEUE_MAX`] entries of about 150 bytes)
    /// allocate, as they fill: [`Engine::memory_bound`] adds it all up.
    pub fn new(cfg: Config) -> Self {
        let table = FlowTable::new(cfg.max_flows, cfg.hash_seed);
        let half = (cfg.idle_timeout_ns / 2).max(1);
        let epoch_shift = (u64::BITS - (half - 1).leading_zeros()).min(63);
        Engine {
            table,
            counters: Counters::default(),
            nobuf: Box::new([0; VIFS / 64]),
            epoch_shift,
            last_expire_ns: None,
            hold: Hold::new(cfg.hold_bytes, cfg.hold_retry_ns),
            defer: DeferQueue::new(Self::defer_cap(&cfg), cfg.ack_defer_ns),
            cfg,
        }
    }

    fn defer_cap(cfg: &Config) -> usize {
        if cfg.ack_defer_ns > 0 {
            cfg.max_flows.min(Self::ACK_DEFER_QUEUE_MAX)
        } else {
            0
        }
    }

    /// Most heap bytes an engine with `cfg` allocates, at [`Engine::new`] and later:
    /// the flow table, the per-vif bitmap, the handshake hold's budget twice
    /// (`hold_bytes`, which charges each held frame its bookkeeping too; frames held
    /// together come due together, and `poll_redeliver` hands out a copy of each) and
    /// the deferred-ACK queue when full. A caller with a fixed heap checks this before
    /// `Engine::new` (which, like any allocation, cannot report failure).
    pub fn memory_bound(cfg: &Config) -> usize {
        FlowTable::bytes_for(cfg.max_flows)
            .saturating_add(core::mem::size_of::<VifBitmap>())
            .saturating_add(cfg.hold_bytes.saturating_mul(2))
            .saturating_add(DeferQueue::bytes_bound(Self::defer_cap(cfg)))
    }

    /// `cfg` cut down, if need be, so that [`Engine::memory_bound`] fits in `bytes`:
    /// the hold's budget to at most a quarter of `bytes` (it counts twice), then the
    /// flow table halved (down to 16 flows), then the hold to what is left. The caller
    /// logs what changed (compare `max_flows` and `hold_bytes`); a `bytes` too small even
    /// for that is returned as close as it gets.
    pub fn fit_config(mut cfg: Config, bytes: usize) -> Config {
        if Self::memory_bound(&cfg) <= bytes {
            return cfg;
        }
        cfg.hold_bytes = cfg.hold_bytes.min(bytes / 4);
        while Self::memory_bound(&cfg) > bytes && cfg.max_flows > 16 {
            cfg.max_flows = (cfg.max_flows / 2).max(16);
        }
        let rest = Self::memory_bound(&Config {
            hold_bytes: 0,
            ..cfg.clone()
        });
        cfg.hold_bytes = cfg.hold_bytes.min(bytes.saturating_sub(rest) / 2);
        cfg
    }

    /// The idle clock at `now_ns`, modulo 4 (a flow keeps two bits of it).
    #[inline(always)]
    fn epoch(&self, now_ns: u64) -> u8 {
        (now_ns >> self.epoch_shift) as u8 & 3
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Global switch. Off: no early ACK is sent. Flows are still learned and
    /// tracked (switching on resumes at once), and the guest segments of a flow whose
    /// early-acked bytes the guest has not acknowledged yet keep being filtered and
    /// rewritten until it has: otherwise switching off would itself send the sender
    /// duplicate ACKs and window updates it ignores. A flow with nothing outstanding
    /// is passed through untouched.
    pub fn set_enabled(&mut self, on: bool) {
        self.cfg.enabled = on;
    }

    /// The global switch.
    pub fn is_enabled(&self) -> bool {
        self.cfg.enabled
    }

    /// Per-flow switch (same semantics as the global one, for one flow). Returns
    /// false if the flow is not in the table.
    pub fn set_flow_enabled(&mut self, key: &FlowKey, on: bool) -> bool {
        match self.table.find(key) {
            Some(i) => {
                self.table.get_mut(i).set_flag(fl::ENABLED, on);
                true
            }
            None => false,
        }
    }

    /// A frame from the network was copied into one of guest `vif`'s posted RX
    /// buffers (it IS in the guest's buffer). `rx_free_slots` = posted RX requests
    /// left after this delivery. Writes a complete early-ACK frame into `ack_out`
    /// (at least [`crate::ACK_FRAME_MAX`] bytes) and returns its length when one is
    /// due. Checksums are verified by the engine ([`RxChecksum::Verify`]).
    pub fn on_delivered_to_guest(
        &mut self,
        vif: VifId,
        frame: &[u8],
        rx_free_slots: u32,
        now_ns: u64,
        ack_out: &mut [u8],
    ) -> Option<usize> {
        self.on_delivered_to_guest_with(
            vif,
            frame,
            rx_free_slots,
            RxChecksum::Verify,
            now_ns,
            ack_out,
        )
    }

    /// [`Engine::on_delivered_to_guest`] with an explicit checksum policy.
    pub fn on_delivered_to_guest_with(
        &mut self,
        vif: VifId,
        frame: &[u8],
        rx_free_slots: u32,
        csum: RxChecksum,
        now_ns: u64,
        ack_out: &mut [u8],
    ) -> Option<usize> {
        self.counters.rx_delivered += 1;
        let slots_ok = rx_free_slots >= self.cfg.min_free_rx_slots;
        self.set_vif_nobuf(vif, !slots_ok);
        // Borrowed, not moved: the parsed view stays where it was built.
        let parsed = parse_seg(frame);
        let f = match &parsed {
            Ok(f) => f,
            Err(e) => {
                self.counters.rx_pass.bump((*e).into());
                return None;
            }
        };
        let t = self.epoch(now_ns);
        let key = KeyWords::of_seg(vif, f, frame, true);
        let mut csum = CsumCheck::new(frame, csum == RxChecksum::Verify);
        if f.flags.0 & BARE_SYN_MASK == TcpFlags::SYN {
            let r = if csum.ok(f) {
                match self.find_or_insert(&FlowKey::of_network_seg(vif, f, frame), t) {
                    // A SYN on a flow with held data: a duplicate of the first SYN or
                    // one the guest's live connection ignores (a request socket
                    // answers with its SYN-ACK): the held bytes still need delivering,
                    // so the flow stays as it is, unless the sender reset it (an RST
                    // at rcv_nxt): then this is a new connection on the same 4-tuple.
                    Some(i)
                        if self.table.get(i).holding() && !self.table.get(i).has(fl::RST_SEEN) =>
                    {
                        PassReason::Handshake
                    }
                    Some(i) => {
                        self.drop_held(i);
                        self.table
                            .get_mut(i)
                            .start_passive(f, t, &mut self.counters);
                        PassReason::Handshake
                    }
                    None => PassReason::TableFull,
                }
            } else {
                PassReason::BadChecksum
            };
            self.counters.rx_pass.bump(r);
            return None;
        }
        let Some(i) = self.table.find_words(&key) else {
            self.counters.rx_pass.bump(PassReason::NoFlow);
            return None;
        };
        let ack_room = ack_out.len() >= ack_len(f, true);
        let flow = self.table.get_mut(i);
        flow.touch(t);
        // The hold matters only before the guest's socket is proven (and to recognise
        // its own redeliveries): nothing of it on the common path.
        let hold = if flow.state() != Some(FlowState::Establishing) || !self.hold.enabled() {
            HoldRoom::Off
        } else if frame.len() <= self.cfg.hold_frame_max
            && self.hold.has_room(&flow.key, frame.len())
        {
            HoldRoom::Room
        } else {
            HoldRoom::Full
        };
        if flow.holding()
            && !f.flags.any(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST)
            && self
                .hold
                .covers(&flow.key, f.seq, f.seq.wrapping_add(f.payload_len()))
        {
            // Held bytes coming back (a redelivery, or the sender retransmitting them):
            // nothing new but the timestamp, which the guest's TCP learns from too.
            if flow.has(fl::TS_OK) && csum.ok(f) {
                flow.learn_timestamps(f);
            }
            self.counters.rx_pass.bump(PassReason::Redelivery);
            return None;
        }
        let mut env = RxEnv {
            slots_ok,
            enabled: self.cfg.enabled,
            ack_room,
            hold,
            csum,
        };
        let before = flow.state();
        match flow.on_sender_delivered(f, &mut env, &mut self.counters) {
            RxOutcome::Ack {
                fields,
                newly,
                prev_ack_point,
                hold,
            } if !hold
                && self.cfg.ack_defer_ns > 0
                && (flow.pending_queued() || self.defer.has_room()) =>
            {
                // R12: commit now, send later unless the guest's own segment does.
                if !flow.pending_queued() {
                    let p = self.defer.push(now_ns, flow.key, i);
                    let id = p.id;
                    let Some(n) = write_ack(frame, f, &fields, &mut p.frame) else {
                        self.defer.pop_last();
                        flow.ack_point = prev_ack_point;
                        self.counters.rx_pass.bump(PassReason::AckBufferTooSmall);
                        return None;
                    };
                    p.len = n as u8;
                    p.tcp_off = ack_tcp_offset(f) as u8;
                    flow.set_pending_entry(id);
                    self.counters.acks_deferred += 1;
                }
                flow.add_acked_bytes(newly);
                self.counters.early_acked_bytes += newly as u64;
                None
            }
            RxOutcome::Ack {
                fields,
                newly,
                prev_ack_point,
                hold,
            } => match write_ack(frame, f, &fields, ack_out) {
                Some(n) => {
                    // The sender gets `ack_point` now (a full deferral queue).
                    flow.clear_ack_pending();
                    if hold {
                        let end = f.seq.wrapping_add(f.payload_len());
                        self.hold.push(&flow.key, f.seq, end, frame, now_ns);
                        flow.set_holding(true);
                        self.counters.held_frames += 1;
                    }
                    flow.early_acks = flow.early_acks.wrapping_add(1);
                    flow.add_acked_bytes(newly);
                    self.counters.early_acks += 1;
                    self.counters.early_acked_bytes += newly as u64;
                    Some(n)
                }
                None => {
                    flow.ack_point = prev_ack_point;
                    if hold {
                        flow.rcv_nxt = prev_ack_point;
                    }
                    self.counters.rx_pass.bump(PassReason::AckBufferTooSmall);
                    None
                }
            },
            RxOutcome::Pass(r) => {
                self.counters.rx_pass.bump(r);
                None
            }
            RxOutcome::Remove => {
                self.drop_held(i);
                self.table.remove(i);
                self.counters.removed_rst += 1;
                self.counters.count_transition(before, None);
                self.counters.rx_pass.bump(PassReason::ControlFlag);
                None
            }
        }
    }

    /// A frame from the network for `vif` could not be delivered (dropped): its
    /// bytes are never early-acked, and a tracked flow leaves ACTIVE for
    /// UNEXPECTED-SEQ (the guest will see a gap).
    pub fn on_not_delivered(&mut self, vif: VifId, frame: &[u8], now_ns: u64) {
        self.counters.rx_not_delivered += 1;
        let Ok(f) = parse_seg(frame) else {
            return;
        };
        let key = KeyWords::of_seg(vif, &f, frame, true);
        if let Some(i) = self.table.find_words(&key) {
            let t = self.epoch(now_ns);
            let flow = self.table.get_mut(i);
            flow.touch(t);
            let end = f.seq.wrapping_add(f.payload_len());
            if flow.holding()
                && !f.flags.any(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST)
                && self.hold.covers(&flow.key, f.seq, end)
            {
                return; // held bytes that did not make it: redelivered later
            }
            flow.on_sender_lost(&f, &mut self.counters);
        }
    }

    /// A frame the guest sent toward the network, with a complete TCP checksum. The
    /// engine learns from it (handshake, guest ACK/window/TSval) and may suppress or
    /// rewrite it (ACK and window, checksum updated incrementally).
    pub fn on_from_guest(&mut self, vif: VifId, frame: &mut [u8], now_ns: u64) -> GuestVerdict {
        self.on_from_guest_with(vif, frame, TxChecksum::Complete, now_ns)
    }

    /// [`Engine::on_from_guest`] for a frame whose TCP checksum may be partial.
    pub fn on_from_guest_with(
        &mut self,
        vif: VifId,
        frame: &mut [u8],
        csum: TxChecksum,
        now_ns: u64,
    ) -> GuestVerdict {
        self.counters.tx_frames += 1;
        // Borrowed, not moved: the parsed view stays where it was built.
        let parsed = parse_seg(frame);
        let f = match &parsed {
            Ok(f) => f,
            Err(e) => {
                self.counters.tx_pass.bump((*e).into());
                return GuestVerdict::Forward;
            }
        };
        let t = self.epoch(now_ns);
        let key = KeyWords::of_seg(vif, f, frame, false);
        if f.flags.0 & BARE_SYN_MASK == TcpFlags::SYN {
            match self.find_or_insert(&FlowKey::of_guest_seg(vif, f, frame), t) {
                Some(i) => {
                    self.drop_held(i);
                    self.table.get_mut(i).start_active(f, t, &mut self.counters);
                    self.counters.tx_pass.bump(PassReason::Handshake);
                }
                None => self.counters.tx_pass.bump(PassReason::TableFull),
            }
            return GuestVerdict::Forward;
        }
        let Some(i) = self.table.find_words(&key) else {
            self.counters.tx_pass.bump(PassReason::NoFlow);
            return GuestVerdict::Forward;
        };
        let vif_nobuf = self.vif_nobuf(vif);
        let flow = self.table.get_mut(i);
        flow.touch(t);
        if !vif_nobuf && flow.state() == Some(FlowState::NoBuffer) {
            flow.goto(FlowState::Active, &mut self.counters);
        }
        let before = flow.state();
        let (out, remove) = flow.on_guest(f, self.hold.enabled(), &mut self.counters);
        if flow.holding() {
            let key = flow.key;
            if f.flags.has(TcpFlags::SYN) || f.opts.sack_blocks > 0 {
                // A SYN-ACK retransmission (the guest never saw the third ACK) or
                // SACK blocks (a hole): redeliver now rather than at the timer.
                self.hold.hurry(&key, now_ns);
            }
            let (released, left) = self.hold.release(&key, flow.guest_ack);
            self.counters.hold_released += released as u64;
            if left == 0 {
                flow.set_holding(false);
            }
        }
        let verdict = match out {
            TxOutcome::Forward => {
                self.counters.guest_forwarded += 1;
                GuestVerdict::Forward
            }
            TxOutcome::Suppress => {
                flow.suppressed = flow.suppressed.wrapping_add(1);
                self.counters.guest_suppressed += 1;
                GuestVerdict::Suppress
            }
            TxOutcome::Rewrite { ack, window } => {
                rewrite(frame, f, ack, window, csum);
                self.counters.guest_rewritten += 1;
                GuestVerdict::Forward
            }
        };
        if remove {
            self.drop_held(i);
            self.table.remove(i);
            self.counters.removed_rst += 1;
            self.counters.count_transition(before, None);
        }
        verdict
    }

    /// The guest posted RX buffers: `rx_free_slots` are now free. At or above the
    /// threshold, the vif leaves NO-BUFFER; its flows resume early ACKs with their
    /// next in-order delivery (each flow's state changes at its next event).
    pub fn on_rx_space(&mut self, vif: VifId, rx_free_slots: u32) {
        self.set_vif_nobuf(vif, rx_free_slots < self.cfg.min_free_rx_slots);
    }

    /// The vif disconnected or restarted: forget all its flows. Returns how many.
    ///
    /// The data path must not call this while bytes that vSnoop early-acked may
    /// still be in the guest's RX ring unconsumed and the ring is about to be
    /// discarded: see "Known limits" in docs/snoop.md.
    pub fn on_vif_reset(&mut self, vif: VifId) -> usize {
        let counters = &mut self.counters;
        let n = self.table.retain_not(|f| {
            if f.key.vif == vif {
                counters.count_transition(f.state(), None);
                true
            } else {
                false
            }
        });
        self.counters.removed_vif_reset += n as u64;
        self.counters.hold_dropped += self.hold.drop_where(|k| k.vif == vif) as u64;
        self.set_vif_nobuf(vif, false);
        n
    }

    /// Removes flows idle for at least `idle_timeout_ns` that can go without
    /// breaking a rule (nothing early-acked outstanding, handshake incomplete, or
    /// reset). Walks the whole table: call it every second or so. Returns how many.
    ///
    /// The idle clock is two bits per flow: epochs of E = the smallest power of two
    /// of ns >= `idle_timeout_ns / 2`. A flow goes once three epoch boundaries have
    /// passed since its last activity (idle > 2E >= the timeout) and before the
    /// fourth (idle < 4E); a flow that is still idle but was not removed in that
    /// window (no call, or not evictable) starts another round. Call this at least
    /// once per E (34.4 s at the default timeout); calls further apart are counted
    /// in `Counters::expire_late`. A timeout of 0 removes every flow that may go.
    pub fn expire_idle(&mut self, now_ns: u64) -> usize {
        let now = self.epoch(now_ns);
        if let Some(prev) = self.last_expire_ns.replace(now_ns) {
            if now_ns.saturating_sub(prev) > 1u64 << self.epoch_shift {
                self.counters.expire_late += 1;
            }
        }
        let all = self.cfg.idle_timeout_ns == 0;
        let counters = &mut self.counters;
        let hold = &mut self.hold;
        let n = self.table.retain_not(|f| {
            if (all || f.idle_epochs(now) == 3) && evictable(f) {
                counters.count_transition(f.state(), None);
                if f.holding() {
                    counters.hold_dropped += hold.drop_key(&f.key) as u64;
                }
                true
            } else {
                false
            }
        });
        self.counters.evicted_idle += n as u64;
        n
    }

    /// Handshake hold: appends to `out` every held frame due for redelivery at
    /// `now_ns` (the guest has not acknowledged it in time, or showed it lacks it), as
    /// `(vif, frame)`, and returns how many. Deliver each to that vif's guest like a
    /// frame from the network, whole or cut into segments (the engine recognises held
    /// bytes when `on_delivered_to_guest*` or `on_not_delivered` sees them again); it
    /// stays held until the guest acknowledges it, and comes back later if it gets
    /// lost. A redelivered frame carries the newest timestamp the sender has shown
    /// (TSval rewritten, checksum updated), so that the guest's PAWS check, which may
    /// have seen newer timestamps since, accepts it. Call it on every turn of the data
    /// path's loop (cheap when nothing is due) or whenever [`Engine::hold_next_due`]
    /// has passed. A flow whose oldest held frame went unacknowledged through every
    /// try (about 205 s) is given up and removed (`Counters::hold_expired`).
    pub fn poll_redeliver(&mut self, now_ns: u64, out: &mut Vec<(VifId, Vec<u8>)>) -> usize {
        let mut due = Vec::new();
        let mut expired = Vec::new();
        self.hold.take_due(now_ns, &mut due, &mut expired);
        for key in expired {
            self.counters.hold_expired += 1;
            // The guest never took these bytes: its connection cannot be alive with
            // them. Forget the flow.
            if let Some(i) = self.table.find(&key) {
                let st = self.table.get(i).state();
                self.table.remove(i);
                self.counters.count_transition(st, None);
            }
        }
        let n = due.len();
        for (key, mut frame) in due {
            if let Some(i) = self.table.find(&key) {
                let fl = self.table.get(i);
                if fl.has(fl::TS_OK) {
                    refresh_tsval(&mut frame, fl.ts_max);
                }
            }
            self.counters.redelivered += 1;
            out.push((key.vif, frame));
        }
        n
    }

    /// The next deferred early ACK due at `now_ns` (`Config::ack_defer_ns`): writes
    /// it into `ack_out` (at least [`crate::ACK_FRAME_MAX`] bytes) and returns the
    /// guest's vif (the ACK goes to the network as if that guest had sent it) and its
    /// length. Call until `None` whenever [`Engine::ack_next_due`] has passed.
    pub fn poll_deferred_ack(&mut self, now_ns: u64, ack_out: &mut [u8]) -> Option<(VifId, usize)> {
        // Too small a buffer: nothing is taken off the queue (caller's mistake).
        let ack_out = ack_out.get_mut(..ACK_FRAME_MAX)?;
        let enabled = self.cfg.enabled;
        while let Some(p) = self.defer.front_due(now_ns) {
            let sent = Self::send_pending(&mut self.table, &mut self.counters, enabled, p, ack_out);
            self.defer.pop();
            if sent.is_some() {
                return sent;
            }
        }
        None
    }

    /// One due entry: the early ACK for its flow's committed point, if this entry is
    /// still the one to send it.
    fn send_pending(
        table: &mut FlowTable,
        counters: &mut Counters,
        enabled: bool,
        p: &mut Pending,
        ack_out: &mut [u8],
    ) -> Option<(VifId, usize)> {
        let hint = p.pos as usize;
        let i = if hint < table.len() && table.get(hint).key == p.key {
            hint
        } else {
            // The flow moved in the table, or is gone.
            table.find(&p.key)?
        };
        let flow = table.get_mut(i);
        // Carried by a guest segment already, or a later entry (or one of a new
        // connection on the same ports) is the one to send it.
        if flow.pending_entry() != Some(p.id) {
            return None;
        }
        // Switched off (R9): not sent. The flow stays pending, so the guest's next
        // segment carries the committed point (nothing is suppressed before), and
        // unqueued, so that its next early ACK once switched on queues a new entry.
        let n = p.len as usize;
        if !enabled
            || !flow.has(fl::ENABLED)
            || !patch_ack(
                &mut p.frame[..n],
                p.tcp_off as usize,
                &flow.pending_ack_fields(),
            )
        {
            // (A patch fails only if the frame was not written for this flow.)
            flow.set_pending_entry(UNQUEUED);
            return None;
        }
        let out = ack_out.get_mut(..n)?;
        out.copy_from_slice(&p.frame[..n]);
        flow.clear_ack_pending();
        flow.early_acks = flow.early_acks.wrapping_add(1);
        counters.early_acks += 1;
        counters.deferred_sent += 1;
        Some((p.key.vif, n))
    }

    /// When the oldest deferred early ACK is due (`None`: none is queued).
    pub fn ack_next_due(&self) -> Option<u64> {
        self.defer.next_due()
    }

    /// Deferred early ACKs queued (including ones a guest segment carried since,
    /// which are skipped when they come up).
    pub fn deferred_len(&self) -> usize {
        self.defer.len()
    }

    /// When the next held frame is due for redelivery (`None`: nothing held).
    pub fn hold_next_due(&self) -> Option<u64> {
        self.hold.next_due()
    }

    /// Frames and bytes in the handshake hold now.
    pub fn hold_usage(&self) -> (usize, usize) {
        (self.hold.frames(), self.hold.bytes())
    }

    /// Drops the held frames of the flow at table index `i`, if it has any.
    fn drop_held(&mut self, i: usize) {
        let f = self.table.get_mut(i);
        if f.holding() {
            f.set_holding(false);
            let key = f.key;
            self.counters.hold_dropped += self.hold.drop_key(&key) as u64;
        }
    }

    /// Totals.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Number of tracked flows.
    pub fn flow_count(&self) -> usize {
        self.table.len()
    }

    /// Flows holding bytes that vSnoop acknowledged and the guest has not
    /// acknowledged yet (connections the sender reset excepted). Those bytes exist
    /// only in the guests' RX rings: while this is non-zero, tearing a ring down under
    /// a live guest (suspend, migration, backend restart) could lose bytes the sender
    /// has already discarded. Switch the engine off (`set_enabled(false)`) and wait
    /// for zero before such a teardown: the guests acknowledge the bytes themselves
    /// the next time they run. Walks the whole table.
    pub fn outstanding_flows(&self) -> usize {
        self.table.iter().filter(|f| !evictable(f)).count()
    }

    /// Maximum number of tracked flows (`Config::max_flows`).
    pub fn capacity(&self) -> usize {
        self.table.max_flows()
    }

    /// Bytes held by the flow table.
    pub fn table_bytes(&self) -> usize {
        self.table.bytes()
    }

    /// Snapshot of one flow (state, sequence state, per-flow counters).
    pub fn flow_info(&self, key: &FlowKey) -> Option<FlowInfo> {
        let i = self.table.find(key)?;
        Some(self.info(self.table.get(i)))
    }

    /// Snapshots of all flows (table order).
    pub fn flows(&self) -> impl Iterator<Item = FlowInfo> + '_ {
        self.table.iter().map(|f| self.info(f))
    }

    fn info(&self, f: &Flow) -> FlowInfo {
        let mut st = f.state().unwrap_or(FlowState::SynSeen);
        if st == FlowState::NoBuffer && !self.vif_nobuf(f.key.vif) {
            st = FlowState::Active;
        }
        FlowInfo::of(f, st)
    }

    fn find_or_insert(&mut self, key: &FlowKey, t: u8) -> Option<usize> {
        if let Some(i) = self.table.find(key) {
            return Some(i);
        }
        if let Some(i) = self.table.insert(key) {
            self.counters.flows_created += 1;
            return Some(i);
        }
        let v = self.table.pick_victim(t, evict_rank)?;
        let st = self.table.get(v).state();
        self.drop_held(v);
        self.table.remove(v);
        self.counters.evicted_full += 1;
        self.counters.count_transition(st, None);
        let i = self.table.insert(key)?;
        self.counters.flows_created += 1;
        Some(i)
    }

    #[inline]
    fn vif_nobuf(&self, vif: VifId) -> bool {
        self.nobuf[(vif >> 6) as usize] & (1u64 << (vif & 63)) != 0
    }

    #[inline]
    fn set_vif_nobuf(&mut self, vif: VifId, on: bool) {
        let w = &mut self.nobuf[(vif >> 6) as usize];
        let bit = 1u64 << (vif & 63);
        if on {
            if *w & bit == 0 {
                self.counters.vif_no_buffer_entered += 1;
            }
            *w |= bit;
        } else {
            *w &= !bit;
        }
    }
}

/// Rewrites ACK and window of a guest segment in place.
fn rewrite(frame: &mut [u8], f: &Seg, ack: u32, window: u16, csum: TxChecksum) {
    let l4 = f.l4_off as usize;
    let Some(seg) = frame.get_mut(l4..l4 + f.l4_len as usize) else {
        return;
    };
    let Ok(mut t) = TcpHeader::new_checked(seg) else {
        return;
    };
    let (old_ack, old_win) = (t.ack(), t.window());
    t.set_ack(ack);
    t.set_window(window);
    if csum == TxChecksum::Complete {
        let c = update16(update32(t.checksum(), old_ack, ack), old_win, window);
        t.set_checksum(c);
    }
}

/// Raises the TSval of a held frame to `tsval` (if older), updating the TCP checksum
/// incrementally (RFC 1624). A frame without a timestamps option is left alone.
fn refresh_tsval(frame: &mut [u8], tsval: u32) {
    let Ok(t) = crate::wire::parse_tcp_frame(frame) else {
        return;
    };
    let (Some(off), Some((old, _))) = (t.opts.ts_offset, t.opts.timestamps) else {
        return;
    };
    if !crate::seq::lt(old, tsval) {
        return;
    }
    let l4 = t.l4_off;
    let at = l4 + off as usize;
    let Some(field) = frame.get_mut(at..at + 4) else {
        return;
    };
    field.copy_from_slice(&tsval.to_be_bytes());
    let Some(seg) = frame.get_mut(l4..) else {
        return;
    };
    let Ok(mut h) = TcpHeader::new_checked(seg) else {
        return;
    };
    // RFC 1624 on 16-bit words: a field at an odd offset of the TCP header (options
    // need no alignment) straddles words; rotating both values by a byte lines them up
    // with the words they touch (the one's-complement sum is byte-order symmetric).
    let (o, n) = if off % 2 == 1 {
        (old.rotate_left(8), tsval.rotate_left(8))
    } else {
        (old, tsval)
    };
    h.set_checksum(update32(h.checksum(), o, n));
}
