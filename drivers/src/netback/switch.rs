//! A MAC-learning L2 switch between ports (vifs and an uplink, the NIC later).
//!
//! - Unicast to a learned (or pinned) destination goes to that port only; broadcast,
//!   multicast and unknown unicast are flooded to every other port.
//! - Learning: the source MAC of each accepted frame is (re)bound to its port with the
//!   current time; entries not seen for `ageing_ns` expire. The table is bounded: when
//!   full, an expired entry or else the least recently seen learned entry is evicted.
//! - Anti-spoofing: a port configured with a MAC (every vif: libxl's `mac` key) may send
//!   only with that source address; its MAC is pinned to it (never aged, never moved to
//!   another port by learning), so no one can steal a guest's traffic.
//!
//! Time is passed in (nanoseconds, any monotonic origin).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::parse::Mac;
use super::VifId;

/// A switch port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortId {
    Vif(VifId),
    /// A physical NIC (or any port without anti-spoofing).
    Uplink(u16),
}

/// Why the switch dropped a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchDrop {
    /// The source port is not attached.
    UnknownPort,
    /// Shorter than an Ethernet header.
    Runt,
    /// Source MAC differs from the port's configured one.
    Spoofed,
    /// Source MAC is multicast/broadcast.
    MulticastSrc,
    /// The destination lives on the source port.
    Hairpin,
    /// No other port to send to.
    NoPorts,
}

/// Switch configuration.
#[derive(Clone, Copy, Debug)]
pub struct SwitchConfig {
    /// Most learned + pinned entries.
    pub max_entries: usize,
    /// Learned entries expire after this long without traffic.
    pub ageing_ns: u64,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            max_entries: 1024,
            ageing_ns: 300_000_000_000,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    port: PortId,
    last_seen: u64,
    pinned: bool,
}

/// Switch-wide counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwitchCounters {
    pub unicast: u64,
    pub flooded: u64,
    pub spoofed: u64,
    pub runts: u64,
    pub multicast_src: u64,
    pub hairpin: u64,
    pub no_ports: u64,
    pub unknown_port: u64,
    pub learned: u64,
    pub moved: u64,
    pub aged: u64,
    pub evicted: u64,
    /// A frame tried to claim a MAC pinned to another port (frame still forwarded from an
    /// uplink; the entry was not moved).
    pub pinned_conflicts: u64,
}

/// The switch.
pub struct Switch {
    cfg: SwitchConfig,
    /// Attached ports and the source MAC each must use (if any).
    ports: BTreeMap<PortId, Option<Mac>>,
    table: BTreeMap<Mac, Entry>,
    pub counters: SwitchCounters,
}

fn is_multicast(mac: &[u8]) -> bool {
    mac[0] & 1 != 0
}

impl Switch {
    pub fn new(cfg: SwitchConfig) -> Self {
        Switch {
            cfg,
            ports: BTreeMap::new(),
            table: BTreeMap::new(),
            counters: SwitchCounters::default(),
        }
    }

    /// Attaches a port; with `mac`, the port may only send from it and the MAC is pinned.
    pub fn add_port(&mut self, port: PortId, mac: Option<Mac>) {
        self.remove_port(port);
        self.ports.insert(port, mac);
        if let Some(m) = mac {
            // A pinned entry wins over whatever was learned.
            self.table.insert(
                m,
                Entry {
                    port,
                    last_seen: 0,
                    pinned: true,
                },
            );
        }
    }

    /// Detaches a port and forgets every entry pointing at it.
    pub fn remove_port(&mut self, port: PortId) {
        self.ports.remove(&port);
        self.table.retain(|_, e| e.port != port);
    }

    /// Attached ports.
    pub fn ports(&self) -> impl Iterator<Item = PortId> + '_ {
        self.ports.keys().copied()
    }

    /// Entries in the table (learned and pinned).
    pub fn table_len(&self) -> usize {
        self.table.len()
    }

    /// Where `mac` lives, if known and not expired at `now`.
    pub fn lookup(&self, mac: &Mac, now: u64) -> Option<PortId> {
        let e = self.table.get(mac)?;
        if !e.pinned && now.saturating_sub(e.last_seen) > self.cfg.ageing_ns {
            return None;
        }
        Some(e.port)
    }

    /// Drops expired learned entries.
    pub fn age(&mut self, now: u64) {
        let age = self.cfg.ageing_ns;
        let before = self.table.len();
        self.table
            .retain(|_, e| e.pinned || now.saturating_sub(e.last_seen) <= age);
        self.counters.aged += (before - self.table.len()) as u64;
    }

    fn learn(&mut self, src: Mac, port: PortId, now: u64) {
        if let Some(e) = self.table.get_mut(&src) {
            if e.pinned {
                if e.port != port {
                    self.counters.pinned_conflicts += 1;
                }
                return;
            }
            if e.port != port {
                self.counters.moved += 1;
                e.port = port;
            }
            e.last_seen = now;
            return;
        }
        if self.table.len() >= self.cfg.max_entries {
            self.age(now);
        }
        if self.table.len() >= self.cfg.max_entries {
            // Evict the least recently seen learned entry.
            let victim = self
                .table
                .iter()
                .filter(|(_, e)| !e.pinned)
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(m, _)| *m);
            match victim {
                Some(m) => {
                    self.table.remove(&m);
                    self.counters.evicted += 1;
                }
                None => return,
            }
        }
        self.table.insert(
            src,
            Entry {
                port,
                last_seen: now,
                pinned: false,
            },
        );
        self.counters.learned += 1;
    }

    /// Decides where a frame from `src` goes: fills `out` with the destination ports
    /// (one for known unicast, every other port for a flood).
    pub fn route(
        &mut self,
        src: PortId,
        frame: &[u8],
        now: u64,
        out: &mut Vec<PortId>,
    ) -> Result<(), SwitchDrop> {
        out.clear();
        let Some(allowed) = self.ports.get(&src).copied() else {
            self.counters.unknown_port += 1;
            return Err(SwitchDrop::UnknownPort);
        };
        if frame.len() < 14 {
            self.counters.runts += 1;
            return Err(SwitchDrop::Runt);
        }
        let mut dst = [0u8; 6];
        dst.copy_from_slice(&frame[0..6]);
        let mut smac = [0u8; 6];
        smac.copy_from_slice(&frame[6..12]);
        if let Some(m) = allowed {
            if m != smac {
                self.counters.spoofed += 1;
                return Err(SwitchDrop::Spoofed);
            }
        }
        if is_multicast(&smac) {
            self.counters.multicast_src += 1;
            return Err(SwitchDrop::MulticastSrc);
        }
        self.learn(smac, src, now);
        if !is_multicast(&dst) {
            if let Some(p) = self.lookup(&dst, now) {
                if p == src {
                    self.counters.hairpin += 1;
                    return Err(SwitchDrop::Hairpin);
                }
                out.push(p);
                self.counters.unicast += 1;
                return Ok(());
            }
        }
        out.extend(self.ports.keys().copied().filter(|p| *p != src));
        if out.is_empty() {
            self.counters.no_ports += 1;
            return Err(SwitchDrop::NoPorts);
        }
        self.counters.flooded += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec;

    fn frame(dst: Mac, src: Mac) -> std::vec::Vec<u8> {
        let mut f = vec![0u8; 60];
        f[0..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&src);
        f
    }
    const A: Mac = [0, 0x16, 0x3e, 0, 0, 1];
    const B: Mac = [0, 0x16, 0x3e, 0, 0, 2];
    const X: Mac = [0x02, 0, 0, 0, 0, 9];
    const BCAST: Mac = [0xff; 6];

    #[test]
    fn learns_floods_pins_and_ages() {
        let mut s = Switch::new(SwitchConfig {
            max_entries: 4,
            ageing_ns: 100,
        });
        let (va, vb, up) = (PortId::Vif(1), PortId::Vif(2), PortId::Uplink(0));
        s.add_port(va, Some(A));
        s.add_port(vb, Some(B));
        s.add_port(up, None);
        let mut out = vec![];
        s.route(va, &frame(B, A), 0, &mut out).unwrap();
        assert_eq!(out, vec![vb]);
        s.route(va, &frame(BCAST, A), 0, &mut out).unwrap();
        assert_eq!(out, vec![vb, up]);
        // Unknown unicast floods; then X is learned on the uplink.
        s.route(va, &frame(X, A), 0, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        s.route(up, &frame(A, X), 10, &mut out).unwrap();
        assert_eq!(out, vec![va]);
        s.route(va, &frame(X, A), 20, &mut out).unwrap();
        assert_eq!(out, vec![up]);
        // Spoofing from a vif is refused; the uplink cannot steal a pinned MAC.
        assert_eq!(
            s.route(va, &frame(X, B), 20, &mut out),
            Err(SwitchDrop::Spoofed)
        );
        s.route(up, &frame(BCAST, B), 20, &mut out).unwrap();
        assert_eq!(s.lookup(&B, 20), Some(vb));
        assert_eq!(s.counters.pinned_conflicts, 1);
        // Ageing.
        assert_eq!(s.lookup(&X, 200), None);
        s.age(200);
        assert_eq!(s.table_len(), 2);
        // Hairpin, runts, multicast source.
        assert_eq!(
            s.route(va, &frame(A, A), 0, &mut out),
            Err(SwitchDrop::Hairpin)
        );
        assert_eq!(s.route(va, &[0; 10], 0, &mut out), Err(SwitchDrop::Runt));
        assert_eq!(
            s.route(up, &frame(A, BCAST), 0, &mut out),
            Err(SwitchDrop::MulticastSrc)
        );
        s.remove_port(vb);
        assert_eq!(s.lookup(&B, 0), None);
    }

    #[test]
    fn table_is_bounded() {
        let mut s = Switch::new(SwitchConfig {
            max_entries: 3,
            ageing_ns: 1_000,
        });
        s.add_port(PortId::Uplink(0), None);
        s.add_port(PortId::Uplink(1), None);
        let mut out = vec![];
        for i in 0..10u8 {
            s.route(
                PortId::Uplink(0),
                &frame(BCAST, [2, 0, 0, 0, 0, i]),
                i as u64,
                &mut out,
            )
            .unwrap();
            assert!(s.table_len() <= 3);
        }
        assert_eq!(s.counters.evicted, 7);
        assert_eq!(s.lookup(&[2, 0, 0, 0, 0, 9], 9), Some(PortId::Uplink(0)));
    }
}
