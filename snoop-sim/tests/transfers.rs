//! Every transfer arrives byte-exact (data verified by the receiving application against the
//! deterministic pattern; `run_transfer` fails on any corrupted, missing or extra byte, on any
//! monitor invariant violation and on a stall), with vSnoop off and on.

mod common;

use common::must;
use snoop_sim::time::MS;
use snoop_sim::{SimConfig, World};

const SIZES: &[u64] = &[1, 1448, 1449, 50_000, 100_000, 250_000, 1_000_000];

#[test]
fn byte_exact_shared_core_off_and_on() {
    for snoop in [false, true] {
        let cfg = SimConfig::shared(snoop);
        for &size in SIZES {
            for seed in 0..3 {
                let r = must(&cfg, size, seed);
                assert_eq!(r.size, size);
                if !snoop {
                    assert_eq!(r.early_acks, 0);
                    assert_eq!(r.suppressed, 0);
                }
            }
        }
    }
}

#[test]
fn byte_exact_dedicated_core_off_and_on() {
    for snoop in [false, true] {
        let cfg = SimConfig::dedicated(snoop);
        for &size in SIZES {
            must(&cfg, size, 7);
        }
    }
}

#[test]
fn byte_exact_ipv6() {
    for snoop in [false, true] {
        let mut cfg = SimConfig::shared(snoop);
        cfg.ipv6 = true;
        for &size in &[1000, 100_000, 1_000_000] {
            for seed in 0..2 {
                must(&cfg, size, seed);
            }
        }
    }
}

/// Random loss in both directions and reordering of data frames: gaps, out-of-order data and
/// retransmissions reach the engine; the data must still arrive byte-exact.
#[test]
fn byte_exact_with_loss_and_reordering() {
    for snoop in [false, true] {
        for (loss, reorder) in [(0.01, 0.0), (0.0, 0.03), (0.01, 0.02)] {
            let cfg = SimConfig::shared(snoop).with_impairments(loss, reorder);
            for &size in &[20_000, 100_000, 500_000] {
                for seed in 0..3 {
                    must(&cfg, size, 100 + seed);
                }
            }
        }
    }
}

/// A small RX ring and backlog: the ring runs dry while the VM is descheduled (NO-BUFFER), the
/// backlog overflows and frames are dropped in the driver domain (`on_not_delivered`).
#[test]
fn byte_exact_with_small_ring_and_backlog_drops() {
    let mut drops = 0;
    for snoop in [false, true] {
        let mut cfg = SimConfig::shared(snoop);
        cfg.dd.rx_target = 24;
        cfg.dd.backlog_bytes = 16 * 1514;
        for &size in &[100_000, 1_000_000] {
            for seed in 0..3 {
                drops += must(&cfg, size, 200 + seed).dd_drops;
            }
        }
    }
    assert!(
        drops > 0,
        "the scenario should make the driver domain drop frames"
    );
}

/// Large transfer with the paper's ring: the ring fills while the VM is descheduled.
#[test]
fn byte_exact_large_transfer() {
    for snoop in [false, true] {
        must(&SimConfig::shared(snoop), 4_000_000, 11);
    }
}

/// Many transfers through one long-lived world (engine state persists across flows).
#[test]
fn sequential_transfers_in_one_world() {
    for snoop in [false, true] {
        let cfg = SimConfig::shared(snoop).with_impairments(0.002, 0.005);
        let mut w = World::new(cfg.clone(), 5);
        w.run_until(cfg.warmup_ns);
        for i in 0..40u64 {
            w.idle_random(100 * MS);
            let size = [5_000, 100_000, 300_000][(i % 3) as usize];
            w.run_transfer(size)
                .unwrap_or_else(|e| panic!("transfer {i} (snoop={snoop}): {e}"));
        }
    }
}

#[test]
fn same_seed_same_result() {
    for snoop in [false, true] {
        let cfg = SimConfig::shared(snoop).with_impairments(0.005, 0.01);
        let a = must(&cfg, 300_000, 42);
        let b = must(&cfg, 300_000, 42);
        assert_eq!((a.t_acked_ns, a.t_eof_ns), (b.t_acked_ns, b.t_eof_ns));
        assert_eq!(a.frames_to_guest, b.frames_to_guest);
    }
}
