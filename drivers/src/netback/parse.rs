//! Strict parsers for xenstore values written by the toolstack or the frontend.
//! Everything the peer wrote goes through here; none of them panics.

/// A MAC address.
pub type Mac = [u8; 6];

use crate::xenstore::value::strip_nul;
pub use crate::xenstore::value::{parse_bool, parse_path, parse_u32};

/// `aa:bb:cc:dd:ee:ff` (hex, either case). Multicast/broadcast addresses are refused:
/// a vif's address is a unicast one.
pub fn parse_mac(s: &[u8]) -> Option<Mac> {
    let s = strip_nul(s);
    if s.len() != 17 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (i, byte) in mac.iter_mut().enumerate() {
        let p = &s[i * 3..i * 3 + 2];
        if i < 5 && s[i * 3 + 2] != b':' {
            return None;
        }
        let hi = hex(p[0])?;
        let lo = hex(p[1])?;
        *byte = hi << 4 | lo;
    }
    if mac[0] & 1 != 0 {
        return None;
    }
    Some(mac)
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Formats a MAC as `aa:bb:cc:dd:ee:ff`.
pub struct MacFmt<'a>(pub &'a Mac);

impl core::fmt::Display for MacFmt<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(
            parse_mac(b"00:16:3e:0A:bB:ff"),
            Some([0, 0x16, 0x3e, 0xa, 0xbb, 0xff])
        );
        for bad in [
            &b"00:16:3e:0a:bb"[..],
            b"00-16-3e-0a-bb-ff",
            b"01:16:3e:0a:bb:ff",
            b"ff:ff:ff:ff:ff:ff",
            b"00:16:3e:0a:bb:fg",
            b"00:16:3e:0a:bb:ff:",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad:?}");
        }
    }
}
