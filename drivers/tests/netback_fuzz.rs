//! Property tests: random TX/RX ring contents and random xenstore values fed to the real
//! backend never panic, never leak a mapping or a bound port, never affect another vif,
//! and every TX request is answered exactly once unless the vif was disconnected.

mod netback_sim;

use netback_sim::*;
use proptest::prelude::*;
use xen::abi::netif::*;
use xen::abi::xenbus::XenbusState;

fn three_guests() -> Sim {
    let mut sim = Sim::new();
    for d in [5, 6, 7] {
        sim.add_guest(d, 0, mac(d as u8), FrontOpts::default());
    }
    sim
}

fn others_fine(sim: &mut Sim) {
    let f = raw_frame(mac(7), mac(6), 300, 77);
    sim.send(6, &f);
    sim.settle();
    assert_eq!(sim.received(7), vec![f]);
}

#[derive(Clone, Debug)]
struct RawReq {
    /// Index into the valid grants, or a random reference.
    gref: Result<usize, u32>,
    offset: u16,
    flags: u16,
    size: u16,
}

fn raw_req() -> impl Strategy<Value = RawReq> {
    (
        prop_oneof![3 => (0usize..4).prop_map(Ok), 1 => any::<u32>().prop_map(Err)],
        prop_oneof![3 => 0u16..64, 1 => any::<u16>()],
        prop_oneof![2 => Just(0u16), 3 => 0u16..16, 1 => any::<u16>()],
        prop_oneof![3 => 0u16..2000, 1 => any::<u16>()],
    )
        .prop_map(|(gref, offset, flags, size)| RawReq {
            gref,
            offset,
            flags,
            size,
        })
}

/// A xenstore value: mostly plausible, sometimes garbage.
fn xs_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => (0u32..20).prop_map(|n| n.to_string().into_bytes()),
        1 => any::<u32>().prop_map(|n| n.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..24),
        1 => "[0-9a-f:x -]{0,20}".prop_map(String::into_bytes),
    ]
}

const FE_KEYS: &[&str] = &[
    "tx-ring-ref",
    "rx-ring-ref",
    "event-channel",
    "event-channel-tx",
    "event-channel-rx",
    "request-rx-copy",
    "feature-sg",
    "feature-rx-notify",
    "feature-no-csum-offload",
    "multi-queue-num-queues",
    "state",
];
const BE_KEYS: &[&str] = &[
    "mac",
    "frontend",
    "frontend-id",
    "online",
    "handle",
    "state",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn random_tx_ring_contents(reqs in prop::collection::vec(raw_req(), 1..60), jump in prop::option::weighted(0.1, any::<u32>()), rx_junk in prop::collection::vec(any::<u32>(), 0..8)) {
        let mut sim = three_guests();
        let grants: Vec<u32> = (0..4).map(|i| {
            let f = raw_frame(mac(6), mac(5), 4096, i as u8);
            sim.grant_data(5, &f, 0)
        }).collect();
        let reqs: Vec<NetifTxRequest> = reqs.iter().map(|r| NetifTxRequest {
            gref: match r.gref { Ok(i) => grants[i], Err(g) => g },
            offset: r.offset,
            flags: r.flags,
            id: u16::MAX,
            size: r.size,
        }).collect();
        // Hostile RX buffers too, on the receiving guest.
        {
            let nf = sim.fronts.get_mut(&(6, 0)).unwrap();
            for g in &rx_junk {
                nf.post_rx_raw(&mut sim.world, *g);
            }
        }
        sim.send_raw(5, &reqs);
        if let Some(v) = jump {
            let nf = sim.fronts.get_mut(&(5, 0)).unwrap();
            nf.corrupt_req_prod(&mut sim.world, true, v);
        }
        sim.settle();
        let c = sim.vif(5).counters().clone();
        if sim.vif(5).is_connected() {
            let nf = sim.front(5);
            prop_assert_eq!(nf.tx_status.len() as u64 + nf.tx_nulls, reqs.len() as u64, "every slot answered once");
            prop_assert_eq!(c.tx_slots, reqs.len() as u64);
        } else {
            prop_assert!(c.fatal_total() >= 1);
        }
        let v6 = sim.fronts[&(6, 0)].violations.clone();
        prop_assert!(v6.is_empty(), "{:?}", v6);
        others_fine(&mut sim);
        // The hostile frontend may have seen odd ids echoed back: that is its problem.
        sim.fronts.get_mut(&(5, 0)).unwrap().violations.clear();
        sim.finish();
    }

    #[test]
    fn random_xenstore_values(fe in prop::collection::vec((0..FE_KEYS.len(), xs_value()), 0..6), be in prop::collection::vec((0..BE_KEYS.len(), xs_value()), 0..4), cycle in any::<bool>()) {
        let mut sim = three_guests();
        for (k, v) in &fe {
            sim.world.xs_write(&format!("{}/{}", fe_path(5, 0), FE_KEYS[*k]), v);
        }
        for (k, v) in &be {
            sim.world.xs_write(&format!("{}/{}", be_path(5, 0), BE_KEYS[*k]), v);
        }
        sim.settle();
        if cycle {
            // The frontend restarts with whatever garbage is left in its directory.
            sim.set_front_state(5, XenbusState::Closed);
            sim.settle();
            sim.set_front_state(5, XenbusState::Initialising);
            sim.settle();
            sim.set_front_state(5, XenbusState::Connected);
            sim.settle();
        }
        others_fine(&mut sim);
        sim.fronts.get_mut(&(5, 0)).unwrap().violations.clear();
        sim.finish();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    /// `gro::split` (the handshake hold's redeliveries) on any bytes, and on a valid
    /// IPv4/TCP header followed by any bytes with any length fields: never panics;
    /// whatever it returns fits the frame limit and carries valid checksums.
    #[test]
    fn gro_split_takes_any_bytes(
        raw in prop::collection::vec(any::<u8>(), 0..3000),
        ip_len in any::<u16>(),
        doff in any::<u8>(),
        max in 0usize..2000,
    ) {
        use drivers::netback::{csum, gro};
        let check = |f: &[u8]| {
            if let Some(pieces) = gro::split(f, max) {
                for p in &pieces {
                    prop_assert!(p.len() <= max);
                    prop_assert!(csum::l4_checksum_ok(p));
                }
            }
            Ok(())
        };
        check(&raw)?;
        // Ethernet + IPv4 (no options, TCP) + TCP header prefix, then the raw bytes.
        let mut f = vec![2, 0, 0, 0, 0, 5, 2, 0, 0, 0, 0, 6, 0x08, 0x00, 0x45, 0];
        f.extend_from_slice(&ip_len.to_be_bytes());
        f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 11]);
        let c = csum::fold(csum::sum_words(0, &f[14..34]));
        f[24..26].copy_from_slice(&c.to_be_bytes());
        f.extend_from_slice(&[0x13, 0x89, 0x9c, 0x40, 0, 0, 0, 1, 0, 0, 0, 2, doff, 0x10]);
        f.extend_from_slice(&raw);
        check(&f)?;
        let _ = csum::fill_l4_checksum(&mut f);
        check(&f)?;
    }
}
