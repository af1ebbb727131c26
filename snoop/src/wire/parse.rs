//! Frame classifier: Ethernet (+1 VLAN tag) / IPv4 or IPv6 / TCP, or "not for snoop".

use super::checksum::{adc, fold16, pseudo_v4, pseudo_v6, sum_words, Sum};
use super::ethernet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN};
use super::tcp::{parse_options, TcpFlags, TcpOptions};
use super::{be16, WireError};

/// Why a frame is passed through without being looked at further.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotForSnoop {
    /// Not IPv4/IPv6 (ARP, a second VLAN tag, ...).
    NotIp,
    /// IP but not TCP directly after the (IPv6 fixed) header.
    NotTcp,
    /// An IPv4 fragment.
    Fragment,
    /// Shorter than a header or length field says.
    Truncated,
    /// An impossible header value or malformed TCP options.
    Malformed,
    /// Something vSnoop chooses not to handle (IPv4-mapped addresses in IPv6).
    Unsupported,
}

impl From<WireError> for NotForSnoop {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Truncated => NotForSnoop::Truncated,
            WireError::Malformed => NotForSnoop::Malformed,
        }
    }
}

/// IP version of a parsed frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpVersion {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// Summary of a well-formed Ethernet/IP/TCP frame, with the offsets needed to
/// rewrite it or verify its checksums. Produced by [`parse_tcp_frame`].
#[derive(Clone, Copy, Debug)]
pub struct TcpFrame {
    /// Source MAC.
    pub eth_src: [u8; 6],
    /// Destination MAC.
    pub eth_dst: [u8; 6],
    /// 802.1Q tag control information, if tagged.
    pub vlan_tci: Option<u16>,
    /// IP version.
    pub ip: IpVersion,
    /// Source address; IPv4 as `::ffff:a.b.c.d`.
    pub src: [u8; 16],
    /// Destination address; IPv4 as `::ffff:a.b.c.d`.
    pub dst: [u8; 16],
    /// IPv4 TOS or IPv6 traffic class (DSCP << 2 | ECN).
    pub tos: u8,
    /// Offset of the IP header in the frame.
    pub l3_off: usize,
    /// Offset of the TCP header in the frame.
    pub l4_off: usize,
    /// Length of the TCP header + payload (from the IP length fields).
    pub l4_len: usize,
    /// TCP header length.
    pub tcp_hdr_len: usize,
    /// TCP source port.
    pub src_port: u16,
    /// TCP destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags.
    pub flags: TcpFlags,
    /// Raw window field.
    pub window: u16,
    /// Parsed options.
    pub opts: TcpOptions,
}

impl TcpFrame {
    /// Payload length in bytes.
    #[inline]
    pub fn payload_len(&self) -> u32 {
        (self.l4_len - self.tcp_hdr_len) as u32
    }
    /// Sequence space used: payload + 1 for SYN + 1 for FIN.
    #[inline]
    pub fn seq_len(&self) -> u32 {
        self.payload_len()
            + self.flags.has(TcpFlags::SYN) as u32
            + self.flags.has(TcpFlags::FIN) as u32
    }
    /// IPv4 address bytes (last four of the mapped form).
    #[inline]
    pub fn src_v4(&self) -> [u8; 4] {
        [self.src[12], self.src[13], self.src[14], self.src[15]]
    }
    /// IPv4 destination bytes.
    #[inline]
    pub fn dst_v4(&self) -> [u8; 4] {
        [self.dst[12], self.dst[13], self.dst[14], self.dst[15]]
    }
    /// ECN field (low two bits of TOS / traffic class); 3 = CE.
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.tos & 3
    }
    /// Pseudo-header sum for this frame's TCP checksum.
    pub fn pseudo_sum(&self) -> Sum {
        match self.ip {
            IpVersion::V4 => pseudo_v4(&self.src_v4(), &self.dst_v4(), self.l4_len as u16),
            IpVersion::V6 => pseudo_v6(&self.src, &self.dst, self.l4_len as u32),
        }
    }
    /// True if the IPv4 header checksum (if any) and the TCP checksum verify.
    /// `frame` must be the buffer this summary was parsed from.
    pub fn checksums_ok(&self, frame: &[u8]) -> bool {
        let Some(tcp) = frame.get(self.l4_off..self.l4_off + self.l4_len) else {
            return false;
        };
        if self.ip == IpVersion::V4 {
            // The IPv4 header is exactly the bytes between l3_off and l4_off.
            match frame.get(self.l3_off..self.l4_off) {
                Some(h) if h.len() >= 20 && Sum::new().add_bytes(h).verifies() => {}
                _ => return false,
            }
        }
        self.pseudo_sum().add_bytes(tcp).verifies()
    }
}

/// Native-endian u64 at `at` (callers pass fixed-size arrays and constant offsets,
/// so the bounds check folds away; 0 if out of bounds).
#[inline(always)]
fn ne64(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(
        b.get(at..at + 8)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; 8]),
    )
}

/// Native-endian u32 at `at`, as [`ne64`].
#[inline(always)]
fn ne32(b: &[u8], at: usize) -> u64 {
    u32::from_ne_bytes(
        b.get(at..at + 4)
            .and_then(|s| s.try_into().ok())
            .unwrap_or([0; 4]),
    ) as u64
}

const V4_MAPPED_PREFIX: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// Maps an IPv4 address into the 16-byte key form `::ffff:a.b.c.d`.
#[inline]
pub fn map_v4(a: [u8; 4]) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[..12].copy_from_slice(&V4_MAPPED_PREFIX);
    m[12..].copy_from_slice(&a);
    m
}

/// Parses an Ethernet frame carrying TCP over IPv4 or IPv6. Never panics; any
/// frame that is not a well-formed, unfragmented TCP segment is `Err`.
pub fn parse_tcp_frame(frame: &[u8]) -> Result<TcpFrame, NotForSnoop> {
    let s = parse_seg(frame)?;
    let (src, dst) = s.addrs(frame);
    // All options (MSS and the TSval offset too); `parse_seg` validated them.
    let (l4, hdr) = (s.l4_off as usize, s.tcp_hdr_len as usize);
    let opts = match frame.get(l4 + 20..l4 + hdr) {
        Some(o) if !o.is_empty() => parse_options(o).unwrap_or_default(),
        _ => TcpOptions::default(),
    };
    let mut eth_dst = [0u8; 6];
    let mut eth_src = [0u8; 6];
    eth_dst.copy_from_slice(&frame[0..6]);
    eth_src.copy_from_slice(&frame[6..12]);
    Ok(TcpFrame {
        eth_src,
        eth_dst,
        vlan_tci: s.vlan().then(|| be16(frame, 14)),
        ip: s.ip,
        src,
        dst,
        tos: s.tos,
        l3_off: s.l3_off as usize,
        l4_off: s.l4_off as usize,
        l4_len: s.l4_len as usize,
        tcp_hdr_len: s.tcp_hdr_len as usize,
        src_port: s.src_port,
        dst_port: s.dst_port,
        seq: s.seq,
        ack: s.ack,
        flags: s.flags,
        window: s.window,
        opts,
    })
}

/// The engine's compact view of a TCP frame: what [`TcpFrame`] holds minus the
/// Ethernet addresses, the VLAN tag and the IP addresses (read from the frame when
/// they are needed: [`Seg::addrs`]), with narrow offsets. Produced by
/// [`parse_seg`], which [`parse_tcp_frame`] wraps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seg {
    pub seq: u32,
    pub ack: u32,
    pub opts: SegOpts,
    /// TCP header + payload length.
    pub l4_len: u16,
    pub src_port: u16,
    pub dst_port: u16,
    pub window: u16,
    /// 14, or 18 with a VLAN tag.
    pub l3_off: u8,
    pub l4_off: u8,
    pub tcp_hdr_len: u8,
    pub flags: TcpFlags,
    pub tos: u8,
    pub ip: IpVersion,
}

/// The TCP options the engine uses, flat (no nested `Option` around the
/// timestamps, which the hot paths read on every segment).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SegOpts {
    /// The timestamps option is present: `tsval` and `tsecr` are its values.
    pub has_ts: bool,
    pub tsval: u32,
    pub tsecr: u32,
    /// Window-scale option (clamped to 14).
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    /// Number of SACK blocks (0 if no SACK option).
    pub sack_blocks: u8,
}

impl SegOpts {
    fn of(o: &TcpOptions) -> Self {
        let (tsval, tsecr) = o.timestamps.unwrap_or((0, 0));
        SegOpts {
            has_ts: o.timestamps.is_some(),
            tsval,
            tsecr,
            wscale: o.wscale,
            sack_permitted: o.sack_permitted,
            sack_blocks: o.sack_blocks,
        }
    }
    /// TSval, if the timestamps option is present.
    #[inline(always)]
    pub fn tsval(&self) -> Option<u32> {
        self.has_ts.then_some(self.tsval)
    }
}

impl Seg {
    /// Source and destination address (IPv4 as `::ffff:a.b.c.d`) of `frame`, the
    /// frame this view was parsed from.
    #[inline(always)]
    pub fn addrs(&self, frame: &[u8]) -> ([u8; 16], [u8; 16]) {
        let at = self.l3_off as usize + self.addr_off();
        match self.ip {
            IpVersion::V4 => match frame.get(at..at + 8) {
                Some(&[s0, s1, s2, s3, d0, d1, d2, d3]) => {
                    (map_v4([s0, s1, s2, s3]), map_v4([d0, d1, d2, d3]))
                }
                _ => ([0; 16], [0; 16]),
            },
            IpVersion::V6 => match frame
                .get(at..at + 32)
                .and_then(|b| b.split_first_chunk::<16>())
            {
                Some((s, d)) => (*s, d.try_into().unwrap_or([0; 16])),
                None => ([0; 16], [0; 16]),
            },
        }
    }
    /// Offset of the source address inside the IP header (the destination follows).
    #[inline(always)]
    pub fn addr_off(&self) -> usize {
        match self.ip {
            IpVersion::V4 => 12,
            IpVersion::V6 => 8,
        }
    }
    #[inline]
    pub fn vlan(&self) -> bool {
        self.l3_off == 18
    }
    #[inline]
    pub fn payload_len(&self) -> u32 {
        self.l4_len as u32 - self.tcp_hdr_len as u32
    }
    #[inline]
    pub fn seq_len(&self) -> u32 {
        self.payload_len()
            + self.flags.has(TcpFlags::SYN) as u32
            + self.flags.has(TcpFlags::FIN) as u32
    }
    #[inline]
    pub fn ecn(&self) -> u8 {
        self.tos & 3
    }
    /// See [`TcpFrame::checksums_ok`]. The headers are summed as fixed-size words
    /// (the IPv4 addresses once for the header and once for the pseudo-header,
    /// straight from the frame) and the segment with [`sum_words`].
    pub fn checksums_ok(&self, frame: &[u8]) -> bool {
        let (l3, l4) = (self.l3_off as usize, self.l4_off as usize);
        let Some(tcp) = frame.get(l4..l4 + self.l4_len as usize) else {
            return false;
        };
        // Pseudo-header words other than the addresses: zero, protocol 6 and the
        // TCP length (16 bits for IPv4, 32 for IPv6; both below 2^16 here), as
        // they sit in the byte stream.
        let len = self.l4_len.to_be_bytes();
        let proto_len = u32::from_ne_bytes([0, 6, len[0], len[1]]) as u64;
        let pseudo = match self.ip {
            IpVersion::V4 => {
                let Some((h, opts)) = frame.get(l3..l4).and_then(|h| h.split_first_chunk::<20>())
                else {
                    return false;
                };
                // Bytes 0..8, 8..12 and the addresses 12..20.
                let addrs = ne64(h, 12);
                let hdr = adc(adc(ne64(h, 0), addrs), ne32(h, 8));
                let hdr = if opts.is_empty() {
                    hdr
                } else {
                    adc(hdr, sum_words(opts))
                };
                if fold16(hdr) != 0xffff {
                    return false;
                }
                adc(addrs, proto_len)
            }
            IpVersion::V6 => {
                let Some(h) = frame.get(l3..l3 + 40) else {
                    return false;
                };
                adc(sum_words(&h[8..40]), proto_len)
            }
        };
        fold16(adc(pseudo, sum_words(tcp))) == 0xffff
    }
}

/// Parses an Ethernet frame carrying TCP over IPv4 or IPv6. Never panics; any
/// frame that is not a well-formed, unfragmented TCP segment is `Err`.
///
/// This is the engine's per-packet classifier, written as one pass over the
/// headers with one length check per layer (the views in this module check the
/// same conditions, in the same order, and give the same errors). TCP options in
/// the layout every common stack uses on data segments (none, or NOP NOP TS) are
/// read directly; any other layout goes through the general option parser.
#[inline(always)]
pub(crate) fn parse_seg(frame: &[u8]) -> Result<Seg, NotForSnoop> {
    if frame.len() < 14 {
        return Err(NotForSnoop::Truncated);
    }
    let mut ethertype = be16(frame, 12);
    let mut l3_off = 14;
    if ethertype == ETHERTYPE_VLAN {
        if frame.len() < 18 {
            return Err(NotForSnoop::Truncated);
        }
        ethertype = be16(frame, 16);
        l3_off = 18;
    }
    let l3 = &frame[l3_off..];
    let (ip, tos, ip_hdr, l3_len) = match ethertype {
        ETHERTYPE_IPV4 => {
            if l3.len() < 20 {
                return Err(NotForSnoop::Truncated);
            }
            let h = &l3[..20];
            if h[0] >> 4 != 4 {
                return Err(NotForSnoop::Malformed);
            }
            let ihl = ((h[0] & 0x0f) as usize) * 4;
            if ihl < 20 {
                return Err(NotForSnoop::Malformed);
            }
            let total = u16::from_be_bytes([h[2], h[3]]) as usize;
            if total < ihl {
                return Err(NotForSnoop::Malformed);
            }
            if total > l3.len() {
                return Err(NotForSnoop::Truncated);
            }
            if u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
                return Err(NotForSnoop::Fragment);
            }
            if h[9] != 6 {
                return Err(NotForSnoop::NotTcp);
            }
            (IpVersion::V4, h[1], ihl, total)
        }
        ETHERTYPE_IPV6 => {
            if l3.len() < 40 {
                return Err(NotForSnoop::Truncated);
            }
            let h = &l3[..40];
            if h[0] >> 4 != 6 {
                return Err(NotForSnoop::Malformed);
            }
            let plen = u16::from_be_bytes([h[4], h[5]]) as usize;
            if plen == 0 {
                return Err(NotForSnoop::Malformed);
            }
            if 40 + plen > l3.len() {
                return Err(NotForSnoop::Truncated);
            }
            if h[6] != 6 {
                return Err(NotForSnoop::NotTcp);
            }
            if h[8..20] == V4_MAPPED_PREFIX || h[24..36] == V4_MAPPED_PREFIX {
                return Err(NotForSnoop::Unsupported);
            }
            (IpVersion::V6, (h[0] << 4) | (h[1] >> 4), 40, 40 + plen)
        }
        _ => return Err(NotForSnoop::NotIp),
    };
    let l4 = &l3[ip_hdr..l3_len];
    if l4.len() < 20 {
        return Err(NotForSnoop::Truncated);
    }
    let doff = ((l4[12] >> 4) as usize) * 4;
    if doff < 20 {
        return Err(NotForSnoop::Malformed);
    }
    if doff > l4.len() {
        return Err(NotForSnoop::Truncated);
    }
    let o = &l4[20..doff];
    let opts = match o.first_chunk::<12>() {
        // NOP NOP TS(10): Linux, BSD and smoltcp data segments.
        Some(&[1, 1, 8, 10, v0, v1, v2, v3, e0, e1, e2, e3]) if o.len() == 12 => SegOpts {
            has_ts: true,
            tsval: u32::from_be_bytes([v0, v1, v2, v3]),
            tsecr: u32::from_be_bytes([e0, e1, e2, e3]),
            ..SegOpts::default()
        },
        _ if o.is_empty() => SegOpts::default(),
        _ => SegOpts::of(&parse_options(o)?),
    };
    Ok(Seg {
        ip,
        tos,
        l3_off: l3_off as u8,
        l4_off: (l3_off + ip_hdr) as u8,
        l4_len: l4.len() as u16,
        tcp_hdr_len: doff as u8,
        src_port: u16::from_be_bytes([l4[0], l4[1]]),
        dst_port: u16::from_be_bytes([l4[2], l4[3]]),
        seq: u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
        ack: u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]]),
        flags: TcpFlags(l4[13]),
        window: u16::from_be_bytes([l4[14], l4[15]]),
        opts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::SegmentSpec;
    use alloc::vec;
    use alloc::vec::Vec;

    /// RFC 1071, 16 bits at a time: the folded sum (not complemented).
    fn ref_sum(parts: &[&[u8]]) -> u16 {
        let mut bytes: Vec<u8> = Vec::new();
        for p in parts {
            bytes.extend_from_slice(p);
        }
        if bytes.len() % 2 == 1 {
            bytes.push(0);
        }
        let mut s: u32 = 0;
        for w in bytes.chunks(2) {
            s += u16::from_be_bytes([w[0], w[1]]) as u32;
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// Independent check of a frame's IPv4 header and TCP checksums.
    fn ref_ok(frame: &[u8], s: &Seg) -> bool {
        let (l3, l4) = (s.l3_off as usize, s.l4_off as usize);
        let tcp = &frame[l4..l4 + s.l4_len as usize];
        let len = s.l4_len.to_be_bytes();
        match s.ip {
            IpVersion::V4 => {
                ref_sum(&[&frame[l3..l4]]) == 0xffff
                    && ref_sum(&[&frame[l3 + 12..l3 + 20], &[0, 6], &len, tcp]) == 0xffff
            }
            IpVersion::V6 => {
                ref_sum(&[&frame[l3 + 8..l3 + 40], &[0, 0], &len, &[0, 0, 0, 6], tcp]) == 0xffff
            }
        }
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// A valid frame; IPv4 frames get `ip_opts` 4-byte words of IP options (header
    /// checksum fixed up).
    fn frame(r: &mut Rng, v6: bool, vlan: bool, ip_opts: usize, plen: usize) -> Vec<u8> {
        let payload: Vec<u8> = (0..plen).map(|_| r.next() as u8).collect();
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        for b in src.iter_mut().chain(dst.iter_mut()) {
            *b = r.next() as u8;
        }
        if !v6 {
            src = map_v4([src[0], src[1], src[2], src[3]]);
            dst = map_v4([dst[0], dst[1], dst[2], dst[3]]);
        } else {
            src[0] = 0x20;
            dst[0] = 0x20;
        }
        let spec = SegmentSpec {
            eth_src: [2, 0, 0, 0, 0, 1],
            eth_dst: [2, 0, 0, 0, 0, 2],
            vlan_tci: vlan.then_some(0x123),
            ip: if v6 { IpVersion::V6 } else { IpVersion::V4 },
            src,
            dst,
            tos: r.next() as u8,
            src_port: r.next() as u16,
            dst_port: r.next() as u16,
            seq: r.next() as u32,
            ack: r.next() as u32,
            flags: 0x10,
            window: r.next() as u16,
            mss: None,
            wscale: None,
            sack_permitted: false,
            timestamps: (r.next() & 1 == 0).then_some((r.next() as u32, 7)),
            sack: &[],
            payload: &payload,
        };
        let mut f = vec![0u8; spec.frame_len()];
        spec.write(&mut f).unwrap();
        if !v6 && ip_opts > 0 {
            // Insert IP options (NOPs and random bytes) after the fixed header.
            let l3 = if vlan { 18 } else { 14 };
            let opts: Vec<u8> = (0..ip_opts * 4).map(|_| r.next() as u8).collect();
            f.splice(l3 + 20..l3 + 20, opts);
            f[l3] = 0x40 | (5 + ip_opts) as u8;
            let total = u16::from_be_bytes([f[l3 + 2], f[l3 + 3]]) + (ip_opts * 4) as u16;
            f[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
            f[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
            let c = !ref_sum(&[&f[l3..l3 + 20 + ip_opts * 4]]);
            f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        }
        f
    }

    #[test]
    fn seg_checksums_match_reference() {
        let mut r = Rng(0x1234_5678_9abc_def1);
        for i in 0..3000 {
            let v6 = i % 2 == 1;
            let vlan = i % 3 == 0;
            let ip_opts = if v6 { 0 } else { (i / 2) % 4 };
            let plen = (r.next() % 1600) as usize;
            let mut f = frame(&mut r, v6, vlan, ip_opts, plen);
            // Ethernet padding after the IP length must be ignored.
            if i % 5 == 0 {
                f.extend_from_slice(&[0xab; 7][..(i % 7)]);
            }
            let s = parse_seg(&f).unwrap();
            assert!(s.checksums_ok(&f), "valid frame {i}");
            assert!(ref_ok(&f, &s));
            // Any single-byte change in the IP header or segment is caught exactly
            // when the reference catches it.
            for _ in 0..4 {
                let mut g = f.clone();
                let at = s.l3_off as usize
                    + (r.next() as usize
                        % (s.l4_off as usize - s.l3_off as usize + s.l4_len as usize));
                g[at] ^= 1 << (r.next() % 8);
                if let Ok(sg) = parse_seg(&g) {
                    assert_eq!(sg.checksums_ok(&g), ref_ok(&g, &sg), "frame {i} byte {at}");
                }
            }
            // The all-zero or all-ones payload words that swap +0 and -0.
            let mut g = f.clone();
            let l4 = s.l4_off as usize;
            let end = l4 + s.l4_len as usize;
            for b in &mut g[l4 + s.tcp_hdr_len as usize..end] {
                *b = 0xff;
            }
            let sg = parse_seg(&g).unwrap();
            assert_eq!(sg.checksums_ok(&g), ref_ok(&g, &sg), "ff frame {i}");
        }
    }
}
