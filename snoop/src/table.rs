//! Fixed-capacity flow table: open addressing with linear probing and
//! backward-shift deletion (no tombstones), allocated once.
//!
//! The table has `max_flows * 3 / 2 + 1` slots and never holds more than
//! `max_flows` flows, so a probe always ends at a free slot. The hash is keyed with
//! `Config::hash_seed` so a remote peer cannot pick colliding keys without it.

use alloc::vec::Vec;

use crate::flow::{Flow, FlowKey};

/// Slots scanned per eviction attempt.
const EVICT_SCAN: usize = 64;

pub(crate) struct FlowTable {
    slots: Vec<Flow>,
    len: usize,
    max_flows: usize,
    seed: u64,
    hand: usize,
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

const K0: u64 = 0x243f_6a88_85a3_08d3;
const K1: u64 = 0x1319_8a2e_0370_7344;

#[inline]
fn word(b: &[u8; 16], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[i * 8..i * 8 + 8]);
    u64::from_ne_bytes(w)
}

impl FlowTable {
    pub fn new(max_flows: usize, seed: u64) -> Self {
        let n = max_flows.saturating_add(max_flows / 2).saturating_add(1);
        let mut slots = Vec::with_capacity(n);
        slots.resize(n, Flow::default());
        FlowTable {
            slots,
            len: 0,
            max_flows,
            seed,
            hand: 0,
        }
    }

    #[inline]
    fn hash(&self, k: &FlowKey) -> u64 {
        let ports = ((k.vif as u64) << 32) | ((k.remote_port as u64) << 16) | k.guest_port as u64;
        let mut h = fold_mul(self.seed ^ ports, K0);
        h = fold_mul(h ^ word(&k.remote, 0), K1 ^ word(&k.remote, 1));
        h = fold_mul(h ^ word(&k.guest, 0), K0 ^ word(&k.guest, 1));
        fold_mul(h, K1)
    }

    #[inline]
    fn home(&self, k: &FlowKey) -> usize {
        ((self.hash(k) as u128 * self.slots.len() as u128) >> 64) as usize
    }

    #[inline]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() {
            0
        } else {
            i + 1
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn max_flows(&self) -> usize {
        self.max_flows
    }

    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Index of the flow with key `k`.
    #[inline]
    pub fn find(&self, k: &FlowKey) -> Option<usize> {
        let mut i = self.home(k);
        loop {
            let s = &self.slots[i];
            if s.is_free() {
                return None;
            }
            if s.key == *k {
                return Some(i);
            }
            i = self.next(i);
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> &Flow {
        &self.slots[i]
    }

    #[inline]
    pub fn get_mut(&mut self, i: usize) -> &mut Flow {
        &mut self.slots[i]
    }

    /// Inserts a fresh entry for `k` (which must not be present); `None` if full.
    /// The caller initialises the entry (its state must become non-free).
    pub fn insert(&mut self, k: &FlowKey) -> Option<usize> {
        if self.len >= self.max_flows {
            return None;
        }
        let mut i = self.home(k);
        while !self.slots[i].is_free() {
            i = self.next(i);
        }
        self.slots[i] = Flow {
            key: *k,
            ..Flow::default()
        };
        self.len += 1;
        Some(i)
    }

    /// Removes the entry at `i` (backward-shift deletion: later entries of the same
    /// probe run move back, so indices held by the caller become invalid).
    pub fn remove(&mut self, mut i: usize) {
        if self.slots[i].is_free() {
            return;
        }
        self.len -= 1;
        let mut j = i;
        loop {
            j = self.next(j);
            if self.slots[j].is_free() {
                break;
            }
            let h = self.home(&self.slots[j].key);
            // Move j back to i if its home is not cyclically in (i, j].
            let in_range = if i <= j {
                i < h && h <= j
            } else {
                i < h || h <= j
            };
            if !in_range {
                self.slots[i] = self.slots[j];
                i = j;
            }
        }
        self.slots[i] = Flow::default();
    }

    /// Clock-style victim search: scans up to `EVICT_SCAN` slots from the hand and
    /// returns the flow with the lowest `rank` (`None` = not evictable), the one
    /// idle longest among equals.
    pub fn pick_victim(
        &mut self,
        now_tick: u32,
        rank: impl Fn(&Flow) -> Option<u32>,
    ) -> Option<usize> {
        let n = self.slots.len();
        let mut best: Option<(usize, u32, u32)> = None;
        for _ in 0..EVICT_SCAN.min(n) {
            let i = self.hand;
            self.hand = self.next(self.hand);
            let f = &self.slots[i];
            if f.is_free() {
                continue;
            }
            let Some(r) = rank(f) else {
                continue;
            };
            let age = now_tick.wrapping_sub(f.last_seen);
            if best.is_none_or(|(_, br, ba)| r < br || (r == br && age > ba)) {
                best = Some((i, r, age));
            }
        }
        best.map(|(i, _, _)| i)
    }

    /// Removes every flow for which `pred` holds; returns how many.
    pub fn retain_not(&mut self, mut pred: impl FnMut(&Flow) -> bool) -> usize {
        let mut removed = 0;
        let mut i = 0;
        let mut visited = 0;
        // Backward shifts may move an unvisited entry into slot i: re-check i then.
        // `visited` bounds the walk even when shifts wrap around the end.
        while i < self.slots.len() && visited < 2 * self.slots.len() {
            visited += 1;
            if !self.slots[i].is_free() && pred(&self.slots[i]) {
                self.remove(i);
                removed += 1;
                continue;
            }
            i += 1;
        }
        removed
    }

    /// Iterates over occupied entries.
    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.slots.iter().filter(|f| !f.is_free())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::FlowState;

    fn key(i: u32) -> FlowKey {
        FlowKey::v4(
            (i % 7) as u16,
            i.to_be_bytes(),
            (i % 1000) as u16,
            [10, 0, 0, 1],
            80,
        )
    }

    fn put(t: &mut FlowTable, i: u32) -> Option<usize> {
        let k = key(i);
        let idx = t.insert(&k)?;
        t.get_mut(idx).set_state_raw(FlowState::Active);
        t.get_mut(idx).last_seen = i;
        Some(idx)
    }

    #[test]
    fn insert_find_remove_many() {
        let mut t = FlowTable::new(1000, 42);
        for i in 0..1000 {
            assert!(put(&mut t, i).is_some());
        }
        assert!(put(&mut t, 5000).is_none());
        assert_eq!(t.len(), 1000);
        for i in 0..1000 {
            let idx = t.find(&key(i)).unwrap();
            assert_eq!(t.get(idx).key, key(i));
        }
        assert!(t.find(&key(5000)).is_none());
        for i in (0..1000).step_by(3) {
            let idx = t.find(&key(i)).unwrap();
            t.remove(idx);
        }
        for i in 0..1000 {
            assert_eq!(t.find(&key(i)).is_some(), i % 3 != 0, "{i}");
        }
        let removed = t.retain_not(|f| f.last_seen % 3 == 1);
        assert_eq!(removed, 333);
        for i in 0..1000 {
            assert_eq!(t.find(&key(i)).is_some(), i % 3 == 2, "{i}");
        }
        assert_eq!(t.iter().count(), t.len());
    }

    #[test]
    fn victim_is_oldest_evictable() {
        let mut t = FlowTable::new(10, 1);
        for i in 0..10 {
            put(&mut t, i);
        }
        let v = t
            .pick_victim(100, |f| (f.last_seen != 0).then_some(0))
            .unwrap();
        assert_eq!(t.get(v).last_seen, 1);
        let v = t
            .pick_victim(100, |f| Some(if f.last_seen == 7 { 0 } else { 1 }))
            .unwrap();
        assert_eq!(t.get(v).last_seen, 7);
        assert!(t.pick_victim(100, |_| None).is_none());
    }

    #[test]
    fn zero_capacity() {
        let mut t = FlowTable::new(0, 0);
        assert!(put(&mut t, 1).is_none());
        assert!(t.find(&key(1)).is_none());
    }
}
