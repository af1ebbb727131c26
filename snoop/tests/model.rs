//! Model-based property test: a sender, a lossy/reordering network, the netback
//! (delivery or drop, RX slots), a model guest TCP receiver and the engine between
//! them. Every early ACK and every guest segment that reaches the sender is checked
//! against the invariants of docs/snoop.md.

mod common;

use common::*;
use proptest::prelude::*;
use snoop::wire::parse_tcp_frame;
use snoop::{Config, Engine, GuestVerdict, ACK_FRAME_MAX};

const MIN_SLOTS: u32 = 8;

#[derive(Clone, Debug)]
enum Op {
    /// Sender sends new data (up to its view of the window; a 1-byte probe if closed).
    Send(u16),
    /// Sender sends its last data (possibly none) with a FIN: it sends no new data
    /// afterwards, and retransmissions that reach the end carry the FIN again.
    Close(u16),
    /// Sender retransmits from SND.UNA + offset.
    Retransmit(u16, u16),
    /// Sender sends a pure ACK (or window update) for guest data.
    SenderAck,
    /// Netback delivers the queued frame `pick` with `slots` RX slots left.
    Deliver(u8, u8),
    /// Netback drops the queued frame `pick`.
    Drop(u8),
    /// The network duplicates the queued frame `pick`.
    Duplicate(u8),
    /// The guest processes up to n frames of its RX ring.
    GuestRun(u8),
    /// The guest sends an ACK (with SACK blocks if it has out-of-order data).
    GuestAck,
    /// The guest repeats its last ACK exactly.
    GuestDupAck,
    /// The guest sends data.
    GuestData(u8),
    /// The guest's application closes the socket: the guest sends its FIN and
    /// discards (does not accept) any data that arrives afterwards.
    GuestClose,
    /// The guest application reads bytes, opening the window.
    AppRead(u16),
    /// The guest posts RX buffers.
    RxSpace(u8),
    /// Time passes: deferred early ACKs that are due go out (R12).
    Tick,
}

fn slots() -> impl Strategy<Value = u8> {
    prop_oneof![3 => 8u8..=255, 1 => 0u8..=9]
}

/// Operations of the guest, the application and the netback's RX ring.
fn guest_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        120 => (1u8..=6).prop_map(Op::GuestRun),
        120 => Just(Op::GuestAck),
        40 => Just(Op::GuestDupAck),
        40 => (1u8..=60).prop_map(Op::GuestData),
        80 => any::<u16>().prop_map(Op::AppRead),
        40 => any::<u8>().prop_map(Op::RxSpace),
        // Rare: after it nothing is early-acked any more.
        1 => Just(Op::GuestClose),
        // With deferred early ACKs: the guest's segments race the due time.
        60 => Just(Op::Tick),
    ]
}

/// New data, and now and then (one in 80) the sender's last data with its FIN:
/// rare, so that most runs keep a long stream going.
fn send_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        79 => (1u16..=400).prop_map(Op::Send),
        1 => (0u16..=400).prop_map(Op::Close),
    ]
}

/// Operations; `chaos` = the network reorders, drops, duplicates and the sender
/// retransmits often; otherwise delivery is in order and lossless.
fn op(chaos: bool) -> BoxedStrategy<Op> {
    if chaos {
        prop_oneof![
            6 => send_op(),
            1 => (any::<u16>(), 1u16..=400).prop_map(|(a, b)| Op::Retransmit(a, b)),
            1 => Just(Op::SenderAck),
            8 => (any::<u8>(), slots()).prop_map(|(a, b)| Op::Deliver(a, b)),
            1 => any::<u8>().prop_map(Op::Drop),
            1 => any::<u8>().prop_map(Op::Duplicate),
            11 => guest_op(),
        ]
        .boxed()
    } else {
        prop_oneof![
            6 => send_op(),
            1 => Just(Op::SenderAck),
            8 => slots().prop_map(|b| Op::Deliver(0, b)),
            11 => guest_op(),
        ]
        .boxed()
    }
}

#[derive(Clone, Copy, Debug)]
struct Seg {
    seq: u32,
    len: u32,
    tsval: u32,
    ack: u32,
    /// The segment carries the sender's FIN after its data.
    fin: bool,
    /// Delivered to the ring after the guest's application closed the socket.
    late: bool,
}

#[derive(Clone, Debug)]
struct Setup {
    v6: bool,
    vlan: bool,
    ts: bool,
    sack: bool,
    ws_remote: bool,
    ws_guest: u8,
    buf: u32,
    r_isn: u32,
    /// Deferred early ACKs (R12) on.
    defer: bool,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![4 => Just(true), 1 => Just(false)],
        prop_oneof![Just(0u8), Just(1), Just(2), Just(3), Just(7), Just(14)],
        1_000u32..=60_000,
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(
            |(v6, vlan, ts, sack, ws_remote, ws_guest, buf, r_isn, defer)| Setup {
                v6,
                vlan,
                ts,
                sack,
                ws_remote,
                ws_guest,
                buf,
                r_isn,
                defer,
            },
        )
}

struct World {
    c: Conn,
    e: Engine,
    defer: bool,
    ws: u8,
    // Sender.
    snd_una: u32,
    snd_nxt: u32,
    snd_wnd: u16,
    sender_saw_ack: bool,
    ts_clock: u32,
    sender_rcv_nxt: u32,
    /// Sequence number of the sender's FIN (the end of its data), once it closed.
    snd_fin: Option<u32>,
    // Network and ring.
    net: Vec<Seg>,
    ring: Vec<Seg>,
    /// delivered[i]: byte r0+i was delivered to the guest's ring.
    delivered: Vec<bool>,
    delivered_prefix: usize,
    // Guest.
    g_rcv_nxt: u32,
    g_ooo: Vec<(u32, u32)>,
    g_unread: u32,
    g_buf: u32,
    g_snd_nxt: u32,
    g_ts: u32,
    g_last: Option<(u32, u16)>,
    g_right: u32,
    /// The guest's TCP accepted the sender's FIN.
    g_fin_rcvd: bool,
    /// The guest's application closed the socket (guest FIN or RST sent): new data
    /// is discarded.
    g_closed: bool,
    /// The guest reset the connection: it sends nothing more.
    g_reset: bool,
    // What the sender has been told (model of vSnoop's obligations).
    last_ack_sent: u32,
    ts_recent: u32,
    ts_max: u32,
    max_early_ack: Option<u32>,
}

impl World {
    fn new(s: &Setup) -> World {
        let mut c = if s.v6 { Conn::v6() } else { Conn::v4() };
        c.vlan = if s.vlan { Some(0x0123) } else { None };
        c.ts = s.ts;
        c.sack = s.sack;
        c.ws_remote = if s.ws_remote { Some(7) } else { None };
        c.ws_guest = Some(s.ws_guest);
        c.r_isn = s.r_isn;
        c.g_isn = s.r_isn ^ 0x5555_aaaa;
        let ws = c.gws();
        let mut e = Engine::new(Config {
            max_flows: 8,
            min_free_rx_slots: MIN_SLOTS,
            // Model time stands at 0 until a `Tick` (time 1): everything queued is due.
            ack_defer_ns: s.defer as u64,
            ..Config::default()
        });
        // Handshake (timestamps: sender 100/101, guest 50/51 as in Conn::establish).
        let wnd0 = (s.buf >> ws).min(0xffff) as u16;
        c.establish(&mut e, wnd0);
        let r0 = c.r0();
        World {
            ws,
            snd_una: r0,
            snd_nxt: r0,
            snd_wnd: wnd0,
            sender_saw_ack: true,
            ts_clock: 1000,
            sender_rcv_nxt: c.g0(),
            snd_fin: None,
            net: Vec::new(),
            ring: Vec::new(),
            delivered: Vec::new(),
            delivered_prefix: 0,
            g_rcv_nxt: r0,
            g_ooo: Vec::new(),
            g_unread: 0,
            g_buf: s.buf,
            g_snd_nxt: c.g0(),
            g_ts: 51,
            g_last: Some((r0, wnd0)),
            g_right: r0.wrapping_add((wnd0 as u32) << ws),
            g_fin_rcvd: false,
            g_closed: false,
            g_reset: false,
            last_ack_sent: r0,
            ts_recent: 101,
            ts_max: 101,
            max_early_ack: None,
            c,
            e,
            defer: s.defer,
        }
    }

    fn r0(&self) -> u32 {
        self.c.r0()
    }

    fn frame(&self, s: &Seg) -> Vec<u8> {
        self.c.remote_seg_full(
            s.seq,
            s.ack,
            if s.fin { ACK | FIN } else { ACK },
            1000,
            Some((s.tsval, 1)),
            false,
            &vec![0x33; s.len as usize],
        )
    }

    fn next_ts(&mut self) -> u32 {
        self.ts_clock += 1;
        self.ts_clock
    }

    fn sender_right(&self) -> u32 {
        self.snd_una.wrapping_add((self.snd_wnd as u32) << self.ws)
    }

    /// A segment reaches the sender. `guest_own_dup`: a guest pure ACK with the same
    /// ack and window as the guest's previous segment, forwarded untouched.
    fn sender_receives(
        &mut self,
        f: &snoop::wire::TcpFrame,
        guest_own_dup: bool,
        from_vsnoop: bool,
    ) {
        let pure =
            f.payload_len() == 0 && f.flags.0 & (SYN | FIN | RST) == 0 && f.opts.sack_blocks == 0;
        let is_dup =
            self.sender_saw_ack && pure && f.ack == self.snd_una && f.window == self.snd_wnd;
        if is_dup {
            assert!(
                !from_vsnoop && guest_own_dup,
                "duplicate ACK at the sender caused by vSnoop: ack {} wnd {} (early ACK: {from_vsnoop})",
                f.ack,
                f.window
            );
        }
        if lt(self.snd_una, f.ack) {
            self.snd_una = f.ack;
            self.snd_wnd = f.window;
        } else if f.ack == self.snd_una {
            self.snd_wnd = f.window;
        }
        if lt(self.last_ack_sent, f.ack) {
            self.last_ack_sent = f.ack;
        }
        let end = f.seq.wrapping_add(f.payload_len());
        if lt(self.sender_rcv_nxt, end) {
            self.sender_rcv_nxt = end;
        }
    }

    fn mark_delivered(&mut self, s: &Seg) {
        let off = s.seq.wrapping_sub(self.r0()) as usize;
        let end = off + s.len as usize;
        if self.delivered.len() < end {
            self.delivered.resize(end, false);
        }
        for b in &mut self.delivered[off..end] {
            *b = true;
        }
        while self.delivered_prefix < self.delivered.len() && self.delivered[self.delivered_prefix]
        {
            self.delivered_prefix += 1;
        }
    }

    fn deliver(&mut self, pick: u8, slots: u8) {
        if self.net.is_empty() {
            return;
        }
        let s = self.net.remove(pick as usize % self.net.len());
        let frame = self.frame(&s);
        let mut out = [0u8; ACK_FRAME_MAX];
        // R12: while a deferred ACK is pending, TS.Recent stays at the TSval of the
        // first segment it covers.
        let pending = self
            .e
            .flow_info(&self.c.key())
            .is_some_and(|i| i.ack_pending);
        // The deferred-ACK queue holds max_flows entries; full, an ACK goes at once.
        let queue_full = self.e.deferred_len() >= 8;
        let r = self
            .e
            .on_delivered_to_guest(self.c.vif, &frame, slots as u32, 0, &mut out);
        // Whether the guest's application had closed its socket is decided here, when
        // the frame reaches the ring, not when the guest's TCP processes it: a close
        // in between (the application closes while frames wait in the ring) makes
        // Linux discard them too, after vSnoop may have acknowledged them. vSnoop
        // cannot see that coming; it is the same outcome as an application closing
        // with data its TCP already acknowledged (the sender gets an RST either way).
        // docs/snoop.md, "Known limits".
        self.ring.push(Seg {
            late: self.g_closed,
            ..s
        });
        self.mark_delivered(&s);
        // Model TS.Recent (RFC 7323 §4.3) over acceptable delivered segments.
        let end = s.seq.wrapping_add(s.len);
        if self.c.ts && le(end, self.g_right) && le(self.ts_max, s.tsval) {
            if !pending && le(s.seq, self.last_ack_sent) && le(self.ts_recent, s.tsval) {
                self.ts_recent = s.tsval;
            }
            self.ts_max = s.tsval;
        } else if self.c.ts && lt(self.ts_max, s.tsval) && le(end, self.g_right) {
            self.ts_max = s.tsval;
        }
        let Some(n) = r else {
            return;
        };
        assert!(
            !self.defer || queue_full,
            "early ACK at delivery although deferred"
        );
        assert!(slots as u32 >= MIN_SLOTS, "early ACK while NO-BUFFER");
        assert!(s.len > 0);
        self.check_early_ack(&out[..n]);
    }

    /// Time 1: every deferred early ACK is due.
    fn tick(&mut self) {
        let mut out = [0u8; ACK_FRAME_MAX];
        while let Some((vif, n)) = self.e.poll_deferred_ack(1, &mut out) {
            assert!(self.defer, "deferred ACK without a delay configured");
            assert_eq!(vif, self.c.vif);
            self.check_early_ack(&out[..n]);
        }
    }

    /// Every invariant an early ACK must meet at the moment it goes to the sender.
    fn check_early_ack(&mut self, frame: &[u8]) {
        let a = parse_ack(frame);
        // Never an ACK beyond bytes delivered in order.
        let acked = a.ack.wrapping_sub(self.r0()) as usize;
        assert!(
            acked <= self.delivered_prefix,
            "early ACK {acked} beyond delivered prefix {}",
            self.delivered_prefix
        );
        // Right edge: never beyond the guest's, exactly rounded down.
        assert!(
            le(a.ack, self.g_right),
            "early ACK beyond the guest's right edge"
        );
        let expect = (self.g_right.wrapping_sub(a.ack) >> self.ws).min(0xffff) as u16;
        assert_eq!(a.window, expect, "window scaling");
        // Addressing and sequence.
        assert_eq!(
            (a.src, a.dst, a.src_port, a.dst_port),
            (self.c.guest, self.c.remote, self.c.gport, self.c.rport)
        );
        assert_eq!(a.vlan_tci, self.c.vlan);
        assert_eq!(a.seq, self.g_snd_nxt);
        if self.c.ts {
            let (tsval, tsecr) = a.opts.timestamps.expect("timestamps negotiated");
            assert_eq!(tsval, self.g_ts, "TSval = guest's latest");
            assert_eq!(tsecr, self.ts_recent, "TSecr = TS.Recent");
        } else {
            assert!(a.opts.timestamps.is_none());
        }
        self.max_early_ack = Some(a.ack);
        self.sender_receives(&a, false, true);
    }

    fn guest_run(&mut self, n: u8) {
        for _ in 0..n {
            if self.ring.is_empty() {
                return;
            }
            let s = self.ring.remove(0);
            let end = s.seq.wrapping_add(s.len);
            if s.late && s.len > 0 && lt(self.g_rcv_nxt, end) {
                // New data for a socket its application closed: discarded (Linux
                // answers it with an RST).
                continue;
            }
            if self.g_fin_rcvd {
                continue; // nothing new after the FIN
            }
            let free = self.g_buf - self.g_unread;
            let limit = self.g_rcv_nxt.wrapping_add(free);
            if !le(end, limit) {
                continue; // beyond the window: dropped
            }
            if le(s.seq, self.g_rcv_nxt) && lt(self.g_rcv_nxt, end) {
                let new = end.wrapping_sub(self.g_rcv_nxt);
                self.g_rcv_nxt = end;
                self.g_unread += new;
                // Pull in out-of-order data now contiguous.
                loop {
                    let mut progressed = false;
                    self.g_ooo.retain(|&(l, r)| {
                        if le(l, self.g_rcv_nxt) {
                            if lt(self.g_rcv_nxt, r) {
                                self.g_unread += r.wrapping_sub(self.g_rcv_nxt);
                                self.g_rcv_nxt = r;
                                progressed = true;
                            }
                            false
                        } else {
                            true
                        }
                    });
                    if !progressed {
                        break;
                    }
                }
                if s.fin && self.g_rcv_nxt == end {
                    self.g_rcv_nxt = end.wrapping_add(1);
                    self.g_fin_rcvd = true;
                }
            } else if s.fin && s.len == 0 && s.seq == self.g_rcv_nxt {
                self.g_rcv_nxt = end.wrapping_add(1);
                self.g_fin_rcvd = true;
            } else if lt(self.g_rcv_nxt, s.seq) {
                // Out of order: the data is kept, a FIN on it is not (the sender
                // retransmits it).
                self.g_ooo.push((s.seq, end));
            }
        }
    }

    fn guest_send(&mut self, ack: u32, wnd: u16, sack: &[(u32, u32)], payload_len: u8) {
        self.guest_send_flags(ack, wnd, sack, payload_len, 0)
    }

    fn guest_send_flags(
        &mut self,
        ack: u32,
        wnd: u16,
        sack: &[(u32, u32)],
        payload_len: u8,
        extra: u8,
    ) {
        let fin = extra & FIN != 0;
        self.g_reset |= extra & RST != 0;
        self.g_ts += 1;
        let payload = vec![0x44; payload_len as usize];
        let mut f = self.c.guest_seg_full(
            self.g_snd_nxt,
            ack,
            ACK | extra,
            wnd,
            Some((self.g_ts, self.ts_recent)),
            false,
            sack,
            &payload,
        );
        let own_dup =
            payload_len == 0 && extra == 0 && sack.is_empty() && self.g_last == Some((ack, wnd));
        self.g_snd_nxt = self.g_snd_nxt.wrapping_add(payload_len as u32 + fin as u32);
        let seg_right = ack.wrapping_add((wnd as u32) << self.ws);
        let stale = self.g_last.is_some_and(|(a, _)| lt(ack, a));
        if !stale {
            self.g_last = Some((ack, wnd));
            self.g_right = seg_right;
        }
        let before = f.clone();
        let v = self.e.on_from_guest(self.c.vif, &mut f, 0);
        if v == GuestVerdict::Suppress {
            assert!(
                payload_len == 0 && sack.is_empty() && extra == 0,
                "only pure ACKs may be suppressed"
            );
            return;
        }
        assert!(
            checksums_ok(&f),
            "forwarded guest frame has valid checksums"
        );
        let g = parse_tcp_frame(&f).unwrap();
        let untouched = f == before;
        if !untouched {
            assert!(lt(ack, g.ack), "rewrite only raises the ACK");
            if self.defer {
                // A rewrite may carry a deferred early ACK the sender has not seen.
                let acked = g.ack.wrapping_sub(self.r0()) as usize;
                assert!(
                    acked <= self.delivered_prefix,
                    "rewrite beyond the delivered prefix"
                );
                if self.max_early_ack.is_none_or(|m| lt(m, g.ack)) {
                    self.max_early_ack = Some(g.ack);
                }
            } else {
                assert!(
                    le(g.ack, self.last_ack_sent),
                    "rewrite up to vSnoop's ACK point only"
                );
            }
            let rewritten_right = g.ack.wrapping_add((g.window as u32) << self.ws);
            assert!(
                le(rewritten_right, seg_right) || g.window == 0,
                "rewritten right edge beyond the guest's"
            );
            assert_eq!(g.payload_len(), payload_len as u32);
        }
        self.sender_receives(&g, own_dup && untouched, false);
    }

    fn guest_ack(&mut self) {
        let free = self.g_buf - self.g_unread;
        let wnd = (free >> self.ws).min(0xffff) as u16;
        let mut blocks: Vec<(u32, u32)> = Vec::new();
        if self.c.sack {
            for &(l, r) in self.g_ooo.iter().rev().take(3) {
                blocks.push((l, r));
            }
        }
        let ack = self.g_rcv_nxt;
        self.guest_send(ack, wnd, &blocks, 0);
    }

    /// A sender segment of `len` data bytes from `seq`; it carries the FIN when it
    /// reaches the end of a closed sender's data.
    fn sender_seg(&mut self, seq: u32, len: u32) -> Seg {
        let tsval = self.next_ts();
        let fin = self.snd_fin == Some(seq.wrapping_add(len));
        Seg {
            seq,
            len,
            tsval,
            ack: self.sender_rcv_nxt,
            fin,
            late: false,
        }
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Send(_) if self.snd_fin.is_some() => {}
            Op::Close(_) if self.snd_fin.is_some() => {}
            Op::Send(len) | Op::Close(len) => {
                let closing = matches!(op, Op::Close(_));
                let right = self.sender_right();
                let room = right.wrapping_sub(self.snd_nxt) as i32;
                let len = if room > 0 {
                    (len as u32).min(room as u32)
                } else {
                    (!closing) as u32
                };
                let seq = self.snd_nxt;
                self.snd_nxt = seq.wrapping_add(len);
                if closing {
                    self.snd_fin = Some(self.snd_nxt);
                }
                let s = self.sender_seg(seq, len);
                if closing {
                    self.snd_nxt = self.snd_nxt.wrapping_add(1);
                }
                self.net.push(s);
            }
            Op::Retransmit(off, len) => {
                let data_end = self.snd_fin.unwrap_or(self.snd_nxt);
                if !lt(self.snd_una, self.snd_nxt) {
                    return;
                }
                let out = if lt(self.snd_una, data_end) {
                    data_end.wrapping_sub(self.snd_una)
                } else {
                    0
                };
                let s = if out == 0 {
                    // Only the FIN is outstanding.
                    self.sender_seg(data_end, 0)
                } else {
                    let off = off as u32 % out;
                    let len = (len as u32).min(out - off);
                    self.sender_seg(self.snd_una.wrapping_add(off), len)
                };
                self.net.push(s);
            }
            Op::SenderAck => {
                let tsval = self.next_ts();
                self.net.push(Seg {
                    seq: self.snd_nxt,
                    len: 0,
                    tsval,
                    ack: self.sender_rcv_nxt,
                    fin: false,
                    late: false,
                });
            }
            Op::Deliver(pick, slots) => self.deliver(pick, slots),
            Op::Drop(pick) => {
                if !self.net.is_empty() {
                    let s = self.net.remove(pick as usize % self.net.len());
                    let f = self.frame(&s);
                    self.e.on_not_delivered(self.c.vif, &f, 0);
                }
            }
            Op::Duplicate(pick) => {
                if !self.net.is_empty() {
                    let s = self.net[pick as usize % self.net.len()];
                    self.net.push(s);
                }
            }
            Op::GuestRun(n) => self.guest_run(n),
            Op::GuestAck | Op::GuestDupAck if self.g_reset => {}
            Op::GuestAck => self.guest_ack(),
            Op::GuestDupAck => {
                if let Some((a, w)) = self.g_last {
                    self.guest_send(a, w, &[], 0);
                }
            }
            Op::GuestData(_) if self.g_closed => {}
            Op::GuestData(n) => {
                let free = self.g_buf - self.g_unread;
                let wnd = (free >> self.ws).min(0xffff) as u16;
                self.guest_send(self.g_rcv_nxt, wnd, &[], n);
            }
            Op::GuestClose => {
                if !self.g_closed {
                    self.g_closed = true;
                    let free = self.g_buf - self.g_unread;
                    let wnd = (free >> self.ws).min(0xffff) as u16;
                    // Linux resets a connection closed with unread data, else FINs.
                    let how = if self.g_unread > 0 { RST } else { FIN };
                    self.guest_send_flags(self.g_rcv_nxt, wnd, &[], 0, how);
                }
            }
            Op::AppRead(n) => self.g_unread -= (n as u32).min(self.g_unread),
            Op::RxSpace(s) => self.e.on_rx_space(self.c.vif, s as u32),
            Op::Tick => self.tick(),
        }
    }

    fn finish(&mut self) {
        self.tick();
        // Drain the ring (opening the window as needed): every byte vSnoop
        // acknowledged must end up accepted by the guest.
        while !self.ring.is_empty() {
            self.g_unread = 0;
            self.guest_run(255);
        }
        if let Some(a) = self.max_early_ack {
            assert!(
                le(a, self.g_rcv_nxt),
                "early-acked bytes never reached the guest's TCP"
            );
        }
        if std::env::var_os("SNOOP_MODEL_STATS").is_some() {
            let k = self.e.counters();
            eprintln!(
                "STATS acks={} supp={} rew={} fwd={} unexp={} nobuf={} oow={} ts={} deferred={} by_guest={} sent={}",
                k.early_acks,
                k.guest_suppressed,
                k.guest_rewritten,
                k.guest_forwarded,
                k.rx_pass.unexpected_seq,
                k.rx_pass.no_buffer,
                k.rx_pass.out_of_window,
                k.rx_pass.timestamp,
                k.acks_deferred,
                k.deferred_by_guest,
                k.deferred_sent
            );
        }
    }
}

fn run(s: &Setup, ops: &[Op]) {
    let mut w = World::new(s);
    for o in ops {
        w.step(o);
    }
    w.finish();
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        // XorShift: the default ChaCha RNG dominates run time in debug builds.
        rng_algorithm: proptest::test_runner::RngAlgorithm::XorShift,
        ..ProptestConfig::with_cases(10_000)
    })]

    /// Random sequences of sends, retransmissions, loss, reordering, duplication,
    /// delivery failures, RX-slot exhaustion, guest ACK timings, window changes and
    /// guest data, checked against every invariant.
    #[test]
    fn engine_keeps_tcp_semantics_under_chaos(s in setup(), ops in proptest::collection::vec(op(true), 1..120)) {
        run(&s, &ops);
    }

    /// Mostly in-order delivery (the common case: long ACTIVE runs, many early ACKs
    /// and guest ACKs to filter), with buffer exhaustion and guest timing.
    #[test]
    fn engine_keeps_tcp_semantics_in_order(s in setup(), ops in proptest::collection::vec(op(false), 1..120)) {
        run(&s, &ops);
    }
}
