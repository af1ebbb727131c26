//! Filling in the L4 checksum of a packet the guest sent with `NETTXF_csum_blank`
//! (TCP or UDP over IPv4 or IPv6, optionally behind one 802.1Q tag). The checksum is
//! computed from scratch (pseudo-header + segment), whatever partial value the guest left
//! in the field.

/// Why a checksum could not be filled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsumError {
    /// Not IPv4/IPv6 carrying TCP/UDP, a fragment, or headers cut short.
    Unsupported,
}

const ETH_HLEN: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Adds `data` as big-endian 16-bit words (odd tail padded with zero) to `acc`.
pub fn sum_words(mut acc: u64, data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        // Add the four 16-bit words; each fits well inside u64 with carries kept.
        acc += (w >> 48) + ((w >> 32) & 0xffff) + ((w >> 16) & 0xffff) + (w & 0xffff);
    }
    let rest = chunks.remainder();
    let mut pairs = rest.chunks_exact(2);
    for p in &mut pairs {
        acc += u16::from_be_bytes([p[0], p[1]]) as u64;
    }
    if let [last] = pairs.remainder() {
        acc += (*last as u64) << 8;
    }
    acc
}

/// Folds a sum to 16 bits and complements it.
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Where the L4 segment is and its pseudo-header sum.
struct L4 {
    start: usize,
    len: usize,
    proto: u8,
    pseudo: u64,
}

fn locate(frame: &[u8]) -> Option<L4> {
    let mut ethertype = be16(frame, 12)?;
    let mut l3 = ETH_HLEN;
    if ethertype == ETHERTYPE_VLAN {
        ethertype = be16(frame, 16)?;
        l3 += 4;
    }
    match ethertype {
        ETHERTYPE_IPV4 => {
            let vihl = *frame.get(l3)?;
            if vihl >> 4 != 4 {
                return None;
            }
            let ihl = (vihl & 0xf) as usize * 4;
            let total = be16(frame, l3 + 2)? as usize;
            let frag = be16(frame, l3 + 6)?;
            if ihl < 20 || total < ihl || l3 + total > frame.len() || frag & 0x3fff != 0 {
                return None;
            }
            let proto = frame[l3 + 9];
            let len = total - ihl;
            let pseudo = sum_words(0, &frame[l3 + 12..l3 + 20]) + proto as u64 + len as u64;
            Some(L4 {
                start: l3 + ihl,
                len,
                proto,
                pseudo,
            })
        }
        ETHERTYPE_IPV6 => {
            if frame.get(l3)? >> 4 != 6 {
                return None;
            }
            let payload = be16(frame, l3 + 4)? as usize;
            let fixed_end = l3 + 40;
            if fixed_end + payload > frame.len() {
                return None;
            }
            let mut next = frame[l3 + 6];
            let mut at = fixed_end;
            // Skip hop-by-hop (0), routing (43) and destination options (60) headers;
            // a fragment header (44) or anything else ends the search.
            for _ in 0..8 {
                match next {
                    0 | 43 | 60 => {
                        let hdr_len = (*frame.get(at + 1)? as usize + 1) * 8;
                        next = *frame.get(at)?;
                        at += hdr_len;
                        if at > fixed_end + payload {
                            return None;
                        }
                    }
                    _ => break,
                }
            }
            let len = fixed_end + payload - at;
            let pseudo = sum_words(0, &frame[l3 + 8..l3 + 40]) + next as u64 + len as u64;
            Some(L4 {
                start: at,
                len,
                proto: next,
                pseudo,
            })
        }
        _ => None,
    }
}

/// Fills in the TCP/UDP checksum of `frame` in place.
pub fn fill_l4_checksum(frame: &mut [u8]) -> Result<(), CsumError> {
    let l4 = locate(frame).ok_or(CsumError::Unsupported)?;
    let field = match l4.proto {
        IPPROTO_TCP if l4.len >= 20 => l4.start + 16,
        IPPROTO_UDP if l4.len >= 8 => l4.start + 6,
        _ => return Err(CsumError::Unsupported),
    };
    frame[field] = 0;
    frame[field + 1] = 0;
    let mut c = fold(sum_words(l4.pseudo, &frame[l4.start..l4.start + l4.len]));
    if l4.proto == IPPROTO_UDP && c == 0 {
        c = 0xffff;
    }
    frame[field..field + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Whether the TCP/UDP checksum of `frame` verifies (for tests and diagnostics).
pub fn l4_checksum_ok(frame: &[u8]) -> bool {
    match locate(frame) {
        Some(l4) if l4.len >= 8 => {
            fold(sum_words(l4.pseudo, &frame[l4.start..l4.start + l4.len])) == 0
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn ipv4_udp(payload: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&[0, 1, 2, 3, 4, 5, 0, 0x16, 0x3e, 0, 0, 1, 0x08, 0x00]);
        let total = 20 + 8 + payload.len();
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ]);
        f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        let ulen = 8 + payload.len();
        f.extend_from_slice(&[
            0x30,
            0x39,
            0x00,
            0x35,
            (ulen >> 8) as u8,
            ulen as u8,
            0xab,
            0xcd,
        ]);
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn known_udp_checksum() {
        let mut f = ipv4_udp(b"hello");
        fill_l4_checksum(&mut f).unwrap();
        assert!(l4_checksum_ok(&f));
        // Corrupting one payload byte breaks it.
        let n = f.len();
        f[n - 1] ^= 1;
        assert!(!l4_checksum_ok(&f));
    }

    #[test]
    fn odd_lengths_and_fragments() {
        for n in 0..40 {
            let p: Vec<u8> = (0..n as u8).collect();
            let mut f = ipv4_udp(&p);
            fill_l4_checksum(&mut f).unwrap();
            assert!(l4_checksum_ok(&f), "{n}");
        }
        let mut f = ipv4_udp(b"x");
        f[14 + 6] = 0x20; // MF
        assert_eq!(fill_l4_checksum(&mut f), Err(CsumError::Unsupported));
        assert_eq!(
            fill_l4_checksum(&mut [0u8; 10]),
            Err(CsumError::Unsupported)
        );
    }
}
