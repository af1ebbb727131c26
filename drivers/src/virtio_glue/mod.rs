//! The passed-through virtio-net NIC, driven by the `virtio_drivers` crate (0.13) on top
//! of pcifront.
//!
//! - [`hal`]: [`DmaProvider`] (what the kernel implements: machine-contiguous DMA
//!   memory, virtual/machine translation, uncached BAR mappings) and [`XenHal`], the
//!   `virtio_drivers::Hal` over it (machine addresses, bounce for non-contiguous buffers).
//! - [`caps`]: the virtio PCI capabilities, checked against the BARs.
//! - [`transport`]: [`XenTransport`], a transport wrapper: `ACCESS_PLATFORM`, bounded
//!   reset, `FEATURES_OK` check, MSI-X queue vectors.
//! - [`nic`]: [`Nic`]: probe, MAC, link, send, receive, interrupt acknowledgement.

pub mod caps;
pub mod hal;
pub mod nic;
pub mod transport;

pub use hal::{DmaBuf, DmaProvider, XenHal};
pub use nic::{IrqMode, IrqStatus, MsixPirqs, Nic, NicError, NicStats, MAX_FRAME, QUEUE_SIZE};
pub use transport::{InitFault, TransportShared, XenTransport};
