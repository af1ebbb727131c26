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
//! (a SYN-ACK retransmission, or SACK blocks), and backs off exponentially; a frame
//! still unacknowledged after [`MAX_TRIES`] redeliveries (about 100 s at the default
//! 200 ms, longer than Linux keeps a pending connection) is dropped and counted.
//!
//! Bounded by a byte budget (`Config::hold_bytes`); a segment that does not fit is
//! simply not early-acked. Each held frame is one allocation, made on the handshake
//! path only.

use alloc::vec::Vec;

use crate::flow::FlowKey;
use crate::seq;
use crate::VifId;

/// Redeliveries of one frame before it is given up.
pub const MAX_TRIES: u8 = 9;

struct Held {
    key: FlowKey,
    /// Sequence numbers of the frame's payload.
    seq: u32,
    end: u32,
    due_ns: u64,
    tries: u8,
    data: Vec<u8>,
}

/// What `Hold::take_due` found.
pub(crate) enum Due {
    /// The frame at this index is due (rescheduled already): see `Hold::frame`.
    Frame(usize),
    /// A frame of this flow was past its last try: dropped.
    Expired(FlowKey),
    /// Nothing due.
    None,
}

pub(crate) struct Hold {
    frames: Vec<Held>,
    bytes: usize,
    budget: usize,
    retry_ns: u64,
    /// No frame is due before this (a lower bound, exact after a `take_due` that found
    /// nothing due): the data path polls every turn, and this keeps an idle poll O(1).
    earliest: u64,
}

impl Hold {
    pub fn new(budget: usize, retry_ns: u64) -> Self {
        Hold {
            frames: Vec::new(),
            bytes: 0,
            budget,
            retry_ns: retry_ns.max(1),
            earliest: u64::MAX,
        }
    }

    pub fn enabled(&self) -> bool {
        self.budget > 0
    }

    pub fn has_room(&self, len: usize) -> bool {
        self.bytes + len <= self.budget
    }

    pub fn frames(&self) -> usize {
        self.frames.len()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Keeps a copy of `frame` (payload `[seq, end)` of flow `key`).
    pub fn push(&mut self, key: &FlowKey, seq: u32, end: u32, frame: &[u8], now_ns: u64) {
        self.bytes += frame.len();
        let due_ns = now_ns.saturating_add(self.retry_ns);
        self.earliest = self.earliest.min(due_ns);
        self.frames.push(Held {
            key: *key,
            seq,
            end,
            due_ns,
            tries: 0,
            data: frame.to_vec(),
        });
    }

    /// Drops the frames of `key` whose payload ends at or below `upto` (the guest
    /// acknowledged them). Returns (frames released, frames of `key` left).
    pub fn release(&mut self, key: &FlowKey, upto: u32) -> (usize, usize) {
        let mut released = 0;
        let mut left = 0;
        let mut bytes = self.bytes;
        self.frames.retain(|h| {
            if h.key != *key {
                return true;
            }
            if seq::le(h.end, upto) {
                released += 1;
                bytes -= h.data.len();
                false
            } else {
                left += 1;
                true
            }
        });
        self.bytes = bytes;
        (released, left)
    }

    /// The guest shows it lacks data: frames of `key` never redelivered yet are due now.
    pub fn hurry(&mut self, key: &FlowKey, now_ns: u64) {
        for h in self.frames.iter_mut().filter(|h| h.key == *key) {
            if h.tries == 0 {
                h.due_ns = h.due_ns.min(now_ns);
                self.earliest = self.earliest.min(h.due_ns);
            }
        }
    }

    /// Whether payload `[seq, end)` of `key` lies within a held frame: a redelivery
    /// coming back, whole or cut into pieces by the data path (or a retransmission of
    /// held bytes, which carries nothing new either).
    pub fn covers(&self, key: &FlowKey, seq: u32, end: u32) -> bool {
        seq::lt(seq, end)
            && self
                .frames
                .iter()
                .any(|h| h.key == *key && seq::le(h.seq, seq) && seq::le(end, h.end))
    }

    /// Drops every frame matching `pred`. Returns how many.
    pub fn drop_where(&mut self, mut pred: impl FnMut(&FlowKey) -> bool) -> usize {
        let before = self.frames.len();
        let mut bytes = self.bytes;
        self.frames.retain(|h| {
            if pred(&h.key) {
                bytes -= h.data.len();
                false
            } else {
                true
            }
        });
        self.bytes = bytes;
        before - self.frames.len()
    }

    /// When the next frame is due, if any is held (may be early: a lower bound).
    pub fn next_due(&self) -> Option<u64> {
        if self.frames.is_empty() {
            None
        } else {
            Some(self.earliest)
        }
    }

    /// The earliest frame due at `now_ns`: rescheduled (the wait doubles with each
    /// try), or dropped after its last try.
    pub fn take_due(&mut self, now_ns: u64) -> Due {
        if now_ns < self.earliest {
            return Due::None;
        }
        let Some((i, h)) = self.frames.iter().enumerate().min_by_key(|(_, h)| h.due_ns) else {
            self.earliest = u64::MAX;
            return Due::None;
        };
        if h.due_ns > now_ns {
            self.earliest = h.due_ns;
            return Due::None;
        }
        if self.frames[i].tries >= MAX_TRIES {
            let h = self.frames.swap_remove(i);
            self.bytes -= h.data.len();
            self.recompute_earliest();
            return Due::Expired(h.key);
        }
        let retry_ns = self.retry_ns;
        let h = &mut self.frames[i];
        h.tries += 1;
        h.due_ns = now_ns.saturating_add(retry_ns.saturating_mul(1 << h.tries));
        self.recompute_earliest();
        Due::Frame(i)
    }

    /// Exact `earliest` (after a redelivery or expiry, which are rare).
    fn recompute_earliest(&mut self) {
        self.earliest = self
            .frames
            .iter()
            .map(|h| h.due_ns)
            .min()
            .unwrap_or(u64::MAX);
    }

    /// The vif and bytes of held frame `i`.
    pub fn frame(&self, i: usize) -> (VifId, &[u8]) {
        let h = &self.frames[i];
        (h.key.vif, &h.data)
    }

    /// Frames held for `key`.
    pub fn count_of(&self, key: &FlowKey) -> usize {
        self.frames.iter().filter(|h| h.key == *key).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(port: u16) -> FlowKey {
        FlowKey::v4(1, [10, 0, 0, 1], port, [10, 0, 0, 2], 80)
    }

    #[test]
    fn release_drops_acknowledged_frames_only() {
        let mut h = Hold::new(10_000, 100);
        h.push(&key(1), 100, 200, &[1; 150], 0);
        h.push(&key(1), 200, 300, &[2; 150], 0);
        h.push(&key(2), 100, 200, &[3; 150], 0);
        assert_eq!(h.bytes(), 450);
        assert_eq!(h.release(&key(1), 250), (1, 1));
        assert_eq!(h.bytes(), 300);
        assert!(h.covers(&key(1), 200, 300));
        assert!(h.covers(&key(1), 250, 260), "a piece of it");
        assert!(!h.covers(&key(1), 250, 250), "no payload");
        assert!(!h.covers(&key(1), 250, 301), "beyond it");
        assert!(!h.covers(&key(1), 100, 200), "released");
        assert!(!h.covers(&key(2), 200, 300), "another flow's range");
        assert_eq!(h.release(&key(1), 300), (1, 0));
        assert_eq!(h.frames(), 1);
    }

    #[test]
    fn redelivery_backs_off_then_expires() {
        let mut h = Hold::new(10_000, 100);
        h.push(&key(1), 100, 200, &[7; 60], 0);
        assert!(matches!(h.take_due(99), Due::None));
        let mut t = 100;
        for k in 1..=MAX_TRIES {
            match h.take_due(t) {
                Due::Frame(i) => assert_eq!(h.frame(i), (1, &[7u8; 60][..])),
                _ => panic!("try {k} not due at {t}"),
            }
            let next = h.next_due().unwrap();
            assert_eq!(next, t + (100 << k));
            assert!(matches!(h.take_due(next - 1), Due::None));
            t = next;
        }
        assert!(matches!(h.take_due(t), Due::Expired(k) if k == key(1)));
        assert_eq!((h.frames(), h.bytes()), (0, 0));
    }

    #[test]
    fn hurry_and_drop() {
        let mut h = Hold::new(100, 1_000);
        assert!(h.has_room(100) && !h.has_room(101));
        h.push(&key(1), 5, 10, &[1; 80], 0);
        assert!(!h.has_room(21));
        h.hurry(&key(2), 3);
        assert_eq!(h.next_due(), Some(1_000));
        h.hurry(&key(1), 3);
        assert_eq!(h.next_due(), Some(3));
        assert_eq!(h.count_of(&key(1)), 1);
        assert_eq!(h.drop_where(|k| k.remote_port == 1), 1);
        assert_eq!(h.bytes(), 0);
    }
}
