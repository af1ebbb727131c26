//! vsnoop's Xen drivers. Protocol logic only: everything here works on memory and small
//! traits, never on hypercalls directly, so host tests can drive it.
//!
//! - [`console_ring`]: the producer side of the PV console ring.
#![no_std]

pub mod console_ring;
