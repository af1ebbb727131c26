//! The deterministic pseudo-random payload of a transfer and its byte-exact check.

use crate::rng::splitmix64;

/// Payload generator: byte `i` of the stream keyed by `key` is a pure function of (key, i).
#[derive(Clone, Copy, Debug)]
pub struct Pattern {
    key: u64,
}

impl Pattern {
    pub fn new(key: u64) -> Self {
        Pattern { key }
    }
    #[inline]
    fn word(&self, idx: u64) -> [u8; 8] {
        splitmix64(self.key ^ idx.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes()
    }
    /// Fills `buf` with stream bytes starting at `offset`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let mut off = offset;
        let mut i = 0;
        while i < buf.len() {
            let w = self.word(off / 8);
            let start = (off % 8) as usize;
            let n = (8 - start).min(buf.len() - i);
            buf[i..i + n].copy_from_slice(&w[start..start + n]);
            i += n;
            off += n as u64;
        }
    }
    /// Checks `buf` against the stream at `offset`; returns the index of the first wrong byte.
    pub fn check(&self, offset: u64, buf: &[u8]) -> Option<usize> {
        let mut off = offset;
        let mut i = 0;
        while i < buf.len() {
            let w = self.word(off / 8);
            let start = (off % 8) as usize;
            let n = (8 - start).min(buf.len() - i);
            if buf[i..i + n] != w[start..start + n] {
                let j = (0..n).find(|&k| buf[i + k] != w[start + k]).unwrap_or(0);
                return Some(i + j);
            }
            i += n;
            off += n as u64;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_and_check_agree_at_any_offset() {
        let p = Pattern::new(42);
        let mut whole = vec![0u8; 1000];
        p.fill(0, &mut whole);
        for off in [0usize, 1, 7, 8, 13, 500] {
            let mut part = vec![0u8; 100];
            p.fill(off as u64, &mut part);
            assert_eq!(&part[..], &whole[off..off + 100]);
            assert_eq!(p.check(off as u64, &part), None);
        }
        whole[77] ^= 1;
        assert_eq!(p.check(0, &whole), Some(77));
    }
}
