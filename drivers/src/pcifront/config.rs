//! Config space access: the [`ConfigOps`] trait (implemented by [`super::PciFront`]) and
//! [`PciConfigAccess`], a `virtio_drivers` `ConfigurationAccess` on top of it.
//!
//! `ConfigurationAccess` reads through `&self` and cannot fail, so the ops sit in a
//! [`SharedConfig`] (a `RefCell`), and a failed access reads as all ones (what a PCI
//! read of an absent device returns) while the first error is kept for
//! [`SharedConfig::take_error`]. Callers check it after handing the access to
//! `virtio_drivers`.

use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction};

use super::error::PciError;
use super::parse::PciAddress;

/// Config space reads and writes of 1, 2 or 4 bytes at a naturally aligned offset.
pub trait ConfigOps {
    fn conf_read(&mut self, addr: PciAddress, offset: u16, size: u8) -> Result<u32, PciError>;
    fn conf_write(
        &mut self,
        addr: PciAddress,
        offset: u16,
        size: u8,
        value: u32,
    ) -> Result<(), PciError>;
}

impl<T: ConfigOps + ?Sized> ConfigOps for &mut T {
    fn conf_read(&mut self, addr: PciAddress, offset: u16, size: u8) -> Result<u32, PciError> {
        (**self).conf_read(addr, offset, size)
    }

    fn conf_write(
        &mut self,
        addr: PciAddress,
        offset: u16,
        size: u8,
        value: u32,
    ) -> Result<(), PciError> {
        (**self).conf_write(addr, offset, size, value)
    }
}

/// What a config read of an absent function returns.
pub const INVALID_READ: u32 = 0xffff_ffff;

/// Config ops shared by the [`PciConfigAccess`] handles of one PCI segment.
pub struct SharedConfig<C: ConfigOps> {
    ops: RefCell<C>,
    domain: u16,
    devices: Vec<PciAddress>,
    first_error: RefCell<Option<PciError>>,
    errors: Cell<u32>,
}

impl<C: ConfigOps> SharedConfig<C> {
    /// Ops on segment `domain`, limited to `devices` (others read as absent without an op:
    /// pciback would refuse them, and a bus scan then costs no round trips).
    pub fn new(ops: C, domain: u16, devices: Vec<PciAddress>) -> Self {
        SharedConfig {
            ops: RefCell::new(ops),
            domain,
            devices,
            first_error: RefCell::new(None),
            errors: Cell::new(0),
        }
    }

    /// A handle for `virtio_drivers::transport::pci::bus::PciRoot::new`.
    pub fn access(&self) -> PciConfigAccess<'_, C> {
        PciConfigAccess { shared: self }
    }

    /// The first failed access since the last call, if any.
    pub fn take_error(&self) -> Option<PciError> {
        self.first_error.borrow_mut().take()
    }

    /// Failed accesses so far.
    pub fn errors(&self) -> u32 {
        self.errors.get()
    }

    /// Direct use of the ops (`None` if an access is in progress).
    pub fn with<R>(&self, f: impl FnOnce(&mut C) -> R) -> Option<R> {
        self.ops.try_borrow_mut().ok().map(|mut c| f(&mut c))
    }

    /// Gives the ops back.
    pub fn into_inner(self) -> C {
        self.ops.into_inner()
    }

    /// The pcifront address of `df`, if it is one of our devices.
    pub fn address(&self, df: DeviceFunction) -> Option<PciAddress> {
        let a = PciAddress::new(self.domain, df.bus, df.device, df.function)?;
        self.devices.contains(&a).then_some(a)
    }

    fn record(&self, e: PciError) {
        self.errors.set(self.errors.get().saturating_add(1));
        let mut first = self.first_error.borrow_mut();
        if first.is_none() {
            *first = Some(e);
        }
    }

    fn read_word(&self, df: DeviceFunction, offset: u8) -> u32 {
        let Some(addr) = self.address(df) else {
            return INVALID_READ;
        };
        let r = match self.ops.try_borrow_mut() {
            Ok(mut ops) => ops.conf_read(addr, offset as u16, 4),
            Err(_) => Err(PciError::InvalidArgument("re-entrant config access")),
        };
        r.unwrap_or_else(|e| {
            self.record(e);
            INVALID_READ
        })
    }

    fn write_word(&self, df: DeviceFunction, offset: u8, data: u32) {
        let Some(addr) = self.address(df) else {
            self.record(PciError::InvalidArgument("write to an absent device"));
            return;
        };
        let r = match self.ops.try_borrow_mut() {
            Ok(mut ops) => ops.conf_write(addr, offset as u16, 4, data),
            Err(_) => Err(PciError::InvalidArgument("re-entrant config access")),
        };
        if let Err(e) = r {
            self.record(e);
        }
    }
}

/// `ConfigurationAccess` through pcifront. `DeviceFunction { bus, device, function }`
/// maps to `(domain, bus, devfn = device << 3 | function)`; the guest-visible NIC is
/// `0000:00:00.0`.
pub struct PciConfigAccess<'a, C: ConfigOps> {
    shared: &'a SharedConfig<C>,
}

impl<C: ConfigOps> ConfigurationAccess for PciConfigAccess<'_, C> {
    fn read_word(&self, device_function: DeviceFunction, register_offset: u8) -> u32 {
        self.shared.read_word(device_function, register_offset)
    }

    fn write_word(&mut self, device_function: DeviceFunction, register_offset: u8, data: u32) {
        self.shared
            .write_word(device_function, register_offset, data)
    }

    unsafe fn unsafe_clone(&self) -> Self {
        PciConfigAccess {
            shared: self.shared,
        }
    }
}
