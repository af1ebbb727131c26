//! The driver domain's main loop: netback for every vif libxl gives us, the switch between
//! them, and vSnoop inline on the data path. Sleeps in `SCHEDOP_poll` on the xenstore
//! channel and every vif's channels; wakes at least every `TICK_NS` for housekeeping.

use alloc::collections::BTreeSet;
use alloc::vec;
use alloc::vec::Vec;

use drivers::netback::{gro, Frame, Netback, NetbackConfig, PollOutput, PortId, RxOutcome};
use drivers::xenstore::Tx;
use snoop::{AckCoalescer, Engine, GuestVerdict, RxChecksum, TxChecksum, ACK_FRAME_MAX};
use xen::abi::{sched, EvtchnPort};
use xen::hypercall;

use crate::hv::KernelHv;
use crate::nic::{self, NicMode, Uplink, UPLINK_PORT};
use crate::snoop_status::SnoopStatus;
use crate::{console, events, heap, time, xs};

/// Longest sleep: switch ageing, flow expiry, stats.
const TICK_NS: u64 = 100_000_000;
/// How often counters go to the console (debug level).
const STATS_EVERY_NS: u64 = 10_000_000_000;
const SHUTDOWN_TOKEN: &str = "vsnoop-control";
const SNOOP_TOKEN: &str = "vsnoop-snoop";
/// Watch events handled per turn of the loop (see there).
const WATCH_EVENTS_PER_TURN: usize = 256;
/// Largest frame a redelivery goes out as: 1500-byte MTU plus the Ethernet header.
const REDELIVERY_FRAME_MAX: usize = 1500 + 14;
/// Runtime switch for vSnoop (`on`/`off`), written by the host's admin in dom0:
/// `xenstore-write /local/domain/<vsnoop>/control/vsnoop-snoop off`.
const SNOOP_KEY: &str = "control/vsnoop-snoop";

/// Settings from the command line (docs/config.md).
pub struct ServeConfig {
    pub snoop: bool,
    pub max_flows: usize,
    /// Handshake hold budget in bytes (0 = off).
    pub hold_bytes: usize,
    /// Deferred early ACKs: how long an early ACK waits for the guest's own (0 = off).
    pub ack_defer_ns: u64,
    pub nic: NicMode,
}

impl ServeConfig {
    pub fn from_cmdline(cmdline: &str) -> Self {
        let mut c = ServeConfig {
            snoop: true,
            max_flows: 4096,
            hold_bytes: 1 << 20,
            ack_defer_ns: 50_000,
            nic: NicMode::from_cmdline(cmdline),
        };
        for w in cmdline.split_whitespace() {
            if let Some(v) = w.strip_prefix("vsnoop.snoop=") {
                c.snoop = !matches!(v, "off" | "0" | "no");
            } else if let Some(v) = w.strip_prefix("vsnoop.flows=") {
                c.max_flows = v.parse().unwrap_or(c.max_flows).clamp(16, 1 << 20);
            } else if let Some(v) = w.strip_prefix("vsnoop.hold=") {
                // KiB; 0 turns the handshake hold off.
                let kib: usize = v.parse().unwrap_or(c.hold_bytes >> 10);
                c.hold_bytes = kib.min(64 << 10) << 10;
            } else if let Some(v) = w.strip_prefix("vsnoop.ack-defer=") {
                // Microseconds, at most 10 ms; 0 sends early ACKs at once.
                let us: u64 = v.parse().unwrap_or(c.ack_defer_ns / 1000);
                c.ack_defer_ns = us.min(10_000) * 1000;
            }
        }
        c
    }
}

/// Work counters a turn advances when it finds something to do: NIC frames received and
/// sent, grant copies (guest TX and RX). A turn woken by the tick that moves them found
/// work no event announced.
fn work_done(uplink: &Option<Uplink>, hv: &KernelHv) -> (u64, u64, u64) {
    let (rx, tx) = uplink
        .as_ref()
        .map_or((0, 0), |u| (u.counters.rx_frames, u.counters.tx_frames));
    (rx, tx, hv.copies)
}

/// An early ACK of `vif`'s guest enters the batch's coalescer, to be switched like a
/// frame that guest sent.
fn push_early_ack(acks_out: &mut AckCoalescer<Frame>, vif: u16, ack: &[u8]) {
    acks_out.push(
        ack,
        Frame {
            src: PortId::Vif(vif),
            data: ack.to_vec(),
            csum_ok: true,
        },
    );
}

/// What `xl shutdown`/`xl reboot` asked for through `control/shutdown`.
fn shutdown_request() -> Option<u32> {
    match xs::with(|x| x.read_string(Tx::NONE, "control/shutdown"))
        .ok()?
        .as_str()
    {
        "poweroff" | "halt" => Some(sched::SHUTDOWN_POWEROFF),
        "reboot" => Some(sched::SHUTDOWN_REBOOT),
        _ => None,
    }
}

/// Serves until the toolstack asks us to shut down; returns the shutdown reason.
pub fn run(domid: u16, store_port: EvtchnPort, cfg: ServeConfig) -> u32 {
    let mut hv = KernelHv::default();
    // Frames queued for guests, all vifs together: at most a quarter of the free heap
    // (16 MiB with the example's 64 MiB); vSnoop gets at most half (below).
    let (_, free) = heap::usage();
    let mut nb_cfg = NetbackConfig::new(domid);
    nb_cfg.rx_total_bytes = nb_cfg.rx_total_bytes.min(free / 4);
    let mut nb = Netback::new(nb_cfg);
    let want = snoop::Config {
        max_flows: cfg.max_flows,
        enabled: cfg.snoop,
        hash_seed: time::now_ns() ^ 0x9e37_79b9_7f4a_7c15,
        // Merged GSO packets are held too: a redelivery is cut back into MTU-sized
        // segments below (netback may merge them again for the guest).
        hold_bytes: cfg.hold_bytes,
        // R12: a running guest's own ACK goes to the sender; vSnoop acknowledges
        // for a guest that does not answer within this.
        ack_defer_ns: cfg.ack_defer_ns,
        ..Default::default()
    };
    // Everything vSnoop may ever allocate (table now; hold and ACK queue as they
    // fill) gets at most half of the free heap: the rest is for netback's rings and
    // frames. An allocation that fails later would crash the driver domain.
    let snoop_cfg = Engine::fit_config(want.clone(), free / 2);
    if (snoop_cfg.max_flows, snoop_cfg.hold_bytes) != (want.max_flows, want.hold_bytes) {
        log::warn!(
            "vsnoop.flows={} and vsnoop.hold={} need up to {} KiB, more than half of the free heap ({} KiB): using vsnoop.flows={} and vsnoop.hold={}; give the domain more memory (xl: memory=)",
            want.max_flows,
            want.hold_bytes >> 10,
            Engine::memory_bound(&want) >> 10,
            free >> 10,
            snoop_cfg.max_flows,
            snoop_cfg.hold_bytes >> 10
        );
    }
    let mut engine = Engine::new(snoop_cfg);
    let _ = xs::with(|x| x.write(Tx::NONE, "control/feature-poweroff", b"1"));
    let _ = xs::with(|x| x.write(Tx::NONE, "control/feature-reboot", b"1"));
    if let Err(e) = xs::with(|x| x.watch("control/shutdown", SHUTDOWN_TOKEN)) {
        log::error!("cannot watch control/shutdown: {e:?}");
    }
    if let Err(e) = xs::with(|x| x.watch(SNOOP_KEY, SNOOP_TOKEN)) {
        log::error!("cannot watch {SNOOP_KEY}: {e:?}");
    }
    if let Err(e) = nb.start(&mut hv) {
        log::error!("netback cannot start: {e:?}");
    }
    let mut uplink: Option<Uplink> = nic::start(cfg.nic);
    if uplink.is_some() {
        nb.add_uplink(UPLINK_PORT);
    }
    log::info!(
        "serving: netback up, vSnoop {} ({} flows max, handshake hold {} KiB, early ACKs deferred {} us)",
        if cfg.snoop { "on" } else { "off" },
        engine.config().max_flows,
        engine.config().hold_bytes >> 10,
        cfg.ack_defer_ns / 1000
    );

    let mut out = PollOutput::default();
    let mut frames: Vec<Frame> = Vec::new();
    let mut ack = [0u8; ACK_FRAME_MAX];
    let mut connected: BTreeSet<u16> = BTreeSet::new();
    let mut ports: Vec<EvtchnPort> = Vec::new();
    let mut next_stats = time::now_ns() + STATS_EVERY_NS;
    let mut more_work = false;
    let mut late_wakeups = 0u64;
    let mut acks_out: AckCoalescer<Frame> = AckCoalescer::new();
    let mut status = SnoopStatus::default();
    let mut hold_expired_seen = 0u64;
    let mut due: Vec<(u16, Vec<u8>)> = Vec::new();
    status.update(&engine, time::now_ns(), true);
    loop {
        // Sleep unless work is pending.
        ports.clear();
        ports.push(store_port);
        for v in nb.vifs() {
            if let Some((a, b)) = v.event_ports() {
                ports.push(a);
                if b != a {
                    ports.push(b);
                }
            }
        }
        let mut sleep_ns = TICK_NS;
        for due in [engine.hold_next_due(), engine.ack_next_due()]
            .into_iter()
            .flatten()
        {
            sleep_ns = sleep_ns.min(due.saturating_sub(time::now_ns()).max(1));
        }
        let mut nic_pending = false;
        if let Some(u) = uplink.as_mut() {
            ports.extend(u.ports());
            nic_pending = u.take_events();
            sleep_ns = sleep_ns.min(u.max_sleep_ns().unwrap_or(TICK_NS));
        }
        // Clear every pending bit (not just the first): this turn serves all ports anyway.
        let any_pending = ports
            .iter()
            .fold(nic_pending, |any, p| events::take_pending(*p) | any);
        let mut timed_out = false;
        if !more_work && !any_pending {
            let _ =
                hypercall::sched_poll(&ports[..ports.len().min(128)], time::now_ns() + sleep_ns);
            let mut woke = false;
            if let Some(u) = uplink.as_mut() {
                woke |= u.take_events();
            }
            for p in &ports {
                woke |= events::take_pending(*p);
            }
            timed_out = !woke;
        }
        let work_before = work_done(&uplink, &hv);
        let now = time::now_ns();

        // Xenstore: watch events (ours and netback's), a bounded number per turn: a peer
        // that keeps xenstored firing events must not starve the data path (the rest
        // wait in the client's bounded queue for the next turn).
        let mut switched = false;
        let mut events = 0;
        while events < WATCH_EVENTS_PER_TURN {
            let Ok(Some(ev)) = xs::with(|x| x.poll_watch()) else {
                break;
            };
            events += 1;
            if ev.token == SNOOP_TOKEN {
                if let Ok(v) = xs::with(|x| x.read_string(Tx::NONE, SNOOP_KEY)) {
                    let on = match v.trim() {
                        "on" | "1" => true,
                        "off" | "0" => false,
                        other => {
                            log::warn!("{SNOOP_KEY}: '{other}' is not on/off, ignored");
                            engine.is_enabled()
                        }
                    };
                    if on != engine.is_enabled() {
                        engine.set_enabled(on);
                        switched = true;
                        log::info!("vSnoop switched {}", if on { "on" } else { "off" });
                    }
                }
            } else if ev.token == SHUTDOWN_TOKEN {
                if let Some(reason) = shutdown_request() {
                    log::info!("shutdown requested by the toolstack: tearing down");
                    nb.shutdown(&mut hv);
                    if let Some(u) = uplink.take() {
                        u.stop();
                    }
                    return reason;
                }
            } else {
                nb.on_watch(&mut hv, &ev.path, &ev.token);
            }
        }

        // vifs that went away or disconnected lose their flows (nothing early-acked on
        // them can be delivered any more: their rings are gone).
        let now_connected: BTreeSet<u16> = nb
            .vifs()
            .filter(|v| v.is_connected())
            .map(|v| v.id())
            .collect();
        for gone in connected.difference(&now_connected) {
            let n = engine.on_vif_reset(*gone);
            log::info!("vif {gone}: disconnected, {n} snoop flows dropped");
        }
        connected = now_connected;

        nb.housekeeping(&mut hv, now);
        status.update(&engine, now, switched);

        // Guest TX -> vSnoop (learn, suppress duplicate ACKs) -> switch. (Watch events
        // left for the next turn are work too: their doorbell has rung already.)
        more_work = nb.poll_tx(&mut hv, &mut frames) || events == WATCH_EVENTS_PER_TURN;
        // The wire -> switch (vSnoop sees these frames when they reach a guest's ring).
        let mut from_wire = Vec::new();
        if let Some(u) = uplink.as_mut() {
            more_work |= u.service(&mut from_wire);
        }
        for f in from_wire {
            nb.forward(f, now, &mut out);
        }
        for mut f in frames.drain(..) {
            if let PortId::Vif(vif) = f.src {
                let verdict =
                    engine.on_from_guest_with(vif, &mut f.data, TxChecksum::Complete, now);
                if verdict == GuestVerdict::Suppress {
                    continue;
                }
            }
            nb.forward(f, now, &mut out);
        }
        // Handshake hold: data vSnoop acknowledged before the guest's socket existed,
        // which the guest has not acknowledged in time, goes to it again (the engine
        // recognises these frames when they come back below).
        let redelivered = engine.poll_redeliver(now, &mut due);
        for (vif, data) in due.drain(..) {
            // A held GSO packet goes back as plain segments (a guest without a GSO slot
            // for it would drop an oversized frame).
            let pieces = gro::split(&data, REDELIVERY_FRAME_MAX).unwrap_or_else(|| vec![data]);
            for data in pieces {
                let f = Frame {
                    src: PortId::Uplink(UPLINK_PORT),
                    data,
                    csum_ok: false,
                };
                nb.enqueue(vif, f, &mut out.rx);
            }
        }
        if redelivered > 0 {
            let total = engine.counters().redelivered;
            // A listener dropped data vSnoop acknowledged (accept queue full): worth a
            // line, but not one per frame.
            if (total - redelivered as u64 + 1..=total).any(|n| n.is_power_of_two()) {
                log::info!(
                    "snoop: handshake hold: redeliveries so far: {total} (a guest's listener dropped data vSnoop acknowledged: accept queue full?)"
                );
            }
        }
        let expired = engine.counters().hold_expired;
        if expired != hold_expired_seen {
            log::warn!(
                "snoop: handshake hold: gave up the held data of {} flows (a guest never accepted the connection in ~205 s); {expired} in total",
                expired - hold_expired_seen
            );
            hold_expired_seen = expired;
        }
        // Guest RX, then early ACKs for what landed in the guests' buffers.
        more_work |= nb.poll_rx(&mut hv, &mut out.rx);
        let mut acks = 0;
        for o in out.rx.drain(..) {
            match o {
                RxOutcome::Delivered {
                    vif,
                    frame,
                    rx_free_slots,
                } => {
                    let csum = if frame.csum_ok {
                        RxChecksum::Trusted
                    } else {
                        RxChecksum::Verify
                    };
                    if let Some(n) = engine.on_delivered_to_guest_with(
                        vif,
                        &frame.data,
                        rx_free_slots,
                        csum,
                        now,
                        &mut ack,
                    ) {
                        push_early_ack(&mut acks_out, vif, &ack[..n]);
                        acks += 1;
                    }
                }
                RxOutcome::NotDelivered { vif, frame, .. } => {
                    engine.on_not_delivered(vif, &frame.data, now)
                }
            }
        }
        // Deferred early ACKs whose guest did not answer in time (R12).
        while let Some((vif, n)) = engine.poll_deferred_ack(now, &mut ack) {
            push_early_ack(&mut acks_out, vif, &ack[..n]);
            acks += 1;
        }
        // Only the newest early ACK per flow of this batch goes out (ACKs are cumulative).
        for f in acks_out.drain() {
            nb.forward(f, now, &mut out);
        }
        if acks > 0 {
            more_work = true; // deliver the early ACKs to their senders now
        }
        // Switch -> the wire.
        match uplink.as_mut() {
            Some(u) => {
                for (_, f) in out.uplink.drain(..) {
                    u.send(f.data);
                }
            }
            None => out.uplink.clear(),
        }

        if timed_out {
            let after = work_done(&uplink, &hv);
            if after != work_before {
                late_wakeups += 1;
                log::debug!(
                    "late wake-up #{late_wakeups}: the tick found work without an event (nic rx +{}, nic tx +{}, copies +{})",
                    after.0 - work_before.0,
                    after.1 - work_before.1,
                    after.2 - work_before.2
                );
            }
        }
        if now >= next_stats {
            next_stats = now + STATS_EVERY_NS;
            engine.expire_idle(now);
            let c = engine.counters();
            let (held, held_bytes) = engine.hold_usage();
            log::debug!(
                "stats: {} vifs, snoop flows {}, early acks {} ({} superseded in their batch), guest acks suppressed {}, hold {} frames {} B (redelivered {}, expired {}), copies {} ({} failed), console drops {}, late wake-ups {}",
                connected.len(),
                engine.flow_count(),
                c.early_acks,
                acks_out.replaced(),
                c.guest_suppressed,
                held,
                held_bytes,
                c.redelivered,
                c.hold_expired,
                hv.copies,
                hv.copy_failures,
                console::DROPPED_BYTES.load(core::sync::atomic::Ordering::Relaxed),
                late_wakeups
            );
            if let Some(u) = uplink.as_ref() {
                let n = u.counters;
                log::debug!(
                    "stats: nic rx {} frames {} B ({} errors), tx {} frames {} B ({} dropped, {} errors), irqs {}",
                    n.rx_frames, n.rx_bytes, n.rx_errors, n.tx_frames, n.tx_bytes, n.tx_dropped, n.tx_errors, n.irqs
                );
            }
        }
    }
}
