//! The passed-through NIC as the switch's uplink: the kernel side of `drivers::pcifront`
//! and `drivers::virtio_glue` (grants, event channels, DMA memory, BAR mappings, pirqs),
//! and [`Uplink`], which the main loop polls and feeds.
//!
//! Settings: `vsnoop.nic=msix` (default: interrupts through pciback's MSI-X pirqs),
//! `vsnoop.nic=poll` (no interrupts: the main loop polls the device every millisecond),
//! `vsnoop.nic=off` (ignore any passed-through device). docs/nic.md has the details.

use alloc::alloc::{alloc_zeroed, Layout};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;
use core::ptr::NonNull;

use drivers::netback::{Frame, PortId};
use drivers::pcifront::{FrontPlatform, Limits, PciFront, Store, StoreError};
use drivers::virtio_glue::{DmaProvider, IrqMode, Nic, NicError, MAX_FRAME};
use drivers::xenstore::Tx;
use spin::Mutex;
use xen::abi::pciif::XenPciSharedinfo;
use xen::abi::physdev::XENIRQSTAT_NEEDS_EOI;
use xen::abi::{DomId, EvtchnPort, GrantRef, PAGE_SIZE};
use xen::hypercall;

use crate::{dma, events, gnttab, mm, time, xs};

/// The xenbus directory libxl creates for a PV domain's passed-through devices.
const PCI_DIR: &str = "device/pci/0";
/// The switch port number of the NIC.
pub const UPLINK_PORT: u16 = 0;
/// Frames received per [`Uplink::service`] call (then the loop turns again).
const RX_BUDGET: usize = 64;
/// Frames waiting for a free transmit buffer; beyond this the newest are dropped.
const TXQ_LEN: usize = 256;
/// Polling period with `vsnoop.nic=poll`.
pub const POLL_NS: u64 = 1_000_000;

/// `vsnoop.nic=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NicMode {
    Off,
    Msix,
    Poll,
}

impl NicMode {
    pub fn from_cmdline(cmdline: &str) -> Self {
        let mut m = NicMode::Msix;
        for w in cmdline.split_whitespace() {
            if let Some(v) = w.strip_prefix("vsnoop.nic=") {
                m = match v {
                    "off" | "0" | "no" => NicMode::Off,
                    "poll" => NicMode::Poll,
                    "msix" | "on" => NicMode::Msix,
                    other => {
                        log::warn!("vsnoop.nic={other}: not off|msix|poll, using msix");
                        NicMode::Msix
                    }
                };
            }
        }
        m
    }
}

// ---- what pcifront needs ---------------------------------------------------------------

/// Grants, event channels, clock and sleeping for pcifront.
pub struct KernelPlatform;

impl FrontPlatform for KernelPlatform {
    fn grant_page(
        &mut self,
        backend: DomId,
        page: NonNull<XenPciSharedinfo>,
    ) -> Result<GrantRef, i32> {
        let mfn = mm::virt_to_mfn(page.as_ptr() as u64).ok_or(-xen::XenError::EINVAL.0)?;
        gnttab::grant_access(backend, mfn, false).map_err(|_| -xen::XenError::ENOSPC.0)
    }

    fn alloc_unbound(&mut self, backend: DomId) -> Result<EvtchnPort, i32> {
        hypercall::evtchn_alloc_unbound(backend).map_err(|e| -e.0)
    }

    fn notify(&mut self, port: EvtchnPort) {
        hypercall::evtchn_send(port);
    }

    fn now_ns(&mut self) -> u64 {
        time::now_ns()
    }

    fn wait(&mut self, port: Option<EvtchnPort>, deadline_ns: u64) {
        // A zero timeout means "forever" to Xen; deadlines are never 0 in practice.
        let deadline = deadline_ns.max(1);
        match port {
            Some(p) => {
                if !events::take_pending(p) {
                    let _ = hypercall::sched_poll(&[p], deadline);
                    events::take_pending(p);
                }
            }
            None => {
                let _ = hypercall::sched_poll(&[], deadline);
            }
        }
    }
}

/// pcifront's xenstore accesses through the kernel's client.
pub struct KernelStore;

impl Store for KernelStore {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, StoreError> {
        xs::with(|x| Store::read(x, path))
    }
    fn write(&mut self, path: &str, value: &[u8]) -> Result<(), StoreError> {
        xs::with(|x| Store::write(x, path, value))
    }
}

// ---- what virtio_glue needs --------------------------------------------------------------

/// Live DMA allocations: machine address -> (virtual address, bytes). Lets
/// `machine_to_virt` answer only for memory we handed to the device.
static DMA_REGIONS: Mutex<BTreeMap<u64, (u64, usize)>> = Mutex::new(BTreeMap::new());
/// BAR mappings made so far: (first machine frame, pages, virtual address).
static MMIO_MAPS: Mutex<Vec<(u64, u64, u64)>> = Mutex::new(Vec::new());

/// DMA memory, address translation and BAR mappings from `mm`/`dma`.
pub struct KernelDma;

impl DmaProvider for KernelDma {
    fn dma_alloc(pages: usize) -> Option<(NonNull<u8>, u64)> {
        let r = dma::alloc(pages).ok()?;
        let (va, ma, len) = (r.va(), r.machine_addr(), r.len());
        DMA_REGIONS.lock().insert(ma, (va, len));
        Some((NonNull::new(va as *mut u8)?, ma))
    }

    unsafe fn dma_free(va: NonNull<u8>, machine: u64, pages: usize) {
        DMA_REGIONS.lock().remove(&machine);
        // SAFETY: forwarded contract (the values of one dma_alloc, memory unused).
        unsafe { dma::free_parts(va.as_ptr() as u64, pages) };
    }

    fn virt_to_machine(va: usize) -> Option<u64> {
        let va = va as u64;
        mm::virt_to_mfn(va & !0xfff).map(|mfn| (mfn << 12) | (va & 0xfff))
    }

    fn machine_to_virt(machine: u64) -> Option<NonNull<u8>> {
        let regions = DMA_REGIONS.lock();
        let (&ma, &(va, len)) = regions.range(..=machine).next_back()?;
        if machine - ma < len as u64 {
            NonNull::new((va + (machine - ma)) as *mut u8)
        } else {
            None
        }
    }

    fn map_mmio(phys: u64, len: usize) -> Option<NonNull<u8>> {
        let first = phys >> 12;
        let last = phys.checked_add(len.max(1) as u64 - 1)? >> 12;
        let pages = last - first + 1;
        let mut maps = MMIO_MAPS.lock();
        let va = match maps.iter().find(|&&(f, n, _)| f <= first && last < f + n) {
            Some(&(f, _, va)) => va + ((first - f) << 12),
            None => {
                // SAFETY: `phys` is a BAR of the device passed to us (virtio_glue maps
                // only ranges inside the BARs it probed); Xen refuses frames the
                // toolstack did not grant us.
                let va = match unsafe { mm::map_io(first, pages as usize) } {
                    Ok(va) => va,
                    Err(e) => {
                        log::error!("nic: cannot map BAR range {phys:#x}+{len:#x}: {e:?}");
                        return None;
                    }
                };
                maps.push((first, pages, va));
                va
            }
        };
        NonNull::new((va + (phys & 0xfff)) as *mut u8)
    }
}

// ---- the uplink ------------------------------------------------------------------------

/// One bound MSI-X pirq.
struct Irq {
    what: &'static str,
    pirq: u32,
    port: EvtchnPort,
    needs_eoi: bool,
}

/// Counters of the uplink (also in the periodic stats line).
#[derive(Clone, Copy, Debug, Default)]
pub struct UplinkCounters {
    pub rx_frames: u64,
    pub rx_bytes: u64,
    pub tx_frames: u64,
    pub tx_bytes: u64,
    /// Frames dropped because the transmit queue was full.
    pub tx_dropped: u64,
    /// Device errors on receive / transmit (logged).
    pub rx_errors: u64,
    pub tx_errors: u64,
    /// Interrupts (event-channel notifications) taken.
    pub irqs: u64,
}

/// The NIC, attached to the switch as `PortId::Uplink(UPLINK_PORT)`.
pub struct Uplink {
    // Declared first: dropping it resets the device before pcifront goes.
    nic: Nic<KernelDma>,
    front: PciFront<KernelPlatform>,
    irqs: Vec<Irq>,
    mode: NicMode,
    txq: VecDeque<Vec<u8>>,
    link_up: bool,
    pub counters: UplinkCounters,
}

/// Finds and starts the NIC. `None` (with a console message saying why) if there is no
/// device, it is not a virtio-net we drive, or it fails to come up: the caller then
/// keeps serving guest-to-guest traffic.
pub fn start(mode: NicMode) -> Option<Uplink> {
    if mode == NicMode::Off {
        log::info!("nic: off (vsnoop.nic=off): serving guest-to-guest traffic only");
        return None;
    }
    if xs::with(|x| x.read(Tx::NONE, &alloc::format!("{PCI_DIR}/backend"))).is_err() {
        log::info!(
            "nic: none: no PCI device passed through ({PCI_DIR} absent); serving guest-to-guest traffic only"
        );
        return None;
    }
    let layout = Layout::from_size_align(PAGE_SIZE, PAGE_SIZE).ok()?;
    // SAFETY: non-zero size. The page is never freed: pciback may keep it mapped.
    let page = NonNull::new(unsafe { alloc_zeroed(layout) }.cast::<XenPciSharedinfo>())?;
    // SAFETY: a fresh, page-aligned, zeroed page that only this frontend uses, never freed.
    let mut front = unsafe { PciFront::new(KernelPlatform, page, Limits::default()) };
    if let Err(e) = front.connect(&mut KernelStore, PCI_DIR) {
        log::error!("nic: pcifront handshake failed: {e}; serving guest-to-guest traffic only");
        return None;
    }
    log::info!(
        "nic: pcifront connected to {} ({} device(s): {})",
        front.backend_path(),
        front.devices().len(),
        front
            .devices()
            .iter()
            .map(|d| match d.phys {
                Some(p) => alloc::format!("{} = {p} in dom0", d.vdev),
                None => alloc::format!("{}", d.vdev),
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let irq_mode = if mode == NicMode::Poll {
        IrqMode::Poll
    } else {
        IrqMode::Msix
    };
    let nic = match Nic::<KernelDma>::probe(&mut front, irq_mode) {
        Ok(n) => n,
        Err(e) => {
            log::error!("{e}; serving guest-to-guest traffic only");
            return None;
        }
    };
    let mut up = Uplink {
        nic,
        front,
        irqs: Vec::new(),
        mode,
        txq: VecDeque::with_capacity(TXQ_LEN),
        link_up: false,
        counters: UplinkCounters::default(),
    };
    if let Some(p) = up.nic.pirqs() {
        for (what, pirq) in [("config", p.config), ("rx", p.rx), ("tx", p.tx)] {
            if up.irqs.iter().any(|i| i.pirq == pirq) {
                continue;
            }
            let port = match hypercall::evtchn_bind_pirq(pirq, false) {
                Ok(port) => port,
                Err(e) => {
                    log::error!(
                        "nic: cannot bind pirq {pirq} ({what} vector): {e:?}; the NIC is unusable without interrupts (vsnoop.nic=poll polls it instead)"
                    );
                    up.stop();
                    return None;
                }
            };
            let needs_eoi = hypercall::physdev_irq_status_query(pirq)
                .map(|f| f & XENIRQSTAT_NEEDS_EOI != 0)
                .unwrap_or(true);
            up.irqs.push(Irq {
                what,
                pirq,
                port,
                needs_eoi,
            });
        }
    }
    up.link_up = up.nic.link_up();
    let ids = up.nic.ids();
    let mac = up.nic.mac();
    let irq_desc = if up.irqs.is_empty() {
        alloc::string::String::from("poll")
    } else {
        let mut s = alloc::string::String::from("msix");
        for i in &up.irqs {
            s.push_str(&alloc::format!(
                " {}=pirq{}/port{}{}",
                i.what,
                i.pirq,
                i.port,
                if i.needs_eoi { "/eoi" } else { "" }
            ));
        }
        s
    };
    log::info!(
        "nic: up: virtio-net {:04x}:{:04x} at {}, mac {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, link {}, irq {}",
        ids.vendor,
        ids.device,
        up.nic.address(),
        mac[0],
        mac[1],
        mac[2],
        mac[3],
        mac[4],
        mac[5],
        if up.link_up { "up" } else { "down" },
        irq_desc
    );
    let (offered, negotiated) = up.nic.features();
    log::debug!("nic: features offered {offered:#x}, negotiated {negotiated:#x}");
    Some(up)
}

impl Uplink {
    /// Event-channel ports to sleep on (none when polling). The transmit-completion
    /// port only while frames wait for a transmit buffer: otherwise completions need no
    /// wake-up (the next `send` reclaims them), and a bulk receiver's ACKs would wake us
    /// once more per burst.
    pub fn ports(&self) -> impl Iterator<Item = EvtchnPort> + '_ {
        let want_tx = !self.txq.is_empty();
        let rx_port = self.irqs.iter().find(|i| i.what == "rx").map(|i| i.port);
        self.irqs
            .iter()
            .filter(move |i| i.what != "tx" || want_tx || Some(i.port) == rx_port)
            .map(|i| i.port)
    }

    /// How long the main loop may sleep at most (the polling period with
    /// `vsnoop.nic=poll`).
    pub fn max_sleep_ns(&self) -> Option<u64> {
        (self.mode == NicMode::Poll || self.irqs.is_empty()).then_some(POLL_NS)
    }

    /// Takes the NIC's pending events (EOI'ing the pirqs that need it). Whether any was
    /// pending.
    pub fn take_events(&mut self) -> bool {
        let mut any = false;
        for i in &self.irqs {
            if events::take_pending(i.port) {
                any = true;
                self.counters.irqs += 1;
                if i.needs_eoi {
                    let _ = hypercall::physdev_eoi(i.pirq);
                }
            }
        }
        any
    }

    /// Receives up to a budget of frames into `out` (as frames entering the switch at
    /// the uplink), retries queued transmissions, and notices link changes. Whether more
    /// received frames are probably waiting.
    pub fn service(&mut self, out: &mut Vec<Frame>) -> bool {
        let mut n = 0;
        while n < RX_BUDGET {
            match self.nic.receive() {
                Ok(Some(data)) => {
                    n += 1;
                    self.counters.rx_frames += 1;
                    self.counters.rx_bytes += data.len() as u64;
                    out.push(Frame {
                        src: PortId::Uplink(UPLINK_PORT),
                        data,
                        // Nobody checked the wire's checksums: RX leaves that to the
                        // guest and vSnoop verifies before it early-acks.
                        csum_ok: false,
                    });
                }
                Ok(None) => break,
                Err(e) => {
                    self.counters.rx_errors += 1;
                    if self.counters.rx_errors <= 10 {
                        log::warn!("nic: receive: {e}");
                    }
                    break;
                }
            }
        }
        self.flush_tx();
        let link = self.nic.link_up();
        if link != self.link_up {
            self.link_up = link;
            log::info!("nic: link {}", if link { "up" } else { "down" });
        }
        n == RX_BUDGET
    }

    /// Queues a frame for the wire (sent at once if a transmit buffer is free). One the
    /// NIC cannot take is refused here, so the queue holds at most `TXQ_LEN` frames of
    /// at most `MAX_FRAME` bytes each (about 1 MiB in all).
    pub fn send(&mut self, frame: Vec<u8>) {
        if frame.is_empty() || frame.len() > MAX_FRAME {
            self.counters.tx_errors += 1;
            if self.counters.tx_errors <= 10 {
                log::warn!("nic: transmit: frame of {} bytes refused", frame.len());
            }
            return;
        }
        if self.txq.len() >= TXQ_LEN {
            self.counters.tx_dropped += 1;
            return;
        }
        self.txq.push_back(frame);
        self.flush_tx();
    }

    fn flush_tx(&mut self) {
        while let Some(f) = self.txq.front() {
            match self.nic.send(f) {
                Ok(()) => {
                    self.counters.tx_frames += 1;
                    self.counters.tx_bytes += f.len() as u64;
                    self.txq.pop_front();
                }
                Err(NicError::TxFull) => break,
                Err(e) => {
                    self.counters.tx_errors += 1;
                    if self.counters.tx_errors <= 10 {
                        log::warn!("nic: transmit: {e}");
                    }
                    self.txq.pop_front();
                }
            }
        }
    }

    /// Resets the device, switches MSI-X off through pciback and closes the pirq ports.
    pub fn stop(mut self) {
        let addr = self.nic.address();
        let msix = self.nic.pirqs().is_some();
        for i in self.irqs.drain(..) {
            let _ = hypercall::evtchn_close(i.port);
        }
        let Uplink { nic, mut front, .. } = self;
        drop(nic);
        if msix {
            if let Err(e) = front.disable_msix(addr) {
                log::warn!("nic: disabling MSI-X: {e}");
            }
        }
        log::info!("nic: stopped (device reset)");
    }
}
