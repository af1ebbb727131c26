//! Hostile guest TX: every malformed packet ends in error responses (exactly one per
//! slot) or, for protocol violations, a disconnected vif; always logged and counted,
//! never a panic, never another vif affected.

mod netback_sim;

use drivers::netback::{Fatal, NetbackConfig, PollOutput, RxDrop, TxDrop};
use netback_sim::*;
use xen::abi::netif::*;
use xen::abi::xenbus::XenbusState;
use xen::abi::GrantRef;

fn three_guests() -> Sim {
    let mut sim = Sim::new();
    for d in [5, 6, 7] {
        sim.add_guest(d, 0, mac(d as u8), FrontOpts::default());
    }
    sim
}

/// Guests 6 and 7 still talk; guest 5 too when `five_ok`.
fn others_fine(sim: &mut Sim, five_ok: bool) {
    let f = raw_frame(mac(7), mac(6), 300, 77);
    sim.send(6, &f);
    sim.settle();
    assert_eq!(sim.received(7), vec![f]);
    if five_ok {
        let g = raw_frame(mac(6), mac(5), 200, 55);
        sim.send(5, &g);
        sim.settle();
        assert_eq!(sim.received(6), vec![g]);
    }
}

fn data(sim: &mut Sim, len: usize, offset: usize) -> GrantRef {
    let f = raw_frame(mac(6), mac(5), len.max(14), 1);
    sim.grant_data(5, &f[..len.min(f.len())], offset)
}

/// Sends `reqs` from guest 5 and checks the packet was refused for `why`: each data slot
/// answered ERROR once, extra slots NULL, nothing forwarded.
fn refused(build: impl FnOnce(&mut Sim) -> Vec<NetifTxRequest>, why: TxDrop) {
    let mut sim = three_guests();
    let reqs = build(&mut sim);
    let extras = reqs.iter().filter(|r| r.id == EXTRA_ID).count();
    let slots = reqs.len() - extras;
    sim.send_raw(5, &reqs);
    sim.settle();
    let nf = sim.front(5);
    assert!(nf.tx_inflight.is_empty(), "{why}: every request answered");
    assert_eq!(nf.tx_status, vec![NETIF_RSP_ERROR; slots], "{why}");
    assert_eq!(nf.tx_nulls as usize, extras, "{why}");
    assert_eq!(sim.vif(5).counters().tx_drop(why), 1, "{why}");
    assert_eq!(sim.vif(5).counters().tx_packets, 0, "{why}");
    assert!(sim.world.log_contains(why.as_str()), "{why}: logged");
    assert!(
        sim.received(6).is_empty() && sim.received(7).is_empty(),
        "{why}"
    );
    assert!(sim.vif(5).is_connected(), "{why}: not fatal");
    others_fine(&mut sim, true);
    sim.finish();
}

/// Sends `reqs` from guest 5 and checks that the vif was disconnected for `why`.
fn fatal(build: impl FnOnce(&mut Sim) -> Vec<NetifTxRequest>, why: Fatal, corrupt: Option<u32>) {
    let mut sim = three_guests();
    let reqs = build(&mut sim);
    if !reqs.is_empty() {
        sim.send_raw(5, &reqs);
    }
    if let Some(v) = corrupt {
        let nf = sim.fronts.get_mut(&(5, 0)).unwrap();
        nf.corrupt_req_prod(&mut sim.world, true, v);
    }
    sim.settle();
    assert_eq!(sim.vif(5).counters().fatal(why), 1, "{why}");
    assert!(!sim.vif(5).is_connected(), "{why}");
    assert_eq!(sim.rings_mapped(5), (false, false), "{why}");
    assert!(sim.world.log_contains(why.as_str()), "{why}: logged");
    assert_eq!(
        sim.front(5).state,
        XenbusState::Closed,
        "{why}: frontend told to close"
    );
    others_fine(&mut sim, false);
    // The guest restarts its frontend and is served again.
    sim.reboot_guest(5, FrontOpts::default());
    others_fine(&mut sim, true);
    sim.finish();
}

#[test]
fn first_slot_smaller_than_ethernet_header() {
    refused(|s| vec![req(data(s, 10, 0), 0, 0, 10)], TxDrop::TooSmall);
}

#[test]
fn zero_length_following_slot() {
    refused(
        |s| {
            vec![
                req(data(s, 100, 0), 0, NETTXF_MORE_DATA, 100),
                req(data(s, 1, 0), 0, 0, 0),
            ]
        },
        TxDrop::ZeroSlot,
    );
}

#[test]
fn first_slot_crossing_its_page() {
    refused(
        |s| vec![req(data(s, 90, 4000), 4000, 0, 200)],
        TxDrop::CrossesPage,
    );
}

#[test]
fn following_slot_crossing_its_page() {
    refused(
        |s| {
            vec![
                req(data(s, 100, 0), 0, NETTXF_MORE_DATA, 300),
                req(data(s, 90, 4000), 4000, 0, 200),
            ]
        },
        TxDrop::CrossesPage,
    );
}

#[test]
fn following_slots_bigger_than_the_packet() {
    refused(
        |s| {
            vec![
                req(data(s, 100, 0), 0, NETTXF_MORE_DATA, 100),
                req(data(s, 200, 0), 0, 0, 200),
            ]
        },
        TxDrop::SizeMismatch,
    );
}

#[test]
fn first_slot_left_empty() {
    refused(
        |s| {
            vec![
                req(data(s, 100, 0), 0, NETTXF_MORE_DATA, 100),
                req(data(s, 100, 0), 0, 0, 100),
            ]
        },
        TxDrop::SizeMismatch,
    );
}

#[test]
fn unknown_extra_info_type() {
    refused(
        |s| {
            vec![
                req(data(s, 100, 0), 0, NETTXF_EXTRA_INFO, 100),
                extra_req(9, 0, [0; 6]),
            ]
        },
        TxDrop::BadExtra,
    );
}

#[test]
fn repeated_extra_info_type() {
    refused(
        |s| {
            vec![
                req(data(s, 100, 0), 0, NETTXF_EXTRA_INFO, 100),
                extra_req(XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_FLAG_MORE, [0; 6]),
                extra_req(XEN_NETIF_EXTRA_TYPE_HASH, 0, [0; 6]),
            ]
        },
        TxDrop::BadExtra,
    );
}

#[test]
fn gso_without_negotiation() {
    refused(
        |s| {
            vec![
                req(data(s, 100, 0), 0, NETTXF_EXTRA_INFO, 100),
                extra_req(
                    XEN_NETIF_EXTRA_TYPE_GSO,
                    0,
                    [0xb4, 0x05, XEN_NETIF_GSO_TYPE_TCPV4, 0, 0, 0],
                ),
            ]
        },
        TxDrop::GsoNotNegotiated,
    );
}

#[test]
fn bad_grant_reference() {
    refused(|_| vec![req(99_999, 0, 0, 100)], TxDrop::CopyFailed);
}

#[test]
fn grant_for_another_domain() {
    refused(
        |s| {
            let page = s.world.alloc_page();
            vec![req(s.world.grant(5, page, 7, true), 0, 0, 100)]
        },
        TxDrop::CopyFailed,
    );
}

#[test]
fn bad_packet_between_good_ones() {
    let mut sim = three_guests();
    let a = raw_frame(mac(6), mac(5), 100, 1);
    let b = raw_frame(mac(6), mac(5), 120, 2);
    let ga = sim.grant_data(5, &a, 0);
    let gb = sim.grant_data(5, &b, 0);
    sim.send_raw(
        5,
        &[req(ga, 0, 0, 100), req(4242, 0, 0, 100), req(gb, 0, 0, 120)],
    );
    sim.settle();
    assert_eq!(sim.received(6), vec![a, b]);
    assert_eq!(
        sim.front(5).tx_status,
        vec![NETIF_RSP_OKAY, NETIF_RSP_ERROR, NETIF_RSP_OKAY]
    );
    sim.finish();
}

#[test]
fn more_than_eighteen_slots_is_fatal() {
    fatal(
        |s| {
            let g = data(s, 100, 0);
            let mut v: Vec<_> = (0..19).map(|_| req(g, 0, NETTXF_MORE_DATA, 10)).collect();
            v[0].size = 190;
            v[18].flags = 0;
            v
        },
        Fatal::TooManySlots,
        None,
    );
}

#[test]
fn packet_cut_off_at_req_prod_is_fatal() {
    fatal(
        |s| vec![req(data(s, 100, 0), 0, NETTXF_MORE_DATA, 200)],
        Fatal::TruncatedPacket,
        None,
    );
}

#[test]
fn extra_info_chain_cut_off_is_fatal() {
    fatal(
        |s| {
            vec![
                req(data(s, 100, 0), 0, NETTXF_EXTRA_INFO, 100),
                extra_req(XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_FLAG_MORE, [0; 6]),
            ]
        },
        Fatal::TruncatedPacket,
        None,
    );
}

#[test]
fn too_many_extra_infos_is_fatal() {
    fatal(
        |s| {
            let mut v = vec![req(data(s, 100, 0), 0, NETTXF_EXTRA_INFO, 100)];
            for _ in 0..6 {
                v.push(extra_req(
                    XEN_NETIF_EXTRA_TYPE_HASH,
                    XEN_NETIF_EXTRA_FLAG_MORE,
                    [0; 6],
                ));
            }
            v
        },
        Fatal::TooManyExtras,
        None,
    );
}

#[test]
fn tx_req_prod_jump_is_fatal() {
    fatal(|_| vec![], Fatal::TxRingCorrupt, Some(1000));
}

#[test]
fn tx_req_prod_going_backwards_is_fatal() {
    fatal(
        |s| {
            // Published and consumed first, then req_prod runs backwards.
            let f = raw_frame(mac(6), mac(5), 100, 1);
            s.send(5, &f);
            s.settle();
            assert_eq!(s.received(6), vec![f]);
            vec![]
        },
        Fatal::TxRingCorrupt,
        Some(u32::MAX),
    );
}

/// A guest broadcasting 60,000-byte frames to guests that post no RX buffers: every
/// queue stays within its byte bound, all queues together within `rx_total_bytes`, and
/// one poll takes at most `tx_budget_bytes` (plus a packet) from the flooding guest.
/// The memory one guest can pin in the driver domain is bounded whatever it sends.
#[test]
fn a_flood_of_big_frames_pins_bounded_memory() {
    let mut cfg = NetbackConfig::new(BACKEND);
    cfg.rx_total_bytes = 1 << 20;
    cfg.tx_budget_bytes = 150_000;
    let mut sim = Sim::with_config(cfg.clone());
    sim.add_guest(5, 0, mac(5), FrontOpts::default());
    for d in [6u16, 7, 8] {
        sim.add_guest(d, 0, mac(d as u8), FrontOpts::idle());
    }
    sim.settle();
    let bcast = [0xff; 6];
    for round in 0..12u8 {
        // 16 frames of 15 slots each: 240 of the TX ring's 256.
        for i in 0..16u8 {
            sim.send(5, &raw_frame(bcast, mac(5), 60_000, round ^ i));
        }
        // One poll of the backend, as the kernel's loop does it, then the rest.
        let mut frames = Vec::new();
        let more = sim.nb.poll_tx(&mut sim.world, &mut frames);
        let taken: usize = frames.iter().map(|f| f.data.len()).sum();
        assert!(more && taken < cfg.tx_budget_bytes + 60_000, "{taken}");
        let mut out = PollOutput::default();
        for f in frames {
            sim.nb.forward(f, 0, &mut out);
        }
        sim.outcomes.extend(out.rx);
        sim.settle();
        let mut total = 0;
        for d in [6u16, 7, 8] {
            let vif = sim.vif(d);
            assert!(vif.rx_queue_bytes() <= cfg.rx_queue_bytes, "round {round}");
            total += vif.rx_queue_bytes();
        }
        assert!(total <= cfg.rx_total_bytes, "round {round}: {total}");
    }
    assert!(sim.vif(6).counters().rx_drop(RxDrop::QueueFull) > 0);
    // The flooded guests still get what fits once they post buffers.
    let f = raw_frame(mac(7), mac(6), 300, 1);
    sim.send(6, &f);
    sim.settle();
    sim.finish();
}

/// Flooded copies a full queue refuses are never made: the turn's outcomes hold the
/// one original frame, not a copy per vif.
#[test]
fn refused_flood_copies_are_counted_not_held() {
    let mut sim = Sim::new();
    sim.add_guest(5, 0, mac(5), FrontOpts::default());
    for d in [6u16, 7, 8, 9] {
        sim.add_guest(d, 0, mac(d as u8), FrontOpts::idle());
    }
    sim.settle();
    let bcast = [0xff; 6];
    // Fill every queue (512 KiB each: 8 frames of 60,000 bytes).
    for i in 0..8u8 {
        sim.send(5, &raw_frame(bcast, mac(5), 60_000, i));
    }
    sim.settle();
    let queued: Vec<usize> = [6u16, 7, 8, 9]
        .iter()
        .map(|&d| sim.vif(d).rx_queue_len())
        .collect();
    assert_eq!(queued, vec![8; 4]);
    sim.outcomes.clear();
    for i in 0..8u8 {
        sim.send(5, &raw_frame(bcast, mac(5), 60_000, 100 + i));
    }
    sim.settle();
    // One outcome per frame (the original, for the last port), not one per vif.
    assert_eq!(sim.outcomes.len(), 8);
    for d in [6u16, 7, 8, 9] {
        assert_eq!(
            sim.vif(d).counters().rx_drop(RxDrop::QueueFull),
            8,
            "vif of {d}"
        );
    }
    sim.finish();
}
