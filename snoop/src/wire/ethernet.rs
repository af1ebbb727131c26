//! Ethernet II header with at most one 802.1Q tag.

use super::{be16, WireError};

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// TPID of an 802.1Q tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;

/// A view of an Ethernet frame (destination, source, optional 802.1Q tag, EtherType).
#[derive(Clone, Copy, Debug)]
pub struct EthernetFrame<T> {
    buf: T,
    vlan: bool,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Checks that the header (14 bytes, 18 with a VLAN tag) is present.
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        let b = buf.as_ref();
        if b.len() < 14 {
            return Err(WireError::Truncated);
        }
        let vlan = be16(b, 12) == ETHERTYPE_VLAN;
        if vlan && b.len() < 18 {
            return Err(WireError::Truncated);
        }
        Ok(EthernetFrame { buf, vlan })
    }
    /// Destination MAC.
    pub fn dst(&self) -> [u8; 6] {
        let mut m = [0; 6];
        m.copy_from_slice(&self.buf.as_ref()[0..6]);
        m
    }
    /// Source MAC.
    pub fn src(&self) -> [u8; 6] {
        let mut m = [0; 6];
        m.copy_from_slice(&self.buf.as_ref()[6..12]);
        m
    }
    /// The 802.1Q tag control information, if the frame carries one tag.
    pub fn vlan_tci(&self) -> Option<u16> {
        if self.vlan {
            Some(be16(self.buf.as_ref(), 14))
        } else {
            None
        }
    }
    /// The EtherType of the payload (after the VLAN tag, if any).
    pub fn ethertype(&self) -> u16 {
        be16(self.buf.as_ref(), if self.vlan { 16 } else { 12 })
    }
    /// Header length: 14, or 18 with a VLAN tag.
    pub fn header_len(&self) -> usize {
        if self.vlan {
            18
        } else {
            14
        }
    }
    /// The payload (bytes after the header).
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_tagged() {
        let mut f = [0u8; 18];
        f[0..6].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        f[6..12].copy_from_slice(&[7, 8, 9, 10, 11, 12]);
        f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.dst(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(e.src(), [7, 8, 9, 10, 11, 12]);
        assert_eq!(e.vlan_tci(), None);
        assert_eq!(e.ethertype(), ETHERTYPE_IPV4);
        assert_eq!(e.header_len(), 14);
        f[12..14].copy_from_slice(&ETHERTYPE_VLAN.to_be_bytes());
        f[14..16].copy_from_slice(&0x2064u16.to_be_bytes());
        f[16..18].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.vlan_tci(), Some(0x2064));
        assert_eq!(e.ethertype(), ETHERTYPE_IPV6);
        assert_eq!(e.payload().len(), 0);
        assert_eq!(
            EthernetFrame::new_checked(&f[..17]).err(),
            Some(WireError::Truncated)
        );
        assert_eq!(
            EthernetFrame::new_checked(&f[..13]).err(),
            Some(WireError::Truncated)
        );
    }
}
