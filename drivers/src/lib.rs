//! vsnoop's Xen drivers. Protocol logic only: everything here works on memory and small
//! traits, never on hypercalls directly, so host tests can drive it.
//!
//! - [`console_ring`]: the producer side of the PV console ring.
//! - [`ring`]: `io/ring.h` front/back shared rings (netif, pcifront...).
//! - [`xenstore`]: the xenstore wire codec, ring transport and synchronous client.
#![no_std]

extern crate alloc;

pub mod console_ring;
pub mod netback;
pub mod pcifront;
pub mod ring;
pub mod virtio_glue;
pub mod xenstore;
