//! The handshake hold: copies of the data segments vSnoop early-acked while a flow
//! was ESTABLISHING, kept until the guest acknowledges them itself.
//!
//! Why: a Linux listener whose accept queue is full drops the third ACK and every
//! data segment that follows it, although they are in its RX buffers; the sender
//! would retransmit them later. Data early-acked in that window exists nowhere else,
//! so vSnoop keeps a copy and retransmits it to the guest in the sender's place
//! (redelivery) until the guest's own ACK covers it: the hold is the "queue
//! guaranteed to deliver them" of the early-ACK rule. Redelivery starts
//! `retry_ns` after a frame was held, at once when the guest shows it lacks the data
//! (a SYN-ACK retransmission, or SACK blocks), and backs off exponentially; a flow
//! whose oldest frame is still unacknowledged one wait after its [`MAX_TRIES`]th
//! redelivery (about 205 s at the default 200 ms: tries at 0.2, 0.6, 1.4 ... 102 s)
//! is given up whole.
//!
//! Per flow the held frames are contiguous in sequence space and in order (the
//! engine holds only the in-order segment at its `rcv_nxt`), so "is this segment
//! held?" and "release up to here" look at the ends of one flow's queue. Bounded by
//! a byte budget (`Config::hold_bytes`) that counts each frame's bytes plus
//! [`ENTRY_OVERHEAD`] of bookkeeping; a segment that does not fit is simply not
//! early-acked. Each held frame is one allocation, made on the handshake path only.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use crate::flow::FlowKey;
use crate::seq;

/// Redeliveries of one frame before its flow is given up.
pub const MAX_TRIES: u8 = 9;

/// Budget bytes charged per held frame besides its own bytes: its queue entry, twice
/// (a queue's capacity runs up to twice its length): tiny segments cannot hold more
/// memory than the budget says.
pub const ENTRY_OVERHEAD: usize = 2 * core::mem::size_of::<Held>();

/// Budget bytes charged per holding flow besides its frames: its queue's first
/// allocation (four entries) and its map entry, twice (B-tree nodes run half full).
pub const FLOW_OVERHEAD: usize = 4 * core::mem::size_of::<Held>()
    + 2 * (core::mem::size_of::<FlowKey>() + core::mem::size_of::<VecDeque<Held>>());

struct Held {
    /// Sequence numbers of the frame's payload.
    seq: u32,
    end: u32,
    due_ns: u64,
    tries: u8,
    data: Vec<u8>,
}

impl Held {
    fn cost(&self) -> usize {
        self.data.len() + ENTRY_OVERHEAD
    }
}

pub(crate) struct Hold {
    flows: BTreeMap<FlowKey, VecDeque<Held>>,
    frames: usize,
    bytes: usize,
    budget: usize,
    retry_ns: u64,
    /// No frame is due before this (a lower bound, exact after a `take_due` pass):
    /// the data path polls every turn, and this keeps an idle poll O(1).
    earliest: u64,
}

impl Hold {
    pub fn new(budget: usize, retry_ns: u64) -> Self {
        Hold {
            flows: BTreeMap::new(),
            frames: 0,
            bytes: 0,
            budget,
            retry_ns: retry_ns.max(1),
            earliest: u64::MAX,
        }
    }

    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    /// Whether a frame of `len` bytes of flow `key` fits in the budget.
    pub fn has_room(&self, key: &FlowKey, len: usize) -> bool {
        let flow = if self.flows.contains_key(key) {
            0
        } else {
            FLOW_OVERHEAD
        };
        self.bytes + len + ENTRY_OVERHEAD + flow <= self.budget
    }

    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Budget bytes in use (frame bytes plus [`ENTRY_OVERHEAD`] each, plus
    /// [`FLOW_OVERHEAD`] per holding flow).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Keeps a copy of `frame` (payload `[seq, end)` of flow `key`, which must
    /// continue the flow's held run).
    pub fn push(&mut self, key: &FlowKey, seq: u32, end: u32, frame: &[u8], now_ns: u64) {
        let due_ns = now_ns.saturating_add(self.retry_ns);
        self.earliest = self.earliest.min(due_ns);
        let h = Held {
            seq,
            end,
            due_ns,
            tries: 0,
            data: frame.to_vec(),
        };
        self.bytes += h.cost();
        self.frames += 1;
        self.flows
            .entry(*key)
            .or_insert_with(|| {
                self.bytes += FLOW_OVERHEAD;
                VecDeque::new()
            })
            .push_back(h);
    }

    /// Drops the frames of `key` whose payload ends at or below `upto` (the guest
    /// acknowledged them). Returns (frames released, frames of `key` left).
    pub fn release(&mut self, key: &FlowKey, upto: u32) -> (usize, usize) {
        let Some(q) = self.flows.get_mut(key) else {
            return (0, 0);
        };
        let mut released = 0;
        while q.front().is_some_and(|h| seq::le(h.end, upto)) {
            let h = q.pop_front().expect("front exists");
            self.bytes -= h.cost();
            released += 1;
        }
        self.frames -= released;
        let left = q.len();
        if left == 0 {
            self.flows.remove(key);
            self.bytes -= FLOW_OVERHEAD;
        } else if left * 4 < q.capacity() {
            // A queue that held many frames gives its memory back as they go (the
            // budget charges frames, not capacity).
            q.shrink_to(left * 2);
        }
        (released, left)
    }

    /// The guest shows it lacks data: frames of `key` never redelivered yet are due now.
    pub fn hurry(&mut self, key: &FlowKey, now_ns: u64) {
        if let Some(q) = self.flows.get_mut(key) {
            for h in q.iter_mut().filter(|h| h.tries == 0) {
                h.due_ns = h.due_ns.min(now_ns);
                self.earliest = self.earliest.min(h.due_ns);
            }
        }
    }

    /// Whether payload `[seq, end)` of `key` lies within the flow's held bytes: a
    /// redelivery coming back, whole or cut into pieces by the data path (or a
    /// retransmission of held bytes, which carries no new data either).
    pub fn covers(&self, key: &FlowKey, seq: u32, end: u32) -> bool {
        let Some(q) = self.flows.get(key) else {
            return false;
        };
        match (q.front(), q.back()) {
            (Some(first), Some(last)) => {
                seq::lt(seq, end) && seq::le(first.seq, seq) && seq::le(end, last.end)
            }
            _ => false,
        }
    }

    /// Drops every frame of flow `key`. Returns how many.
    pub fn drop_key(&mut self, key: &FlowKey) -> usize {
        let Some(q) = self.flows.remove(key) else {
            return 0;
        };
        self.frames -= q.len();
        self.bytes -= FLOW_OVERHEAD + q.iter().map(Held::cost).sum::<usize>();
        q.len()
    }

    /// Drops every frame of the flows matching `pred` (one pass over the holding
    /// flows). Returns how many frames.
    pub fn drop_where(&mut self, mut pred: impl FnMut(&FlowKey) -> bool) -> usize {
        let (mut frames, mut bytes) = (0, 0);
        self.flows.retain(|k, q| {
            if pred(k) {
                frames += q.len();
                bytes += FLOW_OVERHEAD + q.iter().map(Held::cost).sum::<usize>();
                false
            } else {
                true
            }
        });
        self.frames -= frames;
        self.bytes -= bytes;
        frames
    }

    /// When the next frame is due, if any is held (may be early: a lower bound).
    pub fn next_due(&self) -> Option<u64> {
        if self.frames == 0 {
            None
        } else {
            Some(self.earliest)
        }
    }

    /// Every frame due at `now_ns`, rescheduled (the wait doubles with each try),
    /// appended to `due` as (flow, copy); a flow whose frame is past its last try is
    /// dropped whole and appended to `expired`. One pass over the held frames, only
    /// when something may be due.
    pub fn take_due(
        &mut self,
        now_ns: u64,
        due: &mut Vec<(FlowKey, Vec<u8>)>,
        expired: &mut Vec<FlowKey>,
    ) {
        if now_ns < self.earliest {
            return;
        }
        let retry_ns = self.retry_ns;
        let mut earliest = u64::MAX;
        for (k, q) in self.flows.iter_mut() {
            if q.iter().any(|h| h.due_ns <= now_ns && h.tries >= MAX_TRIES) {
                expired.push(*k);
                continue;
            }
            for h in q.iter_mut() {
                if h.due_ns <= now_ns {
                    h.tries += 1;
                    h.due_ns = now_ns.saturating_add(retry_ns.saturating_mul(1 << h.tries));
                    due.push((*k, h.data.clone()));
                }
                earliest = earliest.min(h.due_ns);
            }
        }
        self.earliest = earliest;
        for k in expired.iter() {
            self.drop_key(k);
        }
    }

    /// Frames held for `key`.
    #[cfg(test)]
    pub fn count_of(&self, key: &FlowKey) -> usize {
        self.flows.get(key).map_or(0, |q| q.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16) -> FlowKey {
        FlowKey::v4(1, [10, 0, 0, 1], port, [10, 0, 0, 2], 80)
    }

    const O: usize = ENTRY_OVERHEAD;
    const F: usize = FLOW_OVERHEAD;

    #[test]
    fn release_drops_acknowledged_frames_only() {
        let mut h = Hold::new(10_000, 100);
        h.push(&key(1), 100, 200, &[1; 150], 0);
        h.push(&key(1), 200, 300, &[2; 150], 0);
        h.push(&key(2), 100, 200, &[3; 150], 0);
        assert_eq!(h.bytes(), 450 + 3 * O + 2 * F);
        assert_eq!(h.release(&key(1), 250), (1, 1));
        assert_eq!(h.bytes(), 300 + 2 * O + 2 * F);
        assert!(h.covers(&key(1), 200, 300));
        assert!(h.covers(&key(1), 250, 260), "a piece of it");
        assert!(!h.covers(&key(1), 250, 250), "no payload");
        assert!(!h.covers(&key(1), 250, 301), "beyond it");
        assert!(!h.covers(&key(1), 100, 200), "released");
        assert!(!h.covers(&key(3), 200, 300), "another flow");
        assert_eq!(h.release(&key(1), 300), (1, 0));
        assert_eq!(h.frames(), 1);
        assert_eq!(h.count_of(&key(1)), 0);
        assert_eq!(h.bytes(), 150 + O + F, "the flow's overhead went with it");
        assert_eq!(h.drop_key(&key(2)), 1);
        assert_eq!(h.bytes(), 0);
    }

    #[test]
    fn ranges_wrap_around_sequence_space() {
        let mut h = Hold::new(10_000, 100);
        h.push(&key(1), u32::MAX - 50, 49, &[1; 100], 0);
        h.push(&key(1), 49, 149, &[1; 100], 0);
        assert!(h.covers(&key(1), u32::MAX - 10, 10));
        assert!(h.covers(&key(1), 0, 149));
        assert_eq!(h.release(&key(1), 60), (1, 1));
    }

    #[test]
    fn redelivery_backs_off_then_expires() {
        let mut h = Hold::new(10_000, 100);
        h.push(&key(1), 100, 200, &[7; 60], 0);
        let (mut due, mut expired) = (Vec::new(), Vec::new());
        h.take_due(99, &mut due, &mut expired);
        assert!(due.is_empty());
        let mut t = 100;
        for k in 1..=MAX_TRIES {
            h.take_due(t, &mut due, &mut expired);
            assert_eq!(due, [(key(1), [7u8; 60].to_vec())], "try {k} at {t}");
            due.clear();
            let next = h.next_due().unwrap();
            assert_eq!(next, t + (100 << k));
            h.take_due(next - 1, &mut due, &mut expired);
            assert!(due.is_empty());
            t = next;
        }
        h.take_due(t, &mut due, &mut expired);
        assert!(due.is_empty());
        assert_eq!(expired, [key(1)]);
        assert_eq!((h.frames(), h.bytes(), h.next_due()), (0, 0, None));
    }

    #[test]
    fn hurry_and_drop() {
        let mut h = Hold::new(100 + O + F, 1_000);
        assert!(h.has_room(&key(1), 100) && !h.has_room(&key(1), 101));
        h.push(&key(1), 5, 10, &[1; 80], 0);
        assert!(!h.has_room(&key(1), 21));
        assert!(!h.has_room(&key(2), 1), "a new flow pays its overhead");
        h.hurry(&key(2), 3);
        assert_eq!(h.next_due(), Some(1_000));
        h.hurry(&key(1), 3);
        assert_eq!(h.next_due(), Some(3));
        assert_eq!(h.count_of(&key(1)), 1);
        assert_eq!(h.drop_where(|k| k.remote_port == 1), 1);
        assert_eq!((h.bytes(), h.frames()), (0, 0));
    }
}
