//! Netback's xenbus side against the simulated hypervisor: handshake, features,
//! reconnection, hot-unplug, `online=0`, refused frontends and garbage xenstore values.

mod netback_sim;

use drivers::netback::{Fatal, RxDrop};
use netback_sim::*;
use xen::abi::xenbus::XenbusState;

/// The backend refused guest `dom`: it published Closing (logged), and after the
/// frontend closed in reaction, Closed.
fn assert_refused(sim: &Sim, dom: u16, what: &str) {
    let needle = format!("({dom}/0): state");
    assert!(
        sim.world
            .log
            .iter()
            .any(|l| l.contains(&needle) && l.contains("-> Closing")),
        "{what}: never went Closing"
    );
    assert_eq!(sim.be_state(dom), Some(XenbusState::Closed), "{what}");
    assert!(!sim.vif(dom).is_connected(), "{what}");
}

fn xs(sim: &Sim, path: &str) -> Option<String> {
    sim.world.xs_read_str(path)
}

/// Two guests exchange a frame each way; asserts byte-exact delivery.
fn ping(sim: &mut Sim, a: u16, b: u16) {
    let fa = udp_frame(mac(b as u8), mac(a as u8), 100, a as u8);
    let fb = udp_frame(mac(a as u8), mac(b as u8), 200, b as u8);
    sim.send(a, &fa);
    sim.send(b, &fb);
    sim.settle();
    let ra = sim.received(a);
    let rb = sim.received(b);
    // Guests learn each other; the first frames may have been flooded, never duplicated.
    assert!(
        rb.iter()
            .any(|f| f[42..] == fa[42..] && f.len() == fa.len()),
        "b did not get a's frame"
    );
    assert!(
        ra.iter()
            .any(|f| f[42..] == fb[42..] && f.len() == fb.len()),
        "a did not get b's frame"
    );
}

#[test]
fn handshake_advertises_features_and_connects() {
    let mut sim = Sim::new();
    sim.add_guest(5, 0, mac(5), FrontOpts::default());
    let be = be_path(5, 0);
    assert_eq!(sim.be_state(5), Some(XenbusState::Connected));
    assert_eq!(xs(&sim, &format!("{be}/feature-sg")).as_deref(), Some("1"));
    assert_eq!(
        xs(&sim, &format!("{be}/feature-rx-copy")).as_deref(),
        Some("1")
    );
    assert_eq!(
        xs(&sim, &format!("{be}/feature-rx-flip")).as_deref(),
        Some("0")
    );
    assert_eq!(
        xs(&sim, &format!("{be}/feature-ipv6-csum-offload")).as_deref(),
        Some("1")
    );
    assert_eq!(
        xs(&sim, &format!("{be}/feature-gso-tcpv4")),
        None,
        "GSO is not implemented"
    );
    assert_eq!(xs(&sim, &format!("{be}/feature-gso-tcpv6")), None);
    assert_eq!(
        xs(&sim, &format!("{be}/hotplug-status")).as_deref(),
        Some("connected")
    );
    let v = sim.vif(5);
    assert!(v.is_connected());
    assert_eq!(v.mac(), Some(mac(5)));
    assert_eq!(v.counters().connects, 1);
    assert!(v.features().unwrap().sg && v.features().unwrap().rx_notify);
    assert_eq!(v.rx_free_slots(), 64);
    assert_eq!(sim.world.backend_ports().len(), 1);
    assert_eq!(sim.rings_mapped(5), (true, true));
    assert!(sim.world.log_contains("connected"));
    sim.finish();
}

#[test]
fn initialised_state_and_split_event_channels() {
    let mut sim = Sim::new();
    let opts = FrontOpts {
        initialised_only: true,
        split_evtchn: true,
        ..Default::default()
    };
    sim.add_guest(5, 0, mac(5), opts);
    sim.add_guest(6, 0, mac(6), FrontOpts::default());
    assert_eq!(sim.be_state(5), Some(XenbusState::Connected));
    let (t, r) = sim.vif(5).event_ports().unwrap();
    assert_ne!(t, r);
    assert_eq!(sim.nb.vif_by_port(r), Some(sim.vif(5).id()));
    assert_eq!(sim.world.backend_ports().len(), 3);
    ping(&mut sim, 5, 6);
    sim.finish();
}

#[test]
fn refuses_frontend_without_request_rx_copy() {
    let mut sim = Sim::new();
    sim.add_guest(6, 0, mac(6), FrontOpts::default());
    sim.add_guest(
        5,
        0,
        mac(5),
        FrontOpts {
            rx_copy: false,
            ..Default::default()
        },
    );
    assert_refused(&sim, 5, "no rx-copy");
    assert_eq!(sim.vif(5).counters().fatal(Fatal::NoRxCopy), 1);
    assert!(sim.world.log_contains("rx-copy"));
    assert_eq!(sim.rings_mapped(5), (false, false));
    assert!(sim.vif(6).is_connected(), "other vif unaffected");
    sim.finish();
}

#[test]
fn frontend_reconnects_after_reboot() {
    let mut sim = Sim::new();
    sim.add_guest(5, 0, mac(5), FrontOpts::default());
    sim.add_guest(6, 0, mac(6), FrontOpts::default());
    ping(&mut sim, 5, 6);
    // Guest 5's netfront closes (module unload / reboot).
    sim.set_front_state(5, XenbusState::Closing);
    sim.settle();
    assert_eq!(sim.be_state(5), Some(XenbusState::Closing));
    assert!(!sim.vif(5).is_connected());
    assert_eq!(sim.rings_mapped(5), (false, false), "rings unmapped");
    sim.set_front_state(5, XenbusState::Closed);
    sim.settle();
    assert_eq!(sim.be_state(5), Some(XenbusState::Closed));
    // Frames for a disconnected guest are dropped and counted.
    let f = udp_frame(mac(5), mac(6), 80, 1);
    sim.send(6, &f);
    sim.settle();
    assert_eq!(sim.vif(5).counters().rx_drop(RxDrop::NotConnected), 1);
    // The rebooted guest's new netfront starts over and connects again.
    sim.reboot_guest(5, FrontOpts::default());
    assert_eq!(sim.be_state(5), Some(XenbusState::Connected));
    let v = sim.vif(5);
    assert_eq!(v.counters().connects, 2);
    assert_eq!(v.counters().disconnects, 1);
    ping(&mut sim, 5, 6);
    sim.finish();
}

#[test]
fn frontend_cycling_through_closed_before_connecting() {
    let mut sim = Sim::new();
    sim.world.libxl_add_vif(5, 0, &mac_str(mac(5)));
    let mut nf = Netfront::new(&mut sim.world, 5, 0, mac(5), FrontOpts::default());
    // A frontend that announces Closed first (as some do at boot).
    nf.set_state(&mut sim.world, XenbusState::Closed);
    nf.state = XenbusState::Closed;
    sim.fronts.insert((5, 0), nf);
    sim.settle();
    assert_eq!(sim.be_state(5), Some(XenbusState::Closed));
    sim.set_front_state(5, XenbusState::Initialising);
    sim.settle();
    assert_eq!(sim.be_state(5), Some(XenbusState::Connected));
    sim.add_guest(6, 0, mac(6), FrontOpts::default());
    ping(&mut sim, 5, 6);
    sim.finish();
}

#[test]
fn hot_unplug_releases_everything() {
    let mut sim = Sim::new();
    sim.add_guest(5, 0, mac(5), FrontOpts::default());
    sim.add_guest(6, 0, mac(6), FrontOpts::default());
    // Queue frames for 5 that it cannot take yet (no RX buffers left).
    let watches_before = sim.world.backend_watches();
    sim.world.xs_rm(&be_path(5, 0));
    sim.settle();
    assert!(sim.nb.vif_by_frontend(5, 0).is_none());
    assert_eq!(
        sim.world.backend_ports().len(),
        1,
        "only vif 6's port remains"
    );
    assert_eq!(sim.rings_mapped(5), (false, false));
    assert_eq!(
        sim.world.backend_watches(),
        watches_before - 1,
        "frontend watch dropped"
    );
    assert!(sim.world.log_contains("removed"));
    // The removed directory was not recreated by a late write.
    assert_eq!(sim.world.xs_dir(&be_path(5, 0)), None);
    // Guest 6 still works (talks to nobody: its broadcast is flooded to no port).
    assert!(sim.vif(6).is_connected());
    let nf = sim.fronts.remove(&(5, 0)).unwrap();
    nf.destroy(&mut sim.world);
    sim.finish();
}

#[test]
fn online_zero_closes_the_vif() {
    let mut sim = Sim::new();
    sim.add_guest(5, 0, mac(5), FrontOpts::default());
    sim.world
        .xs_write(&format!("{}/online", be_path(5, 0)), b"0");
    sim.settle();
    // Backend Closing -> frontend Closed -> backend Closed; the directory stays for the
    // grace period (libxl must see state Closed first)...
    assert_eq!(sim.front(5).state, XenbusState::Closed);
    assert_eq!(sim.be_state(5), Some(XenbusState::Closed));
    // ...then goes (vsnoop does what `xl devd` does: libxl waits for that).
    sim.now += drivers::netback::xenbus::DETACH_GRACE_NS;
    sim.settle();
    sim.now += 1;
    sim.settle();
    assert_eq!(
        sim.world.xs_dir(&be_path(5, 0)),
        None,
        "backend directory removed"
    );
    assert!(sim
        .world
        .log_contains("detached: backend directory removed"));
    assert!(sim.nb.vif_by_frontend(5, 0).is_none(), "vif torn down");
    assert!(sim.world.backend_ports().is_empty());
    let nf = sim.fronts.remove(&(5, 0)).unwrap();
    nf.destroy(&mut sim.world);
    sim.finish();
}

#[test]
fn map_and_bind_failures_release_partial_state() {
    for (maps, binds) in [(1, 0), (0, 1)] {
        let mut sim = Sim::new();
        sim.world.fail_maps = maps;
        sim.world.fail_binds = binds;
        sim.add_guest(5, 0, mac(5), FrontOpts::default());
        assert_refused(&sim, 5, "injected failure");
        let c = sim.vif(5).counters().clone();
        assert_eq!(c.fatal(Fatal::MapFailed) + c.fatal(Fatal::BindFailed), 1);
        assert!(sim.world.backend_ports().is_empty());
        assert_eq!(sim.rings_mapped(5), (false, false));
        // The frontend restarts: this time it connects.
        sim.reboot_guest(5, FrontOpts::default());
        assert_eq!(sim.be_state(5), Some(XenbusState::Connected));
        sim.finish();
    }
}

/// Garbage in the frontend's keys: refused with a logged reason, Closing, counted; never
/// a panic; the other guest is unaffected.
#[test]
fn garbage_frontend_values_are_refused() {
    let cases: &[(&str, &str)] = &[
        ("tx-ring-ref", "abc"),
        ("tx-ring-ref", "-1"),
        ("tx-ring-ref", "4294967296"),
        ("tx-ring-ref", "3"),
        ("tx-ring-ref", " 12"),
        ("rx-ring-ref", ""),
        ("rx-ring-ref", "999999"), // parses, but no such grant: map fails
        ("event-channel", "0"),
        ("event-channel", "131072"),
        ("event-channel", "0x10"),
        ("event-channel", "77"), // no such port: bind fails
        ("feature-sg", "2"),
        ("feature-rx-notify", "yes"),
        ("request-rx-copy", "0"),
        ("multi-queue-num-queues", "4"),
    ];
    for (key, value) in cases {
        let mut sim = Sim::new();
        sim.add_guest(6, 0, mac(6), FrontOpts::default());
        sim.world.libxl_add_vif(5, 0, &mac_str(mac(5)));
        let mut nf = Netfront::new(&mut sim.world, 5, 0, mac(5), FrontOpts::default());
        nf.state = XenbusState::Connected;
        // Write the keys by hand with one of them garbled, then announce Connected.
        nf.connect(&mut sim.world);
        nf.write_key(&mut sim.world, key, value);
        nf.set_state(&mut sim.world, XenbusState::Connected);
        sim.fronts.insert((5, 0), nf);
        // The backend saw Connected before the garbage only if it was fast: make it see
        // the garbage by cycling the frontend.
        sim.settle();
        if sim.vif(5).is_connected() {
            panic!("{key}={value:?} was accepted");
        }
        assert_refused(&sim, 5, &format!("{key}={value:?}"));
        assert_eq!(sim.vif(5).counters().fatal_total(), 1, "{key}={value:?}");
        assert!(sim.world.log_contains("fatal"), "{key}={value:?}");
        assert!(sim.vif(6).is_connected());
        sim.finish();
    }
}

#[test]
fn garbage_frontend_state_closes() {
    let mut sim = Sim::new();
    sim.add_guest(5, 0, mac(5), FrontOpts::default());
    sim.world
        .xs_write(&format!("{}/state", fe_path(5, 0)), b"banana");
    sim.settle();
    assert_refused(&sim, 5, "garbage state");
    assert_eq!(sim.vif(5).counters().fatal(Fatal::BadXenstore), 1);
    sim.finish();
}

/// Garbage in the toolstack's keys and directory names.
#[test]
fn garbage_backend_values_are_refused() {
    let cases: &[(&str, &str)] = &[
        ("mac", "zz:16:3e:00:00:05"),
        ("mac", "ff:ff:ff:ff:ff:ff"),
        ("mac", "00:16:3e:00:00"),
        ("frontend", "/local/domain/6/device/vif/0"),
        ("frontend", "../../etc"),
        ("frontend-id", "6"),
        ("frontend-id", "five"),
        ("handle", "1"),
    ];
    for (key, value) in cases {
        let mut sim = Sim::new();
        sim.add_guest(6, 0, mac(6), FrontOpts::default());
        sim.world.libxl_add_vif(5, 0, &mac_str(mac(5)));
        sim.world
            .xs_write(&format!("{}/{key}", be_path(5, 0)), value.as_bytes());
        let nf = Netfront::new(&mut sim.world, 5, 0, mac(5), FrontOpts::default());
        sim.fronts.insert((5, 0), nf);
        sim.settle();
        assert!(!sim.vif(5).is_connected(), "{key}={value:?}");
        assert_eq!(
            sim.be_state(5),
            Some(XenbusState::Closing),
            "{key}={value:?}"
        );
        assert_eq!(
            sim.vif(5).counters().fatal(Fatal::BadXenstore),
            1,
            "{key}={value:?}"
        );
        assert!(sim.world.log_contains("refused"));
        assert!(sim.vif(6).is_connected());
        sim.finish();
    }
    // Directory names that are not numbers, or not guests, are ignored (logged once).
    let mut sim = Sim::new();
    let root = format!("/local/domain/{BACKEND}/backend/vif");
    sim.world.xs_write(&format!("{root}/abc/0/mac"), b"x");
    sim.world.xs_write(&format!("{root}/7/zero/mac"), b"x");
    sim.world.xs_write(&format!("{root}/{BACKEND}/0/mac"), b"x");
    sim.world.xs_write(&format!("{root}/32752/0/mac"), b"x");
    sim.settle();
    assert_eq!(sim.nb.vifs().count(), 0);
    assert!(sim.world.log_contains("ignoring"));
    sim.finish();
}

/// A backend directory seen half-written (no `mac` yet) is waited for, not refused.
#[test]
fn half_written_backend_directory_is_waited_for() {
    let mut sim = Sim::new();
    sim.world.libxl_add_vif(5, 0, &mac_str(mac(5)));
    sim.world.xs_rm(&format!("{}/mac", be_path(5, 0)));
    let nf = Netfront::new(&mut sim.world, 5, 0, mac(5), FrontOpts::default());
    sim.fronts.insert((5, 0), nf);
    sim.settle();
    assert_eq!(
        sim.be_state(5),
        Some(XenbusState::Initialising),
        "nothing published"
    );
    assert_eq!(sim.vif(5).counters().fatal_total(), 0);
    sim.world.xs_write(
        &format!("{}/mac", be_path(5, 0)),
        mac_str(mac(5)).as_bytes(),
    );
    sim.settle();
    assert_eq!(sim.be_state(5), Some(XenbusState::Connected));
    sim.finish();
}

/// Watch events for paths and tokens that are not ours are ignored; ours for unknown
/// paths just rescan.
#[test]
fn stray_watch_events_are_harmless() {
    let mut sim = Sim::new();
    sim.add_guest(5, 0, mac(5), FrontOpts::default());
    assert!(!sim.nb.on_watch(&mut sim.world, "/whatever", "not-ours"));
    for p in [
        "",
        "/",
        "/local/domain/1/backend/vif/x/y/z",
        "/local/domain/1/backend/vif/5/0/mac",
        "\u{0}",
    ] {
        assert!(sim
            .nb
            .on_watch(&mut sim.world, p, drivers::netback::WATCH_TOKEN));
    }
    sim.settle();
    assert!(sim.vif(5).is_connected());
    sim.finish();
}
