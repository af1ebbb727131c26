//! vsnoop's own Xen hypercall and ABI crate (x86_64 PV guests, Xen interface 4.17).
//!
//! - [`abi`]: `#[repr(C)]` structures and constants from Xen's public headers. Pure data: it
//!   compiles on the host, where `tests/abi_layout.rs` checks every size and offset against
//!   Debian's `libxen-dev` headers.
//! - [`XenError`]: a failed hypercall's errno, by name.
//! - [`hypercall`]: the raw hypercall instructions (through the hypercall page Xen fills in at
//!   boot) and thin typed wrappers. Only compiled for the PV kernel target.
#![no_std]

pub mod abi;
pub mod error;

pub use error::XenError;

#[cfg(all(target_arch = "x86_64", target_os = "none"))]
pub mod hypercall;
