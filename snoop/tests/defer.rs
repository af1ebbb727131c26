//! Deferred early ACKs (docs/snoop.md, rule R12): with `Config::ack_defer_ns` an early
//! ACK waits that long for the guest's own segment to carry it; vSnoop steps aside
//! for a guest that acknowledges in time and acts only for one that does not.

mod common;

use common::*;
use snoop::{Config, Engine, FlowState, GuestVerdict, ACK_FRAME_MAX};

const T: u64 = 50_000;

fn engine(defer: u64) -> Engine {
    Engine::new(Config {
        max_flows: 64,
        ack_defer_ns: defer,
        ..Config::default()
    })
}

fn deliver_at(e: &mut Engine, c: &Conn, frame: &[u8], now: u64) -> Option<Vec<u8>> {
    let mut out = [0u8; ACK_FRAME_MAX];
    e.on_delivered_to_guest(c.vif, frame, 256, now, &mut out)
        .map(|n| out[..n].to_vec())
}

fn poll(e: &mut Engine, now: u64) -> Vec<(u16, Vec<u8>)> {
    let mut out = [0u8; ACK_FRAME_MAX];
    let mut v = Vec::new();
    while let Some((vif, n)) = e.poll_deferred_ack(now, &mut out) {
        v.push((vif, out[..n].to_vec()));
    }
    v
}

fn from_guest(e: &mut Engine, c: &Conn, mut frame: Vec<u8>, now: u64) -> (GuestVerdict, Vec<u8>) {
    let v = e.on_from_guest(c.vif, &mut frame, now);
    (v, frame)
}

/// An established flow and the sender's first data byte.
fn setup(c: &Conn, defer: u64) -> (Engine, u32) {
    let mut e = engine(defer);
    c.establish(&mut e, 1000);
    (e, c.r0())
}

/// An established flow with 100 bytes from its first data byte `s` delivered at 1 us:
/// a deferred ACK of s + 100 is pending, due at 1 us + T.
fn one_pending(c: &Conn) -> (Engine, u32) {
    let (mut e, s) = setup(c, T);
    assert_eq!(
        deliver_at(&mut e, c, &c.data(s, 200, &[1; 100]), 1_000),
        None
    );
    (e, s)
}

/// The guest repeats its handshake ACK (ack s, same window): it is forwarded carrying
/// the pending s + 100, and nothing is sent when that was due.
fn guest_duplicate_carries_it(e: &mut Engine, c: &Conn, s: u32, now: u64) {
    let (v, out) = from_guest(e, c, c.gack(s, 1000, 52), now);
    assert_eq!(v, GuestVerdict::Forward);
    assert_eq!(parse_ack(&out).ack, s + 100);
    assert!(poll(e, 1_000 + T).is_empty());
}

/// Two established flows (remote ports 40000 and 40001) in an engine of `max_flows`
/// (the deferral queue holds as many entries).
fn two_flows(max_flows: usize) -> (Conn, Conn, Engine) {
    let a = Conn::v4();
    let b = Conn {
        rport: 40001,
        ..Conn::v4()
    };
    let mut e = Engine::new(Config {
        max_flows,
        ack_defer_ns: T,
        ..Config::default()
    });
    a.establish(&mut e, 1000);
    b.establish(&mut e, 1000);
    (a, b, e)
}

#[test]
fn nothing_is_sent_at_delivery_and_one_ack_covers_everything_when_due() {
    for c in [Conn::v4(), Conn::v6()] {
        let (mut e, s) = setup(&c, T);
        assert_eq!(
            deliver_at(&mut e, &c, &c.data(s, 200, &[1; 100]), 1_000),
            None
        );
        assert_eq!(e.ack_next_due(), Some(1_000 + T));
        assert_eq!(
            deliver_at(&mut e, &c, &c.data(s + 100, 201, &[2; 100]), 20_000),
            None
        );
        assert_eq!(e.deferred_len(), 1, "later data joins the pending ACK");
        assert!(poll(&mut e, 1_000 + T - 1).is_empty(), "not due yet");
        let acks = poll(&mut e, 1_000 + T);
        assert_eq!(acks.len(), 1);
        assert_eq!(acks[0].0, c.vif);
        let a = parse_ack(&acks[0].1);
        assert_eq!(a.ack, s + 200, "covers all delivered in-order data");
        assert_eq!(a.seq, c.g0());
        assert_eq!(a.src, c.guest);
        assert_eq!(a.dst, c.remote);
        assert_eq!(a.vlan_tci, c.vlan);
        // The guest advertised 1000 << 2 from r0: the window is what is left of it.
        assert_eq!(a.window, ((1000u32 << c.gws()) - 200) as u16 >> c.gws());
        // TSval = the guest's clock; TSecr = the TSval of the first segment the ACK
        // covers (RFC 7323 §4.3, as a delayed ACK echoes).
        assert_eq!(a.opts.timestamps, Some((51, 200)));
        assert_eq!(e.counters().acks_deferred, 1);
        assert_eq!(e.counters().deferred_sent, 1);
        assert_eq!(e.counters().early_acks, 1);
        assert_eq!(e.flow_info(&c.key()).unwrap().ack_point, s + 200);
        assert!(poll(&mut e, 10 * T).is_empty(), "sent once");
        assert_eq!(e.ack_next_due(), None);
    }
}

#[test]
fn a_guest_ack_in_time_passes_untouched_and_nothing_is_sent() {
    let c = Conn::v4();
    let (mut e, s) = one_pending(&c);
    let ga = c.gack(s + 100, 1000, 52);
    let (v, out) = from_guest(&mut e, &c, ga.clone(), 5_000);
    assert_eq!(v, GuestVerdict::Forward);
    assert_eq!(out, ga, "the guest's own ACK, unchanged");
    assert!(poll(&mut e, 1_000 + T).is_empty(), "vSnoop stepped aside");
    assert_eq!(e.counters().deferred_by_guest, 1);
    assert_eq!(e.counters().early_acks, 0);
    let i = e.flow_info(&c.key()).unwrap();
    assert_eq!((i.ack_point, i.guest_ack), (s + 100, s + 100), "flow clean");
}

#[test]
fn a_partial_guest_ack_is_rewritten_up_to_the_committed_point() {
    let c = Conn::v4();
    let (mut e, s) = one_pending(&c);
    deliver_at(&mut e, &c, &c.data(s + 100, 201, &[1; 100]), 2_000);
    // The guest acknowledges the first segment only (pure ACK, same window): without a
    // pending ACK this would be suppressed as a duplicate; here the sender has not seen
    // s + 200 yet, so the guest's ACK carries it.
    let (v, out) = from_guest(&mut e, &c, c.gack(s + 100, 1000, 52), 5_000);
    assert_eq!(v, GuestVerdict::Forward);
    let a = parse_ack(&out);
    assert_eq!(a.ack, s + 200);
    assert_eq!(a.window, ((1000u32 << c.gws()) - 100) as u16 >> c.gws());
    assert!(checksums_ok(&out));
    assert!(poll(&mut e, 1_000 + T).is_empty());
    // Now the sender has seen s + 200: a later ACK below it that would reach the
    // sender as a duplicate (same right edge) is suppressed as usual.
    let (v, _) = from_guest(&mut e, &c, c.gack(s + 150, 988, 52), 6_000);
    assert_eq!(v, GuestVerdict::Suppress);
    let (v, _) = from_guest(&mut e, &c, c.gack(s + 200, 1000, 53), 7_000);
    assert_eq!(v, GuestVerdict::Forward);
}

#[test]
fn a_guest_duplicate_with_a_pending_ack_is_never_suppressed() {
    let c = Conn::v4();
    let (mut e, s) = one_pending(&c);
    // The guest's duplicate of its handshake ACK (ack r0, same window).
    guest_duplicate_carries_it(&mut e, &c, s, 2_000);
}

#[test]
fn guest_data_carries_the_pending_ack() {
    let c = Conn::v4();
    let (mut e, s) = one_pending(&c);
    let seg = c.guest_seg_full(
        c.g0(),
        s,
        ACK | PSH,
        1000,
        Some((52, 200)),
        false,
        &[],
        b"hi",
    );
    let (v, out) = from_guest(&mut e, &c, seg, 3_000);
    assert_eq!(v, GuestVerdict::Forward);
    let f = snoop::wire::parse_tcp_frame(&out).unwrap();
    assert_eq!(f.ack, s + 100);
    assert_eq!(f.payload_len(), 2);
    assert!(checksums_ok(&out));
    assert!(poll(&mut e, 1_000 + T).is_empty());
}

#[test]
fn the_sent_ack_is_brought_up_to_date() {
    let c = Conn::v6();
    let (mut e, s) = one_pending(&c);
    // A second round: the entry's frame is written at the first delivery and must go
    // out with the ACK point as it is when due.
    let a1 = poll(&mut e, 1_000 + T);
    assert_eq!(a1.len(), 1);
    deliver_at(&mut e, &c, &c.data(s + 100, 300, &[1; 50]), 100_000);
    deliver_at(&mut e, &c, &c.data(s + 150, 301, &[1; 50]), 110_000);
    let a2 = poll(&mut e, 100_000 + T);
    assert_eq!(a2.len(), 1);
    let a = parse_ack(&a2[0].1);
    assert_eq!(a.ack, s + 200);
    assert_eq!(
        a.opts.timestamps,
        Some((51, 300)),
        "TSecr of the first segment after the last ACK sent"
    );
    assert!(checksums_ok(&a2[0].1));
}

#[test]
fn a_vif_reset_or_a_guest_rst_voids_the_pending_ack() {
    let c = Conn::v4();
    let (mut e, _) = one_pending(&c);
    e.on_vif_reset(c.vif);
    assert!(poll(&mut e, 1_000 + T).is_empty(), "flow gone: no ACK");

    let (mut e, s) = one_pending(&c);
    let grst = c.guest_seg_full(c.g0(), s + 100, RST | ACK, 0, None, false, &[], &[]);
    from_guest(&mut e, &c, grst, 2_000);
    assert!(poll(&mut e, 1_000 + T).is_empty(), "guest reset: no ACK");
}

#[test]
fn a_new_connection_on_the_same_ports_is_not_acked_by_the_old_entry() {
    let c = Conn::v4();
    let (mut e, s) = one_pending(&c);
    // The guest resets; the same 4-tuple connects again at once.
    let grst = c.guest_seg_full(c.g0(), s + 100, RST | ACK, 0, None, false, &[], &[]);
    from_guest(&mut e, &c, grst, 2_000);
    c.establish(&mut e, 1000);
    assert!(poll(&mut e, 1_000 + T).is_empty());
    assert_eq!(state(&e, &c), Some(FlowState::Active));
}

#[test]
fn data_that_may_not_be_early_acked_never_joins_a_pending_ack() {
    // ECN-CE data after a pending ACK: the pending ACK covers only what came before.
    let c = Conn::v4();
    let (mut e, s) = one_pending(&c);
    let mut ce = c.data(s + 100, 201, &[1; 100]);
    ce[15] |= 3; // IPv4 TOS byte: ECN = CE (the checksum is fixed below)
    ce[24] = 0;
    ce[25] = 0;
    let sum = snoop::wire::checksum::checksum(&ce[14..34]);
    ce[24..26].copy_from_slice(&sum.to_be_bytes());
    assert!(checksums_ok(&ce));
    deliver_at(&mut e, &c, &ce, 2_000);
    let acks = poll(&mut e, 1_000 + T);
    assert_eq!(acks.len(), 1);
    assert_eq!(parse_ack(&acks[0].1).ack, s + 100);

    // A full RX ring after the pending ACK: the same.
    let (mut e, s) = one_pending(&c);
    let mut out = [0u8; ACK_FRAME_MAX];
    e.on_delivered_to_guest(c.vif, &c.data(s + 100, 201, &[1; 100]), 2, 2_000, &mut out);
    let acks = poll(&mut e, 1_000 + T);
    assert_eq!(parse_ack(&acks[0].1).ack, s + 100);
}

#[test]
fn without_a_delay_early_acks_go_out_at_once_as_before() {
    let c = Conn::v4();
    let (mut e, s) = setup(&c, 0);
    let a = deliver_at(&mut e, &c, &c.data(s, 200, &[1; 100]), 1_000).expect("immediate");
    assert_eq!(parse_ack(&a).ack, s + 100);
    assert_eq!(e.ack_next_due(), None);
    assert!(poll(&mut e, u64::MAX).is_empty());
}

#[test]
fn a_full_queue_falls_back_to_an_immediate_ack() {
    // One entry per flow at most: with max_flows flows pending, one more flow...
    // the queue holds max_flows entries, so a stale entry (carried by the guest)
    // still counts until it comes up: fill it with stale entries of one flow.
    let c = Conn::v4();
    let mut e = Engine::new(Config {
        max_flows: 2,
        ack_defer_ns: T,
        ..Config::default()
    });
    c.establish(&mut e, 1000);
    let s = c.r0();
    let mut next = s;
    for k in 0..2u32 {
        deliver_at(
            &mut e,
            &c,
            &c.data(next, 200 + k, &[1; 10]),
            1_000 + k as u64,
        );
        next += 10;
        let (v, _) = from_guest(&mut e, &c, c.gack(next, 1000, 52 + k), 1_500 + k as u64);
        assert_eq!(v, GuestVerdict::Forward);
    }
    assert_eq!(e.deferred_len(), 2);
    let a =
        deliver_at(&mut e, &c, &c.data(next, 300, &[1; 10]), 2_000).expect("queue full: at once");
    assert_eq!(parse_ack(&a).ack, next + 10);
    // The stale entries come up and are skipped.
    assert!(poll(&mut e, 2_000 + T).is_empty());
    assert_eq!(e.deferred_len(), 0);
}

// The cases below came from a review of R12; each failed on the first version.

#[test]
fn an_entry_whose_ack_the_guest_carried_never_sends_a_later_pending_ack() {
    let c = Conn::v4();
    let (mut e, s) = setup(&c, T);
    assert_eq!(
        deliver_at(&mut e, &c, &c.data(s, 200, &[1; 100]), 1_000),
        None
    );
    let (v, _) = from_guest(&mut e, &c, c.gack(s + 100, 1000, 52), 5_000);
    assert_eq!(v, GuestVerdict::Forward);
    // New data while the first entry (void now) is still queued.
    assert_eq!(
        deliver_at(&mut e, &c, &c.data(s + 100, 201, &[2; 100]), 45_000),
        None
    );
    assert!(
        poll(&mut e, 1_000 + T).is_empty(),
        "not before its own due time"
    );
    let acks = poll(&mut e, 45_000 + T);
    assert_eq!(acks.len(), 1);
    assert_eq!(parse_ack(&acks[0].1).ack, s + 200);
    assert_eq!(e.counters().deferred_sent, 1);
    assert_eq!(e.counters().deferred_by_guest, 1);
}

#[test]
fn a_sender_rst_the_guest_may_ignore_does_not_void_the_pending_ack() {
    // In UNEXPECTED-SEQ the engine's rcv_nxt is the end of a run after a gap, not the
    // guest's RCV.NXT: an RST there may be answered with a challenge ACK, which must
    // not be suppressed as a duplicate of an ACK the sender never got.
    let c = Conn::v4();
    let (mut e, s) = one_pending(&c);
    e.on_not_delivered(c.vif, &c.data(s + 100, 201, &[1; 100]), 2_000);
    deliver_at(&mut e, &c, &c.data(s + 200, 202, &[1; 100]), 3_000);
    let rst = c.remote_seg_full(s + 300, 0, RST, 0, None, false, &[]);
    deliver_at(&mut e, &c, &rst, 4_000);
    let acks = poll(&mut e, 1_000 + T);
    assert_eq!(acks.len(), 1, "the sender gets the committed point");
    assert_eq!(parse_ack(&acks[0].1).ack, s + 100);

    // Or, if the guest speaks first, its segment carries it.
    let (mut e, s) = one_pending(&c);
    let rst = c.remote_seg_full(s + 100, 0, RST, 0, None, false, &[]);
    deliver_at(&mut e, &c, &rst, 2_000);
    guest_duplicate_carries_it(&mut e, &c, s, 3_000);
}

#[test]
fn a_short_buffer_takes_nothing_off_the_queue() {
    let c = Conn::v4();
    let (mut e, s) = one_pending(&c);
    let mut small = [0u8; 10];
    assert!(e.poll_deferred_ack(1_000 + T, &mut small).is_none());
    assert_eq!(e.deferred_len(), 1);
    let acks = poll(&mut e, 1_000 + T);
    assert_eq!(acks.len(), 1);
    assert_eq!(parse_ack(&acks[0].1).ack, s + 100);
}

#[test]
fn switched_off_no_deferred_ack_is_sent_and_the_guest_carries_it() {
    let c = Conn::v4();
    for global in [true, false] {
        let (mut e, s) = setup(&c, T);
        deliver_at(&mut e, &c, &c.data(s, 200, &[1; 100]), 1_000);
        if global {
            e.set_enabled(false);
        } else {
            assert!(e.set_flow_enabled(&c.key(), false));
        }
        assert!(
            poll(&mut e, 1_000 + T).is_empty(),
            "early ACK sent while off"
        );
        // The guest's duplicate of its previous ACK is not suppressed: it carries the
        // committed point to the sender.
        let (v, out) = from_guest(&mut e, &c, c.gack(s, 1000, 52), 100_000);
        assert_eq!(v, GuestVerdict::Forward);
        assert_eq!(parse_ack(&out).ack, s + 100);
        assert_eq!(
            e.outstanding_flows(),
            1,
            "the guest has not acknowledged it yet"
        );
        let (v, _) = from_guest(&mut e, &c, c.gack(s + 100, 1000, 53), 110_000);
        assert_eq!(v, GuestVerdict::Forward);
        assert_eq!(e.outstanding_flows(), 0);
    }
}

#[test]
fn a_clock_that_goes_backwards_delays_but_never_blocks() {
    let (a, b, mut e) = two_flows(64);
    let s = a.r0();
    deliver_at(&mut e, &a, &a.data(s, 200, &[1; 100]), 100_000); // due 150 us
    deliver_at(&mut e, &b, &b.data(s, 200, &[1; 100]), 90_000); // due 140 us, queued behind
    assert_eq!(
        poll(&mut e, 150_000).len(),
        2,
        "both by the first one's due time"
    );

    // A bogus far-future time does not hold back what is queued after it.
    let (mut e, s) = setup(&a, T);
    let c2 = b.clone();
    c2.establish(&mut e, 1000);
    deliver_at(&mut e, &a, &a.data(s, 200, &[1; 100]), u64::MAX / 2);
    deliver_at(&mut e, &c2, &c2.data(s, 200, &[1; 100]), 1_000);
    assert_eq!(poll(&mut e, 1_000 + T).len(), 2);
}

// From the second review.

#[test]
fn switching_back_on_resumes_deferred_early_acks() {
    let c = Conn::v4();
    for global in [true, false] {
        let (mut e, s) = one_pending(&c);
        let set = |e: &mut Engine, on: bool| {
            if global {
                e.set_enabled(on);
            } else {
                assert!(e.set_flow_enabled(&c.key(), on));
            }
        };
        set(&mut e, false);
        assert!(poll(&mut e, 1_000 + T).is_empty(), "off: nothing sent");
        set(&mut e, true);
        // The guest is not running: its data keeps arriving, vSnoop must ACK it again.
        assert_eq!(
            deliver_at(&mut e, &c, &c.data(s + 100, 300, &[2; 100]), 100_000),
            None
        );
        let acks = poll(&mut e, 100_000 + T);
        assert_eq!(
            acks.len(),
            1,
            "global={global}: no early ACK after switching on"
        );
        assert_eq!(parse_ack(&acks[0].1).ack, s + 200);
        assert!(!e.flow_info(&c.key()).unwrap().ack_pending);
    }
}

#[test]
fn a_little_clock_jitter_keeps_the_delay() {
    let c = Conn::v4();
    let (mut e, _) = one_pending(&c);
    assert!(
        poll(&mut e, 999).is_empty(),
        "1 ns back is not a clock reset"
    );
    assert!(poll(&mut e, 1_000 + T - 1).is_empty());
    assert_eq!(poll(&mut e, 1_000 + T).len(), 1);
}

#[test]
fn a_full_queue_sends_at_once_and_ends_an_unqueued_pending_ack() {
    // Flow a's pending ACK came due while switched off (pending, unqueued); then the
    // queue is full of flow b's entries: a's next early ACK goes out at once, which gives
    // the sender a's committed point, so a is no longer pending.
    let (a, b, mut e) = two_flows(2);
    let s = a.r0();
    assert_eq!(
        deliver_at(&mut e, &a, &a.data(s, 200, &[1; 100]), 1_000),
        None
    );
    e.set_enabled(false);
    assert!(poll(&mut e, 1_000 + T).is_empty());
    e.set_enabled(true);
    assert!(e.flow_info(&a.key()).unwrap().ack_pending);
    // Two entries of b (the first one carried by b's guest): the queue is full.
    deliver_at(&mut e, &b, &b.data(s, 200, &[1; 10]), 100_000);
    from_guest(&mut e, &b, b.gack(s + 10, 1000, 52), 100_001);
    deliver_at(&mut e, &b, &b.data(s + 10, 201, &[1; 10]), 100_002);
    assert_eq!(e.deferred_len(), 2);
    let ack = deliver_at(&mut e, &a, &a.data(s + 100, 201, &[1; 100]), 100_003)
        .expect("queue full: at once");
    assert_eq!(parse_ack(&ack).ack, s + 200);
    assert!(!e.flow_info(&a.key()).unwrap().ack_pending);
    // a's guest now repeats its old ACK: a duplicate for the sender, suppressed.
    let (v, _) = from_guest(&mut e, &a, a.gack(s + 100, 975, 52), 100_004);
    assert_eq!(v, GuestVerdict::Suppress);
}

/// The queue holds at most `Engine::ACK_DEFER_QUEUE_MAX` entries whatever the table's
/// capacity (about 10 MiB); past that, early ACKs go out at once.
#[test]
fn the_queue_is_capped_below_a_big_table() {
    let c = Conn::v4();
    let cfg = Config {
        max_flows: 100_000,
        ack_defer_ns: 10_000_000,
        ..Config::default()
    };
    let mut e = Engine::new(cfg.clone());
    c.establish(&mut e, 1000);
    let mut next = c.r0();
    // Stale entries (each ACK carried by the guest) stay queued until they come up.
    for k in 0..Engine::ACK_DEFER_QUEUE_MAX as u32 {
        let now = 1_000 + k as u64;
        assert_eq!(
            deliver_at(&mut e, &c, &c.data(next, 200, &[1; 10]), now),
            None
        );
        next += 10;
        let (v, _) = from_guest(&mut e, &c, c.gack(next, 1000, 52), now);
        assert_eq!(v, GuestVerdict::Forward);
    }
    assert_eq!(e.deferred_len(), Engine::ACK_DEFER_QUEUE_MAX);
    let a = deliver_at(&mut e, &c, &c.data(next, 200, &[1; 10]), 70_000).expect("at once");
    assert_eq!(parse_ack(&a).ack, next + 10);
    assert_eq!(e.deferred_len(), Engine::ACK_DEFER_QUEUE_MAX);
    // What the engine may allocate, all told, covers the table and the full queue and
    // stays near 96 bytes a flow plus ~150 bytes a queue entry and the hold's budget.
    let bound = Engine::memory_bound(&cfg);
    assert!(bound >= e.table_bytes() + 2 * cfg.hold_bytes);
    let queue = bound - e.table_bytes() - 2 * cfg.hold_bytes - 8192;
    assert!(
        (100..=200).contains(&(queue / Engine::ACK_DEFER_QUEUE_MAX)),
        "{queue}"
    );
    // Without a delay there is no queue.
    let off = Config {
        ack_defer_ns: 0,
        ..cfg.clone()
    };
    assert_eq!(
        Engine::memory_bound(&off),
        e.table_bytes() + 2 * cfg.hold_bytes + 8192
    );
    for n in [16, 1000, 4096, 1 << 20] {
        let c = Config {
            max_flows: n,
            ..off.clone()
        };
        assert_eq!(
            Engine::memory_bound(&c) - 2 * c.hold_bytes - 8192,
            Engine::new(c).table_bytes()
        );
    }
}

/// A configuration bigger than the memory it may use is cut down (hold, then table)
/// until everything the engine can allocate fits; one that fits is left alone.
#[test]
fn a_config_is_fitted_to_the_memory_given() {
    let mib = 1 << 20;
    let want = Config {
        max_flows: 1 << 20,
        hold_bytes: 64 * mib,
        ack_defer_ns: 50_000,
        ..Config::default()
    };
    for budget in [32 * mib, 8 * mib, 100_000] {
        let got = Engine::fit_config(want.clone(), budget);
        assert!(Engine::memory_bound(&got) <= budget || got.max_flows == 16);
        assert!(got.hold_bytes <= budget / 4);
        assert!(got.max_flows >= 16 && got.max_flows.is_power_of_two());
        // No more cut than needed: twice the flows would not have fitted.
        let more = Config {
            max_flows: got.max_flows * 2,
            ..got.clone()
        };
        assert!(got.max_flows == want.max_flows || Engine::memory_bound(&more) > budget);
    }
    let roomy = Engine::fit_config(want.clone(), 1 << 40);
    assert_eq!(
        (roomy.max_flows, roomy.hold_bytes),
        (want.max_flows, want.hold_bytes)
    );
    // 32 MiB: the hold gets a quarter (it counts twice), the table what it must.
    let got = Engine::fit_config(want.clone(), 32 * mib);
    assert_eq!(got.hold_bytes, 8 * mib);
    assert_eq!(got.max_flows, 1 << 16);
}
