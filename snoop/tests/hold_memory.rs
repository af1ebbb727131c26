//! The handshake hold's memory and CPU under many flows or many tiny frames (a test
//! binary of its own: it counts live heap bytes with a global allocator).

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use common::*;

use snoop::{Config, Engine, ACK_FRAME_MAX};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::SeqCst);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::SeqCst);
        unsafe { System.dealloc(p, l) }
    }
}
#[global_allocator]
static A: Counting = Counting;

/// The live-heap count is process-wide: tests here run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

const RETRY: u64 = 200_000_000;
const P: &[u8] = &[0x5a; 100];

fn engine(hold_bytes: usize) -> Engine {
    Engine::new(Config {
        max_flows: 4096,
        hold_bytes,
        hold_retry_ns: RETRY,
        ..Config::default()
    })
}

fn deliver(e: &mut Engine, c: &Conn, frame: &[u8]) -> Option<Vec<u8>> {
    let mut out = [0u8; ACK_FRAME_MAX];
    e.on_delivered_to_guest(c.vif, frame, 256, 1_000, &mut out)
        .map(|n| out[..n].to_vec())
}

fn drain(e: &mut Engine, now: u64) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    e.poll_redeliver(now, &mut v);
    v.into_iter().map(|(_, f)| f).collect()
}

/// The hold charges each frame 64 bytes of bookkeeping, but a flow's VecDeque
/// never shrinks: a flow that held thousands of tiny frames and then had all but
/// the last acknowledged keeps the whole queue allocation while the budget shows
/// one frame. Repeated over flows, live memory grows far past `hold_bytes`.
#[test]
fn released_hold_memory_is_returned_or_charged() {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let budget = 1 << 20;
    let mut e = engine(budget);
    let base = LIVE.load(Ordering::SeqCst);
    for k in 0..16u16 {
        let mut c = Conn::v4();
        c.rport = 20_000 + k;
        c.ws_guest = Some(14);
        c.handshake_to_third_ack(&mut e);
        let mut n = 0u32;
        while n < 8_000 && deliver(&mut e, &c, &c.data(c.r0() + n, 102, &[1])).is_some() {
            n += 1;
        }
        assert!(n > 1000, "flow {k} held {n}");
        // The (hostile or just lossy) guest acknowledges all but the last byte.
        let mut ga = c.gack(c.r0() + n - 1, 1000, 60);
        e.on_from_guest(c.vif, &mut ga, 2_000);
        assert_eq!(e.hold_usage().0, k as usize + 1);
        if std::env::var_os("HOLD_MEM_TRACE").is_some() {
            eprintln!(
                "flow {k}: held {n}, live {}",
                LIVE.load(Ordering::SeqCst) - base
            );
        }
    }
    let (frames, bytes) = e.hold_usage();
    let live = LIVE.load(Ordering::SeqCst) - base;
    eprintln!("hold: {frames} frames, {bytes} budget bytes; live heap growth {live} B");
    assert!(
        (live as usize) < 2 * budget,
        "live heap {live} B for a {budget} B hold budget showing {bytes} B"
    );
}

/// Many flows given up in one round: each goes with a keyed removal (it used to be a
/// pass over every holding flow, O(n^2) for the round). Prints the round's time.
#[test]
fn many_flows_expiring_at_once_is_not_quadratic() {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let n: u16 = std::env::var("NFLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16384);
    let mut e = Engine::new(Config {
        max_flows: n as usize,
        hold_bytes: 64 << 20,
        hold_retry_ns: RETRY,
        ..Config::default()
    });
    for k in 0..n {
        let mut c = Conn::v4();
        c.rport = 1 + k;
        c.handshake_to_third_ack(&mut e);
        assert!(deliver(&mut e, &c, &c.data(c.r0(), 102, P)).is_some());
    }
    assert_eq!(e.hold_usage().0, n as usize);
    let mut last = std::time::Duration::ZERO;
    while let Some(t) = e.hold_next_due() {
        let s = std::time::Instant::now();
        drain(&mut e, t);
        last = s.elapsed();
    }
    eprintln!(
        "expiry round of {n} flows: {last:?}; flows left {}",
        e.flow_count()
    );
    assert_eq!(e.counters().hold_expired, n as u64);
}

/// Many flows holding one small frame each: the hold's budget covers what each
/// holding flow costs besides its frames (its queue and map entry), so live memory
/// stays within the budget however the bytes are spread over flows.
#[test]
fn many_holding_flows_stay_within_the_budget() {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let budget = 256 << 10;
    let mut e = Engine::new(Config {
        max_flows: 8192,
        hold_bytes: budget,
        hold_retry_ns: RETRY,
        ..Config::default()
    });
    let base = LIVE.load(Ordering::SeqCst);
    let mut held = 0;
    for k in 0..8000u16 {
        let mut c = Conn::v4();
        c.rport = 10_000 + k;
        c.handshake_to_third_ack(&mut e);
        if deliver(&mut e, &c, &c.data(c.r0(), 102, &[7])).is_some() {
            held += 1;
        }
    }
    let live = (LIVE.load(Ordering::SeqCst) - base) as usize;
    let (frames, charged) = e.hold_usage();
    eprintln!("hold: {held} flows of one frame, {charged} budget bytes; live heap growth {live} B");
    assert_eq!(frames, held);
    assert!(charged <= budget);
    assert!(held > 100, "{held}");
    assert!(
        live <= budget + budget / 10,
        "{held} flows holding one frame: {live} bytes live for a budget of {budget}"
    );
}
