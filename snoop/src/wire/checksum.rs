//! Internet checksum (RFC 1071) helpers: full sums, pseudo-headers, and the
//! incremental update of RFC 1624 used when a field of a guest segment is rewritten.
//!
//! Sums are accumulated over native-endian 64-bit words (the one's-complement sum is
//! byte-order independent, RFC 1071 §2(B)) and converted to a big-endian 16-bit value
//! at the end. [`sum_words`] is the payload loop; the engine adds fixed-size headers
//! word by word (`Seg::checksums_ok`).

/// A running one's-complement sum. Every slice added must start on an even offset
/// of the checksummed byte stream (all slices used here do: pseudo-headers and TCP
/// headers have even lengths).
#[derive(Clone, Copy, Debug, Default)]
pub struct Sum(u64);

impl Sum {
    /// An empty sum.
    pub const fn new() -> Self {
        Sum(0)
    }

    /// Adds `data`. An odd trailing byte is padded with a zero byte (RFC 1071).
    #[inline]
    pub fn add_bytes(self, data: &[u8]) -> Self {
        Sum(fold64(adc(self.0, sum_words(data))))
    }

    /// Adds a big-endian 16-bit value.
    #[inline]
    pub fn add_u16(self, v: u16) -> Self {
        Sum(fold64(self.0 + u16::from_ne_bytes(v.to_be_bytes()) as u64))
    }

    /// The folded 16-bit sum as a big-endian (wire-order) value, not complemented.
    #[inline]
    pub fn folded(self) -> u16 {
        u16::from_be_bytes(fold16(self.0).to_ne_bytes())
    }

    /// The checksum value to store in a header field: the complement of the sum.
    #[inline]
    pub fn checksum(self) -> u16 {
        !self.folded()
    }

    /// True if a sum that already includes the stored checksum field verifies (RFC 1071).
    #[inline]
    pub fn verifies(self) -> bool {
        self.folded() == 0xffff
    }
}

/// One's-complement sum of `data` read as native-endian 64-bit words (an odd
/// trailing byte padded with zero), not folded: the 16-bit fold of the result
/// ([`fold16`]) is the native-endian 16-bit one's-complement sum of `data`.
/// `data` must start on an even offset of the checksummed stream.
///
/// The loop: four 64-bit accumulators, each word added with its carry counted
/// (`add` + `adc`, two independent carry counters), 32-byte blocks; carries are
/// folded back once at the end, so there is no end-around carry in the loop. Only
/// fixed-size array reads (`as_chunks`): no bounds checks, no copies.
#[inline]
pub fn sum_words(data: &[u8]) -> u64 {
    let (blocks, rest) = data.as_chunks::<32>();
    let (mut a, mut b, mut c, mut d) = (0u64, 0u64, 0u64, 0u64);
    // Carries out of a/c and b/d: at most one per 8 bytes, so they cannot overflow.
    let (mut ca, mut cb) = (0u64, 0u64);
    for k in blocks {
        let (w, _) = k.as_chunks::<8>();
        let (s, o) = a.overflowing_add(u64::from_ne_bytes(w[0]));
        (a, ca) = (s, ca + o as u64);
        let (s, o) = b.overflowing_add(u64::from_ne_bytes(w[1]));
        (b, cb) = (s, cb + o as u64);
        let (s, o) = c.overflowing_add(u64::from_ne_bytes(w[2]));
        (c, ca) = (s, ca + o as u64);
        let (s, o) = d.overflowing_add(u64::from_ne_bytes(w[3]));
        (d, cb) = (s, cb + o as u64);
    }
    let (words, tail) = rest.as_chunks::<8>();
    for w in words {
        let (s, o) = a.overflowing_add(u64::from_ne_bytes(*w));
        (a, ca) = (s, ca + o as u64);
    }
    // The last 0..=7 bytes start on an 8-byte boundary of `data`: a 32-bit part, a
    // 16-bit part and an odd byte, each added as a native-endian value (a u32 read
    // natively is two 16-bit lanes, which fold to the same sum in either byte order).
    let mut t = 0u64;
    let mut tail = tail;
    if let Some((w, r)) = tail.split_first_chunk::<4>() {
        t += u32::from_ne_bytes(*w) as u64;
        tail = r;
    }
    if let Some((w, r)) = tail.split_first_chunk::<2>() {
        t += u16::from_ne_bytes(*w) as u64;
        tail = r;
    }
    if let [last] = tail {
        t += u16::from_ne_bytes([*last, 0]) as u64;
    }
    let s = (a as u128 + b as u128) + (c as u128 + d as u128) + (ca + cb + t) as u128;
    adc(s as u64, (s >> 64) as u64)
}

/// Adds with end-around carry.
#[inline(always)]
pub(crate) fn adc(a: u64, b: u64) -> u64 {
    let (s, o) = a.overflowing_add(b);
    s + o as u64
}

/// Folds a 64-bit one's-complement sum into 33 bits (later additions of a few such
/// values cannot overflow).
#[inline(always)]
fn fold64(mut s: u64) -> u64 {
    s = (s & 0xffff_ffff) + (s >> 32);
    (s & 0xffff_ffff) + (s >> 32)
}

/// Folds a 64-bit one's-complement sum into 16 bits (native-endian lanes), with
/// end-around carries: zero only for a zero sum.
#[inline(always)]
pub(crate) fn fold16(s: u64) -> u16 {
    let (x, o) = (s as u32).overflowing_add((s >> 32) as u32);
    let x = x + o as u32;
    let (y, o) = (x as u16).overflowing_add((x >> 16) as u16);
    y + o as u16
}

/// Checksum (complemented) of `data` alone, e.g. an IPv4 header with its checksum
/// field zeroed.
pub fn checksum(data: &[u8]) -> u16 {
    Sum::new().add_bytes(data).checksum()
}

/// Sum of the IPv4 TCP pseudo-header (src, dst, zero, protocol 6, TCP length).
pub fn pseudo_v4(src: &[u8; 4], dst: &[u8; 4], tcp_len: u16) -> Sum {
    let mut p = [0u8; 12];
    p[0..4].copy_from_slice(src);
    p[4..8].copy_from_slice(dst);
    p[9] = 6;
    p[10..12].copy_from_slice(&tcp_len.to_be_bytes());
    Sum::new().add_bytes(&p)
}

/// Sum of the IPv6 TCP pseudo-header (RFC 8200 §8.1: src, dst, upper-layer length,
/// zero, next header 6).
pub fn pseudo_v6(src: &[u8; 16], dst: &[u8; 16], tcp_len: u32) -> Sum {
    let mut p = [0u8; 40];
    p[0..16].copy_from_slice(src);
    p[16..32].copy_from_slice(dst);
    p[32..36].copy_from_slice(&tcp_len.to_be_bytes());
    p[39] = 6;
    Sum::new().add_bytes(&p)
}

/// RFC 1624 eqn. 3: the new checksum `HC' = ~(~HC + ~m + m')` after a 16-bit field
/// changed from `old` to `new`.
#[inline]
pub fn update16(hc: u16, old: u16, new: u16) -> u16 {
    let mut s: u32 = (!hc) as u32 + (!old) as u32 + new as u32;
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

/// RFC 1624 update for a 32-bit field (two 16-bit halves).
#[inline]
pub fn update32(hc: u16, old: u32, new: u32) -> u16 {
    let hc = update16(hc, (old >> 16) as u16, (new >> 16) as u16);
    update16(hc, old as u16, new as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straightforward RFC 1071 reference.
    fn reference(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        let mut i = 0;
        while i + 1 < data.len() {
            s += u16::from_be_bytes([data[i], data[i + 1]]) as u32;
            i += 2;
        }
        if i < data.len() {
            s += (data[i] as u32) << 8;
        }
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    #[test]
    fn matches_reference_for_all_small_lengths() {
        let mut buf = [0u8; 300];
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(151).wrapping_add(7);
        }
        for len in 0..buf.len() {
            assert_eq!(checksum(&buf[..len]), reference(&buf[..len]), "len {len}");
        }
        let ff = [0xffu8; 129];
        for len in 0..ff.len() {
            assert_eq!(checksum(&ff[..len]), reference(&ff[..len]), "ff len {len}");
        }
    }

    #[test]
    fn matches_reference_at_every_alignment_and_split() {
        // Every start address modulo 16 (the loop reads unaligned 64-bit words), every
        // length up to 300 (odd ones included), and a sum built from two pieces split
        // at an even offset (how pseudo-header, header and segment are combined).
        let mut buf = [0u8; 320];
        let mut x = 0x9e37_79b9u32;
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        for start in 0..16 {
            for len in 0..300 {
                let d = &buf[start..start + len];
                assert_eq!(checksum(d), reference(d), "start {start} len {len}");
                let cut = (len / 3) & !1;
                let two = Sum::new().add_bytes(&d[..cut]).add_bytes(&d[cut..]);
                assert_eq!(two.checksum(), reference(d), "split {start} {len}");
            }
        }
        // Sums that exercise every carry: all-ones words, and zero.
        for len in [0, 1, 2, 7, 8, 31, 32, 33, 1500, 4096] {
            let ff = [0xffu8; 4096];
            assert_eq!(checksum(&ff[..len]), reference(&ff[..len]), "ff {len}");
            let z = [0u8; 4096];
            assert_eq!(checksum(&z[..len]), 0xffff, "zero {len}");
        }
    }

    #[test]
    fn fold16_end_around() {
        assert_eq!(fold16(0), 0);
        assert_eq!(fold16(u64::MAX), 0xffff);
        assert_eq!(fold16(0x1_0000), 1);
        assert_eq!(fold16(0xffff_0000_0000_0001), 1);
        assert_eq!(fold16(0x0001_0000_ffff_0000), 1);
        assert_eq!(Sum::new().add_u16(0x1234).folded(), 0x1234);
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3 example bytes: sum 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(Sum::new().add_bytes(&d).folded(), 0xddf2);
    }

    #[test]
    fn incremental_update_matches_full_recompute() {
        let mut d = [0u8; 40];
        for (i, b) in d.iter_mut().enumerate() {
            *b = (i * 37 + 3) as u8;
        }
        d[16] = 0;
        d[17] = 0;
        let c = checksum(&d);
        d[16..18].copy_from_slice(&c.to_be_bytes());
        assert!(Sum::new().add_bytes(&d).verifies());
        let old = u32::from_be_bytes([d[8], d[9], d[10], d[11]]);
        let new = 0xdead_beefu32;
        d[8..12].copy_from_slice(&new.to_be_bytes());
        let c2 = update32(c, old, new);
        d[16..18].copy_from_slice(&c2.to_be_bytes());
        assert!(Sum::new().add_bytes(&d).verifies());
        let oldw = u16::from_be_bytes([d[2], d[3]]);
        d[2..4].copy_from_slice(&0u16.to_be_bytes());
        let c3 = update16(c2, oldw, 0);
        d[16..18].copy_from_slice(&c3.to_be_bytes());
        assert!(Sum::new().add_bytes(&d).verifies());
    }
}
