//! Throughput properties of the model (fewer samples than the benchmark).

mod common;

use common::{engine_is_real, must};
use snoop_sim::stats::median;
use snoop_sim::{Contention, SimConfig};

fn medians(contention: Contention, size: u64, samples: u64) -> (f64, f64) {
    medians_with(contention, size, samples, None)
}

/// `ack_defer_ns`: override the engine's deferred-ACK delay (R12; `None` = the kernel's).
fn medians_with(
    contention: Contention,
    size: u64,
    samples: u64,
    ack_defer_ns: Option<u64>,
) -> (f64, f64) {
    let mut off = Vec::new();
    let mut on = Vec::new();
    for seed in 0..samples {
        for snoop in [false, true] {
            let mut cfg = SimConfig::shared(snoop);
            cfg.contention = contention;
            if let Some(d) = ack_defer_ns {
                cfg.engine.ack_defer_ns = d;
            }
            let r = must(&cfg, size, 1000 + seed);
            if snoop { &mut on } else { &mut off }.push(r.mbps_acked());
        }
    }
    (median(&off), median(&on))
}

/// The paper's headline: with 3 VMs sharing a core at 60 % load, vSnoop multiplies the median
/// 100 KB throughput (sender side); the target is at least 3x (sim-bench, 1000 samples: 4.14x).
#[test]
fn snoop_at_least_triples_median_100k_throughput_under_contention() {
    assert!(
        engine_is_real(),
        "the snoop engine is the pass-through stub"
    );
    let (off, on) = medians(Contention::Shared { others: 2 }, 100_000, 200);
    eprintln!("100 KB shared core: median off {off:.1} Mbit/s, on {on:.1} Mbit/s");
    assert!(
        on >= 3.0 * off,
        "median on {on:.1} < 3 x off {off:.1} Mbit/s"
    );
}

/// Without CPU contention vSnoop must not change throughput (median within 2 %), and it never
/// slows a transfer down. With the kernel's deferred early ACKs (R12, 50 us) a running guest
/// keeps its own ACK clock: sim-bench gives +0.5 %.
#[test]
fn dedicated_core_on_and_off_within_2_percent() {
    let (off, on) = medians(Contention::Dedicated, 100_000, 50);
    eprintln!("100 KB dedicated core: median off {off:.1} Mbit/s, on {on:.1} Mbit/s");
    assert!(
        (on - off).abs() <= 0.02 * off,
        "dedicated core: median on {on:.1} vs off {off:.1} Mbit/s differ by more than 2 %"
    );
    assert!(
        on >= off,
        "dedicated core: on {on:.1} slower than off {off:.1} Mbit/s"
    );
}

/// The paper's behaviour (`vsnoop.ack-defer=0`: every early ACK at once) on a dedicated core:
/// early ACKs save the guest's 5 us wake-up in each slow-start round and ACK every segment
/// where the guest's delayed ACK covers two (a sender without byte counting grows faster):
/// +2.3 % in sim-bench, over the 2 % bound above. Guard: never slower, at most 3 % faster.
#[test]
fn dedicated_core_without_deferral_never_slower_and_at_most_3_percent_faster() {
    let (off, on) = medians_with(Contention::Dedicated, 100_000, 50, Some(0));
    eprintln!("100 KB dedicated core: median off {off:.1} Mbit/s, on {on:.1} Mbit/s");
    assert!(
        on >= off,
        "dedicated core: on {on:.1} slower than off {off:.1} Mbit/s"
    );
    assert!(
        on <= 1.03 * off,
        "dedicated core: on {on:.1} more than 3 % above off {off:.1} Mbit/s"
    );
}

/// Sanity of the model itself: contention slows the baseline down a lot.
#[test]
fn contention_slows_the_baseline() {
    let (ded, _) = medians(Contention::Dedicated, 100_000, 30);
    let (shared, _) = medians(Contention::Shared { others: 2 }, 100_000, 60);
    eprintln!("100 KB off: dedicated {ded:.1} Mbit/s, shared {shared:.1} Mbit/s");
    assert!(shared * 2.0 < ded);
}
