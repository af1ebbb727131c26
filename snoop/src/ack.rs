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

/// Sum of the big-endian 16-bit words of `b`, not folded.
#[inline(always)]
fn sum16(b: &[u8; 16]) -> u32 {
    let (w, _) = b.as_chunks::<2>();
    w.iter().map(|w| u16::from_be_bytes(*w) as u32).sum()
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
/// A fixed-layout writer: `out` is split once into fixed-size header arrays
/// (Ethernet, IPv4 or IPv6, TCP, timestamps option, padding), every field is
/// stored directly and both checksums are summed from the field values (the
/// addresses once, for the IPv4 header and the pseudo-header). Nothing is read
/// back and nothing beyond the frame is written. The frame is the one
/// [`crate::wire::SegmentSpec::write`] would produce for the same fields (checked in
/// the tests below).
///
/// There is no per-flow ACK template to patch: a flow entry has no room for one,
/// and the only fields that do not change from one early ACK to the next (MACs,
/// tag, addresses, ports) are copied or stored in a few moves anyway; the
/// checksums are computed from the ~20 field values that make them up, which costs
/// about what an RFC 1624 update of the changed fields would.
#[inline(always)]
pub(crate) fn write_ack(frame: &[u8], data: &Seg, a: &AckFields, out: &mut [u8]) -> Option<usize> {
    let total = ack_len(data, a.timestamps.is_some());
    let out = out.get_mut(..total)?;
    let l3 = data.l3_off as usize;
    // `frame` is the data frame `data` was parsed from: MACs swapped, the 802.1Q
    // tag (TPID + TCI) copied as is.
    let (macs, tag) = frame.get(..l3)?.split_first_chunk::<12>()?;
    // The data frame's IP addresses, in wire order: source then destination.
    let addrs = frame.get(l3 + data.addr_off()..)?;
    let (eth, rest) = out.split_at_mut_checked(l3)?;
    let (eth_macs, eth_rest) = eth.split_first_chunk_mut::<12>()?;
    eth_macs[0..6].copy_from_slice(&macs[6..12]);
    eth_macs[6..12].copy_from_slice(&macs[0..6]);
    let tos = data.tos & !3;
    let tcp_len: u16 = if a.timestamps.is_some() { 32 } else { 20 };
    // Pseudo-header sum without the protocol and length words.
    let (rest, addr_sum) = match data.ip {
        IpVersion::V4 => {
            match (eth_rest, tag) {
                ([t0, t1, t2, t3, e0, e1], [g0, g1, g2, g3, ..]) => {
                    [*t0, *t1, *t2, *t3] = [*g0, *g1, *g2, *g3];
                    [*e0, *e1] = ETHERTYPE_IPV4.to_be_bytes();
                }
                ([e0, e1], _) => [*e0, *e1] = ETHERTYPE_IPV4.to_be_bytes(),
                _ => return None,
            }
            let (h, rest) = rest.split_first_chunk_mut::<20>()?;
            let (s, d) = addrs.split_first_chunk::<4>()?;
            let d = d.first_chunk::<4>()?;
            let total_len = 20 + tcp_len;
            let [l0, l1] = total_len.to_be_bytes();
            *h = [
                0x45, tos, l0, l1, 0, 0, 0x40, 0, 64, 6, 0, 0, d[0], d[1], d[2], d[3], s[0], s[1],
                s[2], s[3],
            ];
            let addr = u16::from_be_bytes([d[0], d[1]]) as u32
                + u16::from_be_bytes([d[2], d[3]]) as u32
                + u16::from_be_bytes([s[0], s[1]]) as u32
                + u16::from_be_bytes([s[2], s[3]]) as u32;
            let ip = 0x4500 + tos as u32 + total_len as u32 + 0x4000 + 0x4006 + addr;
            h[10..12].copy_from_slice(&finish(ip).to_be_bytes());
            (rest, addr)
        }
        IpVersion::V6 => {
            match (eth_rest, tag) {
                ([t0, t1, t2, t3, e0, e1], [g0, g1, g2, g3, ..]) => {
                    [*t0, *t1, *t2, *t3] = [*g0, *g1, *g2, *g3];
                    [*e0, *e1] = ETHERTYPE_IPV6.to_be_bytes();
                }
                ([e0, e1], _) => [*e0, *e1] = ETHERTYPE_IPV6.to_be_bytes(),
                _ => return None,
            }
            let (h, rest) = rest.split_first_chunk_mut::<40>()?;
            let [p0, p1] = tcp_len.to_be_bytes();
            h[0..8].copy_from_slice(&[0x60 | (tos >> 4), tos << 4, 0, 0, p0, p1, 6, 64]);
            let (s, d) = addrs.split_first_chunk::<16>()?;
            let d = d.first_chunk::<16>()?;
            h[8..24].copy_from_slice(d);
            h[24..40].copy_from_slice(s);
            (rest, sum16(d) + sum16(s))
        }
    };
    let (t, rest) = rest.split_first_chunk_mut::<20>()?;
    let hdr = (((tcp_len / 4) as u32) << 12) | TcpFlags::ACK as u32;
    let [sp0, sp1] = data.dst_port.to_be_bytes();
    let [dp0, dp1] = data.src_port.to_be_bytes();
    let [s0, s1, s2, s3] = a.seq.to_be_bytes();
    let [a0, a1, a2, a3] = a.ack.to_be_bytes();
    let [h0, h1] = (hdr as u16).to_be_bytes();
    let [w0, w1] = a.window.to_be_bytes();
    *t = [
        sp0, sp1, dp0, dp1, s0, s1, s2, s3, a0, a1, a2, a3, h0, h1, w0, w1, 0, 0, 0, 0,
    ];
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
    let rest = match a.timestamps {
        Some((v, e)) => {
            let (o, rest) = rest.split_first_chunk_mut::<12>()?;
            let [v0, v1, v2, v3] = v.to_be_bytes();
            let [e0, e1, e2, e3] = e.to_be_bytes();
            *o = [1, 1, 8, 10, v0, v1, v2, v3, e0, e1, e2, e3];
            sum += 0x0101 + 0x080a + (v >> 16) + (v & 0xffff) + (e >> 16) + (e & 0xffff);
            rest
        }
        None => rest,
    };
    t[16..18].copy_from_slice(&finish(sum).to_be_bytes());
    // Padding to the Ethernet minimum (IPv4 without timestamps only).
    if !rest.is_empty() {
        rest.fill(0);
    }
    Some(total)
}

/// Offset of the TCP header in an ACK [`write_ack`] wrote for `data`.
pub(crate) fn ack_tcp_offset(data: &Seg) -> usize {
    data.l3_off as usize
        + match data.ip {
            IpVersion::V4 => 20,
            IpVersion::V6 => 40,
        }
}

/// Brings an ACK that [`write_ack`] wrote (TCP header at `tcp_off`) up to date: new
/// sequence, ACK, window and timestamps, checksum updated (RFC 1624). `false` if
/// the frame has no room for them or the presence of timestamps differs (the
/// caller then drops it).
pub(crate) fn patch_ack(frame: &mut [u8], tcp_off: usize, a: &AckFields) -> bool {
    let Some(t) = frame.get_mut(tcp_off..) else {
        return false;
    };
    let Some((h, opts)) = t.split_first_chunk_mut::<20>() else {
        return false;
    };
    let has_ts = h[12] >> 4 == 8;
    if has_ts != a.timestamps.is_some() {
        return false;
    }
    // write_ack's layout: NOP NOP kind=8 len=10 TSval TSecr. Checked before any write.
    let ts = match (a.timestamps, opts.first_chunk_mut::<12>()) {
        (Some((v, e)), Some(o)) => Some((v, e, o)),
        (Some(_), None) => return false,
        (None, _) => None,
    };
    // RFC 1624 (eqn. 3) over the fields' 16-bit words, folded once at the end.
    let r32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let words = |old: u32, new: u32| {
        let old = !old;
        (old >> 16) + (old & 0xffff) + (new >> 16) + (new & 0xffff)
    };
    let mut sum = (!u16::from_be_bytes([h[16], h[17]])) as u32
        + words(r32(&h[4..8]), a.seq)
        + words(r32(&h[8..12]), a.ack)
        + (!u16::from_be_bytes([h[14], h[15]])) as u32
        + a.window as u32;
    h[4..8].copy_from_slice(&a.seq.to_be_bytes());
    h[8..12].copy_from_slice(&a.ack.to_be_bytes());
    h[14..16].copy_from_slice(&a.window.to_be_bytes());
    if let Some((v, e, o)) = ts {
        sum += words(r32(&o[4..8]), v) + words(r32(&o[8..12]), e);
        o[4..8].copy_from_slice(&v.to_be_bytes());
        o[8..12].copy_from_slice(&e.to_be_bytes());
    }
    h[16..18].copy_from_slice(&finish(sum).to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{map_v4, parse_seg, parse_tcp_frame, SegmentSpec};

    /// A data frame from 1.2.3.4:1000 (or 2020::) to port 80, written into `buf`;
    /// returns its length.
    fn data_frame(
        ip: IpVersion,
        vlan: Option<u16>,
        tos: u8,
        payload: &[u8],
        buf: &mut [u8],
    ) -> usize {
        let (src, dst) = match ip {
            IpVersion::V4 => (map_v4([1, 2, 3, 4]), map_v4([5, 6, 7, 8])),
            IpVersion::V6 => ([0x20; 16], [0x21; 16]),
        };
        SegmentSpec {
            vlan_tci: vlan,
            tos,
            src_port: 1000,
            seq: 500,
            ack: 900,
            window: 100,
            timestamps: Some((1, 2)),
            ..SegmentSpec::test(ip, src, dst, payload)
        }
        .write(buf)
        .unwrap()
    }

    /// A patched ACK is byte-identical to one written with the new fields.
    #[test]
    fn patch_equals_a_fresh_write() {
        for ip in [IpVersion::V4, IpVersion::V6] {
            for vlan in [None, Some(0x3005)] {
                for ts in [None, Some((11u32, 22u32))] {
                    let mut buf = [0u8; 300];
                    let n = data_frame(ip, vlan, 0, &[7; 10], &mut buf);
                    let ds = parse_seg(&buf[..n]).unwrap();
                    let a = AckFields {
                        seq: 900,
                        ack: 510,
                        window: 77,
                        timestamps: ts,
                    };
                    let b = AckFields {
                        seq: 0xffff_fff0,
                        ack: 0x8000_0001,
                        window: 0xfffe,
                        timestamps: ts.map(|(v, e)| (v.wrapping_sub(1), e ^ 0xdead_beef)),
                    };
                    let mut patched = [0u8; ACK_FRAME_MAX];
                    let m = write_ack(&buf[..n], &ds, &a, &mut patched).unwrap();
                    assert!(patch_ack(&mut patched[..m], ack_tcp_offset(&ds), &b));
                    let mut fresh = [0u8; ACK_FRAME_MAX];
                    let k = write_ack(&buf[..n], &ds, &b, &mut fresh).unwrap();
                    assert_eq!(&patched[..m], &fresh[..k]);
                    let af = parse_tcp_frame(&patched[..m]).unwrap();
                    assert!(af.checksums_ok(&patched[..m]));
                    // Timestamps present on one side only: refused, frame untouched.
                    let c = AckFields {
                        timestamps: if ts.is_some() { None } else { Some((1, 1)) },
                        ..b
                    };
                    assert!(!patch_ack(&mut patched[..m], ack_tcp_offset(&ds), &c));
                    assert_eq!(&patched[..m], &fresh[..k]);
                    assert!(!patch_ack(&mut patched[..m], m, &b), "offset out of range");
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::with_cases(10_000)
        })]

        /// Any old and new fields (every carry pattern of the one-fold update): the
        /// patched ACK is byte-identical to a fresh write, checksums valid.
        #[test]
        fn patch_equals_a_fresh_write_for_any_fields(
            v6: bool, vlan: Option<u16>, tos: u8, ts: bool,
            old: (u32, u32, u16, u32, u32), new: (u32, u32, u16, u32, u32),
        ) {
            let ip = if v6 { IpVersion::V6 } else { IpVersion::V4 };
            let fields = |(seq, ack, window, v, e): (u32, u32, u16, u32, u32)| AckFields {
                seq, ack, window, timestamps: ts.then_some((v, e)),
            };
            let mut buf = [0u8; 300];
            let n = data_frame(ip, vlan, tos, &[7; 10], &mut buf);
            let ds = parse_seg(&buf[..n]).unwrap();
            let mut patched = [0u8; ACK_FRAME_MAX];
            let m = write_ack(&buf[..n], &ds, &fields(old), &mut patched).unwrap();
            proptest::prop_assert!(patch_ack(&mut patched[..m], ack_tcp_offset(&ds), &fields(new)));
            let mut fresh = [0u8; ACK_FRAME_MAX];
            let k = write_ack(&buf[..n], &ds, &fields(new), &mut fresh).unwrap();
            proptest::prop_assert_eq!(&patched[..m], &fresh[..k]);
            proptest::prop_assert!(parse_tcp_frame(&patched[..m]).unwrap().checksums_ok(&patched[..m]));
        }
    }

    #[test]
    fn ack_swaps_addresses_keeps_vlan_and_verifies() {
        for ip in [IpVersion::V4, IpVersion::V6] {
            for vlan in [None, Some(0x3005)] {
                for ts in [None, Some((11, 22))] {
                    let mut buf = [0u8; 300];
                    let n = data_frame(ip, vlan, 0xb9, &[7; 100], &mut buf);
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
