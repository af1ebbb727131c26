//! `xen_version` sub-operations (`version.h`).

/// Returns `major << 16 | minor`.
pub const XENVER_VERSION: u32 = 0;
/// Fills a 16-byte buffer with the extra version string (e.g. `.7`).
pub const XENVER_EXTRAVERSION: u32 = 1;
/// Size of `xen_extraversion_t`.
pub const XEN_EXTRAVERSION_LEN: usize = 16;
