//! vSnoop's status in xenstore, for the host's admin and for migration or maintenance
//! scripts in dom0 (docs/config.md):
//! - `data/vsnoop/outstanding-flows`: flows holding bytes vSnoop acknowledged that the
//!   guest has not acknowledged yet (they exist only in the guests' RX rings);
//! - `data/vsnoop/quiesced`: `1` once vSnoop is switched off and no such flow is left,
//!   so tearing a ring down (suspend, live migration, detach, restarting vsnoop) loses
//!   nothing vSnoop acknowledged; `0` otherwise;
//! - `data/vsnoop/hold-frames`: frames in the handshake hold now; `held-frames`,
//!   `redelivered`, `hold-expired`: totals since boot (docs/snoop.md, R11);
//! - `data/vsnoop/acks-deferred`, `deferred-by-guest`, `deferred-sent`: deferred early
//!   ACKs queued, carried by the guest's own segment in time (vSnoop stepped aside),
//!   and sent by vSnoop when due; totals since boot (docs/snoop.md, R12).
//!
//! Written when a value changes: checked every `FAST_NS` while vSnoop is off (the admin
//! is waiting), every `SLOW_NS` while it is on, and at once when the switch moves.

use alloc::format;

use drivers::xenstore::Tx;
use snoop::Engine;

use crate::xs;

const DIR: &str = "data/vsnoop";
/// Refresh period while vSnoop is on (the count then only informs).
const SLOW_NS: u64 = 10_000_000_000;
/// Refresh period while it is off (someone waits for `quiesced`; each look walks
/// the flow table).
const FAST_NS: u64 = 100_000_000;

#[derive(Default)]
pub struct SnoopStatus {
    outstanding: Option<usize>,
    quiesced: Option<bool>,
    /// The counters under `KEYS`, as last written.
    totals: [Option<u64>; 7],
    next_ns: u64,
    warned: bool,
}

impl SnoopStatus {
    /// Publishes what changed, if it is time to look (`now` >= the next check) or
    /// `force`.
    pub fn update(&mut self, engine: &Engine, now: u64, force: bool) {
        if !force && now < self.next_ns {
            return;
        }
        self.next_ns = now
            + if engine.is_enabled() {
                SLOW_NS
            } else {
                FAST_NS
            };
        let outstanding = engine.outstanding_flows();
        let quiesced = !engine.is_enabled() && outstanding == 0;
        if self.outstanding != Some(outstanding)
            && self.write("outstanding-flows", &format!("{outstanding}"))
        {
            self.outstanding = Some(outstanding);
        }
        if self.quiesced != Some(quiesced)
            && self.write("quiesced", if quiesced { "1" } else { "0" })
        {
            if quiesced {
                log::info!("vSnoop quiesced: switched off, no early-acked byte outstanding");
            } else if !engine.is_enabled() {
                log::info!(
                    "vSnoop off, waiting for the guests to acknowledge what it acknowledged ({outstanding} flows)"
                );
            }
            self.quiesced = Some(quiesced);
        }
        let c = engine.counters();
        let totals = [
            engine.hold_usage().0 as u64,
            c.held_frames,
            c.redelivered,
            c.hold_expired,
            c.acks_deferred,
            c.deferred_by_guest,
            c.deferred_sent,
        ];
        const KEYS: [&str; 7] = [
            "hold-frames",
            "held-frames",
            "redelivered",
            "hold-expired",
            "acks-deferred",
            "deferred-by-guest",
            "deferred-sent",
        ];
        for (i, v) in totals.into_iter().enumerate() {
            if self.totals[i] != Some(v) && self.write(KEYS[i], &format!("{v}")) {
                self.totals[i] = Some(v);
            }
        }
    }

    fn write(&mut self, key: &str, value: &str) -> bool {
        match xs::with(|x| x.write(Tx::NONE, &format!("{DIR}/{key}"), value.as_bytes())) {
            Ok(()) => true,
            Err(e) => {
                if !self.warned {
                    log::warn!("cannot write {DIR}/{key}: {e:?} (status not published)");
                    self.warned = true;
                }
                false
            }
        }
    }
}
