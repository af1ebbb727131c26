//! `io/ring.h`: the shared-ring page layout used by netif, pciif's AER ring, blkif...
//!
//! A shared ring page (`struct NAME_sring`) is a 64-byte [`SringHeader`] followed by
//! `nr_ents` entries, each a union of the request and response types. The index
//! arithmetic (private producer/consumer, notification checks, overflow checks) lives in
//! the `drivers` crate (`drivers::ring`).

/// `RING_IDX`: a free-running index; the slot is `idx & (nr_ents - 1)`.
pub type RingIdx = u32;

/// The shared indices at the start of every `NAME_sring`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SringHeader {
    /// Written by the frontend.
    pub req_prod: RingIdx,
    /// Written by the backend: notify when `req_prod` passes this.
    pub req_event: RingIdx,
    /// Written by the backend.
    pub rsp_prod: RingIdx,
    /// Written by the frontend: notify when `rsp_prod` passes this.
    pub rsp_event: RingIdx,
    /// `pvt` union (`netif.smartpoll_active`, `tapif_user.msg`, `pvt_pad[4]`).
    pub pvt: [u8; 4],
    pub pad: [u8; 44],
}

impl Default for SringHeader {
    /// What `SHARED_RING_INIT` writes: producers 0, events 1, padding zeroed.
    fn default() -> Self {
        SringHeader {
            req_prod: 0,
            req_event: 1,
            rsp_prod: 0,
            rsp_event: 1,
            pvt: [0; 4],
            pad: [0; 44],
        }
    }
}

/// Byte offset of `ring[0]` in every `NAME_sring`.
pub const SRING_HEADER_SIZE: usize = core::mem::size_of::<SringHeader>();

/// Number of entries of a shared ring of `bytes` bytes whose entry union is `entry_size`
/// bytes: the entries that fit after the header, rounded down to a power of two (what
/// `__CONST_RING_SIZE`/`__RING_SIZE` compute with `__RD32`).
pub const fn ring_entries(bytes: usize, entry_size: usize) -> u32 {
    if bytes <= SRING_HEADER_SIZE || entry_size == 0 {
        return 0;
    }
    let n = (bytes - SRING_HEADER_SIZE) / entry_size;
    if n == 0 {
        return 0;
    }
    let n = if n > u32::MAX as usize {
        u32::MAX
    } else {
        n as u32
    };
    1 << (31 - n.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_entries_rounds_down_to_power_of_two() {
        assert_eq!(SRING_HEADER_SIZE, 64);
        assert_eq!(ring_entries(4096, 12), 256); // (4096-64)/12 = 336 -> 256
        assert_eq!(ring_entries(4096, 8), 256); // 504 -> 256
        assert_eq!(ring_entries(4096, 16), 128); // 252 -> 128
        assert_eq!(ring_entries(64 + 7, 8), 0);
        assert_eq!(ring_entries(64 + 8, 8), 1);
        assert_eq!(ring_entries(64 + 24, 8), 2);
        assert_eq!(ring_entries(0, 8), 0);
        assert_eq!(ring_entries(4096, 0), 0);
    }
}
