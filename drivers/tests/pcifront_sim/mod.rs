//! A simulated pciback (Linux xen-pciback's behaviour) plus the bits of Xen pcifront
//! needs: a xenstore tree, a grant, an event channel, a clock. The backend runs inside
//! `FrontPlatform::wait` / `notify`, serving ops on the shared page from a fake
//! virtio-net config space (BARs with size probing, capabilities, MSI-X).
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};

use drivers::pcifront::{FrontPlatform, Store, StoreError};
use xen::abi::pciif::*;
use xen::abi::xenbus::XenbusState;
use xen::abi::{DomId, EvtchnPort, GrantRef};

pub const FE_DIR: &str = "device/pci/0";
pub const BE_DIR: &str = "/local/domain/0/backend/pci/7/0";
pub const GREF: GrantRef = 8;
pub const PORT: EvtchnPort = 5;
pub const MS: u64 = 1_000_000;

/// Where BAR4 (the modern virtio structures) and BAR1 (MSI-X table) sit.
pub const BAR4_ADDR: u64 = 0xfe00_0000;
pub const BAR4_SIZE: u64 = 0x4000;
pub const BAR1_ADDR: u64 = 0xfeb0_0000;
pub const BAR1_SIZE: u64 = 0x1000;
pub const BAR0_IO: u32 = 0xc000;

/// How the backend answers ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpMode {
    Normal,
    /// Never answers.
    Silent,
    /// Answers after this many waits.
    Late(u32),
    /// Answers with this `err`.
    Err(i32),
    /// Answers, but rewrites the op's offset (an answer for another op).
    WrongOp,
    /// Conf reads return a value wider than the access.
    WideValue,
    /// MSI-X entries come back without pirqs.
    MsixNoVector,
    /// MSI-X: `value` = this (only that many vectors available).
    MsixPartial(u32),
}

/// A fake type-0 config space of a virtio-net.
pub struct FakeDevice {
    pub cfg: [u8; 256],
    /// (BAR index, size, is_io, is_64)
    pub bars: Vec<(u8, u64, bool, bool)>,
    pub msix_enabled: bool,
    pub msix_table: u16,
}

impl FakeDevice {
    /// Modern virtio-net 1af4:1041 like QEMU's (`disable-legacy=on`): BAR1 MSI-X table,
    /// BAR4 64-bit prefetchable with the four virtio structures.
    pub fn virtio_net_modern() -> Self {
        let mut d = FakeDevice {
            cfg: [0; 256],
            bars: Vec::new(),
            msix_enabled: false,
            msix_table: 3,
        };
        d.put32(0x00, 0x1041_1af4);
        d.put16(0x06, 0x0010); // capability list
        d.put32(0x08, 0x0200_0001); // class 02 (network), revision 1
        d.put32(0x2c, 0x1100_1af4);
        d.put32(0x3c, 0x0000_010b); // INTA, line 11
        d.set_bar(1, BAR1_ADDR, BAR1_SIZE, false, false);
        d.set_bar(4, BAR4_ADDR, BAR4_SIZE, false, true);
        d.cfg[0x34] = 0x40;
        // MSI-X: 3 entries, table and PBA in BAR1.
        d.put32(0x40, 0x0002_5011);
        d.put32(0x44, 0x0000_0001);
        d.put32(0x48, 0x0000_0801);
        d.virtio_cap(0x50, 0x60, 1, 16, 4, 0x0000, 0x1000); // common
        d.virtio_cap(0x60, 0x70, 3, 16, 4, 0x1000, 0x1000); // ISR
        d.virtio_cap(0x70, 0x80, 4, 16, 4, 0x2000, 0x1000); // device
        d.virtio_cap(0x80, 0x00, 2, 20, 4, 0x3000, 0x1000); // notify
        d.put32(0x90, 4); // notify_off_multiplier
        d
    }

    /// Transitional virtio-net 1af4:1000 (subsystem 1), with an I/O BAR0 as well.
    pub fn virtio_net_transitional() -> Self {
        let mut d = Self::virtio_net_modern();
        d.put32(0x00, 0x1000_1af4);
        d.put32(0x08, 0x0200_0000);
        d.put32(0x2c, 0x0001_1af4);
        d.set_bar(0, BAR0_IO as u64, 0x20, true, false);
        d
    }

    pub fn put16(&mut self, off: usize, v: u16) {
        self.cfg[off..off + 2].copy_from_slice(&v.to_le_bytes());
    }

    pub fn put32(&mut self, off: usize, v: u32) {
        self.cfg[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    pub fn get(&self, off: usize, size: usize) -> u32 {
        let mut b = [0u8; 4];
        b[..size].copy_from_slice(&self.cfg[off..off + size]);
        u32::from_le_bytes(b)
    }

    #[allow(clippy::too_many_arguments)]
    fn virtio_cap(&mut self, at: usize, next: u8, ty: u8, len: u8, bar: u8, off: u32, length: u32) {
        self.cfg[at] = 0x09;
        self.cfg[at + 1] = next;
        self.cfg[at + 2] = len;
        self.cfg[at + 3] = ty;
        self.cfg[at + 4] = bar;
        self.put32(at + 8, off);
        self.put32(at + 12, length);
    }

    pub fn set_bar(&mut self, i: u8, addr: u64, size: u64, io: bool, is64: bool) {
        self.bars.retain(|b| b.0 != i);
        self.bars.push((i, size, io, is64));
        let off = 0x10 + 4 * i as usize;
        if io {
            self.put32(off, addr as u32 | 1);
        } else if is64 {
            self.put32(off, addr as u32 | 0x4 | 0x8);
            self.put32(off + 4, (addr >> 32) as u32);
        } else {
            self.put32(off, addr as u32);
        }
    }

    pub fn command(&self) -> u16 {
        self.get(0x04, 2) as u16
    }

    /// A config write with the register semantics (BAR size masks, read-only fields).
    pub fn write(&mut self, off: usize, size: usize, v: u32) {
        for k in 0..size {
            let o = off + k;
            let byte = (v >> (8 * k)) as u8;
            self.write_byte(o, byte);
        }
    }

    fn write_byte(&mut self, o: usize, byte: u8) {
        match o {
            0x04 => self.cfg[o] = byte & 0x07,
            0x05 => self.cfg[o] = byte & 0x04,
            0x10..=0x27 => {
                let i = ((o - 0x10) / 4) as u8;
                let lane = (o - 0x10) % 4;
                if let Some(&(_, size, io, _)) = self.bars.iter().find(|b| b.0 == i) {
                    let flags_mask: u32 = if io { 0x3 } else { 0xf };
                    let mask = !((size as u32).wrapping_sub(1)) & !flags_mask;
                    let cur = self.get(0x10 + 4 * i as usize, 4);
                    let nb = (cur & !(0xff << (8 * lane))) | ((byte as u32) << (8 * lane));
                    let v = (nb & mask) | (cur & flags_mask);
                    self.put32(0x10 + 4 * i as usize, v);
                } else if let Some(&(_, _size, _, true)) = self.bars.iter().find(|b| b.0 + 1 == i) {
                    // Upper half of a 64-bit BAR below 4 GiB in size: all bits writable.
                    self.cfg[o] = byte;
                }
            }
            _ => {} // read-only in this model
        }
    }
}

pub struct State {
    pub tree: BTreeMap<String, Vec<u8>>,
    pub now: u64,
    pub page: Option<*mut XenPciSharedinfo>,
    pub granted_to: Option<DomId>,
    pub port_allocated: bool,
    pub notifies: u64,
    pub waits: u64,
    pub dev: FakeDevice,
    pub op_mode: OpMode,
    pub never_connect: bool,
    pub close_on_connect: bool,
    pub late_count: u32,
    pub served: Vec<XenPciOp>,
    pub store_fail: Option<String>,
}

#[derive(Clone)]
pub struct Sim(pub Rc<RefCell<State>>);

impl Sim {
    /// The toolstack and pciback have set up one device (0000:00:05.0 -> 0000:00:00.0);
    /// the backend waits in Initialised for the frontend.
    pub fn new(dev: FakeDevice) -> Sim {
        let mut tree = BTreeMap::new();
        let mut put = |k: &str, v: &str| {
            tree.insert(k.to_string(), v.as_bytes().to_vec());
        };
        put(&format!("{FE_DIR}/backend"), BE_DIR);
        put(&format!("{FE_DIR}/backend-id"), "0");
        put(&format!("{FE_DIR}/state"), "1");
        put(
            &format!("{BE_DIR}/frontend"),
            "/local/domain/7/device/pci/0",
        );
        put(&format!("{BE_DIR}/frontend-id"), "7");
        put(&format!("{BE_DIR}/online"), "1");
        put(&format!("{BE_DIR}/num_devs"), "1");
        put(&format!("{BE_DIR}/dev-0"), "0000:00:05.0");
        put(&format!("{BE_DIR}/key-0"), "0000:00:05.0");
        put(
            &format!("{BE_DIR}/opts-0"),
            "msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict",
        );
        put(&format!("{BE_DIR}/vdev-0"), "0000:00:00.00");
        put(&format!("{BE_DIR}/state-0"), "3");
        put(&format!("{BE_DIR}/root-0"), "0000:00");
        put(&format!("{BE_DIR}/root_num"), "1");
        put(&format!("{BE_DIR}/state"), "3");
        Sim(Rc::new(RefCell::new(State {
            tree,
            now: 1_000 * MS,
            page: None,
            granted_to: None,
            port_allocated: false,
            notifies: 0,
            waits: 0,
            dev,
            op_mode: OpMode::Normal,
            never_connect: false,
            close_on_connect: false,
            late_count: 0,
            served: Vec::new(),
            store_fail: None,
        })))
    }

    pub fn st(&self) -> std::cell::RefMut<'_, State> {
        self.0.borrow_mut()
    }

    pub fn set(&self, k: &str, v: &str) {
        self.st().tree.insert(k.to_string(), v.as_bytes().to_vec());
    }

    pub fn rm(&self, k: &str) {
        self.st().tree.remove(k);
    }

    pub fn get(&self, k: &str) -> Option<String> {
        self.st()
            .tree
            .get(k)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// One round of pciback's work.
    pub fn step(&self) {
        let mut st = self.st();
        st.backend_xenbus();
        st.serve_op();
    }
}

impl State {
    fn read(&self, k: &str) -> Option<&[u8]> {
        self.tree.get(k).map(|v| &v[..])
    }

    fn backend_xenbus(&mut self) {
        let be_state = self
            .read(&format!("{BE_DIR}/state"))
            .and_then(XenbusState::parse);
        let fe_state = self
            .read(&format!("{FE_DIR}/state"))
            .and_then(XenbusState::parse);
        if be_state == Some(XenbusState::Initialised) && fe_state == Some(XenbusState::Initialised)
        {
            if self.never_connect {
                return;
            }
            if self.close_on_connect {
                self.tree.insert(format!("{BE_DIR}/state"), b"5".to_vec());
                return;
            }
            // pciback_attach: gather pci-op-ref, event-channel, magic; map; bind.
            let ok = self.read(&format!("{FE_DIR}/pci-op-ref"))
                == Some(GREF.to_string().as_bytes())
                && self.read(&format!("{FE_DIR}/event-channel"))
                    == Some(PORT.to_string().as_bytes())
                && self.read(&format!("{FE_DIR}/magic")) == Some(XEN_PCI_MAGIC.as_bytes())
                && self.granted_to == Some(0)
                && self.port_allocated;
            let s: &[u8] = if ok { b"4" } else { b"5" };
            self.tree.insert(format!("{BE_DIR}/state"), s.to_vec());
        }
    }

    fn flags(&self) -> Option<&AtomicU32> {
        let p = self.page?;
        // SAFETY: the test leaks the page; single-threaded.
        Some(unsafe { AtomicU32::from_ptr(std::ptr::addr_of_mut!((*p).flags)) })
    }

    fn serve_op(&mut self) {
        let connected = self.read(&format!("{BE_DIR}/state")) == Some(b"4");
        let Some(flags) = self.flags() else { return };
        if !connected || flags.load(Ordering::Acquire) & XEN_PCIF_ACTIVE == 0 {
            return;
        }
        match self.op_mode {
            OpMode::Silent => return,
            OpMode::Late(n) => {
                self.late_count += 1;
                if self.late_count < n {
                    return;
                }
                self.late_count = 0;
            }
            _ => {}
        }
        let p = self.page.unwrap();
        // SAFETY: as above.
        let mut op = unsafe { std::ptr::read_volatile(std::ptr::addr_of!((*p).op)) };
        self.served.push(op);
        let nr = op.value;
        self.execute(&mut op);
        match self.op_mode {
            OpMode::Err(e) => op.err = e,
            OpMode::WideValue if op.cmd == XEN_PCI_OP_CONF_READ => op.value |= 0xdead_0000,
            OpMode::MsixNoVector if op.cmd == XEN_PCI_OP_ENABLE_MSIX => {
                op.msix_entries[0].vector = 0;
            }
            OpMode::MsixPartial(n) if op.cmd == XEN_PCI_OP_ENABLE_MSIX => op.value = n,
            _ => {}
        }
        // SAFETY: as above. Write back only what pciback writes back.
        unsafe {
            (*p).op.err = op.err;
            (*p).op.value = op.value;
            if op.cmd == XEN_PCI_OP_ENABLE_MSIX && op.err == 0 {
                for i in 0..(nr as usize).min(SH_INFO_MAX_VEC) {
                    (*p).op.msix_entries[i].vector = op.msix_entries[i].vector;
                }
            }
            if self.op_mode == OpMode::WrongOp {
                (*p).op.offset += 4;
            }
        }
        let f = self.flags().unwrap();
        f.fetch_and(!XEN_PCIF_ACTIVE, Ordering::Release);
    }

    fn execute(&mut self, op: &mut XenPciOp) {
        if (op.domain, op.bus, op.devfn) != (0, 0, 0) {
            op.err = XEN_PCI_ERR_DEV_NOT_FOUND;
            return;
        }
        let (off, size) = (op.offset, op.size);
        let access_ok =
            matches!(size, 1 | 2 | 4) && off >= 0 && off % size == 0 && off + size <= 256;
        match op.cmd {
            XEN_PCI_OP_CONF_READ if access_ok => {
                op.value = self.dev.get(off as usize, size as usize);
                op.err = 0;
            }
            XEN_PCI_OP_CONF_WRITE if access_ok => {
                self.dev.write(off as usize, size as usize, op.value);
                op.err = 0;
            }
            XEN_PCI_OP_CONF_READ | XEN_PCI_OP_CONF_WRITE => op.err = XEN_PCI_ERR_INVALID_OFFSET,
            XEN_PCI_OP_ENABLE_MSI => {
                op.value = 0;
                op.err = XEN_PCI_ERR_OP_FAILED; // no MSI capability
            }
            XEN_PCI_OP_DISABLE_MSI => {
                op.value = 16;
                op.err = 0;
            }
            XEN_PCI_OP_ENABLE_MSIX => {
                let n = op.value;
                op.err = if n as usize > SH_INFO_MAX_VEC {
                    -22
                } else if self.dev.msix_enabled {
                    -114 // EALREADY
                } else if self.dev.command() & 0x2 == 0 {
                    -6 // ENXIO
                } else if n > self.dev.msix_table as u32
                    || op.msix_entries[..n as usize]
                        .iter()
                        .any(|e| e.entry >= self.dev.msix_table)
                {
                    -22
                } else {
                    0
                };
                if op.err == 0 {
                    for (i, e) in op.msix_entries[..n as usize].iter_mut().enumerate() {
                        e.vector = 40 + i as u16;
                    }
                    self.dev.msix_enabled = true;
                    op.value = 0;
                }
            }
            XEN_PCI_OP_DISABLE_MSIX => {
                self.dev.msix_enabled = false;
                op.value = 16;
                op.err = 0;
            }
            _ => op.err = XEN_PCI_ERR_NOT_IMPLEMENTED,
        }
    }
}

impl FrontPlatform for Sim {
    fn grant_page(
        &mut self,
        backend: DomId,
        page: NonNull<XenPciSharedinfo>,
    ) -> Result<GrantRef, i32> {
        let mut st = self.st();
        st.page = Some(page.as_ptr());
        st.granted_to = Some(backend);
        Ok(GREF)
    }

    fn alloc_unbound(&mut self, _backend: DomId) -> Result<EvtchnPort, i32> {
        self.st().port_allocated = true;
        Ok(PORT)
    }

    fn notify(&mut self, port: EvtchnPort) {
        assert_eq!(port, PORT);
        self.st().notifies += 1;
        self.step();
    }

    fn now_ns(&mut self) -> u64 {
        self.st().now
    }

    fn wait(&mut self, _port: Option<EvtchnPort>, deadline_ns: u64) {
        {
            let mut st = self.st();
            st.waits += 1;
            st.now = (st.now + MS).min(deadline_ns.max(st.now));
        }
        self.step();
    }
}

impl Store for Sim {
    fn read(&mut self, path: &str) -> Result<Vec<u8>, StoreError> {
        let st = self.st();
        if st.store_fail.as_deref() == Some(path) {
            return Err(StoreError::Other("EIO".into()));
        }
        st.tree.get(path).cloned().ok_or(StoreError::NotFound)
    }

    fn write(&mut self, path: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut st = self.st();
        if st.store_fail.as_deref() == Some(path) {
            return Err(StoreError::Other("EACCES".into()));
        }
        st.tree.insert(path.to_string(), value.to_vec());
        Ok(())
    }
}

/// A leaked shared page.
pub fn page() -> NonNull<XenPciSharedinfo> {
    NonNull::from(Box::leak(Box::new(XenPciSharedinfo::default())))
}

/// The passed-through device as the guest sees it (0000:00:00.0).
pub const DEV: drivers::pcifront::PciAddress = drivers::pcifront::PciAddress {
    domain: 0,
    bus: 0,
    devfn: 0,
};

/// A frontend connected to a simulated pciback serving `dev`.
pub fn connected(dev: FakeDevice) -> (Sim, drivers::pcifront::PciFront<Sim>) {
    let sim = Sim::new(dev);
    // SAFETY: a leaked page used only by this frontend and the simulated backend.
    let mut f = unsafe {
        drivers::pcifront::PciFront::new(sim.clone(), page(), drivers::pcifront::Limits::default())
    };
    f.connect(&mut sim.clone(), FE_DIR).unwrap();
    (sim, f)
}
