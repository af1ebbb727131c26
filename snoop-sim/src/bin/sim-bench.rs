//! vSnoop throughput benchmark on the simulated testbed (see docs/simulation.md).
//!
//! `cargo run -p snoop-sim --release --bin sim-bench -- [--samples N] [--out DIR] [--jobs J]
//!  [--seed S] [--sizes 50K,100K,...]`
//!
//! For every size: N transfers with snoop off and N with snoop on (same seeds: sample i sees
//! the same scheduler phases in both), 3 VMs sharing one core at 60 % load each; plus the
//! dedicated-core control at 100 KB. Prints a table, writes `samples.csv` and `cdf-100k.png`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use plotters::style::RGBColor;
use snoop_sim::plot::{cdf_png, Series};
use snoop_sim::rng::derive;
use snoop_sim::stats::{percentile, sorted};
use snoop_sim::{run_sample, SimConfig, SimError, SynSched, TransferResult};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Setup {
    Shared,
    Dedicated,
}

#[derive(Clone, Copy, Debug)]
struct Job {
    size: u64,
    snoop: bool,
    setup: Setup,
    sample: usize,
    seed: u64,
}

struct Args {
    samples: usize,
    out: PathBuf,
    jobs: usize,
    seed: u64,
    sizes: Vec<u64>,
    /// `SIZE:SEED:on|off:shared|dedicated`: rerun one sample with an event trace, then exit.
    trace_one: Option<String>,
    /// Sensitivity runs: receiver socket buffer (its window) instead of the model's default.
    rx_buf: Option<usize>,
    /// Deferred early ACKs: delay in µs (sensitivity runs).
    ack_defer_us: Option<u64>,
}

fn parse_size(s: &str) -> u64 {
    let s = s.trim();
    let (num, mul) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1000),
        Some('M' | 'm') => (&s[..s.len() - 1], 1_000_000),
        _ => (s, 1),
    };
    num.parse::<u64>().expect("bad size") * mul
}

fn label(size: u64) -> String {
    if size >= 1_000_000 && size.is_multiple_of(1_000_000) {
        format!("{} MB", size / 1_000_000)
    } else if size.is_multiple_of(1000) {
        format!("{} KB", size / 1000)
    } else {
        format!("{size} B")
    }
}

fn parse_args() -> Args {
    let mut a = Args {
        samples: 1000,
        out: PathBuf::from("target/sim-bench"),
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        seed: 2010,
        sizes: vec![50_000, 100_000, 250_000, 500_000, 1_000_000, 10_000_000],
        trace_one: None,
        rx_buf: None,
        ack_defer_us: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--samples" => a.samples = v().parse().expect("--samples N"),
            "--out" => a.out = PathBuf::from(v()),
            "--jobs" => a.jobs = v().parse().expect("--jobs J"),
            "--seed" => a.seed = v().parse().expect("--seed S"),
            "--sizes" => a.sizes = v().split(',').map(parse_size).collect(),
            "--trace-one" => a.trace_one = Some(v()),
            "--rx-buf" => a.rx_buf = Some(parse_size(&v()) as usize),
            "--ack-defer-us" => a.ack_defer_us = Some(v().parse().expect("--ack-defer-us N")),
            "-h" | "--help" => {
                println!(
                    "sim-bench [--samples N (1000)] [--out DIR (target/sim-bench)] [--jobs J] \
                     [--seed S (2010)] [--sizes 50K,100K,250K,500K,1M,10M] \
                     [--trace-one SIZE:SEED:on|off:shared|dedicated] [--rx-buf BYTES (sensitivity)] \
                     [--ack-defer-us US (sensitivity; default: the kernel's)]"
                );
                std::process::exit(0);
            }
            _ => panic!("unknown argument {k}"),
        }
    }
    a
}

/// Reruns one sample (e.g. a failed one from samples.csv) with the world's event trace.
fn trace_one(spec: &str) {
    let f: Vec<&str> = spec.split(':').collect();
    assert!(
        f.len() == 4,
        "--trace-one SIZE:SEED:on|off:shared|dedicated"
    );
    let (size, seed, snoop) = (parse_size(f[0]), f[1].parse().expect("seed"), f[2] == "on");
    let cfg = if f[3] == "dedicated" {
        SimConfig::dedicated(snoop)
    } else {
        SimConfig::shared(snoop)
    };
    let mut w = snoop_sim::World::new(cfg.clone(), seed);
    w.run_until(cfg.warmup_ns);
    w.idle_random(cfg.load_busy_ns + cfg.load_idle_ns);
    w.trace = true;
    match w.run_transfer(size) {
        Ok(r) => println!(
            "{r:#?}\nsender side {:.1} Mbit/s, receiver side {:.1} Mbit/s",
            r.mbps_acked(),
            r.mbps_eof()
        ),
        Err(e) => {
            println!("FAILED: {e}");
            std::process::exit(1);
        }
    }
}

fn main() {
    let args = parse_args();
    if let Some(spec) = &args.trace_one {
        trace_one(spec);
        return;
    }
    let t0 = Instant::now();
    let mut jobs = Vec::new();
    let add = |size: u64, setup: Setup, jobs: &mut Vec<Job>| {
        for sample in 0..args.samples {
            // Same seed for off and on: identical scheduler/load phases and start offset.
            let seed = derive(
                args.seed,
                size ^ ((setup as u64) << 60) ^ ((sample as u64) << 32),
            );
            for snoop in [false, true] {
                jobs.push(Job {
                    size,
                    snoop,
                    setup,
                    sample,
                    seed,
                });
            }
        }
    };
    for &s in &args.sizes {
        add(s, Setup::Shared, &mut jobs);
    }
    add(100_000, Setup::Dedicated, &mut jobs);
    // Big transfers first so the threads finish together.
    jobs.sort_by_key(|j| std::cmp::Reverse(j.size));

    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(Job, Result<TransferResult, SimError>)>> = Mutex::new(Vec::new());
    let done = AtomicUsize::new(0);
    let total = jobs.len();
    std::thread::scope(|sc| {
        for _ in 0..args.jobs.max(1) {
            sc.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&job) = jobs.get(i) else { break };
                let mut cfg = match job.setup {
                    Setup::Shared => SimConfig::shared(job.snoop),
                    Setup::Dedicated => SimConfig::dedicated(job.snoop),
                };
                if let Some(b) = args.rx_buf {
                    cfg.rx_buf = b;
                }
                if let Some(us) = args.ack_defer_us {
                    cfg.engine.ack_defer_ns = us * 1000;
                }
                let r = run_sample(&cfg, job.size, job.seed);
                results.lock().unwrap().push((job, r));
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if d.is_multiple_of((total / 20).max(1)) {
                    eprint!(
                        "\r{d}/{total} transfers ({:.0} s)",
                        t0.elapsed().as_secs_f64()
                    );
                }
            });
        }
    });
    eprintln!();
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(j, _)| (j.setup as u8, j.size, j.sample, j.snoop));

    std::fs::create_dir_all(&args.out).expect("create output dir");
    let csv_path = args.out.join("samples.csv");
    let mut csv = std::io::BufWriter::new(std::fs::File::create(&csv_path).expect("csv"));
    writeln!(
        csv,
        "size,snoop,setup,sample,seed,t_established_ns,t_accepted_ns,t_acked_ns,t_eof_ns,mbps_acked,mbps_eof,\
         mbps_accept_eof,mbps_data_phase,early_acks,suppressed,rewritten,dd_drops,link_lost,min_free_slots,syn_sched,error"
    )
    .unwrap();
    let mut errors = 0;
    for (j, r) in &results {
        let snoop = if j.snoop { "on" } else { "off" };
        let setup = if j.setup == Setup::Shared {
            "shared"
        } else {
            "dedicated"
        };
        match r {
            Ok(t) => writeln!(
                csv,
                "{},{snoop},{setup},{},{},{},{},{},{},{:.3},{:.3},{:.3},{:.3},{},{},{},{},{},{},{:?},",
                j.size,
                j.sample,
                j.seed,
                t.t_established_ns,
                t.t_accepted_ns,
                t.t_acked_ns,
                t.t_eof_ns,
                t.mbps_acked(),
                t.mbps_eof(),
                t.mbps_accept_eof(),
                t.mbps_data_phase(),
                t.early_acks,
                t.suppressed,
                t.rewritten,
                t.dd_drops,
                t.link_lost,
                t.min_free_slots,
                t.syn_sched
            )
            .unwrap(),
            Err(e) => {
                errors += 1;
                if errors <= 10 {
                    eprintln!(
                        "FAILED size={} snoop={snoop} {setup} seed={}: {e}",
                        j.size, j.seed
                    );
                }
                let msg = e.to_string().replace([',', '\n'], ";");
                writeln!(
                    csv,
                    "{},{snoop},{setup},{},{},,,,,,,,,,,,,,,{msg}",
                    j.size, j.sample, j.seed
                )
                .unwrap();
            }
        }
    }
    drop(csv);

    let metric = |size: u64, setup: Setup, snoop: bool, f: fn(&TransferResult) -> f64| {
        results
            .iter()
            .filter(|(j, _)| j.size == size && j.setup == setup && j.snoop == snoop)
            .filter_map(|(_, r)| r.as_ref().ok())
            .map(f)
            .collect::<Vec<f64>>()
    };
    let pick = |size: u64, setup: Setup, snoop: bool, eof: bool| -> Vec<f64> {
        metric(
            size,
            setup,
            snoop,
            if eof {
                TransferResult::mbps_eof
            } else {
                TransferResult::mbps_acked
            },
        )
    };

    println!();
    println!(
        "vSnoop simulation: 3 VMs share one core (60% load each), Xen credit model, 1 Gbit/s, \
         RTT 0.1 ms; {} transfers per size and mode",
        args.samples
    );
    println!("Throughput in Mbit/s. Sender side = size / (connect -> all data ACKed at sender) [headline];");
    println!("receiver side = size / (connect -> receiver app read EOF).");
    println!();
    println!(
        "| {:<22} | {:>9} | {:>9} | {:>9} | {:>9} | {:>7} | {:>9} | {:>9} | {:>7} |",
        "size", "off med", "off p90", "on med", "on p90", "on/off", "off med", "on med", "on/off"
    );
    println!(
        "| {:<22} | {:>9} | {:>9} | {:>9} | {:>9} | {:>7} | {:>9} | {:>9} | {:>7} |",
        "", "(sender)", "(sender)", "(sender)", "(sender)", "(med)", "(recv)", "(recv)", "(recv)"
    );
    println!(
        "|{}|{}|",
        "-".repeat(24),
        ["-----------"; 4]
            .iter()
            .chain(&["---------"])
            .chain(&["-----------"; 2])
            .chain(&["---------"])
            .copied()
            .collect::<Vec<_>>()
            .join("|")
    );
    let row = |name: String, size: u64, setup: Setup| {
        let off = sorted(&pick(size, setup, false, false));
        let on = sorted(&pick(size, setup, true, false));
        let off_r = sorted(&pick(size, setup, false, true));
        let on_r = sorted(&pick(size, setup, true, true));
        let (m0, m1) = (percentile(&off, 50.0), percentile(&on, 50.0));
        let (r0, r1) = (percentile(&off_r, 50.0), percentile(&on_r, 50.0));
        println!(
            "| {:<22} | {:>9.1} | {:>9.1} | {:>9.1} | {:>9.1} | {:>6.2}x | {:>9.1} | {:>9.1} | {:>6.2}x |",
            name,
            m0,
            percentile(&off, 90.0),
            m1,
            percentile(&on, 90.0),
            m1 / m0,
            r0,
            r1,
            r1 / r0
        );
    };
    for &s in &args.sizes {
        row(label(s), s, Setup::Shared);
    }
    row("100 KB, dedicated core".into(), 100_000, Setup::Dedicated);

    println!();
    println!("Diagnostic, mean times (ms): handshake = connect -> SYN-ACK at the sender (only the");
    println!("guest can answer it); data phase = established -> all data ACKed at the sender.");
    println!();
    println!(
        "| {:<22} | {:>10} | {:>10} | {:>12} | {:>12} | {:>7} |",
        "size", "hs off", "hs on", "data off", "data on", "off/on"
    );
    println!(
        "|{}|------------|------------|--------------|--------------|---------|",
        "-".repeat(24)
    );
    let drow = |name: String, size: u64, setup: Setup| {
        let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
        let hs = |snoop| {
            mean(metric(size, setup, snoop, |t| {
                t.t_established_ns as f64 / 1e6
            }))
        };
        let dp = |snoop| {
            mean(metric(size, setup, snoop, |t| {
                (t.t_acked_ns - t.t_established_ns) as f64 / 1e6
            }))
        };
        println!(
            "| {:<22} | {:>10.3} | {:>10.3} | {:>12.3} | {:>12.3} | {:>6.2}x |",
            name,
            hs(false),
            hs(true),
            dp(false),
            dp(true),
            dp(false) / dp(true)
        );
    };
    for &s in &args.sizes {
        drow(label(s), s, Setup::Shared);
    }
    drow("100 KB, dedicated core".into(), 100_000, Setup::Dedicated);

    println!();
    println!("Receiver side from accept() (the receiver socket established) -> EOF: connection");
    println!("set-up excluded, as a receiving application times a transfer it accepted; data");
    println!("buffered at the VMM layer is read in one go, so this can exceed the link rate.");
    println!();
    println!(
        "| {:<22} | {:>9} | {:>9} | {:>9} | {:>9} | {:>7} |",
        "size", "off med", "off p90", "on med", "on p90", "on/off"
    );
    println!(
        "|{}|-----------|-----------|-----------|-----------|---------|",
        "-".repeat(24)
    );
    let arow = |name: String, size: u64, setup: Setup| {
        let off = sorted(&metric(size, setup, false, TransferResult::mbps_accept_eof));
        let on = sorted(&metric(size, setup, true, TransferResult::mbps_accept_eof));
        let (m0, m1) = (percentile(&off, 50.0), percentile(&on, 50.0));
        println!(
            "| {:<22} | {:>9.1} | {:>9.1} | {:>9.1} | {:>9.1} | {:>6.2}x |",
            name,
            m0,
            percentile(&off, 90.0),
            m1,
            percentile(&on, 90.0),
            m1 / m0
        );
    };
    for &s in &args.sizes {
        arow(label(s), s, Setup::Shared);
    }
    arow("100 KB, dedicated core".into(), 100_000, Setup::Dedicated);

    // Where the receiver VM was when the SYN arrived (shared core, all sizes, both modes).
    let states: Vec<SynSched> = results
        .iter()
        .filter(|(j, _)| j.setup == Setup::Shared)
        .filter_map(|(_, r)| r.as_ref().ok().map(|t| t.syn_sched))
        .collect();
    let frac = |s: SynSched| {
        100.0 * states.iter().filter(|&&x| x == s).count() as f64 / states.len().max(1) as f64
    };
    println!();
    println!(
        "Receiver VM when the SYN arrives (shared core): running {:.1} %, runnable and waiting \
         {:.1} %, blocked UNDER (boosted wake) {:.1} %, blocked OVER {:.1} %",
        frac(SynSched::Running),
        frac(SynSched::Waiting),
        frac(SynSched::BlockedUnder),
        frac(SynSched::BlockedOver)
    );

    let off = pick(100_000, Setup::Shared, false, false);
    let on = pick(100_000, Setup::Shared, true, false);
    let off_r = pick(100_000, Setup::Shared, false, true);
    let on_r = pick(100_000, Setup::Shared, true, true);
    let png = args.out.join("cdf-100k.png");
    let plotted = if off.is_empty() {
        Err("no 100 KB samples".to_string())
    } else {
        cdf_png(
            &png,
            "100 KB transfers, 3 VMs per core at 60% load: CDF of throughput",
            "Throughput (Mbit/s)",
            &[
                Series {
                    label: "vSnoop off (sender side)",
                    values: &off,
                    color: RGBColor(200, 30, 30),
                    dashed: false,
                },
                Series {
                    label: "vSnoop on (sender side)",
                    values: &on,
                    color: RGBColor(20, 60, 200),
                    dashed: false,
                },
                Series {
                    label: "vSnoop off (receiver side)",
                    values: &off_r,
                    color: RGBColor(230, 140, 140),
                    dashed: true,
                },
                Series {
                    label: "vSnoop on (receiver side)",
                    values: &on_r,
                    color: RGBColor(120, 150, 230),
                    dashed: true,
                },
            ],
        )
    };
    println!();
    println!("samples: {}", csv_path.display());
    match plotted {
        Ok(()) => println!("CDF plot: {}", png.display()),
        Err(e) => eprintln!("CDF plot not written: {e}"),
    }
    println!(
        "{} transfers, {} failed, total run time {:.1} s ({} threads)",
        total,
        errors,
        t0.elapsed().as_secs_f64(),
        args.jobs
    );
    if errors > 0 {
        std::process::exit(1);
    }
}
