//! A vif's RX queue: frames for the guest waiting for buffers it posts, bounded in
//! frames and in bytes (drop-tail at the caller). The byte bound matters because a
//! frame can be a 64 KiB GSO packet from another guest: 256 of those would be 16 MiB
//! for one slow guest. Linux's netback bounds its queue the same way
//! (`XENVIF_RX_QUEUE_BYTES`, half a ring of pages).

use alloc::collections::VecDeque;

use super::Frame;

pub(crate) struct RxQueue {
    q: VecDeque<Frame>,
    /// Sum of the queued frames' lengths.
    bytes: usize,
    max_frames: usize,
    max_bytes: usize,
}

impl RxQueue {
    pub fn new(max_frames: usize, max_bytes: usize) -> Self {
        RxQueue {
            q: VecDeque::new(),
            bytes: 0,
            max_frames,
            max_bytes,
        }
    }

    /// Whether a frame of `len` bytes may be queued (an empty queue takes any one frame,
    /// so that a bound below the largest frame cannot starve a vif).
    pub fn has_room(&self, len: usize) -> bool {
        self.q.len() < self.max_frames
            && (self.q.is_empty() || self.bytes.saturating_add(len) <= self.max_bytes)
    }

    /// Appends a frame (the caller checked [`RxQueue::has_room`]).
    pub fn push_back(&mut self, f: Frame) {
        self.bytes += f.data.len();
        self.q.push_back(f);
    }

    pub fn pop_front(&mut self) -> Option<Frame> {
        let f = self.q.pop_front()?;
        self.bytes -= f.data.len();
        Some(f)
    }

    pub fn front(&self) -> Option<&Frame> {
        self.q.front()
    }

    /// The `k`-th frame, to mark its checksum checked (its length must not change).
    pub fn get_mut(&mut self, k: usize) -> Option<&mut Frame> {
        self.q.get_mut(k)
    }

    /// Replaces the first `k` frames by `f` (a packet merged from them).
    pub fn replace_front(&mut self, k: usize, f: Frame) {
        for _ in 0..k {
            self.pop_front();
        }
        self.bytes += f.data.len();
        self.q.push_front(f);
    }

    pub fn len(&self) -> usize {
        self.q.len()
    }

    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Bytes queued.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netback::PortId;
    use alloc::vec;

    fn frame(len: usize) -> Frame {
        Frame {
            src: PortId::Vif(1),
            data: vec![0; len],
            csum_ok: false,
        }
    }

    #[test]
    fn bounded_in_frames_and_bytes() {
        let mut q = RxQueue::new(4, 1000);
        assert!(q.has_room(5000), "an empty queue takes any one frame");
        q.push_back(frame(600));
        assert!(q.has_room(400) && !q.has_room(401));
        q.push_back(frame(400));
        assert_eq!((q.len(), q.bytes()), (2, 1000));
        assert!(!q.has_room(1));
        assert_eq!(q.pop_front().map(|f| f.data.len()), Some(600));
        q.push_back(frame(100));
        q.push_back(frame(100));
        q.push_back(frame(100));
        assert_eq!(q.len(), 4);
        assert!(!q.has_room(1), "frame bound");
        q.replace_front(3, frame(550));
        assert_eq!((q.len(), q.bytes()), (2, 650));
        while q.pop_front().is_some() {}
        assert_eq!((q.len(), q.bytes()), (0, 0));
    }
}
