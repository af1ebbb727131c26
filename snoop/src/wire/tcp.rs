//! TCP header view and option parser (RFC 9293, RFC 7323, RFC 2018).

use super::{be16, be32, put16, put32, WireError};

/// TCP header flag bits (byte 13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// ECE (ECN echo).
    pub const ECE: u8 = 0x40;
    /// CWR (congestion window reduced).
    pub const CWR: u8 = 0x80;

    /// True if all bits of `m` are set.
    #[inline]
    pub fn has(self, m: u8) -> bool {
        self.0 & m == m
    }
    /// True if any bit of `m` is set.
    #[inline]
    pub fn any(self, m: u8) -> bool {
        self.0 & m != 0
    }
}

/// Options found in a TCP header. Unknown options are skipped by their length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size (SYN only in practice).
    pub mss: Option<u16>,
    /// Window scale shift as sent (values above 14 are clamped to 14, RFC 7323 §2.3).
    pub wscale: Option<u8>,
    /// SACK-permitted.
    pub sack_permitted: bool,
    /// Number of SACK blocks carried (0 if no SACK option).
    pub sack_blocks: u8,
    /// Timestamps (TSval, TSecr).
    pub timestamps: Option<(u32, u32)>,
    /// Byte offset of the TSval field inside the TCP header, if present.
    pub ts_offset: Option<u8>,
}

/// Option kinds.
const OPT_EOL: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;
const OPT_WS: u8 = 3;
const OPT_SACK_PERM: u8 = 4;
const OPT_SACK: u8 = 5;
const OPT_TS: u8 = 8;

/// Parses the option bytes (`hdr[20..data_offset]`). Any length that is missing,
/// below 2, runs past the header or is wrong for a known kind is malformed.
pub fn parse_options(opts: &[u8]) -> Result<TcpOptions, WireError> {
    let mut o = TcpOptions::default();
    let mut i = 0usize;
    while i < opts.len() {
        let kind = opts[i];
        match kind {
            OPT_EOL => break,
            OPT_NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let len = *opts.get(i + 1).ok_or(WireError::Malformed)? as usize;
        if len < 2 || i + len > opts.len() {
            return Err(WireError::Malformed);
        }
        let body = &opts[i + 2..i + len];
        match kind {
            OPT_MSS => {
                if len != 4 {
                    return Err(WireError::Malformed);
                }
                o.mss = Some(be16(body, 0));
            }
            OPT_WS => {
                if len != 3 {
                    return Err(WireError::Malformed);
                }
                o.wscale = Some(body[0].min(14));
            }
            OPT_SACK_PERM => {
                if len != 2 {
                    return Err(WireError::Malformed);
                }
                o.sack_permitted = true;
            }
            OPT_SACK => {
                if !(len - 2).is_multiple_of(8) || len == 2 {
                    return Err(WireError::Malformed);
                }
                o.sack_blocks = ((len - 2) / 8) as u8;
            }
            OPT_TS => {
                if len != 10 {
                    return Err(WireError::Malformed);
                }
                o.timestamps = Some((be32(body, 0), be32(body, 4)));
                // +20: offset inside the TCP header; +2: skip kind and length.
                o.ts_offset = Some((20 + i + 2) as u8);
            }
            _ => {}
        }
        i += len;
    }
    Ok(o)
}

/// A view of a TCP header. `new_checked` guarantees `20 <= data offset <= len`.
#[derive(Clone, Copy, Debug)]
pub struct TcpHeader<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> TcpHeader<T> {
    /// Validates the data offset against the segment length.
    pub fn new_checked(buf: T) -> Result<Self, WireError> {
        let b = buf.as_ref();
        if b.len() < 20 {
            return Err(WireError::Truncated);
        }
        let doff = ((b[12] >> 4) as usize) * 4;
        if doff < 20 {
            return Err(WireError::Malformed);
        }
        if doff > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(TcpHeader { buf })
    }
    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(self.buf.as_ref(), 0)
    }
    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(self.buf.as_ref(), 2)
    }
    /// Sequence number.
    pub fn seq(&self) -> u32 {
        be32(self.buf.as_ref(), 4)
    }
    /// Acknowledgement number.
    pub fn ack(&self) -> u32 {
        be32(self.buf.as_ref(), 8)
    }
    /// Header length (data offset) in bytes.
    pub fn header_len(&self) -> usize {
        ((self.buf.as_ref()[12] >> 4) as usize) * 4
    }
    /// Flags byte.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buf.as_ref()[13])
    }
    /// Raw (unscaled) window field.
    pub fn window(&self) -> u16 {
        be16(self.buf.as_ref(), 14)
    }
    /// Checksum field.
    pub fn checksum(&self) -> u16 {
        be16(self.buf.as_ref(), 16)
    }
    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        be16(self.buf.as_ref(), 18)
    }
    /// Parsed options.
    pub fn options(&self) -> Result<TcpOptions, WireError> {
        parse_options(&self.buf.as_ref()[20..self.header_len()])
    }
    /// Payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpHeader<T> {
    /// Sets the acknowledgement number (checksum not updated).
    pub fn set_ack(&mut self, v: u32) {
        put32(self.buf.as_mut(), 8, v)
    }
    /// Sets the raw window (checksum not updated).
    pub fn set_window(&mut self, v: u16) {
        put16(self.buf.as_mut(), 14, v)
    }
    /// Sets the checksum field.
    pub fn set_checksum(&mut self, v: u16) {
        put16(self.buf.as_mut(), 16, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(opts: &[u8]) -> [u8; 60] {
        let mut h = [0u8; 60];
        let doff = 20 + opts.len();
        h[12] = ((doff / 4) as u8) << 4;
        h[20..20 + opts.len()].copy_from_slice(opts);
        h
    }

    #[test]
    fn fields() {
        let mut h = hdr(&[]);
        h[0..2].copy_from_slice(&80u16.to_be_bytes());
        h[2..4].copy_from_slice(&443u16.to_be_bytes());
        h[4..8].copy_from_slice(&7u32.to_be_bytes());
        h[8..12].copy_from_slice(&9u32.to_be_bytes());
        h[13] = TcpFlags::ACK | TcpFlags::PSH;
        h[14..16].copy_from_slice(&1000u16.to_be_bytes());
        let mut t = TcpHeader::new_checked(&mut h[..]).unwrap();
        assert_eq!(
            (t.src_port(), t.dst_port(), t.seq(), t.ack()),
            (80, 443, 7, 9)
        );
        assert!(t.flags().has(TcpFlags::ACK) && !t.flags().any(TcpFlags::SYN | TcpFlags::FIN));
        assert_eq!(t.window(), 1000);
        assert_eq!(t.header_len(), 20);
        assert_eq!(t.payload().len(), 40);
        t.set_ack(0xfeed);
        t.set_window(3);
        t.set_checksum(0xabcd);
        assert_eq!((t.ack(), t.window(), t.checksum()), (0xfeed, 3, 0xabcd));
        assert_eq!(
            TcpHeader::new_checked(&h[..19]).err(),
            Some(WireError::Truncated)
        );
        let mut bad = h;
        bad[12] = 0x40;
        assert_eq!(
            TcpHeader::new_checked(&bad[..]).err(),
            Some(WireError::Malformed)
        );
        let mut long = h;
        long[12] = 0xf0;
        assert_eq!(
            TcpHeader::new_checked(&long[..40]).err(),
            Some(WireError::Truncated)
        );
    }

    #[test]
    fn all_options() {
        let opts = [
            2, 4, 0x05, 0xb4, // MSS 1460
            1, 3, 3, 7, // NOP, WS 7
            4, 2, // SACK-permitted
            8, 10, 0, 0, 0, 1, 0, 0, 0, 2, // TS 1, 2
            1, 1, 5, 10, 0, 0, 0, 5, 0, 0, 0, 9, // NOP NOP SACK 1 block
            0, 0, // EOL, padding
        ];
        let o = parse_options(&opts).unwrap();
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.wscale, Some(7));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamps, Some((1, 2)));
        assert_eq!(o.ts_offset, Some(20 + 12));
        assert_eq!(o.sack_blocks, 1);
        let h = hdr(&opts);
        let t = TcpHeader::new_checked(&h[..]).unwrap();
        assert_eq!(t.options().unwrap(), o);
        // Window scale above 14 is clamped.
        assert_eq!(parse_options(&[3, 3, 20]).unwrap().wscale, Some(14));
        // Bytes after EOL are ignored.
        assert_eq!(parse_options(&[0, 99, 99]).unwrap(), TcpOptions::default());
    }

    #[test]
    fn malformed_options() {
        for bad in [
            &[2u8][..],                // missing length
            &[2, 1],                   // length < 2
            &[2, 0],                   // length 0
            &[8, 10, 0, 0],            // runs past the end
            &[2, 3, 0],                // MSS wrong length
            &[3, 4, 1, 0],             // WS wrong length
            &[4, 3, 0],                // SACK-permitted wrong length
            &[5, 2],                   // SACK without blocks
            &[5, 6, 0, 0, 0, 0],       // SACK partial block
            &[8, 8, 0, 0, 0, 0, 0, 0], // TS wrong length
            &[99, 1],                  // unknown kind, length < 2
        ] {
            assert_eq!(parse_options(bad), Err(WireError::Malformed), "{bad:?}");
        }
        // Unknown kinds with a sane length are skipped.
        assert_eq!(
            parse_options(&[99, 4, 0, 0, 1]).unwrap(),
            TcpOptions::default()
        );
    }
}
