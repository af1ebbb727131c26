//! [`Nic`]: the passed-through virtio-net, found among pcifront's devices and driven with
//! `virtio_drivers`' `VirtIONetRaw` over [`PciTransport`] (config space through
//! pcifront, MMIO through [`DmaProvider::map_mmio`], DMA through [`XenHal`]).
//!
//! `VirtIONetRaw` rather than `VirtIONet`: its non-blocking transmit lets us keep frames
//! in flight (`VirtIONet::send` spins until the device is done), and we give it our own
//! single-page DMA buffers, so nothing is ever bounced.

use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::ptr::NonNull;

use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::pci::bus::{DeviceFunction, PciRoot};
use virtio_drivers::transport::pci::{PciTransport, VirtioPciError};
use virtio_drivers::transport::InterruptStatus;
use xen::abi::PAGE_SIZE;

use super::caps::{read_virtio_caps, CapsError, VirtioCaps};
use super::hal::{DmaBuf, DmaProvider, XenHal};
use super::transport::{common_cfg, InitFault, QueueVectors, TransportShared, XenTransport};
use crate::pcifront::bar::{
    capabilities, find_capability, msix_table_size, probe_bars, Bar, PCI_CAP_ID_MSIX, PCI_COMMAND,
    PCI_COMMAND_INTX_DISABLE, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY,
};
use crate::pcifront::{ConfigOps, FrontPlatform, PciAddress, PciError, PciFront, SharedConfig};

/// Descriptors per virtqueue (and RX buffers posted, TX frames in flight).
pub const QUEUE_SIZE: usize = 64;
/// Largest frame [`Nic::send`] takes (one page minus the virtio-net header).
pub const MAX_FRAME: usize = PAGE_SIZE - 12;

pub const VIRTIO_VENDOR: u16 = 0x1af4;
/// Modern (virtio 1.x only) network device.
pub const DEVICE_NET_MODERN: u16 = 0x1041;
/// Transitional network device (subsystem device id 1 = network).
pub const DEVICE_NET_TRANSITIONAL: u16 = 0x1000;
/// `VIRTIO_NET_F_STATUS`.
const VIRTIO_NET_F_STATUS: u64 = 1 << 16;
/// PCI class "network controller".
const CLASS_NETWORK: u8 = 0x02;

/// Interrupt delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqMode {
    /// No interrupts: the kernel polls [`Nic::receive_with`] / [`Nic::send`].
    Poll,
    /// MSI-X through pciback: [`Nic::pirqs`] gives the pirqs to bind
    /// (`EVTCHNOP_bind_pirq`).
    Msix,
}

/// The pirqs of the MSI-X vectors (equal when the device has fewer than 3 vectors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsixPirqs {
    pub config: u32,
    pub rx: u32,
    pub tx: u32,
}

/// What an interrupt acknowledgement found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IrqStatus {
    /// A virtqueue has used buffers.
    pub queue: bool,
    /// The device configuration (link status) changed.
    pub config: bool,
}

/// Why the NIC cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NicError {
    /// pcifront exported no PCI device.
    NoDevice,
    /// A device is there but it is not a virtio-net we can drive.
    Unsupported {
        vendor: u16,
        device: u16,
        why: &'static str,
    },
    /// A pcifront operation failed.
    Pci(PciError),
    /// The virtio capabilities are unusable.
    Caps(CapsError),
    /// `DmaProvider::map_mmio` refused a BAR range.
    Mmio { phys: u64, len: usize },
    /// Out of DMA memory.
    Dma,
    /// The device has no MSI-X capability but [`IrqMode::Msix`] was asked for.
    NoMsix,
    /// `virtio_drivers` refused the PCI transport.
    Transport(VirtioPciError),
    /// The device did not complete a reset.
    ResetFailed,
    /// The device refused the negotiated features (cleared `FEATURES_OK`).
    FeaturesRejected,
    /// The device did not take an MSI-X vector.
    MsixRefused,
    /// A `virtio_drivers` error.
    Virtio(virtio_drivers::Error),
    /// The frame is empty or larger than [`MAX_FRAME`].
    BadFrame(usize),
    /// Every transmit buffer is in flight; retry after the device completed some.
    TxFull,
    /// The device returned something impossible (unknown token, bad length).
    Corrupt(&'static str),
}

impl From<PciError> for NicError {
    fn from(e: PciError) -> Self {
        NicError::Pci(e)
    }
}

impl From<virtio_drivers::Error> for NicError {
    fn from(e: virtio_drivers::Error) -> Self {
        NicError::Virtio(e)
    }
}

impl From<InitFault> for NicError {
    fn from(f: InitFault) -> Self {
        match f {
            InitFault::ResetFailed => NicError::ResetFailed,
            InitFault::FeaturesRejected => NicError::FeaturesRejected,
            InitFault::MsixVectorRefused(_) => NicError::MsixRefused,
        }
    }
}

impl fmt::Display for NicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NicError::NoDevice => f.write_str("nic: no PCI device passed through"),
            NicError::Unsupported {
                vendor,
                device,
                why,
            } => {
                write!(
                    f,
                    "nic: unsupported device {vendor:04x}:{device:04x}: {why}"
                )
            }
            NicError::Pci(e) => write!(f, "nic: {e}"),
            NicError::Caps(e) => write!(f, "nic: virtio capabilities: {e:?}"),
            NicError::Mmio { phys, len } => {
                write!(f, "nic: cannot map {len:#x} bytes at {phys:#x}")
            }
            NicError::Dma => f.write_str("nic: out of DMA memory"),
            NicError::NoMsix => f.write_str("nic: device has no MSI-X"),
            NicError::Transport(e) => write!(f, "nic: virtio PCI transport: {e}"),
            NicError::ResetFailed => f.write_str("nic: device reset did not complete"),
            NicError::FeaturesRejected => f.write_str("nic: device refused the features"),
            NicError::MsixRefused => f.write_str("nic: device refused an MSI-X vector"),
            NicError::Virtio(e) => write!(f, "nic: virtio: {e}"),
            NicError::BadFrame(n) => write!(f, "nic: bad frame length {n}"),
            NicError::TxFull => f.write_str("nic: transmit queue full"),
            NicError::Corrupt(w) => write!(f, "nic: device misbehaves: {w}"),
        }
    }
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NicStats {
    pub rx_frames: u64,
    pub tx_frames: u64,
    pub tx_full: u64,
}

/// Identification of a candidate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciIds {
    pub vendor: u16,
    pub device: u16,
    pub class: u8,
    pub subsystem_device: u16,
}

/// Reads the ids of `addr`.
pub fn read_ids<C: ConfigOps>(ops: &mut C, addr: PciAddress) -> Result<PciIds, PciError> {
    let id = ops.conf_read(addr, 0x00, 4)?;
    let class = ops.conf_read(addr, 0x08, 4)?;
    let subsys = ops.conf_read(addr, 0x2c, 4)?;
    Ok(PciIds {
        vendor: id as u16,
        device: (id >> 16) as u16,
        class: (class >> 24) as u8,
        subsystem_device: (subsys >> 16) as u16,
    })
}

/// Whether `ids` is a virtio-net we drive; `Err(why)` otherwise.
pub fn check_ids(ids: PciIds) -> Result<(), &'static str> {
    if ids.vendor != VIRTIO_VENDOR {
        return Err("not a virtio device");
    }
    match ids.device {
        DEVICE_NET_MODERN => {}
        DEVICE_NET_TRANSITIONAL if ids.subsystem_device == 1 => {}
        DEVICE_NET_TRANSITIONAL => return Err("transitional id with a non-network subsystem"),
        _ => return Err("virtio device of another type"),
    }
    if ids.class != CLASS_NETWORK {
        return Err("not of the network class");
    }
    Ok(())
}

/// The first virtio-net among pcifront's devices.
pub fn find_nic<P: FrontPlatform>(
    front: &mut PciFront<P>,
) -> Result<(PciAddress, PciIds), NicError> {
    let addrs: Vec<PciAddress> = front.devices().iter().map(|d| d.vdev).collect();
    let mut first_refusal = None;
    for a in addrs {
        let ids = read_ids(front, a)?;
        match check_ids(ids) {
            Ok(()) => return Ok((a, ids)),
            Err(why) => {
                first_refusal.get_or_insert(NicError::Unsupported {
                    vendor: ids.vendor,
                    device: ids.device,
                    why,
                });
            }
        }
    }
    Err(first_refusal.unwrap_or(NicError::NoDevice))
}

type Net<D> = VirtIONetRaw<XenHal<D>, XenTransport<PciTransport>, QUEUE_SIZE>;

/// The NIC. See the module documentation.
pub struct Nic<D: DmaProvider> {
    // Declared first so it drops first: the device is reset before our buffers are freed.
    net: Net<D>,
    rx: Vec<Option<DmaBuf<D>>>,
    tx_free: Vec<DmaBuf<D>>,
    tx_busy: Vec<Option<(DmaBuf<D>, usize)>>,
    /// Buffers the device may still own after an error: kept until the reset.
    quarantine: Vec<DmaBuf<D>>,
    addr: PciAddress,
    ids: PciIds,
    mac: [u8; 6],
    bars: Vec<Bar>,
    caps: VirtioCaps,
    device_cfg: Option<NonNull<u8>>,
    shared: Rc<TransportShared>,
    pirqs: Option<MsixPirqs>,
    stats: NicStats,
}

impl<D: DmaProvider> Nic<D> {
    /// Finds the virtio-net among `front`'s devices and brings it up: BARs and
    /// capabilities checked, MMIO mapped, memory decoding and bus mastering on, MSI-X
    /// enabled through pciback (for [`IrqMode::Msix`]), device reset and initialised,
    /// receive buffers posted.
    pub fn probe<P: FrontPlatform>(
        front: &mut PciFront<P>,
        irq: IrqMode,
    ) -> Result<Self, NicError> {
        let (addr, ids) = find_nic(front)?;
        let bars = probe_bars(front, addr)?;
        let caps_list = capabilities(front, addr)?;
        let caps = match read_virtio_caps(front, addr, &caps_list, &bars) {
            Ok(c) => c,
            Err(CapsError::NoModernInterface) => {
                return Err(NicError::Unsupported {
                    vendor: ids.vendor,
                    device: ids.device,
                    why: "legacy-only virtio device (no modern capabilities)",
                })
            }
            Err(CapsError::Pci(e)) => return Err(NicError::Pci(e)),
            Err(e) => return Err(NicError::Caps(e)),
        };
        let mut common = None;
        let mut device_cfg = None;
        for (i, r) in [
            Some(caps.common),
            Some(caps.notify),
            Some(caps.isr),
            caps.device,
        ]
        .into_iter()
        .enumerate()
        {
            let Some(r) = r else { continue };
            let va = D::map_mmio(r.phys, r.length as usize).ok_or(NicError::Mmio {
                phys: r.phys,
                len: r.length as usize,
            })?;
            match i {
                0 => common = Some(va),
                3 if r.length >= 8 => device_cfg = Some(va),
                _ => {}
            }
        }

        let cmd = front.conf_read(addr, PCI_COMMAND, 2)? as u16;
        let mut want = cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
        if irq == IrqMode::Msix {
            want |= PCI_COMMAND_INTX_DISABLE;
        }
        if want != cmd {
            front.conf_write(addr, PCI_COMMAND, 2, want as u32)?;
        }

        let transport = {
            let shared_cfg = SharedConfig::new(&mut *front, addr.domain, vec![addr]);
            let mut root = PciRoot::new(shared_cfg.access());
            let df = DeviceFunction {
                bus: addr.bus,
                device: addr.slot(),
                function: addr.func(),
            };
            let t = PciTransport::new::<XenHal<D>, _>(&mut root, df);
            match (t, shared_cfg.take_error()) {
                (Ok(t), None) => t,
                (Ok(t), Some(e)) => {
                    // Not initialised by us: skip its resetting (and spinning) drop.
                    core::mem::forget(t);
                    return Err(NicError::Pci(e));
                }
                (Err(_), Some(e)) => return Err(NicError::Pci(e)),
                (Err(e), None) => return Err(NicError::Transport(e)),
            }
        };

        let (vectors, pirqs) = match irq {
            IrqMode::Poll => (None, None),
            IrqMode::Msix => match enable_msix(front, addr, &caps_list) {
                Ok((q, c, p)) => (Some((q, c)), Some(p)),
                Err(e) => {
                    core::mem::forget(transport);
                    return Err(e);
                }
            },
        };

        // Everything below owns the device; on failure MSI-X is switched off again so
        // that a later probe can enable it.
        let bring_up = move || -> Result<Self, NicError> {
            let shared = Rc::new(TransportShared::default());
            // SAFETY: `common` maps the common configuration structure, which
            // `read_virtio_caps` checked is at least common_cfg::LEN bytes inside its BAR.
            let xt = unsafe {
                XenTransport::new(transport, common, vectors.map(|v| v.0), shared.clone())
            };
            let net = match Net::<D>::new(xt) {
                Ok(n) => n,
                Err(e) => {
                    return Err(shared
                        .fault()
                        .map(NicError::from)
                        .unwrap_or(NicError::Virtio(e)))
                }
            };
            if let Some(f) = shared.fault() {
                return Err(f.into());
            }
            if let (Some(v), Some(c)) = (vectors, common) {
                // SAFETY: as above; MSIX_CONFIG is inside the structure.
                let got = unsafe { write16(c, common_cfg::MSIX_CONFIG, v.1) };
                if got != v.1 {
                    return Err(NicError::MsixRefused);
                }
            }
            let mac = net.mac_address();
            let mut nic = Nic {
                net,
                rx: (0..QUEUE_SIZE).map(|_| None).collect(),
                tx_free: Vec::with_capacity(QUEUE_SIZE),
                tx_busy: (0..QUEUE_SIZE).map(|_| None).collect(),
                quarantine: Vec::new(),
                addr,
                ids,
                mac,
                bars,
                caps,
                device_cfg,
                shared,
                pirqs,
                stats: NicStats::default(),
            };
            for _ in 0..QUEUE_SIZE {
                let buf = DmaBuf::new(1).ok_or(NicError::Dma)?;
                nic.post_rx(buf)?;
                nic.tx_free.push(DmaBuf::new(1).ok_or(NicError::Dma)?);
            }
            Ok(nic)
        };
        let r = bring_up();
        if r.is_err() && pirqs.is_some() {
            let _ = front.disable_msix(addr);
        }
        r
    }

    fn post_rx(&mut self, mut buf: DmaBuf<D>) -> Result<(), NicError> {
        // SAFETY: the buffer stays in `self.rx` (untouched) until the device returns it
        // through `receive_complete`, or until `net` (dropped first) reset the device.
        let token = unsafe { self.net.receive_begin(buf.as_mut_slice()) }?;
        match self.rx.get_mut(token as usize) {
            Some(slot @ None) => {
                *slot = Some(buf);
                Ok(())
            }
            _ => {
                self.quarantine.push(buf);
                Err(NicError::Corrupt("receive token out of range or in use"))
            }
        }
    }

    /// The device's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Link state (always up when the device does not report it).
    pub fn link_up(&self) -> bool {
        match self.device_cfg {
            Some(cfg) if self.shared.negotiated() & VIRTIO_NET_F_STATUS != 0 => {
                // SAFETY: `cfg` maps the device-specific configuration (>= 8 bytes,
                // checked in probe); `status` is the le16 at offset 6.
                let s = unsafe { cfg.as_ptr().add(6).cast::<u16>().read_volatile() };
                u16::from_le(s) & 1 != 0
            }
            _ => true,
        }
    }

    /// The guest-visible PCI address (0000:00:00.0).
    pub fn address(&self) -> PciAddress {
        self.addr
    }

    pub fn ids(&self) -> PciIds {
        self.ids
    }

    pub fn bars(&self) -> &[Bar] {
        &self.bars
    }

    pub fn virtio_caps(&self) -> &VirtioCaps {
        &self.caps
    }

    /// Features offered by the device and negotiated.
    pub fn features(&self) -> (u64, u64) {
        (self.shared.offered(), self.shared.negotiated())
    }

    /// The MSI-X pirqs (with [`IrqMode::Msix`]).
    pub fn pirqs(&self) -> Option<MsixPirqs> {
        self.pirqs
    }

    pub fn stats(&self) -> NicStats {
        self.stats
    }

    /// Reads (and so clears) the ISR status. With MSI-X the vectors already say which
    /// queue fired; call it anyway when polling or on the config vector.
    pub fn ack_interrupt(&mut self) -> IrqStatus {
        let s = self.net.ack_interrupt();
        IrqStatus {
            queue: s.contains(InterruptStatus::QUEUE_INTERRUPT),
            config: s.contains(InterruptStatus::DEVICE_CONFIGURATION_INTERRUPT),
        }
    }

    /// Asks the device to signal used buffers (default after probe).
    pub fn enable_interrupts(&mut self) {
        self.net.enable_interrupts()
    }

    /// Asks the device not to signal used buffers.
    pub fn disable_interrupts(&mut self) {
        self.net.disable_interrupts()
    }

    /// Returns transmitted buffers to the free list; how many.
    pub fn reclaim_tx(&mut self) -> Result<usize, NicError> {
        let mut n = 0;
        while let Some(token) = self.net.poll_transmit() {
            let (buf, len) = self
                .tx_busy
                .get_mut(token as usize)
                .and_then(Option::take)
                .ok_or(NicError::Corrupt("unknown transmit token"))?;
            // SAFETY: the same buffer (and length) we passed to `transmit_begin`.
            match unsafe { self.net.transmit_complete(token, &buf.as_slice()[..len]) } {
                Ok(_) => self.tx_free.push(buf),
                Err(e) => {
                    self.quarantine.push(buf);
                    return Err(e.into());
                }
            }
            n += 1;
        }
        Ok(n)
    }

    /// Queues one Ethernet frame (without FCS) for transmission; does not wait.
    pub fn send(&mut self, frame: &[u8]) -> Result<(), NicError> {
        if frame.is_empty() || frame.len() > MAX_FRAME {
            return Err(NicError::BadFrame(frame.len()));
        }
        self.reclaim_tx()?;
        let Some(mut buf) = self.tx_free.pop() else {
            self.stats.tx_full += 1;
            return Err(NicError::TxFull);
        };
        let hdr = match self.net.fill_buffer_header(buf.as_mut_slice()) {
            Ok(h) => h,
            Err(e) => {
                self.tx_free.push(buf);
                return Err(e.into());
            }
        };
        let total = hdr + frame.len();
        if total > buf.len() {
            self.tx_free.push(buf);
            return Err(NicError::BadFrame(frame.len()));
        }
        buf.as_mut_slice()[hdr..total].copy_from_slice(frame);
        // SAFETY: the buffer stays in `tx_busy`, untouched, until `transmit_complete`.
        match unsafe { self.net.transmit_begin(&buf.as_slice()[..total]) } {
            Ok(token) => match self.tx_busy.get_mut(token as usize) {
                Some(slot @ None) => {
                    *slot = Some((buf, total));
                    self.stats.tx_frames += 1;
                    Ok(())
                }
                _ => {
                    self.quarantine.push(buf);
                    Err(NicError::Corrupt("transmit token out of range or in use"))
                }
            },
            Err(virtio_drivers::Error::QueueFull) => {
                self.tx_free.push(buf);
                self.stats.tx_full += 1;
                Err(NicError::TxFull)
            }
            Err(e) => {
                self.tx_free.push(buf);
                Err(e.into())
            }
        }
    }

    /// Hands the next received frame (without the virtio-net header) to `f` and reposts
    /// its buffer. `Ok(None)` when nothing arrived.
    pub fn receive_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Result<Option<R>, NicError> {
        let Some(token) = self.net.poll_receive() else {
            return Ok(None);
        };
        let mut buf = self
            .rx
            .get_mut(token as usize)
            .and_then(Option::take)
            .ok_or(NicError::Corrupt("unknown receive token"))?;
        // SAFETY: the same buffer we passed to `receive_begin` for this token.
        let (hdr, len) = match unsafe { self.net.receive_complete(token, buf.as_mut_slice()) } {
            Ok(v) => v,
            Err(e) => {
                self.quarantine.push(buf);
                return Err(e.into());
            }
        };
        let out = match hdr
            .checked_add(len)
            .and_then(|end| buf.as_slice().get(hdr..end))
        {
            Some(frame) => {
                self.stats.rx_frames += 1;
                Ok(Some(f(frame)))
            }
            None => Err(NicError::Corrupt("received length beyond the buffer")),
        };
        self.post_rx(buf)?;
        out
    }

    /// The next received frame, copied. `Ok(None)` when nothing arrived.
    pub fn receive(&mut self) -> Result<Option<Vec<u8>>, NicError> {
        self.receive_with(|f| f.to_vec())
    }
}

/// Writes a little-endian u16 register and reads it back.
///
/// # Safety
/// `base + off .. + 2` must be mapped device memory, 2-aligned.
unsafe fn write16(base: NonNull<u8>, off: usize, v: u16) -> u16 {
    // SAFETY: forwarded contract.
    unsafe {
        let p = base.as_ptr().add(off).cast::<u16>();
        p.write_volatile(v.to_le());
        u16::from_le(p.read_volatile())
    }
}

/// Enables MSI-X through pciback: 3 vectors (config, rx, tx) when the table has room,
/// else 1 shared. Returns the queue vectors, the config vector and the pirqs.
fn enable_msix<P: FrontPlatform>(
    front: &mut PciFront<P>,
    addr: PciAddress,
    caps: &[crate::pcifront::Capability],
) -> Result<(QueueVectors, u16, MsixPirqs), NicError> {
    let cap = find_capability(caps, PCI_CAP_ID_MSIX).ok_or(NicError::NoMsix)?;
    let n = msix_table_size(front, addr, cap)?;
    if n >= 3 {
        let p = front.enable_msix(addr, &[0, 1, 2])?;
        let (config, rx, tx) = match p[..] {
            [c, r, t] => (c, r, t),
            _ => return Err(NicError::Pci(PciError::Corrupt("pirq count"))),
        };
        Ok((
            QueueVectors { queues: [1, 2] },
            0,
            MsixPirqs { config, rx, tx },
        ))
    } else {
        let p = front.enable_msix(addr, &[0])?;
        let c = *p
            .first()
            .ok_or(NicError::Pci(PciError::Corrupt("pirq count")))?;
        Ok((
            QueueVectors { queues: [0, 0] },
            0,
            MsixPirqs {
                config: c,
                rx: c,
                tx: c,
            },
        ))
    }
}
