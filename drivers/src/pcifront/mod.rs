//! pcifront: the PV PCI frontend (`io/pciif.h`), protocol logic only.
//!
//! A PV domain reaches a passed-through device only through pciback in dom0: config space
//! accesses and MSI/MSI-X set-up are requests on one shared page ([`XenPciSharedinfo`]),
//! one in flight at a time, signalled over an event channel; the toolstack grants the BAR
//! memory itself.
//!
//! - [`platform`]: what the kernel provides (grant, event channel, clock/wait, xenstore).
//! - [`parse`]: strict parsers for the values pciback and the toolstack write.
//! - [`front`]: [`PciFront`]: the xenbus handshake on `device/pci/0`, device enumeration,
//!   and the op channel (config read/write, MSI, MSI-X).
//! - [`config`]: [`ConfigOps`] and a `virtio_drivers` `ConfigurationAccess` on top of it.
//! - [`bar`]: BAR decoding and sizing, capability walking, the MMIO regions to map.
//!
//! Nothing here calls Xen: host tests drive it against a simulated pciback
//! (`drivers/tests/pcifront_*.rs`).
//!
//! [`XenPciSharedinfo`]: xen::abi::pciif::XenPciSharedinfo

pub mod bar;
pub mod config;
pub mod error;
pub mod front;
pub mod parse;
pub mod platform;

pub use bar::{capabilities, find_capability, probe_bars, Bar, BarKind, Capability, MmioRegion};
pub use config::{ConfigOps, PciConfigAccess, SharedConfig};
pub use error::{BackendCode, PciError};
pub use front::{Limits, PciDevice, PciFront};
pub use parse::PciAddress;
pub use platform::{FrontPlatform, Store, StoreError};
