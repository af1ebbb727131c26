//! Strict parsers for the xenstore values pcifront reads (written by the toolstack and
//! pciback). None of them panics; anything unexpected is `None`.

use core::fmt;

use xen::abi::DomId;

/// A PCI function as pciif names it: segment (domain), bus, `devfn` (slot << 3 | func).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciAddress {
    pub domain: u16,
    pub bus: u8,
    pub devfn: u8,
}

impl PciAddress {
    /// `domain:bus:slot.func`; `None` if `slot > 31` or `func > 7`.
    pub fn new(domain: u16, bus: u8, slot: u8, func: u8) -> Option<PciAddress> {
        (slot < 32 && func < 8).then_some(PciAddress {
            domain,
            bus,
            devfn: slot << 3 | func,
        })
    }

    /// The device (slot) number, 0..=31.
    pub fn slot(self) -> u8 {
        self.devfn >> 3
    }

    /// The function number, 0..=7.
    pub fn func(self) -> u8 {
        self.devfn & 7
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{}",
            self.domain,
            self.bus,
            self.slot(),
            self.func()
        )
    }
}

use crate::xenstore::value::strip_nul;
pub use crate::xenstore::value::{parse_path, parse_u32};

/// A domain id: decimal, below `DOMID_FIRST_RESERVED` (0x7ff0).
pub fn parse_domid(s: &[u8]) -> Option<DomId> {
    let v = parse_u32(s)?;
    (v < 0x7ff0).then_some(v as DomId)
}

/// 1..=`max` hex digits (either case) as a number.
fn hex_field(s: &[u8], max: usize) -> Option<u32> {
    if s.is_empty() || s.len() > max {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &c| {
        let d = (c as char).to_digit(16)?;
        Some(acc << 4 | d)
    })
}

/// `dddd:bb:ss.f`: pciback's `vdev-N` (`%04x:%02x:%02x.%02x`) and the toolstack's `dev-N`
/// (`%04x:%02x:%02x.%01x`). Fields are hex with at most 4/2/2/2 digits; slot < 32, func < 8.
pub fn parse_pci_address(s: &[u8]) -> Option<PciAddress> {
    let s = strip_nul(s);
    let mut parts = s.split(|&c| c == b':');
    let dom = hex_field(parts.next()?, 4)?;
    let bus = hex_field(parts.next()?, 2)?;
    let rest = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let dot = rest.iter().position(|&c| c == b'.')?;
    let slot = hex_field(&rest[..dot], 2)?;
    let func = hex_field(&rest[dot + 1..], 2)?;
    if slot > 31 || func > 7 {
        return None;
    }
    PciAddress::new(dom as u16, bus as u8, slot as u8, func as u8)
}

/// `dddd:bb`: pciback's `root-N` (`%04x:%02x`).
pub fn parse_root(s: &[u8]) -> Option<(u16, u8)> {
    let s = strip_nul(s);
    let colon = s.iter().position(|&c| c == b':')?;
    let dom = hex_field(&s[..colon], 4)?;
    let bus = hex_field(&s[colon + 1..], 2)?;
    Some((dom as u16, bus as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let a = parse_pci_address(b"0000:00:00.00").unwrap();
        assert_eq!(a, PciAddress::new(0, 0, 0, 0).unwrap());
        let b = parse_pci_address(b"0000:03:1f.7\0").unwrap();
        assert_eq!((b.bus, b.slot(), b.func()), (3, 31, 7));
        assert_eq!(b.to_string_for_test(), "0000:03:1f.7");
        for bad in [
            &b""[..],
            b"0000:00:00",
            b"0000:00:20.0",
            b"0000:00:00.8",
            b"00000:00:00.0",
            b"0000:000:00.0",
            b"0000:00:00.0:1",
            b"0000:00:0g.0",
            b" 0000:00:00.0",
            b"0000:00:00.",
            b"0000::00.0",
            b"-000:00:00.0",
        ] {
            assert_eq!(parse_pci_address(bad), None, "{bad:?}");
        }
        assert_eq!(parse_root(b"0000:00"), Some((0, 0)));
        assert_eq!(parse_root(b"00a1:Ff"), Some((0xa1, 0xff)));
        for bad in [
            &b""[..],
            b"0000",
            b"0000:",
            b":00",
            b"0000:100",
            b"0000:00:00",
        ] {
            assert_eq!(parse_root(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn domids() {
        // parse_u32 / parse_path are tested in xenstore::value.
        assert_eq!(parse_domid(b"0"), Some(0));
        assert_eq!(parse_domid(b"32752"), None);
    }

    impl PciAddress {
        fn to_string_for_test(self) -> alloc::string::String {
            alloc::format!("{self}")
        }
    }
}
