//! Early-ACK synthesis: a pure ACK from the guest's side of the connection, built
//! from the data frame it acknowledges (MACs, IPs and ports swapped, VLAN tag kept).

use crate::wire::{IpVersion, SegmentSpec, TcpFlags, TcpFrame};

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
pub(crate) fn ack_len(data: &TcpFrame, ts: bool) -> usize {
    let l2 = if data.vlan_tci.is_some() { 18 } else { 14 };
    let l3 = match data.ip {
        IpVersion::V4 => 20,
        IpVersion::V6 => 40,
    };
    (l2 + l3 + 20 + if ts { 12 } else { 0 }).max(ETH_MIN_FRAME)
}

/// Writes the early ACK into `out`; `None` if `out` is too small.
/// Flags: ACK only (no SACK blocks, no ECE, no data). The IP header keeps the data
/// frame's DSCP with ECN cleared (not-ECT, as for any pure ACK, RFC 3168 §6.1.4).
pub(crate) fn write_ack(data: &TcpFrame, a: &AckFields, out: &mut [u8]) -> Option<usize> {
    let total = ack_len(data, a.timestamps.is_some());
    if out.len() < total {
        return None;
    }
    let spec = SegmentSpec {
        eth_src: data.eth_dst,
        eth_dst: data.eth_src,
        vlan_tci: data.vlan_tci,
        ip: data.ip,
        src: data.dst,
        dst: data.src,
        tos: data.tos & !3,
        src_port: data.dst_port,
        dst_port: data.src_port,
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
    let n = spec.write(out)?;
    out[n..total].fill(0);
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{map_v4, parse_tcp_frame};

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
                    let m = write_ack(&df, &a, &mut out).unwrap();
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
                    assert!(write_ack(&df, &a, &mut out[..m - 1]).is_none());
                }
            }
        }
    }
}
