//! `io/xenbus.h`: the device state each end of a split driver publishes in xenstore
//! (`.../state`, as a decimal string).

/// `enum xenbus_state`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum XenbusState {
    Unknown = 0,
    Initialising = 1,
    /// Finished early initialisation, waiting for the peer or hotplug scripts.
    InitWait = 2,
    /// Waiting for a connection from the peer.
    Initialised = 3,
    Connected = 4,
    /// Being closed (error or unplug).
    Closing = 5,
    Closed = 6,
    Reconfiguring = 7,
    Reconfigured = 8,
}

impl XenbusState {
    /// All states, in value order.
    pub const ALL: [XenbusState; 9] = [
        XenbusState::Unknown,
        XenbusState::Initialising,
        XenbusState::InitWait,
        XenbusState::Initialised,
        XenbusState::Connected,
        XenbusState::Closing,
        XenbusState::Closed,
        XenbusState::Reconfiguring,
        XenbusState::Reconfigured,
    ];

    /// The state with numeric value `v`.
    pub fn from_u32(v: u32) -> Option<XenbusState> {
        Self::ALL.get(v as usize).copied()
    }

    /// Parses the xenstore value: a decimal number, optionally surrounded by ASCII
    /// whitespace or followed by NULs (some writers include the terminator). Anything
    /// else, including an out-of-range number, is `None`.
    pub fn parse(s: &[u8]) -> Option<XenbusState> {
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        if s[end..].iter().any(|&b| b != 0) {
            return None;
        }
        let t = s[..end].trim_ascii();
        if t.is_empty() || t.len() > 10 || !t.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = t.iter().fold(0u64, |acc, &d| acc * 10 + (d - b'0') as u64);
        u32::try_from(v).ok().and_then(Self::from_u32)
    }

    /// The decimal string xenstore carries (`"4"` for `Connected`).
    pub fn as_str(self) -> &'static str {
        const S: [&str; 9] = ["0", "1", "2", "3", "4", "5", "6", "7", "8"];
        S[self as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_strings() {
        for s in XenbusState::ALL {
            assert_eq!(XenbusState::parse(s.as_str().as_bytes()), Some(s));
            assert_eq!(XenbusState::from_u32(s as u32), Some(s));
        }
        assert_eq!(XenbusState::parse(b" 4\n"), Some(XenbusState::Connected));
        assert_eq!(XenbusState::parse(b"6\0"), Some(XenbusState::Closed));
        assert_eq!(XenbusState::parse(b"04"), Some(XenbusState::Connected));
        for bad in [
            &b""[..],
            b"9",
            b"-1",
            b"4x",
            b"x",
            b"4294967296",
            b"99999999999999999999",
            b"4\0junk",
            b" ",
        ] {
            assert_eq!(XenbusState::parse(bad), None, "{bad:?}");
        }
    }
}
