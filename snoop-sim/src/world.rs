//! The simulated world: sender host, links, driver domain (vSnoop), the receiver VM and the
//! VMs it shares its core with, all driven by one event queue.

use std::fmt;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::{RecvError, State};
use smoltcp::time::Duration;

use crate::config::SimConfig;
use crate::dd::{DdStats, DriverDomain};
use crate::frame::{GUEST_MAC, SENDER_MAC};
use crate::host::{addrs, Host, Role};
use crate::link::{Link, LinkStats};
use crate::pattern::Pattern;
use crate::rng::{derive, Rng};
use crate::sched::CreditSched;
use crate::time::{EventQueue, Nanos, MS, US};

/// The receiver VM's vCPU index in the scheduler.
pub const RECV: usize = 0;
/// TCP port the receiver VM's sink listens on.
pub const SINK_PORT: u16 = 5001;

enum Ev {
    /// A frame reaches the driver domain from the sender.
    ToDd(Vec<u8>),
    /// A frame reaches the sender host.
    ToSender(Vec<u8>),
    SenderTimer(Nanos),
    GuestTimer(Nanos),
    /// The running receiver VM handles its pending network work.
    GuestIrq,
    Tick,
    Acct,
    Slice(u64),
    /// VM `v`'s load switches between busy and idle.
    Load(usize),
    /// A deferred early ACK may be due.
    AckDue,
}

/// Why a transfer failed.
#[derive(Debug, Clone)]
pub enum SimError {
    /// Data arrived wrong, short, or long.
    Data(String),
    /// Invariant violations seen by the monitor.
    Invariant(Vec<String>),
    /// The transfer did not finish in `max_transfer_ns`.
    Stall(String),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Data(s) => write!(f, "data error: {s}"),
            SimError::Invariant(v) => write!(f, "invariant violations: {v:#?}"),
            SimError::Stall(s) => write!(f, "stall: {s}"),
        }
    }
}
impl std::error::Error for SimError {}

/// Measurements of one transfer.
#[derive(Clone, Debug)]
pub struct TransferResult {
    pub size: u64,
    /// connect() → every data byte acknowledged at the sender.
    pub t_acked_ns: Nanos,
    /// connect() → the receiver application has read every byte and the EOF.
    pub t_eof_ns: Nanos,
    /// connect() → the sender saw the SYN-ACK (connection established at the sender).
    pub t_established_ns: Nanos,
    /// connect() → the receiver's socket is established (the guest processed the third
    /// ACK: where a receiving application's accept() returns).
    pub t_accepted_ns: Nanos,
    /// The receiver VM's scheduler state when the SYN reached the driver domain.
    pub syn_sched: SynSched,
    pub early_acks: u64,
    pub suppressed: u64,
    pub rewritten: u64,
    pub dd_drops: u64,
    pub backlogged: u64,
    pub link_lost: u64,
    pub min_free_slots: u32,
    pub frames_to_guest: u64,
    pub guest_frames: u64,
}

/// The receiver VM's scheduler state when the SYN is delivered to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynSched {
    /// Running on the pCPU.
    Running,
    /// Runnable, waiting for the pCPU (its load's busy phase): no boost possible.
    Waiting,
    /// Blocked with priority UNDER: the wake-up is boosted.
    BlockedUnder,
    /// Blocked with priority OVER: no boost, queued behind UNDER vCPUs.
    BlockedOver,
}

impl TransferResult {
    /// Sender-side throughput (Mbit/s): size / time until all data acknowledged.
    pub fn mbps_acked(&self) -> f64 {
        self.size as f64 * 8.0 * 1e3 / self.t_acked_ns as f64
    }
    /// Receiver-side throughput (Mbit/s): size / time until the receiver read EOF.
    pub fn mbps_eof(&self) -> f64 {
        self.size as f64 * 8.0 * 1e3 / self.t_eof_ns as f64
    }
    /// Receiver-side throughput from accept() (Mbit/s): size / (receiver socket established
    /// -> receiver read EOF), the way a receiving application times a transfer it accepted
    /// (connection set-up excluded). Buffered data read in one go can exceed the link rate.
    pub fn mbps_accept_eof(&self) -> f64 {
        self.size as f64 * 8.0 * 1e3 / (self.t_eof_ns - self.t_accepted_ns).max(1) as f64
    }
    /// Data-phase throughput (Mbit/s): size / (all data ACKed - established), i.e. without
    /// the handshake, which only the guest can answer.
    pub fn mbps_data_phase(&self) -> f64 {
        self.size as f64 * 8.0 * 1e3 / (self.t_acked_ns - self.t_established_ns).max(1) as f64
    }
}

struct Transfer {
    size: u64,
    pattern: Pattern,
    port: u16,
    start: Nanos,
    snd: SocketHandle,
    rcv: SocketHandle,
    written: u64,
    established_at: Option<Nanos>,
    accepted_at: Option<Nanos>,
    syn_sched: Option<SynSched>,
    tx_closed: bool,
    acked_at: Option<Nanos>,
    received: u64,
    eof_at: Option<Nanos>,
    delack_on: bool,
    error: Option<String>,
}

pub struct World {
    pub cfg: SimConfig,
    now: Nanos,
    q: EventQueue<Ev>,
    sender: Host,
    guest: Host,
    fwd: Link,
    rev: Link,
    pub dd: DriverDomain,
    pub sched: CreditSched,
    load_busy: Vec<bool>,
    rng: Rng,
    sender_timer: Option<Nanos>,
    /// Time of the queued `Ev::AckDue`, if any.
    ack_due: Option<Nanos>,
    guest_timer: Option<Nanos>,
    guest_timer_due: bool,
    guest_irq_pending: bool,
    last_current: Option<usize>,
    cur: Option<Transfer>,
    next_port: u16,
    out: Vec<Vec<u8>>,
    seed: u64,
    transfers: u64,
    /// Print a trace of scheduling and network events to stderr (debugging aid).
    pub trace: bool,
}

impl World {
    pub fn new(cfg: SimConfig, seed: u64) -> Self {
        let mut engine_cfg = cfg.engine.clone();
        engine_cfg.enabled = cfg.snoop;
        let n = cfg.n_vcpus();
        let mut w = World {
            now: 0,
            q: EventQueue::new(),
            sender: Host::new(
                Role::Sender,
                cfg.ipv6,
                SENDER_MAC,
                GUEST_MAC,
                derive(seed, 1),
            ),
            guest: Host::new(
                Role::Receiver,
                cfg.ipv6,
                GUEST_MAC,
                SENDER_MAC,
                derive(seed, 2),
            ),
            fwd: Link::new(cfg.fwd.clone(), derive(seed, 3)),
            rev: Link::new(cfg.rev.clone(), derive(seed, 4)),
            dd: DriverDomain::new(cfg.dd.clone(), engine_cfg),
            sched: CreditSched::new(cfg.sched.clone(), n),
            load_busy: vec![false; n],
            rng: Rng::new(derive(seed, 5)),
            sender_timer: None,
            ack_due: None,
            guest_timer: None,
            guest_timer_due: false,
            guest_irq_pending: false,
            last_current: None,
            cur: None,
            next_port: 40000 + (derive(seed, 6) % 20000) as u16,
            out: Vec::new(),
            seed,
            transfers: 0,
            trace: false,
            cfg,
        };
        w.q.push(w.cfg.sched.tick_ns, Ev::Tick);
        w.q.push(w.cfg.sched.tslice_ns, Ev::Acct);
        let period = w.cfg.load_busy_ns + w.cfg.load_idle_ns;
        for v in 0..n {
            let phase = w.rng.below(period);
            if phase < w.cfg.load_busy_ns {
                w.load_busy[v] = true;
                w.sched.wake(v, 0);
                w.after_sched();
                w.q.push(w.cfg.load_busy_ns - phase, Ev::Load(v));
            } else {
                w.q.push(period - phase, Ev::Load(v));
            }
        }
        w
    }

    pub fn now(&self) -> Nanos {
        self.now
    }

    pub fn link_stats(&self) -> (LinkStats, LinkStats) {
        (self.fwd.stats.clone(), self.rev.stats.clone())
    }

    /// Runs events until simulated time `t`.
    pub fn run_until(&mut self, t: Nanos) {
        while let Some(at) = self.q.peek_time() {
            if at > t {
                break;
            }
            let (at, ev) = self.q.pop().unwrap();
            self.now = at;
            self.handle(ev);
        }
        self.now = self.now.max(t);
    }

    /// Waits a random time in [0, `max_gap`) (randomizes the phase w.r.t. the scheduler).
    pub fn idle_random(&mut self, max_gap: Nanos) {
        let gap = self.rng.below(max_gap.max(1));
        self.run_until(self.now + gap);
    }

    /// One transfer: connect, write `size` bytes, close; the receiver reads to EOF and closes.
    pub fn run_transfer(&mut self, size: u64) -> Result<TransferResult, SimError> {
        let (_, rcv_addr, _) = addrs(self.cfg.ipv6);
        let port = self.next_port;
        self.next_port = if self.next_port >= 65000 {
            40000
        } else {
            self.next_port + 1
        };
        self.transfers += 1;
        let dd0 = self.dd.stats.clone();
        let lost0 = self.fwd.stats.lost + self.rev.stats.lost;

        // The sink is already listening (no CPU needed to create the socket).
        let mut ls = self.guest.new_tcp_socket(self.cfg.rx_buf, 4096);
        ls.set_ack_delay(None); // quick-ACK phase, see `guest_app`
        ls.listen(SINK_PORT).expect("listen");
        let rcv = self.guest.add(ls);
        let mut ss = self.sender.new_tcp_socket(4096, self.cfg.tx_buf);
        ss.set_ack_delay(Some(Duration::from_micros(self.cfg.delack_ns / US)));
        ss.connect(self.sender.iface.context(), (rcv_addr, SINK_PORT), port)
            .expect("connect");
        let snd = self.sender.add(ss);
        self.cur = Some(Transfer {
            size,
            pattern: Pattern::new(derive(self.seed, 1000 + self.transfers)),
            port,
            start: self.now,
            snd,
            rcv,
            written: 0,
            established_at: None,
            accepted_at: None,
            syn_sched: None,
            tx_closed: false,
            acked_at: None,
            received: 0,
            eof_at: None,
            delack_on: false,
            error: None,
        });
        self.sender_run();

        let deadline = self.now + self.cfg.max_transfer_ns;
        loop {
            if self.transfer_done() {
                break;
            }
            if let Some(e) = self.cur.as_ref().unwrap().error.clone() {
                return Err(SimError::Data(e));
            }
            if !self.dd.monitor.violations.is_empty() {
                return Err(SimError::Invariant(self.dd.monitor.violations.clone()));
            }
            let Some((at, ev)) = self.q.pop() else {
                return Err(SimError::Stall("event queue empty".into()));
            };
            if at > deadline {
                self.q.push(at, ev);
                return Err(SimError::Stall(self.describe()));
            }
            self.now = at;
            self.handle(ev);
        }
        let t = self.cur.take().unwrap();
        if !self.dd.monitor.violations.is_empty() {
            return Err(SimError::Invariant(self.dd.monitor.violations.clone()));
        }
        if let Some(e) = t.error {
            return Err(SimError::Data(e));
        }
        self.sender.sockets.remove(t.snd);
        self.guest.sockets.remove(t.rcv);
        self.dd.monitor.forget(t.port);
        let s = &self.dd.stats;
        Ok(TransferResult {
            size,
            t_acked_ns: t.acked_at.unwrap() - t.start,
            t_eof_ns: t.eof_at.unwrap() - t.start,
            t_established_ns: t.established_at.unwrap() - t.start,
            t_accepted_ns: t.accepted_at.unwrap_or(t.eof_at.unwrap()) - t.start,
            syn_sched: t.syn_sched.unwrap_or(SynSched::Running),
            early_acks: s.early_acks - dd0.early_acks,
            suppressed: s.suppressed - dd0.suppressed,
            rewritten: s.rewritten - dd0.rewritten,
            dd_drops: s.dropped - dd0.dropped,
            backlogged: s.backlogged - dd0.backlogged,
            link_lost: self.fwd.stats.lost + self.rev.stats.lost - lost0,
            min_free_slots: s.min_free_slots,
            frames_to_guest: s.delivered - dd0.delivered,
            guest_frames: s.guest_frames - dd0.guest_frames,
        })
    }

    fn transfer_done(&mut self) -> bool {
        let Some(t) = self.cur.as_ref() else {
            return true;
        };
        if t.acked_at.is_none() || t.eof_at.is_none() {
            return false;
        }
        let (snd, rcv) = (t.snd, t.rcv);
        let rs = self.guest.tcp(rcv).state();
        let ss = self.sender.tcp(snd).state();
        rs == State::Closed && matches!(ss, State::TimeWait | State::Closed)
    }

    fn describe(&mut self) -> String {
        let Some(t) = self.cur.as_ref() else {
            return String::new();
        };
        let (snd, rcv) = (t.snd, t.rcv);
        let s = format!(
            "size={} written={} acked_at={:?} received={} eof_at={:?} start={} now={} \
             sender_state={} send_queue={} guest_state={} recv_queue={} posted={} ring={} \
             backlog={} running={:?} recv_runnable={} dd={:?}",
            t.size,
            t.written,
            t.acked_at,
            t.received,
            t.eof_at,
            t.start,
            self.now,
            self.sender.tcp(snd).state(),
            self.sender.tcp(snd).send_queue(),
            self.guest.tcp(rcv).state(),
            self.guest.tcp(rcv).recv_queue(),
            self.dd.posted(),
            self.dd.ring_pending(),
            self.dd.backlog_frames(),
            self.sched.current(),
            self.sched.is_runnable(RECV),
            self.dd.stats,
        );
        s
    }

    fn handle(&mut self, ev: Ev) {
        self.dispatch(ev);
        // A deferred early ACK queued by this event gets its timer.
        if let Some(d) = self.dd.engine.ack_next_due() {
            if self.ack_due.is_none_or(|t| t > d) {
                self.ack_due = Some(d);
                self.q.push(d.max(self.now), Ev::AckDue);
            }
        }
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::AckDue => {
                self.ack_due = None;
                let mut out = std::mem::take(&mut self.out);
                self.dd.send_deferred_acks(self.now, &mut out);
                self.send_to_sender(&mut out);
                self.out = out;
            }
            Ev::ToDd(frame) => {
                self.note_syn(&frame);
                let mut out = std::mem::take(&mut self.out);
                let info = if self.trace {
                    crate::frame::parse_tcp(&frame)
                } else {
                    None
                };
                let delivered = self.dd.from_network(self.now, frame, &mut out);
                if let Some(t) = info {
                    eprintln!(
                        "{:>12} dd <- flags {:#x} seq {} len {} {} free {} early-acks {}",
                        self.now,
                        t.flags,
                        t.seq,
                        t.payload_len,
                        if delivered {
                            "delivered"
                        } else {
                            "queued/dropped"
                        },
                        self.dd.posted(),
                        out.len()
                    );
                }
                self.send_to_sender(&mut out);
                self.out = out;
                if delivered {
                    self.guest_has_work();
                }
            }
            Ev::ToSender(frame) => {
                if self.trace {
                    if let Some(t) = crate::frame::parse_tcp(&frame) {
                        eprintln!(
                            "{:>12} sender <- flags {:#x} ack {}",
                            self.now, t.flags, t.ack
                        );
                    }
                }
                self.sender.dev.rx.push_back(frame);
                self.sender_run();
            }
            Ev::SenderTimer(t) => {
                if self.sender_timer == Some(t) {
                    self.sender_timer = None;
                    self.sender_run();
                }
            }
            Ev::GuestTimer(t) => {
                if self.guest_timer == Some(t) {
                    self.guest_timer = None;
                    self.guest_timer_due = true;
                    self.guest_has_work();
                }
            }
            Ev::GuestIrq => {
                self.guest_irq_pending = false;
                if self.sched.current() == Some(RECV) {
                    self.guest_run();
                }
            }
            Ev::Tick => {
                self.sched.tick(self.now);
                self.q.push(self.now + self.cfg.sched.tick_ns, Ev::Tick);
                let mut out = std::mem::take(&mut self.out);
                let delivered = self.dd.redeliver(self.now, &mut out);
                self.send_to_sender(&mut out);
                self.out = out;
                if delivered {
                    self.guest_has_work();
                }
                self.after_sched();
            }
            Ev::Acct => {
                self.sched.acct(self.now);
                self.q.push(self.now + self.cfg.sched.tslice_ns, Ev::Acct);
                self.after_sched();
            }
            Ev::Slice(gen) => {
                self.sched.slice_timer(gen, self.now);
                self.after_sched();
            }
            Ev::Load(v) => {
                let busy = !self.load_busy[v];
                self.load_busy[v] = busy;
                let len = if busy {
                    self.cfg.load_busy_ns
                } else {
                    self.cfg.load_idle_ns
                };
                self.q.push(self.now + len, Ev::Load(v));
                if busy {
                    self.sched.wake(v, self.now);
                } else if v != RECV || !self.guest_pending_work() {
                    self.sched.block(v, self.now);
                }
                self.after_sched();
            }
        }
    }

    /// Records the receiver's scheduler state when the transfer's SYN arrives.
    fn note_syn(&mut self, frame: &[u8]) {
        let Some(t) = self.cur.as_mut() else { return };
        if t.syn_sched.is_some() {
            return;
        }
        let Some(p) = crate::frame::parse_tcp(frame) else {
            return;
        };
        if p.flags & 0x12 != 0x02 {
            return;
        }
        t.syn_sched = Some(if self.sched.current() == Some(RECV) {
            SynSched::Running
        } else if self.sched.is_runnable(RECV) {
            SynSched::Waiting
        } else if self.sched.pri(RECV) == crate::sched::Pri::Over {
            SynSched::BlockedOver
        } else {
            SynSched::BlockedUnder
        });
    }

    /// Handles scheduler outputs: the slice timer and a switch to the receiver VM.
    fn after_sched(&mut self) {
        if let Some((at, gen)) = self.sched.timer_req.take() {
            self.q.push(at, Ev::Slice(gen));
        }
        let cur = self.sched.current();
        if cur != self.last_current {
            if self.trace {
                eprintln!(
                    "{:>12} sched: {:?} -> {:?} (recv pri {:?} credit {})",
                    self.now,
                    self.last_current,
                    cur,
                    self.sched.pri(RECV),
                    self.sched.credit(RECV)
                );
            }
            self.last_current = cur;
            if cur == Some(RECV) && self.guest_pending_work() {
                self.raise_guest_irq();
            }
        }
    }

    fn guest_pending_work(&self) -> bool {
        self.dd.ring_pending() > 0 || self.guest_timer_due
    }

    fn raise_guest_irq(&mut self) {
        if !self.guest_irq_pending {
            self.guest_irq_pending = true;
            self.q
                .push(self.now + self.cfg.guest_latency_ns, Ev::GuestIrq);
        }
    }

    /// An event for the receiver VM (frame delivered, guest timer due).
    fn guest_has_work(&mut self) {
        if self.sched.current() == Some(RECV) {
            self.raise_guest_irq();
        } else if !self.sched.is_runnable(RECV) {
            self.sched.wake(RECV, self.now);
            self.after_sched();
        }
        // Runnable but waiting for the pCPU: handled when it is scheduled.
    }

    fn send_to_sender(&mut self, frames: &mut Vec<Vec<u8>>) {
        for f in frames.drain(..) {
            if let Some(at) = self.rev.transmit(self.now, f.len()) {
                self.q.push(at, Ev::ToSender(f));
            }
        }
    }

    fn sender_run(&mut self) {
        let now = self.now;
        loop {
            self.sender.poll(now);
            if !self.sender_app() {
                break;
            }
        }
        for f in self.sender.dev.tx.drain(..) {
            if let Some(at) = self.fwd.transmit(now, f.len()) {
                self.q.push(at, Ev::ToDd(f));
            }
        }
        if let Some(t) = self.sender.poll_at(now) {
            let t = t.max(now + US);
            if self.sender_timer.is_none_or(|old| t < old || old <= now) {
                self.sender_timer = Some(t);
                self.q.push(t, Ev::SenderTimer(t));
            }
        }
    }

    /// The sending application. Returns true if it changed the socket (poll again).
    fn sender_app(&mut self) -> bool {
        let now = self.now;
        let Some(t) = self.cur.as_mut() else {
            return false;
        };
        let s = self
            .sender
            .sockets
            .get_mut::<smoltcp::socket::tcp::Socket>(t.snd);
        let mut changed = false;
        if t.established_at.is_none() && s.state() != State::SynSent {
            t.established_at = Some(now);
        }
        if s.may_send() && t.written < t.size {
            let (pattern, written, size) = (t.pattern, t.written, t.size);
            let n = s
                .send(|buf| {
                    let k = buf.len().min((size - written) as usize);
                    pattern.fill(written, &mut buf[..k]);
                    (k, k)
                })
                .unwrap_or(0);
            if n > 0 {
                t.written += n as u64;
                changed = true;
            }
        }
        if t.written == t.size && !t.tx_closed && s.may_send() {
            s.close();
            t.tx_closed = true;
            changed = true;
        }
        if t.tx_closed && t.acked_at.is_none() && s.send_queue() == 0 {
            t.acked_at = Some(now);
        }
        changed
    }

    /// The receiver VM runs its network stack and the sink application.
    fn guest_run(&mut self) {
        let now = self.now;
        let mut out = std::mem::take(&mut self.out);
        // netfront's NAPI poll: each frame through the stack (per-packet ACK decisions).
        let frames = self.dd.guest_take_ring();
        if self.trace {
            eprintln!("{:>12} guest runs: {} frames", now, frames.len());
        }
        for f in frames {
            self.guest.dev.rx.push_back(f);
            self.guest.poll(now);
            for g in self.guest.dev.tx.drain(..) {
                self.dd.from_guest(now, g, &mut out);
            }
        }
        self.guest_timer_due = false;
        self.guest.poll(now);
        self.guest_app();
        self.guest.poll(now);
        for g in self.guest.dev.tx.drain(..) {
            self.dd.from_guest(now, g, &mut out);
        }
        // Refill the RX ring; the backlog drains into the new buffers.
        let more = self.dd.guest_repost(now, &mut out);
        self.send_to_sender(&mut out);
        self.out = out;
        if more {
            self.raise_guest_irq();
        }
        if let Some(t) = self.guest.poll_at(now) {
            let t = t.max(now + US);
            if self.guest_timer.is_none_or(|old| t < old || old <= now) {
                self.guest_timer = Some(t);
                self.q.push(t, Ev::GuestTimer(t));
            }
        }
        if !self.load_busy[RECV] && !self.guest_pending_work() && !self.guest_irq_pending {
            self.sched.block(RECV, now);
            self.after_sched();
        }
    }

    /// The sink: read everything available, verify it, close after EOF.
    fn guest_app(&mut self) {
        let now = self.now;
        let mss = if self.cfg.ipv6 { 1428 } else { 1448 };
        let quick_bytes = self.cfg.quickack_segments * mss;
        let delack = Duration::from_micros(self.cfg.delack_ns / US);
        let Some(t) = self.cur.as_mut() else { return };
        let s = self
            .guest
            .sockets
            .get_mut::<smoltcp::socket::tcp::Socket>(t.rcv);
        if t.accepted_at.is_none() && !matches!(s.state(), State::Listen | State::SynReceived) {
            t.accepted_at = Some(now);
        }
        loop {
            let (pattern, received) = (t.pattern, t.received);
            match s.recv(|buf| (buf.len(), (buf.len(), pattern.check(received, buf)))) {
                Ok((0, _)) => break,
                Ok((n, bad)) => {
                    if let Some(i) = bad {
                        t.error.get_or_insert(format!(
                            "corrupted byte at offset {} (transfer of {} bytes)",
                            received + i as u64,
                            t.size
                        ));
                    }
                    t.received += n as u64;
                    if t.received > t.size {
                        t.error
                            .get_or_insert(format!("received {} > {} bytes", t.received, t.size));
                    }
                }
                Err(RecvError::Finished) => {
                    if t.eof_at.is_none() {
                        t.eof_at = Some(now);
                        if t.received != t.size {
                            t.error.get_or_insert(format!(
                                "EOF after {} of {} bytes",
                                t.received, t.size
                            ));
                        }
                        s.close();
                    }
                    break;
                }
                Err(RecvError::InvalidState) => break,
            }
        }
        if !t.delack_on && t.received >= quick_bytes {
            t.delack_on = true;
            s.set_ack_delay(Some(delack));
        }
    }

    /// Current `DdStats` (cumulative over the world's life).
    pub fn dd_stats(&self) -> DdStats {
        self.dd.stats.clone()
    }
}

/// Runs one independent sample: a fresh world (seeded), scheduler warm-up plus a random phase,
/// then one transfer of `size` bytes.
pub fn run_sample(cfg: &SimConfig, size: u64, seed: u64) -> Result<TransferResult, SimError> {
    let mut w = World::new(cfg.clone(), seed);
    let warm = cfg.warmup_ns;
    w.run_until(warm);
    w.idle_random(cfg.load_busy_ns + cfg.load_idle_ns);
    w.run_transfer(size)
}

/// Milliseconds as f64 (reporting helper).
pub fn ms(t: Nanos) -> f64 {
    t as f64 / MS as f64
}
