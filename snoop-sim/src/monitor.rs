//! Invariants observable on the wire, checked on every frame the driver domain sends toward
//! the sender (early ACKs and the guest's own, possibly rewritten, frames):
//!
//! 1. an ACK never covers sequence space the model has not yet copied into the guest's posted
//!    RX buffers ("delivered");
//! 2. the right window edge (ACK + window << scale) never exceeds the right edge of the guest's
//!    latest advertisement (taken from the guest's frame *before* the engine sees it);
//! 3. every emitted frame has valid IP/TCP checksums;
//! 4. a synthesized ACK on a flow that negotiated timestamps carries a timestamps option whose
//!    TSecr is a TSval the sender actually sent (never newer than the newest one seen).

use std::collections::{BTreeMap, HashMap};

use crate::frame::{checksums_ok, parse_tcp, TcpInfo, TCP_ACK, TCP_RST, TCP_SYN};

/// Sequence ranges (offsets from the sender's ISN) copied into guest buffers.
#[derive(Default, Debug)]
struct Delivered {
    contig_end: u64,
    ooo: BTreeMap<u64, u64>,
}

impl Delivered {
    fn add(&mut self, start: u64, end: u64) {
        if end <= self.contig_end {
            return;
        }
        if start <= self.contig_end {
            self.contig_end = end;
        } else {
            let e = self.ooo.entry(start).or_insert(end);
            *e = (*e).max(end);
        }
        while let Some((&s, &e)) = self.ooo.iter().next() {
            if s > self.contig_end {
                break;
            }
            self.ooo.remove(&s);
            self.contig_end = self.contig_end.max(e);
        }
    }
}

#[derive(Default, Debug)]
struct Flow {
    /// Sender's ISN (from its SYN as delivered).
    isn: Option<u32>,
    delivered: Delivered,
    /// Guest's window scale (from its SYN-ACK).
    guest_wscale: Option<u8>,
    /// Right edge (offset) of the guest's latest advertisement.
    guest_right: Option<u64>,
    /// Newest TSval seen from the sender (at the driver domain).
    sender_max_tsval: Option<u32>,
    ts_negotiated: bool,
}

fn off(seq: u32, isn: u32) -> u64 {
    seq.wrapping_sub(isn) as u64
}

/// Where a frame headed to the sender came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Synthesized by the engine (`on_delivered_to_guest`).
    EarlyAck,
    /// The guest's frame, unchanged by the engine.
    Guest,
    /// The guest's frame, rewritten in place by the engine.
    GuestRewritten,
}

#[derive(Default)]
pub struct Monitor {
    flows: HashMap<u16, Flow>,
    pub violations: Vec<String>,
    pub checked: u64,
}

impl Monitor {
    fn violation(&mut self, now: u64, msg: String) {
        if self.violations.len() < 50 {
            self.violations.push(format!("t={}ns: {msg}", now));
        }
    }

    /// A frame from the sender reached the driver domain (delivered or not).
    pub fn on_sender_frame_seen(&mut self, frame: &[u8]) {
        let Some(t) = parse_tcp(frame) else { return };
        let f = self.flows.entry(t.src_port).or_default();
        if let Some((tsval, _)) = t.ts {
            let newer = match f.sender_max_tsval {
                None => true,
                Some(m) => (tsval.wrapping_sub(m) as i32) > 0,
            };
            if newer {
                f.sender_max_tsval = Some(tsval);
            }
        }
    }

    /// A frame from the sender was copied into a posted guest RX buffer.
    pub fn on_delivered(&mut self, frame: &[u8]) {
        let Some(t) = parse_tcp(frame) else { return };
        let f = self.flows.entry(t.src_port).or_default();
        if t.has(TCP_SYN) && !t.has(TCP_ACK) {
            *f = Flow {
                isn: Some(t.seq),
                sender_max_tsval: f.sender_max_tsval,
                ts_negotiated: t.ts.is_some(),
                ..Default::default()
            };
        }
        let Some(isn) = f.isn else { return };
        let start = off(t.seq, isn);
        f.delivered.add(start, start + t.seg_len() as u64);
    }

    /// A frame the guest sent, before the engine sees it.
    pub fn on_guest_frame(&mut self, frame: &[u8]) {
        let Some(t) = parse_tcp(frame) else { return };
        let f = self.flows.entry(t.dst_port).or_default();
        let Some(isn) = f.isn else { return };
        if !t.has(TCP_ACK) || t.has(TCP_RST) {
            return;
        }
        let ack = off(t.ack, isn);
        if t.has(TCP_SYN) {
            f.guest_wscale = Some(t.wscale.unwrap_or(0));
            f.ts_negotiated &= t.ts.is_some();
            f.guest_right = Some(ack + t.window as u64);
        } else {
            let ws = f.guest_wscale.unwrap_or(0);
            f.guest_right = Some(ack + ((t.window as u64) << ws));
        }
    }

    /// A frame leaves the driver domain toward the sender.
    pub fn on_to_sender(&mut self, now: u64, frame: &[u8], origin: Origin) {
        self.checked += 1;
        if origin != Origin::Guest && !checksums_ok(frame) {
            self.violation(now, format!("{origin:?} frame with a bad IP/TCP checksum"));
        }
        let Some(t) = parse_tcp(frame) else {
            if origin == Origin::EarlyAck {
                self.violation(
                    now,
                    "early ACK is not a parsable Ethernet/IP/TCP frame".into(),
                );
            }
            return;
        };
        self.check_tcp(now, &t, origin);
    }

    fn check_tcp(&mut self, now: u64, t: &TcpInfo, origin: Origin) {
        let Some(f) = self.flows.get(&t.dst_port) else {
            if origin == Origin::EarlyAck {
                self.violation(now, format!("early ACK for unknown flow {t:?}"));
            }
            return;
        };
        let Some(isn) = f.isn else { return };
        if !t.has(TCP_ACK) || t.has(TCP_RST) {
            return;
        }
        let ack = off(t.ack, isn);
        let delivered = f.delivered.contig_end;
        let mut msgs = Vec::new();
        if ack > delivered {
            msgs.push(format!(
                "{origin:?} ACKs offset {ack} but only {delivered} delivered into guest buffers"
            ));
        }
        if !t.has(TCP_SYN) {
            if origin == Origin::EarlyAck && f.guest_wscale.is_none() {
                msgs.push("early ACK before the guest's SYN-ACK".into());
            }
            let ws = f.guest_wscale.unwrap_or(0);
            let right = ack + ((t.window as u64) << ws);
            match f.guest_right {
                Some(g) if right > g => msgs.push(format!(
                    "{origin:?} right window edge {right} beyond the guest's latest {g}"
                )),
                None if origin == Origin::EarlyAck => {
                    msgs.push("early ACK before any guest advertisement".into())
                }
                _ => {}
            }
        }
        if origin == Origin::EarlyAck && f.ts_negotiated {
            match (t.ts, f.sender_max_tsval) {
                (None, _) => msgs.push("early ACK without timestamps on a TS flow".into()),
                (Some((_, ecr)), Some(max)) if (ecr.wrapping_sub(max) as i32) > 0 => msgs.push(
                    format!("early ACK echoes TSecr {ecr} newer than the sender's newest {max}"),
                ),
                _ => {}
            }
        }
        for m in msgs {
            self.violation(now, m);
        }
    }

    /// Contiguous delivered sequence offset of the flow from sender port `port` (tests).
    pub fn delivered_contig(&self, port: u16) -> Option<u64> {
        self.flows.get(&port).map(|f| f.delivered.contig_end)
    }

    /// Forgets a finished flow.
    pub fn forget(&mut self, port: u16) {
        self.flows.remove(&port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{write_eth_header, ETH_HDR, GUEST_MAC, SENDER_MAC};
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{
        IpAddress, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr,
        TcpSeqNumber, TcpTimestampRepr,
    };

    const SND: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
    const RCV: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);
    const ISN: u32 = 1000;
    const GISN: u32 = 50_000;

    struct Seg {
        from_sender: bool,
        control: TcpControl,
        seq: u32,
        ack: Option<u32>,
        window: u16,
        wscale: Option<u8>,
        ts: Option<(u32, u32)>,
        len: usize,
    }

    fn frame(s: Seg) -> Vec<u8> {
        let payload = vec![0xabu8; s.len];
        let (sp, dp, src, dst, smac, dmac) = if s.from_sender {
            (40000, 5001, SND, RCV, SENDER_MAC, GUEST_MAC)
        } else {
            (5001, 40000, RCV, SND, GUEST_MAC, SENDER_MAC)
        };
        let tcp = TcpRepr {
            src_port: sp,
            dst_port: dp,
            control: s.control,
            seq_number: TcpSeqNumber(s.seq as i32),
            ack_number: s.ack.map(|a| TcpSeqNumber(a as i32)),
            window_len: s.window,
            window_scale: s.wscale,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: s.ts.map(|(v, e)| TcpTimestampRepr::new(v, e)),
            payload: &payload,
        };
        let ip = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let mut buf = vec![0u8; ETH_HDR + 20 + tcp.buffer_len()];
        let caps = ChecksumCapabilities::default();
        ip.emit(&mut Ipv4Packet::new_unchecked(&mut buf[ETH_HDR..]), &caps);
        tcp.emit(
            &mut TcpPacket::new_unchecked(&mut buf[ETH_HDR + 20..]),
            &IpAddress::Ipv4(src),
            &IpAddress::Ipv4(dst),
            &caps,
        );
        write_eth_header(&mut buf, dmac, smac);
        buf
    }

    fn data(off: u32, len: usize, tsval: u32) -> Vec<u8> {
        frame(Seg {
            from_sender: true,
            control: TcpControl::None,
            seq: ISN + 1 + off,
            ack: Some(GISN + 1),
            window: 1000,
            wscale: None,
            ts: Some((tsval, 7)),
            len,
        })
    }

    fn ack(off: u32, window: u16, tsecr: u32) -> Vec<u8> {
        frame(Seg {
            from_sender: false,
            control: TcpControl::None,
            seq: GISN + 1,
            ack: Some(ISN + 1 + off),
            window,
            wscale: None,
            ts: Some((9, tsecr)),
            len: 0,
        })
    }

    /// Handshake seen; the guest advertised a right edge of offset 1 + 64 * 256.
    fn setup() -> Monitor {
        let mut m = Monitor::default();
        let syn = frame(Seg {
            from_sender: true,
            control: TcpControl::Syn,
            seq: ISN,
            ack: None,
            window: 65535,
            wscale: Some(7),
            ts: Some((100, 0)),
            len: 0,
        });
        m.on_sender_frame_seen(&syn);
        m.on_delivered(&syn);
        let synack = frame(Seg {
            from_sender: false,
            control: TcpControl::Syn,
            seq: GISN,
            ack: Some(ISN + 1),
            window: 65535,
            wscale: Some(2),
            ts: Some((5, 100)),
            len: 0,
        });
        m.on_guest_frame(&synack);
        m.on_to_sender(0, &synack, Origin::Guest);
        m.on_guest_frame(&ack(0, 256, 100)); // right edge 1 + 256 << 2 = 1025
        let d = data(0, 1000, 101);
        m.on_sender_frame_seen(&d);
        m.on_delivered(&d);
        assert!(m.violations.is_empty(), "{:?}", m.violations);
        m
    }

    #[test]
    fn correct_early_ack_passes() {
        let mut m = setup();
        m.on_to_sender(1, &ack(1000, 6, 101), Origin::EarlyAck); // right edge 1001 + 24
        assert!(m.violations.is_empty(), "{:?}", m.violations);
        assert_eq!(m.delivered_contig(40000), Some(1001));
    }

    #[test]
    fn ack_beyond_delivered_is_flagged() {
        let mut m = setup();
        m.on_to_sender(1, &ack(1500, 0, 101), Origin::EarlyAck);
        assert!(
            m.violations.iter().any(|v| v.contains("delivered")),
            "{:?}",
            m.violations
        );
    }

    #[test]
    fn out_of_order_delivery_does_not_extend_the_ackable_range() {
        let mut m = setup();
        let d = data(2000, 500, 102);
        m.on_delivered(&d);
        m.on_to_sender(1, &ack(2500, 0, 101), Origin::EarlyAck);
        assert!(!m.violations.is_empty());
        let mut m = setup();
        m.on_delivered(&data(2000, 500, 102));
        m.on_delivered(&data(1000, 1000, 103));
        assert_eq!(m.delivered_contig(40000), Some(2501));
    }

    #[test]
    fn window_beyond_guest_edge_is_flagged() {
        let mut m = setup();
        m.on_to_sender(1, &ack(1000, 7, 101), Origin::EarlyAck); // 1001 + 28 > 1025
        assert!(
            m.violations.iter().any(|v| v.contains("right window edge")),
            "{:?}",
            m.violations
        );
    }

    #[test]
    fn bad_checksum_and_future_tsecr_are_flagged() {
        let mut m = setup();
        let mut a = ack(1000, 1, 101);
        let n = a.len();
        a[n - 1] ^= 0xff; // corrupt the TCP header (no payload): checksum mismatch
        m.on_to_sender(1, &a, Origin::EarlyAck);
        assert!(
            m.violations.iter().any(|v| v.contains("checksum")),
            "{:?}",
            m.violations
        );
        let mut m = setup();
        m.on_to_sender(1, &ack(1000, 1, 5000), Origin::EarlyAck);
        assert!(
            m.violations.iter().any(|v| v.contains("TSecr")),
            "{:?}",
            m.violations
        );
    }
}
