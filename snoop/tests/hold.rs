//! The handshake hold (docs/snoop.md, rule R11): data that reaches the guest before
//! its socket is proven to exist is early-acked only with a copy held for
//! redelivery, and the copy stays until the guest acknowledges the data itself.

mod common;

use common::*;
use snoop::wire::{parse_tcp_frame, TcpHeader};
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

fn parse_ack_any(f: &[u8]) -> snoop::wire::TcpFrame {
    snoop::wire::parse_tcp_frame(f).unwrap()
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
    e.poll_redeliver(now, &mut v);
    v.into_iter().map(|(_, f)| f).collect()
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
    assert!(drain(&mut e, u64::MAX).is_empty());
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
        assert!(drain(&mut e, u64::MAX).is_empty());
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
    // frames are due at once, in order, with the newest TSval the sender showed (so
    // that PAWS accepts them) and valid checksums.
    let (v, _) = from_guest_at(&mut e, &c, synack(&c), 5_000);
    assert_eq!(v, GuestVerdict::Forward);
    let again = drain(&mut e, 5_000);
    assert_eq!(again.len(), 2);
    for (f, orig) in again.iter().zip([&d1, &d2]) {
        assert!(checksums_ok(f));
        let (p, o) = (parse_ack_any(f), parse_ack_any(orig));
        assert_eq!((p.seq, p.payload_len()), (o.seq, o.payload_len()));
        assert_eq!(
            p.opts.timestamps.unwrap().0,
            103,
            "TSval refreshed to the newest"
        );
    }
    assert_eq!(again[1], d2, "already the newest: unchanged");
    assert_eq!(e.counters().redelivered, 2);
    // They come back through the data path: recognised, nothing learned or sent.
    let before = e.flow_info(&c.key()).unwrap();
    assert!(deliver(&mut e, &c, &again[0]).is_none());
    e.on_not_delivered(c.vif, &again[1], 6_000);
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
    // A sender RST or a new SYN while data is held does not throw the data away:
    // the guest's connection may ignore either (an RST outside its window, a
    // duplicate SYN answered by a request socket with its SYN-ACK).
    for rst_seq in [c.r0() + 100, c.r0().wrapping_add(0x4000_0000)] {
        let mut e = engine(1 << 20);
        c.handshake_to_third_ack(&mut e);
        assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
        let rst = c.remote_seg_full(rst_seq, c.g0(), RST, 0, None, false, &[]);
        assert!(deliver(&mut e, &c, &rst).is_none());
        assert_eq!(state(&e, &c), Some(FlowState::Closing));
        assert_eq!((e.hold_usage().0, e.counters().hold_dropped), (1, 0));
    }
    let mut e = engine(1 << 20);
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    let syn = c.remote_seg_full(c.r_isn, 0, SYN, 64240, Some((100, 0)), true, &[]);
    assert!(deliver(&mut e, &c, &syn).is_none());
    assert_eq!(state(&e, &c), Some(FlowState::Establishing));
    assert_eq!((e.hold_usage().0, e.counters().hold_dropped), (1, 0));
    // Vif reset.
    let mut e = engine(1 << 20);
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    e.on_vif_reset(c.vif);
    assert_eq!((e.hold_usage(), e.counters().hold_dropped), ((0, 0), 1));
    // The guest opens a connection on the same 4-tuple: the old one is gone.
    let mut e = engine(1 << 20);
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    let gsyn = c.guest_seg_full(c.g_isn, 0, SYN, 64800, Some((70, 0)), true, &[], &[]);
    from_guest_at(&mut e, &c, gsyn, 3_000);
    assert_eq!((e.hold_usage(), e.counters().hold_dropped), ((0, 0), 1));
}

#[test]
fn pieces_of_held_frames_are_recognised_partial_overlaps_are_not() {
    let mut e = engine(1 << 20);
    let c = Conn::v4();
    c.handshake_to_third_ack(&mut e);
    let big = [0x5au8; 1000];
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, &big)).is_some());
    // The guest's socket comes up acknowledging part of it: ACTIVE, frame still held.
    from_guest_at(&mut e, &c, c.gack(c.r0() + 600, 1000, 60), 2_000);
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

fn tsval_of(f: &[u8]) -> u32 {
    parse_ack_any(f).opts.timestamps.unwrap().0
}

/// Linux PAWS (tcp_paws_check): dropped when TS.Recent - TSval > 1.
fn paws_drops(ts_recent: u32, tsval: u32) -> bool {
    (ts_recent.wrapping_sub(tsval) as i32) > 1
}

/// (Found in review.) Early ACKs for D1, D2 lost; the full listener drops the third
/// ACK, D1 and D2, but raises its TS.Recent from the sender's retransmission of D1
/// (TSval 300, then 700), which vSnoop sees as held bytes coming back. The child
/// created from the second retransmission inherits TS.Recent 700: redeliveries of D2
/// must carry a TSval PAWS accepts.
#[test]
fn redeliveries_carry_a_tsval_the_guest_accepts_after_sender_retransmissions() {
    let mut e = engine(1 << 20);
    let c = Conn::v4();
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    assert!(deliver(&mut e, &c, &c.data(c.r0() + 100, 103, P)).is_some());
    assert!(deliver_at(&mut e, &c, &c.data(c.r0(), 300, P), 256, 300_000_000).is_none());
    assert!(deliver_at(&mut e, &c, &c.data(c.r0(), 700, P), 256, 900_000_000).is_none());
    let child_ts_recent = 700;
    let (v, g) = from_guest_at(&mut e, &c, c.gack(c.r0() + 100, 1000, 60), 900_000_100);
    assert_eq!(v, GuestVerdict::Forward);
    assert_eq!(parse_ack(&g).ack, c.r0() + 200);
    let again = drain(&mut e, u64::MAX / 4);
    assert_eq!(again.len(), 1);
    assert!(!paws_drops(child_ts_recent, tsval_of(&again[0])));
    assert!(checksums_ok(&again[0]));
    // The guest takes it: released, nothing outstanding.
    from_guest_at(&mut e, &c, c.gack(c.r0() + 200, 1000, 61), u64::MAX / 4);
    assert_eq!((e.hold_usage(), e.outstanding_flows()), ((0, 0), 0));
}

/// (Found in review.) A request socket answers a PAWS-failed or out-of-window
/// segment with a bare ACK of the sender's ISN + 1: while data is held that proves
/// nothing, so the next data is still early-acked only with a copy.
#[test]
fn a_request_socket_ack_does_not_prove_the_guest_socket() {
    let mut e = engine(1 << 20);
    let c = Conn::v4();
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    let req_ack = c.guest_seg_full(
        c.g0(),
        c.r0(),
        ACK,
        65160 >> 2,
        Some((55, 300)),
        false,
        &[],
        &[],
    );
    from_guest_at(&mut e, &c, req_ack, 2_000);
    assert_eq!(state(&e, &c), Some(FlowState::Establishing));
    assert!(deliver(&mut e, &c, &c.data(c.r0() + 100, 103, P)).is_some());
    assert_eq!(e.hold_usage().0, 2, "the next data is held too");
    // The guest's data (a banner) or an ACK of data proves it.
    from_guest_at(&mut e, &c, c.gack(c.r0() + 100, 1000, 61), 3_000);
    assert_eq!(state(&e, &c), Some(FlowState::Active));
}

/// (Found in review.) Thousands of tiny held segments: each lookup looks at the
/// ends of one flow's queue, a redelivery round is one pass, and the budget counts
/// the bookkeeping too (so tiny segments cannot hold more memory than the budget).
#[test]
fn many_tiny_held_segments_stay_cheap_and_bounded() {
    let mut e = Engine::new(Config {
        max_flows: 64,
        hold_bytes: 1 << 20,
        hold_retry_ns: RETRY,
        ..Config::default()
    });
    let mut c = Conn::v4();
    c.ws_guest = Some(14);
    c.handshake_to_third_ack(&mut e);
    let mut held = 0u32;
    for i in 0..20_000u32 {
        if deliver_at(&mut e, &c, &c.data(c.r0() + i, 102, &[1]), 256, 1_000).is_none() {
            break;
        }
        held += 1;
    }
    let (frames, bytes) = e.hold_usage();
    assert_eq!(frames as u32, held);
    assert!(bytes <= 1 << 20, "within the budget, bookkeeping included");
    assert!(
        held < 10_000,
        "tiny frames are charged their bookkeeping: {held}"
    );
    assert_eq!(e.counters().rx_pass.hold_full, 1);
    assert_eq!(drain(&mut e, 1_000 + RETRY).len() as u32, held);
    // A covered segment is recognised from the queue's ends.
    assert!(deliver_at(&mut e, &c, &c.data(c.r0() + 5, 102, &[1]), 256, 2_000).is_none());
    assert_eq!(e.counters().rx_pass.redelivery, 1);
}

// Found in a second review.

/// Rewrites the options NOP NOP TS into NOP TS NOP (TSval at an odd offset, legal:
/// TCP options need no alignment) and recomputes the TCP checksum.
fn odd_ts_layout(mut f: Vec<u8>) -> Vec<u8> {
    let t = parse_tcp_frame(&f).unwrap();
    let o = t.l4_off + 20;
    assert_eq!(&f[o..o + 4], &[1, 1, 8, 10]);
    let ts: Vec<u8> = f[o + 2..o + 12].to_vec();
    f[o] = 1;
    f[o + 1..o + 11].copy_from_slice(&ts);
    f[o + 11] = 1;
    let l4 = t.l4_off;
    f[l4 + 16..l4 + 18].copy_from_slice(&[0, 0]);
    let c = t.pseudo_sum().add_bytes(&f[l4..l4 + t.l4_len]).checksum();
    TcpHeader::new_checked(&mut f[l4..])
        .unwrap()
        .set_checksum(c);
    let p = parse_tcp_frame(&f).unwrap();
    assert!(p.checksums_ok(&f));
    assert_eq!(p.opts.ts_offset, Some(23));
    f
}

/// refresh_tsval's RFC 1624 update assumes the 32-bit TSval sits on a 16-bit
/// boundary of the TCP header; with the option at an odd offset the redelivered
/// frame's checksum is wrong and the guest drops every redelivery.
#[test]
fn refreshed_tsval_at_an_odd_offset_keeps_a_valid_checksum() {
    for c in [Conn::v4(), Conn::v6()] {
        let mut e = engine(1 << 20);
        c.handshake_to_third_ack(&mut e);
        let d1 = odd_ts_layout(c.data(c.r0(), 102, P));
        assert!(deliver(&mut e, &c, &d1).is_some(), "held");
        assert!(deliver(&mut e, &c, &c.data(c.r0() + 100, 103, P)).is_some());
        let again = drain(&mut e, 1_000 + RETRY);
        assert_eq!(again.len(), 2);
        let p = parse_tcp_frame(&again[0]).unwrap();
        assert_eq!(p.opts.timestamps.unwrap().0, 103, "TSval refreshed");
        assert!(
            p.checksums_ok(&again[0]),
            "redelivery checksum ({:?})",
            c.ip
        );
    }
}

/// The sender resets a connection whose data is held (an RST at rcv_nxt resets the
/// guest's connection) and opens a new one on the same 4-tuple: the new SYN is
/// ignored because the flow is still holding, and the guest's SYN-ACK of the new
/// connection goes through the synchronized path of the old flow and gets its ACK
/// rewritten to the old ACK point: the new handshake breaks until the hold expires.
#[test]
fn a_new_connection_after_an_rst_is_not_broken_by_the_old_hold() {
    let mut e = engine(1 << 20);
    let c = Conn::v4();
    c.handshake_to_third_ack(&mut e);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    let rst = c.remote_seg_full(c.r0() + 100, c.g0(), RST, 0, None, false, &[]);
    assert!(deliver(&mut e, &c, &rst).is_none());
    assert_eq!(state(&e, &c), Some(FlowState::Closing));
    // New connection, same 4-tuple, new ISN (below the old ACK point).
    let isn2 = 500u32;
    let syn = c.remote_seg_full(isn2, 0, SYN, 64240, Some((200, 0)), true, &[]);
    assert!(deliver(&mut e, &c, &syn).is_none());
    let gisn2 = 9000u32;
    let mut sa = c.guest_seg_full(
        gisn2,
        isn2 + 1,
        SYN | ACK,
        65160,
        Some((80, 200)),
        true,
        &[],
        &[],
    );
    let v = e.on_from_guest(c.vif, &mut sa, 2_000);
    assert_eq!(v, GuestVerdict::Forward);
    assert_eq!(
        parse_tcp_frame(&sa).unwrap().ack,
        isn2 + 1,
        "the guest's SYN-ACK must reach the sender unmodified"
    );
    assert_eq!(
        state(&e, &c),
        Some(FlowState::Establishing),
        "new flow tracked"
    );
}
