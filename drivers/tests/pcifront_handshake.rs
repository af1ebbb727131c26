//! pcifront's xenbus handshake and device enumeration against a simulated pciback,
//! including hostile and broken xenstore contents.

mod pcifront_sim;

use drivers::pcifront::front::FrontState;
use drivers::pcifront::{Limits, PciAddress, PciError, PciFront};
use pcifront_sim::*;
use xen::abi::xenbus::XenbusState;

fn front(sim: &Sim) -> PciFront<Sim> {
    // SAFETY: a leaked page used only by this frontend and the simulated backend.
    unsafe { PciFront::new(sim.clone(), page(), Limits::default()) }
}

#[test]
fn handshake_publishes_keys_and_connects() {
    let sim = Sim::new(FakeDevice::virtio_net_modern());
    let mut f = front(&sim);
    f.connect(&mut sim.clone(), FE_DIR).unwrap();
    assert_eq!(f.state(), FrontState::Connected);
    assert_eq!(
        sim.get(&format!("{FE_DIR}/pci-op-ref")).as_deref(),
        Some("8")
    );
    assert_eq!(
        sim.get(&format!("{FE_DIR}/event-channel")).as_deref(),
        Some("5")
    );
    assert_eq!(sim.get(&format!("{FE_DIR}/magic")).as_deref(), Some("7"));
    assert_eq!(sim.get(&format!("{FE_DIR}/state")).as_deref(), Some("4"));
    assert_eq!(sim.get(&format!("{BE_DIR}/state")).as_deref(), Some("4"));
    assert_eq!(f.backend_path(), BE_DIR);
    assert_eq!(f.backend_id(), 0);
    assert_eq!((f.gref(), f.port()), (Some(GREF), Some(PORT)));
    assert_eq!(f.roots(), &[(0, 0)]);
    let d = &f.devices()[0];
    assert_eq!(f.devices().len(), 1);
    assert_eq!(d.vdev, PciAddress::new(0, 0, 0, 0).unwrap());
    assert_eq!(d.phys, PciAddress::new(0, 0, 5, 0));
    assert_eq!(d.state, Some(XenbusState::Initialised));
    // Connecting again is a no-op.
    f.connect(&mut sim.clone(), FE_DIR).unwrap();
}

#[test]
fn backend_that_never_connects_times_out_and_retry_succeeds() {
    let sim = Sim::new(FakeDevice::virtio_net_modern());
    sim.st().never_connect = true;
    let mut f = front(&sim);
    let t0 = sim.st().now;
    assert_eq!(
        f.connect(&mut sim.clone(), FE_DIR),
        Err(PciError::Timeout("connect"))
    );
    let waited = sim.st().now - t0;
    assert!(
        (30_000 * MS..=30_100 * MS).contains(&waited),
        "waited {waited}"
    );
    assert_eq!(f.state(), FrontState::Initialised);
    assert!(matches!(f.conf_read_vendor(), Err(PciError::NotConnected)));
    // The backend wakes up: the same grant and port are reused.
    sim.st().never_connect = false;
    f.connect(&mut sim.clone(), FE_DIR).unwrap();
    assert_eq!(f.state(), FrontState::Connected);
}

trait VendorRead {
    fn conf_read_vendor(&mut self) -> Result<u32, PciError>;
}

impl VendorRead for PciFront<Sim> {
    fn conf_read_vendor(&mut self) -> Result<u32, PciError> {
        use drivers::pcifront::ConfigOps;
        self.conf_read(PciAddress::new(0, 0, 0, 0).unwrap(), 0, 2)
    }
}

#[test]
fn backend_closing_during_handshake_is_an_error() {
    let sim = Sim::new(FakeDevice::virtio_net_modern());
    sim.st().close_on_connect = true;
    let mut f = front(&sim);
    assert_eq!(
        f.connect(&mut sim.clone(), FE_DIR),
        Err(PciError::BackendState(XenbusState::Closing))
    );
}

#[test]
fn backend_state_missing_at_first_is_waited_for() {
    let sim = Sim::new(FakeDevice::virtio_net_modern());
    sim.rm(&format!("{BE_DIR}/state"));
    let mut f = front(&sim);
    // Nobody ever writes it: a timeout, not an error about the missing node.
    assert_eq!(
        f.connect(&mut sim.clone(), FE_DIR),
        Err(PciError::Timeout("connect"))
    );
}

fn connect_with(edit: impl FnOnce(&Sim)) -> Result<PciFront<Sim>, PciError> {
    let sim = Sim::new(FakeDevice::virtio_net_modern());
    edit(&sim);
    let mut f = front(&sim);
    f.connect(&mut sim.clone(), FE_DIR).map(|_| f)
}

fn bad_value(r: Result<PciFront<Sim>, PciError>, key: &str) {
    match r {
        Err(PciError::BadValue { path, .. }) => assert!(path.ends_with(key), "{path} vs {key}"),
        Err(e) => panic!("expected BadValue for {key}, got {e:?}"),
        Ok(_) => panic!("expected BadValue for {key}, got Ok"),
    }
}

#[test]
fn garbage_frontend_keys_are_errors() {
    bad_value(
        connect_with(|s| s.set(&format!("{FE_DIR}/backend"), "relative/path")),
        "/backend",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{FE_DIR}/backend"), "/a/../b")),
        "/backend",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{FE_DIR}/backend-id"), "-1")),
        "/backend-id",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{FE_DIR}/backend-id"), "65536")),
        "/backend-id",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{FE_DIR}/backend-id"), "0x0")),
        "/backend-id",
    );
    assert!(matches!(
        connect_with(|s| s.rm(&format!("{FE_DIR}/backend"))),
        Err(PciError::Store {
            err: drivers::pcifront::StoreError::NotFound,
            ..
        })
    ));
}

#[test]
fn garbage_backend_keys_are_errors() {
    bad_value(
        connect_with(|s| s.set(&format!("{BE_DIR}/state"), "four")),
        "/state",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{BE_DIR}/num_devs"), "")),
        "/num_devs",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{BE_DIR}/num_devs"), "99999")),
        "/num_devs",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{BE_DIR}/num_devs"), "1 ")),
        "/num_devs",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{BE_DIR}/root_num"), "x")),
        "/root_num",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{BE_DIR}/root-0"), "0000:00:00")),
        "/root-0",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{BE_DIR}/vdev-0"), "0000:00:20.0")),
        "/vdev-0",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{BE_DIR}/vdev-0"), "0000:00:00.0\n")),
        "/vdev-0",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{BE_DIR}/vdev-0"), "0000:01:00.0")),
        "/vdev-0",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{BE_DIR}/dev-0"), "05.0")),
        "/dev-0",
    );
    bad_value(
        connect_with(|s| s.set(&format!("{BE_DIR}/state-0"), "9")),
        "/state-0",
    );
    // root_num says 2 but root-1 is missing.
    assert!(matches!(
        connect_with(|s| s.set(&format!("{BE_DIR}/root_num"), "2")),
        Err(PciError::Store { .. })
    ));
    // A xenstore failure is reported with its path.
    match connect_with(|s| s.st().store_fail = Some(format!("{BE_DIR}/num_devs"))) {
        Err(PciError::Store { path, .. }) => assert!(path.ends_with("num_devs")),
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn duplicate_devices_are_refused() {
    bad_value(
        connect_with(|s| {
            s.set(&format!("{BE_DIR}/num_devs"), "2");
            s.set(&format!("{BE_DIR}/vdev-1"), "0000:00:00.00");
        }),
        "/vdev-1",
    );
}

#[test]
fn enumeration_skips_detached_and_unexported_devices() {
    let f = connect_with(|s| {
        s.set(&format!("{BE_DIR}/num_devs"), "4");
        // dev-1: being detached.
        s.set(&format!("{BE_DIR}/dev-1"), "0000:00:06.0");
        s.set(&format!("{BE_DIR}/vdev-1"), "0000:00:01.00");
        s.set(&format!("{BE_DIR}/state-1"), "5");
        // dev-2: not exported yet (no vdev).
        s.set(&format!("{BE_DIR}/dev-2"), "0000:00:07.0");
        s.set(&format!("{BE_DIR}/state-2"), "1");
        // dev-3: no state node (older backends): taken.
        s.set(&format!("{BE_DIR}/vdev-3"), "0000:00:02.01");
    })
    .unwrap();
    let v: Vec<String> = f.devices().iter().map(|d| d.vdev.to_string()).collect();
    assert_eq!(v, ["0000:00:00.0", "0000:00:02.1"]);
    assert_eq!(f.devices()[1].state, None);
}

#[test]
fn missing_root_num_means_bus_zero() {
    let f = connect_with(|s| {
        s.rm(&format!("{BE_DIR}/root_num"));
        s.rm(&format!("{BE_DIR}/root-0"));
    })
    .unwrap();
    assert_eq!(f.roots(), &[(0, 0)]);
}

#[test]
fn failed_xenstore_write_is_an_error() {
    let r = connect_with(|s| s.st().store_fail = Some(format!("{FE_DIR}/magic")));
    assert!(matches!(r, Err(PciError::Store { .. })));
}
