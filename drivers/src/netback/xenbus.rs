//! One vif's xenbus side: reading and validating the toolstack's backend keys,
//! advertising our features, following the frontend's state and connecting or
//! disconnecting accordingly (Linux's xenbus.c).
//!
//! Level-triggered: [`Vif::refresh`] re-reads everything it depends on (`online`, the
//! frontend's `state`) and moves to where it should be, so lost or coalesced watch events
//! are harmless and a refresh with nothing changed writes nothing.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use xen::abi::xenbus::XenbusState;
use xen::abi::DomId;

use super::counters::{Fatal, RxDrop, VifCounters};
use super::hv::{Hv, XsFail};
use super::interface::{Conn, ConnectParams, FrontendFeatures};
use super::parse::{parse_bool, parse_mac, parse_path, parse_u32, Mac, MacFmt};
use super::rx::RxOutcome;
use super::rxqueue::RxQueue;
use super::{NetbackConfig, VifId, WATCH_TOKEN};

/// Features we advertise in the backend directory (and only these: each is implemented).
pub const ADVERTISED: &[(&str, &str)] = &[
    ("feature-sg", "1"),
    ("feature-rx-copy", "1"),
    ("feature-rx-flip", "0"),
    ("feature-ipv6-csum-offload", "1"),
    ("feature-split-event-channels", "1"),
];

/// Grant references below this are reserved (`GNTTAB_NR_RESERVED_ENTRIES`).
const FIRST_GREF: u32 = xen::abi::grant_table::GNTTAB_NR_RESERVED_ENTRIES;
/// Event channel ports are below 2^17 (FIFO ABI limit); 0 is never valid.
const MAX_PORT: u32 = 1 << 17;

/// A vif: a backend directory `backend/vif/<fe-domid>/<devid>` and what we serve there.
pub struct Vif {
    pub(crate) id: VifId,
    pub(crate) fe_dom: DomId,
    pub(crate) devid: u32,
    pub(crate) be_path: String,
    /// The validated frontend directory, once the backend keys checked out.
    pub(crate) fe_path: Option<String>,
    pub(crate) mac: Option<Mac>,
    /// What we last published in `<be>/state` (`Unknown` before the first write).
    pub(crate) state: XenbusState,
    pub(crate) fe_state: XenbusState,
    pub(crate) conn: Option<Conn>,
    pub(crate) rxq: RxQueue,
    /// Connection refused or broken: stay Closing until the frontend restarts.
    pub(crate) failed: bool,
    pub(crate) watching: Option<String>,
    last_error: Option<String>,
    pub(crate) counters: VifCounters,
    /// The toolstack detached the device (`online=0`) and it reached Closed: when we
    /// first saw that, and whether we removed the backend directory since.
    pub(crate) detach_closed_since: Option<u64>,
    pub(crate) detach_closed: bool,
    pub(crate) detach_done: bool,
}

impl Vif {
    pub(crate) fn new(
        id: VifId,
        fe_dom: DomId,
        devid: u32,
        be_path: String,
        cfg: &NetbackConfig,
    ) -> Self {
        Vif {
            id,
            fe_dom,
            devid,
            be_path,
            fe_path: None,
            mac: None,
            state: XenbusState::Unknown,
            fe_state: XenbusState::Unknown,
            conn: None,
            rxq: RxQueue::new(cfg.rx_queue_len, cfg.rx_queue_bytes),
            failed: false,
            watching: None,
            last_error: None,
            detach_closed_since: None,
            detach_closed: false,
            detach_done: false,
            counters: VifCounters::default(),
        }
    }

    /// This vif's id (for the switch and the snoop engine).
    pub fn id(&self) -> VifId {
        self.id
    }
    /// `(frontend domid, devid)`.
    pub fn frontend(&self) -> (DomId, u32) {
        (self.fe_dom, self.devid)
    }
    /// The MAC libxl configured (`mac` key), once validated.
    pub fn mac(&self) -> Option<Mac> {
        self.mac
    }
    /// Our published xenbus state.
    pub fn state(&self) -> XenbusState {
        self.state
    }
    /// The frontend's state as last read.
    pub fn frontend_state(&self) -> XenbusState {
        self.fe_state
    }
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }
    pub fn counters(&self) -> &VifCounters {
        &self.counters
    }
    /// The frontend's features (when connected).
    pub fn features(&self) -> Option<FrontendFeatures> {
        self.conn.as_ref().map(|c| c.features)
    }
    /// Local event channel ports `(tx, rx)` (equal unless split), when connected.
    pub fn event_ports(&self) -> Option<(u32, u32)> {
        self.conn.as_ref().map(|c| c.port)
    }
    /// Frames waiting in the RX queue.
    pub fn rx_queue_len(&self) -> usize {
        self.rxq.len()
    }
    /// Bytes waiting in the RX queue.
    pub fn rx_queue_bytes(&self) -> usize {
        self.rxq.bytes()
    }
    /// RX requests the frontend posted that we have not used yet (0 when disconnected or
    /// the ring is corrupt).
    pub fn rx_free_slots(&self) -> u32 {
        self.conn
            .as_ref()
            .and_then(|c| c.rx.unconsumed_requests().ok())
            .unwrap_or(0)
    }

    fn log<H: Hv>(&self, hv: &mut H, args: core::fmt::Arguments<'_>) {
        hv.log(format_args!(
            "vif{} ({}/{}): {}",
            self.id, self.fe_dom, self.devid, args
        ));
    }

    fn set_state<H: Hv>(&mut self, hv: &mut H, s: XenbusState) {
        if self.state == s {
            return;
        }
        let path = format!("{}/state", self.be_path);
        if let Err(e) = hv.write(&path, s.as_str().as_bytes()) {
            self.log(hv, format_args!("writing state {s:?}: {e:?}"));
        }
        self.log(
            hv,
            format_args!(
                "state {:?} -> {:?} (frontend {:?})",
                self.state, s, self.fe_state
            ),
        );
        self.state = s;
        self.counters.state_changes += 1;
    }

    fn read(&self, hv: &mut impl Hv, dir: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        match hv.read(&format!("{dir}/{key}")) {
            Ok(v) => Ok(Some(v)),
            Err(XsFail::NotFound) => Ok(None),
            Err(XsFail::Other(e)) => Err(format!("reading {key}: {e}")),
        }
    }

    /// Reads and validates the toolstack's keys. `Ok(None)`: a key is still missing (the
    /// toolstack is writing the directory): wait, publish nothing.
    fn read_config<H: Hv>(&self, hv: &mut H) -> Result<Option<(String, Mac)>, String> {
        let be = self.be_path.clone();
        let (Some(fe), Some(id), Some(mac)) = (
            self.read(hv, &be, "frontend")?,
            self.read(hv, &be, "frontend-id")?,
            self.read(hv, &be, "mac")?,
        ) else {
            return Ok(None);
        };
        let fe = parse_path(&fe)
            .ok_or("frontend path malformed")?
            .to_string();
        let expect = format!("/local/domain/{}/device/vif/{}", self.fe_dom, self.devid);
        if fe != expect {
            return Err(format!("frontend {fe:?} is not {expect:?}"));
        }
        if parse_u32(&id) != Some(self.fe_dom as u32) {
            return Err("frontend-id does not match the directory".to_string());
        }
        if let Some(h) = self.read(hv, &be, "handle")? {
            if parse_u32(&h) != Some(self.devid) {
                return Err("handle does not match the directory".to_string());
            }
        }
        let mac = parse_mac(&mac).ok_or("mac malformed (want a unicast aa:bb:cc:dd:ee:ff)")?;
        Ok(Some((fe, mac)))
    }

    /// Re-reads `online` and the frontend's state and acts. Frames flushed by a
    /// disconnection are reported in `flushed`. Returns whether the MAC became known
    /// (the caller attaches the switch port).
    pub(crate) fn refresh<H: Hv>(&mut self, hv: &mut H, flushed: &mut Vec<RxOutcome>) -> bool {
        let mut new_mac = false;
        if self.fe_path.is_none() {
            match self.read_config(hv) {
                Ok(None) => return false,
                Ok(Some((fe, mac))) => {
                    self.last_error = None;
                    self.fe_path = Some(fe.clone());
                    self.mac = Some(mac);
                    new_mac = true;
                    for (k, v) in ADVERTISED {
                        if let Err(e) = hv.write(&format!("{}/{k}", self.be_path), v.as_bytes()) {
                            self.log(hv, format_args!("writing {k}: {e:?}"));
                        }
                    }
                    let w = format!("{fe}/state");
                    if let Err(e) = hv.watch(&w, WATCH_TOKEN) {
                        self.log(hv, format_args!("watching {w}: {e:?}"));
                    }
                    self.watching = Some(w);
                    self.log(
                        hv,
                        format_args!("probed: frontend {fe}, mac {}", MacFmt(&mac)),
                    );
                    // Always publish on probe: the key may hold a stale value.
                    self.state = XenbusState::Unknown;
                    self.set_state(hv, XenbusState::InitWait);
                }
                Err(msg) => {
                    if self.last_error.as_deref() != Some(msg.as_str()) {
                        self.counters.count_fatal(Fatal::BadXenstore);
                        self.log(hv, format_args!("refused: {msg}"));
                        self.last_error = Some(msg);
                    }
                    self.set_state(hv, XenbusState::Closing);
                    return false;
                }
            }
        }
        let be = self.be_path.clone();
        let online = match self.read(hv, &be, "online") {
            Ok(Some(v)) => parse_bool(&v) == Some(true),
            Ok(None) => false,
            Err(e) => {
                self.log(hv, format_args!("{e}"));
                return new_mac;
            }
        };
        let fe_dir = self.fe_path.clone().unwrap_or_default();
        let fe_state = match self.read(hv, &fe_dir, "state") {
            Ok(Some(v)) => match XenbusState::parse(&v) {
                Some(s) => s,
                None => {
                    // Counted once per episode (our own state write re-triggers us).
                    if !self.failed {
                        self.fail(
                            hv,
                            Fatal::BadXenstore,
                            "frontend state is not a xenbus state".to_string(),
                            flushed,
                        );
                    }
                    return new_mac;
                }
            },
            Ok(None) => XenbusState::Unknown,
            Err(e) => {
                self.log(hv, format_args!("{e}"));
                return new_mac;
            }
        };
        self.fe_state = fe_state;
        use XenbusState::*;
        if !online {
            // Removal requested by the toolstack: stop, and tell the frontend.
            self.disconnect(hv, flushed);
            let target = match fe_state {
                Closed | Unknown | Initialising | InitWait => Closed,
                _ => Closing,
            };
            self.set_state(hv, target);
            // Closed: `Netback::housekeeping` removes the directory after a grace period.
            self.detach_closed = target == Closed;
            return new_mac;
        }
        self.detach_closed = false;
        self.detach_closed_since = None;
        self.detach_done = false;
        match fe_state {
            Initialising | InitWait => {
                // A (re)starting frontend: offer a fresh connection.
                self.disconnect(hv, flushed);
                self.failed = false;
                self.set_state(hv, InitWait);
            }
            Initialised | Connected => {
                if self.conn.is_none() && !self.failed && self.state == InitWait {
                    self.connect(hv, flushed);
                }
            }
            Closing => {
                self.disconnect(hv, flushed);
                self.set_state(hv, Closing);
            }
            Closed => {
                // Stay Closed until the frontend starts again (Initialising): a Linux
                // netfront waits to see us Closed before it finishes closing.
                self.disconnect(hv, flushed);
                self.failed = false;
                self.set_state(hv, Closed);
            }
            Unknown => {
                if self.conn.is_some() {
                    self.disconnect(hv, flushed);
                    self.set_state(hv, Closed);
                }
            }
            Reconfiguring | Reconfigured => {}
        }
        new_mac
    }

    fn read_connect_params<H: Hv>(&self, hv: &mut H) -> Result<ConnectParams, (Fatal, String)> {
        let fe = self.fe_path.clone().unwrap_or_default();
        let bad = |m: String| (Fatal::BadXenstore, m);
        let num = |hv: &mut H, key: &str| -> Result<Option<u32>, (Fatal, String)> {
            match self.read(hv, &fe, key).map_err(bad)? {
                None => Ok(None),
                Some(v) => parse_u32(&v)
                    .map(Some)
                    .ok_or_else(|| bad(format!("{key} is not a decimal u32"))),
            }
        };
        let flag = |hv: &mut H, key: &str| -> Result<bool, (Fatal, String)> {
            match self.read(hv, &fe, key).map_err(bad)? {
                None => Ok(false),
                Some(v) => parse_bool(&v).ok_or_else(|| bad(format!("{key} is not 0 or 1"))),
            }
        };
        let gref = |hv: &mut H, key: &str| -> Result<u32, (Fatal, String)> {
            let r = num(hv, key)?.ok_or_else(|| bad(format!("{key} missing")))?;
            if r < FIRST_GREF {
                return Err(bad(format!("{key} {r} is a reserved grant reference")));
            }
            Ok(r)
        };
        let port = |hv: &mut H, key: &str| -> Result<Option<u32>, (Fatal, String)> {
            match num(hv, key)? {
                Some(p) if p == 0 || p >= MAX_PORT => Err(bad(format!("{key} {p} out of range"))),
                p => Ok(p),
            }
        };
        if !flag(hv, "request-rx-copy")? {
            return Err((
                Fatal::NoRxCopy,
                "frontend does not request rx-copy (rx-flip is not supported)".to_string(),
            ));
        }
        if let Some(q) = num(hv, "multi-queue-num-queues")? {
            if q != 1 {
                return Err(bad(format!(
                    "multi-queue-num-queues {q}: only one queue is offered"
                )));
            }
        }
        let tx_ref = gref(hv, "tx-ring-ref")?;
        let rx_ref = gref(hv, "rx-ring-ref")?;
        let evtchn = match port(hv, "event-channel")? {
            Some(p) => (p, p),
            None => {
                let t = port(hv, "event-channel-tx")?;
                let r = port(hv, "event-channel-rx")?;
                match (t, r) {
                    (Some(t), Some(r)) if t != r => (t, r),
                    (Some(_), Some(_)) => {
                        return Err(bad("event-channel-tx equals event-channel-rx".to_string()))
                    }
                    _ => {
                        return Err(bad(
                            "no event-channel (nor event-channel-tx and -rx)".to_string()
                        ))
                    }
                }
            }
        };
        let features = FrontendFeatures {
            sg: flag(hv, "feature-sg")?,
            rx_notify: flag(hv, "feature-rx-notify")?,
            no_csum_offload: flag(hv, "feature-no-csum-offload")?,
            gso_tcpv4: flag(hv, "feature-gso-tcpv4")?,
            gso_tcpv6: flag(hv, "feature-gso-tcpv6")?,
        };
        Ok(ConnectParams {
            tx_ref,
            rx_ref,
            evtchn,
            features,
        })
    }

    fn connect<H: Hv>(&mut self, hv: &mut H, flushed: &mut Vec<RxOutcome>) {
        let res = self
            .read_connect_params(hv)
            .and_then(|p| Conn::connect(hv, self.fe_dom, &p).map(|c| (c, p)));
        match res {
            Ok((conn, p)) => {
                self.conn = Some(conn);
                self.counters.connects += 1;
                let path = format!("{}/hotplug-status", self.be_path);
                if let Err(e) = hv.write(&path, b"connected") {
                    self.log(hv, format_args!("writing hotplug-status: {e:?}"));
                }
                self.log(
                    hv,
                    format_args!(
                        "connected: tx-ring-ref {} rx-ring-ref {} evtchn {:?} {:?}",
                        p.tx_ref, p.rx_ref, p.evtchn, p.features
                    ),
                );
                if !p.features.rx_notify {
                    self.log(
                        hv,
                        format_args!("frontend lacks feature-rx-notify: RX is polled"),
                    );
                }
                self.set_state(hv, XenbusState::Connected);
            }
            Err((why, msg)) => self.fail(hv, why, msg, flushed),
        }
    }

    /// Disconnects (if connected), marks the vif failed and publishes Closing.
    pub(crate) fn fail<H: Hv>(
        &mut self,
        hv: &mut H,
        why: Fatal,
        msg: String,
        flushed: &mut Vec<RxOutcome>,
    ) {
        self.counters.count_fatal(why);
        self.log(hv, format_args!("fatal: {why}: {msg}"));
        self.disconnect(hv, flushed);
        self.failed = true;
        self.set_state(hv, XenbusState::Closing);
    }

    /// Unmaps, unbinds and flushes the RX queue (frames reported as not delivered).
    pub(crate) fn disconnect<H: Hv>(&mut self, hv: &mut H, flushed: &mut Vec<RxOutcome>) {
        if let Some(c) = self.conn.take() {
            c.release(hv);
            self.counters.disconnects += 1;
            self.log(hv, format_args!("disconnected; {}", self.counters));
        }
        while let Some(frame) = self.rxq.pop_front() {
            self.counters.count_rx_drop(RxDrop::Flushed);
            flushed.push(RxOutcome::NotDelivered {
                vif: self.id,
                frame,
                reason: RxDrop::Flushed,
            });
        }
    }

    /// Hot-unplug: the backend directory is gone. Releases everything; writes nothing
    /// (a write would recreate the removed nodes).
    pub(crate) fn teardown<H: Hv>(&mut self, hv: &mut H, flushed: &mut Vec<RxOutcome>) {
        self.disconnect(hv, flushed);
        if let Some(w) = self.watching.take() {
            let _ = hv.unwatch(&w, WATCH_TOKEN);
        }
        self.log(hv, format_args!("removed; {}", self.counters));
    }
}

/// How long a detached, Closed device keeps its backend directory before we remove it:
/// libxl first waits to see `state` = Closed, then for the directory to go (the job of
/// `xl devd` in a driver domain, which vsnoop does itself).
pub const DETACH_GRACE_NS: u64 = 1_000_000_000;

impl Vif {
    /// Removes the backend directory of a detached device once the grace period passed.
    pub(crate) fn detach_housekeeping<H: Hv>(&mut self, hv: &mut H, now_ns: u64) {
        if !self.detach_closed || self.detach_done {
            return;
        }
        let since = *self.detach_closed_since.get_or_insert(now_ns);
        if now_ns.saturating_sub(since) < DETACH_GRACE_NS {
            return;
        }
        self.detach_done = true;
        let be = self.be_path.clone();
        match hv.rm(&be) {
            Ok(()) => self.log(hv, format_args!("detached: backend directory removed")),
            Err(e) => self.log(hv, format_args!("removing the backend directory: {e:?}")),
        }
    }
}
