//! The Internet checksum against a plain RFC 1071 reference: every length (odd ones
//! included), every alignment of the data in memory, sums built from pieces, and
//! the RFC 1624 incremental update.

use proptest::prelude::*;
use snoop::wire::checksum::{checksum, pseudo_v4, pseudo_v6, update16, update32, Sum};

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::with_cases(10_000)
    }
}

/// RFC 1071 §4.1, 16 bits at a time, big-endian words, odd byte padded.
fn reference_sum(data: &[u8]) -> u32 {
    let mut s: u32 = 0;
    let mut i = 0;
    while i + 1 < data.len() {
        s += u16::from_be_bytes([data[i], data[i + 1]]) as u32;
        s = (s & 0xffff) + (s >> 16);
        i += 2;
    }
    if i < data.len() {
        s += (data[i] as u32) << 8;
        s = (s & 0xffff) + (s >> 16);
    }
    s
}

fn reference(data: &[u8]) -> u16 {
    !(reference_sum(data) as u16)
}

proptest! {
    #![proptest_config(config())]

    /// Any bytes, any length up to 2 KB, at any of 16 start addresses.
    #[test]
    fn checksum_matches_reference(data in proptest::collection::vec(any::<u8>(), 0..2048), start in 0usize..16) {
        let mut buf = vec![0u8; start];
        buf.extend_from_slice(&data);
        let d = &buf[start..];
        prop_assert_eq!(checksum(d), reference(d));
        prop_assert_eq!(Sum::new().add_bytes(d).folded(), !reference(d));
    }

    /// Mostly-0xff data (many carries), odd lengths likely.
    #[test]
    fn checksum_matches_reference_with_many_carries(len in 0usize..3000, flips in proptest::collection::vec((any::<u16>(), any::<u8>()), 0..8), start in 0usize..8) {
        let mut buf = vec![0xffu8; start + len];
        for (at, v) in flips {
            if len > 0 {
                buf[start + at as usize % len] = v;
            }
        }
        let d = &buf[start..];
        prop_assert_eq!(checksum(d), reference(d));
    }

    /// A sum built from pieces cut at even offsets equals the sum of the whole.
    #[test]
    fn pieces_add_up(data in proptest::collection::vec(any::<u8>(), 0..1600), cuts in proptest::collection::vec(any::<u16>(), 0..4)) {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| (*c as usize % (data.len() + 1)) & !1).collect();
        cuts.sort_unstable();
        let mut s = Sum::new();
        let mut at = 0;
        for c in cuts {
            s = s.add_bytes(&data[at..c]);
            at = c;
        }
        s = s.add_bytes(&data[at..]);
        prop_assert_eq!(s.checksum(), reference(&data));
    }

    /// Pseudo-headers equal the reference over their RFC layout.
    #[test]
    fn pseudo_headers(src in any::<[u8; 16]>(), dst in any::<[u8; 16]>(), len in any::<u16>(), seg in proptest::collection::vec(any::<u8>(), 0..100)) {
        let mut p4 = Vec::new();
        p4.extend_from_slice(&src[..4]);
        p4.extend_from_slice(&dst[..4]);
        p4.extend_from_slice(&[0, 6]);
        p4.extend_from_slice(&len.to_be_bytes());
        p4.extend_from_slice(&seg);
        let s4 = pseudo_v4(&src[..4].try_into().unwrap(), &dst[..4].try_into().unwrap(), len).add_bytes(&seg);
        prop_assert_eq!(s4.checksum(), reference(&p4));
        let mut p6 = Vec::new();
        p6.extend_from_slice(&src);
        p6.extend_from_slice(&dst);
        p6.extend_from_slice(&(len as u32).to_be_bytes());
        p6.extend_from_slice(&[0, 0, 0, 6]);
        p6.extend_from_slice(&seg);
        let s6 = pseudo_v6(&src, &dst, len as u32).add_bytes(&seg);
        prop_assert_eq!(s6.checksum(), reference(&p6));
    }

    /// RFC 1624 updates agree with a full recomputation.
    #[test]
    fn incremental_updates(mut data in proptest::collection::vec(any::<u8>(), 20..200), new32 in any::<u32>(), new16 in any::<u16>()) {
        data[16] = 0;
        data[17] = 0;
        let c = checksum(&data);
        data[16..18].copy_from_slice(&c.to_be_bytes());
        let old32 = u32::from_be_bytes(data[4..8].try_into().unwrap());
        data[4..8].copy_from_slice(&new32.to_be_bytes());
        let c = update32(c, old32, new32);
        let old16 = u16::from_be_bytes([data[14], data[15]]);
        data[14..16].copy_from_slice(&new16.to_be_bytes());
        let c = update16(c, old16, new16);
        data[16..18].copy_from_slice(&c.to_be_bytes());
        prop_assert!(Sum::new().add_bytes(&data).verifies());
    }
}
