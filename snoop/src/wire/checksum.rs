//! Internet checksum (RFC 1071) helpers: full sums, pseudo-headers, and the
//! incremental update of RFC 1624 used when a field of a guest segment is rewritten.
//!
//! Sums are accumulated over native-endian 32-bit halves of 64-bit words (the
//! one's-complement sum is byte-order independent, RFC 1071 §2(B)) and converted to
//! a big-endian 16-bit value at the end.

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
    pub fn add_bytes(mut self, data: &[u8]) -> Self {
        // Native-endian 64-bit words summed into four 128-bit accumulators: an add
        // with carry per word, no end-around carry inside the loop (the carries
        // collect in the high halves and are folded once at the end), and 64-byte
        // blocks keep the loop overhead small even at opt-level "s".
        let (mut a, mut b, mut c, mut d) = (0u128, 0u128, 0u128, 0u128);
        let mut blocks = data.chunks_exact(64);
        for k in &mut blocks {
            a += word(&k[0..8]) as u128;
            b += word(&k[8..16]) as u128;
            c += word(&k[16..24]) as u128;
            d += word(&k[24..32]) as u128;
            a += word(&k[32..40]) as u128;
            b += word(&k[40..48]) as u128;
            c += word(&k[48..56]) as u128;
            d += word(&k[56..64]) as u128;
        }
        let mut words = blocks.remainder().chunks_exact(8);
        for w in &mut words {
            a += word(w) as u128;
        }
        let rem = words.remainder();
        if !rem.is_empty() {
            let mut w = [0u8; 8];
            w[..rem.len()].copy_from_slice(rem);
            b += u64::from_ne_bytes(w) as u128;
        }
        let s = (a + c) + (b + d);
        let s = adc(s as u64, (s >> 64) as u64);
        self.0 = fold64(adc(self.0, fold64(s)));
        self
    }

    /// Adds a big-endian 16-bit value.
    #[inline]
    pub fn add_u16(self, v: u16) -> Self {
        self.add_bytes(&v.to_be_bytes())
    }

    /// The folded 16-bit sum as a big-endian (wire-order) value, not complemented.
    #[inline]
    pub fn folded(self) -> u16 {
        let mut s = self.0;
        while s >> 16 != 0 {
            s = (s & 0xffff) + (s >> 16);
        }
        let native = s as u16;
        u16::from_be_bytes(native.to_ne_bytes())
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

/// Adds with end-around carry.
#[inline(always)]
fn adc(a: u64, b: u64) -> u64 {
    let (s, o) = a.overflowing_add(b);
    s + o as u64
}

/// A native-endian 64-bit word from an 8-byte slice.
#[inline(always)]
fn word(b: &[u8]) -> u64 {
    u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]))
}

#[inline]
fn fold64(mut s: u64) -> u64 {
    // Fold into 32 bits (kept below 2^33 so later additions cannot overflow).
    s = (s & 0xffff_ffff) + (s >> 32);
    (s & 0xffff_ffff) + (s >> 32)
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
