//! Fixed-capacity flow table, allocated once: the flows in a dense array, found
//! through a small open-addressing index (linear probing, backward-shift deletion,
//! no tombstones).
//!
//! The index has `max_flows * 3 / 2 + 1` slots of 32 bits and never holds more than
//! `max_flows` flows, so a probe always ends at an empty slot. A slot holds the
//! flow's position in the dense array (plus one; 0 = empty) in its low bits and a
//! tag (bits of the key's hash) in the rest, so a probe only touches the flow
//! entries whose tag matches. Per flow of capacity this is 90 bytes of entry plus
//! 6 bytes of index (the old layout, open addressing over 96-byte entries
//! themselves, took 144), and a lookup reads one index slot (the index, 6 bytes per
//! flow, tends to stay in cache) and one entry (two cache lines, sometimes three:
//! the packed entries are not line-aligned).
//!
//! The hash is keyed with `Config::hash_seed` so a remote peer cannot pick colliding
//! keys without it.

use alloc::vec;
use alloc::vec::Vec;

use crate::flow::{Flow, FlowKey, KeyWords};

/// Flows scanned per eviction attempt.
const EVICT_SCAN: usize = 64;

pub(crate) struct FlowTable {
    /// The flows: `entries[..len]` are in use.
    entries: Vec<Flow>,
    /// Open-addressing index over `entries` (see the module documentation).
    index: Vec<u32>,
    len: usize,
    max_flows: usize,
    /// Low bits of an index slot that hold the entry position + 1.
    pos_mask: u32,
    /// Hash keys, derived from `Config::hash_seed`.
    k: [u64; 4],
    hand: usize,
}

/// The 128-bit product of `a` and `b`, halves xored ("multiply-fold").
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = (a as u128) * (b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

/// SplitMix64: expands the configured seed into the hash keys.
fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Largest supported capacity: positions + 1 must fit an index slot.
const MAX_FLOWS: usize = (u32::MAX - 1) as usize;

impl FlowTable {
    /// Index slots of a table for `max_flows` flows (1.5 per flow, plus one).
    fn index_len(max_flows: usize) -> usize {
        max_flows.saturating_add(max_flows / 2).saturating_add(1)
    }

    /// Bytes a table for `max_flows` flows allocates (what [`FlowTable::bytes`] will say).
    pub fn bytes_for(max_flows: usize) -> usize {
        let max_flows = max_flows.min(MAX_FLOWS);
        max_flows
            .saturating_mul(core::mem::size_of::<Flow>())
            .saturating_add(Self::index_len(max_flows).saturating_mul(core::mem::size_of::<u32>()))
    }

    /// A table for up to `max_flows` flows (at most 2^32 - 2).
    pub fn new(max_flows: usize, seed: u64) -> Self {
        let max_flows = max_flows.min(MAX_FLOWS);
        let n = Self::index_len(max_flows);
        let mut entries = Vec::with_capacity(max_flows);
        entries.resize(max_flows, Flow::default());
        let index = vec![0u32; n];
        // Bits needed for positions 1..=max_flows; the rest of a slot is the tag.
        let pos_bits = usize::BITS - max_flows.leading_zeros();
        let pos_mask = if pos_bits >= 32 {
            u32::MAX
        } else {
            (1u32 << pos_bits) - 1
        };
        let mut x = seed;
        let k = core::array::from_fn(|_| splitmix(&mut x) | 1);
        FlowTable {
            entries,
            index,
            len: 0,
            max_flows,
            pos_mask,
            k,
            hand: 0,
        }
    }

    /// Keyed hash of a flow key, NH-style: the sum of two independent
    /// multiply-folds of secret-xored key words — the remote and guest address
    /// words that differ for IPv4 in one, vif, ports and the upper address words in
    /// the other. One multiply deep before the slot is computed, and without the
    /// keys (random per boot) a peer cannot tell which tuples collide.
    #[inline(always)]
    fn hash(&self, w: &KeyWords) -> u64 {
        let k = &self.k;
        let lo = fold_mul(w.r1 ^ k[0], w.g1 ^ k[1]);
        let hi = fold_mul(w.r0 ^ w.p ^ k[2], w.g0.rotate_left(17) ^ k[3]);
        lo.wrapping_add(hi)
    }

    /// Home slot (from the high bits of the hash) and tag (low bits, in the slot
    /// bits above the position) of a key.
    #[inline(always)]
    fn home_tag(&self, w: &KeyWords) -> (usize, u32) {
        let h = self.hash(w);
        let home = ((h as u128 * self.index.len() as u128) >> 64) as usize;
        (home, h as u32 & !self.pos_mask)
    }

    #[inline(always)]
    fn next(&self, i: usize) -> usize {
        if i + 1 == self.index.len() {
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

    /// Bytes allocated: entries and index.
    pub fn bytes(&self) -> usize {
        self.entries.len() * core::mem::size_of::<Flow>()
            + self.index.len() * core::mem::size_of::<u32>()
    }

    /// Position of the flow with key `k`.
    #[inline]
    pub fn find(&self, k: &FlowKey) -> Option<usize> {
        self.find_words(&KeyWords::of(k))
    }

    /// Position of the flow with key `k` (the data paths' form of the key).
    #[inline(always)]
    pub fn find_words(&self, k: &KeyWords) -> Option<usize> {
        let (mut i, tag) = self.home_tag(k);
        loop {
            let s = *self.index.get(i)?;
            if s == 0 {
                return None;
            }
            if s & !self.pos_mask == tag {
                let p = (s & self.pos_mask) as usize - 1;
                if self.entries.get(p).is_some_and(|e| k.is(&e.key)) {
                    return Some(p);
                }
            }
            i = self.next(i);
        }
    }

    /// The index slot that points at position `p` (whose key is in the table).
    fn slot_of(&self, p: usize) -> Option<usize> {
        let (mut i, _) = self.home_tag(&KeyWords::of(&self.entries.get(p)?.key));
        let want = p as u32 + 1;
        for _ in 0..self.index.len() {
            let s = self.index[i];
            if s == 0 {
                return None;
            }
            if s & self.pos_mask == want {
                return Some(i);
            }
            i = self.next(i);
        }
        None
    }

    #[inline]
    pub fn get(&self, i: usize) -> &Flow {
        &self.entries[i]
    }

    #[inline]
    pub fn get_mut(&mut self, i: usize) -> &mut Flow {
        &mut self.entries[i]
    }

    /// Inserts a fresh entry for `k` (which must not be present); `None` if full.
    /// The caller initialises the entry (its state must become non-free).
    pub fn insert(&mut self, k: &FlowKey) -> Option<usize> {
        if self.len >= self.max_flows {
            return None;
        }
        let (mut i, tag) = self.home_tag(&KeyWords::of(k));
        while self.index[i] != 0 {
            i = self.next(i);
        }
        let p = self.len;
        self.index[i] = tag | (p as u32 + 1);
        self.entries[p] = Flow {
            key: *k,
            ..Flow::default()
        };
        self.len += 1;
        Some(p)
    }

    /// Removes the entry at position `i` (false if there is none). The last entry
    /// moves into its place, so positions held by the caller become invalid.
    pub fn remove(&mut self, i: usize) -> bool {
        if i >= self.len {
            return false;
        }
        let Some(mut hole) = self.slot_of(i) else {
            return false;
        };
        // Backward-shift deletion: later slots of the same probe run move back
        // unless their home is cyclically in (hole, j].
        let mut j = hole;
        loop {
            j = self.next(j);
            let s = self.index[j];
            if s == 0 {
                break;
            }
            let p = (s & self.pos_mask) as usize - 1;
            let (h, _) = self.home_tag(&KeyWords::of(&self.entries[p].key));
            let in_range = if hole <= j {
                hole < h && h <= j
            } else {
                hole < h || h <= j
            };
            if !in_range {
                self.index[hole] = s;
                hole = j;
            }
        }
        self.index[hole] = 0;
        // Fill the gap in the dense array with the last entry.
        let last = self.len - 1;
        if i != last {
            if let Some(ls) = self.slot_of(last) {
                self.index[ls] = (self.index[ls] & !self.pos_mask) | (i as u32 + 1);
            }
            self.entries[i] = self.entries[last];
        }
        self.entries[last] = Flow::default();
        self.len -= 1;
        true
    }

    /// Clock-style victim search: scans up to `EVICT_SCAN` flows from the hand and
    /// returns the flow with the lowest `rank` (`None` = not evictable), the one
    /// idle longest (in whole epochs of the idle clock `now_epoch`) among equals.
    pub fn pick_victim(
        &mut self,
        now_epoch: u8,
        rank: impl Fn(&Flow) -> Option<u32>,
    ) -> Option<usize> {
        let n = self.len;
        let mut best: Option<(usize, u32, u8)> = None;
        for _ in 0..EVICT_SCAN.min(n) {
            if self.hand >= n {
                self.hand = 0;
            }
            let i = self.hand;
            self.hand += 1;
            let f = &self.entries[i];
            let Some(r) = rank(f) else {
                continue;
            };
            let age = f.idle_epochs(now_epoch);
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
        // A removal moves the last entry into position i: re-check i then.
        while i < self.len {
            if pred(&self.entries[i]) && self.remove(i) {
                removed += 1;
                continue;
            }
            i += 1;
        }
        removed
    }

    /// Iterates over the flows.
    pub fn iter(&self) -> impl Iterator<Item = &Flow> {
        self.entries[..self.len].iter().filter(|f| !f.is_free())
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
        // The id rides in a field the table never reads.
        t.get_mut(idx).rcv_nxt = i;
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
        let removed = t.retain_not(|f| f.rcv_nxt % 3 == 1);
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
        // Ids 0-4 were active in epoch 2, ids 5-9 in epoch 0: at epoch 3 the
        // latter have been idle longest.
        for i in 0..10 {
            let idx = t.find(&key(i)).unwrap();
            t.get_mut(idx).touch(if i < 5 { 2 } else { 0 });
        }
        let v = t.pick_victim(3, |f| (f.rcv_nxt != 5).then_some(0)).unwrap();
        assert_eq!({ t.get(v).rcv_nxt }, 6);
        let v = t
            .pick_victim(3, |f| Some(if f.rcv_nxt == 2 { 0 } else { 1 }))
            .unwrap();
        assert_eq!({ t.get(v).rcv_nxt }, 2);
        assert!(t.pick_victim(3, |_| None).is_none());
    }

    /// Random inserts, removals (by position, as the engine does), evictions and
    /// filtered removals against a model, on small tables where probe runs collide
    /// and wrap around.
    #[test]
    fn matches_a_model_under_random_operations() {
        use alloc::collections::BTreeSet;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for cap in [1usize, 2, 3, 5, 8, 13, 40] {
            for seed in 0..20u64 {
                let mut t = FlowTable::new(cap, seed);
                let mut model = BTreeSet::new();
                for step in 0..400u32 {
                    let id = rnd(cap as u64 * 3) as u32;
                    match rnd(5) {
                        0 | 1 => {
                            if t.find(&key(id)).is_none() {
                                let r = put(&mut t, id);
                                assert_eq!(r.is_some(), model.len() < cap);
                                if r.is_some() {
                                    model.insert(id);
                                }
                            }
                        }
                        2 => {
                            if let Some(i) = t.find(&key(id)) {
                                assert!(t.remove(i));
                                model.remove(&id);
                            }
                        }
                        3 => {
                            if let Some(v) = t.pick_victim(step as u8, |f| Some(f.rcv_nxt % 3)) {
                                let id = t.get(v).rcv_nxt;
                                assert!(t.remove(v));
                                model.remove(&id);
                            }
                        }
                        _ => {
                            let m = rnd(4) as u32 + 2;
                            let n = t.retain_not(|f| f.rcv_nxt % m == 0);
                            let before = model.len();
                            model.retain(|id| id % m != 0);
                            assert_eq!(n, before - model.len());
                        }
                    }
                    assert_eq!(t.len(), model.len());
                    for id in 0..cap as u32 * 3 {
                        match t.find(&key(id)) {
                            Some(i) => {
                                assert!(model.contains(&id), "cap {cap} seed {seed} id {id}");
                                assert_eq!(t.get(i).key, key(id));
                                assert_eq!({ t.get(i).rcv_nxt }, id);
                            }
                            None => assert!(!model.contains(&id), "cap {cap} seed {seed} id {id}"),
                        }
                    }
                    assert_eq!(t.iter().count(), model.len());
                }
            }
        }
    }

    #[test]
    fn zero_capacity() {
        let mut t = FlowTable::new(0, 0);
        assert!(put(&mut t, 1).is_none());
        assert!(t.find(&key(1)).is_none());
    }
}
