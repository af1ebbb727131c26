//! Early-ACK synthesis: a pure ACK from the guest's side of the connection, built
//! from the data frame it acknowledges (MACs, IPs and ports swapped, VLAN tag kept).

use crate::wire::{IpVersion, Seg, TcpFlags, ETHERTYPE_IPV4, ETHERTYPE_IPV6};

/// Largest early-ACK frame: Ethernet + 802.1Q (18) + IPv6 (40) + TCP with the
/// timestamps option (32). Size `ack_out` at least this.
pub const ACK_FRAME_MAX: usize = 18 + 40 + 32;

/// Ethernet minimum frame length without FCS; shorter ACKs are zero-padded.
pub const ETH_MIN_FRAME: usize = 60;

/// What goes into an early ACK besides the addressing of the data frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AckFields {
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
    pub timestamps: Option<(u32, u32)>,
}

/// Length of the early ACK for `data` (after padding).
pub(crate) fn ack_len(data: &Seg, ts: bool) -> usize {
    let l2 = data.l3_off as usize;
    let l3 = match data.ip {
        IpVersion::V4 => 20,
        IpVersion::V6 => 40,
    };
    (l2 + l3 + 20 + if ts { 12 } else { 0 }).max(ETH_MIN_FRAME)
}

/// Sum of the big-endian 16-bit words of `b` (even length), not folded.
#[inline(always)]
fn sum16(b: &[u8]) -> u32 {
    b.chunks_exact(2)
        .map(|w| u16::from_be_bytes([w[0], w[1]]) as u32)
        .sum()
}

/// Folds a sum of 16-bit words and complements it: the checksum field.
#[inline(always)]
fn finish(mut s: u32) -> u16 {
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

/// Writes the early ACK into `out`; `None` if `out` is too small.
/// Flags: ACK only (no SACK blocks, no ECE, no data). The IP header keeps the data
/// frame's DSCP with ECN cleared (not-ECT, as for any pure ACK, RFC 3168 §6.1.4).
///
/// A fixed-layout writer: every field is stored directly and both checksums are
/// summed from the field values (the addresses once, for the IPv4 header and the
/// pseudo-header). The frame is the one [`crate::wire::SegmentSpec::write`] would
/// produce for the same fields (checked in the tests below).
pub(crate) fn write_ack(frame: &[u8], data: &Seg, a: &AckFields, out: &mut [u8]) -> Option<usize> {
    let total = ack_len(data, a.timestamps.is_some());
    let out = out.get_mut(..total)?;
    let l3 = data.l3_off as usize;
    // `frame` is the data frame `data` was parsed from: MACs swapped, the 802.1Q
    // tag (TPID + TCI) copied as is.
    let l2 = frame.get(..l3)?;
    out[0..6].copy_from_slice(&l2[6..12]);
    out[6..12].copy_from_slice(&l2[0..6]);
    out[12..l3 - 2].copy_from_slice(&l2[12..l3 - 2]);
    let tcp_len: usize = if a.timestamps.is_some() { 32 } else { 20 };
    let tos = data.tos & !3;
    // Pseudo-header sum without the protocol and length words.
    let (l4, addr_sum) = match data.ip {
        IpVersion::V4 => {
            out[l3 - 2..l3].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
            let h = &mut out[l3..l3 + 20];
            let total_len = (20 + tcp_len) as u16;
            h[0] = 0x45;
            h[1] = tos;
            h[2..4].copy_from_slice(&total_len.to_be_bytes());
            h[4..10].copy_from_slice(&[0, 0, 0x40, 0, 64, 6]);
            h[12..16].copy_from_slice(&data.dst[12..16]);
            h[16..20].copy_from_slice(&data.src[12..16]);
            let (d, s) = (&data.dst, &data.src);
            let addr = u16::from_be_bytes([d[12], d[13]]) as u32
                + u16::from_be_bytes([d[14], d[15]]) as u32
                + u16::from_be_bytes([s[12], s[13]]) as u32
                + u16::from_be_bytes([s[14], s[15]]) as u32;
            let ip = 0x4500 + tos as u32 + total_len as u32 + 0x4000 + 0x4006 + addr;
            h[10..12].copy_from_slice(&finish(ip).to_be_bytes());
            (l3 + 20, addr)
        }
        IpVersion::V6 => {
            out[l3 - 2..l3].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
            let h = &mut out[l3..l3 + 40];
            h[0] = 0x60 | (tos >> 4);
            h[1] = tos << 4;
            h[2..4].copy_from_slice(&[0, 0]);
            h[4..6].copy_from_slice(&(tcp_len as u16).to_be_bytes());
            h[6] = 6;
            h[7] = 64;
            h[8..24].copy_from_slice(&data.dst);
            h[24..40].copy_from_slice(&data.src);
            (l3 + 40, sum16(&data.dst) + sum16(&data.src))
        }
    };
    let t = &mut out[l4..l4 + tcp_len];
    let hdr = (((tcp_len / 4) as u32) << 12) | TcpFlags::ACK as u32;
    t[0..2].copy_from_slice(&data.dst_port.to_be_bytes());
    t[2..4].copy_from_slice(&data.src_port.to_be_bytes());
    t[4..8].copy_from_slice(&a.seq.to_be_bytes());
    t[8..12].copy_from_slice(&a.ack.to_be_bytes());
    t[12..14].copy_from_slice(&(hdr as u16).to_be_bytes());
    t[14..16].copy_from_slice(&a.window.to_be_bytes());
    t[18..20].copy_from_slice(&[0, 0]);
    let mut sum = addr_sum
        + 6
        + tcp_len as u32
        + data.dst_port as u32
        + data.src_port as u32
        + (a.seq >> 16)
        + (a.seq & 0xffff)
        + (a.ack >> 16)
        + (a.ack & 0xffff)
        + hdr
        + a.window as u32;
    if let Some((v, e)) = a.timestamps {
        t[20..24].copy_from_slice(&[1, 1, 8, 10]);
        t[24..28].copy_from_slice(&v.to_be_bytes());
        t[28..32].copy_from_slice(&e.to_be_bytes());
        sum += 0x0101 + 0x080a + (v >> 16) + (v & 0xffff) + (e >> 16) + (e & 0xffff);
    }
    t[16..18].copy_from_slice(&finish(sum).to_be_bytes());
    out[l4 + tcp_len..].fill(0);
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{map_v4, parse_seg, parse_tcp_frame, SegmentSpec};

    #[test]
    fn ack_swaps_addresses_keeps_vlan_and_verifies() {
        for ip in [IpVersion::V4, IpVersion::V6] {
            for vlan in [None, Some(0x3005)] {
                for ts in [None, Some((11, 22))] {
                    let (src, dst) = match ip {
                        IpVersion::V4 => (map_v4([1, 2, 3, 4]), map_v4([5, 6, 7, 8])),
                        IpVersion::V6 => ([0x20; 16], [0x21; 16]),
                    };
                    let data = SegmentSpec {
                        eth_src: [2, 0, 0, 0, 0, 1],
                        eth_dst: [2, 0, 0, 0, 0, 2],
                        vlan_tci: vlan,
                        ip,
                        src,
                        dst,
                        tos: 0xb9,
                        src_port: 1000,
                        dst_port: 80,
                        seq: 500,
                        ack: 900,
                        flags: TcpFlags::ACK,
                        window: 100,
                        mss: None,
                        wscale: None,
                        sack_permitted: false,
                        timestamps: Some((1, 2)),
                        sack: &[],
                        payload: &[7; 100],
                    };
                    let mut buf = [0u8; 300];
                    let n = data.write(&mut buf).unwrap();
                    let df = parse_tcp_frame(&buf[..n]).unwrap();
                    let mut out = [0xeeu8; ACK_FRAME_MAX];
                    let a = AckFields {
                        seq: 900,
                        ack: 600,
                        window: 77,
                        timestamps: ts,
                    };
                    let ds = parse_seg(&buf[..n]).unwrap();
                    let m = write_ack(&buf[..n], &ds, &a, &mut out).unwrap();
                    assert!((ETH_MIN_FRAME..=ACK_FRAME_MAX).contains(&m));
                    let af = parse_tcp_frame(&out[..m]).unwrap();
                    assert!(af.checksums_ok(&out[..m]));
                    assert_eq!(af.eth_src, df.eth_dst);
                    assert_eq!(af.eth_dst, df.eth_src);
                    assert_eq!(af.vlan_tci, vlan);
                    assert_eq!((af.src, af.dst), (df.dst, df.src));
                    assert_eq!((af.src_port, af.dst_port), (80, 1000));
                    assert_eq!((af.seq, af.ack, af.window), (900, 600, 77));
                    assert_eq!(af.flags.0, TcpFlags::ACK);
                    assert_eq!(af.opts.timestamps, ts);
                    assert_eq!(af.opts.sack_blocks, 0);
                    assert_eq!(af.payload_len(), 0);
                    assert_eq!(af.tos, 0xb8);
                    assert!(write_ack(&buf[..n], &ds, &a, &mut out[..m - 1]).is_none());
                    // Byte-identical to the general writer (plus zero padding).
                    let spec = SegmentSpec {
                        eth_src: df.eth_dst,
                        eth_dst: df.eth_src,
                        vlan_tci: df.vlan_tci,
                        ip: df.ip,
                        src: df.dst,
                        dst: df.src,
                        tos: df.tos & !3,
                        src_port: df.dst_port,
                        dst_port: df.src_port,
                        seq: a.seq,
                        ack: a.ack,
                        flags: TcpFlags::ACK,
                        window: a.window,
                        mss: None,
                        wscale: None,
                        sack_permitted: false,
                        timestamps: a.timestamps,
                        sack: &[],
                        payload: &[],
                    };
                    let mut want = [0u8; ACK_FRAME_MAX];
                    let k = spec.write(&mut want).unwrap();
                    assert_eq!(&out[..k], &want[..k]);
                    assert!(out[k..m].iter().all(|&b| b == 0));
                }
            }
        }
    }
}
