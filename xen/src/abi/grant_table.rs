//! Grant tables, version 1 (`grant_table.h`), `HYPERVISOR_grant_table_op(cmd, ops, count)`.

use core::fmt;

use super::{DomId, GrantHandle, GrantRef, Pfn};

/// `struct grant_entry_v1`: one entry of this domain's grant table, written by the
/// granting guest (`frame`, `domid`, then `flags` last) and updated by Xen
/// (`GTF_reading`/`GTF_writing`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GrantEntryV1 {
    /// `GTF_*`.
    pub flags: u16,
    /// The domain being granted access.
    pub domid: DomId,
    /// The granted frame (a machine frame for a PV guest).
    pub frame: u32,
}

/// Reserved entries at the start of the table (`GNTTAB_NR_RESERVED_ENTRIES`).
pub const GNTTAB_NR_RESERVED_ENTRIES: u32 = 8;
/// `GNTTAB_RESERVED_CONSOLE`.
pub const GNTTAB_RESERVED_CONSOLE: u32 = 0;
/// `GNTTAB_RESERVED_XENSTORE`.
pub const GNTTAB_RESERVED_XENSTORE: u32 = 1;

pub const GTF_INVALID: u16 = 0;
pub const GTF_PERMIT_ACCESS: u16 = 1;
pub const GTF_ACCEPT_TRANSFER: u16 = 2;
pub const GTF_TRANSITIVE: u16 = 3;
pub const GTF_TYPE_MASK: u16 = 3;
pub const GTF_READONLY: u16 = 1 << 2;
pub const GTF_READING: u16 = 1 << 3;
pub const GTF_WRITING: u16 = 1 << 4;
pub const GTF_PWT: u16 = 1 << 5;
pub const GTF_PCD: u16 = 1 << 6;
pub const GTF_PAT: u16 = 1 << 7;
pub const GTF_SUB_PAGE: u16 = 1 << 8;
pub const GTF_TRANSFER_COMMITTED: u16 = 1 << 2;
pub const GTF_TRANSFER_COMPLETED: u16 = 1 << 3;

pub const GNTTABOP_MAP_GRANT_REF: u32 = 0;
pub const GNTTABOP_UNMAP_GRANT_REF: u32 = 1;
pub const GNTTABOP_SETUP_TABLE: u32 = 2;
pub const GNTTABOP_DUMP_TABLE: u32 = 3;
pub const GNTTABOP_TRANSFER: u32 = 4;
pub const GNTTABOP_COPY: u32 = 5;
pub const GNTTABOP_QUERY_SIZE: u32 = 6;
pub const GNTTABOP_UNMAP_AND_REPLACE: u32 = 7;
pub const GNTTABOP_SET_VERSION: u32 = 8;
pub const GNTTABOP_GET_STATUS_FRAMES: u32 = 9;
pub const GNTTABOP_GET_VERSION: u32 = 10;

pub const GNTMAP_DEVICE_MAP: u32 = 1 << 0;
pub const GNTMAP_HOST_MAP: u32 = 1 << 1;
pub const GNTMAP_READONLY: u32 = 1 << 2;
pub const GNTMAP_APPLICATION_MAP: u32 = 1 << 3;
pub const GNTMAP_CONTAINS_PTE: u32 = 1 << 4;

pub const GNTCOPY_SOURCE_GREF: u16 = 1 << 0;
pub const GNTCOPY_DEST_GREF: u16 = 1 << 1;

pub const GNTST_OKAY: i16 = 0;
pub const GNTST_GENERAL_ERROR: i16 = -1;
pub const GNTST_BAD_DOMAIN: i16 = -2;
pub const GNTST_BAD_GNTREF: i16 = -3;
pub const GNTST_BAD_HANDLE: i16 = -4;
pub const GNTST_BAD_VIRT_ADDR: i16 = -5;
pub const GNTST_BAD_DEV_ADDR: i16 = -6;
pub const GNTST_NO_DEVICE_SPACE: i16 = -7;
pub const GNTST_PERMISSION_DENIED: i16 = -8;
pub const GNTST_BAD_PAGE: i16 = -9;
pub const GNTST_BAD_COPY_ARG: i16 = -10;
pub const GNTST_ADDRESS_TOO_BIG: i16 = -11;
pub const GNTST_EAGAIN: i16 = -12;
pub const GNTST_NO_SPACE: i16 = -13;

/// A per-operation grant status other than `GNTST_okay` (the negative `GNTST_*` value).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct GntStatus(pub i16);

impl GntStatus {
    /// `Ok(())` for `GNTST_okay`, the status otherwise.
    pub fn check(status: i16) -> Result<(), GntStatus> {
        if status == GNTST_OKAY {
            Ok(())
        } else {
            Err(GntStatus(status))
        }
    }

    /// Xen's message for the status (`GNTTABOP_error_msgs`).
    pub fn message(self) -> &'static str {
        const MSGS: [&str; 14] = [
            "okay",
            "undefined error",
            "unrecognised domain id",
            "invalid grant reference",
            "invalid mapping handle",
            "invalid virtual address",
            "invalid device address",
            "no spare translation slot in the I/O MMU",
            "permission denied",
            "bad page",
            "copy arguments cross page boundary",
            "page address size too large",
            "operation not done; try again",
            "out of space",
        ];
        let i = -(self.0 as i32);
        if (0..MSGS.len() as i32).contains(&i) {
            MSGS[i as usize]
        } else {
            "unknown grant status"
        }
    }
}

impl fmt::Debug for GntStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GntStatus({}: {})", self.0, self.message())
    }
}

impl fmt::Display for GntStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// `struct gnttab_map_grant_ref` (`GNTTABOP_map_grant_ref`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabMapGrantRef {
    /// Virtual address to map at (or PTE machine address with `GNTMAP_contains_pte`).
    pub host_addr: u64,
    /// `GNTMAP_*`.
    pub flags: u32,
    pub ref_: GrantRef,
    pub dom: DomId,
    /// OUT: `GNTST_*`.
    pub status: i16,
    /// OUT: handle for the unmap.
    pub handle: GrantHandle,
    /// OUT: bus address with `GNTMAP_device_map`.
    pub dev_bus_addr: u64,
}

/// `struct gnttab_unmap_grant_ref` (`GNTTABOP_unmap_grant_ref`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabUnmapGrantRef {
    pub host_addr: u64,
    pub dev_bus_addr: u64,
    pub handle: GrantHandle,
    /// OUT: `GNTST_*`.
    pub status: i16,
}

/// `struct gnttab_setup_table` (`GNTTABOP_setup_table`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabSetupTable {
    pub dom: DomId,
    pub nr_frames: u32,
    /// OUT: `GNTST_*`.
    pub status: i16,
    /// Guest handle of an array of `nr_frames` `xen_pfn_t`, filled with the table's frames.
    pub frame_list: u64,
}

/// `struct gnttab_query_size` (`GNTTABOP_query_size`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GnttabQuerySize {
    pub dom: DomId,
    /// OUT.
    pub nr_frames: u32,
    /// OUT.
    pub max_nr_frames: u32,
    /// OUT: `GNTST_*`.
    pub status: i16,
}

/// `gnttab_copy_ptr.u`: a grant reference (with `GNTCOPY_*_gref`) or a local frame.
#[repr(C)]
#[derive(Clone, Copy)]
pub union GnttabCopyPtrU {
    pub ref_: GrantRef,
    pub gmfn: Pfn,
}

/// `struct gnttab_copy_ptr`: one end of a grant copy.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GnttabCopyPtr {
    pub u: GnttabCopyPtrU,
    pub domid: DomId,
    pub offset: u16,
}

impl GnttabCopyPtr {
    /// A granted page of `domid`.
    pub fn gref(domid: DomId, ref_: GrantRef, offset: u16) -> Self {
        let mut u = GnttabCopyPtrU { gmfn: 0 };
        u.ref_ = ref_;
        GnttabCopyPtr { u, domid, offset }
    }

    /// A frame of `domid` (usually `DOMID_SELF`), by machine frame number for a PV guest.
    pub fn frame(domid: DomId, gmfn: Pfn, offset: u16) -> Self {
        GnttabCopyPtr {
            u: GnttabCopyPtrU { gmfn },
            domid,
            offset,
        }
    }
}

impl fmt::Debug for GnttabCopyPtr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: both arms are plain integers; reading the wider one is always defined
        // because constructors zero the whole union first.
        let raw = unsafe { self.u.gmfn };
        f.debug_struct("GnttabCopyPtr")
            .field("u", &raw)
            .field("domid", &self.domid)
            .field("offset", &self.offset)
            .finish()
    }
}

/// `struct gnttab_copy` (`GNTTABOP_copy`): copies `len` bytes; neither end may cross a
/// page boundary.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct GnttabCopy {
    pub source: GnttabCopyPtr,
    pub dest: GnttabCopyPtr,
    pub len: u16,
    /// `GNTCOPY_*`.
    pub flags: u16,
    /// OUT: `GNTST_*`.
    pub status: i16,
}
