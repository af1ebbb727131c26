//! `io/netif.h`: the netfront/netback protocol (TX and RX rings of one page each, extra
//! info segments, and the optional control ring).
//!
//! TX is guest-to-backend: the frontend posts [`NetifTxRequest`]s (one per slot; a packet
//! spans slots chained with [`NETTXF_MORE_DATA`], optionally followed by
//! [`NetifExtraInfo`] slots when [`NETTXF_EXTRA_INFO`] is set) and the backend answers each
//! slot with a [`NetifTxResponse`]. RX is backend-to-guest: the frontend posts empty
//! buffers ([`NetifRxRequest`]) and the backend fills them, answering with
//! [`NetifRxResponse`]s in the slots of the requests it consumed.

use super::ring::ring_entries;
use super::{GrantRef, PAGE_SIZE};

/// Slots a packet may always use (`XEN_NETIF_NR_SLOTS_MIN`); Linux netback treats more
/// than 20 as a fatal frontend error.
pub const XEN_NETIF_NR_SLOTS_MIN: u32 = 18;
/// Largest TX packet (`XEN_NETIF_MAX_TX_SIZE`).
pub const XEN_NETIF_MAX_TX_SIZE: u32 = 0xFFFF;

/// `NETTXF_csum_blank`: the L4 checksum is blank (partial); the backend must fill it in.
pub const NETTXF_CSUM_BLANK: u16 = 1 << 0;
/// `NETTXF_data_validated`: the packet's checksum was validated.
pub const NETTXF_DATA_VALIDATED: u16 = 1 << 1;
/// `NETTXF_more_data`: the packet continues in the next request.
pub const NETTXF_MORE_DATA: u16 = 1 << 2;
/// `NETTXF_extra_info`: an extra info segment follows this request.
pub const NETTXF_EXTRA_INFO: u16 = 1 << 3;

/// `NETRXF_data_validated`.
pub const NETRXF_DATA_VALIDATED: u16 = 1 << 0;
/// `NETRXF_csum_blank`.
pub const NETRXF_CSUM_BLANK: u16 = 1 << 1;
/// `NETRXF_more_data`: the packet continues in the next response.
pub const NETRXF_MORE_DATA: u16 = 1 << 2;
/// `NETRXF_extra_info`: an extra info segment follows this response.
pub const NETRXF_EXTRA_INFO: u16 = 1 << 3;
/// `NETRXF_gso_prefix`: GSO prefix descriptor (legacy, unused by current frontends).
pub const NETRXF_GSO_PREFIX: u16 = 1 << 4;

pub const XEN_NETIF_EXTRA_TYPE_NONE: u8 = 0;
pub const XEN_NETIF_EXTRA_TYPE_GSO: u8 = 1;
pub const XEN_NETIF_EXTRA_TYPE_MCAST_ADD: u8 = 2;
pub const XEN_NETIF_EXTRA_TYPE_MCAST_DEL: u8 = 3;
pub const XEN_NETIF_EXTRA_TYPE_HASH: u8 = 4;
pub const XEN_NETIF_EXTRA_TYPE_MAX: u8 = 5;

/// `XEN_NETIF_EXTRA_FLAG_MORE`: another extra info segment follows.
pub const XEN_NETIF_EXTRA_FLAG_MORE: u8 = 1 << 0;

pub const XEN_NETIF_GSO_TYPE_NONE: u8 = 0;
pub const XEN_NETIF_GSO_TYPE_TCPV4: u8 = 1;
pub const XEN_NETIF_GSO_TYPE_TCPV6: u8 = 2;

/// `NETIF_RSP_DROPPED`.
pub const NETIF_RSP_DROPPED: i16 = -2;
/// `NETIF_RSP_ERROR`.
pub const NETIF_RSP_ERROR: i16 = -1;
/// `NETIF_RSP_OKAY`.
pub const NETIF_RSP_OKAY: i16 = 0;
/// `NETIF_RSP_NULL`: the response of an extra info slot.
pub const NETIF_RSP_NULL: i16 = 1;

/// `struct netif_tx_request`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifTxRequest {
    pub gref: GrantRef,
    /// Offset of the data in the granted page.
    pub offset: u16,
    /// `NETTXF_*`.
    pub flags: u16,
    /// Echoed in the response.
    pub id: u16,
    /// First slot of a packet: the whole packet's size; later slots: this slot's size.
    pub size: u16,
}

/// `struct netif_tx_response`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifTxResponse {
    pub id: u16,
    /// `NETIF_RSP_*`.
    pub status: i16,
}

/// `struct netif_rx_request`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifRxRequest {
    /// Echoed in the response.
    pub id: u16,
    pub pad: u16,
    pub gref: GrantRef,
}

/// `struct netif_rx_response`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifRxResponse {
    pub id: u16,
    /// Offset of the data in the page.
    pub offset: u16,
    /// `NETRXF_*`.
    pub flags: u16,
    /// Byte count if `>= 0`, else `NETIF_RSP_*`.
    pub status: i16,
}

/// `netif_extra_info.u.gso`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifExtraGso {
    /// MSS.
    pub size: u16,
    /// `XEN_NETIF_GSO_TYPE_*`.
    pub type_: u8,
    pub pad: u8,
    /// No features are defined: must be zero.
    pub features: u16,
}

/// `netif_extra_info.u.mcast`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifExtraMcast {
    pub addr: [u8; 6],
}

/// `netif_extra_info.u.hash`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetifExtraHash {
    /// `_XEN_NETIF_CTRL_HASH_TYPE_*`.
    pub type_: u8,
    /// `XEN_NETIF_CTRL_HASH_ALGORITHM_*`.
    pub algorithm: u8,
    pub value: [u8; 4],
}

/// `netif_extra_info.u`: which arm is valid depends on `type_`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NetifExtraInfoU {
    pub gso: NetifExtraGso,
    pub mcast: NetifExtraMcast,
    pub hash: NetifExtraHash,
    pub pad: [u16; 3],
}

/// `struct netif_extra_info`: occupies one ring slot (TX request or RX response).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct NetifExtraInfo {
    /// `XEN_NETIF_EXTRA_TYPE_*`.
    pub type_: u8,
    /// `XEN_NETIF_EXTRA_FLAG_*`.
    pub flags: u8,
    pub u: NetifExtraInfoU,
}

impl NetifExtraInfo {
    /// The raw 6 bytes of the union, whatever the type.
    pub fn payload(&self) -> [u8; 6] {
        // SAFETY: every arm is plain bytes and the union is exactly 6 bytes; `mcast.addr`
        // covers all of it, so any bit pattern is a valid `[u8; 6]`.
        unsafe { self.u.mcast.addr }
    }

    /// The GSO arm.
    pub fn gso(&self) -> NetifExtraGso {
        // SAFETY: any 6 bytes are a valid `NetifExtraGso` (integers only).
        unsafe { self.u.gso }
    }

    /// A GSO extra info segment.
    pub fn new_gso(gso_type: u8, mss: u16, flags: u8) -> Self {
        NetifExtraInfo {
            type_: XEN_NETIF_EXTRA_TYPE_GSO,
            flags,
            u: NetifExtraInfoU {
                gso: NetifExtraGso {
                    size: mss,
                    type_: gso_type,
                    pad: 0,
                    features: 0,
                },
            },
        }
    }
}

impl core::fmt::Debug for NetifExtraInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NetifExtraInfo")
            .field("type_", &self.type_)
            .field("flags", &self.flags)
            .field("u", &self.payload())
            .finish()
    }
}

/// `union netif_tx_sring_entry`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NetifTxSringEntry {
    pub req: NetifTxRequest,
    pub rsp: NetifTxResponse,
}

/// `union netif_rx_sring_entry`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union NetifRxSringEntry {
    pub req: NetifRxRequest,
    pub rsp: NetifRxResponse,
}

/// Entries of a one-page TX ring (`__CONST_RING_SIZE(netif_tx, XEN_PAGE_SIZE)`).
pub const NET_TX_RING_SIZE: u32 =
    ring_entries(PAGE_SIZE, core::mem::size_of::<NetifTxSringEntry>());
/// Entries of a one-page RX ring (`__CONST_RING_SIZE(netif_rx, XEN_PAGE_SIZE)`).
pub const NET_RX_RING_SIZE: u32 =
    ring_entries(PAGE_SIZE, core::mem::size_of::<NetifRxSringEntry>());

const _: () = assert!(core::mem::size_of::<NetifTxSringEntry>() == 12);
const _: () = assert!(core::mem::size_of::<NetifRxSringEntry>() == 8);
const _: () = assert!(core::mem::size_of::<NetifExtraInfo>() == 8);
const _: () = assert!(NET_TX_RING_SIZE == 256);
const _: () = assert!(NET_RX_RING_SIZE == 256);

/// `struct xen_netif_ctrl_request`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenNetifCtrlRequest {
    pub id: u16,
    /// `XEN_NETIF_CTRL_TYPE_*`.
    pub type_: u16,
    pub data: [u32; 3],
}

/// `struct xen_netif_ctrl_response`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenNetifCtrlResponse {
    pub id: u16,
    pub type_: u16,
    /// `XEN_NETIF_CTRL_STATUS_*`.
    pub status: u32,
    pub data: u32,
}

/// `union xen_netif_ctrl_sring_entry`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union XenNetifCtrlSringEntry {
    pub req: XenNetifCtrlRequest,
    pub rsp: XenNetifCtrlResponse,
}

/// Entries of a one-page control ring.
pub const NET_CTRL_RING_SIZE: u32 =
    ring_entries(PAGE_SIZE, core::mem::size_of::<XenNetifCtrlSringEntry>());

pub const XEN_NETIF_CTRL_TYPE_INVALID: u16 = 0;
pub const XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS: u16 = 1;
pub const XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS: u16 = 2;
pub const XEN_NETIF_CTRL_TYPE_SET_HASH_KEY: u16 = 3;
pub const XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE: u16 = 4;
pub const XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE: u16 = 5;
pub const XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING: u16 = 6;
pub const XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM: u16 = 7;
pub const XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE: u16 = 8;
pub const XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING: u16 = 9;
pub const XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING: u16 = 10;

pub const XEN_NETIF_CTRL_STATUS_SUCCESS: u32 = 0;
pub const XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED: u32 = 1;
pub const XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER: u32 = 2;
pub const XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW: u32 = 3;

pub const XEN_NETIF_CTRL_HASH_ALGORITHM_NONE: u8 = 0;
pub const XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ: u8 = 1;
pub const XEN_NETIF_CTRL_HASH_TYPE_IPV4: u32 = 1 << 0;
pub const XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP: u32 = 1 << 1;
pub const XEN_NETIF_CTRL_HASH_TYPE_IPV6: u32 = 1 << 2;
pub const XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP: u32 = 1 << 3;
