//! Zero-copy, bounds-checked packet views and the frame classifier.
//!
//! Each view (`EthernetFrame`, `Ipv4Packet`, `Ipv6Packet`, `TcpHeader`) wraps a
//! `&[u8]` or `&mut [u8]`; its `new_checked` validates every length the accessors
//! rely on, so accessors never index out of bounds and nothing here can panic on
//! peer-controlled input. [`parse_tcp_frame`] combines them into a [`TcpFrame`]
//! summary, or says why a frame is not for vSnoop ([`NotForSnoop`]).

pub mod build;
pub mod checksum;
mod ethernet;
mod ipv4;
mod ipv6;
mod parse;
mod tcp;

pub use build::SegmentSpec;
pub use ethernet::{EthernetFrame, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN};
pub use ipv4::Ipv4Packet;
pub use ipv6::Ipv6Packet;
pub use parse::{map_v4, parse_tcp_frame, IpVersion, NotForSnoop, TcpFrame};
pub(crate) use parse::{parse_seg, Seg};
pub use tcp::{TcpFlags, TcpHeader, TcpOptions};

/// Why a view could not be built over a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The buffer is shorter than a header or than a length field says.
    Truncated,
    /// A header field has an impossible value (version, header length, option length).
    Malformed,
}

/// Reads a big-endian u16 at `off` (callers have checked bounds; returns 0 otherwise).
#[inline]
pub(crate) fn be16(b: &[u8], off: usize) -> u16 {
    match b.get(off..off + 2) {
        Some(s) => u16::from_be_bytes([s[0], s[1]]),
        None => 0,
    }
}

/// Reads a big-endian u32 at `off` (callers have checked bounds; returns 0 otherwise).
#[inline]
pub(crate) fn be32(b: &[u8], off: usize) -> u32 {
    match b.get(off..off + 4) {
        Some(s) => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

/// Writes a big-endian u16 at `off` if in bounds.
#[inline]
pub(crate) fn put16(b: &mut [u8], off: usize, v: u16) {
    if let Some(s) = b.get_mut(off..off + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

/// Writes a big-endian u32 at `off` if in bounds.
#[inline]
pub(crate) fn put32(b: &mut [u8], off: usize, v: u32) {
    if let Some(s) = b.get_mut(off..off + 4) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}
