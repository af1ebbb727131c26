//! Host benchmark: frames per second through guest TX -> switch -> guest RX with the
//! simulated grant copy (memcpy). `cargo bench -p drivers --bench netback`.
//!
//! Guest 5 sends to guest 6; each round the simulated netfront posts up to 128 TX
//! packets, the backend polls once (timed), and the frontends consume their responses
//! and repost RX buffers (not timed: that is the guests' work).

#[path = "../tests/netback_sim/mod.rs"]
mod netback_sim;

use std::time::{Duration, Instant};

use drivers::netback::{PollOutput, RxOutcome};
use netback_sim::*;

struct Row {
    size: usize,
    frames: u64,
    backend: Duration,
    wall: Duration,
    copy_ops: u64,
    copy_calls: u64,
}

fn run(size: usize, frames: u64) -> Row {
    let mut sim = Sim::new();
    let opts = FrontOpts {
        rx_buffers: 256,
        ..Default::default()
    };
    sim.add_guest(5, 0, mac(5), opts.clone());
    sim.add_guest(6, 0, mac(6), opts);
    // Let the switch learn both MACs.
    sim.send(6, &raw_frame(mac(5), mac(6), 60, 0));
    sim.send(5, &raw_frame(mac(6), mac(5), 60, 0));
    sim.settle();
    sim.received(5);
    sim.received(6);
    let frame = raw_frame(mac(6), mac(5), size, 1);
    let (ops0, calls0) = (sim.world.copy_ops, sim.world.copy_calls);
    let mut backend = Duration::ZERO;
    let mut delivered = 0u64;
    let mut sent = 0u64;
    let wall0 = Instant::now();
    let mut out = PollOutput::default();
    while delivered < frames {
        let burst = (frames - sent).min(128);
        {
            let nf = sim.fronts.get_mut(&(5, 0)).unwrap();
            for _ in 0..burst {
                nf.send(&mut sim.world, &frame);
            }
        }
        sent += burst;
        sim.now += 1000;
        let t = Instant::now();
        sim.nb.poll(&mut sim.world, sim.now, &mut out);
        backend += t.elapsed();
        delivered += out
            .rx
            .iter()
            .filter(|o| matches!(o, RxOutcome::Delivered { .. }))
            .count() as u64;
        out.rx.clear();
        for nf in sim.fronts.values_mut() {
            nf.poll(&mut sim.world);
        }
        let got = sim.fronts.get_mut(&(6, 0)).unwrap().take_received();
        assert!(got.iter().all(|f| f.len() == size));
    }
    let wall = wall0.elapsed();
    Row {
        size,
        frames: delivered,
        backend,
        wall,
        copy_ops: sim.world.copy_ops - ops0,
        copy_calls: sim.world.copy_calls - calls0,
    }
}

fn main() {
    // `cargo test --benches` runs this too: keep that quick.
    let quick = std::env::args().any(|a| a == "--test" || a == "--quick");
    let n = if quick { 2_000 } else { 400_000 };
    let rows: Vec<Row> = [64usize, 1500]
        .iter()
        .map(|&s| run(s, if s == 64 { n } else { n / 2 }))
        .collect();
    println!("netback TX -> switch -> RX, simulated grant copy (one core, backend time only)");
    println!("| frame | frames | backend s | frames/s | Gbit/s | copy ops/frame | frames/copy hypercall (64 ops) | wall s (incl. sim guests) |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in &rows {
        let s = r.backend.as_secs_f64();
        let fps = r.frames as f64 / s;
        println!(
            "| {} B | {} | {:.3} | {:.0} | {:.2} | {:.2} | {:.1} | {:.2} |",
            r.size,
            r.frames,
            s,
            fps,
            fps * r.size as f64 * 8.0 / 1e9,
            r.copy_ops as f64 / r.frames as f64,
            r.frames as f64 / r.copy_calls.max(1) as f64,
            r.wall.as_secs_f64()
        );
    }
}
