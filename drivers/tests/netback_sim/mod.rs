//! A simulated hypervisor (grant tables with permissions, event channels, an in-memory
//! xenstore with watches) and a simulated netfront written from `io/netif.h`, for driving
//! the real `drivers::netback` on the host. Shared by the `netback_*` tests and the bench.
#![allow(dead_code)]

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::ptr::NonNull;

use drivers::netback::{
    CopyDir, CopyOp, EventChannel, ForeignPage, GrantCopy, GrantMap, HvError, Log, Netback,
    NetbackConfig, PollOutput, Xenstore, XsFail,
};
use drivers::ring::FrontRing;
use xen::abi::grant_table::*;
use xen::abi::netif::*;
use xen::abi::ring::SringHeader;
use xen::abi::xenbus::XenbusState;
use xen::abi::{DomId, EvtchnPort, GrantRef, PAGE_SIZE};

/// The driver domain's id in the simulation.
pub const BACKEND: DomId = 1;

// ---------------------------------------------------------------------------------------
// Pages

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageId(usize);

fn layout() -> Layout {
    Layout::from_size_align(PAGE_SIZE, PAGE_SIZE).unwrap()
}

// ---------------------------------------------------------------------------------------
// The world

#[derive(Clone, Copy, Debug)]
struct Grant {
    page: PageId,
    to: DomId,
    readonly: bool,
    maps: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chan {
    Unbound { remote: DomId },
    Bound { remote: (DomId, EvtchnPort) },
}

/// Everything the simulated hypervisor knows.
pub struct World {
    pages: Vec<Option<NonNull<u8>>>,
    grants: BTreeMap<(DomId, GrantRef), Grant>,
    next_gref: BTreeMap<DomId, GrantRef>,
    maps: BTreeMap<u64, (DomId, GrantRef)>,
    next_handle: u64,
    chans: BTreeMap<(DomId, EvtchnPort), Chan>,
    pending: BTreeSet<(DomId, EvtchnPort)>,
    pub xs: BTreeMap<String, Vec<u8>>,
    watches: Vec<(DomId, String, String)>,
    events: VecDeque<(DomId, String, String)>,
    pub log: Vec<String>,
    pub echo_log: bool,
    /// Hypervisor-level errors the backend caused (double unmap, unknown handle...).
    pub violations: Vec<String>,
    pub copy_ops: u64,
    pub copy_calls: u64,
    pub notifies: u64,
    /// Make the next `n` map_grant calls fail (fault injection).
    pub fail_maps: u32,
    /// Make the next `n` bind_interdomain calls fail.
    pub fail_binds: u32,
}

impl Drop for World {
    fn drop(&mut self) {
        for p in self.pages.iter().flatten() {
            // SAFETY: allocated in `alloc_page` with `layout()`, freed once.
            unsafe { dealloc(p.as_ptr(), layout()) };
        }
    }
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> Self {
        World {
            pages: Vec::new(),
            grants: BTreeMap::new(),
            next_gref: BTreeMap::new(),
            maps: BTreeMap::new(),
            next_handle: 1,
            chans: BTreeMap::new(),
            pending: BTreeSet::new(),
            xs: BTreeMap::new(),
            watches: Vec::new(),
            events: VecDeque::new(),
            log: Vec::new(),
            echo_log: std::env::var_os("NETBACK_SIM_LOG").is_some(),
            violations: Vec::new(),
            copy_ops: 0,
            copy_calls: 0,
            notifies: 0,
            fail_maps: 0,
            fail_binds: 0,
        }
    }

    // ----- pages and grants (guest side) -----

    pub fn alloc_page(&mut self) -> PageId {
        // SAFETY: non-zero size layout.
        let p = unsafe { alloc_zeroed(layout()) };
        self.pages
            .push(Some(NonNull::new(p).expect("out of memory")));
        PageId(self.pages.len() - 1)
    }

    pub fn free_page(&mut self, id: PageId) {
        // A linear scan: skipped in the (optimised) benchmark build.
        debug_assert!(
            !self.grants.values().any(|g| g.page == id),
            "freeing a page that is still granted"
        );
        if let Some(p) = self.pages[id.0].take() {
            // SAFETY: allocated in `alloc_page`, taken out once.
            unsafe { dealloc(p.as_ptr(), layout()) };
        }
    }

    pub fn page_ptr(&self, id: PageId) -> NonNull<u8> {
        self.pages[id.0].expect("page freed")
    }

    pub fn page_write(&mut self, id: PageId, off: usize, data: &[u8]) {
        assert!(off + data.len() <= PAGE_SIZE);
        // SAFETY: inside the page; the simulation is single-threaded.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.page_ptr(id).as_ptr().add(off),
                data.len(),
            )
        };
    }

    pub fn page_read(&self, id: PageId, off: usize, len: usize) -> Vec<u8> {
        assert!(off + len <= PAGE_SIZE);
        let mut v = vec![0u8; len];
        // SAFETY: inside the page.
        unsafe {
            std::ptr::copy_nonoverlapping(self.page_ptr(id).as_ptr().add(off), v.as_mut_ptr(), len)
        };
        v
    }

    /// `dom` grants `page` to `to`.
    pub fn grant(&mut self, dom: DomId, page: PageId, to: DomId, readonly: bool) -> GrantRef {
        let next = self
            .next_gref
            .entry(dom)
            .or_insert(GNTTAB_NR_RESERVED_ENTRIES);
        let r = *next;
        *next += 1;
        self.grants.insert(
            (dom, r),
            Grant {
                page,
                to,
                readonly,
                maps: 0,
            },
        );
        r
    }

    /// `dom` revokes a grant; refuses (returns false) while it is mapped.
    pub fn end_grant(&mut self, dom: DomId, r: GrantRef) -> bool {
        match self.grants.get(&(dom, r)) {
            Some(g) if g.maps > 0 => false,
            Some(_) => {
                self.grants.remove(&(dom, r));
                true
            }
            None => false,
        }
    }

    pub fn grant_is_mapped(&self, dom: DomId, r: GrantRef) -> bool {
        self.grants.get(&(dom, r)).is_some_and(|g| g.maps > 0)
    }

    // ----- event channels (guest side) -----

    pub fn alloc_unbound(&mut self, dom: DomId, remote: DomId) -> EvtchnPort {
        let port = (1..)
            .find(|p| !self.chans.contains_key(&(dom, *p)))
            .unwrap();
        self.chans.insert((dom, port), Chan::Unbound { remote });
        port
    }

    pub fn close_port(&mut self, dom: DomId, port: EvtchnPort) {
        if let Some(Chan::Bound { remote }) = self.chans.remove(&(dom, port)) {
            if let Some(c) = self.chans.get_mut(&remote) {
                *c = Chan::Unbound { remote: dom };
            }
        }
    }

    pub fn send(&mut self, dom: DomId, port: EvtchnPort) {
        if let Some(Chan::Bound { remote }) = self.chans.get(&(dom, port)) {
            self.pending.insert(*remote);
        }
    }

    /// Takes the pending flag of `(dom, port)`.
    pub fn take_pending(&mut self, dom: DomId, port: EvtchnPort) -> bool {
        self.pending.remove(&(dom, port))
    }

    /// Ports of the backend still bound.
    pub fn backend_ports(&self) -> Vec<EvtchnPort> {
        self.chans
            .keys()
            .filter(|(d, _)| *d == BACKEND)
            .map(|(_, p)| *p)
            .collect()
    }

    // ----- xenstore -----

    fn fire(&mut self, path: &str) {
        for (d, w, t) in &self.watches {
            let hit = path == w
                || path.starts_with(&format!("{w}/"))
                || w.starts_with(&format!("{path}/"));
            if hit {
                self.events.push_back((*d, path.to_string(), t.clone()));
            }
        }
    }

    pub fn xs_write(&mut self, path: &str, value: &[u8]) {
        // Parents exist implicitly (as empty nodes).
        let mut p = String::new();
        for comp in path.trim_start_matches('/').split('/') {
            p.push('/');
            p.push_str(comp);
            if p != path {
                self.xs.entry(p.clone()).or_default();
            }
        }
        self.xs.insert(path.to_string(), value.to_vec());
        self.fire(path);
    }

    pub fn xs_read(&self, path: &str) -> Option<Vec<u8>> {
        self.xs.get(path).cloned()
    }

    pub fn xs_read_str(&self, path: &str) -> Option<String> {
        self.xs_read(path)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    pub fn xs_rm(&mut self, path: &str) {
        let prefix = format!("{path}/");
        let existed = self.xs.remove(path).is_some();
        let before = self.xs.len();
        self.xs.retain(|k, _| !k.starts_with(&prefix));
        if existed || before != self.xs.len() {
            self.fire(path);
        }
    }

    pub fn xs_dir(&self, path: &str) -> Option<Vec<String>> {
        if !self.xs.contains_key(path) {
            return None;
        }
        let prefix = format!("{path}/");
        let mut out = BTreeSet::new();
        for k in self.xs.keys() {
            if let Some(rest) = k.strip_prefix(&prefix) {
                out.insert(rest.split('/').next().unwrap().to_string());
            }
        }
        Some(out.into_iter().collect())
    }

    pub fn xs_watch(&mut self, dom: DomId, path: &str, token: &str) {
        self.watches
            .push((dom, path.to_string(), token.to_string()));
        self.events
            .push_back((dom, path.to_string(), token.to_string()));
    }

    /// Takes the next watch event for `dom`.
    pub fn next_event(&mut self, dom: DomId) -> Option<(String, String)> {
        let i = self.events.iter().position(|(d, _, _)| *d == dom)?;
        let (_, p, t) = self.events.remove(i).unwrap();
        Some((p, t))
    }

    pub fn backend_watches(&self) -> usize {
        self.watches
            .iter()
            .filter(|(d, _, _)| *d == BACKEND)
            .count()
    }

    /// What libxl writes to add `vif` `devid` of `fe` served by the backend.
    pub fn libxl_add_vif(&mut self, fe: DomId, devid: u32, mac: &str) {
        let be = be_path(fe, devid);
        let fp = fe_path(fe, devid);
        self.xs_write(&format!("{fp}/backend"), be.as_bytes());
        self.xs_write(&format!("{fp}/backend-id"), BACKEND.to_string().as_bytes());
        self.xs_write(&format!("{fp}/handle"), devid.to_string().as_bytes());
        self.xs_write(&format!("{fp}/mac"), mac.as_bytes());
        self.xs_write(&format!("{fp}/state"), b"1");
        for (k, v) in [
            ("frontend", fp.clone()),
            ("frontend-id", fe.to_string()),
            ("online", "1".into()),
            ("script", "/etc/xen/scripts/vif-bridge".into()),
            ("mac", mac.into()),
            ("bridge", "xenbr0".into()),
            ("handle", devid.to_string()),
            ("type", "vif".into()),
            ("state", "1".into()),
        ] {
            self.xs_write(&format!("{be}/{k}"), v.as_bytes());
        }
    }

    /// Hypervisor-level leak check: nothing mapped, no backend port bound, no backend
    /// watch on a frontend.
    pub fn assert_clean(&self) {
        assert!(self.maps.is_empty(), "grants still mapped: {:?}", self.maps);
        assert!(self.grants.values().all(|g| g.maps == 0));
        assert!(
            self.backend_ports().is_empty(),
            "backend ports still bound: {:?}",
            self.backend_ports()
        );
        assert!(
            self.violations.is_empty(),
            "hypervisor violations: {:?}",
            self.violations
        );
    }

    pub fn log_contains(&self, needle: &str) -> bool {
        self.log.iter().any(|l| l.contains(needle))
    }
}

pub fn be_path(fe: DomId, devid: u32) -> String {
    format!("/local/domain/{BACKEND}/backend/vif/{fe}/{devid}")
}

pub fn fe_path(fe: DomId, devid: u32) -> String {
    format!("/local/domain/{fe}/device/vif/{devid}")
}

// ----- the traits, as seen by the backend domain -----

// SAFETY: pages are allocated page-aligned and stay allocated until the world drops;
// `free_page` refuses granted pages and `end_grant` refuses mapped grants, so a mapped
// page stays valid until `unmap_grant`.
unsafe impl GrantMap for World {
    fn map_grant(&mut self, domid: DomId, gref: GrantRef) -> Result<ForeignPage, HvError> {
        if self.fail_maps > 0 {
            self.fail_maps -= 1;
            return Err(HvError {
                code: GNTST_GENERAL_ERROR as i32,
                what: "map (injected)",
            });
        }
        let Some(g) = self.grants.get_mut(&(domid, gref)) else {
            return Err(HvError {
                code: GNTST_BAD_GNTREF as i32,
                what: "map",
            });
        };
        if g.to != BACKEND || g.readonly {
            return Err(HvError {
                code: GNTST_PERMISSION_DENIED as i32,
                what: "map",
            });
        }
        g.maps += 1;
        let page = g.page;
        let handle = self.next_handle;
        self.next_handle += 1;
        self.maps.insert(handle, (domid, gref));
        Ok(ForeignPage {
            handle,
            ptr: self.page_ptr(page),
        })
    }

    fn unmap_grant(&mut self, page: ForeignPage) -> Result<(), HvError> {
        let Some(key) = self.maps.remove(&page.handle) else {
            self.violations
                .push(format!("unmap of unknown handle {}", page.handle));
            return Err(HvError {
                code: GNTST_BAD_HANDLE as i32,
                what: "unmap",
            });
        };
        let gpage = self.grants[&key].page;
        if self.page_ptr(gpage) != page.ptr {
            self.violations
                .push("unmap with a pointer that is not the mapping".into());
        }
        self.grants.get_mut(&key).expect("mapped grant exists").maps -= 1;
        Ok(())
    }
}

// SAFETY: copies exactly `len` bytes within the op's local segment, writing local
// memory only for `FromGuest`, after checking the foreign grant.
unsafe impl GrantCopy for World {
    fn grant_copy(&mut self, ops: &mut [CopyOp<'_>]) {
        self.copy_calls += ops.len().div_ceil(64) as u64;
        for op in ops.iter_mut() {
            self.copy_ops += 1;
            let st = match self.grants.get(&(op.domid, op.gref)) {
                None => GNTST_BAD_GNTREF,
                Some(g) if g.to != BACKEND => GNTST_PERMISSION_DENIED,
                Some(g) if op.dir == CopyDir::ToGuest && g.readonly => GNTST_PERMISSION_DENIED,
                Some(_) if op.gref_offset as usize + op.len() > PAGE_SIZE => GNTST_BAD_COPY_ARG,
                Some(_) if (op.local_addr() % PAGE_SIZE) + op.len() > PAGE_SIZE => {
                    GNTST_BAD_COPY_ARG
                }
                Some(g) => {
                    // SAFETY: the foreign range is inside the page (checked above); the
                    // local segment is borrowed by the op (CopyOp's contract).
                    unsafe {
                        let foreign = self.page_ptr(g.page).as_ptr().add(op.gref_offset as usize);
                        match op.dir {
                            CopyDir::FromGuest => std::ptr::copy_nonoverlapping(
                                foreign,
                                op.local_ptr().as_ptr(),
                                op.len(),
                            ),
                            CopyDir::ToGuest => std::ptr::copy_nonoverlapping(
                                op.local_ptr().as_ptr(),
                                foreign,
                                op.len(),
                            ),
                        }
                    }
                    GNTST_OKAY
                }
            };
            op.status = st;
        }
    }
}

impl EventChannel for World {
    fn bind_interdomain(
        &mut self,
        remote_dom: DomId,
        remote_port: EvtchnPort,
    ) -> Result<EvtchnPort, HvError> {
        if self.fail_binds > 0 {
            self.fail_binds -= 1;
            return Err(HvError {
                code: -22,
                what: "bind (injected)",
            });
        }
        match self.chans.get(&(remote_dom, remote_port)) {
            Some(Chan::Unbound { remote }) if *remote == BACKEND => {}
            _ => {
                return Err(HvError {
                    code: -22,
                    what: "bind_interdomain",
                })
            }
        }
        let port = (1..)
            .find(|p| !self.chans.contains_key(&(BACKEND, *p)))
            .unwrap();
        self.chans.insert(
            (BACKEND, port),
            Chan::Bound {
                remote: (remote_dom, remote_port),
            },
        );
        self.chans.insert(
            (remote_dom, remote_port),
            Chan::Bound {
                remote: (BACKEND, port),
            },
        );
        Ok(port)
    }

    fn notify(&mut self, port: EvtchnPort) {
        match self.chans.get(&(BACKEND, port)) {
            Some(Chan::Bound { .. }) => {
                self.notifies += 1;
                self.send(BACKEND, port);
            }
            _ => self
                .violations
                .push(format!("notify on unbound port {port}")),
        }
    }

    fn close(&mut self, port: EvtchnPort) {
        if !self.chans.contains_key(&(BACKEND, port)) {
            self.violations
                .push(format!("close of unbound port {port}"));
        }
        self.close_port(BACKEND, port);
    }
}

impl Xenstore for World {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, XsFail> {
        self.xs_read(path).ok_or(XsFail::NotFound)
    }
    fn write(&mut self, path: &str, value: &[u8]) -> Result<(), XsFail> {
        self.xs_write(path, value);
        Ok(())
    }
    fn directory(&mut self, path: &str) -> Result<Vec<String>, XsFail> {
        self.xs_dir(path).ok_or(XsFail::NotFound)
    }
    fn rm(&mut self, path: &str) -> Result<(), XsFail> {
        self.xs_rm(path);
        Ok(())
    }
    fn watch(&mut self, path: &str, token: &str) -> Result<(), XsFail> {
        self.xs_watch(BACKEND, path, token);
        Ok(())
    }
    fn unwatch(&mut self, path: &str, token: &str) -> Result<(), XsFail> {
        let before = self.watches.len();
        if let Some(i) = self
            .watches
            .iter()
            .position(|(d, p, t)| *d == BACKEND && p == path && t == token)
        {
            self.watches.remove(i);
        }
        if before == self.watches.len() {
            return Err(XsFail::NotFound);
        }
        Ok(())
    }
}

impl Log for World {
    fn log(&mut self, line: fmt::Arguments<'_>) {
        let s = line.to_string();
        if self.echo_log {
            eprintln!("netback: {s}");
        }
        self.log.push(s);
    }
}

// ---------------------------------------------------------------------------------------
// The simulated netfront

/// Options a test can change before connecting.
#[derive(Clone, Debug)]
pub struct FrontOpts {
    pub sg: bool,
    pub rx_copy: bool,
    pub rx_notify: bool,
    pub split_evtchn: bool,
    /// Write Initialised (3) instead of Connected (4) after writing the keys.
    pub initialised_only: bool,
    /// RX buffers kept posted.
    pub rx_buffers: usize,
    /// Grant RX buffers read-only (hostile: the backend cannot write them).
    pub rx_readonly: bool,
    /// Advertise `feature-gso-tcpv4` (and take GSO extra slots on RX).
    pub gso: bool,
}

impl FrontOpts {
    /// A frontend that posts no RX buffers (a guest that does not drain its ring).
    pub fn idle() -> Self {
        FrontOpts {
            rx_buffers: 0,
            ..Default::default()
        }
    }
}

impl Default for FrontOpts {
    fn default() -> Self {
        FrontOpts {
            sg: true,
            rx_copy: true,
            rx_notify: true,
            split_evtchn: false,
            initialised_only: false,
            rx_buffers: 64,
            rx_readonly: false,
            gso: false,
        }
    }
}

type TxFront = FrontRing<NetifTxRequest, NetifTxResponse>;
type RxFront = FrontRing<NetifRxRequest, NetifRxResponse>;

/// A netfront in domain `dom`: rings, buffers, and what it received.
pub struct Netfront {
    pub dom: DomId,
    pub devid: u32,
    pub mac: [u8; 6],
    pub opts: FrontOpts,
    pub state: XenbusState,
    tx_page: PageId,
    rx_page: PageId,
    pub tx_gref: GrantRef,
    pub rx_gref: GrantRef,
    tx: TxFront,
    rx: RxFront,
    pub ports: (EvtchnPort, EvtchnPort),
    next_id: u16,
    /// TX requests awaiting a response: id -> (gref, page) (None for raw hostile slots).
    pub tx_inflight: BTreeMap<u16, Option<(GrantRef, PageId)>>,
    /// RX buffers posted: id -> (gref, page).
    rx_posted: BTreeMap<u16, (GrantRef, PageId)>,
    /// Ids of posted RX requests in ring order (to check responses land in their slot).
    rx_order: VecDeque<u16>,
    rx_partial: Vec<u8>,
    rx_partial_bad: bool,
    first_flags: u16,
    /// The next RX slot is a GSO extra (the first slot of the packet said so).
    expect_extra: bool,
    complete_after_extra: bool,
    cur_gso: Option<u16>,
    /// GSO size of each received packet, in `received` order.
    pub received_gso: Vec<Option<u16>>,
    /// Complete frames received, with their first response's flags.
    pub received: Vec<(Vec<u8>, u16)>,
    pub rx_errors: u64,
    /// Every TX status received (NULLs excluded).
    pub tx_status: Vec<i16>,
    pub tx_nulls: u64,
    /// Protocol violations the frontend saw (responses in the wrong slot, unknown ids).
    pub violations: Vec<String>,
}

fn ring_init(world: &mut World, page: PageId) {
    // SHARED_RING_INIT.
    let h = SringHeader::default();
    let bytes: [u8; 16] = {
        let mut b = [0u8; 16];
        b[0..4].copy_from_slice(&h.req_prod.to_le_bytes());
        b[4..8].copy_from_slice(&h.req_event.to_le_bytes());
        b[8..12].copy_from_slice(&h.rsp_prod.to_le_bytes());
        b[12..16].copy_from_slice(&h.rsp_event.to_le_bytes());
        b
    };
    world.page_write(page, 0, &bytes);
}

impl Netfront {
    /// Sets up rings and the event channel (not yet advertised in xenstore).
    pub fn new(world: &mut World, dom: DomId, devid: u32, mac: [u8; 6], opts: FrontOpts) -> Self {
        let tx_page = world.alloc_page();
        let rx_page = world.alloc_page();
        ring_init(world, tx_page);
        ring_init(world, rx_page);
        let tx_gref = world.grant(dom, tx_page, BACKEND, false);
        let rx_gref = world.grant(dom, rx_page, BACKEND, false);
        // SAFETY: the pages live as long as the world, which outlives the frontend in
        // every test; the backend accesses them only through the ring protocol.
        let tx = unsafe { TxFront::attach(world.page_ptr(tx_page), PAGE_SIZE, 0) }.unwrap();
        // SAFETY: as above.
        let rx = unsafe { RxFront::attach(world.page_ptr(rx_page), PAGE_SIZE, 0) }.unwrap();
        let p0 = world.alloc_unbound(dom, BACKEND);
        let p1 = if opts.split_evtchn {
            world.alloc_unbound(dom, BACKEND)
        } else {
            p0
        };
        Netfront {
            dom,
            devid,
            mac,
            opts,
            state: XenbusState::Initialising,
            tx_page,
            rx_page,
            tx_gref,
            rx_gref,
            tx,
            rx,
            ports: (p0, p1),
            next_id: 0,
            tx_inflight: BTreeMap::new(),
            rx_posted: BTreeMap::new(),
            rx_order: VecDeque::new(),
            rx_partial: Vec::new(),
            rx_partial_bad: false,
            first_flags: 0,
            expect_extra: false,
            complete_after_extra: false,
            cur_gso: None,
            received_gso: Vec::new(),
            received: Vec::new(),
            rx_errors: 0,
            tx_status: Vec::new(),
            tx_nulls: 0,
            violations: Vec::new(),
        }
    }

    pub fn path(&self) -> String {
        fe_path(self.dom, self.devid)
    }

    pub fn set_state(&mut self, world: &mut World, s: XenbusState) {
        self.state = s;
        world.xs_write(&format!("{}/state", self.path()), s.as_str().as_bytes());
    }

    pub fn write_key(&self, world: &mut World, key: &str, value: &str) {
        world.xs_write(&format!("{}/{key}", self.path()), value.as_bytes());
    }

    /// What netfront writes when the backend reaches InitWait, then Connected.
    pub fn connect(&mut self, world: &mut World) {
        let o = self.opts.clone();
        self.write_key(world, "tx-ring-ref", &self.tx_gref.to_string());
        self.write_key(world, "rx-ring-ref", &self.rx_gref.to_string());
        if o.split_evtchn {
            self.write_key(world, "event-channel-tx", &self.ports.0.to_string());
            self.write_key(world, "event-channel-rx", &self.ports.1.to_string());
        } else {
            self.write_key(world, "event-channel", &self.ports.0.to_string());
        }
        if o.rx_copy {
            self.write_key(world, "request-rx-copy", "1");
        }
        self.write_key(
            world,
            "feature-rx-notify",
            if o.rx_notify { "1" } else { "0" },
        );
        self.write_key(world, "feature-sg", if o.sg { "1" } else { "0" });
        self.write_key(world, "feature-gso-tcpv4", if o.gso { "1" } else { "0" });
        self.write_key(world, "feature-no-csum-offload", "0");
        self.post_rx(world, o.rx_buffers);
        let s = if o.initialised_only {
            XenbusState::Initialised
        } else {
            XenbusState::Connected
        };
        self.set_state(world, s);
    }

    /// Reacts to the backend's state as Linux netfront does.
    pub fn react(&mut self, world: &mut World) {
        let be = world
            .xs_read(&format!("{}/state", be_path(self.dom, self.devid)))
            .and_then(|v| XenbusState::parse(&v));
        match (be, self.state) {
            (Some(XenbusState::InitWait), XenbusState::Initialising) => self.connect(world),
            (Some(XenbusState::Closing), XenbusState::Connected | XenbusState::Initialised) => {
                self.set_state(world, XenbusState::Closed)
            }
            _ => {}
        }
    }

    fn id(&mut self) -> u16 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            if !self.tx_inflight.contains_key(&id) && !self.rx_posted.contains_key(&id) {
                return id;
            }
        }
    }

    /// Posts up to `n` RX buffers (bounded by free ring slots).
    pub fn post_rx(&mut self, world: &mut World, n: usize) {
        for _ in 0..n {
            if self.rx.is_full() {
                break;
            }
            let page = world.alloc_page();
            let gref = world.grant(self.dom, page, BACKEND, self.opts.rx_readonly);
            let id = self.id();
            self.rx
                .put_request(NetifRxRequest { id, pad: 0, gref })
                .unwrap();
            self.rx_posted.insert(id, (gref, page));
            self.rx_order.push_back(id);
        }
        if self.rx.push_requests_and_check_notify() {
            world.send(self.dom, self.ports.1);
        }
    }

    /// Posts a raw RX request (hostile tests).
    pub fn post_rx_raw(&mut self, world: &mut World, gref: GrantRef) {
        let id = self.id();
        self.rx
            .put_request(NetifRxRequest { id, pad: 0, gref })
            .unwrap();
        self.rx_order.push_back(id);
        self.rx_posted.insert(id, (gref, PageId(usize::MAX)));
        if self.rx.push_requests_and_check_notify() {
            world.send(self.dom, self.ports.1);
        }
    }

    /// Sends `frame` in slots of the given sizes (summing to its length), each slot in
    /// its own page at `offset`. `flags` go on the first slot.
    pub fn send_sg(
        &mut self,
        world: &mut World,
        frame: &[u8],
        segs: &[usize],
        offset: u16,
        flags: u16,
    ) {
        assert_eq!(segs.iter().sum::<usize>(), frame.len());
        let mut at = 0;
        for (i, &len) in segs.iter().enumerate() {
            let page = world.alloc_page();
            world.page_write(page, offset as usize, &frame[at..at + len]);
            at += len;
            let gref = world.grant(self.dom, page, BACKEND, true);
            let id = self.id();
            let mut f = if i == 0 { flags } else { 0 };
            if i + 1 < segs.len() {
                f |= NETTXF_MORE_DATA;
            }
            let size = if i == 0 {
                frame.len() as u16
            } else {
                len as u16
            };
            self.tx
                .put_request(NetifTxRequest {
                    gref,
                    offset,
                    flags: f,
                    id,
                    size,
                })
                .unwrap();
            self.tx_inflight.insert(id, Some((gref, page)));
        }
        self.push_tx(world);
    }

    /// Sends a frame in one slot (or page-sized slots if larger).
    pub fn send(&mut self, world: &mut World, frame: &[u8]) {
        let segs: Vec<usize> = frame.chunks(PAGE_SIZE).map(|c| c.len()).collect();
        self.send_sg(world, frame, &segs, 0, 0);
    }

    /// Puts raw TX requests (an id of `u16::MAX` is replaced by a fresh one; extra info
    /// slots made by [`extra_req`] are not tracked), then publishes them.
    pub fn send_raw(&mut self, world: &mut World, reqs: &[NetifTxRequest]) {
        for r in reqs {
            let mut r = *r;
            if r.id == u16::MAX {
                r.id = self.id();
            }
            self.tx.put_request(r).unwrap();
            if r.id != EXTRA_ID {
                self.tx_inflight.insert(r.id, None);
            }
        }
        self.push_tx(world);
    }

    /// Grants a page holding `data` at `offset`, read-only, to the backend.
    pub fn grant_data(&mut self, world: &mut World, data: &[u8], offset: usize) -> GrantRef {
        let page = world.alloc_page();
        world.page_write(page, offset, data);
        world.grant(self.dom, page, BACKEND, true)
    }

    fn push_tx(&mut self, world: &mut World) {
        if self.tx.push_requests_and_check_notify() {
            world.send(self.dom, self.ports.0);
        }
    }

    /// Overwrites the shared `req_prod` of a ring (hostile).
    pub fn corrupt_req_prod(&mut self, world: &mut World, tx: bool, value: u32) {
        let page = if tx { self.tx_page } else { self.rx_page };
        world.page_write(page, 0, &value.to_le_bytes());
    }

    pub fn tx_req_prod(&self) -> u32 {
        self.tx.req_prod_pvt()
    }

    /// Consumes responses on both rings; reposts RX buffers. Returns whether anything
    /// was consumed.
    pub fn poll(&mut self, world: &mut World) -> bool {
        let mut any = false;
        world.take_pending(self.dom, self.ports.0);
        world.take_pending(self.dom, self.ports.1);
        loop {
            let rsp = match self.tx.next_response() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    self.violations.push(format!("tx ring: {e:?}"));
                    break;
                }
            };
            any = true;
            if rsp.status == NETIF_RSP_NULL {
                self.tx_nulls += 1;
                continue;
            }
            match self.tx_inflight.remove(&rsp.id) {
                Some(buf) => {
                    if let Some((gref, page)) = buf {
                        assert!(world.end_grant(self.dom, gref), "TX grant still mapped");
                        world.free_page(page);
                    }
                    self.tx_status.push(rsp.status);
                }
                None => self
                    .violations
                    .push(format!("TX response for unknown id {}", rsp.id)),
            }
        }
        let mut consumed = 0;
        loop {
            let rsp = match self.rx.next_response() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    self.violations.push(format!("rx ring: {e:?}"));
                    break;
                }
            };
            any = true;
            consumed += 1;
            let expect = self.rx_order.pop_front();
            if self.expect_extra {
                // netif_extra_info laid over the response: type, flags | size | gso type.
                self.expect_extra = false;
                let (ty, more) = (rsp.id & 0xff, rsp.id >> 8);
                if ty != u16::from(XEN_NETIF_EXTRA_TYPE_GSO)
                    || more != 0
                    || rsp.offset == 0
                    || rsp.flags & 0xff != u16::from(XEN_NETIF_GSO_TYPE_TCPV4)
                {
                    self.violations.push(format!("bad GSO extra {rsp:?}"));
                }
                self.cur_gso = Some(rsp.offset);
                if let Some((gref, page)) = expect.and_then(|id| self.rx_posted.remove(&id)) {
                    if page.0 != usize::MAX {
                        assert!(world.end_grant(self.dom, gref), "RX grant still mapped");
                        world.free_page(page);
                    }
                }
                if std::mem::take(&mut self.complete_after_extra) {
                    let f = std::mem::take(&mut self.rx_partial);
                    if !self.rx_partial_bad && !f.is_empty() {
                        self.received.push((f, self.first_flags));
                        self.received_gso.push(self.cur_gso);
                    }
                    self.cur_gso = None;
                    self.rx_partial_bad = false;
                }
                continue;
            }
            if expect != Some(rsp.id) {
                self.violations.push(format!(
                    "RX response id {} in the slot of request {:?}",
                    rsp.id, expect
                ));
            }
            let Some((gref, page)) = self.rx_posted.remove(&rsp.id) else {
                self.violations
                    .push(format!("RX response for unknown id {}", rsp.id));
                continue;
            };
            let real = page.0 != usize::MAX;
            if rsp.status < 0 || rsp.offset as usize + rsp.status as usize > PAGE_SIZE {
                self.rx_errors += 1;
                self.rx_partial_bad = true;
            } else if real && !self.rx_partial_bad {
                let bytes = world.page_read(page, rsp.offset as usize, rsp.status as usize);
                if self.rx_partial.is_empty() {
                    self.first_flags = rsp.flags;
                    if rsp.flags & NETRXF_EXTRA_INFO != 0 {
                        if !self.opts.gso {
                            self.violations
                                .push("GSO extra for a frontend without GSO".into());
                        }
                        self.expect_extra = true;
                    }
                }
                self.rx_partial.extend_from_slice(&bytes);
            }
            if real {
                assert!(world.end_grant(self.dom, gref), "RX grant still mapped");
                world.free_page(page);
            }
            // A packet whose first slot announced an extra ends only after the extra (which
            // follows the first slot, like netfront's xennet_get_extras).
            if rsp.flags & NETRXF_MORE_DATA == 0 && self.expect_extra {
                self.complete_after_extra = true;
                continue;
            }
            if rsp.flags & NETRXF_MORE_DATA == 0 {
                if !self.rx_partial_bad && !self.rx_partial.is_empty() {
                    let f = std::mem::take(&mut self.rx_partial);
                    let flags = self.first_flags;
                    self.received.push((f, flags));
                    self.received_gso.push(self.cur_gso.take());
                }
                self.rx_partial.clear();
                self.rx_partial_bad = false;
                self.cur_gso = None;
            }
        }
        if consumed > 0 {
            self.post_rx(world, consumed);
        }
        let _ = self.tx.final_check_for_responses();
        let _ = self.rx.final_check_for_responses();
        any
    }

    /// Frames received so far (taken).
    pub fn take_received(&mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.received)
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    /// Releases everything the frontend granted (after the backend disconnected).
    pub fn destroy(mut self, world: &mut World) {
        for (_, (gref, page)) in std::mem::take(&mut self.rx_posted) {
            if page.0 != usize::MAX {
                assert!(world.end_grant(self.dom, gref), "RX buffer still mapped");
                world.free_page(page);
            }
        }
        for (_, buf) in std::mem::take(&mut self.tx_inflight) {
            if let Some((gref, page)) = buf {
                assert!(world.end_grant(self.dom, gref), "TX buffer still mapped");
                world.free_page(page);
            }
        }
        assert!(
            world.end_grant(self.dom, self.tx_gref),
            "TX ring still mapped"
        );
        assert!(
            world.end_grant(self.dom, self.rx_gref),
            "RX ring still mapped"
        );
        world.close_port(self.dom, self.ports.0);
        if self.ports.1 != self.ports.0 {
            world.close_port(self.dom, self.ports.1);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The harness: world + backend + frontends, pumped until quiet

pub struct Sim {
    pub world: World,
    pub nb: Netback,
    pub fronts: BTreeMap<(DomId, u32), Netfront>,
    pub now: u64,
    /// Every poll output's RX outcomes and uplink frames.
    pub outcomes: Vec<drivers::netback::RxOutcome>,
    pub uplink: Vec<drivers::netback::Frame>,
}

pub fn mac(n: u8) -> [u8; 6] {
    [0x00, 0x16, 0x3e, 0x00, 0x00, n]
}

pub fn mac_str(m: [u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

impl Default for Sim {
    fn default() -> Self {
        Self::new()
    }
}

impl Sim {
    pub fn new() -> Self {
        Self::with_config(NetbackConfig::new(BACKEND))
    }

    pub fn with_config(cfg: NetbackConfig) -> Self {
        let mut world = World::new();
        world.xs_write(&format!("/local/domain/{BACKEND}/backend"), b"");
        let mut nb = Netback::new(cfg);
        nb.start(&mut world).unwrap();
        let mut s = Sim {
            world,
            nb,
            fronts: BTreeMap::new(),
            now: 0,
            outcomes: Vec::new(),
            uplink: Vec::new(),
        };
        s.settle();
        s
    }

    /// libxl adds a vif; a netfront with `opts` boots in the guest (connects when the
    /// backend reaches InitWait).
    pub fn add_guest(&mut self, dom: DomId, devid: u32, m: [u8; 6], opts: FrontOpts) {
        self.world.libxl_add_vif(dom, devid, &mac_str(m));
        let nf = Netfront::new(&mut self.world, dom, devid, m, opts);
        self.fronts.insert((dom, devid), nf);
        self.settle();
    }

    pub fn front(&mut self, dom: DomId) -> &mut Netfront {
        self.fronts.get_mut(&(dom, 0)).unwrap()
    }

    pub fn vif(&self, dom: DomId) -> &drivers::netback::Vif {
        let id = self.nb.vif_by_frontend(dom, 0).expect("vif exists");
        self.nb.vif(id).unwrap()
    }

    pub fn be_state(&self, dom: DomId) -> Option<XenbusState> {
        self.world
            .xs_read(&format!("{}/state", be_path(dom, 0)))
            .and_then(|v| XenbusState::parse(&v))
    }

    pub fn send(&mut self, dom: DomId, frame: &[u8]) {
        let nf = self.fronts.get_mut(&(dom, 0)).unwrap();
        nf.send(&mut self.world, frame);
    }

    pub fn send_sg(&mut self, dom: DomId, frame: &[u8], segs: &[usize], offset: u16, flags: u16) {
        let nf = self.fronts.get_mut(&(dom, 0)).unwrap();
        nf.send_sg(&mut self.world, frame, segs, offset, flags);
    }

    pub fn send_raw(&mut self, dom: DomId, reqs: &[NetifTxRequest]) {
        let nf = self.fronts.get_mut(&(dom, 0)).unwrap();
        nf.send_raw(&mut self.world, reqs);
    }

    pub fn grant_data(&mut self, dom: DomId, data: &[u8], offset: usize) -> GrantRef {
        let nf = self.fronts.get_mut(&(dom, 0)).unwrap();
        nf.grant_data(&mut self.world, data, offset)
    }

    pub fn set_front_state(&mut self, dom: DomId, st: XenbusState) {
        let nf = self.fronts.get_mut(&(dom, 0)).unwrap();
        nf.set_state(&mut self.world, st);
    }

    /// Whether guest `dom`'s (tx, rx) ring grants are mapped by the backend.
    pub fn rings_mapped(&self, dom: DomId) -> (bool, bool) {
        let nf = &self.fronts[&(dom, 0)];
        (
            self.world.grant_is_mapped(dom, nf.tx_gref),
            self.world.grant_is_mapped(dom, nf.rx_gref),
        )
    }

    pub fn received(&mut self, dom: DomId) -> Vec<Vec<u8>> {
        self.front(dom).take_received()
    }

    /// Replaces guest `dom`'s frontend with a fresh one (a guest kernel reboot: the old
    /// frontend's grants are gone, the new one starts in Initialising).
    pub fn reboot_guest(&mut self, dom: DomId, opts: FrontOpts) {
        let old = self.fronts.remove(&(dom, 0)).unwrap();
        let m = old.mac;
        old.destroy(&mut self.world);
        let mut nf = Netfront::new(&mut self.world, dom, 0, m, opts);
        nf.set_state(&mut self.world, XenbusState::Initialising);
        self.fronts.insert((dom, 0), nf);
        self.settle();
    }

    /// Runs watches, the backend and the frontends until nothing moves, driving the
    /// backend as the kernel's loop does (kernel/src/serve.rs): `housekeeping`,
    /// `poll_tx`, `forward` for each frame, `poll_rx`.
    pub fn settle(&mut self) {
        self.settle_with(true)
    }

    /// `settle` through the one-call `Netback::poll`.
    pub fn settle_poll(&mut self) {
        self.settle_with(false)
    }

    fn settle_with(&mut self, split: bool) {
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some((p, t)) = self.world.next_event(BACKEND) {
                self.nb.on_watch(&mut self.world, &p, &t);
                moved = true;
            }
            // Frontends have no watch loop: they react to every round (and drop their
            // own watch events, which this simulation does not register).
            for nf in self.fronts.values_mut() {
                nf.react(&mut self.world);
            }
            let mut out = PollOutput::default();
            self.now += 1_000;
            if split {
                self.nb.housekeeping(&mut self.world, self.now);
                let mut frames = Vec::new();
                out.more_work |= self.nb.poll_tx(&mut self.world, &mut frames);
                for f in frames {
                    self.nb.forward(f, self.now, &mut out);
                }
                out.more_work |= self.nb.poll_rx(&mut self.world, &mut out.rx);
            } else {
                self.nb.poll(&mut self.world, self.now, &mut out);
            }
            if !out.rx.is_empty() || !out.uplink.is_empty() || out.more_work {
                moved = true;
            }
            self.outcomes.extend(out.rx);
            self.uplink.extend(out.uplink.into_iter().map(|(_, f)| f));
            for nf in self.fronts.values_mut() {
                moved |= nf.poll(&mut self.world);
            }
            if !moved && !self.world.events.iter().any(|(d, _, _)| *d == BACKEND) {
                return;
            }
        }
        panic!("simulation did not settle");
    }

    /// Shuts the backend down and checks that nothing leaked.
    pub fn finish(mut self) {
        for nf in self.fronts.values() {
            assert!(
                nf.violations.is_empty(),
                "frontend {} saw: {:?}",
                nf.dom,
                nf.violations
            );
        }
        assert_eq!(
            self.nb.pending_outcomes(),
            0,
            "flushed frames never reported"
        );
        self.nb.shutdown(&mut self.world);
        self.world.assert_clean();
        assert_eq!(self.world.backend_watches(), 0, "watches left");
        let fronts = std::mem::take(&mut self.fronts);
        for (_, nf) in fronts {
            nf.destroy(&mut self.world);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Frames

/// An Ethernet + IPv4 + UDP frame of `total` bytes (>= 42) from `src` to `dst`, with a
/// blank (zero) UDP checksum and a payload pattern seeded by `seed`.
pub fn udp_frame(dst: [u8; 6], src: [u8; 6], total: usize, seed: u8) -> Vec<u8> {
    assert!(total >= 42);
    let mut f = vec![0u8; total];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    let ip_len = (total - 14) as u16;
    f[14] = 0x45;
    f[16..18].copy_from_slice(&ip_len.to_be_bytes());
    f[22] = 64;
    f[23] = 17;
    f[26..30].copy_from_slice(&[10, 0, 0, src[5]]);
    f[30..34].copy_from_slice(&[10, 0, 0, dst[5]]);
    let udp_len = (total - 34) as u16;
    f[34..36].copy_from_slice(&1234u16.to_be_bytes());
    f[36..38].copy_from_slice(&5678u16.to_be_bytes());
    f[38..40].copy_from_slice(&udp_len.to_be_bytes());
    for (i, b) in f[42..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(seed);
    }
    f
}

/// A raw frame (no IP) of `total` bytes.
pub fn raw_frame(dst: [u8; 6], src: [u8; 6], total: usize, seed: u8) -> Vec<u8> {
    let mut f = vec![0u8; total];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    for (i, b) in f[14..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_add(seed);
    }
    f
}

pub const BCAST: [u8; 6] = [0xff; 6];

/// The id marking an extra info slot built by [`extra_req`] (not tracked).
pub const EXTRA_ID: u16 = 0xFFFE;

/// A TX data request with a fresh id.
pub fn req(gref: GrantRef, offset: u16, flags: u16, size: u16) -> NetifTxRequest {
    NetifTxRequest {
        gref,
        offset,
        flags,
        id: u16::MAX,
        size,
    }
}

/// A TX slot holding an extra info segment (`type`, `flags`, 6 payload bytes), laid out
/// as `struct netif_extra_info` over the first 8 bytes of the slot.
pub fn extra_req(ty: u8, flags: u8, p: [u8; 6]) -> NetifTxRequest {
    NetifTxRequest {
        gref: u32::from_le_bytes([ty, flags, p[0], p[1]]),
        offset: u16::from_le_bytes([p[2], p[3]]),
        flags: u16::from_le_bytes([p[4], p[5]]),
        id: EXTRA_ID,
        size: 0,
    }
}

/// A TCP/IPv4 data segment (ACK set, timestamps option; 10.0.0.1:5001 -> 10.0.0.11:40000)
/// with valid IP and TCP checksums.
pub fn tcp4_seg(dst: [u8; 6], src: [u8; 6], seq: u32, payload: &[u8]) -> Vec<u8> {
    use drivers::netback::csum::{fill_l4_checksum, fold, sum_words};
    let total = 20 + 32 + payload.len();
    let mut f = Vec::with_capacity(14 + total);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 11]);
    let c = fold(sum_words(0, &f[14..34]));
    f[24..26].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&[0x13, 0x89, 0x9c, 0x40]);
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&5u32.to_be_bytes());
    f.extend_from_slice(&[0x80, 0x10, 0x01, 0x00, 0, 0, 0, 0]);
    f.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 3]);
    f.extend_from_slice(payload);
    fill_l4_checksum(&mut f).unwrap();
    f
}

/// An Ethernet + IPv6 + TCP frame (blank checksum) of `total` bytes.
pub fn tcp6_frame(dst: [u8; 6], src: [u8; 6], total: usize, seed: u8) -> Vec<u8> {
    assert!(total >= 14 + 40 + 20);
    let mut f = vec![0u8; total];
    f[0..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    f[14] = 0x60;
    f[18..20].copy_from_slice(&((total - 54) as u16).to_be_bytes());
    f[20] = 6;
    f[21] = 64;
    f[22] = 0xfe;
    f[23] = 0x80;
    f[37] = src[5];
    f[38] = 0xfe;
    f[39] = 0x80;
    f[53] = dst[5];
    f[54..56].copy_from_slice(&80u16.to_be_bytes());
    f[56..58].copy_from_slice(&4321u16.to_be_bytes());
    f[66] = 0x50;
    f[67] = 0x18;
    for (i, b) in f[74..].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(seed);
    }
    f
}
