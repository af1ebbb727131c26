//! Netback: serves Xen PV network frontends (Linux netfront and friends) from this
//! driver domain, and switches their frames.
//!
//! Module split (mirrors Linux's xen-netback):
//! - [`hv`]: the traits the kernel implements (grant map / copy, event channels,
//!   xenstore, log);
//! - [`xenbus`]: per-vif backend keys, features, state machine ([`Vif`]);
//! - [`interface`]: a connected vif's rings and event channels;
//! - [`tx`]: guest TX (requests -> validated, copied frames);
//! - [`rx`]: guest RX (queued frames -> posted buffers), [`RxOutcome`] for vSnoop;
//! - [`switch`]: the MAC-learning switch with anti-spoofing;
//! - [`csum`], [`parse`], [`counters`].
//!
//! The kernel's main loop:
//! ```ignore
//! let mut nb = Netback::new(NetbackConfig::new(my_domid));
//! nb.start(&mut hv)?;                       // watch backend/vif, probe what exists
//! loop {
//!     while let Some(ev) = xs_watch_event() { nb.on_watch(&mut hv, &ev.path, &ev.token); }
//!     let mut out = PollOutput::default();
//!     nb.poll(&mut hv, now_ns(), &mut out);  // TX -> switch -> RX for every vif
//!     for o in out.rx { /* snoop: on_delivered_to_guest / on_not_delivered */ }
//!     for f in out.uplink { /* to the NIC */ }
//!     if !out.more_work { block until an event channel fires }
//! }
//! ```

pub mod counters;
pub mod csum;
pub mod gro;
pub mod hv;
pub mod interface;
pub mod parse;
pub mod rx;
mod rxqueue;
pub mod switch;
pub mod tx;
pub mod xenbus;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use xen::abi::{DomId, DOMID_FIRST_RESERVED};

pub use counters::{Fatal, RxDrop, TxDrop, VifCounters};
pub use hv::{
    CopyDir, CopyOp, EventChannel, ForeignPage, GrantCopy, GrantMap, Hv, HvError, Log, Xenstore,
    XsFail,
};
pub use interface::FrontendFeatures;
pub use parse::Mac;
pub use rx::RxOutcome;
pub use switch::{PortId, Switch, SwitchConfig, SwitchDrop};
pub use xenbus::Vif;

/// A vif's identity for the switch and the snoop engine (stable while its backend
/// directory exists; reused after removal).
pub type VifId = u16;

/// The token of every watch netback sets.
pub const WATCH_TOKEN: &str = "vsnoop-netback";

/// An Ethernet frame owned by us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Where it entered the switch.
    pub src: PortId,
    pub data: Vec<u8>,
    /// We computed its L4 checksum ourselves (it is correct): RX marks it
    /// `NETRXF_data_validated`.
    pub csum_ok: bool,
}

/// Configuration.
#[derive(Clone, Debug)]
pub struct NetbackConfig {
    /// Our domain id (backend paths are `/local/domain/<id>/backend/vif/...`).
    pub domid: DomId,
    /// RX queue bound per vif (frames).
    pub rx_queue_len: usize,
    /// RX queue bound per vif (bytes; Linux: half a ring of pages, 512 KiB).
    pub rx_queue_bytes: usize,
    /// Bound on the bytes queued for all vifs together (a guest broadcasting big
    /// frames fills every other vif's queue at once).
    pub rx_total_bytes: usize,
    /// Bytes of guest TX per vif per poll (besides `tx_budget` packets): what one
    /// turn holds in frames copied from a guest is bounded by this per vif.
    pub tx_budget_bytes: usize,
    /// TX packets per vif per poll.
    pub tx_budget: usize,
    /// RX frames per vif per poll.
    pub rx_budget: usize,
    /// Most vifs served at once (further backend directories are ignored, logged).
    pub max_vifs: usize,
    pub switch: SwitchConfig,
}

impl NetbackConfig {
    pub fn new(domid: DomId) -> Self {
        NetbackConfig {
            domid,
            rx_queue_len: 256,
            rx_queue_bytes: 512 << 10,
            rx_total_bytes: 16 << 20,
            tx_budget: 256,
            tx_budget_bytes: 1 << 20,
            rx_budget: 256,
            max_vifs: 256,
            switch: SwitchConfig::default(),
        }
    }
}

/// What one [`Netback::poll`] produced.
#[derive(Debug, Default)]
pub struct PollOutput {
    /// Frames the switch sent to uplink ports (the NIC).
    pub uplink: Vec<(PortId, Frame)>,
    /// Every frame addressed to a vif, delivered or not (the vSnoop hook).
    pub rx: Vec<RxOutcome>,
    /// A budget ran out: poll again without waiting for an event.
    pub more_work: bool,
}

/// The netback: every vif under our `backend/vif`, and the switch between them.
pub struct Netback {
    cfg: NetbackConfig,
    root: String,
    vifs: BTreeMap<VifId, Vif>,
    by_dev: BTreeMap<(DomId, u32), VifId>,
    switch: Switch,
    /// Outcomes produced outside `poll_rx` (flushes on disconnect from a watch or a TX
    /// error), handed out by the next `poll_rx`.
    pending: Vec<RxOutcome>,
    /// Bytes queued for all vifs, at most: the sum as of the last `poll_rx` plus what
    /// was queued since (frames leave the queues only in `poll_rx` and on disconnect).
    rx_bytes_bound: usize,
    bad_names: BTreeSet<String>,
    scratch: Vec<Frame>,
    route: Vec<PortId>,
}

impl Netback {
    pub fn new(cfg: NetbackConfig) -> Self {
        let root = format!("/local/domain/{}/backend/vif", cfg.domid);
        let switch = Switch::new(cfg.switch);
        Netback {
            cfg,
            root,
            vifs: BTreeMap::new(),
            by_dev: BTreeMap::new(),
            switch,
            pending: Vec::new(),
            rx_bytes_bound: 0,
            bad_names: BTreeSet::new(),
            scratch: Vec::new(),
            route: Vec::new(),
        }
    }

    /// The directory we serve (`/local/domain/<domid>/backend/vif`).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Watches our backend directory and probes what is already there.
    pub fn start<H: Hv>(&mut self, hv: &mut H) -> Result<(), XsFail> {
        hv.watch(&self.root, WATCH_TOKEN)?;
        hv.log(format_args!("serving {}", self.root));
        self.rescan(hv);
        Ok(())
    }

    /// Tears every vif down (as on hot-unplug) and drops our watches.
    pub fn shutdown<H: Hv>(&mut self, hv: &mut H) {
        let ids: Vec<VifId> = self.vifs.keys().copied().collect();
        for id in ids {
            self.remove_vif(hv, id);
        }
        let _ = hv.unwatch(&self.root, WATCH_TOKEN);
    }

    /// A xenstore watch fired. Returns whether it was one of ours. A change inside one
    /// vif's backend directory, or to its frontend's `state`, refreshes only that vif;
    /// anything else (a directory appearing or disappearing) rescans everything.
    pub fn on_watch<H: Hv>(&mut self, hv: &mut H, path: &str, token: &str) -> bool {
        if token != WATCH_TOKEN {
            return false;
        }
        match self.vif_for_path(path) {
            Some(id) => {
                if let Some(v) = self.vifs.get_mut(&id) {
                    if v.refresh(hv, &mut self.pending) {
                        self.switch.add_port(PortId::Vif(id), v.mac);
                    }
                }
            }
            None => self.rescan(hv),
        }
        true
    }

    /// The vif a watch path concerns, when it is strictly inside one vif's backend
    /// directory or is a watched frontend `state` node.
    fn vif_for_path(&self, path: &str) -> Option<VifId> {
        if let Some(rest) = path
            .strip_prefix(self.root.as_str())
            .and_then(|r| r.strip_prefix('/'))
        {
            let mut it = rest.splitn(3, '/');
            let dom = parse::parse_u32(it.next()?.as_bytes())?;
            let dev = parse::parse_u32(it.next()?.as_bytes())?;
            it.next()?; // a key below the vif directory, not the directory itself
            let dom = DomId::try_from(dom).ok()?;
            return self.by_dev.get(&(dom, dev)).copied();
        }
        self.vifs
            .values()
            .find(|v| v.watching.as_deref() == Some(path))
            .map(|v| v.id)
    }

    fn parse_dir_name(&mut self, hv: &mut impl Hv, name: &str, what: &str) -> Option<u32> {
        let v = parse::parse_u32(name.as_bytes());
        if v.is_none() && self.bad_names.insert(format!("{what}:{name}")) {
            hv.log(format_args!(
                "ignoring {what} directory {name:?}: not a number"
            ));
        }
        v
    }

    /// Re-reads the backend directory: probes new vifs, tears down removed ones,
    /// refreshes every vif's state.
    pub fn rescan<H: Hv>(&mut self, hv: &mut H) {
        let doms = match hv.directory(&self.root) {
            Ok(d) => d,
            Err(XsFail::NotFound) => Vec::new(),
            Err(XsFail::Other(e)) => {
                hv.log(format_args!("listing {}: {e}", self.root));
                return;
            }
        };
        let mut present: BTreeSet<(DomId, u32)> = BTreeSet::new();
        for d in doms {
            let Some(dom) = self.parse_dir_name(hv, &d, "frontend domain") else {
                continue;
            };
            if dom >= DOMID_FIRST_RESERVED as u32 || dom == self.cfg.domid as u32 {
                if self.bad_names.insert(format!("dom:{d}")) {
                    hv.log(format_args!("ignoring frontend domain {dom}: not a guest"));
                }
                continue;
            }
            let dom = dom as DomId;
            let devs = match hv.directory(&format!("{}/{d}", self.root)) {
                Ok(v) => v,
                Err(XsFail::NotFound) => Vec::new(),
                Err(XsFail::Other(e)) => {
                    hv.log(format_args!("listing {}/{d}: {e}", self.root));
                    // Keep what we have for this domain.
                    present.extend(self.by_dev.keys().filter(|(fd, _)| *fd == dom).copied());
                    continue;
                }
            };
            for dev in devs {
                if let Some(devid) = self.parse_dir_name(hv, &dev, "vif device") {
                    present.insert((dom, devid));
                }
            }
        }
        // Removed directories: hot-unplug.
        let gone: Vec<VifId> = self
            .by_dev
            .iter()
            .filter(|(k, _)| !present.contains(k))
            .map(|(_, id)| *id)
            .collect();
        for id in gone {
            self.remove_vif(hv, id);
        }
        // New directories.
        for key in present {
            if self.by_dev.contains_key(&key) {
                continue;
            }
            if self.vifs.len() >= self.cfg.max_vifs {
                if self.bad_names.insert(format!("full:{}/{}", key.0, key.1)) {
                    hv.log(format_args!("too many vifs, ignoring {}/{}", key.0, key.1));
                }
                continue;
            }
            let Some(id) = (0..=VifId::MAX).find(|i| !self.vifs.contains_key(i)) else {
                continue;
            };
            let path = format!("{}/{}/{}", self.root, key.0, key.1);
            self.vifs
                .insert(id, Vif::new(id, key.0, key.1, path, &self.cfg));
            self.by_dev.insert(key, id);
        }
        for vif in self.vifs.values_mut() {
            if vif.refresh(hv, &mut self.pending) {
                self.switch.add_port(PortId::Vif(vif.id), vif.mac);
            }
        }
    }

    fn remove_vif<H: Hv>(&mut self, hv: &mut H, id: VifId) {
        if let Some(mut v) = self.vifs.remove(&id) {
            v.teardown(hv, &mut self.pending);
            self.by_dev.remove(&(v.fe_dom, v.devid));
            self.switch.remove_port(PortId::Vif(id));
        }
    }

    /// One round: TX from every connected vif, through the switch, then RX into every
    /// vif. Also hands out outcomes of frames flushed since the last poll.
    pub fn poll<H: Hv>(&mut self, hv: &mut H, now_ns: u64, out: &mut PollOutput) {
        self.housekeeping(hv, now_ns);
        let mut frames = core::mem::take(&mut self.scratch);
        out.more_work |= self.poll_tx(hv, &mut frames);
        for f in frames.drain(..) {
            self.forward(f, now_ns, out);
        }
        self.scratch = frames;
        out.more_work |= self.poll_rx(hv, &mut out.rx);
    }

    /// Timed work: finishing detaches (removing the backend directory of a device the
    /// toolstack detached, once it is Closed). `poll` calls it; call it when driving
    /// `poll_tx`/`forward`/`poll_rx` directly.
    pub fn housekeeping<H: Hv>(&mut self, hv: &mut H, now_ns: u64) {
        for vif in self.vifs.values_mut() {
            vif.detach_housekeeping(hv, now_ns);
        }
    }

    /// Guest TX of every connected vif into `frames` (tagged with their source port).
    /// Returns whether some vif has more pending than its budget allowed.
    pub fn poll_tx<H: Hv>(&mut self, hv: &mut H, frames: &mut Vec<Frame>) -> bool {
        let mut more = false;
        for vif in self.vifs.values_mut() {
            let Some(conn) = vif.conn.as_mut() else {
                continue;
            };
            match tx::tx_pass(
                hv,
                vif.id,
                conn,
                &mut vif.counters,
                (self.cfg.tx_budget, self.cfg.tx_budget_bytes),
                frames,
            ) {
                Ok(m) => more |= m,
                Err(why) => vif.fail(hv, why, String::from("on the TX ring"), &mut self.pending),
            }
        }
        more
    }

    /// Switches one frame: into the RX queues of the vifs it is for, and/or to
    /// `out.uplink`. Frames for vifs that cannot take them are reported in `out.rx`.
    pub fn forward(&mut self, frame: Frame, now_ns: u64, out: &mut PollOutput) {
        let mut dests = core::mem::take(&mut self.route);
        let r = self
            .switch
            .route(frame.src, &frame.data, now_ns, &mut dests);
        if let Err(e) = r {
            if let PortId::Vif(src) = frame.src {
                if let Some(v) = self.vifs.get_mut(&src) {
                    v.counters.count_tx_drop(match e {
                        SwitchDrop::Spoofed => TxDrop::Spoofed,
                        _ => TxDrop::NoRoute,
                    });
                }
            }
            self.route = dests;
            return;
        }
        let mut frame = Some(frame);
        let n = dests.len();
        for (i, port) in dests.iter().enumerate() {
            if i + 1 < n {
                // A flooded copy a vif cannot take is counted but never made (nor
                // reported): a guest broadcasting big frames must not make each turn
                // hold a copy per vif.
                if let (PortId::Vif(id), Some(f)) = (*port, frame.as_ref()) {
                    let (bound, total) = (self.rx_bytes_bound, self.cfg.rx_total_bytes);
                    let Some(v) = self.vifs.get_mut(&id) else {
                        continue;
                    };
                    if let Err(reason) = admit(v, f.data.len(), bound, total) {
                        v.counters.count_rx_drop(reason);
                        continue;
                    }
                }
            }
            let f = if i + 1 == n {
                frame.take().expect("last use")
            } else {
                frame.clone().expect("not yet taken")
            };
            match *port {
                PortId::Vif(id) => self.enqueue(id, f, &mut out.rx),
                p @ PortId::Uplink(_) => out.uplink.push((p, f)),
            }
        }
        self.route = dests;
    }

    /// Queues a frame for a vif's guest (drop-tail when the queue is full). A frame that
    /// cannot be queued is reported in `outcomes`.
    pub fn enqueue(&mut self, vif: VifId, frame: Frame, outcomes: &mut Vec<RxOutcome>) {
        let Some(v) = self.vifs.get_mut(&vif) else {
            return;
        };
        let len = frame.data.len();
        if let Err(reason) = admit(v, len, self.rx_bytes_bound, self.cfg.rx_total_bytes) {
            v.counters.count_rx_drop(reason);
            outcomes.push(RxOutcome::NotDelivered { vif, frame, reason });
            return;
        }
        v.counters.rx_queued += 1;
        v.rxq.push_back(frame);
        self.rx_bytes_bound += len;
    }

    /// Guest RX of every connected vif with queued frames. Returns whether some vif has
    /// more deliverable frames than its budget allowed.
    pub fn poll_rx<H: Hv>(&mut self, hv: &mut H, outcomes: &mut Vec<RxOutcome>) -> bool {
        // Frames flushed from the queues of vifs that went away or failed since the
        // last call (watches, TX errors) are reported here, so that they are freed and
        // the caller learns they were not delivered.
        outcomes.append(&mut self.pending);
        let mut more = false;
        for vif in self.vifs.values_mut() {
            let Some(conn) = vif.conn.as_mut() else {
                continue;
            };
            if vif.rxq.is_empty() {
                continue;
            }
            match rx::rx_pass(
                hv,
                vif.id,
                conn,
                &mut vif.rxq,
                &mut vif.counters,
                self.cfg.rx_budget,
                outcomes,
            ) {
                Ok(m) => more |= m,
                Err(why) => vif.fail(hv, why, String::from("on the RX ring"), outcomes),
            }
        }
        self.rx_bytes_bound = self.vifs.values().map(|v| v.rxq.bytes()).sum();
        more
    }

    /// Outcomes of flushed frames waiting for the next [`Netback::poll_rx`] (tests: none
    /// may be left behind).
    pub fn pending_outcomes(&self) -> usize {
        self.pending.len()
    }

    /// Attaches an uplink port (a NIC) to the switch.
    pub fn add_uplink(&mut self, port: u16) {
        self.switch.add_port(PortId::Uplink(port), None);
    }

    pub fn vif(&self, id: VifId) -> Option<&Vif> {
        self.vifs.get(&id)
    }

    pub fn vifs(&self) -> impl Iterator<Item = &Vif> {
        self.vifs.values()
    }

    /// The vif serving `(frontend domid, devid)`.
    pub fn vif_by_frontend(&self, dom: DomId, devid: u32) -> Option<VifId> {
        self.by_dev.get(&(dom, devid)).copied()
    }

    /// The vif that owns local event channel `port`.
    pub fn vif_by_port(&self, port: u32) -> Option<VifId> {
        self.vifs
            .values()
            .find(|v| v.event_ports().is_some_and(|(t, r)| t == port || r == port))
            .map(|v| v.id)
    }

    pub fn switch(&self) -> &Switch {
        &self.switch
    }

    pub fn switch_mut(&mut self) -> &mut Switch {
        &mut self.switch
    }
}

/// Whether vif `v` takes a frame of `len` bytes into its RX queue now, with `queued`
/// bytes (at most) queued for all vifs against a bound of `total`.
fn admit(v: &Vif, len: usize, queued: usize, total: usize) -> Result<(), RxDrop> {
    if v.conn.is_none() {
        Err(RxDrop::NotConnected)
    } else if !v.rxq.has_room(len) || queued.saturating_add(len) > total {
        Err(RxDrop::QueueFull)
    } else {
        Ok(())
    }
}
