//! Deferred early ACKs (docs/snoop.md, rule R12): vSnoop steps aside for a guest that
//! answers in time.
//!
//! With `Config::ack_defer_ns > 0` an early ACK is not sent when its data reaches the
//! guest's buffers. The flow's ACK point is committed at once (the rules that decide
//! whether the bytes may be early-acked run then, unchanged) and a pending ACK is
//! queued here, due `ack_defer_ns` later; further in-order data of the flow only
//! raises the committed point. If the guest's own ACK-bearing segment passes first,
//! it carries the committed point to the sender (forwarded, or rewritten up to it) and
//! the pending ACK is void; otherwise the engine sends it when due, brought up to
//! date (ACK point, window, timestamps as they are then).
//!
//! The delay is constant, so the queue is in due order: a FIFO. An entry names its flow
//! and has an id; the flow records the id of the entry that is to send its pending ACK
//! (`Flow::defer_tag`). An entry whose ACK a guest segment carried, whose flow is gone,
//! or whose flow has a later entry by then (a new pending ACK, or a new connection on
//! the same ports) is skipped when it comes up.

use alloc::collections::VecDeque;

use crate::ack::ACK_FRAME_MAX;
use crate::flow::{FlowKey, UNQUEUED};

/// One pending early ACK: the frame as written when it was queued (its addressing
/// does not change; the fields are patched when it is sent).
pub(crate) struct Pending {
    pub due_ns: u64,
    pub key: FlowKey,
    /// The flow's table position when queued (a hint: positions move on removal).
    pub pos: u32,
    /// This entry's id (31 bits; unique among the entries queued).
    pub id: u32,
    pub len: u8,
    pub tcp_off: u8,
    pub frame: [u8; ACK_FRAME_MAX],
}

pub(crate) struct DeferQueue {
    q: VecDeque<Pending>,
    cap: usize,
    /// The delay (every entry is due this long after it was queued).
    delay_ns: u64,
    next_id: u32,
}

impl DeferQueue {
    /// A queue of at most `cap` entries (allocated as it fills), each due `delay_ns`
    /// after it is queued.
    pub fn new(cap: usize, delay_ns: u64) -> Self {
        DeferQueue {
            q: VecDeque::new(),
            cap,
            delay_ns,
            next_id: 0,
        }
    }

    /// Most heap bytes a queue of `cap` entries allocates (its ring grows by doubling).
    pub fn bytes_bound(cap: usize) -> usize {
        match cap {
            0 => 0,
            _ => cap
                .checked_next_power_of_two()
                .unwrap_or(usize::MAX)
                .saturating_mul(core::mem::size_of::<Pending>()),
        }
    }

    pub fn has_room(&self) -> bool {
        self.q.len() < self.cap
    }

    /// Appends an entry queued at `now_ns` (the caller checked `has_room`) and returns
    /// it for the caller to write its frame into.
    pub fn push(&mut self, now_ns: u64, key: FlowKey, pos: usize) -> &mut Pending {
        let id = self.next_id;
        // 31-bit ids, `UNQUEUED` never issued.
        self.next_id = if id + 1 >= UNQUEUED { 0 } else { id + 1 };
        self.q.push_back(Pending {
            due_ns: now_ns.saturating_add(self.delay_ns),
            key,
            pos: pos as u32,
            id,
            len: 0,
            tcp_off: 0,
            frame: [0; ACK_FRAME_MAX],
        });
        let last = self.q.len() - 1;
        &mut self.q[last]
    }

    /// Takes back the entry just pushed (its frame could not be written).
    pub fn pop_last(&mut self) {
        self.q.pop_back();
    }

    /// When the oldest entry is due.
    pub fn next_due(&self) -> Option<u64> {
        self.q.front().map(|p| p.due_ns)
    }

    /// The oldest entry if it is due at `now_ns` (it stays queued: see `pop`). An entry
    /// due more than twice the delay ahead was queued at a time later than `now_ns` by
    /// more than the delay: the caller's clock went backwards that far, and the entry is
    /// taken as due rather than left blocking the ones behind it (smaller steps back
    /// only delay the entries behind by as much).
    pub fn front_due(&mut self, now_ns: u64) -> Option<&mut Pending> {
        let horizon = now_ns.saturating_add(self.delay_ns.saturating_mul(2));
        self.q
            .front_mut()
            .filter(|p| p.due_ns <= now_ns || p.due_ns > horizon)
    }

    /// Drops the oldest entry.
    pub fn pop(&mut self) {
        self.q.pop_front();
    }

    pub fn len(&self) -> usize {
        self.q.len()
    }
}
