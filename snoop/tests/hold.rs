//! The handshake hold (docs/snoop.md, rule R6): data that reaches the guest before
//! its socket is proven to exist is early-acked only with a copy held for
//! redelivery, and the copy stays until the guest acknowledges the data itself.

mod common;

use common::*;
use snoop::{Config, Engine, FlowState, GuestVerdict, ACK_FRAME_MAX, HOLD_MAX_TRIES};

const RETRY: u64 = 200_000_000;

fn engine(hold_bytes: usize) -> Engine {
    Engine::new(Config {
        max_flows: 64,
        hold_bytes,
        hold_retry_ns: RETRY,
        ..Config::default()
    })
}

fn deliver_at(e: &mut Engine, c: &Conn, frame: &[u8], slots: u32, now: u64) -> Option<Vec<u8>> {
    let mut out = [0u8; ACK_FRAME_MAX];
    e.on_delivered_to_guest(c.vif, frame, slots, now, &mut out)
        .map(|n| out[..n].to_vec())
}

fn deliver(e: &mut Engine, c: &Conn, frame: &[u8]) -> Option<Vec<u8>> {
    deliver_at(e, c, frame, 256, 1_000)
}

fn from_guest_at(
    e: &mut Engine,
    c: &Conn,
    mut frame: Vec<u8>,
    now: u64,
) -> (GuestVerdict, Vec<u8>) {
    let v = e.on_from_guest(c.vif, &mut frame, now);
    (v, frame)
}

fn synack(c: &Conn) -> Vec<u8> {
    c.guest_seg_full(
        c.g_isn,
        c.r0(),
        SYN | ACK,
        65160,
        Some((52, 101)),
        true,
        &[],
        &[],
    )
}

fn drain(e: &mut Engine, now: u64) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    while let Some((_, f)) = e.poll_redeliver(now) {
        v.push(f.to_vec());
    }
    v
}

const P: &[u8] = &[0x5a; 100];

#[test]
fn without_a_hold_handshake_data_waits_for_the_guest() {
    let mut e = engine(0);
    let c = Conn::v4();
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_none());
    assert_eq!(e.counters().rx_pass.handshake, 3);
    assert_eq!(e.hold_usage(), (0, 0));
    assert!(e.poll_redeliver(u64::MAX).is_none());
}

#[test]
fn held_data_is_early_acked_and_released_by_the_guest_ack() {
    for c in [Conn::v4(), Conn::v6()] {
        let mut e = engine(1 << 20);
        c.handshake_to_third_ack(&mut e);
        let d1 = c.data(c.r0(), 102, P);
        let a = parse_ack(&deliver(&mut e, &c, &d1).expect("held and early-acked"));
        assert_eq!(a.ack, c.r0() + 100);
        assert_eq!(a.seq, c.g0());
        assert!(checksums_ok(&deliver_ack_bytes(&mut e, &c, 200)));
        assert_eq!(state(&e, &c), Some(FlowState::Establishing));
        assert_eq!(e.hold_usage().0, 2);
        assert_eq!(e.counters().held_frames, 2);
        assert_eq!(e.outstanding_flows(), 1);
        // The guest's first ACK covers the first frame: it leaves the hold; the ACK
        // (below vSnoop's ACK point, same window as sent) reaches the sender
        // rewritten or not at all, never as a duplicate.
        let (v, g) = from_guest_at(&mut e, &c, c.gack(c.r0() + 100, 1000, 60), 2_000);
        assert_eq!(state(&e, &c), Some(FlowState::Active));
        if v == GuestVerdict::Forward {
            assert_eq!(
                parse_ack(&g).ack,
                c.r0() + 200,
                "rewritten up to the ACK point"
            );
        }
        assert_eq!(e.hold_usage().0, 1);
        assert_eq!(e.counters().hold_released, 1);
        // Then everything: the hold is empty, nothing outstanding.
        from_guest_at(&mut e, &c, c.gack(c.r0() + 200, 1000, 61), 3_000);
        assert_eq!(e.hold_usage(), (0, 0));
        assert_eq!(e.outstanding_flows(), 0);
        // Data after the guest's socket is proven is early-acked without a copy.
        assert!(deliver(&mut e, &c, &c.data(c.r0() + 200, 104, P)).is_some());
        assert_eq!(e.hold_usage(), (0, 0));
        assert!(e.poll_redeliver(u64::MAX).is_none());
    }
}

/// Delivers the next 100 bytes at `r0 + off` (TSval 103) and returns the early ACK.
fn deliver_ack_bytes(e: &mut Engine, c: &Conn, off: u32) -> Vec<u8> {
    let f = c.data(c.r0() + off - 100, 103, P);
    deliver(e, c, &f).expect("early ACK")
}

#[test]
fn a_guest_that_dropped_the_handshake_data_gets_it_again() {
    let mut e = engine(1 << 20);
    let c = Conn::v4();
    c.handshake_to_third_ack(&mut e);
    let d1 = c.data(c.r0(), 102, P);
    let d2 = c.data(c.r0() + 100, 103, P);
    assert!(deliver(&mut e, &c, &d1).is_some());
    assert!(deliver(&mut e, &c, &d2).is_some());
    // Nothing due before the retry time.
    assert!(drain(&mut e, 1_000 + RETRY - 1).is_empty());
    // The listener's accept queue was full: it retransmits its SYN-ACK. The held
    // frames are due at once, byte for byte, in order.
    let (v, _) = from_guest_at(&mut e, &c, synack(&c), 5_000);
    assert_eq!(v, GuestVerdict::Forward);
    assert_eq!(drain(&mut e, 5_000), vec![d1.clone(), d2.clone()]);
    assert_eq!(e.counters().redelivered, 2);
    // They come back through the data path: recognised, nothing learned or sent.
    let before = e.flow_info(&c.key()).unwrap();
    assert!(deliver(&mut e, &c, &d1).is_none());
    e.on_not_delivered(c.vif, &d2, 6_000);
    assert_eq!(e.flow_info(&c.key()).unwrap(), before);
    assert_eq!(e.counters().rx_pass.redelivery, 1);
    // Still held (the guest has not acknowledged anything); next try after 2x.
    assert_eq!(e.hold_usage().0, 2);
    assert!(drain(&mut e, 5_000 + 2 * RETRY - 1).is_empty());
    assert_eq!(drain(&mut e, 5_000 + 2 * RETRY).len(), 2);
    // The guest's socket comes up from the redelivered first frame: its ACK covers it.
    from_guest_at(&mut e, &c, c.gack(c.r0() + 100, 1000, 60), 7_000);
    assert_eq!(state(&e, &c), Some(FlowState::Active));
    assert_eq!(e.hold_usage().0, 1);
    // A hole reported with SACK does not hurry a frame already redelivered.
    let sack = c.guest_seg_full(
        c.g0(),
        c.r0() + 100,
        ACK,
        1000,
        Some((61, 103)),
        false,
        &[(c.r0() + 200, c.r0() + 300)],
        &[],
    );
    from_guest_at(&mut e, &c, sack, 8_000);
    assert!(drain(&mut e, 8_000).is_empty());
    from_guest_at(&mut e, &c, c.gack(c.r0() + 200, 1000, 62), 9_000);
    assert_eq!(e.hold_usage(), (0, 0));
    assert_eq!(e.outstanding_flows(), 0);
}

#[test]
fn sack_blocks_hurry_frames_not_yet_redelivered() {
    let mut e = engine(1 << 20);
    let c = Conn::v4();
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    let d2 = c.data(c.r0() + 100, 103, P);
    assert!(deliver(&mut e, &c, &d2).is_some());
    // The guest established from the first frame but lost the second: SACK for
    // nothing beyond, yet a SACK block means a hole somewhere.
    let sack = c.guest_seg_full(
        c.g0(),
        c.r0() + 100,
        ACK,
        1000,
        Some((60, 103)),
        false,
        &[(c.r0() + 300, c.r0() + 400)],
        &[],
    );
    from_guest_at(&mut e, &c, sack, 2_000);
    assert_eq!(drain(&mut e, 2_000), vec![d2]);
}

#[test]
fn handshake_data_is_held_only_in_order_acceptable_and_with_room() {
    let c = Conn::v4();
    // No room: not acked, and the next segment is not acked either (rcv_nxt only
    // advances over held data).
    let mut e = engine(100);
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_none());
    assert_eq!(e.counters().rx_pass.hold_full, 1);
    // Out of order, wrong ACK field, NO-BUFFER, engine off, FIN: no early ACK.
    let mut e = engine(1 << 20);
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0() + 100, 102, P)).is_none());
    let wrong_ack = c.remote_seg_full(c.r0(), c.g0() + 1, ACK, 1000, Some((102, 1)), false, P);
    assert!(deliver(&mut e, &c, &wrong_ack).is_none());
    assert!(deliver_at(&mut e, &c, &c.data(c.r0(), 102, P), 1, 1_000).is_none());
    e.set_enabled(false);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_none());
    e.set_enabled(true);
    let fin = c.remote_seg_full(c.r0(), c.g0(), ACK | FIN, 1000, Some((102, 1)), false, P);
    assert!(deliver(&mut e, &c, &fin).is_none());
    assert_eq!(e.hold_usage(), (0, 0));
    assert_eq!(e.counters().early_acks, 0);
    // In order from the start: held, then the next one too.
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 103, P)).is_some());
    assert!(deliver(&mut e, &c, &c.data(c.r0() + 100, 104, P)).is_some());
    assert_eq!(e.hold_usage().0, 2);
}

#[test]
fn held_frames_expire_and_take_their_flow_along() {
    let mut e = engine(1 << 20);
    let c = Conn::v4();
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    // Not evictable while holding.
    let mut e0 = Engine::new(Config {
        idle_timeout_ns: 0,
        hold_bytes: 1 << 20,
        ..Config::default()
    });
    c.handshake_to_third_ack(&mut e0);
    assert!(deliver(&mut e0, &c, &c.data(c.r0(), 102, P)).is_some());
    assert_eq!(e0.expire_idle(1 << 40), 0);
    // The guest never takes it: redelivered MAX_TRIES times, then given up.
    let mut tries = 0;
    let mut now = 1_000;
    while let Some(t) = e.hold_next_due() {
        now = t;
        tries += drain(&mut e, now).len();
    }
    assert_eq!(tries, HOLD_MAX_TRIES as usize);
    assert!(
        now > 100 * 1_000_000_000,
        "gives up after ~100 s, not {now} ns"
    );
    assert_eq!(e.counters().hold_expired, 1);
    assert_eq!(e.flow_count(), 0);
}

#[test]
fn flows_that_end_drop_their_held_frames() {
    let c = Conn::v4();
    // Guest RST.
    let mut e = engine(1 << 20);
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    let rst = c.guest_seg_full(c.g0(), c.r0(), RST | ACK, 0, None, false, &[], &[]);
    from_guest_at(&mut e, &c, rst, 2_000);
    assert_eq!((e.hold_usage(), e.counters().hold_dropped), ((0, 0), 1));
    // Sender RST during the handshake.
    let mut e = engine(1 << 20);
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    let rst = c.remote_seg_full(c.r0() + 100, c.g0(), RST, 0, None, false, &[]);
    assert!(deliver(&mut e, &c, &rst).is_none());
    assert_eq!((e.hold_usage(), e.counters().hold_dropped), ((0, 0), 1));
    // Vif reset.
    let mut e = engine(1 << 20);
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    e.on_vif_reset(c.vif);
    assert_eq!((e.hold_usage(), e.counters().hold_dropped), ((0, 0), 1));
    // A new SYN on the same 4-tuple.
    let mut e = engine(1 << 20);
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    c.handshake_to_third_ack(&mut e);
    assert_eq!((e.hold_usage(), e.counters().hold_dropped), ((0, 0), 1));
}

#[test]
fn pieces_of_held_frames_are_recognised_partial_overlaps_are_not() {
    let mut e = engine(1 << 20);
    let c = Conn::v4();
    c.handshake_to_third_ack(&mut e);
    let big = [0x5au8; 1000];
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, &big)).is_some());
    // The guest's socket comes up acknowledging nothing yet: ACTIVE, frame still held.
    from_guest_at(&mut e, &c, c.gack(c.r0(), 1000, 60), 2_000);
    assert_eq!(state(&e, &c), Some(FlowState::Active));
    // The data path cut the redelivery into pieces: each is recognised.
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, &big[..600])).is_none());
    assert!(deliver(&mut e, &c, &c.data(c.r0() + 600, 102, &big[600..])).is_none());
    assert_eq!(e.counters().rx_pass.redelivery, 2);
    assert_eq!(state(&e, &c), Some(FlowState::Active));
    // New data right after the held bytes is early-acked as usual (no copy kept).
    assert!(deliver(&mut e, &c, &c.data(c.r0() + 1000, 103, P)).is_some());
    assert_eq!(e.hold_usage().0, 1);
    // A segment reaching past held bytes is old data plus more: UNEXPECTED-SEQ.
    assert!(deliver(&mut e, &c, &c.data(c.r0() + 900, 104, &[1; 300])).is_none());
    assert_eq!(state(&e, &c), Some(FlowState::UnexpectedSeq));
}
