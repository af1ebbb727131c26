//! [`XenTransport`]: a `virtio_drivers` transport wrapper that adds what a passed-through
//! virtio-net needs and `virtio_drivers` 0.13 does not do:
//!
//! - accepts `VIRTIO_F_ACCESS_PLATFORM` when the device offers it (QEMU's
//!   `iommu_platform=on` refuses `FEATURES_OK` without it; our DMA addresses are machine
//!   addresses, which is what the platform IOMMU maps for a PV domain);
//! - checks that a reset completes (status reads 0, bounded) and that the device kept
//!   `FEATURES_OK`; on failure it writes `FAILED` instead of going on, and records the
//!   fault for [`super::Nic::probe`];
//! - programs the MSI-X vectors of the queues (`queue_msix_vector`) before each queue is
//!   enabled, when MSI-X is in use.
//!
//! Dropping it resets the device (through the inner transport), except after a failed
//! reset: then the inner transport is leaked, since its drop would spin forever.

use alloc::rc::Rc;
use core::cell::Cell;
use core::mem::ManuallyDrop;
use core::ptr::NonNull;

use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::{PhysAddr, Result};
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// `VIRTIO_F_ACCESS_PLATFORM`.
pub const VIRTIO_F_ACCESS_PLATFORM: u64 = 1 << 33;
/// `VIRTIO_MSI_NO_VECTOR`.
pub const VIRTIO_MSI_NO_VECTOR: u16 = 0xffff;

/// Offsets in `virtio_pci_common_cfg` (virtio 1.x, 4.1.4.3).
pub mod common_cfg {
    pub const MSIX_CONFIG: usize = 0x10;
    pub const QUEUE_SELECT: usize = 0x16;
    pub const QUEUE_MSIX_VECTOR: usize = 0x1a;
    /// Size of the structure we touch.
    pub const LEN: usize = 0x38;
}

/// Polls of the status register after a reset before giving up.
pub const RESET_POLLS: u32 = 1_000_000;

/// Why device initialisation failed, as seen by the wrapper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InitFault {
    /// The status register did not read 0 after a reset.
    ResetFailed,
    /// The device cleared `FEATURES_OK`: it refuses the negotiated features.
    FeaturesRejected,
    /// The device did not accept an MSI-X vector for this queue (`0xffff` = config).
    MsixVectorRefused(u16),
}

/// State shared between the wrapper (owned by the virtio driver) and its owner.
#[derive(Debug, Default)]
pub struct TransportShared {
    offered: Cell<u64>,
    negotiated: Cell<u64>,
    fault: Cell<Option<InitFault>>,
}

impl TransportShared {
    /// Features the device offered.
    pub fn offered(&self) -> u64 {
        self.offered.get()
    }

    /// Features we wrote (including `ACCESS_PLATFORM` when offered).
    pub fn negotiated(&self) -> u64 {
        self.negotiated.get()
    }

    /// The first fault, if any.
    pub fn fault(&self) -> Option<InitFault> {
        self.fault.get()
    }

    fn set_fault(&self, f: InitFault) {
        if self.fault.get().is_none() {
            self.fault.set(Some(f));
        }
    }
}

/// MSI-X vectors (table entries) to program into the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueVectors {
    /// Vector of each queue, by queue index (rx = 0, tx = 1).
    pub queues: [u16; 2],
}

/// See the module documentation.
pub struct XenTransport<T: Transport> {
    inner: ManuallyDrop<T>,
    /// Our own mapping of `virtio_pci_common_cfg` (at least [`common_cfg::LEN`] bytes),
    /// for the MSI-X vector registers `virtio_drivers` does not expose.
    common: Option<NonNull<u8>>,
    vectors: Option<QueueVectors>,
    shared: Rc<TransportShared>,
    reset_polls: u32,
}

impl<T: Transport> XenTransport<T> {
    /// Wraps `inner`. `common` is needed only with `vectors`.
    ///
    /// # Safety
    /// `common`, if given, must be a valid mapping of the device's common configuration
    /// structure, at least [`common_cfg::LEN`] bytes, for the life of the wrapper.
    pub unsafe fn new(
        inner: T,
        common: Option<NonNull<u8>>,
        vectors: Option<QueueVectors>,
        shared: Rc<TransportShared>,
    ) -> Self {
        XenTransport {
            inner: ManuallyDrop::new(inner),
            common,
            vectors: if common.is_some() { vectors } else { None },
            shared,
            reset_polls: RESET_POLLS,
        }
    }

    /// Changes the reset poll bound (tests).
    pub fn set_reset_polls(&mut self, n: u32) {
        self.reset_polls = n;
    }

    fn write16(&mut self, off: usize, v: u16) -> u16 {
        let Some(base) = self.common else {
            return VIRTIO_MSI_NO_VECTOR;
        };
        // SAFETY: `base` maps at least common_cfg::LEN bytes of device memory (contract
        // of `new`); `off + 2 <= LEN` and is 2-aligned.
        unsafe {
            let p = base.as_ptr().add(off).cast::<u16>();
            p.write_volatile(v.to_le());
            u16::from_le(p.read_volatile())
        }
    }

    /// Writes `msix_config` (the config-change vector); `Err` if the device refused it.
    pub fn set_config_vector(&mut self, v: u16) -> core::result::Result<(), InitFault> {
        if self.write16(common_cfg::MSIX_CONFIG, v) != v {
            self.shared
                .set_fault(InitFault::MsixVectorRefused(VIRTIO_MSI_NO_VECTOR));
            return Err(InitFault::MsixVectorRefused(VIRTIO_MSI_NO_VECTOR));
        }
        Ok(())
    }
}

impl<T: Transport> Drop for XenTransport<T> {
    fn drop(&mut self) {
        if self.shared.fault() != Some(InitFault::ResetFailed) {
            // SAFETY: dropped exactly once, here; never used afterwards.
            unsafe { ManuallyDrop::drop(&mut self.inner) };
        }
    }
}

impl<T: Transport> Transport for XenTransport<T> {
    fn device_type(&self) -> DeviceType {
        self.inner.device_type()
    }

    fn read_device_features(&mut self) -> u64 {
        let f = self.inner.read_device_features();
        self.shared.offered.set(f);
        f
    }

    fn write_driver_features(&mut self, driver_features: u64) {
        let f = driver_features | (self.shared.offered() & VIRTIO_F_ACCESS_PLATFORM);
        self.shared.negotiated.set(f);
        self.inner.write_driver_features(f)
    }

    fn max_queue_size(&mut self, queue: u16) -> u32 {
        self.inner.max_queue_size(queue)
    }

    fn notify(&mut self, queue: u16) {
        self.inner.notify(queue)
    }

    fn get_status(&self) -> DeviceStatus {
        self.inner.get_status()
    }

    fn set_status(&mut self, status: DeviceStatus) {
        if status.is_empty() {
            self.inner.set_status(status);
            let mut polls = 0;
            while !self.inner.get_status().is_empty() {
                polls += 1;
                if polls >= self.reset_polls {
                    self.shared.set_fault(InitFault::ResetFailed);
                    return;
                }
                core::hint::spin_loop();
            }
            return;
        }
        if self.shared.fault().is_some() {
            // Give up on the device instead of driving it further.
            self.inner.set_status(DeviceStatus::FAILED);
            return;
        }
        self.inner.set_status(status);
        if status.contains(DeviceStatus::FEATURES_OK)
            && !status.contains(DeviceStatus::DRIVER_OK)
            && !self.inner.get_status().contains(DeviceStatus::FEATURES_OK)
        {
            self.shared.set_fault(InitFault::FeaturesRejected);
            self.inner.set_status(DeviceStatus::FAILED);
        }
    }

    fn set_guest_page_size(&mut self, guest_page_size: u32) {
        self.inner.set_guest_page_size(guest_page_size)
    }

    fn requires_legacy_layout(&self) -> bool {
        self.inner.requires_legacy_layout()
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        descriptors: PhysAddr,
        driver_area: PhysAddr,
        device_area: PhysAddr,
    ) {
        if let Some(v) = self.vectors {
            let vec = v
                .queues
                .get(queue as usize)
                .copied()
                .unwrap_or(VIRTIO_MSI_NO_VECTOR);
            self.write16(common_cfg::QUEUE_SELECT, queue);
            if self.write16(common_cfg::QUEUE_MSIX_VECTOR, vec) != vec {
                self.shared.set_fault(InitFault::MsixVectorRefused(queue));
            }
        }
        self.inner
            .queue_set(queue, size, descriptors, driver_area, device_area)
    }

    fn queue_unset(&mut self, queue: u16) {
        self.inner.queue_unset(queue)
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.inner.queue_used(queue)
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        self.inner.ack_interrupt()
    }

    fn read_config_generation(&self) -> u32 {
        self.inner.read_config_generation()
    }

    fn read_config_space<V: FromBytes + IntoBytes>(&self, offset: usize) -> Result<V> {
        self.inner.read_config_space(offset)
    }

    fn write_config_space<V: IntoBytes + Immutable>(
        &mut self,
        offset: usize,
        value: V,
    ) -> Result<()> {
        self.inner.write_config_space(offset, value)
    }
}
