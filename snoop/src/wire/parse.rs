//! Frame classifier: Ethernet (+1 VLAN tag) / IPv4 or IPv6 / TCP, or "not for snoop".

use super::checksum::{pseudo_v4, pseudo_v6, Sum};
use super::ethernet::{EthernetFrame, ETHERTYPE_IPV4, ETHERTYPE_IPV6};
use super::ipv4::Ipv4Packet;
use super::ipv6::Ipv6Packet;
use super::tcp::{TcpFlags, TcpHeader, TcpOptions};
use super::WireError;

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
            match frame.get(self.l3_off..).map(Ipv4Packet::new_checked) {
                Some(Ok(p)) if p.header_checksum_ok() => {}
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
    let eth = EthernetFrame::new_checked(frame)?;
    let l3_off = eth.header_len();
    let l3 = eth.payload();
    let (ip, src, dst, tos, l4_off, l4) = match eth.ethertype() {
        ETHERTYPE_IPV4 => {
            let p = Ipv4Packet::new_checked(l3)?;
            if p.is_fragment() {
                return Err(NotForSnoop::Fragment);
            }
            if p.protocol() != 6 {
                return Err(NotForSnoop::NotTcp);
            }
            let l4_off = l3_off + p.header_len();
            let l4 = &l3[p.header_len()..p.total_len()];
            (
                IpVersion::V4,
                map_v4(p.src()),
                map_v4(p.dst()),
                p.tos(),
                l4_off,
                l4,
            )
        }
        ETHERTYPE_IPV6 => {
            let p = Ipv6Packet::new_checked(l3)?;
            if p.next_header() != 6 {
                return Err(NotForSnoop::NotTcp);
            }
            let (s, d) = (p.src(), p.dst());
            if s[..12] == V4_MAPPED_PREFIX || d[..12] == V4_MAPPED_PREFIX {
                return Err(NotForSnoop::Unsupported);
            }
            let l4 = &l3[40..40 + p.payload_len()];
            (IpVersion::V6, s, d, p.traffic_class(), l3_off + 40, l4)
        }
        _ => return Err(NotForSnoop::NotIp),
    };
    let t = TcpHeader::new_checked(l4)?;
    let opts = t.options()?;
    Ok(TcpFrame {
        eth_src: eth.src(),
        eth_dst: eth.dst(),
        vlan_tci: eth.vlan_tci(),
        ip,
        src,
        dst,
        tos,
        l3_off,
        l4_off,
        l4_len: l4.len(),
        tcp_hdr_len: t.header_len(),
        src_port: t.src_port(),
        dst_port: t.dst_port(),
        seq: t.seq(),
        ack: t.ack(),
        flags: t.flags(),
        window: t.window(),
        opts,
    })
}
