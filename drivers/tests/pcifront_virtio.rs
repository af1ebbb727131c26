//! The virtio glue against the simulated pciback: `virtio_drivers`' `PciTransport` probe
//! through pcifront's `ConfigurationAccess`, `Nic::probe` as far as passive fake MMIO
//! allows (and its error paths), the DMA `Hal` (machine addresses, bouncing), and the
//! transport wrapper's reset / feature checks on a fake transport.

mod pcifront_sim;

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::rc::Rc;

use drivers::pcifront::{Limits, PciError, PciFront, SharedConfig};
use drivers::virtio_glue::caps::CapsError;
use drivers::virtio_glue::hal::contiguous_machine;
use drivers::virtio_glue::transport::VIRTIO_F_ACCESS_PLATFORM;
use drivers::virtio_glue::{
    DmaProvider, InitFault, IrqMode, Nic, NicError, TransportShared, XenHal, XenTransport,
};
use pcifront_sim::*;
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction, PciRoot};
use virtio_drivers::transport::pci::PciTransport;
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};
use zerocopy::{FromBytes, Immutable, IntoBytes};

const PAGE: usize = 4096;

// ---- a fake DMA provider: per-thread, machine addresses that are NOT contiguous for
// ordinary memory, contiguous for dma_alloc'd regions ---------------------------------

#[derive(Default)]
struct DmaState {
    /// va -> (machine, pages)
    allocs: BTreeMap<usize, (u64, usize)>,
    next_ma: u64,
    live: usize,
    /// (phys, len, va)
    mmio: Vec<(u64, usize, usize)>,
    refuse_mmio: bool,
}

thread_local! {
    static DMA: RefCell<DmaState> = RefCell::new(DmaState { next_ma: 0x10_0000_0000, ..Default::default() });
}

struct FakeDma;

impl DmaProvider for FakeDma {
    fn dma_alloc(pages: usize) -> Option<(NonNull<u8>, u64)> {
        let layout = Layout::from_size_align(pages * PAGE, PAGE).ok()?;
        // SAFETY: non-zero size.
        let va = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        DMA.with(|d| {
            let mut d = d.borrow_mut();
            let ma = d.next_ma;
            d.next_ma += (pages as u64 + 1) * PAGE as u64;
            d.allocs.insert(va.as_ptr() as usize, (ma, pages));
            d.live += 1;
            Some((va, ma))
        })
    }

    unsafe fn dma_free(va: NonNull<u8>, machine: u64, pages: usize) {
        DMA.with(|d| {
            let mut d = d.borrow_mut();
            let got = d.allocs.remove(&(va.as_ptr() as usize));
            assert_eq!(
                got,
                Some((machine, pages)),
                "free of something not allocated"
            );
            d.live -= 1;
        });
        // SAFETY: allocated above with this layout.
        unsafe {
            dealloc(
                va.as_ptr(),
                Layout::from_size_align(pages * PAGE, PAGE).unwrap(),
            )
        };
    }

    fn virt_to_machine(va: usize) -> Option<u64> {
        DMA.with(|d| {
            let d = d.borrow();
            if let Some((&base, &(ma, pages))) = d.allocs.range(..=va).next_back() {
                if va < base + pages * PAGE {
                    return Some(ma + (va - base) as u64);
                }
            }
            // Ordinary memory: every page lands two machine pages after the previous.
            Some(0x4000_0000_0000 + (va / PAGE) as u64 * 2 * PAGE as u64 + (va % PAGE) as u64)
        })
    }

    fn machine_to_virt(machine: u64) -> Option<NonNull<u8>> {
        DMA.with(|d| {
            let d = d.borrow();
            d.allocs
                .iter()
                .find(|(_, &(ma, pages))| machine >= ma && machine < ma + (pages * PAGE) as u64)
                .and_then(|(&va, &(ma, _))| NonNull::new((va + (machine - ma) as usize) as *mut u8))
        })
    }

    fn map_mmio(phys: u64, len: usize) -> Option<NonNull<u8>> {
        DMA.with(|d| {
            let d = d.borrow();
            if d.refuse_mmio {
                return None;
            }
            d.mmio
                .iter()
                .find(|&&(p, l, _)| phys >= p && phys + len as u64 <= p + l as u64)
                .and_then(|&(p, _, va)| NonNull::new((va + (phys - p) as usize) as *mut u8))
        })
    }
}

fn live_dma() -> usize {
    DMA.with(|d| d.borrow().live)
}

/// Fake BAR4 memory (passive: reads return what was last written), pre-filled like a
/// virtio-net right after reset. Returns its base pointer.
fn fake_bar4() -> *mut u8 {
    let layout = Layout::from_size_align(BAR4_SIZE as usize, PAGE).unwrap();
    // SAFETY: non-zero size; leaked on purpose (device memory lives forever).
    let p = unsafe { alloc_zeroed(layout) };
    // SAFETY: all offsets are inside the allocation.
    unsafe {
        // device_feature (both selector values read the same word): CSUM | GUEST_CSUM |
        // MAC | STATUS, so the high word offers VERSION_1 (32) and ACCESS_PLATFORM (33).
        p.add(0x04).cast::<u32>().write(0x0001_0023);
        p.add(0x18).cast::<u16>().write(256); // queue_size
        let mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        std::ptr::copy_nonoverlapping(mac.as_ptr(), p.add(0x2000), 6);
        p.add(0x2006).cast::<u16>().write(1); // link up
    }
    DMA.with(|d| {
        d.borrow_mut()
            .mmio
            .push((BAR4_ADDR, BAR4_SIZE as usize, p as usize))
    });
    p
}

#[test]
fn virtio_drivers_pci_transport_probes_through_pcifront() {
    let (sim, mut f) = connected(FakeDevice::virtio_net_modern());
    fake_bar4();
    let cfg = SharedConfig::new(&mut f, 0, vec![DEV]);
    let mut root = PciRoot::new(cfg.access());
    // Bus enumeration sees exactly our device, without an op per empty slot.
    let ops_before = sim.st().served.len();
    let found: Vec<_> = root.enumerate_bus(0).collect();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].1.vendor_id, found[0].1.device_id, found[0].1.class),
        (0x1af4, 0x1041, 2)
    );
    assert!(sim.st().served.len() - ops_before <= 4);
    let df = DeviceFunction {
        bus: 0,
        device: 0,
        function: 0,
    };
    let caps: Vec<(u8, u8)> = root.capabilities(df).map(|c| (c.offset, c.id)).collect();
    assert_eq!(
        caps,
        [(0x40, 0x11), (0x50, 9), (0x60, 9), (0x70, 9), (0x80, 9)]
    );
    let t = PciTransport::new::<XenHal<FakeDma>, _>(&mut root, df).unwrap();
    assert_eq!(t.device_type(), DeviceType::Network);
    assert_eq!(cfg.take_error(), None);
    assert_eq!(cfg.errors(), 0);
    drop(t);
    // BAR sizing by virtio_drivers left the BARs as they were.
    assert_eq!(sim.st().dev.get(0x20, 4), BAR4_ADDR as u32 | 0xc);
    // An access to an absent function reads all ones and sends nothing.
    let n = sim.st().served.len();
    assert!(root.enumerate_bus(1).next().is_none());
    assert_eq!(sim.st().served.len(), n);
}

#[test]
fn config_access_failures_read_as_all_ones_and_are_kept() {
    let (sim, mut f) = connected(FakeDevice::virtio_net_modern());
    sim.st().op_mode = OpMode::Err(-3);
    let cfg = SharedConfig::new(&mut f, 0, vec![DEV]);
    let root = PciRoot::new(cfg.access());
    let df = DeviceFunction {
        bus: 0,
        device: 0,
        function: 0,
    };
    let _ = root.get_status_command(df);
    assert_eq!(cfg.access().read_word(df, 4), 0xffff_ffff);
    assert!(matches!(cfg.take_error(), Some(PciError::Backend { .. })));
    assert_eq!(cfg.take_error(), None);
}

#[test]
fn nic_probe_negotiates_access_platform_and_fails_cleanly_on_a_passive_device() {
    let (sim, mut f) = connected(FakeDevice::virtio_net_modern());
    let bar = fake_bar4();
    // Passive memory cannot keep per-queue state: the second queue looks "in use".
    let r = Nic::<FakeDma>::probe(&mut f, IrqMode::Poll);
    assert_eq!(
        r.err(),
        Some(NicError::Virtio(virtio_drivers::Error::AlreadyUsed))
    );
    // Memory decoding and bus mastering were switched on through pcifront.
    assert_eq!(sim.st().dev.command() & 0x6, 0x6);
    // SAFETY: the fake BAR memory.
    unsafe {
        // The high word of the driver features carries VERSION_1 and ACCESS_PLATFORM.
        assert_eq!(bar.add(0x0c).cast::<u32>().read() & 0x3, 0x3);
        // The device was reset when the transport was dropped.
        assert_eq!(bar.add(0x14).read(), 0);
    }
    assert_eq!(live_dma(), 0, "every DMA allocation freed");
}

#[test]
fn nic_probe_with_msix_enables_vectors_through_pciback() {
    let (sim, mut f) = connected(FakeDevice::virtio_net_modern());
    let bar = fake_bar4();
    let r = Nic::<FakeDma>::probe(&mut f, IrqMode::Msix);
    assert_eq!(
        r.err(),
        Some(NicError::Virtio(virtio_drivers::Error::AlreadyUsed))
    );
    // Enabled for the attempt, switched off again when it failed.
    let cmds: Vec<u32> = sim
        .st()
        .served
        .iter()
        .map(|o| o.cmd)
        .filter(|&c| c >= 4)
        .collect();
    assert_eq!(cmds, [4, 5]);
    assert!(!sim.st().dev.msix_enabled);
    assert_eq!(sim.st().dev.command() & 0x0406, 0x0406, "INTx disabled");
    // The transmit queue (1) was set up with vector 2 before being enabled.
    // SAFETY: the fake BAR memory.
    assert_eq!(unsafe { bar.add(0x1a).cast::<u16>().read() }, 2);
}

#[test]
fn transitional_device_is_accepted() {
    let (_sim, mut f) = connected(FakeDevice::virtio_net_transitional());
    fake_bar4();
    let r = Nic::<FakeDma>::probe(&mut f, IrqMode::Poll);
    assert_eq!(
        r.err(),
        Some(NicError::Virtio(virtio_drivers::Error::AlreadyUsed))
    );
}

fn probe_err(dev: FakeDevice, edit: impl FnOnce(&Sim)) -> NicError {
    let sim = Sim::new(dev);
    edit(&sim);
    // SAFETY: as in `connected`.
    let mut f = unsafe { PciFront::new(sim.clone(), page(), Limits::default()) };
    f.connect(&mut sim.clone(), FE_DIR).unwrap();
    fake_bar4();
    match Nic::<FakeDma>::probe(&mut f, IrqMode::Poll) {
        Ok(_) => panic!("probe succeeded"),
        Err(e) => e,
    }
}

#[test]
fn nic_probe_errors() {
    let none = |_: &Sim| {};
    // No device exported.
    assert_eq!(
        probe_err(FakeDevice::virtio_net_modern(), |s| s
            .set(&format!("{BE_DIR}/num_devs"), "0")),
        NicError::NoDevice
    );
    // Another vendor's NIC.
    let mut d = FakeDevice::virtio_net_modern();
    d.put32(0, 0x100e_8086);
    assert!(matches!(
        probe_err(d, none),
        NicError::Unsupported {
            vendor: 0x8086,
            device: 0x100e,
            ..
        }
    ));
    // A virtio block device.
    let mut d = FakeDevice::virtio_net_modern();
    d.put32(0, 0x1042_1af4);
    assert!(matches!(
        probe_err(d, none),
        NicError::Unsupported { device: 0x1042, .. }
    ));
    // Transitional id whose subsystem is not network.
    let mut d = FakeDevice::virtio_net_transitional();
    d.put32(0x2c, 0x0002_1af4);
    assert!(matches!(
        probe_err(d, none),
        NicError::Unsupported { device: 0x1000, .. }
    ));
    // Legacy-only: no virtio capabilities.
    let mut d = FakeDevice::virtio_net_transitional();
    d.cfg[0x41] = 0;
    assert!(
        matches!(probe_err(d, none), NicError::Unsupported { why, .. } if why.contains("legacy"))
    );
    // A capability loop never reaches virtio_drivers (whose walk has no loop guard).
    let mut d = FakeDevice::virtio_net_modern();
    d.cfg[0x81] = 0x40;
    assert_eq!(
        probe_err(d, none),
        NicError::Pci(PciError::BadConfig("capability list loops"))
    );
    // A structure outside its BAR.
    let mut d = FakeDevice::virtio_net_modern();
    d.put32(0x78, 0x3800);
    assert_eq!(
        probe_err(d, none),
        NicError::Caps(CapsError::Bad("structure outside its BAR"))
    );
    // The kernel cannot map the BAR.
    DMA.with(|d| d.borrow_mut().refuse_mmio = true);
    assert!(matches!(
        probe_err(FakeDevice::virtio_net_modern(), none),
        NicError::Mmio { .. }
    ));
    DMA.with(|d| d.borrow_mut().refuse_mmio = false);
    // MSI-X asked for, but the device has none.
    let mut d = FakeDevice::virtio_net_modern();
    d.cfg[0x34] = 0x50;
    let sim = Sim::new(d);
    // SAFETY: as in `connected`.
    let mut f = unsafe { PciFront::new(sim.clone(), page(), Limits::default()) };
    f.connect(&mut sim.clone(), FE_DIR).unwrap();
    assert_eq!(
        Nic::<FakeDma>::probe(&mut f, IrqMode::Msix).err(),
        Some(NicError::NoMsix)
    );
    // pciback dies in the middle: an op error, not a hang or a panic.
    let (sim, mut f) = connected(FakeDevice::virtio_net_modern());
    sim.st().op_mode = OpMode::Silent;
    assert_eq!(
        Nic::<FakeDma>::probe(&mut f, IrqMode::Poll).err(),
        Some(NicError::Pci(PciError::Timeout("op")))
    );
}

// ---- the Hal ----------------------------------------------------------------------

#[test]
fn share_returns_machine_addresses_and_bounces_when_needed() {
    type H = XenHal<FakeDma>;
    // A DMA page: its own machine address, no bounce.
    let (pa, va) = H::dma_alloc(2, BufferDirection::Both);
    assert_ne!(pa, 0);
    let buf =
        NonNull::slice_from_raw_parts(NonNull::new(unsafe { va.as_ptr().add(100) }).unwrap(), 5000);
    // SAFETY: inside the allocation.
    let got = unsafe { H::share(buf, BufferDirection::DriverToDevice) };
    assert_eq!(got, pa + 100);
    assert_eq!(live_dma(), 1);
    // SAFETY: as above.
    unsafe { H::unshare(got, buf, BufferDirection::DriverToDevice) };
    assert_eq!(live_dma(), 1);

    // Heap memory crossing a page boundary: not machine-contiguous, so bounced.
    let mut heap = vec![0u8; 3 * PAGE];
    let start = PAGE - (heap.as_ptr() as usize % PAGE) + PAGE - 10; // 10 bytes before a boundary
    for (i, b) in heap[start..start + 100].iter_mut().enumerate() {
        *b = i as u8;
    }
    let hb = NonNull::from(&mut heap[start..start + 100]);
    assert_eq!(
        contiguous_machine::<FakeDma>(heap[start..].as_ptr() as usize, 100),
        None
    );
    // SAFETY: `heap` outlives the share.
    let bma = unsafe { H::share(hb, BufferDirection::Both) };
    assert_eq!(live_dma(), 2);
    let bva = FakeDma::machine_to_virt(bma).unwrap();
    // SAFETY: the bounce holds 100 bytes.
    let bounced = unsafe { std::slice::from_raw_parts_mut(bva.as_ptr(), 100) };
    assert_eq!(bounced[..5], [0, 1, 2, 3, 4]);
    bounced[99] = 0xee; // "the device writes"
                        // SAFETY: as above.
    unsafe { H::unshare(bma, hb, BufferDirection::Both) };
    assert_eq!(heap[start + 99], 0xee, "copied back");
    assert_eq!(live_dma(), 1, "bounce freed");

    // Within one page: never bounced.
    let p = heap[PAGE - (heap.as_ptr() as usize % PAGE)..].as_ptr() as usize;
    assert!(contiguous_machine::<FakeDma>(p, PAGE).is_some());
    // SAFETY: allocated above.
    assert_eq!(unsafe { H::dma_dealloc(pa, va, 2) }, 0);
    assert_eq!(live_dma(), 0);
}

// ---- the transport wrapper on a fake transport ---------------------------------------

struct FakeTransport {
    status: Cell<u32>,
    /// Bits that stay set whatever is written (e.g. a device that never resets).
    sticky: u32,
    /// Bits that never stick (e.g. FEATURES_OK refused).
    refused: u32,
    features: u64,
    written: Rc<Cell<u64>>,
    drops: Rc<Cell<u32>>,
}

impl Drop for FakeTransport {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

impl Transport for FakeTransport {
    fn device_type(&self) -> DeviceType {
        DeviceType::Network
    }
    fn read_device_features(&mut self) -> u64 {
        self.features
    }
    fn write_driver_features(&mut self, f: u64) {
        self.written.set(f);
    }
    fn max_queue_size(&mut self, _: u16) -> u32 {
        0
    }
    fn notify(&mut self, _: u16) {}
    fn get_status(&self) -> DeviceStatus {
        DeviceStatus::from_bits_retain(self.status.get())
    }
    fn set_status(&mut self, s: DeviceStatus) {
        self.status.set((s.bits() | self.sticky) & !self.refused);
    }
    fn set_guest_page_size(&mut self, _: u32) {}
    fn requires_legacy_layout(&self) -> bool {
        false
    }
    fn queue_set(&mut self, _: u16, _: u32, _: PhysAddr, _: PhysAddr, _: PhysAddr) {}
    fn queue_unset(&mut self, _: u16) {}
    fn queue_used(&mut self, _: u16) -> bool {
        false
    }
    fn ack_interrupt(&mut self) -> InterruptStatus {
        InterruptStatus::empty()
    }
    fn read_config_generation(&self) -> u32 {
        0
    }
    fn read_config_space<T: FromBytes + IntoBytes>(&self, _: usize) -> virtio_drivers::Result<T> {
        Err(virtio_drivers::Error::ConfigSpaceMissing)
    }
    fn write_config_space<T: IntoBytes + Immutable>(
        &mut self,
        _: usize,
        _: T,
    ) -> virtio_drivers::Result<()> {
        Err(virtio_drivers::Error::ConfigSpaceMissing)
    }
}

type Wrapped = (
    XenTransport<FakeTransport>,
    Rc<TransportShared>,
    Rc<Cell<u64>>,
    Rc<Cell<u32>>,
);

fn wrapped(sticky: u32, refused: u32, features: u64) -> Wrapped {
    let written = Rc::new(Cell::new(0));
    let drops = Rc::new(Cell::new(0));
    let shared = Rc::new(TransportShared::default());
    let inner = FakeTransport {
        status: Cell::new(0),
        sticky,
        refused,
        features,
        written: written.clone(),
        drops: drops.clone(),
    };
    // SAFETY: no common configuration mapping is given.
    let mut t = unsafe { XenTransport::new(inner, None, None, shared.clone()) };
    t.set_reset_polls(1000);
    (t, shared, written, drops)
}

#[test]
fn wrapper_adds_access_platform_only_when_offered() {
    let (mut t, shared, written, _) = wrapped(0, 0, VIRTIO_F_ACCESS_PLATFORM | 1 << 32 | 1 << 5);
    let f = t.begin_init(virtio_drivers::device::common::Feature::VERSION_1);
    assert_eq!(f.bits(), 1 << 32);
    assert_eq!(written.get(), 1 << 32 | VIRTIO_F_ACCESS_PLATFORM);
    assert_eq!(shared.negotiated(), written.get());
    assert_eq!(shared.fault(), None);
    let (mut t, _, written, _) = wrapped(0, 0, 1 << 32);
    t.begin_init(virtio_drivers::device::common::Feature::VERSION_1);
    assert_eq!(written.get(), 1 << 32);
}

#[test]
fn wrapper_detects_a_device_that_never_resets() {
    let (mut t, shared, _, drops) = wrapped(DeviceStatus::DRIVER_OK.bits(), 0, 1 << 32);
    t.begin_init(virtio_drivers::device::common::Feature::VERSION_1);
    assert_eq!(shared.fault(), Some(InitFault::ResetFailed));
    // Nothing further is driven: the status says FAILED.
    assert!(t.get_status().contains(DeviceStatus::FAILED));
    drop(t);
    assert_eq!(
        drops.get(),
        0,
        "the inner transport (whose drop would spin) is leaked"
    );
}

#[test]
fn wrapper_detects_refused_features() {
    let (mut t, shared, _, drops) = wrapped(0, DeviceStatus::FEATURES_OK.bits(), 1 << 32);
    t.begin_init(virtio_drivers::device::common::Feature::VERSION_1);
    assert_eq!(shared.fault(), Some(InitFault::FeaturesRejected));
    t.finish_init();
    assert_eq!(
        t.get_status(),
        DeviceStatus::FAILED,
        "DRIVER_OK never written"
    );
    drop(t);
    assert_eq!(drops.get(), 1);
}
