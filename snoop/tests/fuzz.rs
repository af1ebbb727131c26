//! Fuzz-style properties: arbitrary bytes and mutated valid frames never panic the
//! parsers or the engine; whatever the engine emits or rewrites is well-formed.

mod common;

use common::*;
use proptest::prelude::*;
use snoop::wire::checksum::{update16, update32};
use snoop::wire::{map_v4, parse_tcp_frame, IpVersion, SegmentSpec};
use snoop::{Config, Engine, ACK_FRAME_MAX};

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        // XorShift: the default ChaCha RNG dominates run time in debug builds.
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::with_cases(10_000)
    }
}

/// An engine with established IPv4 and IPv6 flows, some data early-acked (`defer`:
/// a deferred early ACK pending on each), and a flow still ESTABLISHING with data in
/// the handshake hold.
fn busy_engine(defer: bool) -> (Engine, Vec<Conn>) {
    let mut e = Engine::new(Config {
        max_flows: 16,
        hold_bytes: 1 << 16,
        ack_defer_ns: if defer { 50_000 } else { 0 },
        ..Config::default()
    });
    let conns = vec![
        Conn::v4(),
        Conn::v6(),
        Conn {
            ts: false,
            ws_remote: None,
            ..Conn::v4()
        },
    ];
    let mut conns = conns;
    conns[2].rport = 999;
    for c in &conns {
        // With a hold, only an ACK of data proves the guest's socket: the first
        // 100 bytes are held, acknowledged by the guest, then 100 more early-acked.
        c.handshake_to_third_ack(&mut e);
        let mut out = [0u8; ACK_FRAME_MAX];
        assert!(e
            .on_delivered_to_guest(c.vif, &c.data(c.r0(), 150, &[1; 100]), 64, 0, &mut out)
            .is_some());
        let mut ga = c.gack(c.r0() + 100, 5000, 51);
        e.on_from_guest(c.vif, &mut ga, 0);
        assert_eq!(state(&e, c), Some(snoop::FlowState::Active));
        let acked = e
            .on_delivered_to_guest(
                c.vif,
                &c.data(c.r0() + 100, 200, &[1; 100]),
                64,
                0,
                &mut out,
            )
            .is_some();
        assert_eq!(acked, !defer);
        assert_eq!(e.flow_info(&c.key()).unwrap().ack_pending, defer);
    }
    let mut held = Conn::v6();
    held.rport = 998;
    held.handshake_to_third_ack(&mut e);
    let mut out = [0u8; ACK_FRAME_MAX];
    assert!(e
        .on_delivered_to_guest(
            held.vif,
            &held.data(held.r0(), 200, &[1; 100]),
            64,
            0,
            &mut out
        )
        .is_some());
    assert_eq!(e.hold_usage().0, 1);
    conns.push(held);
    (e, conns)
}

/// Valid frames of both directions to mutate.
fn seeds(conns: &[Conn]) -> Vec<(bool, Vec<u8>)> {
    let mut v = Vec::new();
    for c in conns {
        v.push((true, c.data(c.r0() + 100, 201, &[2; 60])));
        v.push((
            true,
            c.remote_seg_full(c.r_isn, 0, SYN, 1000, Some((5, 0)), true, &[]),
        ));
        v.push((
            true,
            c.remote_seg_full(
                c.r0() + 100,
                c.g0(),
                ACK | FIN,
                1000,
                Some((202, 0)),
                false,
                &[],
            ),
        ));
        v.push((false, c.gack(c.r0() + 50, 4000, 60)));
        v.push((
            false,
            c.guest_seg_full(
                c.g0(),
                c.r0(),
                ACK,
                100,
                Some((61, 1)),
                false,
                &[(1, 2), (3, 4)],
                b"abc",
            ),
        ));
        v.push((
            false,
            c.guest_seg_full(
                c.g_isn,
                c.r0(),
                SYN | ACK,
                100,
                Some((1, 1)),
                true,
                &[],
                &[],
            ),
        ));
    }
    v
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(u16, u8),
    Set(u16, u8),
    Truncate(u16),
    Extend(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<u16>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        4 => (any::<u16>(), any::<u8>()).prop_map(|(i, x)| Mutation::Set(i, x)),
        1 => any::<u16>().prop_map(Mutation::Truncate),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Mutation::Extend),
    ]
}

fn apply(f: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip(i, x) if !f.is_empty() => {
            let n = f.len();
            f[*i as usize % n] ^= x;
        }
        Mutation::Set(i, x) if !f.is_empty() => {
            let n = f.len();
            f[*i as usize % n] = *x;
        }
        Mutation::Truncate(i) => {
            let n = f.len();
            f.truncate(*i as usize % (n + 1));
        }
        Mutation::Extend(b) => f.extend_from_slice(b),
        _ => {}
    }
}

fn exercise(e: &mut Engine, vif: u16, to_guest: bool, frame: &mut [u8], slots: u32) {
    let mut out = [0u8; ACK_FRAME_MAX];
    if to_guest {
        if let Some(n) = e.on_delivered_to_guest(vif, frame, slots, 7, &mut out) {
            let a = parse_ack(&out[..n]);
            assert!(a.payload_len() == 0);
        }
        e.on_not_delivered(vif, frame, 8);
        // Deferred early ACKs that come due are well-formed too.
        while let Some((_, n)) = e.poll_deferred_ack(u64::MAX, &mut out) {
            let a = parse_ack(&out[..n]);
            assert!(a.payload_len() == 0);
        }
        // Whatever the hold has is well-formed and finite.
        let mut due = Vec::new();
        for _ in 0..=snoop::HOLD_MAX_TRIES {
            e.poll_redeliver(u64::MAX, &mut due);
        }
        for (_, f) in &due {
            assert!(parse_tcp_frame(f).is_ok());
        }
    } else {
        let before_ok = checksums_ok(frame);
        let before = frame.to_vec();
        let _ = e.on_from_guest(vif, frame, 9);
        if before_ok && *frame != *before {
            assert!(checksums_ok(frame), "a rewrite kept the checksum valid");
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// Arbitrary bytes: parsers and every engine entry point never panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..160), slots in any::<u32>(), dir in any::<bool>()) {
        let _ = parse_tcp_frame(&bytes);
        let mut e = Engine::new(Config { max_flows: 4, ..Config::default() });
        let mut b = bytes.clone();
        exercise(&mut e, 3, dir, &mut b, slots);
        let mut b = bytes;
        exercise(&mut e, 3, !dir, &mut b, slots);
        e.on_rx_space(3, slots);
        e.expire_idle(u64::MAX);
        e.on_vif_reset(3);
    }

    /// Arbitrary bytes behind a valid Ethernet/IP header (so the TCP parser is reached).
    #[test]
    fn arbitrary_tcp_bytes_never_panic(tcp in proptest::collection::vec(any::<u8>(), 0..100), v6 in any::<bool>(), vlan in any::<bool>()) {
        let c = if v6 { Conn::v6() } else { Conn::v4() };
        let c = Conn { vlan: if vlan { Some(1) } else { None }, ..c };
        let mut f = c.data(c.r0(), 1, &[]);
        let p = parse_tcp_frame(&f).unwrap();
        f.truncate(p.l4_off);
        f.extend_from_slice(&tcp);
        // Fix the IP length field so the TCP bytes are in bounds.
        match c.ip {
            IpVersion::V4 => {
                let l = (20 + tcp.len()) as u16;
                f[p.l3_off + 2..p.l3_off + 4].copy_from_slice(&l.to_be_bytes());
            }
            IpVersion::V6 => {
                let l = tcp.len() as u16;
                f[p.l3_off + 4..p.l3_off + 6].copy_from_slice(&l.to_be_bytes());
            }
        }
        let _ = parse_tcp_frame(&f);
        let (mut e, _) = busy_engine(vlan);
        let mut g = f.clone();
        exercise(&mut e, c.vif, true, &mut g, 64);
        exercise(&mut e, c.vif, false, &mut f, 64);
    }

    /// Mutated valid frames (bit flips, overwrites, truncation, extension) against an
    /// engine with live flows: no panic, early ACKs well-formed, rewrites keep
    /// checksums valid.
    #[test]
    fn mutated_frames_never_panic(pick in any::<usize>(), muts in proptest::collection::vec(mutation(), 1..4), slots in 0u32..20, defer in any::<bool>()) {
        let (mut e, conns) = busy_engine(defer);
        let s = seeds(&conns);
        let (to_guest, mut f) = s[pick % s.len()].clone();
        for m in &muts {
            apply(&mut f, m);
        }
        let vif = conns[0].vif;
        exercise(&mut e, vif, to_guest, &mut f, slots);
        // And the same bytes in the other direction.
        exercise(&mut e, vif, !to_guest, &mut f, slots);
    }

    /// RFC 1624 incremental update equals a full recomputation.
    #[test]
    fn incremental_checksum_matches_full(payload in proptest::collection::vec(any::<u8>(), 0..300), ack in any::<u32>(), wnd in any::<u16>(), new_ack in any::<u32>(), new_wnd in any::<u16>(), v6 in any::<bool>()) {
        let c = if v6 { Conn::v6() } else { Conn::v4() };
        let mut f = c.guest_seg_full(1, ack, ACK, wnd, Some((1, 2)), false, &[], &payload);
        let p = parse_tcp_frame(&f).unwrap();
        let t = p.l4_off;
        let old_c = u16::from_be_bytes([f[t + 16], f[t + 17]]);
        f[t + 8..t + 12].copy_from_slice(&new_ack.to_be_bytes());
        f[t + 14..t + 16].copy_from_slice(&new_wnd.to_be_bytes());
        let c2 = update16(update32(old_c, ack, new_ack), wnd, new_wnd);
        f[t + 16..t + 18].copy_from_slice(&c2.to_be_bytes());
        prop_assert!(checksums_ok(&f));
    }

    /// Written frames parse back to the same fields with valid checksums.
    #[test]
    fn write_parse_roundtrip(seq in any::<u32>(), ack in any::<u32>(), flags in any::<u8>(), window in any::<u16>(),
                             ts in proptest::option::of(any::<(u32, u32)>()), ws in proptest::option::of(0u8..=14),
                             mss in proptest::option::of(any::<u16>()), sp in any::<bool>(),
                             nsack in 0usize..=3, payload in proptest::collection::vec(any::<u8>(), 0..64),
                             v6 in any::<bool>(), vlan in proptest::option::of(any::<u16>()), tos in any::<u8>()) {
        let sack = [(1u32, 2u32), (3, 4), (5, 6)];
        let (src, dst) = if v6 { ([0x20; 16], [0x21; 16]) } else { (map_v4([1, 2, 3, 4]), map_v4([5, 6, 7, 8])) };
        let spec = SegmentSpec {
            eth_src: [1; 6], eth_dst: [2; 6], vlan_tci: vlan,
            ip: if v6 { IpVersion::V6 } else { IpVersion::V4 },
            src, dst, tos, src_port: 1, dst_port: 2, seq, ack, flags, window,
            mss, wscale: ws, sack_permitted: sp, timestamps: ts, sack: &sack[..nsack], payload: &payload,
        };
        let mut buf = [0u8; 256];
        match spec.write(&mut buf) {
            None => prop_assert!(spec.options_len() > 40),
            Some(n) => {
                let f = parse_tcp_frame(&buf[..n]).unwrap();
                prop_assert!(f.checksums_ok(&buf[..n]));
                prop_assert_eq!((f.seq, f.ack, f.flags.0, f.window), (seq, ack, flags, window));
                prop_assert_eq!(f.opts.timestamps, ts);
                prop_assert_eq!(f.opts.wscale, ws);
                prop_assert_eq!(f.opts.mss, mss);
                prop_assert_eq!(f.opts.sack_permitted, sp);
                prop_assert_eq!(f.opts.sack_blocks as usize, nsack);
                prop_assert_eq!(f.payload_len() as usize, payload.len());
                prop_assert_eq!(f.vlan_tci, vlan);
                prop_assert_eq!(f.tos, tos);
            }
        }
    }
}
