//! The xenstore client against a small in-memory xenstored that serves the ring page:
//! nodes, directories, watches (with the initial event), transactions with `EAGAIN` on
//! conflict, chunked transfers, and injected faults (stale replies, interleaved events,
//! silence, garbage).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ptr::NonNull;
use std::rc::Rc;

use drivers::xenstore::wire::{Header, MsgType, HEADER_LEN};
use drivers::xenstore::{
    Doorbell, Timeout, Tx, WatchEvent, WireError, XsClient, XsErrno, XsError, MAX_QUEUED_EVENTS,
    MAX_QUEUED_EVENT_BYTES,
};
use xen::abi::xs_wire::{XenstoreDomainInterface, XENSTORE_RING_SIZE};

const DOMID: u16 = 5;
const MASK: u32 = XENSTORE_RING_SIZE as u32 - 1;

type Tree = BTreeMap<String, Vec<u8>>;

struct TxState {
    tree: Tree,
    start_gen: u64,
}

struct Sim {
    page: *mut XenstoreDomainInterface,
    tree: Tree,
    gen: u64,
    txs: HashMap<u32, TxState>,
    next_tx: u32,
    watches: Vec<(String, String)>,
    inbuf: Vec<u8>,
    outq: VecDeque<u8>,
    // knobs
    chunk: usize,
    force_eagain: u32,
    stale_before_reply: bool,
    event_before_reply: bool,
    silent: bool,
    max_waits: u64,
    already_sent: bool,
    // counters
    waits: u64,
    notifies: u64,
    requests: u64,
    commits: u64,
    aborts: u64,
}

impl Sim {
    fn new(page: *mut XenstoreDomainInterface) -> Self {
        let mut tree = Tree::new();
        tree.insert("/".into(), Vec::new());
        tree.insert("/local".into(), Vec::new());
        tree.insert("/local/domain".into(), Vec::new());
        tree.insert(format!("/local/domain/{DOMID}"), Vec::new());
        Sim {
            page,
            tree,
            gen: 0,
            txs: HashMap::new(),
            next_tx: 1,
            watches: Vec::new(),
            inbuf: Vec::new(),
            outq: VecDeque::new(),
            chunk: usize::MAX,
            force_eagain: 0,
            stale_before_reply: false,
            event_before_reply: false,
            silent: false,
            max_waits: 10_000,
            already_sent: false,
            waits: 0,
            notifies: 0,
            requests: 0,
            commits: 0,
            aborts: 0,
        }
    }

    /// One round of xenstored's work: consume requests, answer, publish replies.
    fn step(&mut self) {
        if self.silent {
            return;
        }
        // SAFETY: single-threaded; the client is inside `Doorbell::wait` and holds no
        // reference into the page.
        let p = unsafe { &mut *self.page };
        let mut n = 0;
        while p.req_cons != p.req_prod && n < self.chunk {
            self.inbuf.push(p.req[(p.req_cons & MASK) as usize]);
            p.req_cons = p.req_cons.wrapping_add(1);
            n += 1;
        }
        while self.inbuf.len() >= HEADER_LEN {
            let h = Header::decode(&self.inbuf).expect("client sent a bad header");
            let end = HEADER_LEN + h.len as usize;
            if self.inbuf.len() < end {
                break;
            }
            let payload = self.inbuf[HEADER_LEN..end].to_vec();
            self.inbuf.drain(..end);
            self.handle(h, &payload);
        }
        let mut n = 0;
        while !self.outq.is_empty()
            && p.rsp_prod.wrapping_sub(p.rsp_cons) < XENSTORE_RING_SIZE as u32
            && n < self.chunk
        {
            p.rsp[(p.rsp_prod & MASK) as usize] = self.outq.pop_front().unwrap();
            p.rsp_prod = p.rsp_prod.wrapping_add(1);
            n += 1;
        }
    }

    fn send(&mut self, ty: MsgType, req_id: u32, tx_id: u32, payload: &[u8]) {
        let h = Header {
            ty,
            req_id,
            tx_id,
            len: payload.len() as u32,
        };
        self.outq.extend(h.encode());
        self.outq.extend(payload.iter().copied());
    }

    fn event(&mut self, path: &str, token: &str) {
        let mut p = Vec::new();
        for s in [path, token] {
            p.extend_from_slice(s.as_bytes());
            p.push(0);
        }
        self.send(MsgType::WatchEvent, 0, 0, &p);
    }

    fn fire(&mut self, changed: &str) {
        let hits: Vec<(String, String)> = self
            .watches
            .iter()
            .filter(|(w, _)| {
                changed == w
                    || changed.starts_with(&format!("{w}/"))
                    || w.starts_with(&format!("{changed}/"))
            })
            .cloned()
            .collect();
        for (w, t) in hits {
            let path = if w.starts_with(&format!("{changed}/")) {
                w.clone()
            } else {
                changed.into()
            };
            self.event(&path, &t);
        }
    }

    fn handle(&mut self, h: Header, payload: &[u8]) {
        self.requests += 1;
        let strs: Vec<String> = payload
            .split(|&b| b == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        if self.stale_before_reply {
            self.send(h.ty, h.req_id.wrapping_add(1000), 0, b"stale\0");
        }
        if self.event_before_reply {
            self.event("/spurious/node", "noise");
        }
        self.already_sent = false;
        let result: Result<Vec<u8>, &str> = self.apply(h, payload, &strs);
        match result {
            Ok(_) if self.already_sent => {}
            Ok(r) => self.send(h.ty, h.req_id, h.tx_id, &r),
            Err(e) => {
                let mut p = e.as_bytes().to_vec();
                p.push(0);
                self.send(MsgType::Error, h.req_id, h.tx_id, &p);
            }
        }
    }

    fn tree_mut(&mut self, tx: u32) -> Result<&mut Tree, &'static str> {
        if tx == 0 {
            Ok(&mut self.tree)
        } else {
            self.txs.get_mut(&tx).map(|t| &mut t.tree).ok_or("ENOENT")
        }
    }

    fn apply(
        &mut self,
        h: Header,
        payload: &[u8],
        strs: &[String],
    ) -> Result<Vec<u8>, &'static str> {
        let ok = b"OK\0".to_vec();
        let tx = h.tx_id;
        let path = strs.first().cloned().unwrap_or_default();
        let mutates = matches!(h.ty, MsgType::Write | MsgType::Mkdir | MsgType::Rm);
        let r = match h.ty {
            MsgType::Read => self.tree_mut(tx)?.get(&path).cloned().ok_or("ENOENT"),
            MsgType::Write => {
                let value = payload[path.len() + 1..].to_vec();
                let t = self.tree_mut(tx)?;
                add_parents(t, &path);
                t.insert(path.clone(), value);
                Ok(ok)
            }
            MsgType::Mkdir => {
                let t = self.tree_mut(tx)?;
                add_parents(t, &path);
                t.entry(path.clone()).or_default();
                Ok(ok)
            }
            MsgType::Rm => {
                let t = self.tree_mut(tx)?;
                if !t.contains_key(&path) {
                    return Err("ENOENT");
                }
                let prefix = format!("{path}/");
                t.retain(|k, _| k != &path && !k.starts_with(&prefix));
                Ok(ok)
            }
            MsgType::Directory => {
                let t = self.tree_mut(tx)?;
                if !t.contains_key(&path) {
                    return Err("ENOENT");
                }
                let prefix = if path == "/" {
                    "/".to_string()
                } else {
                    format!("{path}/")
                };
                let mut out = Vec::new();
                for k in t.keys() {
                    if let Some(rest) = k.strip_prefix(&prefix) {
                        if !rest.is_empty() && !rest.contains('/') {
                            out.extend_from_slice(rest.as_bytes());
                            out.push(0);
                        }
                    }
                }
                Ok(out)
            }
            MsgType::GetDomainPath => Ok(format!("/local/domain/{path}\0").into_bytes()),
            MsgType::Watch => {
                let token = strs.get(1).cloned().ok_or("EINVAL")?;
                self.watches.push((path.clone(), token.clone()));
                // The reply, then the initial event (xenstored's order).
                self.send(h.ty, h.req_id, 0, &ok);
                self.event(&path, &token);
                self.already_sent = true;
                Ok(Vec::new())
            }
            MsgType::Unwatch => {
                let token = strs.get(1).cloned().ok_or("EINVAL")?;
                let before = self.watches.len();
                self.watches.retain(|(w, t)| !(w == &path && t == &token));
                if before == self.watches.len() {
                    return Err("ENOENT");
                }
                Ok(ok)
            }
            MsgType::TransactionStart => {
                let id = self.next_tx;
                self.next_tx += 1;
                self.txs.insert(
                    id,
                    TxState {
                        tree: self.tree.clone(),
                        start_gen: self.gen,
                    },
                );
                Ok(format!("{id}\0").into_bytes())
            }
            MsgType::TransactionEnd => {
                let st = self.txs.remove(&tx).ok_or("ENOENT")?;
                if payload == b"F\0" {
                    self.aborts += 1;
                    return Ok(ok);
                }
                if self.force_eagain > 0 {
                    self.force_eagain -= 1;
                    return Err("EAGAIN");
                }
                if st.start_gen != self.gen {
                    return Err("EAGAIN");
                }
                let changed: Vec<String> = st
                    .tree
                    .iter()
                    .filter(|(k, v)| self.tree.get(*k) != Some(*v))
                    .map(|(k, _)| k.clone())
                    .chain(
                        self.tree
                            .keys()
                            .filter(|k| !st.tree.contains_key(*k))
                            .cloned(),
                    )
                    .collect();
                self.tree = st.tree;
                self.commits += 1;
                if !changed.is_empty() {
                    self.gen += 1;
                }
                for c in changed {
                    self.fire(&c);
                }
                Ok(ok)
            }
            _ => Err("ENOSYS"),
        };
        if r.is_ok() && mutates && tx == 0 {
            self.gen += 1;
            self.fire(&path);
        }
        r
    }

    /// A change made by "another domain" (bumps the generation, fires watches).
    fn external_write(&mut self, path: &str, value: &[u8]) {
        add_parents(&mut self.tree, path);
        self.tree.insert(path.into(), value.to_vec());
        self.gen += 1;
        self.fire(path);
    }
}

fn add_parents(t: &mut Tree, path: &str) {
    let mut cur = String::new();
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for p in &parts[..parts.len().saturating_sub(1)] {
        cur.push('/');
        cur.push_str(p);
        t.entry(cur.clone()).or_default();
    }
}

struct Bell(Rc<RefCell<Sim>>);

impl Doorbell for Bell {
    fn notify(&mut self) {
        self.0.borrow_mut().notifies += 1;
    }
    fn wait(&mut self) -> Result<(), Timeout> {
        let mut s = self.0.borrow_mut();
        s.waits += 1;
        if s.waits > s.max_waits {
            return Err(Timeout);
        }
        s.step();
        Ok(())
    }
}

struct Setup {
    _page: Box<XenstoreDomainInterface>,
    sim: Rc<RefCell<Sim>>,
    xs: XsClient<Bell>,
}

fn setup_at(idx: u32) -> Setup {
    let mut page = Box::new(XenstoreDomainInterface::zeroed());
    page.req_cons = idx;
    page.req_prod = idx;
    page.rsp_cons = idx.wrapping_add(17);
    page.rsp_prod = idx.wrapping_add(17);
    let raw = NonNull::from(&mut *page);
    let sim = Rc::new(RefCell::new(Sim::new(raw.as_ptr())));
    // SAFETY: the page box lives in `Setup` with the client; the sim touches it only
    // inside `Doorbell::wait`, when the client holds no reference into it.
    let xs = unsafe { XsClient::new(raw, Bell(sim.clone())) };
    Setup {
        _page: page,
        sim,
        xs,
    }
}

fn setup() -> Setup {
    setup_at(0)
}

fn ev(path: &str, token: &str) -> WatchEvent {
    WatchEvent {
        path: path.into(),
        token: token.into(),
    }
}

#[test]
fn read_write_mkdir_directory_rm() {
    let Setup { mut xs, sim, _page } = setup();
    let dom = xs.get_domain_path(DOMID).unwrap();
    assert_eq!(dom, "/local/domain/5");
    let base = format!("{dom}/backend/vif/7/0");
    xs.write(Tx::NONE, &format!("{base}/state"), b"2").unwrap();
    xs.write(Tx::NONE, &format!("{base}/mac"), b"00:16:3e:00:00:01")
        .unwrap();
    xs.mkdir(Tx::NONE, &format!("{base}/empty")).unwrap();
    assert_eq!(xs.read(Tx::NONE, &format!("{base}/state")).unwrap(), b"2");
    assert_eq!(
        xs.read_string(Tx::NONE, &format!("{base}/mac")).unwrap(),
        "00:16:3e:00:00:01"
    );
    assert_eq!(xs.read(Tx::NONE, &format!("{base}/empty")).unwrap(), b"");
    let mut d = xs.directory(Tx::NONE, &base).unwrap();
    d.sort();
    assert_eq!(d, ["empty", "mac", "state"]);
    assert_eq!(
        xs.directory(Tx::NONE, &format!("{dom}/backend/vif"))
            .unwrap(),
        ["7"]
    );
    let e = xs.read(Tx::NONE, &format!("{base}/nope")).unwrap_err();
    assert!(e.is_enoent(), "{e:?}");
    xs.rm(Tx::NONE, &format!("{dom}/backend")).unwrap();
    assert!(xs
        .read(Tx::NONE, &format!("{base}/state"))
        .unwrap_err()
        .is_enoent());
    assert_eq!(xs.rm(Tx::NONE, &base), Err(XsError::Errno(XsErrno::ENOENT)));
    assert_eq!(xs.stale_replies(), 0);
    assert!(sim.borrow().notifies > 0);
}

#[test]
fn bad_arguments_are_refused_before_sending() {
    let Setup { mut xs, sim, _page } = setup();
    assert_eq!(
        xs.read(Tx::NONE, ""),
        Err(XsError::Wire(WireError::BadArgument))
    );
    assert_eq!(
        xs.read(Tx::NONE, "a\0b"),
        Err(XsError::Wire(WireError::BadArgument))
    );
    assert_eq!(
        xs.watch("/a", "t\0"),
        Err(XsError::Wire(WireError::BadArgument))
    );
    let big = vec![b'x'; 4096];
    assert!(matches!(
        xs.write(Tx::NONE, "/a", &big),
        Err(XsError::Wire(WireError::Oversized(_)))
    ));
    assert_eq!(sim.borrow().requests, 0);
    assert!(!xs.is_broken());
    xs.write(Tx::NONE, "/a", b"fine").unwrap();
}

/// Values bigger than the 1 KiB rings, moved a few bytes per step, across the u32 wrap.
#[test]
fn big_values_through_small_chunks_across_index_wrap() {
    let Setup { mut xs, sim, _page } = setup_at(u32::MAX - 700);
    sim.borrow_mut().chunk = 7;
    let value: Vec<u8> = (0..4000u32).map(|i| (i % 251) as u8).collect();
    xs.write(Tx::NONE, "/data/big", &value).unwrap();
    assert_eq!(xs.read(Tx::NONE, "/data/big").unwrap(), value);
    for i in 0..20u8 {
        let v = vec![i; 900];
        xs.write(Tx::NONE, "/data/med", &v).unwrap();
        assert_eq!(xs.read(Tx::NONE, "/data/med").unwrap(), v);
    }
}

#[test]
fn watch_events_are_queued_never_lost() {
    let Setup { mut xs, sim, _page } = setup();
    xs.watch("/local/domain/5/backend", "be").unwrap();
    // The initial event fires right away.
    assert_eq!(
        xs.poll_watch().unwrap(),
        Some(ev("/local/domain/5/backend", "be"))
    );
    assert_eq!(xs.poll_watch().unwrap(), None);
    // Events interleave with the replies of later requests: all are kept, in order.
    sim.borrow_mut().event_before_reply = true;
    xs.write(Tx::NONE, "/local/domain/5/backend/vif/1/0/state", b"1")
        .unwrap();
    xs.write(Tx::NONE, "/local/domain/5/other", b"x").unwrap();
    sim.borrow_mut()
        .external_write("/local/domain/5/backend/vif/1/0/online", b"1");
    let v = xs
        .read(Tx::NONE, "/local/domain/5/backend/vif/1/0/state")
        .unwrap();
    assert_eq!(v, b"1");
    let mut got = Vec::new();
    while let Some(e) = xs.poll_watch().unwrap() {
        got.push(e);
    }
    let noise = ev("/spurious/node", "noise");
    assert_eq!(
        got,
        [
            noise.clone(),
            ev("/local/domain/5/backend/vif/1/0/state", "be"),
            noise.clone(),
            ev("/local/domain/5/backend/vif/1/0/online", "be"),
            noise,
        ]
    );
    sim.borrow_mut().event_before_reply = false;
    xs.unwatch("/local/domain/5/backend", "be").unwrap();
    xs.write(Tx::NONE, "/local/domain/5/backend/x", b"1")
        .unwrap();
    assert_eq!(xs.poll_watch().unwrap(), None);
    assert_eq!(
        xs.unwatch("/local/domain/5/backend", "be"),
        Err(XsError::Errno(XsErrno::ENOENT))
    );
    // wait_watch waits through the doorbell; with nothing coming it times out.
    xs.watch("/w", "w").unwrap();
    assert_eq!(xs.wait_watch().unwrap(), ev("/w", "w"));
    let w = sim.borrow().waits;
    sim.borrow_mut().max_waits = w + 5;
    assert_eq!(xs.wait_watch(), Err(XsError::Timeout));
    assert_eq!(xs.dropped_events(), 0);
}

#[test]
fn replies_with_other_ids_are_dropped() {
    let Setup { mut xs, sim, _page } = setup();
    sim.borrow_mut().stale_before_reply = true;
    xs.write(Tx::NONE, "/a", b"1").unwrap();
    assert_eq!(xs.read(Tx::NONE, "/a").unwrap(), b"1");
    assert_eq!(xs.stale_replies(), 2);
}

#[test]
fn timeout_then_late_reply_is_discarded() {
    let Setup { mut xs, sim, _page } = setup();
    xs.write(Tx::NONE, "/a", b"1").unwrap();
    sim.borrow_mut().silent = true;
    let w = sim.borrow().waits;
    sim.borrow_mut().max_waits = w + 3;
    assert_eq!(xs.read(Tx::NONE, "/a"), Err(XsError::Timeout));
    assert!(!xs.is_broken(), "the whole request was sent: still in sync");
    {
        let mut s = sim.borrow_mut();
        s.silent = false;
        s.max_waits = u64::MAX;
    }
    xs.write(Tx::NONE, "/a", b"2").unwrap();
    assert_eq!(xs.read(Tx::NONE, "/a").unwrap(), b"2");
    assert_eq!(
        xs.stale_replies(),
        1,
        "the late reply of the timed-out read"
    );
}

#[test]
fn transaction_retries_on_eagain() {
    let Setup { mut xs, sim, _page } = setup();
    sim.borrow_mut().force_eagain = 2;
    let mut calls = 0;
    let r = xs.transaction(5, |xs, tx| {
        calls += 1;
        xs.write(tx, "/tx/a", b"1")?;
        xs.write(tx, "/tx/b", b"2")?;
        Ok(calls)
    });
    assert_eq!(r, Ok(3));
    assert_eq!(xs.read(Tx::NONE, "/tx/a").unwrap(), b"1");
    assert_eq!(sim.borrow().commits, 1);

    // A conflicting change by someone else forces a redo that sees the new value.
    let sim2 = sim.clone();
    let mut calls = 0;
    let seen = xs
        .transaction(5, |xs, tx| {
            calls += 1;
            let v = xs.read(tx, "/tx/a")?;
            if calls == 1 {
                sim2.borrow_mut().external_write("/tx/a", b"changed");
            }
            xs.write(tx, "/tx/c", &v)?;
            Ok(v)
        })
        .unwrap();
    assert_eq!(calls, 2);
    assert_eq!(seen, b"changed");
    assert_eq!(xs.read(Tx::NONE, "/tx/c").unwrap(), b"changed");

    // Out of attempts: EAGAIN surfaces.
    sim.borrow_mut().force_eagain = 10;
    let r = xs.transaction(3, |xs, tx| xs.write(tx, "/tx/d", b"1"));
    assert_eq!(r, Err(XsError::Errno(XsErrno::EAGAIN)));
    assert!(xs.read(Tx::NONE, "/tx/d").unwrap_err().is_enoent());
    sim.borrow_mut().force_eagain = 0;

    // An error in the body aborts and is returned; nothing is committed.
    let aborts = sim.borrow().aborts;
    let r: Result<(), _> = xs.transaction(3, |xs, tx| {
        xs.write(tx, "/tx/e", b"1")?;
        xs.read(tx, "/tx/missing").map(|_| ())
    });
    assert!(r.unwrap_err().is_enoent());
    assert_eq!(sim.borrow().aborts, aborts + 1);
    assert!(xs.read(Tx::NONE, "/tx/e").unwrap_err().is_enoent());

    // Manual start/end.
    let tx = xs.transaction_start().unwrap();
    assert_ne!(tx, Tx::NONE);
    xs.write(tx, "/tx/f", b"1").unwrap();
    assert!(
        xs.read(Tx::NONE, "/tx/f").unwrap_err().is_enoent(),
        "isolated until commit"
    );
    xs.transaction_end(tx, true).unwrap();
    assert_eq!(xs.read(Tx::NONE, "/tx/f").unwrap(), b"1");
    assert_eq!(
        xs.transaction_end(tx, true),
        Err(XsError::Errno(XsErrno::ENOENT))
    );
}

/// Writes raw bytes into the reply ring as a hostile or broken xenstored would.
fn inject(sim: &Rc<RefCell<Sim>>, bytes: &[u8]) {
    let page = sim.borrow().page;
    // SAFETY: single-threaded; no client call in progress.
    let p = unsafe { &mut *page };
    for &b in bytes {
        p.rsp[(p.rsp_prod & MASK) as usize] = b;
        p.rsp_prod = p.rsp_prod.wrapping_add(1);
    }
}

#[test]
fn oversized_or_unknown_messages_break_the_connection() {
    let Setup { mut xs, sim, _page } = setup();
    let mut h = Header {
        ty: MsgType::WatchEvent,
        req_id: 0,
        tx_id: 0,
        len: 4,
    }
    .encode();
    h[12..16].copy_from_slice(&5000u32.to_ne_bytes());
    inject(&sim, &h);
    assert_eq!(
        xs.poll_watch(),
        Err(XsError::Wire(WireError::Oversized(5000)))
    );
    assert!(xs.is_broken());
    assert_eq!(xs.read(Tx::NONE, "/a"), Err(XsError::Broken));

    let Setup { mut xs, sim, _page } = setup();
    let mut h = Header {
        ty: MsgType::Read,
        req_id: 1,
        tx_id: 0,
        len: 0,
    }
    .encode();
    h[0..4].copy_from_slice(&999u32.to_ne_bytes());
    inject(&sim, &h);
    assert_eq!(
        xs.read(Tx::NONE, "/a"),
        Err(XsError::Wire(WireError::BadType(999)))
    );
}

#[test]
fn malformed_replies_and_errors_are_reported() {
    let Setup { mut xs, sim, _page } = setup();
    // Reply of the wrong type for request id 1, an unknown error string for id 2,
    // a malformed directory for id 3, and a malformed watch event (dropped, counted).
    let msg = |ty, id, p: &[u8]| {
        let mut v = Header {
            ty,
            req_id: id,
            tx_id: 0,
            len: p.len() as u32,
        }
        .encode()
        .to_vec();
        v.extend_from_slice(p);
        v
    };
    sim.borrow_mut().silent = true;
    inject(&sim, &msg(MsgType::Write, 1, b"OK\0"));
    assert_eq!(
        xs.read(Tx::NONE, "/a"),
        Err(XsError::UnexpectedReply {
            sent: MsgType::Read,
            got: MsgType::Write
        })
    );
    inject(&sim, &msg(MsgType::Error, 2, b"EWEIRD\0"));
    assert_eq!(
        xs.read(Tx::NONE, "/a"),
        Err(XsError::UnknownErrno("EWEIRD".into()))
    );
    inject(&sim, &msg(MsgType::WatchEvent, 0, b"no-token\0"));
    inject(&sim, &msg(MsgType::Directory, 3, b"a\0b"));
    assert_eq!(
        xs.directory(Tx::NONE, "/a"),
        Err(XsError::Wire(WireError::Malformed))
    );
    assert_eq!(xs.dropped_events(), 1);
    inject(&sim, &msg(MsgType::Write, 4, b"KO\0"));
    assert_eq!(
        xs.write(Tx::NONE, "/a", b"1"),
        Err(XsError::Wire(WireError::Malformed))
    );
    inject(&sim, &msg(MsgType::TransactionStart, 5, b"0\0"));
    assert_eq!(
        xs.transaction_start(),
        Err(XsError::Wire(WireError::Malformed))
    );
    assert!(!xs.is_broken());
}

#[test]
fn impossible_ring_indices_are_errors() {
    let Setup { mut xs, sim, _page } = setup();
    {
        let page = sim.borrow().page;
        // SAFETY: single-threaded; no client call in progress.
        let p = unsafe { &mut *page };
        p.rsp_prod = p.rsp_cons.wrapping_add(2000);
    }
    assert!(matches!(xs.poll_watch(), Err(XsError::Ring(_))));
    assert_eq!(xs.read(Tx::NONE, "/a"), Err(XsError::Broken));

    let Setup { mut xs, sim, _page } = setup();
    {
        let page = sim.borrow().page;
        // SAFETY: as above.
        let p = unsafe { &mut *page };
        p.req_cons = p.req_prod.wrapping_add(1);
    }
    assert!(matches!(
        xs.write(Tx::NONE, "/a", b"1"),
        Err(XsError::Ring(_))
    ));
}

/// A xenstored that answers with random bytes and random indices: the client returns
/// errors, never panics or hangs.
#[test]
fn random_garbage_from_xenstored_never_panics() {
    let mut rng = 0xdead_beef_1234_5678u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for round in 0..300 {
        let Setup { mut xs, sim, _page } = setup_at(next() as u32);
        sim.borrow_mut().silent = true;
        sim.borrow_mut().max_waits = 20;
        let n = (next() % 200) as usize;
        let mut bytes: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        if round % 3 == 0 && n >= HEADER_LEN {
            // Plausible header, random rest.
            let h = Header {
                ty: MsgType::WatchEvent,
                req_id: 0,
                tx_id: 0,
                len: (next() % 64) as u32,
            };
            bytes[..HEADER_LEN].copy_from_slice(&h.encode());
        }
        inject(&sim, &bytes);
        if round % 5 == 0 {
            let page = sim.borrow().page;
            // SAFETY: single-threaded; no client call in progress.
            let p = unsafe { &mut *page };
            p.rsp_prod = next() as u32;
        }
        for _ in 0..3 {
            let _ = xs.poll_watch();
            let _ = xs.read(Tx::NONE, "/a");
            let _ = xs.directory(Tx::NONE, "/");
        }
    }
}

/// A peer firing watch events faster than we take them (a guest writing long-named
/// nodes under a watched subtree): the queue stays within its byte bound, and once it
/// overflowed the caller gets one event per registered watch, so an event it needed
/// (here `/control/shutdown`) is not lost in the flood.
#[test]
fn an_event_flood_is_bounded_and_resolved_by_one_event_per_watch() {
    let Setup { mut xs, sim, _page } = setup();
    xs.watch("/g/device", "dev").unwrap();
    xs.watch("/control/shutdown", "sd").unwrap();
    while xs.poll_watch().unwrap().is_some() {}
    let name = "n".repeat(1000);
    for i in 0..400 {
        let mut s = sim.borrow_mut();
        s.external_write(&format!("/g/device/{name}{i}"), b"1");
        if i == 200 {
            s.external_write("/control/shutdown", b"poweroff");
        }
    }
    // One request pumps the ring: every event arrives before its reply.
    xs.read(Tx::NONE, "/control/shutdown").unwrap();
    let (n, bytes) = xs.queued_events();
    assert!(
        bytes <= MAX_QUEUED_EVENT_BYTES && n <= MAX_QUEUED_EVENTS,
        "{n} {bytes}"
    );
    let mut got = Vec::new();
    while let Some(e) = xs.poll_watch().unwrap() {
        got.push(e);
    }
    assert!(xs.dropped_events() > 0);
    assert!(
        got.contains(&ev("/control/shutdown", "sd")),
        "{:?}",
        got.len()
    );
    assert!(got.contains(&ev("/g/device", "dev")));
    assert_eq!(xs.queued_events(), (0, 0));
    // Back to normal afterwards: events one by one again.
    sim.borrow_mut().external_write("/g/device/x", b"1");
    xs.read(Tx::NONE, "/g/device/x").unwrap();
    assert_eq!(xs.poll_watch().unwrap(), Some(ev("/g/device/x", "dev")));
}
