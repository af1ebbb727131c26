//! Model-based property test of the handshake hold: a Linux-like listener whose
//! accept queue may be full (then it drops the third ACK and every segment after
//! it, and retransmits its SYN-ACK), a lossy, reordering network, netback delivery,
//! and the engine with a hold whose redeliveries the data path delivers. Checked:
//! early ACKs never beyond bytes delivered in order nor beyond the guest's window,
//! no duplicate ACK caused by vSnoop, and in the end every early-acked byte is in
//! the guest's TCP (once the accept queue frees, the redeliveries bring it there).

mod common;

use common::*;
use proptest::prelude::*;
use snoop::{Config, Engine, GuestVerdict, ACK_FRAME_MAX};

const RETRY: u64 = 1_000;

#[derive(Clone, Debug)]
enum Op {
    /// The sender sends new data (within its view of the window).
    Send(u16),
    /// The sender retransmits from SND.UNA.
    Retransmit(u16),
    /// Netback delivers queued frame `pick` (`slots` RX slots left).
    Deliver(u8, u8),
    /// The network loses queued frame `pick`.
    Lose(u8),
    /// The guest processes up to n frames of its ring.
    GuestRun(u8),
    /// The guest ACKs (established) or retransmits its SYN-ACK (not yet).
    GuestAck,
    /// The listener's accept queue fills up / frees.
    QueueFull(bool),
    /// The application reads.
    AppRead(u16),
    /// Time passes; due redeliveries are delivered (or lost).
    Tick(u16, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u16..=1400).prop_map(Op::Send),
        1 => (1u16..=1400).prop_map(Op::Retransmit),
        8 => (any::<u8>(), prop_oneof![4 => 8u8..=255, 1 => 0u8..=9]).prop_map(|(a, b)| Op::Deliver(a, b)),
        1 => any::<u8>().prop_map(Op::Lose),
        4 => (1u8..=4).prop_map(Op::GuestRun),
        3 => Just(Op::GuestAck),
        2 => any::<bool>().prop_map(Op::QueueFull),
        2 => any::<u16>().prop_map(Op::AppRead),
        2 => (any::<u16>(), any::<bool>()).prop_map(|(t, l)| Op::Tick(t, l)),
    ]
}

struct World {
    c: Conn,
    e: Engine,
    now: u64,
    ws: u8,
    buf: u32,
    // Sender.
    snd_una: u32,
    snd_nxt: u32,
    snd_wnd: u32,
    tsval: u32,
    /// The sender's view: (ack, window field) of the last ACK it took.
    last_ack: Option<(u32, u16)>,
    // Network and ring: frames with their payload range.
    net: Vec<(Vec<u8>, u32, u32)>,
    ring: Vec<(Vec<u8>, u32, u32)>,
    delivered: Vec<bool>,
    prefix: usize,
    // Guest.
    queue_full: bool,
    established: bool,
    g_rcv_nxt: u32,
    g_ooo: Vec<(u32, u32)>,
    g_unread: u32,
    g_ts: u32,
    g_right: u32,
    max_early_ack: Option<u32>,
}

impl World {
    fn new(ts: bool, buf: u32, ws: u8, r_isn: u32, defer: bool) -> World {
        let c = Conn {
            ts,
            ws_guest: Some(ws),
            r_isn,
            g_isn: r_isn ^ 0x1234_5678,
            ..Conn::v4()
        };
        let mut e = Engine::new(Config {
            max_flows: 8,
            hold_bytes: 64 * 1024,
            hold_retry_ns: RETRY,
            // Half the runs with deferred early ACKs (R12) once the socket is proven.
            ack_defer_ns: if defer { RETRY / 2 } else { 0 },
            ..Config::default()
        });
        // SYN, SYN-ACK (window 65160, unscaled), third ACK: ESTABLISHING.
        c.handshake_to_third_ack(&mut e);
        let r0 = c.r0();
        let ws = c.gws();
        World {
            now: 10,
            ws,
            buf,
            snd_una: r0,
            snd_nxt: r0,
            snd_wnd: 65160,
            tsval: 200,
            last_ack: None,
            net: Vec::new(),
            ring: Vec::new(),
            delivered: Vec::new(),
            prefix: 0,
            queue_full: false,
            established: false,
            g_rcv_nxt: r0,
            g_ooo: Vec::new(),
            g_unread: 0,
            g_ts: 60,
            g_right: r0.wrapping_add(65160),
            max_early_ack: None,
            c,
            e,
        }
    }

    fn seg(&mut self, seq: u32, len: u32) -> (Vec<u8>, u32, u32) {
        self.tsval += 1;
        let f = self.c.remote_seg_full(
            seq,
            self.c.g0(),
            ACK,
            1000,
            Some((self.tsval, 52)),
            false,
            &vec![0x77; len as usize],
        );
        (f, seq, seq.wrapping_add(len))
    }

    fn sender_takes(&mut self, ack: u32, window: u16, from_vsnoop: bool, pure: bool) {
        if pure && self.last_ack == Some((ack, window)) && ack == self.snd_una {
            assert!(!from_vsnoop, "duplicate ACK at the sender caused by vSnoop");
        }
        if le(self.snd_una, ack) {
            self.snd_una = ack;
            self.snd_wnd = (window as u32) << self.ws;
            self.last_ack = Some((ack, window));
        }
    }

    /// Netback puts `f` into the guest's ring and tells the engine.
    fn put_in_ring(&mut self, f: Vec<u8>, seq: u32, end: u32, slots: u32) {
        let mut out = [0u8; ACK_FRAME_MAX];
        let r = self
            .e
            .on_delivered_to_guest(self.c.vif, &f, slots, self.now, &mut out);
        let r0 = self.c.r0();
        let (a, b) = (seq.wrapping_sub(r0) as usize, end.wrapping_sub(r0) as usize);
        if self.delivered.len() < b {
            self.delivered.resize(b, false);
        }
        self.delivered[a..b].iter_mut().for_each(|x| *x = true);
        while self.prefix < self.delivered.len() && self.delivered[self.prefix] {
            self.prefix += 1;
        }
        self.ring.push((f, seq, end));
        if let Some(n) = r {
            assert!(slots >= 8, "early ACK while NO-BUFFER");
            self.check_early_ack(&out[..n]);
        }
    }

    /// An early ACK (at delivery or deferred) as it goes to the sender.
    fn check_early_ack(&mut self, frame: &[u8]) {
        let r0 = self.c.r0();
        {
            let a = parse_ack(frame);
            assert!(checksums_ok(frame));
            let acked = a.ack.wrapping_sub(r0) as usize;
            assert!(
                acked <= self.prefix,
                "early ACK {acked} beyond delivered prefix {}",
                self.prefix
            );
            let right = a.ack.wrapping_add((a.window as u32) << self.ws);
            assert!(
                le(right, self.g_right),
                "early ACK beyond the guest's right edge"
            );
            self.max_early_ack = Some(a.ack);
            self.sender_takes(a.ack, a.window, true, true);
        }
    }

    fn guest_run(&mut self, n: u8) {
        for _ in 0..n {
            if self.ring.is_empty() {
                return;
            }
            let (_, seq, end) = self.ring.remove(0);
            let r0 = self.c.r0();
            if !self.established {
                // A listener: a full accept queue drops the segment (third ACK or
                // data alike); otherwise the segment creates the socket.
                if self.queue_full {
                    continue;
                }
                self.established = true;
                self.g_rcv_nxt = r0;
            }
            let limit = self.g_rcv_nxt.wrapping_add(self.buf - self.g_unread);
            if !le(end, limit) || le(end, self.g_rcv_nxt) {
                continue;
            }
            if le(seq, self.g_rcv_nxt) {
                self.g_unread += end.wrapping_sub(self.g_rcv_nxt);
                self.g_rcv_nxt = end;
                loop {
                    let before = self.g_rcv_nxt;
                    let mut add = 0;
                    let cur = self.g_rcv_nxt;
                    let mut new = cur;
                    self.g_ooo.retain(|&(l, r)| {
                        if le(l, cur) {
                            if lt(new, r) {
                                add += r.wrapping_sub(new);
                                new = r;
                            }
                            false
                        } else {
                            true
                        }
                    });
                    self.g_rcv_nxt = new;
                    self.g_unread += add;
                    if self.g_rcv_nxt == before {
                        break;
                    }
                }
            } else {
                self.g_ooo.push((seq, end));
            }
        }
    }

    fn guest_ack(&mut self) {
        self.g_ts += 1;
        let mut f = if self.established {
            let wnd = ((self.buf - self.g_unread) >> self.ws).min(0xffff) as u16;
            let sack: Vec<(u32, u32)> = self.g_ooo.iter().take(3).copied().collect();
            self.g_right = self.g_rcv_nxt.wrapping_add((wnd as u32) << self.ws);
            self.c.guest_seg_full(
                self.c.g0(),
                self.g_rcv_nxt,
                ACK,
                wnd,
                Some((self.g_ts, 201)),
                false,
                &sack,
                &[],
            )
        } else {
            // SYN-ACK retransmission (same window as the first one).
            self.c.guest_seg_full(
                self.c.g_isn,
                self.c.r0(),
                SYN | ACK,
                65160,
                Some((self.g_ts, 100)),
                true,
                &[],
                &[],
            )
        };
        let syn = !self.established;
        let before = f.clone();
        let v = self.e.on_from_guest(self.c.vif, &mut f, self.now);
        if v == GuestVerdict::Suppress {
            assert!(!syn);
            return;
        }
        assert!(checksums_ok(&f));
        if !syn {
            let g = snoop::wire::parse_tcp_frame(&f).unwrap();
            let pure = self.g_ooo.is_empty();
            self.sender_takes(g.ack, g.window, f != before, pure);
        }
    }

    fn tick(&mut self, dt: u64, lose: bool) {
        self.now += dt;
        let mut out = [0u8; ACK_FRAME_MAX];
        while let Some((vif, n)) = self.e.poll_deferred_ack(self.now, &mut out) {
            assert_eq!(vif, self.c.vif);
            self.check_early_ack(&out[..n]);
        }
        let mut due = Vec::new();
        self.e.poll_redeliver(self.now, &mut due);
        for (vif, f) in due {
            assert_eq!(vif, self.c.vif);
            let p = snoop::wire::parse_tcp_frame(&f).unwrap();
            let (seq, end) = (p.seq, p.seq.wrapping_add(p.payload_len()));
            if lose {
                self.e.on_not_delivered(self.c.vif, &f, self.now);
            } else {
                let before = self.max_early_ack;
                self.put_in_ring(f, seq, end, 255);
                assert_eq!(
                    self.max_early_ack, before,
                    "a redelivery is never acked again"
                );
            }
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Send(len) => {
                let right = self.snd_una.wrapping_add(self.snd_wnd);
                let room = right.wrapping_sub(self.snd_nxt) as i32;
                if room <= 0 {
                    return;
                }
                let len = (len as u32).min(room as u32);
                let s = self.seg(self.snd_nxt, len);
                self.snd_nxt = self.snd_nxt.wrapping_add(len);
                self.net.push(s);
            }
            Op::Retransmit(len) => {
                let out = self.snd_nxt.wrapping_sub(self.snd_una);
                if out > 0 {
                    let s = self.seg(self.snd_una, (len as u32).min(out));
                    self.net.push(s);
                }
            }
            Op::Deliver(pick, slots) => {
                if !self.net.is_empty() {
                    let (f, a, b) = self.net.remove(pick as usize % self.net.len());
                    self.put_in_ring(f, a, b, slots as u32);
                }
            }
            Op::Lose(pick) => {
                if !self.net.is_empty() {
                    let (f, _, _) = self.net.remove(pick as usize % self.net.len());
                    self.e.on_not_delivered(self.c.vif, &f, self.now);
                }
            }
            Op::GuestRun(n) => self.guest_run(n),
            Op::GuestAck => self.guest_ack(),
            Op::QueueFull(b) => self.queue_full = b,
            Op::AppRead(n) => self.g_unread -= (n as u32).min(self.g_unread),
            Op::Tick(dt, lose) => self.tick(dt as u64, lose),
        }
    }

    fn finish(&mut self) {
        // The accept queue frees; the guest runs, ACKs; the hold redelivers what the
        // guest still lacks. Every early-acked byte must end up in the guest's TCP.
        self.queue_full = false;
        for _ in 0..40 {
            self.g_unread = 0;
            self.guest_run(255);
            self.guest_ack();
            match self.e.hold_next_due() {
                Some(t) => {
                    let dt = t.saturating_sub(self.now);
                    self.tick(dt, false);
                }
                None => break,
            }
        }
        assert_eq!(self.e.hold_usage(), (0, 0), "the hold drains");
        if let Some(a) = self.max_early_ack {
            assert!(
                le(a, self.g_rcv_nxt),
                "early-acked bytes never reached the guest's TCP"
            );
        }
        assert_eq!(self.e.outstanding_flows(), 0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::with_cases(10_000)
    })]

    /// A listener that may drop the handshake's data, with loss, reordering,
    /// retransmissions, RX-slot exhaustion and lost redeliveries.
    #[test]
    fn held_data_always_reaches_the_guest(
        ts in any::<bool>(),
        buf in 65_160u32..=200_000,
        ws in prop_oneof![Just(0u8), Just(2), Just(7)],
        r_isn in any::<u32>(),
        defer in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..100),
    ) {
        let mut w = World::new(ts, buf, ws, r_isn, defer);
        for o in &ops {
            w.step(o);
        }
        w.finish();
    }
}
