//! `xen_version` sub-operations (`version.h`).

/// Returns `major << 16 | minor`.
pub const XENVER_VERSION: u32 = 0;
/// Fills a 16-byte buffer with the extra version string (e.g. `.7`).
pub const XENVER_EXTRAVERSION: u32 = 1;
/// Fills a 1024-byte buffer with the capabilities string (e.g. `xen-3.0-x86_64`).
pub const XENVER_CAPABILITIES: u32 = 3;
/// Fills [`XenFeatureInfo`].
pub const XENVER_GET_FEATURES: u32 = 6;
/// Returns the page size.
pub const XENVER_PAGESIZE: u32 = 7;
/// Size of `xen_extraversion_t`.
pub const XEN_EXTRAVERSION_LEN: usize = 16;
/// Size of `xen_capabilities_info_t`.
pub const XEN_CAPABILITIES_INFO_LEN: usize = 1024;

/// `struct xen_feature_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XenFeatureInfo {
    /// IN: which 32-bit word of the feature bitmap.
    pub submap_idx: u32,
    /// OUT.
    pub submap: u32,
}

/// `XENFEAT_writable_page_tables`.
pub const XENFEAT_WRITABLE_PAGE_TABLES: u32 = 0;
/// `XENFEAT_auto_translated_physmap`: set for HVM/PVH, clear for a PV guest.
pub const XENFEAT_AUTO_TRANSLATED_PHYSMAP: u32 = 2;
/// `XENFEAT_supervisor_mode_kernel`.
pub const XENFEAT_SUPERVISOR_MODE_KERNEL: u32 = 3;
/// `XENFEAT_gnttab_map_avail_bits`.
pub const XENFEAT_GNTTAB_MAP_AVAIL_BITS: u32 = 7;
