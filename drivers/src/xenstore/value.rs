//! Strict parsers for values a peer (toolstack, frontend, backend) wrote in xenstore.
//! Shared by netback and pcifront; none of them panics on any input.

/// Longest decimal we accept (`u32::MAX` has 10 digits).
const MAX_DIGITS: usize = 10;

/// Drops one trailing NUL: some writers include the C terminator.
pub fn strip_nul(s: &[u8]) -> &[u8] {
    s.strip_suffix(b"\0").unwrap_or(s)
}

/// A decimal `u32`: ASCII digits only (one trailing NUL tolerated), no sign, no spaces.
pub fn parse_u32(s: &[u8]) -> Option<u32> {
    let s = strip_nul(s);
    if s.is_empty() || s.len() > MAX_DIGITS || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = s.iter().fold(0u64, |acc, &d| acc * 10 + (d - b'0') as u64);
    u32::try_from(v).ok()
}

/// A boolean feature flag: exactly `0` or `1`.
pub fn parse_bool(s: &[u8]) -> Option<bool> {
    match parse_u32(s)? {
        0 => Some(false),
        1 => Some(true),
        _ => None,
    }
}

/// A xenstore path we are willing to use as a peer's directory: absolute, printable ASCII
/// without spaces, no empty / `.` / `..` components, at most 256 bytes.
pub fn parse_path(s: &[u8]) -> Option<&str> {
    let s = strip_nul(s);
    if s.len() < 2 || s.len() > 256 || s[0] != b'/' || s.ends_with(b"/") {
        return None;
    }
    if !s.iter().all(|&c| c.is_ascii_graphic()) {
        return None;
    }
    let st = core::str::from_utf8(s).ok()?;
    if st[1..]
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return None;
    }
    Some(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_u32(b"0"), Some(0));
        assert_eq!(parse_u32(b"768"), Some(768));
        assert_eq!(parse_u32(b"4294967295"), Some(u32::MAX));
        assert_eq!(parse_u32(b"12\0"), Some(12));
        for bad in [
            &b""[..],
            b"4294967296",
            b"-1",
            b"+1",
            b" 1",
            b"1 ",
            b"0x10",
            b"0x1",
            b"1\0\0",
            b"99999999999",
            b"12345678901",
        ] {
            assert_eq!(parse_u32(bad), None, "{bad:?}");
        }
        assert_eq!(parse_bool(b"1"), Some(true));
        assert_eq!(parse_bool(b"0"), Some(false));
        assert_eq!(parse_bool(b"2"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(
            parse_path(b"/local/domain/5/device/vif/0"),
            Some("/local/domain/5/device/vif/0")
        );
        for bad in [
            &b"local/domain"[..],
            b"relative",
            b"/a//b",
            b"/a/../b",
            b"/a b",
            b"/",
            b"/a/",
            b"/a/\xff",
        ] {
            assert_eq!(parse_path(bad), None, "{bad:?}");
        }
    }
}
