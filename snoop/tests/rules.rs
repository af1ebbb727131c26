//! One test per state transition and per rule of docs/snoop.md, through the public API.

mod common;

use common::*;
use snoop::wire::{parse_tcp_frame, IpVersion};
use snoop::{
    Config, Engine, FlowState, GuestVerdict, PassReason, RxChecksum, TxChecksum, ACK_FRAME_MAX,
};

fn engine() -> Engine {
    Engine::new(Config {
        max_flows: 64,
        ..Config::default()
    })
}

fn deliver(e: &mut Engine, c: &Conn, frame: &[u8], slots: u32) -> Option<Vec<u8>> {
    let mut out = [0u8; ACK_FRAME_MAX];
    e.on_delivered_to_guest(c.vif, frame, slots, 1_000, &mut out)
        .map(|n| out[..n].to_vec())
}

fn from_guest(e: &mut Engine, c: &Conn, mut frame: Vec<u8>) -> (GuestVerdict, Vec<u8>) {
    let v = e.on_from_guest(c.vif, &mut frame, 1_000);
    (v, frame)
}

const P: &[u8] = &[0x5a; 100];

#[test]
fn passive_handshake_transitions_and_counters() {
    let mut e = engine();
    let c = Conn::v4();
    c.establish(&mut e, 1000);
    let k = e.counters();
    assert_eq!(k.transition(None, Some(FlowState::SynSeen)), 1);
    assert_eq!(
        k.transition(Some(FlowState::SynSeen), Some(FlowState::Establishing)),
        1
    );
    assert_eq!(
        k.transition(Some(FlowState::Establishing), Some(FlowState::Active)),
        1
    );
    assert_eq!(k.flows_created, 1);
    let i = e.flow_info(&c.key()).unwrap();
    assert_eq!(i.guest_wscale, 2);
    assert!(i.timestamps && i.sack && i.enabled);
    assert_eq!(i.rcv_nxt, c.r0());
    assert_eq!(i.guest_right, c.r0() + (1000 << 2));
}

#[test]
fn no_early_ack_before_the_guest_is_established() {
    let mut e = engine();
    let c = Conn::v4();
    let syn = c.remote_seg_full(c.r_isn, 0, SYN, 64240, Some((100, 0)), true, &[]);
    assert!(deliver(&mut e, &c, &syn, 256).is_none());
    // Data before the SYN-ACK, and after it but before the guest's first ACK.
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 101, P), 256).is_none());
    let sa = c.guest_seg_full(
        c.g_isn,
        c.r0(),
        SYN | ACK,
        65160,
        Some((50, 100)),
        true,
        &[],
        &[],
    );
    assert_eq!(from_guest(&mut e, &c, sa).0, GuestVerdict::Forward);
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 101, P), 256).is_none());
    assert_eq!(state(&e, &c), Some(FlowState::Establishing));
    assert_eq!(e.counters().rx_pass.handshake, 3);
    assert_eq!(e.counters().early_acks, 0);
}

#[test]
fn unknown_flow_is_never_acked() {
    let mut e = engine();
    let c = Conn::v4();
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 1, P), 256).is_none());
    assert_eq!(e.counters().rx_pass.no_flow, 1);
    let (v, _) = from_guest(&mut e, &c, c.gack(c.r0(), 100, 1));
    assert_eq!(v, GuestVerdict::Forward);
    assert_eq!(e.counters().tx_pass.no_flow, 1);
}

#[test]
fn in_order_data_gets_a_correct_early_ack_v4_v6_vlan() {
    for c in [
        Conn::v4(),
        Conn::v6(),
        Conn {
            vlan: Some(9),
            ..Conn::v4()
        },
        Conn {
            ts: false,
            ..Conn::v6()
        },
    ] {
        let mut e = engine();
        c.establish(&mut e, 1000);
        let d = c.data(c.r0(), 200, P);
        let ack = deliver(&mut e, &c, &d, 256).expect("early ACK");
        let df = parse_tcp_frame(&d).unwrap();
        let a = parse_ack(&ack);
        assert!(ack.len() >= 60 && ack.len() <= ACK_FRAME_MAX);
        assert_eq!((a.eth_src, a.eth_dst), (df.eth_dst, df.eth_src));
        assert_eq!(a.vlan_tci, c.vlan);
        assert_eq!(a.ip, c.ip);
        assert_eq!((a.src, a.dst), (c.guest, c.remote));
        assert_eq!((a.src_port, a.dst_port), (c.gport, c.rport));
        assert_eq!(a.seq, c.g0());
        assert_eq!(a.ack, c.r0() + 100);
        // Right edge is the guest's: (r0 + 4000 - (r0 + 100)) >> 2 = 975.
        assert_eq!(a.window, 975);
        if c.ts {
            // TSval = guest's latest (51 from its first ACK), TSecr = TS.Recent (200).
            assert_eq!(a.opts.timestamps, Some((51, 200)));
        } else {
            assert_eq!(a.opts.timestamps, None);
        }
        let i = e.flow_info(&c.key()).unwrap();
        assert_eq!(i.ack_point, c.r0() + 100);
        assert_eq!(i.counters.early_acks, 1);
        assert_eq!(i.counters.early_acked_bytes, 100);
        assert_eq!(e.counters().early_acked_bytes, 100);
    }
}

#[test]
fn window_is_scaled_down_and_right_edge_never_grows() {
    let c = Conn {
        ws_guest: Some(3),
        ..Conn::v4()
    };
    let mut e = engine();
    c.establish(&mut e, 100); // right edge r0 + 800
    let mut seq = c.r0();
    for (i, len) in [7usize, 13, 100, 1, 300].into_iter().enumerate() {
        let a = parse_ack(
            &deliver(&mut e, &c, &c.data(seq, 200 + i as u32, &vec![1; len]), 256).unwrap(),
        );
        seq += len as u32;
        assert_eq!(a.ack, seq);
        assert_eq!(a.window as u32, (c.r0() + 800 - seq) >> 3, "rounded down");
        assert!(a.ack + ((a.window as u32) << 3) <= c.r0() + 800);
    }
    // 379 bytes of window left: 380 bytes do not fit.
    assert!(deliver(&mut e, &c, &c.data(seq, 300, &[1; 380]), 256).is_none());
    assert_eq!(e.counters().rx_pass.out_of_window, 1);
    assert_eq!(state(&e, &c), Some(FlowState::UnexpectedSeq));
}

#[test]
fn no_scaling_when_the_sender_did_not_offer_it() {
    let c = Conn {
        ws_remote: None,
        ..Conn::v4()
    };
    let mut e = engine();
    c.establish(&mut e, 1000);
    assert_eq!(e.flow_info(&c.key()).unwrap().guest_wscale, 0);
    let a = parse_ack(&deliver(&mut e, &c, &c.data(c.r0(), 200, P), 256).unwrap());
    assert_eq!(a.window, 900);
}

#[test]
fn not_delivered_bytes_are_never_acked_and_guest_catch_up_resumes() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 10_000);
    let r0 = c.r0();
    assert!(deliver(&mut e, &c, &c.data(r0, 200, P), 256).is_some());
    // [r0+100, r0+200) is dropped.
    e.on_not_delivered(c.vif, &c.data(r0 + 100, 201, P), 1_000);
    assert_eq!(state(&e, &c), Some(FlowState::UnexpectedSeq));
    assert_eq!(
        e.counters()
            .transition(Some(FlowState::Active), Some(FlowState::UnexpectedSeq)),
        1
    );
    // Later data arrives out of order: no ACK.
    assert!(deliver(&mut e, &c, &c.data(r0 + 200, 202, P), 256).is_none());
    assert!(deliver(&mut e, &c, &c.data(r0 + 300, 203, P), 256).is_none());
    // Retransmission fills the hole: still no early ACK (the guest's turn).
    assert!(deliver(&mut e, &c, &c.data(r0 + 100, 204, P), 256).is_none());
    assert!(e.counters().rx_pass.unexpected_seq >= 3);
    // An ACK from the guest below vSnoop's point keeps it waiting.
    assert_eq!(
        from_guest(&mut e, &c, c.gack(r0 + 50, 10_000, 59)).0,
        GuestVerdict::Forward
    );
    assert_eq!(state(&e, &c), Some(FlowState::UnexpectedSeq));
    // The guest's dup ACK (with SACK) passes. It reaches vSnoop's ACK point, and the
    // hole was filled by a delivered retransmission that joins the run seen since:
    // every byte up to r0+400 is in the guest, so ACTIVE resumes.
    let sack = c.guest_seg_full(
        c.g0(),
        r0 + 100,
        ACK,
        10_000,
        Some((60, 203)),
        false,
        &[(r0 + 200, r0 + 400)],
        &[],
    );
    assert_eq!(from_guest(&mut e, &c, sack).0, GuestVerdict::Forward);
    assert_eq!(state(&e, &c), Some(FlowState::Active));
    assert_eq!(
        e.counters()
            .transition(Some(FlowState::UnexpectedSeq), Some(FlowState::Active)),
        1
    );
    let a = parse_ack(&deliver(&mut e, &c, &c.data(r0 + 400, 205, P), 256).unwrap());
    assert_eq!(a.ack, r0 + 500);
}

#[test]
fn unexpected_seq_resumes_at_the_end_of_the_run_seen_since() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 10_000);
    let r0 = c.r0();
    e.on_not_delivered(c.vif, &c.data(r0, 200, P), 1_000);
    for i in 1..4u32 {
        assert!(deliver(&mut e, &c, &c.data(r0 + 100 * i, 200 + i, P), 256).is_none());
    }
    assert!(deliver(&mut e, &c, &c.data(r0, 210, P), 256).is_none());
    // The guest has acknowledged up to the start of the run: resume, and the run
    // [r0+100, r0+400) plus new data is acknowledged cumulatively.
    assert_eq!(
        from_guest(&mut e, &c, c.gack(r0 + 100, 10_000, 61)).0,
        GuestVerdict::Forward
    );
    assert_eq!(state(&e, &c), Some(FlowState::Active));
    let a = parse_ack(&deliver(&mut e, &c, &c.data(r0 + 400, 211, P), 256).unwrap());
    assert_eq!(a.ack, r0 + 500);
}

#[test]
fn retransmission_and_reordering_hand_control_back() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 10_000);
    let r0 = c.r0();
    assert!(deliver(&mut e, &c, &c.data(r0, 200, P), 256).is_some());
    // Retransmission of acknowledged data.
    assert!(deliver(&mut e, &c, &c.data(r0, 201, P), 256).is_none());
    assert_eq!(state(&e, &c), Some(FlowState::UnexpectedSeq));
    // In-order data while UNEXPECTED: still not acked.
    assert!(deliver(&mut e, &c, &c.data(r0 + 100, 202, P), 256).is_none());
    // Guest catches up with vSnoop's point; resume at the end of what was delivered.
    assert_eq!(
        from_guest(&mut e, &c, c.gack(r0 + 100, 9975, 62)).0,
        GuestVerdict::Suppress
    );
    assert_eq!(state(&e, &c), Some(FlowState::Active));
    let a = parse_ack(&deliver(&mut e, &c, &c.data(r0 + 200, 203, P), 256).unwrap());
    assert_eq!(a.ack, r0 + 300);

    // Reordering: a later segment first.
    let c2 = Conn {
        rport: 40001,
        ..Conn::v4()
    };
    c2.establish(&mut e, 10_000);
    assert!(deliver(&mut e, &c2, &c2.data(c2.r0() + 100, 200, P), 256).is_none());
    assert_eq!(state(&e, &c2), Some(FlowState::UnexpectedSeq));
}

#[test]
fn fin_syn_rst_are_never_acked() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 10_000);
    let r0 = c.r0();
    // FIN with data, in order: the data is in the guest's buffers and is acked, the
    // FIN is not (the ACK stops at its sequence number); CLOSING for good.
    let fin = c.remote_seg_full(r0, c.g0(), ACK | FIN, 1000, Some((200, 1)), false, P);
    let ack = parse_ack(&deliver(&mut e, &c, &fin, 256).expect("data before the FIN"));
    assert_eq!(ack.ack, r0 + 100, "the ACK covers the data, never the FIN");
    assert_eq!(ack.flags.0 & (FIN | SYN | RST), 0);
    assert_eq!(state(&e, &c), Some(FlowState::Closing));
    // Its retransmission, a bare FIN and data after it: nothing.
    assert!(deliver(&mut e, &c, &fin, 256).is_none());
    let bare = c.remote_seg_full(
        r0 + 100,
        c.g0(),
        ACK | FIN,
        1000,
        Some((201, 1)),
        false,
        &[],
    );
    assert!(deliver(&mut e, &c, &bare, 256).is_none());
    assert!(deliver(&mut e, &c, &c.data(r0 + 100, 201, P), 256).is_none());
    assert_eq!(e.counters().rx_pass.control_flag, 2);
    // The guest's ACK of data + FIN passes; a guest pure ACK of the data alone would
    // be a duplicate of vSnoop's and is suppressed.
    let (v, _) = from_guest(&mut e, &c, c.gack(r0 + 100, ack.window, 60));
    assert_eq!(v, GuestVerdict::Suppress);
    let (v, _) = from_guest(&mut e, &c, c.gack(r0 + 101, ack.window, 61));
    assert_eq!(v, GuestVerdict::Forward);

    // A FIN with data out of order (a gap before it), and one in order while
    // NO-BUFFER: nothing acked, CLOSING.
    for (rport, offset, slots) in [(40001, 50, 256), (40004, 0, 2)] {
        let c = Conn {
            rport,
            ..Conn::v4()
        };
        c.establish(&mut e, 10_000);
        let seq = c.r0() + offset;
        let fin = c.remote_seg_full(seq, c.g0(), ACK | FIN, 1000, Some((200, 1)), false, P);
        assert!(deliver(&mut e, &c, &fin, slots).is_none());
        assert_eq!(state(&e, &c), Some(FlowState::Closing));
    }

    // RST: CLOSING too (the guest decides if it is acceptable).
    let c2 = Conn {
        rport: 40002,
        ..Conn::v4()
    };
    c2.establish(&mut e, 10_000);
    let rst = c2.remote_seg_full(c2.r0(), c2.g0(), ACK | RST, 0, Some((200, 1)), false, &[]);
    assert!(deliver(&mut e, &c2, &rst, 256).is_none());
    assert_eq!(state(&e, &c2), Some(FlowState::Closing));
    assert!(deliver(&mut e, &c2, &c2.data(c2.r0(), 201, P), 256).is_none());

    // SYN-ACK-like segment in an established flow: not acked.
    let c3 = Conn {
        rport: 40003,
        ..Conn::v4()
    };
    c3.establish(&mut e, 10_000);
    let syn = c3.remote_seg_full(c3.r0(), c3.g0(), SYN | ACK, 0, Some((200, 1)), false, P);
    assert!(deliver(&mut e, &c3, &syn, 256).is_none());
    // A bare SYN restarts the flow (new incarnation): not established, no ACKs.
    let syn = c3.remote_seg_full(c3.r_isn, 0, SYN, 64240, Some((300, 0)), true, &[]);
    assert!(deliver(&mut e, &c3, &syn, 256).is_none());
    assert_eq!(state(&e, &c3), Some(FlowState::SynSeen));
    assert!(deliver(&mut e, &c3, &c3.data(c3.r0(), 301, P), 256).is_none());
}

#[test]
fn no_early_acks_after_the_guest_sent_its_fin() {
    // The guest's FIN may mean its application closed the socket, and then its TCP
    // discards new data (and resets): vSnoop must not acknowledge that data.
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 10_000);
    let r0 = c.r0();
    assert!(deliver(&mut e, &c, &c.data(r0, 200, P), 256).is_some());
    let gfin = c.guest_seg_full(
        c.g0(),
        r0 + 100,
        ACK | FIN,
        9_000,
        Some((60, 200)),
        false,
        &[],
        &[],
    );
    let (v, _) = from_guest(&mut e, &c, gfin);
    assert_eq!(v, GuestVerdict::Forward);
    assert!(deliver(&mut e, &c, &c.data(r0 + 100, 201, P), 256).is_none());
    assert!(deliver(&mut e, &c, &c.data(r0 + 200, 202, P), 256).is_none());
    assert_eq!(e.counters().rx_pass.closing, 2);
    assert_eq!(e.counters().early_acks, 1);

    // The same when the guest's very first segment after the handshake is its FIN
    // (an application that accepts and closes at once).
    let c = Conn {
        rport: 40077,
        ..Conn::v4()
    };
    c.handshake_to_third_ack(&mut e);
    let gfin = c.guest_seg_full(
        c.g0(),
        c.r0(),
        ACK | FIN,
        9_000,
        Some((60, 101)),
        false,
        &[],
        &[],
    );
    assert_eq!(from_guest(&mut e, &c, gfin).0, GuestVerdict::Forward);
    assert_eq!(state(&e, &c), Some(FlowState::Active));
    assert!(deliver(&mut e, &c, &c.data(c.r0(), 200, P), 256).is_none());
    assert_eq!(e.counters().early_acks, 1);
}

#[test]
fn outstanding_flows_drain_once_switched_off() {
    // Quiescing before a ring teardown: with the engine off no new early ACK makes a
    // flow outstanding, and each flow stops counting when its guest catches up.
    let mut e = engine();
    let conns: Vec<Conn> = (0..3u16)
        .map(|i| Conn {
            rport: 41000 + i,
            ..Conn::v4()
        })
        .collect();
    for c in &conns {
        c.establish(&mut e, 10_000);
    }
    assert_eq!(e.outstanding_flows(), 0);
    for c in &conns[..2] {
        assert!(deliver(&mut e, c, &c.data(c.r0(), 200, P), 256).is_some());
    }
    assert_eq!(e.outstanding_flows(), 2);
    e.set_enabled(false);
    let c2 = &conns[2];
    assert!(deliver(&mut e, c2, &c2.data(c2.r0(), 200, P), 256).is_none());
    assert_eq!(e.outstanding_flows(), 2);
    let c0 = &conns[0];
    from_guest(&mut e, c0, c0.gack(c0.r0() + 100, 10_000, 60));
    assert_eq!(e.outstanding_flows(), 1);
    // A sender RST ends the obligation (the connection is gone) only at exactly the
    // next sequence number: Linux answers any other with a challenge ACK and keeps
    // the connection (RFC 5961).
    let c1 = &conns[1];
    let rst_at = |seq: u32, ts: u32| {
        c1.remote_seg_full(seq, c1.g0(), ACK | RST, 0, Some((ts, 1)), false, &[])
    };
    assert!(deliver(&mut e, c1, &rst_at(c1.r0() + 50, 201), 256).is_none());
    assert_eq!(state(&e, c1), Some(FlowState::Closing));
    assert_eq!(e.outstanding_flows(), 1);
    assert!(deliver(&mut e, c1, &rst_at(c1.r0() + 100, 202), 256).is_none());
    assert_eq!(e.outstanding_flows(), 0);
}

#[test]
fn idle_expiry_edge_cases() {
    // Timeout 0: every flow that may go goes at once.
    let mut e = Engine::new(Config {
        max_flows: 8,
        idle_timeout_ns: 0,
        ..Config::default()
    });
    let (c1, c2) = (
        Conn::v4(),
        Conn {
            rport: 2,
            ..Conn::v4()
        },
    );
    c1.establish(&mut e, 10_000);
    c2.establish(&mut e, 10_000);
    assert!(deliver(&mut e, &c2, &c2.data(c2.r0(), 200, P), 256).is_some());
    assert_eq!(e.expire_idle(1), 1);
    assert_eq!(state(&e, &c1), None);
    assert_eq!(state(&e, &c2), Some(FlowState::Active));
    // Calls further apart than an epoch (2^29 ns for a 1 s timeout) are counted.
    let mut e = Engine::new(Config {
        max_flows: 8,
        idle_timeout_ns: 1_000_000_000,
        ..Config::default()
    });
    for t in [0u64, 500_000_000, 1_000_000_000] {
        e.expire_idle(t);
    }
    assert_eq!(e.counters().expire_late, 0);
    e.expire_idle(5_000_000_000);
    assert_eq!(e.counters().expire_late, 1);
    // The largest timeout never expires anything.
    let mut e = Engine::new(Config {
        max_flows: 8,
        idle_timeout_ns: u64::MAX,
        ..Config::default()
    });
    c1.establish(&mut e, 10_000);
    for t in [0, 1 << 40, 1 << 62, u64::MAX] {
        assert_eq!(e.expire_idle(t), 0);
    }
}

#[test]
fn rst_during_handshake_removes_the_flow_and_guest_rst_removes_always() {
    let c = Conn::v4();
    let mut e = engine();
    let syn = c.remote_seg_full(c.r_isn, 0, SYN, 64240, Some((100, 0)), true, &[]);
    deliver(&mut e, &c, &syn, 256);
    let rst = c.remote_seg_full(c.r0(), 0, RST, 0, None, false, &[]);
    deliver(&mut e, &c, &rst, 256);
    assert_eq!(e.flow_count(), 0);
    assert_eq!(e.counters().transition(Some(FlowState::SynSeen), None), 1);

    c.establish(&mut e, 1000);
    let rst = c.guest_seg_full(c.g0(), c.r0(), RST | ACK, 0, None, false, &[], &[]);
    assert_eq!(from_guest(&mut e, &c, rst).0, GuestVerdict::Forward);
    assert_eq!(e.flow_count(), 0);
    assert_eq!(e.counters().removed_rst, 2);
}

#[test]
fn no_buffer_stops_early_acks_until_space_returns() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 10_000);
    let r0 = c.r0();
    assert!(deliver(&mut e, &c, &c.data(r0, 200, P), 7).is_none()); // threshold 8
    assert_eq!(state(&e, &c), Some(FlowState::NoBuffer));
    assert!(deliver(&mut e, &c, &c.data(r0 + 100, 201, P), 0).is_none());
    assert_eq!(e.counters().rx_pass.no_buffer, 2);
    // Space returns with the next delivery: one ACK covers everything delivered.
    let a = parse_ack(&deliver(&mut e, &c, &c.data(r0 + 200, 202, P), 8).unwrap());
    assert_eq!(a.ack, r0 + 300);
    // TS.Recent came from the first unacknowledged segment (RFC 7323 §4.3).
    assert_eq!(a.opts.timestamps.unwrap().1, 200);
    assert_eq!(state(&e, &c), Some(FlowState::Active));
    assert_eq!(
        e.counters()
            .transition(Some(FlowState::Active), Some(FlowState::NoBuffer)),
        1
    );
    assert_eq!(
        e.counters()
            .transition(Some(FlowState::NoBuffer), Some(FlowState::Active)),
        1
    );

    // on_rx_space leaves NO-BUFFER without a delivery.
    assert!(deliver(&mut e, &c, &c.data(r0 + 300, 203, P), 1).is_none());
    assert_eq!(state(&e, &c), Some(FlowState::NoBuffer));
    e.on_rx_space(c.vif, 3);
    assert_eq!(state(&e, &c), Some(FlowState::NoBuffer));
    e.on_rx_space(c.vif, 64);
    assert_eq!(state(&e, &c), Some(FlowState::Active));
    // The guest's ACK now moves the flow's own state too.
    from_guest(&mut e, &c, c.gack(r0 + 400, 10_000, 70));
    assert_eq!(
        e.counters()
            .transition(Some(FlowState::NoBuffer), Some(FlowState::Active)),
        2
    );
    assert_eq!(e.counters().vif_no_buffer_entered, 2);
}

#[test]
fn guest_pure_ack_at_or_below_the_ack_point_is_suppressed_but_its_dups_pass() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 1000);
    let r0 = c.r0();
    for i in 0..3u32 {
        assert!(deliver(&mut e, &c, &c.data(r0 + 100 * i, 200 + i, P), 256).is_some());
    }
    // ack_point r0+300, right edge r0+4000. Guest ACKs with the same right edge.
    let (v, _) = from_guest(&mut e, &c, c.gack(r0 + 100, 975, 60));
    assert_eq!(v, GuestVerdict::Suppress, "below ack point, nothing new");
    let (v, _) = from_guest(&mut e, &c, c.gack(r0 + 300, 925, 61));
    assert_eq!(
        v,
        GuestVerdict::Suppress,
        "equal to ack point: would be a dup"
    );
    // Guest's own duplicate of that ACK (e.g. signalling loss) passes untouched.
    let (v, f) = from_guest(&mut e, &c, c.gack(r0 + 300, 925, 62));
    assert_eq!(v, GuestVerdict::Forward);
    assert_eq!(parse_tcp_frame(&f).unwrap().ack, r0 + 300);
    assert_eq!(e.counters().guest_suppressed, 2);
    assert_eq!(e.flow_info(&c.key()).unwrap().counters.guest_suppressed, 2);
    // ACK beyond vSnoop's point: forwarded untouched.
    assert!(deliver(&mut e, &c, &c.data(r0 + 300, 203, P), 1).is_none()); // NO-BUFFER
    let (v, f) = from_guest(&mut e, &c, c.gack(r0 + 400, 900, 63));
    assert_eq!(v, GuestVerdict::Forward);
    assert_eq!(parse_tcp_frame(&f).unwrap().ack, r0 + 400);
}

#[test]
fn guest_window_update_below_the_ack_point_is_rewritten() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 1000); // right edge r0 + 4000
    let r0 = c.r0();
    for i in 0..3u32 {
        deliver(&mut e, &c, &c.data(r0 + 100 * i, 200 + i, P), 256).unwrap();
    }
    // Guest acks r0+100 and opens its window: right edge r0+100+1500*4 = r0+6100.
    let (v, f) = from_guest(&mut e, &c, c.gack(r0 + 100, 1500, 60));
    assert_eq!(v, GuestVerdict::Forward);
    let g = parse_tcp_frame(&f).unwrap();
    assert!(g.checksums_ok(&f), "checksum fixed incrementally");
    assert_eq!(g.ack, r0 + 300, "raised to vSnoop's ACK point");
    assert_eq!(g.window as u32, (r0 + 6100 - (r0 + 300)) >> 2);
    assert_eq!(g.opts.timestamps, Some((60, 1)), "rest untouched");
    assert_eq!(e.counters().guest_rewritten, 1);
    // Same again: now a duplicate of what the sender saw -> the guest's own dup, passes.
    let (v, _) = from_guest(&mut e, &c, c.gack(r0 + 100, 1500, 61));
    assert_eq!(v, GuestVerdict::Forward);
    // Guest advances its ACK with the same raw window: right edge moves, rewritten.
    let (v, f) = from_guest(&mut e, &c, c.gack(r0 + 200, 1500, 62));
    assert_eq!(v, GuestVerdict::Forward);
    let g = parse_tcp_frame(&f).unwrap();
    assert_eq!(
        (g.ack, g.window as u32),
        (r0 + 300, (r0 + 6200 - (r0 + 300)) >> 2)
    );
}

#[test]
fn rounding_never_creates_a_duplicate_from_a_window_update() {
    // Right edges that differ by less than 1 << wscale map to the same window field.
    let c = Conn {
        ws_guest: Some(7),
        ..Conn::v4()
    };
    let mut e = engine();
    c.establish(&mut e, 100); // right edge r0 + 12800
    let r0 = c.r0();
    deliver(&mut e, &c, &c.data(r0, 200, &[1; 10]), 256).unwrap(); // ack_point r0+10, wnd (12790)>>7 = 99
                                                                   // Guest ACK r0+5 with window 100: right edge r0+5+12800 -> (12795)>>7 = 99: same.
    assert_eq!(
        from_guest(&mut e, &c, c.gack(r0 + 5, 100, 60)).0,
        GuestVerdict::Suppress
    );
}

#[test]
fn guest_data_fin_sack_rst_pass_and_are_rewritten_when_below() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 1000);
    let r0 = c.r0();
    deliver(&mut e, &c, &c.data(r0, 200, P), 256).unwrap();
    let cases: Vec<Vec<u8>> = vec![
        c.guest_seg_full(
            c.g0(),
            r0,
            ACK | PSH,
            1000,
            Some((60, 1)),
            false,
            &[],
            b"response",
        ),
        c.guest_seg_full(
            c.g0() + 8,
            r0,
            ACK,
            1000,
            Some((61, 1)),
            false,
            &[(r0 + 50, r0 + 60)],
            &[],
        ),
        c.guest_seg_full(
            c.g0() + 8,
            r0,
            ACK | FIN,
            1000,
            Some((62, 1)),
            false,
            &[],
            &[],
        ),
    ];
    for f in cases {
        let (v, f) = from_guest(&mut e, &c, f);
        assert_eq!(v, GuestVerdict::Forward);
        let g = parse_tcp_frame(&f).unwrap();
        assert!(g.checksums_ok(&f));
        assert_eq!(g.ack, r0 + 100);
        assert_eq!(g.window as u32, (r0 + 4000 - (r0 + 100)) >> 2);
    }
    assert_eq!(e.counters().guest_rewritten, 3);
    let rst = c.guest_seg_full(c.g0() + 9, r0, ACK | RST, 0, None, false, &[], &[]);
    assert_eq!(from_guest(&mut e, &c, rst).0, GuestVerdict::Forward);
    assert_eq!(e.flow_count(), 0);
}

#[test]
fn partial_checksum_frames_are_rewritten_without_touching_the_checksum() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 1000);
    let r0 = c.r0();
    deliver(&mut e, &c, &c.data(r0, 200, P), 256).unwrap();
    let mut f = c.guest_seg_full(c.g0(), r0, ACK | PSH, 1000, Some((60, 1)), false, &[], b"x");
    let before = parse_tcp_frame(&f).unwrap();
    let csum_off = before.l4_off + 16;
    f[csum_off] = 0x12;
    f[csum_off + 1] = 0x34;
    assert_eq!(
        e.on_from_guest_with(c.vif, &mut f, TxChecksum::Partial, 0),
        GuestVerdict::Forward
    );
    assert_eq!((f[csum_off], f[csum_off + 1]), (0x12, 0x34));
    assert_eq!(parse_tcp_frame(&f).unwrap().ack, r0 + 100);
}

#[test]
fn timestamps_paws_and_tsecr() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 10_000);
    let r0 = c.r0();
    let a = parse_ack(&deliver(&mut e, &c, &c.data(r0, 500, P), 256).unwrap());
    assert_eq!(a.opts.timestamps, Some((51, 500)));
    // Guest sends a newer TSval in a segment: used as TSval from then on.
    from_guest(&mut e, &c, c.gack(r0 + 100, 10_000, 77));
    let a = parse_ack(&deliver(&mut e, &c, &c.data(r0 + 100, 501, P), 256).unwrap());
    assert_eq!(a.opts.timestamps, Some((77, 501)));
    // An older TSval would fail PAWS at the guest: not acked.
    assert!(deliver(&mut e, &c, &c.data(r0 + 200, 400, P), 256).is_none());
    assert_eq!(e.counters().rx_pass.timestamp, 1);
    // A segment without timestamps on a flow that negotiated them: not acked.
    let c2 = Conn {
        rport: 40009,
        ..Conn::v4()
    };
    c2.establish(&mut e, 10_000);
    let nots = c2.remote_seg_full(c2.r0(), c2.g0(), ACK, 1000, None, false, P);
    assert!(deliver(&mut e, &c2, &nots, 256).is_none());
    assert_eq!(e.counters().rx_pass.timestamp, 2);
}

#[test]
fn bad_checksum_is_not_acked_unless_trusted() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 10_000);
    let mut d = c.data(c.r0(), 200, P);
    let n = d.len();
    d[n - 1] ^= 0xff;
    assert!(deliver(&mut e, &c, &d, 256).is_none());
    assert_eq!(e.counters().rx_pass.bad_checksum, 1);
    let c2 = Conn {
        rport: 40010,
        ..Conn::v4()
    };
    c2.establish(&mut e, 10_000);
    let mut d = c2.data(c2.r0(), 200, P);
    let n = d.len();
    d[n - 1] ^= 0xff;
    let mut out = [0u8; ACK_FRAME_MAX];
    assert!(e
        .on_delivered_to_guest_with(c2.vif, &d, 256, RxChecksum::Trusted, 0, &mut out)
        .is_some());
}

#[test]
fn ack_of_unsent_data_urgent_and_ce_are_not_acked() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 10_000);
    let r0 = c.r0();
    let bad = c.remote_seg_full(r0, c.g0() + 10, ACK, 1000, Some((200, 1)), false, P);
    assert!(deliver(&mut e, &c, &bad, 256).is_none());
    assert_eq!(e.counters().rx_pass.bad_ack, 1);

    let c2 = Conn {
        rport: 40011,
        ..Conn::v4()
    };
    c2.establish(&mut e, 10_000);
    let urg = c2.remote_seg_full(c2.r0(), c2.g0(), ACK | 0x20, 1000, Some((200, 1)), false, P);
    assert!(deliver(&mut e, &c2, &urg, 256).is_none());
    assert_eq!(e.counters().rx_pass.unusual, 1);

    let c3 = Conn {
        rport: 40012,
        ..Conn::v4()
    };
    c3.establish(&mut e, 10_000);
    let mut ce = c3.data(c3.r0(), 200, P);
    // Set ECN CE in the IPv4 TOS and fix the header checksum.
    ce[15] |= 3;
    ce[24] = 0;
    ce[25] = 0;
    let hc = snoop::wire::checksum::checksum(&ce[14..34]);
    ce[24..26].copy_from_slice(&hc.to_be_bytes());
    assert!(deliver(&mut e, &c3, &ce, 256).is_none());
    assert_eq!(e.counters().rx_pass.ecn_ce, 1);
    // The next segment is acked cumulatively (the guest echoes ECE in its own ACKs,
    // which pass because ECE makes them significant).
    let a = parse_ack(&deliver(&mut e, &c3, &c3.data(c3.r0() + 100, 201, P), 256).unwrap());
    assert_eq!(a.ack, c3.r0() + 200);
    let ece = c3.guest_seg_full(
        c3.g0(),
        c3.r0() + 100,
        ACK | 0x40,
        2475,
        Some((60, 200)),
        false,
        &[],
        &[],
    );
    let (v, f) = from_guest(&mut e, &c3, ece);
    assert_eq!(v, GuestVerdict::Forward);
    assert_eq!(parse_tcp_frame(&f).unwrap().ack, c3.r0() + 200);
}

#[test]
fn global_and_per_flow_switches() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 10_000);
    let r0 = c.r0();
    deliver(&mut e, &c, &c.data(r0, 200, P), 256).unwrap();
    e.set_enabled(false);
    assert!(!e.is_enabled());
    assert!(deliver(&mut e, &c, &c.data(r0 + 100, 201, P), 256).is_none());
    assert_eq!(e.counters().rx_pass.disabled, 1);
    // The flow is still dirty (guest behind r0+100): its pure ACK is still filtered.
    assert_eq!(
        from_guest(&mut e, &c, c.gack(r0 + 100, 9975, 60)).0,
        GuestVerdict::Suppress
    );
    // Clean now: everything passes untouched.
    assert_eq!(
        from_guest(&mut e, &c, c.gack(r0 + 200, 9950, 61)).0,
        GuestVerdict::Forward
    );
    e.set_enabled(true);
    assert!(deliver(&mut e, &c, &c.data(r0 + 200, 202, P), 256).is_some());

    assert!(e.set_flow_enabled(&c.key(), false));
    assert!(!e.flow_info(&c.key()).unwrap().enabled);
    assert!(deliver(&mut e, &c, &c.data(r0 + 300, 203, P), 256).is_none());
    assert!(e.set_flow_enabled(&c.key(), true));
    assert!(deliver(&mut e, &c, &c.data(r0 + 400, 204, P), 256).is_some());
    assert!(!e.set_flow_enabled(
        &Conn {
            rport: 1,
            ..Conn::v4()
        }
        .key(),
        true
    ));
}

#[test]
fn active_open_by_the_guest() {
    let c = Conn::v6();
    let mut e = engine();
    let syn = c.guest_seg_full(c.g_isn, 0, SYN, 64800, Some((10, 0)), true, &[], &[]);
    assert_eq!(from_guest(&mut e, &c, syn).0, GuestVerdict::Forward);
    assert_eq!(state(&e, &c), Some(FlowState::GuestSynSent));
    let sa = c.remote_seg_full(
        c.r_isn,
        c.g0(),
        SYN | ACK,
        65000,
        Some((900, 10)),
        true,
        &[],
    );
    assert!(deliver(&mut e, &c, &sa, 256).is_none());
    assert_eq!(state(&e, &c), Some(FlowState::Establishing));
    from_guest(&mut e, &c, c.gack(c.r0(), 500, 11));
    assert_eq!(state(&e, &c), Some(FlowState::Active));
    let a = parse_ack(&deliver(&mut e, &c, &c.data(c.r0(), 901, P), 256).unwrap());
    assert_eq!(a.ack, c.r0() + 100);
    assert_eq!(a.window as u32, ((500u32 << 2) - 100) >> 2);
    assert_eq!(a.opts.timestamps, Some((11, 901)));
    assert_eq!(
        e.counters()
            .transition(Some(FlowState::GuestSynSent), Some(FlowState::Establishing)),
        1
    );
}

#[test]
fn table_full_eviction_idle_expiry_and_vif_reset() {
    let mut e = Engine::new(Config {
        max_flows: 2,
        idle_timeout_ns: 1_000_000_000,
        ..Config::default()
    });
    let c1 = Conn::v4();
    let c2 = Conn {
        rport: 2,
        ..Conn::v4()
    };
    let c3 = Conn {
        rport: 3,
        ..Conn::v4()
    };
    c1.establish(&mut e, 10_000);
    c2.establish(&mut e, 10_000);
    // Both dirty: nothing may be evicted, the new SYN is not tracked.
    deliver(&mut e, &c1, &c1.data(c1.r0(), 200, P), 256).unwrap();
    deliver(&mut e, &c2, &c2.data(c2.r0(), 200, P), 256).unwrap();
    let syn = c3.remote_seg_full(c3.r_isn, 0, SYN, 64240, Some((100, 0)), true, &[]);
    assert!(deliver(&mut e, &c3, &syn, 256).is_none());
    assert_eq!(e.counters().rx_pass.table_full, 1);
    assert_eq!(state(&e, &c3), None);
    // c1 becomes clean: it can be evicted for c3.
    from_guest(&mut e, &c1, c1.gack(c1.r0() + 100, 10_000, 60));
    assert!(deliver(&mut e, &c3, &syn, 256).is_none());
    assert_eq!(state(&e, &c3), Some(FlowState::SynSeen));
    assert_eq!(state(&e, &c1), None);
    assert_eq!(e.counters().evicted_full, 1);
    // A later guest ACK for the evicted flow just passes.
    assert_eq!(
        from_guest(&mut e, &c1, c1.gack(c1.r0() + 100, 10_000, 61)).0,
        GuestVerdict::Forward
    );
    // Idle expiry (1 s timeout: epochs of 2^29 ns, everything above was at t = 1 µs,
    // epoch 0): nothing goes before three epoch boundaries have passed (> 1 s idle);
    // then the half-open c3 goes, dirty c2 stays.
    assert_eq!(e.expire_idle(1_000_000_000), 0);
    assert_eq!(e.expire_idle(1_500_000_000), 0);
    assert_eq!(e.expire_idle(2_000_000_000), 1);
    assert_eq!(e.flow_count(), 1);
    assert_eq!(state(&e, &c2), Some(FlowState::Active));
    // vif reset forgets everything on that vif.
    assert_eq!(e.on_vif_reset(c2.vif), 1);
    assert_eq!(e.flow_count(), 0);
    assert_eq!(e.counters().removed_vif_reset, 1);
    assert_eq!(e.flows().count(), 0);
}

#[test]
fn ack_buffer_too_small_sends_nothing_and_loses_nothing() {
    let c = Conn::v4();
    let mut e = engine();
    c.establish(&mut e, 10_000);
    let mut small = [0u8; 40];
    assert!(e
        .on_delivered_to_guest(c.vif, &c.data(c.r0(), 200, P), 256, 0, &mut small)
        .is_none());
    assert_eq!(e.counters().rx_pass.ack_buffer_too_small, 1);
    assert_eq!(e.flow_info(&c.key()).unwrap().ack_point, c.r0());
    let a = parse_ack(&deliver(&mut e, &c, &c.data(c.r0() + 100, 201, P), 256).unwrap());
    assert_eq!(a.ack, c.r0() + 200);
}

#[test]
fn not_for_snoop_frames_pass_with_reasons() {
    let mut e = engine();
    let c = Conn::v4();
    let d = c.data(c.r0(), 1, P);
    let mut out = [0u8; ACK_FRAME_MAX];
    // ARP-like.
    let mut arp = d.clone();
    arp[12] = 0x08;
    arp[13] = 0x06;
    assert!(e.on_delivered_to_guest(1, &arp, 256, 0, &mut out).is_none());
    // Truncated.
    assert!(e
        .on_delivered_to_guest(1, &d[..30], 256, 0, &mut out)
        .is_none());
    // Fragment.
    let mut frag = d.clone();
    frag[20] = 0x20;
    assert!(e
        .on_delivered_to_guest(1, &frag, 256, 0, &mut out)
        .is_none());
    // UDP.
    let mut udp = d.clone();
    udp[23] = 17;
    assert!(e.on_delivered_to_guest(1, &udp, 256, 0, &mut out).is_none());
    let p = &e.counters().rx_pass;
    assert_eq!((p.not_ip, p.truncated, p.fragment, p.not_tcp), (1, 1, 1, 1));
    let mut g = arp.clone();
    assert_eq!(e.on_from_guest(1, &mut g, 0), GuestVerdict::Forward);
    assert_eq!(g, arp, "untouched");
    assert_eq!(e.counters().tx_pass.not_ip, 1);
    assert_eq!(e.counters().rx_pass.get(PassReason::NotIp), 1);
    let _ = IpVersion::V4;
}
