//! Frame classifier: Ethernet (+1 VLAN tag) / IPv4 or IPv6 / TCP, or "not for snoop".

use super::checksum::{pseudo_v4, pseudo_v6, Sum};
use super::ethernet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN};
use super::tcp::{parse_options, TcpFlags, TcpOptions};
use super::{be16, be32, WireError};

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
    let mut eth_dst = [0u8; 6];
    let mut eth_src = [0u8; 6];
    eth_dst.copy_from_slice(&frame[0..6]);
    eth_src.copy_from_slice(&frame[6..12]);
    Ok(TcpFrame {
        eth_src,
        eth_dst,
        vlan_tci: s.vlan().then(|| be16(frame, 14)),
        ip: s.ip,
        src: s.src,
        dst: s.dst,
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
        opts: s.opts,
    })
}

/// The engine's compact view of a TCP frame: what [`TcpFrame`] holds minus the
/// Ethernet addresses and the VLAN tag (read from the frame when an ACK is
/// written), with narrow offsets. Produced by [`parse_seg`], which
/// [`parse_tcp_frame`] wraps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seg {
    /// Source address; IPv4 as `::ffff:a.b.c.d`.
    pub src: [u8; 16],
    /// Destination address; IPv4 as `::ffff:a.b.c.d`.
    pub dst: [u8; 16],
    pub seq: u32,
    pub ack: u32,
    pub opts: TcpOptions,
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

impl Seg {
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
    /// See [`TcpFrame::checksums_ok`].
    pub fn checksums_ok(&self, frame: &[u8]) -> bool {
        let (l3, l4) = (self.l3_off as usize, self.l4_off as usize);
        let Some(tcp) = frame.get(l4..l4 + self.l4_len as usize) else {
            return false;
        };
        let pseudo = match self.ip {
            IpVersion::V4 => {
                match frame.get(l3..l4) {
                    Some(h) if h.len() >= 20 && Sum::new().add_bytes(h).verifies() => {}
                    _ => return false,
                }
                let mut p = [0u8; 12];
                p[0..4].copy_from_slice(&self.src[12..16]);
                p[4..8].copy_from_slice(&self.dst[12..16]);
                p[9] = 6;
                p[10..12].copy_from_slice(&self.l4_len.to_be_bytes());
                Sum::new().add_bytes(&p)
            }
            IpVersion::V6 => pseudo_v6(&self.src, &self.dst, self.l4_len as u32),
        };
        pseudo.add_bytes(tcp).verifies()
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
    let (ip, src, dst, tos, ip_hdr, l3_len) = match ethertype {
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
            (
                IpVersion::V4,
                map_v4([h[12], h[13], h[14], h[15]]),
                map_v4([h[16], h[17], h[18], h[19]]),
                h[1],
                ihl,
                total,
            )
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
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&h[8..24]);
            d.copy_from_slice(&h[24..40]);
            if s[..12] == V4_MAPPED_PREFIX || d[..12] == V4_MAPPED_PREFIX {
                return Err(NotForSnoop::Unsupported);
            }
            (
                IpVersion::V6,
                s,
                d,
                (h[0] << 4) | (h[1] >> 4),
                40,
                40 + plen,
            )
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
    let opts = match &l4[20..doff] {
        [] => TcpOptions::default(),
        // NOP NOP TS(10): Linux, BSD and smoltcp data segments.
        [1, 1, 8, 10, v @ ..] if v.len() == 8 => TcpOptions {
            timestamps: Some((be32(v, 0), be32(v, 4))),
            ts_offset: Some(24),
            ..TcpOptions::default()
        },
        o => parse_options(o)?,
    };
    Ok(Seg {
        ip,
        src,
        dst,
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
