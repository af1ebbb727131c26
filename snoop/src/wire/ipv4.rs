//! IPv4 header view (options allowed; fragments are reported, not reassembled).

use super::{be16, checksum, WireError};

/// A view of an IPv4 packet. `new_checked` guarantees version 4, `IHL >= 5`, the
/// header inside the buffer and `IHL*4 <= total length <= buffer length` (trailing
/// Ethernet padding beyond the total length is ignored).
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Validates the header and lengths.
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        let b = buf.as_ref();
        if b.len() < 20 {
            return Err(WireError::Truncated);
        }
        if b[0] >> 4 != 4 {
            return Err(WireError::Malformed);
        }
        let ihl = ((b[0] & 0x0f) as usize) * 4;
        if ihl < 20 {
            return Err(WireError::Malformed);
        }
        let total = be16(b, 2) as usize;
        if total < ihl {
            return Err(WireError::Malformed);
        }
        if total > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(Ipv4Packet { buf })
    }
    /// Header length in bytes (20..=60).
    pub fn header_len(&self) -> usize {
        ((self.buf.as_ref()[0] & 0x0f) as usize) * 4
    }
    /// Total length field (header + payload).
    pub fn total_len(&self) -> usize {
        be16(self.buf.as_ref(), 2) as usize
    }
    /// The DSCP/ECN byte.
    pub fn tos(&self) -> u8 {
        self.buf.as_ref()[1]
    }
    /// True if this is a fragment (MF set or a non-zero offset).
    pub fn is_fragment(&self) -> bool {
        be16(self.buf.as_ref(), 6) & 0x3fff != 0
    }
    /// Protocol number of the payload.
    pub fn protocol(&self) -> u8 {
        self.buf.as_ref()[9]
    }
    /// Source address.
    pub fn src(&self) -> [u8; 4] {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buf.as_ref()[12..16]);
        a
    }
    /// Destination address.
    pub fn dst(&self) -> [u8; 4] {
        let mut a = [0; 4];
        a.copy_from_slice(&self.buf.as_ref()[16..20]);
        a
    }
    /// True if the header checksum verifies.
    pub fn header_checksum_ok(&self) -> bool {
        let b = self.buf.as_ref();
        checksum::Sum::new()
            .add_bytes(&b[..self.header_len()])
            .verifies()
    }
    /// The payload, bounded by the total length.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..self.total_len()]
    }
}

/// Writes a 20-byte IPv4 header (no options, DF set, ID 0 as RFC 6864 allows for
/// atomic datagrams) with a valid checksum into `out[..20]`.
pub(crate) fn write_header(out: &mut [u8], tos: u8, total_len: u16, src: &[u8; 4], dst: &[u8; 4]) {
    if out.len() < 20 {
        return;
    }
    out[0] = 0x45;
    out[1] = tos;
    out[2..4].copy_from_slice(&total_len.to_be_bytes());
    out[4..6].copy_from_slice(&[0, 0]);
    out[6..8].copy_from_slice(&0x4000u16.to_be_bytes());
    out[8] = 64;
    out[9] = 6;
    out[10..12].copy_from_slice(&[0, 0]);
    out[12..16].copy_from_slice(src);
    out[16..20].copy_from_slice(dst);
    let c = checksum::checksum(&out[..20]);
    out[10..12].copy_from_slice(&c.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip_and_checks() {
        let mut b = [0u8; 40];
        write_header(&mut b, 0x10, 40, &[10, 0, 0, 1], &[10, 0, 0, 2]);
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.header_checksum_ok());
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.total_len(), 40);
        assert_eq!(p.protocol(), 6);
        assert_eq!(p.src(), [10, 0, 0, 1]);
        assert_eq!(p.dst(), [10, 0, 0, 2]);
        assert_eq!(p.tos(), 0x10);
        assert!(!p.is_fragment());
        assert_eq!(p.payload().len(), 20);
        assert_eq!(
            Ipv4Packet::new_checked(&b[..39]).err(),
            Some(WireError::Truncated)
        );
        let mut bad = b;
        bad[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).err(),
            Some(WireError::Malformed)
        );
        let mut bad = b;
        bad[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).err(),
            Some(WireError::Malformed)
        );
        let mut bad = b;
        bad[2..4].copy_from_slice(&10u16.to_be_bytes());
        assert_eq!(
            Ipv4Packet::new_checked(&bad[..]).err(),
            Some(WireError::Malformed)
        );
        let mut frag = b;
        frag[6] = 0x20; // MF
        assert!(Ipv4Packet::new_checked(&frag[..]).unwrap().is_fragment());
        let mut frag = b;
        frag[7] = 0x01; // offset 8
        assert!(Ipv4Packet::new_checked(&frag[..]).unwrap().is_fragment());
        let mut corrupt = b;
        corrupt[8] = 63;
        assert!(!Ipv4Packet::new_checked(&corrupt[..])
            .unwrap()
            .header_checksum_ok());
    }
}
