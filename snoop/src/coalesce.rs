//! [`AckCoalescer`]: keeps only the newest early ACK per flow among those the engine wrote
//! while the data path delivered one batch of frames.
//!
//! The engine answers every in-order segment delivered into a guest's ring. When a batch
//! delivers several segments of one flow, only the last ACK matters: ACKs are cumulative,
//! the last one carries the highest acknowledgement number, the newest window (computed
//! from the same state, so within the guest's advertised edge) and the newest timestamp
//! echo. Dropping the earlier ones is what a lost ACK does on the wire, and no rule of
//! `docs/snoop.md` relies on their arrival. It saves the sender (and the NIC, and the
//! driver domain) one ACK per segment when nothing is contended.

use alloc::vec::Vec;

use crate::wire::parse_tcp_frame;

/// Identity of an ACK's flow: L2 addresses and tag, IP addresses, ports.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct AckKey {
    eth: [u8; 12],
    vlan: Option<u16>,
    src: [u8; 16],
    dst: [u8; 16],
    ports: (u16, u16),
}

fn key_of(frame: &[u8]) -> Option<AckKey> {
    let t = parse_tcp_frame(frame).ok()?;
    let mut eth = [0u8; 12];
    eth[..6].copy_from_slice(&t.eth_dst);
    eth[6..].copy_from_slice(&t.eth_src);
    Some(AckKey {
        eth,
        vlan: t.vlan_tci,
        src: t.src,
        dst: t.dst,
        ports: (t.src_port, t.dst_port),
    })
}

/// Collects the ACK frames of one batch; see the module documentation.
#[derive(Default)]
pub struct AckCoalescer<T> {
    /// (flow, the caller's value for the newest ACK of that flow), in first-seen order.
    acks: Vec<(Option<AckKey>, T)>,
    replaced: u64,
}

impl<T> AckCoalescer<T> {
    /// An empty collector.
    pub fn new() -> Self {
        AckCoalescer {
            acks: Vec::new(),
            replaced: 0,
        }
    }

    /// Adds the ACK `frame` (as the engine wrote it) with the caller's `value` (e.g.
    /// the frame to send). An earlier ACK of the same flow in this batch is replaced.
    /// Frames that do not parse as TCP are kept as they are (never merged).
    pub fn push(&mut self, frame: &[u8], value: T) {
        let key = key_of(frame);
        if key.is_some() {
            if let Some(slot) = self.acks.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
                self.replaced += 1;
                return;
            }
        }
        self.acks.push((key, value));
    }

    /// The surviving ACKs, oldest flow first; the collector is empty afterwards.
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.acks.drain(..).map(|(_, v)| v)
    }

    /// ACKs replaced by a newer one of the same flow, since creation.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// Whether nothing is collected.
    pub fn is_empty(&self) -> bool {
        self.acks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::wire::{IpVersion, SegmentSpec, TcpFlags};
    use std::vec;

    fn ack(src_port: u16, ack: u32) -> Vec<u8> {
        let mut src = [0u8; 16];
        src[12..].copy_from_slice(&[10, 0, 0, 11]);
        let mut dst = [0u8; 16];
        dst[12..].copy_from_slice(&[10, 0, 0, 1]);
        let spec = SegmentSpec {
            eth_src: [2, 0, 0, 0, 0, 1],
            eth_dst: [2, 0, 0, 0, 0, 2],
            vlan_tci: None,
            ip: IpVersion::V4,
            src,
            dst,
            tos: 0,
            src_port,
            dst_port: 5001,
            seq: 1000,
            ack,
            flags: TcpFlags::ACK,
            window: 500,
            mss: None,
            wscale: None,
            sack_permitted: false,
            timestamps: Some((7, 9)),
            sack: &[],
            payload: &[],
        };
        let mut out = vec![0u8; 128];
        let n = spec.write(&mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn newest_ack_per_flow_survives_in_first_seen_order() {
        let mut c = AckCoalescer::new();
        let frames = [ack(40000, 1), ack(40001, 5), ack(40000, 2), ack(40000, 3)];
        for (i, f) in frames.iter().enumerate() {
            c.push(f, i);
        }
        assert_eq!(c.replaced(), 2);
        let kept: Vec<usize> = c.drain().collect();
        assert_eq!(kept, vec![3, 1]);
        assert!(c.is_empty());
    }

    #[test]
    fn unparsable_frames_are_all_kept() {
        let mut c = AckCoalescer::new();
        c.push(&[0u8; 10], 'a');
        c.push(&[0u8; 10], 'b');
        c.push(&ack(1, 1), 'c');
        assert_eq!(c.drain().collect::<Vec<_>>(), vec!['a', 'b', 'c']);
        assert_eq!(c.replaced(), 0);
    }
}
