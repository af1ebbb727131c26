//! Receive coalescing for guests that take GSO packets (`feature-gso-tcpv4`): consecutive
//! in-order TCP/IPv4 segments of one flow, as they sit in a vif's RX queue, become one
//! packet of up to 64 KB that the guest receives with a GSO extra slot, like Linux's
//! GRO + netback. The guest then handles one packet instead of up to 44.
//!
//! Merging is strict and never trusts peer data: every segment must be plain Ethernet
//! (no tag) / IPv4 without options or fragmentation, with a correct header checksum, TCP
//! with only ACK (and PSH) set, some payload and a verified TCP checksum (the caller
//! says so: [`Segment::checksum_ok`]). A segment joins only if its Ethernet header, TOS,
//! TTL, DF bit, addresses, ports, ACK number and TCP option bytes equal the first
//! segment's, its sequence number continues the run exactly, it is no larger than the
//! first segment's payload (the MSS), every earlier segment had exactly that size and no
//! PSH, and the result stays within 65,535 IP bytes. The merged packet gets a new IP
//! length and header checksum, the last segment's window, PSH if the last had it, and a
//! TCP checksum computed over the whole payload.

use alloc::vec::Vec;

use super::csum::{fold, sum_words};

const ETH_HLEN: usize = 14;
const IP_HLEN: usize = 20;
const TCP_ACK: u8 = 0x10;
const TCP_PSH: u8 = 0x08;
/// Largest IPv4 packet.
const IP_MAX: usize = 65_535;

/// A TCP/IPv4 segment that may be merged, with its header facts.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    /// TCP header length.
    thl: usize,
    seq: u32,
    payload: usize,
    psh: bool,
}

impl Segment {
    /// Whether `frame` is a mergeable segment (see the module documentation);
    /// `checksum_ok` says that its TCP checksum was verified.
    pub fn parse(frame: &[u8], checksum_ok: bool) -> Option<Segment> {
        if !checksum_ok || frame.len() < ETH_HLEN + IP_HLEN + 20 {
            return None;
        }
        if frame[12..14] != [0x08, 0x00] {
            return None;
        }
        let ip = &frame[ETH_HLEN..];
        // Version 4, no options; not a fragment (MF and offset zero); TCP.
        if ip[0] != 0x45 || u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0 || ip[9] != 6 {
            return None;
        }
        if fold(sum_words(0, &ip[..IP_HLEN])) != 0 {
            return None;
        }
        let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
        if total < IP_HLEN + 20 || ETH_HLEN + total > frame.len() {
            return None;
        }
        let tcp = &ip[IP_HLEN..total];
        let thl = (tcp[12] >> 4) as usize * 4;
        if thl < 20 || thl > tcp.len() {
            return None;
        }
        let flags = tcp[13];
        if flags & TCP_ACK == 0 || flags & !(TCP_ACK | TCP_PSH) != 0 || tcp[12] & 0x0f != 0 {
            return None;
        }
        let payload = tcp.len() - thl;
        if payload == 0 {
            return None;
        }
        Some(Segment {
            thl,
            seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
            payload,
            psh: flags & TCP_PSH != 0,
        })
    }

    /// TCP payload bytes.
    pub fn payload(&self) -> usize {
        self.payload
    }

    fn hdr_len(&self) -> usize {
        ETH_HLEN + IP_HLEN + self.thl
    }
}

/// A packet being built from segments.
pub struct Merge {
    data: Vec<u8>,
    first: Segment,
    /// Sequence number after the last merged byte.
    next_seq: u32,
    last_payload: usize,
    last_psh: bool,
    segments: usize,
}

impl Merge {
    /// Starts a run with `frame` (already checked by [`Segment::parse`]).
    pub fn new(frame: &[u8], seg: Segment) -> Merge {
        let mut data = Vec::with_capacity(ETH_HLEN + IP_MAX);
        data.extend_from_slice(&frame[..seg.hdr_len() + seg.payload]);
        Merge {
            data,
            first: seg,
            next_seq: seg.seq.wrapping_add(seg.payload as u32),
            last_payload: seg.payload,
            last_psh: seg.psh,
            segments: 1,
        }
    }

    /// Appends `frame` if it continues the run; whether it did.
    pub fn push(&mut self, frame: &[u8], seg: Segment) -> bool {
        let f = self.first;
        let mss = f.payload;
        if self.last_psh
            || self.last_payload != mss
            || seg.thl != f.thl
            || seg.seq != self.next_seq
            || seg.payload > mss
            || self.data.len() - ETH_HLEN + seg.payload > IP_MAX
        {
            return false;
        }
        let h = &self.data;
        let ip_ok = frame[..ETH_HLEN] == h[..ETH_HLEN]
            // TOS, then TTL/protocol, DF, addresses (id, length, checksum may differ).
            && frame[ETH_HLEN + 1] == h[ETH_HLEN + 1]
            && frame[ETH_HLEN + 6] == h[ETH_HLEN + 6]
            && frame[ETH_HLEN + 8..ETH_HLEN + 10] == h[ETH_HLEN + 8..ETH_HLEN + 10]
            && frame[ETH_HLEN + 12..ETH_HLEN + 20] == h[ETH_HLEN + 12..ETH_HLEN + 20];
        let t = ETH_HLEN + IP_HLEN;
        // Ports, ACK number, data offset, and every option byte.
        let tcp_ok = frame[t..t + 4] == h[t..t + 4]
            && frame[t + 8..t + 13] == h[t + 8..t + 13]
            && frame[t + 20..t + f.thl] == h[t + 20..t + f.thl];
        if !ip_ok || !tcp_ok {
            return false;
        }
        let start = seg.hdr_len();
        self.data
            .extend_from_slice(&frame[start..start + seg.payload]);
        // The newest window and PSH.
        self.data[t + 14..t + 16].copy_from_slice(&frame[t + 14..t + 16]);
        if seg.psh {
            self.data[t + 13] |= TCP_PSH;
        }
        self.next_seq = self.next_seq.wrapping_add(seg.payload as u32);
        self.last_payload = seg.payload;
        self.last_psh = seg.psh;
        self.segments += 1;
        true
    }

    /// Frame bytes so far.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether nothing is merged (never: a run starts with a segment).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Segments merged so far.
    pub fn segments(&self) -> usize {
        self.segments
    }

    /// The packet, with lengths and checksums fixed, and its GSO size (the MSS);
    /// `None` for a run of one segment (the frame comes back unchanged but for
    /// trailing Ethernet padding).
    pub fn finish(mut self) -> (Vec<u8>, Option<u16>) {
        // The run reserved room for a full 64 KiB packet: a short one gives it back, so
        // that a turn's merged frames hold about what they carry (a sender's runs of
        // two small segments would otherwise hold 64 KiB each until delivered).
        if self.data.capacity() > 2 * self.data.len() {
            self.data.shrink_to_fit();
        }
        if self.segments == 1 {
            return (self.data, None);
        }
        let ip_len = self.data.len() - ETH_HLEN;
        let ip = ETH_HLEN;
        self.data[ip + 2..ip + 4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        self.data[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
        let c = fold(sum_words(0, &self.data[ip..ip + IP_HLEN]));
        self.data[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
        let t = ip + IP_HLEN;
        let tcp_len = ip_len - IP_HLEN;
        self.data[t + 16..t + 18].copy_from_slice(&[0, 0]);
        let pseudo = sum_words(0, &self.data[ip + 12..ip + 20]) + 6 + tcp_len as u64;
        let c = fold(sum_words(pseudo, &self.data[t..]));
        self.data[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
        (self.data, Some(self.first.payload as u16))
    }
}

/// Cuts a packet this module merged (or any segment [`Segment::parse`] accepts with a
/// verified checksum) back into segments of at most `max_frame` bytes each, for a data
/// path that must send it again to a guest without a GSO slot (vSnoop's handshake hold
/// keeps merged packets whole). Each piece gets the original headers, its own sequence
/// number, IP length, IP identification (consecutive) and checksums; PSH only on the
/// last. `None` if the packet already fits, is not such a segment, or `max_frame`
/// leaves no room for payload.
pub fn split(frame: &[u8], max_frame: usize) -> Option<Vec<Vec<u8>>> {
    if frame.len() <= max_frame {
        return None;
    }
    let seg = Segment::parse(frame, true)?;
    let hdr = seg.hdr_len();
    let chunk = max_frame.checked_sub(hdr).filter(|c| *c > 0)?;
    let payload = &frame[hdr..hdr + seg.payload];
    let ip = ETH_HLEN;
    let t = ip + IP_HLEN;
    let id = u16::from_be_bytes([frame[ip + 4], frame[ip + 5]]);
    let pieces = payload.len().div_ceil(chunk);
    let mut out = Vec::with_capacity(pieces);
    for (i, part) in payload.chunks(chunk).enumerate() {
        let mut f = Vec::with_capacity(hdr + part.len());
        f.extend_from_slice(&frame[..hdr]);
        f.extend_from_slice(part);
        let ip_len = (IP_HLEN + seg.thl + part.len()) as u16;
        f[ip + 2..ip + 4].copy_from_slice(&ip_len.to_be_bytes());
        f[ip + 4..ip + 6].copy_from_slice(&id.wrapping_add(i as u16).to_be_bytes());
        f[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
        let c = fold(sum_words(0, &f[ip..ip + IP_HLEN]));
        f[ip + 10..ip + 12].copy_from_slice(&c.to_be_bytes());
        let seq = seg.seq.wrapping_add((i * chunk) as u32);
        f[t + 4..t + 8].copy_from_slice(&seq.to_be_bytes());
        if i + 1 < pieces {
            f[t + 13] &= !TCP_PSH;
        }
        f[t + 16..t + 18].copy_from_slice(&[0, 0]);
        let tcp_len = f.len() - t;
        let pseudo = sum_words(0, &f[ip + 12..ip + 20]) + 6 + tcp_len as u64;
        let c = fold(sum_words(pseudo, &f[t..]));
        f[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
        out.push(f);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use crate::netback::csum::{fill_l4_checksum, l4_checksum_ok};
    use std::vec;

    fn seg(seq: u32, payload: &[u8], flags: u8, window: u16) -> Vec<u8> {
        let total = IP_HLEN + 32 + payload.len();
        let mut f = vec![2, 0, 0, 0, 0, 5, 2, 0, 0, 0, 0, 6, 0x08, 0x00];
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ]);
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 11]);
        let c = fold(sum_words(0, &f[ETH_HLEN..ETH_HLEN + IP_HLEN]));
        f[ETH_HLEN + 10..ETH_HLEN + 12].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&[0x13, 0x89, 0x9c, 0x40]);
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&77u32.to_be_bytes());
        f.extend_from_slice(&[0x80, flags]);
        f.extend_from_slice(&window.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0]);
        f.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 3]);
        f.extend_from_slice(payload);
        fill_l4_checksum(&mut f).unwrap();
        f
    }

    fn merge_all(frames: &[Vec<u8>]) -> (Vec<u8>, Option<u16>, usize) {
        let s0 = Segment::parse(&frames[0], true).unwrap();
        let mut m = Merge::new(&frames[0], s0);
        for f in &frames[1..] {
            let s = Segment::parse(f, true).unwrap();
            if !m.push(f, s) {
                break;
            }
        }
        let n = m.segments();
        let (d, g) = m.finish();
        (d, g, n)
    }

    #[test]
    fn in_order_segments_merge_into_one_valid_packet() {
        let p: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
        let frames = [
            seg(1000, &p[..1000], TCP_ACK, 100),
            seg(2000, &p[1000..2000], TCP_ACK, 110),
            seg(3000, &p[2000..2500], TCP_ACK | TCP_PSH, 120),
        ];
        let (d, gso, n) = merge_all(&frames);
        assert_eq!((n, gso), (3, Some(1000)));
        assert!(l4_checksum_ok(&d));
        assert_eq!(fold(sum_words(0, &d[ETH_HLEN..ETH_HLEN + IP_HLEN])), 0);
        assert_eq!(&d[d.len() - 2500..], &p[..2500]);
        let t = ETH_HLEN + IP_HLEN;
        assert_eq!(u16::from_be_bytes([d[t + 14], d[t + 15]]), 120);
        assert_eq!(d[t + 13], TCP_ACK | TCP_PSH);
        assert_eq!(
            u32::from_be_bytes([d[t + 4], d[t + 5], d[t + 6], d[t + 7]]),
            1000
        );
    }

    /// A short run gives back the room it reserved for a 64 KiB packet; a long one
    /// keeps its buffer (no copy).
    #[test]
    fn merged_packets_hold_about_what_they_carry() {
        let p = [3u8; 60];
        let (d, gso, n) = merge_all(&[seg(1, &p, TCP_ACK, 1), seg(61, &p, TCP_ACK, 1)]);
        assert_eq!((n, gso), (2, Some(60)));
        assert!(
            d.capacity() <= 2 * d.len(),
            "{} for {}",
            d.capacity(),
            d.len()
        );
        let big = [3u8; 1448];
        let run: Vec<Vec<u8>> = (0..40u32)
            .map(|i| seg(1 + i * 1448, &big, TCP_ACK, 1))
            .collect();
        let (d, _, n) = merge_all(&run);
        assert_eq!(n, 40);
        assert!(d.capacity() <= 2 * d.len());
    }

    #[test]
    fn runs_stop_where_tcp_would_not_merge() {
        let p = [5u8; 1000];
        let base = seg(1000, &p, TCP_ACK, 100);
        // Gap, other ACK number, bigger than the MSS, after a short one, after PSH,
        // other options.
        let gap = seg(2500, &p, TCP_ACK, 100);
        let mut other_ack = seg(2000, &p, TCP_ACK, 100);
        other_ack[ETH_HLEN + IP_HLEN + 11] ^= 1;
        fill_l4_checksum(&mut other_ack).unwrap();
        let big = seg(2000, &[5u8; 1001], TCP_ACK, 100);
        let mut opts = seg(2000, &p, TCP_ACK, 100);
        opts[ETH_HLEN + IP_HLEN + 27] ^= 1; // TSval differs
        fill_l4_checksum(&mut opts).unwrap();
        for f in [&gap, &other_ack, &big, &opts] {
            let (_, gso, n) = merge_all(&[base.clone(), f.clone()]);
            assert_eq!((n, gso), (1, None));
        }
        let short = seg(2000, &p[..500], TCP_ACK, 100);
        let after_short = seg(2500, &p[..500], TCP_ACK, 100);
        assert_eq!(merge_all(&[base.clone(), short, after_short]).2, 2);
        let pushed = seg(1000, &p, TCP_ACK | TCP_PSH, 100);
        assert_eq!(merge_all(&[pushed, seg(2000, &p, TCP_ACK, 100)]).2, 1);
    }

    #[test]
    fn ineligible_frames_are_refused() {
        let p = [1u8; 100];
        let good = seg(1, &p, TCP_ACK, 1);
        assert!(Segment::parse(&good, true).is_some());
        assert!(
            Segment::parse(&good, false).is_none(),
            "unverified checksum"
        );
        let syn = seg(1, &p, TCP_ACK | 0x02, 1);
        assert!(Segment::parse(&syn, true).is_none());
        let fin = seg(1, &p, TCP_ACK | 0x01, 1);
        assert!(Segment::parse(&fin, true).is_none());
        assert!(
            Segment::parse(&seg(1, &[], TCP_ACK, 1), true).is_none(),
            "no payload"
        );
        let mut bad_ip = good.clone();
        bad_ip[ETH_HLEN + 8] ^= 1; // TTL changed, header checksum now wrong
        assert!(Segment::parse(&bad_ip, true).is_none());
        let mut frag = good.clone();
        frag[ETH_HLEN + 6] |= 0x20; // MF
        assert!(Segment::parse(&frag, true).is_none());
        let mut long = good.clone();
        long[ETH_HLEN + 3] = 0xff; // IP length beyond the frame
        assert!(Segment::parse(&long, true).is_none());
        for n in 0..good.len() {
            let _ = Segment::parse(&good[..n], true); // never panics
        }
    }

    #[test]
    fn a_run_never_exceeds_the_ip_maximum() {
        let p = [9u8; 1448];
        let s0 = seg(0, &p, TCP_ACK, 1);
        let mut m = Merge::new(&s0, Segment::parse(&s0, true).unwrap());
        let mut seq = 1448u32;
        while {
            let f = seg(seq, &p, TCP_ACK, 1);
            m.push(&f, Segment::parse(&f, true).unwrap())
        } {
            seq += 1448;
        }
        let (d, gso) = m.finish();
        assert!(d.len() - ETH_HLEN <= IP_MAX);
        assert_eq!(gso, Some(1448));
        assert!(l4_checksum_ok(&d));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Mutated segments: never a panic, and whatever merges is a valid packet whose
        /// payload is the concatenation of the merged segments' payloads.
        #[test]
        fn mutated_segments_merge_safely(
            flips in proptest::collection::vec((0usize..2, 0usize..120, 0u8..=255), 0..6),
            cut in 0usize..40,
        ) {
            let p: Vec<u8> = (0..400u32).map(|i| i as u8).collect();
            let mut frames = [
                seg(10, &p[..100], TCP_ACK, 1),
                seg(110, &p[100..200], TCP_ACK, 1),
                seg(210, &p[200..300], TCP_ACK, 1),
            ];
            for (which, at, x) in flips {
                let f = &mut frames[which + 1];
                let at = at % f.len();
                f[at] ^= x;
            }
            let n = frames[2].len();
            frames[2].truncate(n - cut.min(n));
            let s0 = Segment::parse(&frames[0], true).unwrap();
            let mut m = Merge::new(&frames[0], s0);
            let mut payload = p[..100].to_vec();
            for f in &frames[1..] {
                // The caller verifies checksums; a flipped payload bit fails that.
                let ok = l4_checksum_ok(f);
                let Some(s) = Segment::parse(f, ok) else { break };
                if !m.push(f, s) { break; }
                payload.extend_from_slice(&f[f.len() - s.payload()..]);
            }
            let (d, _) = m.finish();
            proptest::prop_assert!(l4_checksum_ok(&d));
            proptest::prop_assert_eq!(&d[ETH_HLEN + IP_HLEN + 32..], &payload[..]);
        }
    }

    #[test]
    fn split_undoes_a_merge() {
        let payload: Vec<u8> = (0..5000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let frames: Vec<Vec<u8>> = payload
            .chunks(1448)
            .enumerate()
            .map(|(i, p)| {
                let last = (i + 1) * 1448 >= payload.len();
                seg(
                    1000 + (i * 1448) as u32,
                    p,
                    TCP_ACK | if last { TCP_PSH } else { 0 },
                    500,
                )
            })
            .collect();
        let (merged, gso, n) = merge_all(&frames);
        assert_eq!((gso, n), (Some(1448), 4));
        let pieces = split(&merged, 1514).expect("split");
        assert_eq!(pieces.len(), 4);
        for (i, p) in pieces.iter().enumerate() {
            assert!(p.len() <= 1514);
            assert!(l4_checksum_ok(p), "piece {i} TCP checksum");
            assert_eq!(
                fold(sum_words(0, &p[ETH_HLEN..ETH_HLEN + IP_HLEN])),
                0,
                "IP checksum"
            );
            let s = Segment::parse(p, true).expect("a plain segment");
            assert_eq!(s.seq, 1000 + (i * 1448) as u32);
            assert_eq!(s.psh, i == 3, "PSH on the last piece only");
        }
        let joined: Vec<u8> = pieces.iter().flat_map(|p| p[66..].to_vec()).collect();
        assert_eq!(joined, payload);
        // And merging the pieces gives the merged packet back (but for IP ids).
        let (again, _, _) = merge_all(&pieces);
        assert_eq!(again[ETH_HLEN + 6..], merged[ETH_HLEN + 6..]);
    }

    #[test]
    fn split_leaves_what_fits_or_is_not_a_plain_segment() {
        let small = seg(1, &[1; 100], TCP_ACK, 10);
        assert!(split(&small, 1514).is_none());
        let big = seg(1, &[1; 3000], TCP_ACK, 10);
        assert_eq!(split(&big, 1514).map(|v| v.len()), Some(3));
        assert!(split(&big, 60).is_none(), "no room for payload");
        let mut fin = big.clone();
        fin[ETH_HLEN + IP_HLEN + 13] |= 0x01;
        fill_l4_checksum(&mut fin).unwrap();
        assert!(split(&fin, 1514).is_none(), "FIN: not a mergeable segment");
        let mut bad = big.clone();
        bad[ETH_HLEN + 8] ^= 1; // TTL: the IP checksum no longer verifies
        assert!(split(&bad, 1514).is_none());
    }
}
