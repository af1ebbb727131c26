//! Minimal Ethernet / IPv4 / IPv6 / TCP header parsing for the simulation's monitors, and
//! checksum verification (via `smoltcp::wire`) of frames the driver domain emits.

use smoltcp::wire::{IpAddress, Ipv4Packet, Ipv6Packet, TcpPacket};

pub const ETH_HDR: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86DD;

/// MAC address of the sender host's NIC.
pub const SENDER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
/// MAC address of the receiver VM's vif (netfront).
pub const GUEST_MAC: [u8; 6] = [0x00, 0x16, 0x3e, 0x00, 0x00, 0x02];

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// Writes an Ethernet header in front of an IP packet (the frame buffer already reserves room).
pub fn write_eth_header(frame: &mut [u8], dst: [u8; 6], src: [u8; 6]) {
    frame[0..6].copy_from_slice(&dst);
    frame[6..12].copy_from_slice(&src);
    let ethertype = match frame[ETH_HDR] >> 4 {
        6 => ETHERTYPE_IPV6,
        _ => ETHERTYPE_IPV4,
    };
    frame[12..14].copy_from_slice(&ethertype.to_be_bytes());
}

/// The TCP fields the monitors look at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Window-scale option (SYN segments only).
    pub wscale: Option<u8>,
    /// Timestamps option (TSval, TSecr).
    pub ts: Option<(u32, u32)>,
    /// TCP payload length.
    pub payload_len: usize,
    /// Offset of the TCP payload in the frame.
    pub payload_off: usize,
    pub is_ipv6: bool,
}

impl TcpInfo {
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }
    /// Sequence space consumed (payload + SYN + FIN).
    pub fn seg_len(&self) -> u32 {
        self.payload_len as u32 + self.has(TCP_SYN) as u32 + self.has(TCP_FIN) as u32
    }
}

fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}
fn be32(b: &[u8], o: usize) -> u32 {
    u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Parses an Ethernet frame carrying IPv4 or IPv6 (no extension headers) and TCP.
/// Returns `None` for anything else or for a truncated/inconsistent frame.
pub fn parse_tcp(frame: &[u8]) -> Option<TcpInfo> {
    if frame.len() < ETH_HDR + 20 {
        return None;
    }
    let ethertype = be16(frame, 12);
    let ip = &frame[ETH_HDR..];
    let (l4_off, l4_len, is_ipv6) = match ethertype {
        ETHERTYPE_IPV4 => {
            if ip[0] >> 4 != 4 || ip[9] != 6 {
                return None;
            }
            let ihl = ((ip[0] & 0x0f) as usize) * 4;
            let total = be16(ip, 2) as usize;
            if ihl < 20 || total < ihl || total > ip.len() {
                return None;
            }
            (ETH_HDR + ihl, total - ihl, false)
        }
        ETHERTYPE_IPV6 => {
            if ip.len() < 40 || ip[0] >> 4 != 6 || ip[6] != 6 {
                return None;
            }
            let plen = be16(ip, 4) as usize;
            if 40 + plen > ip.len() {
                return None;
            }
            (ETH_HDR + 40, plen, true)
        }
        _ => return None,
    };
    if l4_len < 20 {
        return None;
    }
    let t = &frame[l4_off..l4_off + l4_len];
    let doff = ((t[12] >> 4) as usize) * 4;
    if doff < 20 || doff > l4_len {
        return None;
    }
    let mut info = TcpInfo {
        src_port: be16(t, 0),
        dst_port: be16(t, 2),
        seq: be32(t, 4),
        ack: be32(t, 8),
        flags: t[13],
        window: be16(t, 14),
        wscale: None,
        ts: None,
        payload_len: l4_len - doff,
        payload_off: l4_off + doff,
        is_ipv6,
    };
    let mut i = 20;
    while i < doff {
        match t[i] {
            0 => break,
            1 => i += 1,
            kind => {
                if i + 1 >= doff {
                    return None;
                }
                let len = t[i + 1] as usize;
                if len < 2 || i + len > doff {
                    return None;
                }
                match (kind, len) {
                    (3, 3) => info.wscale = Some(t[i + 2]),
                    (8, 10) => info.ts = Some((be32(t, i + 2), be32(t, i + 6))),
                    _ => {}
                }
                i += len;
            }
        }
    }
    Some(info)
}

/// Verifies the IPv4 header checksum (if IPv4) and the TCP checksum of an Ethernet frame.
pub fn checksums_ok(frame: &[u8]) -> bool {
    let ip = &frame[ETH_HDR..];
    match be16(frame, 12) {
        ETHERTYPE_IPV4 => {
            let Ok(p) = Ipv4Packet::new_checked(ip) else {
                return false;
            };
            if !p.verify_checksum() {
                return false;
            }
            let (src, dst) = (IpAddress::Ipv4(p.src_addr()), IpAddress::Ipv4(p.dst_addr()));
            match TcpPacket::new_checked(p.payload()) {
                Ok(t) => t.verify_checksum(&src, &dst),
                Err(_) => false,
            }
        }
        ETHERTYPE_IPV6 => {
            let Ok(p) = Ipv6Packet::new_checked(ip) else {
                return false;
            };
            let (src, dst) = (IpAddress::Ipv6(p.src_addr()), IpAddress::Ipv6(p.dst_addr()));
            match TcpPacket::new_checked(p.payload()) {
                Ok(t) => t.verify_checksum(&src, &dst),
                Err(_) => false,
            }
        }
        _ => false,
    }
}
