//! The xenstore wire format (`io/xs_wire.h`): a 16-byte [`Header`] (`struct xsd_sockmsg`,
//! host byte order) followed by `len <= XENSTORE_PAYLOAD_MAX` payload bytes.
//!
//! Everything here validates and never panics on peer input: a header whose length is
//! too big or whose type is unknown, a truncated payload, a directory listing or watch
//! event that is not NUL-terminated strings, or a non-UTF-8 name is a [`WireError`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use xen::abi::xs_wire::{self as xs, XENSTORE_ABS_PATH_MAX, XENSTORE_PAYLOAD_MAX};

/// Size of the message header.
pub const HEADER_LEN: usize = 16;

/// Message types (`enum xsd_sockmsg_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum MsgType {
    Control = xs::XS_CONTROL,
    Directory = xs::XS_DIRECTORY,
    Read = xs::XS_READ,
    GetPerms = xs::XS_GET_PERMS,
    Watch = xs::XS_WATCH,
    Unwatch = xs::XS_UNWATCH,
    TransactionStart = xs::XS_TRANSACTION_START,
    TransactionEnd = xs::XS_TRANSACTION_END,
    Introduce = xs::XS_INTRODUCE,
    Release = xs::XS_RELEASE,
    GetDomainPath = xs::XS_GET_DOMAIN_PATH,
    Write = xs::XS_WRITE,
    Mkdir = xs::XS_MKDIR,
    Rm = xs::XS_RM,
    SetPerms = xs::XS_SET_PERMS,
    WatchEvent = xs::XS_WATCH_EVENT,
    Error = xs::XS_ERROR,
    IsDomainIntroduced = xs::XS_IS_DOMAIN_INTRODUCED,
    Resume = xs::XS_RESUME,
    SetTarget = xs::XS_SET_TARGET,
    ResetWatches = xs::XS_RESET_WATCHES,
    DirectoryPart = xs::XS_DIRECTORY_PART,
}

impl MsgType {
    /// The type with wire value `v`, if valid.
    pub fn from_u32(v: u32) -> Option<MsgType> {
        use MsgType::*;
        const ALL: [MsgType; 22] = [
            Control,
            Directory,
            Read,
            GetPerms,
            Watch,
            Unwatch,
            TransactionStart,
            TransactionEnd,
            Introduce,
            Release,
            GetDomainPath,
            Write,
            Mkdir,
            Rm,
            SetPerms,
            WatchEvent,
            Error,
            IsDomainIntroduced,
            Resume,
            SetTarget,
            ResetWatches,
            DirectoryPart,
        ];
        ALL.into_iter().find(|t| *t as u32 == v)
    }
}

/// `struct xsd_sockmsg`, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub ty: MsgType,
    pub req_id: u32,
    pub tx_id: u32,
    pub len: u32,
}

/// A malformed message or payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// Fewer than [`HEADER_LEN`] bytes, or fewer payload bytes than `len` says.
    Truncated,
    /// `len` exceeds `XENSTORE_PAYLOAD_MAX`.
    Oversized(u32),
    /// Unknown message type.
    BadType(u32),
    /// Payload strings are not NUL-terminated, are empty where a name is needed, or are
    /// not UTF-8.
    Malformed,
    /// A request argument is unusable: empty or over-long path, NUL inside a string.
    BadArgument,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated => f.write_str("truncated xenstore message"),
            WireError::Oversized(n) => write!(f, "xenstore payload of {n} bytes"),
            WireError::BadType(t) => write!(f, "unknown xenstore message type {t}"),
            WireError::Malformed => f.write_str("malformed xenstore payload"),
            WireError::BadArgument => f.write_str("invalid xenstore path or value"),
        }
    }
}

impl Header {
    /// The 16 wire bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&(self.ty as u32).to_ne_bytes());
        b[4..8].copy_from_slice(&self.req_id.to_ne_bytes());
        b[8..12].copy_from_slice(&self.tx_id.to_ne_bytes());
        b[12..16].copy_from_slice(&self.len.to_ne_bytes());
        b
    }

    /// Decodes and validates the first 16 bytes of `b`.
    pub fn decode(b: &[u8]) -> Result<Header, WireError> {
        if b.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let word = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let (ty, req_id, tx_id, len) = (word(0), word(4), word(8), word(12));
        if len as usize > XENSTORE_PAYLOAD_MAX {
            return Err(WireError::Oversized(len));
        }
        let ty = MsgType::from_u32(ty).ok_or(WireError::BadType(ty))?;
        Ok(Header {
            ty,
            req_id,
            tx_id,
            len,
        })
    }
}

/// A whole message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub header: Header,
    pub payload: Vec<u8>,
}

impl Message {
    /// Parses one complete message (header plus exactly `len` payload bytes) from `b`.
    /// Returns it and the bytes used.
    pub fn parse(b: &[u8]) -> Result<(Message, usize), WireError> {
        let header = Header::decode(b)?;
        let end = HEADER_LEN + header.len as usize;
        if b.len() < end {
            return Err(WireError::Truncated);
        }
        Ok((
            Message {
                header,
                payload: b[HEADER_LEN..end].to_vec(),
            },
            end,
        ))
    }
}

/// Encodes a request: header plus payload. The payload must fit `XENSTORE_PAYLOAD_MAX`.
pub fn encode_request(
    ty: MsgType,
    req_id: u32,
    tx_id: u32,
    payload: &[u8],
) -> Result<Vec<u8>, WireError> {
    if payload.len() > XENSTORE_PAYLOAD_MAX {
        return Err(WireError::Oversized(payload.len() as u32));
    }
    let h = Header {
        ty,
        req_id,
        tx_id,
        len: payload.len() as u32,
    };
    let mut v = Vec::with_capacity(HEADER_LEN + payload.len());
    v.extend_from_slice(&h.encode());
    v.extend_from_slice(payload);
    Ok(v)
}

/// Checks a path argument: non-empty, no NUL, at most `XENSTORE_ABS_PATH_MAX` bytes.
pub fn check_path(path: &str) -> Result<(), WireError> {
    if path.is_empty() || path.len() > XENSTORE_ABS_PATH_MAX || path.as_bytes().contains(&0) {
        return Err(WireError::BadArgument);
    }
    Ok(())
}

/// Builds a payload of NUL-terminated strings (`path\0token\0`...).
pub fn nul_strings(parts: &[&str]) -> Result<Vec<u8>, WireError> {
    let mut v = Vec::new();
    for p in parts {
        if p.as_bytes().contains(&0) {
            return Err(WireError::BadArgument);
        }
        v.extend_from_slice(p.as_bytes());
        v.push(0);
    }
    Ok(v)
}

/// Splits a payload of NUL-terminated strings. Every string must be terminated; an empty
/// payload is an empty list.
pub fn split_nul_strings(payload: &[u8]) -> Result<Vec<String>, WireError> {
    let mut out = Vec::new();
    let mut rest = payload;
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(WireError::Malformed)?;
        let s = core::str::from_utf8(&rest[..end]).map_err(|_| WireError::Malformed)?;
        out.push(String::from(s));
        rest = &rest[end + 1..];
    }
    Ok(out)
}

/// Parses an `XS_DIRECTORY` reply: NUL-terminated child names, none empty.
pub fn parse_directory(payload: &[u8]) -> Result<Vec<String>, WireError> {
    let names = split_nul_strings(payload)?;
    if names.iter().any(|n| n.is_empty() || n.contains('/')) {
        return Err(WireError::Malformed);
    }
    Ok(names)
}

/// An `XS_WATCH_EVENT`: the path that changed and the token given to `watch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    pub path: String,
    pub token: String,
}

/// Parses an `XS_WATCH_EVENT` payload: `path\0token\0` (later fields, if a future
/// xenstored adds any, are ignored). The path must not be empty.
pub fn parse_watch_event(payload: &[u8]) -> Result<WatchEvent, WireError> {
    let mut parts = split_nul_strings(payload)?.into_iter();
    let path = parts.next().ok_or(WireError::Malformed)?;
    let token = parts.next().ok_or(WireError::Malformed)?;
    if path.is_empty() {
        return Err(WireError::Malformed);
    }
    Ok(WatchEvent { path, token })
}

/// Parses an "OK" acknowledgement (`OK\0`; a missing NUL is tolerated).
pub fn parse_ok(payload: &[u8]) -> Result<(), WireError> {
    match payload {
        b"OK\0" | b"OK" => Ok(()),
        _ => Err(WireError::Malformed),
    }
}

/// Parses an `XS_TRANSACTION_START` reply: a non-zero decimal id, NUL-terminated.
pub fn parse_tx_id(payload: &[u8]) -> Result<u32, WireError> {
    let digits = payload.strip_suffix(b"\0").unwrap_or(payload);
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(WireError::Malformed);
    }
    let v = digits
        .iter()
        .fold(0u64, |acc, &d| acc * 10 + (d - b'0') as u64);
    match u32::try_from(v) {
        Ok(id) if id != 0 => Ok(id),
        _ => Err(WireError::Malformed),
    }
}

/// The errors xenstored reports in `XS_ERROR` replies (`xsd_errors[]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum XsErrno {
    EINVAL,
    EACCES,
    EEXIST,
    EISDIR,
    ENOENT,
    ENOMEM,
    ENOSPC,
    EIO,
    ENOTEMPTY,
    ENOSYS,
    EROFS,
    EBUSY,
    /// Transaction conflict: redo the whole transaction.
    EAGAIN,
    EISCONN,
    E2BIG,
    EPERM,
}

impl XsErrno {
    const ALL: [XsErrno; 16] = [
        XsErrno::EINVAL,
        XsErrno::EACCES,
        XsErrno::EEXIST,
        XsErrno::EISDIR,
        XsErrno::ENOENT,
        XsErrno::ENOMEM,
        XsErrno::ENOSPC,
        XsErrno::EIO,
        XsErrno::ENOTEMPTY,
        XsErrno::ENOSYS,
        XsErrno::EROFS,
        XsErrno::EBUSY,
        XsErrno::EAGAIN,
        XsErrno::EISCONN,
        XsErrno::E2BIG,
        XsErrno::EPERM,
    ];

    /// The wire string (`"ENOENT"`).
    pub fn as_str(self) -> &'static str {
        xs::XSD_ERRORS[self as usize].1
    }

    /// The errno value (Linux/Xen numbering).
    pub fn errno(self) -> i32 {
        xs::XSD_ERRORS[self as usize].0
    }

    /// Parses an `XS_ERROR` payload (`"ENOENT\0"`; a missing NUL is tolerated).
    pub fn parse(payload: &[u8]) -> Option<XsErrno> {
        let s = payload.strip_suffix(b"\0").unwrap_or(payload);
        Self::ALL.into_iter().find(|e| e.as_str().as_bytes() == s)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use alloc::vec;

    #[test]
    fn header_round_trip_and_validation() {
        let h = Header {
            ty: MsgType::Write,
            req_id: 7,
            tx_id: 3,
            len: 4096,
        };
        assert_eq!(Header::decode(&h.encode()), Ok(h));
        let mut b = h.encode();
        b[12..16].copy_from_slice(&4097u32.to_ne_bytes());
        assert_eq!(Header::decode(&b), Err(WireError::Oversized(4097)));
        b[12..16].copy_from_slice(&0u32.to_ne_bytes());
        b[0..4].copy_from_slice(&20u32.to_ne_bytes()); // removed XS_RESTRICT
        assert_eq!(Header::decode(&b), Err(WireError::BadType(20)));
        assert_eq!(Header::decode(&b[..15]), Err(WireError::Truncated));
        for t in 0..30u32 {
            if let Some(m) = MsgType::from_u32(t) {
                assert_eq!(m as u32, t);
            }
        }
        assert_eq!(MsgType::from_u32(xs::XS_TYPE_COUNT), None);
    }

    #[test]
    fn message_parse_needs_whole_payload() {
        let m = encode_request(MsgType::Read, 1, 0, b"a/b\0").unwrap();
        assert_eq!(Message::parse(&m[..m.len() - 1]), Err(WireError::Truncated));
        let mut longer = m.clone();
        longer.extend_from_slice(b"next");
        let (msg, used) = Message::parse(&longer).unwrap();
        assert_eq!(used, m.len());
        assert_eq!(msg.payload, b"a/b\0");
        assert!(encode_request(MsgType::Write, 1, 0, &vec![0u8; 4097]).is_err());
    }

    #[test]
    fn payload_parsers() {
        assert_eq!(parse_directory(b"").unwrap(), Vec::<String>::new());
        assert_eq!(parse_directory(b"a\0bb\0").unwrap(), ["a", "bb"]);
        assert_eq!(parse_directory(b"a\0bb"), Err(WireError::Malformed));
        assert_eq!(parse_directory(b"a\0\0"), Err(WireError::Malformed));
        assert_eq!(parse_directory(b"a/b\0"), Err(WireError::Malformed));
        assert_eq!(parse_directory(b"\xff\0"), Err(WireError::Malformed));
        let ev = parse_watch_event(b"/local/domain/1/state\0tok\0").unwrap();
        assert_eq!(ev.path, "/local/domain/1/state");
        assert_eq!(ev.token, "tok");
        assert!(parse_watch_event(b"path\0").is_err());
        assert!(parse_watch_event(b"path\0tok").is_err());
        assert!(parse_watch_event(b"\0tok\0").is_err());
        assert_eq!(parse_tx_id(b"42\0"), Ok(42));
        for bad in [&b"0\0"[..], b"", b"\0", b"x\0", b"4294967296\0", b"-1\0"] {
            assert!(parse_tx_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_ok(b"OK\0"), Ok(()));
        assert!(parse_ok(b"KO\0").is_err());
        assert_eq!(XsErrno::parse(b"EAGAIN\0"), Some(XsErrno::EAGAIN));
        assert_eq!(XsErrno::parse(b"ENOENT"), Some(XsErrno::ENOENT));
        assert_eq!(XsErrno::EAGAIN.errno(), 11);
        assert_eq!(XsErrno::parse(b"EWHATEVER\0"), None);
        for e in XsErrno::ALL {
            assert_eq!(XsErrno::parse(e.as_str().as_bytes()), Some(e));
            assert_eq!(
                std::format!("{e:?}"),
                e.as_str(),
                "enum order = xsd_errors order"
            );
        }
        assert!(check_path("").is_err());
        assert!(check_path("a\0b").is_err());
        assert!(check_path(&"x".repeat(3073)).is_err());
        assert!(nul_strings(&["a\0"]).is_err());
        assert_eq!(nul_strings(&["p", "t"]).unwrap(), b"p\0t\0");
    }

    /// Random bytes into every decoder: errors, never panics; anything accepted
    /// round-trips.
    #[test]
    fn fuzz_random_bytes_never_panic() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut buf = [0u8; 64];
        for _ in 0..50_000 {
            let n = (next() % 40) as usize;
            for b in buf.iter_mut().take(n) {
                // Small alphabet so that NULs, digits and valid headers are common.
                *b = match next() % 6 {
                    0 => 0,
                    1 => b'a',
                    2 => b'/',
                    3 => b'0' + (next() % 10) as u8,
                    4 => (next() % 24) as u8,
                    _ => next() as u8,
                };
            }
            let b = &buf[..n];
            if let Ok(h) = Header::decode(b) {
                assert_eq!(&h.encode()[..], &b[..HEADER_LEN]);
                assert!(h.len as usize <= XENSTORE_PAYLOAD_MAX);
            }
            if let Ok((m, used)) = Message::parse(b) {
                assert_eq!(used, HEADER_LEN + m.payload.len());
            }
            if let Ok(names) = parse_directory(b) {
                let joined: Vec<u8> = names.iter().flat_map(|s| s.bytes().chain([0])).collect();
                assert_eq!(joined, b);
            }
            let _ = parse_watch_event(b);
            if let Ok(id) = parse_tx_id(b) {
                assert_ne!(id, 0);
            }
            let _ = XsErrno::parse(b);
            let _ = parse_ok(b);
        }
    }
}
