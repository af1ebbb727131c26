//! Frame writer: Ethernet (+ optional 802.1Q tag) / IPv4 or IPv6 / TCP with options
//! and payload, checksums filled in. Used for synthesized ACKs; public so tests and
//! simulations can build the exact frames the data path would see.

use super::checksum::{pseudo_v4, pseudo_v6};
use super::ethernet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN};
use super::parse::IpVersion;
use super::{ipv4, ipv6};

/// Everything needed to write one TCP frame.
#[derive(Clone, Copy, Debug)]
pub struct SegmentSpec<'a> {
    /// Source MAC.
    pub eth_src: [u8; 6],
    /// Destination MAC.
    pub eth_dst: [u8; 6],
    /// 802.1Q tag control information (one tag), if any.
    pub vlan_tci: Option<u16>,
    /// IP version.
    pub ip: IpVersion,
    /// Source address (IPv4 in the last four bytes).
    pub src: [u8; 16],
    /// Destination address (IPv4 in the last four bytes).
    pub dst: [u8; 16],
    /// IPv4 TOS / IPv6 traffic class.
    pub tos: u8,
    /// TCP source port.
    pub src_port: u16,
    /// TCP destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags byte (see `TcpFlags` constants).
    pub flags: u8,
    /// Raw window field.
    pub window: u16,
    /// MSS option.
    pub mss: Option<u16>,
    /// Window-scale option.
    pub wscale: Option<u8>,
    /// SACK-permitted option.
    pub sack_permitted: bool,
    /// Timestamps option (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks (left, right), at most what fits in 40 option bytes.
    pub sack: &'a [(u32, u32)],
    /// Payload.
    pub payload: &'a [u8],
}

impl SegmentSpec<'_> {
    /// Length of the TCP options, padded to a multiple of four.
    pub fn options_len(&self) -> usize {
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        if self.wscale.is_some() {
            n += 4;
        }
        if self.sack_permitted {
            n += 4;
        }
        if self.timestamps.is_some() {
            n += 12;
        }
        if !self.sack.is_empty() {
            n += 4 + 8 * self.sack.len();
        }
        n
    }

    /// Length of the frame `write` produces (no minimum-size padding).
    pub fn frame_len(&self) -> usize {
        let l2 = if self.vlan_tci.is_some() { 18 } else { 14 };
        let l3 = match self.ip {
            IpVersion::V4 => 20,
            IpVersion::V6 => 40,
        };
        l2 + l3 + 20 + self.options_len() + self.payload.len()
    }

    /// Writes the frame into `out` and returns its length; `None` if `out` is too
    /// small, the options exceed 40 bytes or the IP length would overflow.
    pub fn write(&self, out: &mut [u8]) -> Option<usize> {
        let opt_len = self.options_len();
        if opt_len > 40 {
            return None;
        }
        let len = self.frame_len();
        let tcp_hdr = 20 + opt_len;
        let l4_len = tcp_hdr + self.payload.len();
        if len > out.len() || l4_len + 40 > 0xffff {
            return None;
        }
        let out = &mut out[..len];
        out[0..6].copy_from_slice(&self.eth_dst);
        out[6..12].copy_from_slice(&self.eth_src);
        let mut off = 12;
        if let Some(tci) = self.vlan_tci {
            out[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
            out[14..16].copy_from_slice(&tci.to_be_bytes());
            off = 16;
        }
        let et = match self.ip {
            IpVersion::V4 => ETHERTYPE_IPV4,
            IpVersion::V6 => ETHERTYPE_IPV6,
        };
        out[off..off + 2].copy_from_slice(&et.to_be_bytes());
        let l3 = off + 2;
        let (l4, pseudo) = match self.ip {
            IpVersion::V4 => {
                let s = [self.src[12], self.src[13], self.src[14], self.src[15]];
                let d = [self.dst[12], self.dst[13], self.dst[14], self.dst[15]];
                ipv4::write_header(&mut out[l3..], self.tos, (20 + l4_len) as u16, &s, &d);
                (l3 + 20, pseudo_v4(&s, &d, l4_len as u16))
            }
            IpVersion::V6 => {
                ipv6::write_header(
                    &mut out[l3..],
                    self.tos,
                    l4_len as u16,
                    &self.src,
                    &self.dst,
                );
                (l3 + 40, pseudo_v6(&self.src, &self.dst, l4_len as u32))
            }
        };
        let t = &mut out[l4..];
        t[0..2].copy_from_slice(&self.src_port.to_be_bytes());
        t[2..4].copy_from_slice(&self.dst_port.to_be_bytes());
        t[4..8].copy_from_slice(&self.seq.to_be_bytes());
        t[8..12].copy_from_slice(&self.ack.to_be_bytes());
        t[12] = ((tcp_hdr / 4) as u8) << 4;
        t[13] = self.flags;
        t[14..16].copy_from_slice(&self.window.to_be_bytes());
        t[16..20].copy_from_slice(&[0, 0, 0, 0]);
        let mut o = 20;
        if let Some(m) = self.mss {
            t[o..o + 4].copy_from_slice(&[2, 4, (m >> 8) as u8, m as u8]);
            o += 4;
        }
        if let Some(w) = self.wscale {
            t[o..o + 4].copy_from_slice(&[1, 3, 3, w]);
            o += 4;
        }
        if self.sack_permitted {
            t[o..o + 4].copy_from_slice(&[1, 1, 4, 2]);
            o += 4;
        }
        if let Some((v, e)) = self.timestamps {
            t[o..o + 4].copy_from_slice(&[1, 1, 8, 10]);
            t[o + 4..o + 8].copy_from_slice(&v.to_be_bytes());
            t[o + 8..o + 12].copy_from_slice(&e.to_be_bytes());
            o += 12;
        }
        if !self.sack.is_empty() {
            t[o..o + 4].copy_from_slice(&[1, 1, 5, (2 + 8 * self.sack.len()) as u8]);
            o += 4;
            for &(l, r) in self.sack {
                t[o..o + 4].copy_from_slice(&l.to_be_bytes());
                t[o + 4..o + 8].copy_from_slice(&r.to_be_bytes());
                o += 8;
            }
        }
        t[o..o + self.payload.len()].copy_from_slice(self.payload);
        let c = pseudo.add_bytes(&t[..l4_len]).checksum();
        t[16..18].copy_from_slice(&c.to_be_bytes());
        Some(len)
    }
}

#[cfg(test)]
impl<'a> SegmentSpec<'a> {
    /// A test segment `src` -> `dst` carrying `payload`: MACs 02::1 -> 02::2, ports
    /// 1234 -> 80, seq 100, ack 200, ACK, window 512, timestamps (5, 6), nothing else;
    /// tests set what matters to them with struct update syntax.
    pub(crate) fn test(ip: IpVersion, src: [u8; 16], dst: [u8; 16], payload: &'a [u8]) -> Self {
        SegmentSpec {
            eth_src: [2, 0, 0, 0, 0, 1],
            eth_dst: [2, 0, 0, 0, 0, 2],
            vlan_tci: None,
            ip,
            src,
            dst,
            tos: 0,
            src_port: 1234,
            dst_port: 80,
            seq: 100,
            ack: 200,
            flags: super::TcpFlags::ACK,
            window: 512,
            mss: None,
            wscale: None,
            sack_permitted: false,
            timestamps: Some((5, 6)),
            sack: &[],
            payload,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::{map_v4, parse_tcp_frame};
    use super::*;

    fn spec(ip: IpVersion, vlan: Option<u16>) -> SegmentSpec<'static> {
        let (src, dst) = match ip {
            IpVersion::V4 => (map_v4([192, 0, 2, 1]), map_v4([192, 0, 2, 2])),
            IpVersion::V6 => {
                let mut s = [0u8; 16];
                s[0] = 0x20;
                s[1] = 0x01;
                s[15] = 1;
                let mut d = s;
                d[15] = 2;
                (s, d)
            }
        };
        SegmentSpec {
            vlan_tci: vlan,
            sack: &[(300, 400), (500, 600)],
            ..SegmentSpec::test(ip, src, dst, b"hello")
        }
    }

    #[test]
    fn written_frames_parse_and_verify() {
        for ip in [IpVersion::V4, IpVersion::V6] {
            for vlan in [None, Some(7)] {
                let s = spec(ip, vlan);
                let mut buf = [0u8; 200];
                let n = s.write(&mut buf).unwrap();
                assert_eq!(n, s.frame_len());
                let f = parse_tcp_frame(&buf[..n]).unwrap();
                assert!(f.checksums_ok(&buf[..n]));
                assert_eq!(f.vlan_tci, vlan);
                assert_eq!(
                    (f.seq, f.ack, f.window, f.payload_len()),
                    (100, 200, 512, 5)
                );
                assert_eq!(f.opts.timestamps, Some((5, 6)));
                assert_eq!(f.opts.sack_blocks, 2);
                assert_eq!((f.src, f.dst), (s.src, s.dst));
                assert!(s.write(&mut buf[..n - 1]).is_none());
            }
        }
    }
}
