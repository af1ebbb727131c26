//! IPv6 fixed-header view. Extension headers are not walked: a packet whose Next
//! Header is not TCP is "not for vSnoop" (documented in docs/snoop.md).

use super::{be16, WireError};

/// A view of an IPv6 packet. `new_checked` guarantees version 6, the 40-byte header
/// and `40 + payload length <= buffer length` (a zero payload length, used by
/// jumbograms, is rejected as malformed).
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Validates the header and the payload length.
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        let b = buf.as_ref();
        if b.len() < 40 {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 6 {
            return Err(WireError::Malformed);
        }
        let plen = be16(b, 4) as usize;
        if plen == 0 {
            return Err(WireError::Malformed);
        }
        if 40 + plen > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(Ipv6Packet { buf })
    }
    /// Traffic class (DSCP and ECN).
    pub fn traffic_class(&self) -> u8 {
        let b = self.buf.as_ref();
        (b[0] << 4) | (b[1] >> 4)
    }
    /// Payload length field.
    pub fn payload_len(&self) -> usize {
        be16(self.buf.as_ref(), 4) as usize
    }
    /// Next Header of the fixed header.
    pub fn next_header(&self) -> u8 {
        self.buf.as_ref()[6]
    }
    /// Source address.
    pub fn src(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buf.as_ref()[8..24]);
        a
    }
    /// Destination address.
    pub fn dst(&self) -> [u8; 16] {
        let mut a = [0; 16];
        a.copy_from_slice(&self.buf.as_ref()[24..40]);
        a
    }
    /// The payload, bounded by the payload length.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[40..40 + self.payload_len()]
    }
}

/// Writes a 40-byte IPv6 header (flow label 0, hop limit 64, next header TCP).
pub(crate) fn write_header(
    out: &mut [u8],
    tclass: u8,
    payload_len: u16,
    src: &[u8; 16],
    dst: &[u8; 16],
) {
    if out.len() < 40 {
        return;
    }
    out[0] = 0x60 | (tclass >> 4);
    out[1] = tclass << 4;
    out[2] = 0;
    out[3] = 0;
    out[4..6].copy_from_slice(&payload_len.to_be_bytes());
    out[6] = 6;
    out[7] = 64;
    out[8..24].copy_from_slice(src);
    out[24..40].copy_from_slice(dst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip_and_checks() {
        let mut b = [0u8; 60];
        let s = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let d = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        write_header(&mut b, 0xb8, 20, &s, &d);
        let p = Ipv6Packet::new_checked(&b[..]).unwrap();
        assert_eq!(p.traffic_class(), 0xb8);
        assert_eq!(p.payload_len(), 20);
        assert_eq!(p.next_header(), 6);
        assert_eq!(p.src(), s);
        assert_eq!(p.dst(), d);
        assert_eq!(p.payload().len(), 20);
        assert_eq!(
            Ipv6Packet::new_checked(&b[..59]).err(),
            Some(WireError::Truncated)
        );
        let mut bad = b;
        bad[0] = 0x40;
        assert_eq!(
            Ipv6Packet::new_checked(&bad[..]).err(),
            Some(WireError::Malformed)
        );
        let mut jumbo = b;
        jumbo[4] = 0;
        jumbo[5] = 0;
        assert_eq!(
            Ipv6Packet::new_checked(&jumbo[..]).err(),
            Some(WireError::Malformed)
        );
    }
}
