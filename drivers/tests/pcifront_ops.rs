//! pcifront's op channel against the simulated pciback: config reads and writes, BAR
//! sizing, capabilities, MSI/MSI-X, and a backend that is silent, late, wrong or lying.

mod pcifront_sim;

use drivers::pcifront::bar::{mmio_regions, msix_table_size, PCI_CAP_ID_MSIX, PCI_CAP_ID_VNDR};
use drivers::pcifront::{
    capabilities, find_capability, probe_bars, BackendCode, BarKind, ConfigOps, MmioRegion,
    PciAddress, PciError,
};
use pcifront_sim::*;

#[test]
fn config_reads_and_writes_of_each_size() {
    let (sim, mut f) = connected(FakeDevice::virtio_net_modern());
    assert_eq!(f.conf_read(DEV, 0, 4).unwrap(), 0x1041_1af4);
    assert_eq!(f.conf_read(DEV, 0, 2).unwrap(), 0x1af4);
    assert_eq!(f.conf_read(DEV, 2, 2).unwrap(), 0x1041);
    assert_eq!(f.conf_read(DEV, 0x0b, 1).unwrap(), 0x02);
    f.conf_write(DEV, 0x04, 2, 0x0006).unwrap();
    assert_eq!(sim.st().dev.command(), 0x0006);
    f.conf_write(DEV, 0x04, 1, 0x02).unwrap();
    assert_eq!(f.conf_read(DEV, 0x04, 2).unwrap(), 0x0002);
    let before = sim.st().served.len();
    // Refused locally, never sent.
    assert_eq!(
        f.conf_read(DEV, 1, 2),
        Err(PciError::InvalidArgument("config offset"))
    );
    assert_eq!(
        f.conf_read(DEV, 0, 3),
        Err(PciError::InvalidArgument("access size"))
    );
    assert_eq!(
        f.conf_read(DEV, 4094, 4),
        Err(PciError::InvalidArgument("config offset"))
    );
    assert_eq!(
        f.conf_write(DEV, 4, 1, 0x100),
        Err(PciError::InvalidArgument("value wider than the access"))
    );
    let other = PciAddress::new(0, 0, 1, 0).unwrap();
    assert_eq!(f.conf_read(other, 0, 4), Err(PciError::NoSuchDevice(other)));
    assert_eq!(sim.st().served.len(), before);
    // The backend refuses an offset beyond its config space.
    assert_eq!(
        f.conf_read(DEV, 0x100, 4),
        Err(PciError::Backend {
            cmd: 0,
            code: BackendCode(-2)
        })
    );
    assert_eq!(BackendCode(-2).name(), Some("invalid_offset"));
    assert!(f.ops() >= 7);
}

#[test]
fn bars_are_decoded_sized_and_restored() {
    let (sim, mut f) = connected(FakeDevice::virtio_net_transitional());
    f.conf_write(DEV, 0x04, 2, 0x0003).unwrap();
    let before: Vec<u8> = sim.st().dev.cfg.to_vec();
    let bars = probe_bars(&mut f, DEV).unwrap();
    assert_eq!(sim.st().dev.cfg.to_vec(), before, "config space restored");
    let kinds: Vec<(u8, BarKind, u64, u64, bool)> = bars
        .iter()
        .map(|b| (b.index, b.kind, b.address, b.size, b.prefetchable))
        .collect();
    assert_eq!(
        kinds,
        [
            (0, BarKind::Io, BAR0_IO as u64, 0x20, false),
            (1, BarKind::Mem32, BAR1_ADDR, BAR1_SIZE, false),
            (4, BarKind::Mem64, BAR4_ADDR, BAR4_SIZE, true),
        ]
    );
    // Decoding was off while the BARs held all-ones.
    let cmd_writes: Vec<u32> = sim
        .st()
        .served
        .iter()
        .filter(|o| o.cmd == 1 && o.offset == 4)
        .map(|o| o.value)
        .collect();
    assert_eq!(&cmd_writes[cmd_writes.len() - 2..], &[0x0000, 0x0003]);
    assert_eq!(
        mmio_regions(&bars),
        [
            MmioRegion {
                bar: 1,
                phys: BAR1_ADDR,
                len: BAR1_SIZE
            },
            MmioRegion {
                bar: 4,
                phys: BAR4_ADDR,
                len: BAR4_SIZE
            },
        ]
    );
}

#[test]
fn bad_bars_are_errors() {
    // A BAR whose address is not aligned to its size.
    let mut d = FakeDevice::virtio_net_modern();
    d.set_bar(4, BAR4_ADDR + 0x1000, BAR4_SIZE, false, true);
    d.put32(0x20, (BAR4_ADDR + 0x1000) as u32 | 0xc); // bypass the size mask
    let (_s, mut f) = connected(d);
    assert_eq!(
        probe_bars(&mut f, DEV),
        Err(PciError::BadConfig("BAR address not aligned to its size"))
    );
    // A 64-bit BAR in slot 5.
    let mut d = FakeDevice::virtio_net_modern();
    d.set_bar(4, BAR4_ADDR, BAR4_SIZE, false, false);
    d.put32(0x24, 0x4);
    let (_s, mut f) = connected(d);
    assert_eq!(
        probe_bars(&mut f, DEV),
        Err(PciError::BadConfig("64-bit BAR in the last slot"))
    );
    // Not a type-0 header.
    let mut d = FakeDevice::virtio_net_modern();
    d.cfg[0x0e] = 1;
    let (_s, mut f) = connected(d);
    assert_eq!(
        probe_bars(&mut f, DEV),
        Err(PciError::BadConfig("not a type-0 header"))
    );
}

#[test]
fn capabilities_and_msix_table() {
    let (_s, mut f) = connected(FakeDevice::virtio_net_modern());
    let caps = capabilities(&mut f, DEV).unwrap();
    let ids: Vec<(u8, u8)> = caps.iter().map(|c| (c.offset, c.id)).collect();
    assert_eq!(
        ids,
        [(0x40, 0x11), (0x50, 9), (0x60, 9), (0x70, 9), (0x80, 9)]
    );
    assert_eq!(
        find_capability(&caps, PCI_CAP_ID_VNDR).unwrap().offset,
        0x50
    );
    let msix = find_capability(&caps, PCI_CAP_ID_MSIX).unwrap();
    assert_eq!(msix_table_size(&mut f, DEV, msix).unwrap(), 3);
}

#[test]
fn capability_loops_and_bad_pointers_are_errors() {
    let mut d = FakeDevice::virtio_net_modern();
    d.cfg[0x81] = 0x50; // notify -> common: a loop
    let (_s, mut f) = connected(d);
    assert_eq!(
        capabilities(&mut f, DEV),
        Err(PciError::BadConfig("capability list loops"))
    );
    let mut d = FakeDevice::virtio_net_modern();
    d.cfg[0x34] = 0x10;
    let (_s, mut f) = connected(d);
    assert_eq!(
        capabilities(&mut f, DEV),
        Err(PciError::BadConfig("capability pointer into the header"))
    );
    let mut d = FakeDevice::virtio_net_modern();
    d.cfg[0x51] = 0x61;
    let (_s, mut f) = connected(d);
    assert_eq!(
        capabilities(&mut f, DEV),
        Err(PciError::BadConfig("unaligned capability pointer"))
    );
    let mut d = FakeDevice::virtio_net_modern();
    d.put16(0x06, 0); // no capability list
    let (_s, mut f) = connected(d);
    assert_eq!(capabilities(&mut f, DEV), Ok(vec![]));
}

#[test]
fn msix_enable_returns_pirqs() {
    let (sim, mut f) = connected(FakeDevice::virtio_net_modern());
    // Memory decoding off: pciback refuses (-ENXIO).
    assert_eq!(
        f.enable_msix(DEV, &[0, 1, 2]),
        Err(PciError::Backend {
            cmd: 4,
            code: BackendCode(-6)
        })
    );
    f.conf_write(DEV, 0x04, 2, 0x0006).unwrap();
    assert_eq!(f.enable_msix(DEV, &[0, 1, 2]).unwrap(), vec![40, 41, 42]);
    let op = *sim.st().served.last().unwrap();
    assert_eq!(op.value, 3, "entry count travels in value");
    assert_eq!(
        (op.msix_entries[2].entry, op.msix_entries[2].vector),
        (2, 0xffff)
    );
    // Already enabled: -EALREADY.
    let e = f.enable_msix(DEV, &[0]).unwrap_err();
    assert_eq!(
        e,
        PciError::Backend {
            cmd: 4,
            code: BackendCode(-114)
        }
    );
    assert_eq!(f.disable_msix(DEV).unwrap(), 16);
    assert_eq!(f.enable_msix(DEV, &[2]).unwrap(), vec![40]);
    // Refused locally.
    assert_eq!(
        f.enable_msix(DEV, &[]),
        Err(PciError::InvalidArgument("MSI-X entry count"))
    );
    assert_eq!(
        f.enable_msix(DEV, &[1, 1]),
        Err(PciError::InvalidArgument("duplicate MSI-X entry"))
    );
    assert_eq!(
        f.enable_msix(DEV, &[0; 129]),
        Err(PciError::InvalidArgument("MSI-X entry count"))
    );
}

#[test]
fn msi_without_capability_fails_cleanly() {
    let (_s, mut f) = connected(FakeDevice::virtio_net_modern());
    assert_eq!(
        f.enable_msi(DEV),
        Err(PciError::Backend {
            cmd: 2,
            code: BackendCode(-5)
        })
    );
    assert_eq!(f.disable_msi(DEV), Ok(16));
}

#[test]
fn silent_backend_times_out_then_busy_then_recovers() {
    let (sim, mut f) = connected(FakeDevice::virtio_net_modern());
    sim.st().op_mode = OpMode::Silent;
    let t0 = sim.st().now;
    assert_eq!(f.conf_read(DEV, 0, 4), Err(PciError::Timeout("op")));
    let waited = sim.st().now - t0;
    assert!(
        (2_000 * MS..=2_010 * MS).contains(&waited),
        "waited {waited}"
    );
    assert_eq!(f.timeouts(), 1);
    // The op is still marked in flight: nothing else may use the page.
    assert_eq!(f.conf_read(DEV, 0, 4), Err(PciError::Busy));
    // pciback finally answers the old op; the next op goes through.
    sim.st().op_mode = OpMode::Normal;
    sim.step();
    assert_eq!(f.conf_read(DEV, 8, 4).unwrap(), 0x0200_0001);
}

#[test]
fn late_backend_within_the_deadline_is_fine() {
    let (sim, mut f) = connected(FakeDevice::virtio_net_modern());
    sim.st().op_mode = OpMode::Late(50);
    let w0 = sim.st().waits;
    assert_eq!(f.conf_read(DEV, 0, 2).unwrap(), 0x1af4);
    assert!(sim.st().waits - w0 >= 48);
}

#[test]
fn backend_errors_and_lies_are_errors() {
    for (mode, want) in [
        (
            OpMode::Err(-3),
            PciError::Backend {
                cmd: 0,
                code: BackendCode(-3),
            },
        ),
        (
            OpMode::Err(7),
            PciError::Backend {
                cmd: 0,
                code: BackendCode(7),
            },
        ),
        (
            OpMode::Err(i32::MIN),
            PciError::Backend {
                cmd: 0,
                code: BackendCode(i32::MIN),
            },
        ),
        (
            OpMode::WrongOp,
            PciError::Corrupt("answer is for another op"),
        ),
        (
            OpMode::WideValue,
            PciError::Corrupt("read value wider than the access"),
        ),
    ] {
        let (sim, mut f) = connected(FakeDevice::virtio_net_modern());
        sim.st().op_mode = mode;
        assert_eq!(f.conf_read(DEV, 0, 2), Err(want), "{mode:?}");
    }
    assert_eq!(BackendCode(7).name(), None);
    assert_eq!(BackendCode(i32::MIN).name(), None);
    assert_eq!(BackendCode(-114).name(), Some("EALREADY"));
    assert_eq!(format!("{}", BackendCode(-3)), "-3 (access_denied)");
}

#[test]
fn msix_lies_are_errors() {
    for (mode, want) in [
        (
            OpMode::MsixNoVector,
            PciError::Corrupt("MSI-X entry without a pirq"),
        ),
        (OpMode::MsixPartial(2), PciError::MsixPartial(2)),
    ] {
        let (sim, mut f) = connected(FakeDevice::virtio_net_modern());
        f.conf_write(DEV, 0x04, 2, 0x0006).unwrap();
        sim.st().op_mode = mode;
        assert_eq!(f.enable_msix(DEV, &[0, 1, 2]), Err(want), "{mode:?}");
    }
}

#[test]
fn backend_setting_the_active_flag_itself_is_corrupt() {
    let (sim, mut f) = connected(FakeDevice::virtio_net_modern());
    assert!(f.conf_read(DEV, 0, 2).is_ok());
    sim.st().op_mode = OpMode::Silent;
    let p = sim.st().page.unwrap();
    // SAFETY: the leaked shared page; single-threaded.
    unsafe { (*p).flags |= xen::abi::pciif::XEN_PCIF_ACTIVE };
    assert_eq!(
        f.conf_read(DEV, 0, 2),
        Err(PciError::Corrupt("active flag set with no op in flight"))
    );
}
