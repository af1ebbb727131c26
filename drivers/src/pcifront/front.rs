//! [`PciFront`]: the xenbus handshake on `device/pci/0`, device enumeration, and the op
//! channel over the shared page.
//!
//! Handshake (Linux xen-pcifront / Mini-OS pcifront, served by Linux xen-pciback):
//! 1. read `<dir>/backend` and `<dir>/backend-id` (written by the toolstack);
//! 2. grant the shared page to the backend, allocate an unbound event channel for it;
//! 3. write `<dir>/pci-op-ref`, `<dir>/event-channel`, `<dir>/magic` (`XEN_PCI_MAGIC`),
//!    then `<dir>/state` = Initialised (3);
//! 4. wait (bounded) until `<backend>/state` = Connected (4): pciback maps the page and
//!    binds the channel once both ends are Initialised;
//! 5. read the exported devices from the backend directory: `root_num`/`root-N`
//!    (`dddd:bb`), `num_devs`, `vdev-N` (guest-visible `dddd:bb:ss.ff`), `dev-N`
//!    (physical), `state-N`;
//! 6. write `<dir>/state` = Connected (4).
//!
//! Op channel: one [`XenPciOp`] in flight. We write the op, set `XEN_PCIF_active`
//! (release), notify, and wait (bounded, through [`FrontPlatform::wait`]) until pciback
//! clears it; then we read `err`/`value` (acquire). pciback writes back only `err`,
//! `value` and, for MSI-X, the vectors: if anything else in the op changed, the answer
//! is not for our op and is refused. After a timeout the flag is left set (pciback may
//! still be working on the op); later ops fail with [`PciError::Busy`] until pciback
//! clears it, so a late answer can never be mistaken for a later op's.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU32, Ordering};

use xen::abi::pciif::{
    XenPciOp, XenPciSharedinfo, SH_INFO_MAX_VEC, XEN_PCIF_ACTIVE, XEN_PCI_MAGIC,
    XEN_PCI_OP_CONF_READ, XEN_PCI_OP_CONF_WRITE, XEN_PCI_OP_DISABLE_MSI, XEN_PCI_OP_DISABLE_MSIX,
    XEN_PCI_OP_ENABLE_MSI, XEN_PCI_OP_ENABLE_MSIX,
};
use xen::abi::xenbus::XenbusState;
use xen::abi::{DomId, EvtchnPort, GrantRef};

use super::config::ConfigOps;
use super::error::{BackendCode, PciError};
use super::parse::{parse_domid, parse_path, parse_pci_address, parse_root, parse_u32, PciAddress};
use super::platform::{FrontPlatform, Store, StoreError};

/// Time limits. All in nanoseconds of [`FrontPlatform::now_ns`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Waiting for the backend to reach Connected.
    pub connect_timeout_ns: u64,
    /// One op (Linux pcifront allows 2 s).
    pub op_timeout_ns: u64,
    /// Sleep between two xenstore polls of the backend state.
    pub poll_interval_ns: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect_timeout_ns: 30_000_000_000,
            op_timeout_ns: 2_000_000_000,
            poll_interval_ns: 10_000_000,
        }
    }
}

/// Most `num_devs` / `root_num` we accept (a PCI bus has 256 functions).
pub const MAX_DEVS: u32 = 256;

/// A device pciback exported to us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciDevice {
    /// `N` in `vdev-N`.
    pub index: u32,
    /// The address we use in ops (`vdev-N`): `0000:00:00.0` for the first device.
    pub vdev: PciAddress,
    /// The physical address in dom0 (`dev-N`), if the toolstack wrote it.
    pub phys: Option<PciAddress>,
    /// `state-N`, if present.
    pub state: Option<XenbusState>,
}

/// Where the frontend is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontState {
    /// Nothing published yet.
    Idle,
    /// Keys published, state Initialised; waiting for the backend.
    Initialised,
    /// Devices enumerated, state Connected: ops work.
    Connected,
}

/// The pcifront of one `device/pci/N` directory. See the module documentation.
pub struct PciFront<P: FrontPlatform> {
    plat: P,
    page: NonNull<XenPciSharedinfo>,
    limits: Limits,
    state: FrontState,
    dir: String,
    backend: String,
    backend_id: DomId,
    gref: Option<GrantRef>,
    port: Option<EvtchnPort>,
    roots: Vec<(u16, u8)>,
    devices: Vec<PciDevice>,
    /// An op timed out with `XEN_PCIF_active` still set.
    stale: bool,
    ops: u64,
    timeouts: u64,
}

impl<P: FrontPlatform> PciFront<P> {
    /// A frontend on the shared page `page` (not yet published).
    ///
    /// # Safety
    /// `page` must point to a page-aligned, writable page that stays allocated for the
    /// life of the frontend *and afterwards* (pciback may keep it mapped: never free it),
    /// and that nothing else on our side uses. Its contents are reset here.
    pub unsafe fn new(plat: P, page: NonNull<XenPciSharedinfo>, limits: Limits) -> Self {
        // SAFETY: the caller gives us the page; nobody shares it yet.
        unsafe { ptr::write_volatile(page.as_ptr(), XenPciSharedinfo::default()) };
        PciFront {
            plat,
            page,
            limits,
            state: FrontState::Idle,
            dir: String::new(),
            backend: String::new(),
            backend_id: 0,
            gref: None,
            port: None,
            roots: Vec::new(),
            devices: Vec::new(),
            stale: false,
            ops: 0,
            timeouts: 0,
        }
    }

    /// The platform (e.g. to log through it).
    pub fn platform(&mut self) -> &mut P {
        &mut self.plat
    }

    pub fn state(&self) -> FrontState {
        self.state
    }

    /// The backend directory (`/local/domain/0/backend/pci/<us>/0`).
    pub fn backend_path(&self) -> &str {
        &self.backend
    }

    pub fn backend_id(&self) -> DomId {
        self.backend_id
    }

    /// Our event channel port (bound by pciback).
    pub fn port(&self) -> Option<EvtchnPort> {
        self.port
    }

    /// The grant of the shared page.
    pub fn gref(&self) -> Option<GrantRef> {
        self.gref
    }

    /// The PCI roots (`domain`, `bus`) pciback published.
    pub fn roots(&self) -> &[(u16, u8)] {
        &self.roots
    }

    /// The exported devices (after [`PciFront::connect`]).
    pub fn devices(&self) -> &[PciDevice] {
        &self.devices
    }

    /// Ops completed (successfully or with a backend error).
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Ops that timed out.
    pub fn timeouts(&self) -> u64 {
        self.timeouts
    }

    // ---- xenbus ---------------------------------------------------------------------

    /// Runs the handshake on `dir` (`device/pci/0`) up to Connected. May be called again
    /// after a failure: the grant and the port are kept and reused.
    pub fn connect<S: Store>(&mut self, store: &mut S, dir: &str) -> Result<(), PciError> {
        if self.state == FrontState::Connected {
            return Ok(());
        }
        self.dir = String::from(dir);
        let be_raw = read(store, &format!("{dir}/backend"))?;
        let backend = parse_path(&be_raw)
            .ok_or_else(|| bad(&format!("{dir}/backend"), "not a xenstore path"))?;
        self.backend = String::from(backend);
        let id_raw = read(store, &format!("{dir}/backend-id"))?;
        self.backend_id = parse_domid(&id_raw)
            .ok_or_else(|| bad(&format!("{dir}/backend-id"), "not a domain id"))?;

        let gref = match self.gref {
            Some(g) => g,
            None => {
                let g = self
                    .plat
                    .grant_page(self.backend_id, self.page)
                    .map_err(|code| PciError::Platform {
                        what: "grant",
                        code,
                    })?;
                self.gref = Some(g);
                g
            }
        };
        let port = match self.port {
            Some(p) => p,
            None => {
                let p = self.plat.alloc_unbound(self.backend_id).map_err(|code| {
                    PciError::Platform {
                        what: "alloc_unbound",
                        code,
                    }
                })?;
                self.port = Some(p);
                p
            }
        };
        write(
            store,
            &format!("{dir}/pci-op-ref"),
            format!("{gref}").as_bytes(),
        )?;
        write(
            store,
            &format!("{dir}/event-channel"),
            format!("{port}").as_bytes(),
        )?;
        write(store, &format!("{dir}/magic"), XEN_PCI_MAGIC.as_bytes())?;
        write(
            store,
            &format!("{dir}/state"),
            XenbusState::Initialised.as_str().as_bytes(),
        )?;
        self.state = FrontState::Initialised;

        self.wait_backend_connected(store)?;
        self.enumerate(store)?;
        write(
            store,
            &format!("{dir}/state"),
            XenbusState::Connected.as_str().as_bytes(),
        )?;
        self.state = FrontState::Connected;
        Ok(())
    }

    fn wait_backend_connected<S: Store>(&mut self, store: &mut S) -> Result<(), PciError> {
        let path = format!("{}/state", self.backend);
        let deadline = self
            .plat
            .now_ns()
            .saturating_add(self.limits.connect_timeout_ns);
        loop {
            match store.read(&path) {
                Ok(v) => match XenbusState::parse(&v) {
                    Some(XenbusState::Connected) => return Ok(()),
                    Some(s @ (XenbusState::Closing | XenbusState::Closed)) => {
                        return Err(PciError::BackendState(s))
                    }
                    Some(_) => {}
                    None => return Err(bad(&path, "not a xenbus state")),
                },
                Err(StoreError::NotFound) => {}
                Err(err) => return Err(PciError::Store { path, err }),
            }
            let now = self.plat.now_ns();
            if now >= deadline {
                return Err(PciError::Timeout("connect"));
            }
            let until = now
                .saturating_add(self.limits.poll_interval_ns)
                .min(deadline);
            self.plat.wait(None, until);
        }
    }

    /// Reads the backend's device list (strictly: any malformed value is an error).
    fn enumerate<S: Store>(&mut self, store: &mut S) -> Result<(), PciError> {
        let be = self.backend.clone();
        let mut roots = Vec::new();
        match read_opt(store, &format!("{be}/root_num"))? {
            // Like Linux pcifront: no roots published means 0000:00.
            None => roots.push((0, 0)),
            Some(v) => {
                let n = parse_u32(&v)
                    .filter(|&n| n <= MAX_DEVS)
                    .ok_or_else(|| bad(&format!("{be}/root_num"), "bad root count"))?;
                for i in 0..n {
                    let p = format!("{be}/root-{i}");
                    let r = parse_root(&read(store, &p)?).ok_or_else(|| bad(&p, "not dddd:bb"))?;
                    roots.push(r);
                }
            }
        }
        let p = format!("{be}/num_devs");
        let num = parse_u32(&read(store, &p)?)
            .filter(|&n| n <= MAX_DEVS)
            .ok_or_else(|| bad(&p, "bad device count"))?;
        let mut devices: Vec<PciDevice> = Vec::new();
        for i in 0..num {
            let sp = format!("{be}/state-{i}");
            let state = match read_opt(store, &sp)? {
                None => None,
                Some(v) => {
                    Some(XenbusState::parse(&v).ok_or_else(|| bad(&sp, "not a xenbus state"))?)
                }
            };
            if matches!(state, Some(XenbusState::Closing | XenbusState::Closed)) {
                continue; // being detached
            }
            let dp = format!("{be}/dev-{i}");
            let phys = match read_opt(store, &dp)? {
                None => None,
                Some(v) => {
                    Some(parse_pci_address(&v).ok_or_else(|| bad(&dp, "not a PCI address"))?)
                }
            };
            let vp = format!("{be}/vdev-{i}");
            let Some(v) = read_opt(store, &vp)? else {
                continue; // not exported (yet)
            };
            let vdev = parse_pci_address(&v).ok_or_else(|| bad(&vp, "not a PCI address"))?;
            if !roots.contains(&(vdev.domain, vdev.bus)) {
                return Err(bad(&vp, "device outside the published roots"));
            }
            if devices.iter().any(|d| d.vdev == vdev) {
                return Err(bad(&vp, "duplicate device"));
            }
            devices.push(PciDevice {
                index: i,
                vdev,
                phys,
                state,
            });
        }
        self.roots = roots;
        self.devices = devices;
        Ok(())
    }

    // ---- ops ------------------------------------------------------------------------

    fn flags(&self) -> &AtomicU32 {
        // SAFETY: the page is valid for our lifetime (contract of `new`), `flags` is an
        // aligned u32, and both ends only touch it with atomic operations.
        unsafe { AtomicU32::from_ptr(ptr::addr_of_mut!((*self.page.as_ptr()).flags)) }
    }

    /// Sends one op and waits for pciback's answer. `Ok` is the op as pciback left it
    /// (`err == 0`). See the module documentation for the checks.
    pub fn do_op(&mut self, op: &XenPciOp) -> Result<XenPciOp, PciError> {
        if self.state != FrontState::Connected {
            return Err(PciError::NotConnected);
        }
        let port = self.port.ok_or(PciError::NotConnected)?;
        if self.flags().load(Ordering::Acquire) & XEN_PCIF_ACTIVE != 0 {
            if self.stale {
                return Err(PciError::Busy);
            }
            // Nobody but us sets the flag: pciback is misbehaving.
            return Err(PciError::Corrupt("active flag set with no op in flight"));
        }
        self.stale = false;
        let opp = self.op_ptr();
        // SAFETY: the page is valid (contract of `new`); pciback reads the op only after
        // it sees the flag, which we set below with release ordering.
        unsafe { ptr::write_volatile(opp, *op) };
        self.flags().fetch_or(XEN_PCIF_ACTIVE, Ordering::Release);
        self.plat.notify(port);
        let deadline = self.plat.now_ns().saturating_add(self.limits.op_timeout_ns);
        while self.flags().load(Ordering::Acquire) & XEN_PCIF_ACTIVE != 0 {
            if self.plat.now_ns() >= deadline {
                self.stale = true;
                self.timeouts += 1;
                return Err(PciError::Timeout("op"));
            }
            self.plat.wait(Some(port), deadline);
        }
        // SAFETY: as above; pciback is done with the op (flag cleared, acquire above).
        let got = unsafe { ptr::read_volatile(opp) };
        self.ops += 1;
        if (
            got.cmd, got.domain, got.bus, got.devfn, got.offset, got.size,
        ) != (op.cmd, op.domain, op.bus, op.devfn, op.offset, op.size)
        {
            return Err(PciError::Corrupt("answer is for another op"));
        }
        if got.err != 0 {
            return Err(PciError::Backend {
                cmd: op.cmd,
                code: BackendCode(got.err),
            });
        }
        Ok(got)
    }

    fn op_ptr(&self) -> *mut XenPciOp {
        // SAFETY: in bounds of the page (a field projection, no dereference).
        unsafe { ptr::addr_of_mut!((*self.page.as_ptr()).op) }
    }

    fn check_dev(&self, addr: PciAddress) -> Result<(), PciError> {
        if self.devices.iter().any(|d| d.vdev == addr) {
            Ok(())
        } else {
            Err(PciError::NoSuchDevice(addr))
        }
    }

    fn base_op(&self, cmd: u32, addr: PciAddress) -> Result<XenPciOp, PciError> {
        if self.state != FrontState::Connected {
            return Err(PciError::NotConnected);
        }
        self.check_dev(addr)?;
        Ok(XenPciOp {
            cmd,
            domain: addr.domain as u32,
            bus: addr.bus as u32,
            devfn: addr.devfn as u32,
            ..XenPciOp::default()
        })
    }

    /// `XEN_PCI_OP_enable_msi`: the pirq to bind (`EVTCHNOP_bind_pirq`).
    pub fn enable_msi(&mut self, addr: PciAddress) -> Result<u32, PciError> {
        let op = self.base_op(XEN_PCI_OP_ENABLE_MSI, addr)?;
        let got = self.do_op(&op)?;
        if got.value == 0 {
            return Err(PciError::Corrupt("MSI enabled without a pirq"));
        }
        Ok(got.value)
    }

    /// `XEN_PCI_OP_disable_msi`: returns the legacy (INTx) pirq, 0 if none.
    pub fn disable_msi(&mut self, addr: PciAddress) -> Result<u32, PciError> {
        let op = self.base_op(XEN_PCI_OP_DISABLE_MSI, addr)?;
        Ok(self.do_op(&op)?.value)
    }

    /// `XEN_PCI_OP_enable_msix` for the MSI-X table entries `entries` (distinct, at most
    /// [`SH_INFO_MAX_VEC`]; the device's command register must have memory decoding on):
    /// one pirq per entry, in order.
    pub fn enable_msix(&mut self, addr: PciAddress, entries: &[u16]) -> Result<Vec<u32>, PciError> {
        if entries.is_empty() || entries.len() > SH_INFO_MAX_VEC {
            return Err(PciError::InvalidArgument("MSI-X entry count"));
        }
        if entries
            .iter()
            .enumerate()
            .any(|(i, e)| entries[..i].contains(e))
        {
            return Err(PciError::InvalidArgument("duplicate MSI-X entry"));
        }
        let mut op = self.base_op(XEN_PCI_OP_ENABLE_MSIX, addr)?;
        op.value = entries.len() as u32;
        for (slot, &e) in op.msix_entries.iter_mut().zip(entries) {
            slot.entry = e;
            slot.vector = u16::MAX; // "-1": filled in by pciback
        }
        let got = self.do_op(&op)?;
        if got.value != 0 {
            return Err(PciError::MsixPartial(got.value));
        }
        let mut pirqs = Vec::with_capacity(entries.len());
        for (i, &e) in entries.iter().enumerate() {
            let m = got.msix_entries[i];
            if m.entry != e {
                return Err(PciError::Corrupt("MSI-X entry changed"));
            }
            if m.vector == 0 || m.vector == u16::MAX {
                return Err(PciError::Corrupt("MSI-X entry without a pirq"));
            }
            pirqs.push(m.vector as u32);
        }
        Ok(pirqs)
    }

    /// `XEN_PCI_OP_disable_msix`: returns the legacy (INTx) pirq, 0 if none.
    pub fn disable_msix(&mut self, addr: PciAddress) -> Result<u32, PciError> {
        let op = self.base_op(XEN_PCI_OP_DISABLE_MSIX, addr)?;
        Ok(self.do_op(&op)?.value)
    }
}

impl<P: FrontPlatform> ConfigOps for PciFront<P> {
    fn conf_read(&mut self, addr: PciAddress, offset: u16, size: u8) -> Result<u32, PciError> {
        check_access(offset, size, 0)?;
        let mut op = self.base_op(XEN_PCI_OP_CONF_READ, addr)?;
        op.offset = offset as i32;
        op.size = size as i32;
        let v = self.do_op(&op)?.value;
        if size < 4 && v >> (8 * size as u32) != 0 {
            return Err(PciError::Corrupt("read value wider than the access"));
        }
        Ok(v)
    }

    fn conf_write(
        &mut self,
        addr: PciAddress,
        offset: u16,
        size: u8,
        value: u32,
    ) -> Result<(), PciError> {
        check_access(offset, size, value)?;
        let mut op = self.base_op(XEN_PCI_OP_CONF_WRITE, addr)?;
        op.offset = offset as i32;
        op.size = size as i32;
        op.value = value;
        self.do_op(&op).map(|_| ())
    }
}

/// Config space: 4 KiB (PCIe extended), naturally aligned 1/2/4-byte accesses.
fn check_access(offset: u16, size: u8, value: u32) -> Result<(), PciError> {
    if !matches!(size, 1 | 2 | 4) {
        return Err(PciError::InvalidArgument("access size"));
    }
    if !offset.is_multiple_of(size as u16) || offset as u32 + size as u32 > 4096 {
        return Err(PciError::InvalidArgument("config offset"));
    }
    if size < 4 && value >> (8 * size as u32) != 0 {
        return Err(PciError::InvalidArgument("value wider than the access"));
    }
    Ok(())
}

fn bad(path: &str, what: &'static str) -> PciError {
    PciError::BadValue {
        path: String::from(path),
        what,
    }
}

fn read<S: Store>(store: &mut S, path: &str) -> Result<Vec<u8>, PciError> {
    store.read(path).map_err(|err| PciError::Store {
        path: String::from(path),
        err,
    })
}

fn read_opt<S: Store>(store: &mut S, path: &str) -> Result<Option<Vec<u8>>, PciError> {
    match store.read(path) {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound) => Ok(None),
        Err(err) => Err(PciError::Store {
            path: String::from(path),
            err,
        }),
    }
}

fn write<S: Store>(store: &mut S, path: &str, value: &[u8]) -> Result<(), PciError> {
    store.write(path, value).map_err(|err| PciError::Store {
        path: String::from(path),
        err,
    })
}
