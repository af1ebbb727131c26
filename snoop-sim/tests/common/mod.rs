//! Shared helpers for the snoop-sim integration tests.
#![allow(dead_code)]

use snoop_sim::{run_sample, SimConfig, TransferResult};

/// Runs one sample and panics with the full error (data, invariant or stall) on failure.
pub fn must(cfg: &SimConfig, size: u64, seed: u64) -> TransferResult {
    run_sample(cfg, size, seed).unwrap_or_else(|e| {
        panic!(
            "transfer of {size} bytes failed (snoop={}, contention={:?}, loss={}, reorder={}, \
             seed={seed}): {e}",
            cfg.snoop, cfg.contention, cfg.fwd.loss, cfg.fwd.reorder
        )
    })
}

/// Whether the `snoop` crate has a real engine (it early-acks something in a plain transfer).
pub fn engine_is_real() -> bool {
    let r = must(&SimConfig::dedicated(true), 100_000, 1);
    r.early_acks > 0
}
