//! BARs and capabilities of a type-0 (endpoint) config header, read through
//! [`ConfigOps`]: decoding, sizing with the write-all-ones probe (decoding disabled and
//! every register restored afterwards), the machine regions the kernel must map, and a
//! capability-list walk that refuses loops and bad pointers.
//!
//! In a PV domain the BAR values pciback reports are the device's real (machine)
//! addresses, and the toolstack has already granted us that iomem.

use alloc::vec::Vec;

use xen::abi::PAGE_SIZE;

use super::config::ConfigOps;
use super::error::PciError;
use super::parse::PciAddress;

pub const PCI_COMMAND: u16 = 0x04;
pub const PCI_STATUS: u16 = 0x06;
pub const PCI_HEADER_TYPE: u16 = 0x0e;
pub const PCI_BAR0: u16 = 0x10;
pub const PCI_CAPABILITY_LIST: u16 = 0x34;
pub const PCI_COMMAND_IO: u16 = 1 << 0;
pub const PCI_COMMAND_MEMORY: u16 = 1 << 1;
pub const PCI_COMMAND_MASTER: u16 = 1 << 2;
pub const PCI_COMMAND_INTX_DISABLE: u16 = 1 << 10;
pub const PCI_STATUS_CAP_LIST: u16 = 1 << 4;
/// Capability ids.
pub const PCI_CAP_ID_MSI: u8 = 0x05;
pub const PCI_CAP_ID_VNDR: u8 = 0x09;
pub const PCI_CAP_ID_MSIX: u8 = 0x11;

/// What a BAR decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    Io,
    Mem32,
    Mem64,
}

/// One implemented BAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    /// 0..=5 (a 64-bit BAR also uses `index + 1`).
    pub index: u8,
    pub kind: BarKind,
    pub prefetchable: bool,
    /// Bus (= machine) address; 0 if the BAR was never assigned.
    pub address: u64,
    /// Bytes decoded (a power of two).
    pub size: u64,
}

impl Bar {
    /// The page-aligned machine region covering a memory BAR (`None` for I/O BARs and
    /// unassigned ones).
    pub fn region(&self) -> Option<MmioRegion> {
        if self.kind == BarKind::Io || self.address == 0 {
            return None;
        }
        let page = PAGE_SIZE as u64;
        let start = self.address & !(page - 1);
        let end = self.address.checked_add(self.size)?.checked_add(page - 1)? & !(page - 1);
        Some(MmioRegion {
            bar: self.index,
            phys: start,
            len: end - start,
        })
    }

    /// Whether `[offset, offset + len)` lies inside the BAR.
    pub fn contains(&self, offset: u64, len: u64) -> bool {
        offset.checked_add(len).is_some_and(|end| end <= self.size)
    }
}

/// Machine memory to map uncached (`phys`, `len` page-aligned).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioRegion {
    pub bar: u8,
    pub phys: u64,
    pub len: u64,
}

/// The regions of all assigned memory BARs.
pub fn mmio_regions(bars: &[Bar]) -> Vec<MmioRegion> {
    bars.iter().filter_map(Bar::region).collect()
}

/// Decodes and sizes the six BARs of the type-0 function `addr`. Memory and I/O
/// decoding are switched off while sizing and the command register and every BAR are
/// restored afterwards (also when sizing fails halfway).
pub fn probe_bars<C: ConfigOps>(ops: &mut C, addr: PciAddress) -> Result<Vec<Bar>, PciError> {
    let header = ops.conf_read(addr, PCI_HEADER_TYPE, 1)? as u8;
    if header & 0x7f != 0 {
        return Err(PciError::BadConfig("not a type-0 header"));
    }
    let cmd = ops.conf_read(addr, PCI_COMMAND, 2)? as u16;
    let quiet = cmd & !(PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
    if quiet != cmd {
        ops.conf_write(addr, PCI_COMMAND, 2, quiet as u32)?;
    }
    let r = probe_all(ops, addr);
    let restored = if quiet != cmd {
        ops.conf_write(addr, PCI_COMMAND, 2, cmd as u32)
    } else {
        Ok(())
    };
    let bars = r?;
    restored?;
    Ok(bars)
}

fn probe_all<C: ConfigOps>(ops: &mut C, addr: PciAddress) -> Result<Vec<Bar>, PciError> {
    let mut bars = Vec::new();
    let mut i = 0u8;
    while i < 6 {
        let off = PCI_BAR0 + 4 * i as u16;
        let (orig, probe) = size_register(ops, addr, off)?;
        if orig & 1 == 1 {
            // I/O: bits 1:0 are flags; some devices decode only 16 bits.
            let mut mask = probe & !0x3;
            if mask >> 16 == 0 {
                mask |= 0xffff_0000;
            }
            if probe & !0x3 != 0 {
                let size = mask_to_size(mask as u64 | 0xffff_ffff_0000_0000)?;
                bars.push(Bar {
                    index: i,
                    kind: BarKind::Io,
                    prefetchable: false,
                    address: (orig & !0x3) as u64,
                    size,
                });
            }
            i += 1;
            continue;
        }
        let prefetchable = orig & 0x8 != 0;
        match (orig >> 1) & 0x3 {
            // 0: anywhere in 32 bits; 1: legacy below 1 MiB (decoded like a 32-bit BAR).
            0 | 1 => {
                if probe & !0xf != 0 {
                    let size = mask_to_size((probe & !0xf) as u64 | 0xffff_ffff_0000_0000)?;
                    bars.push(Bar {
                        index: i,
                        kind: BarKind::Mem32,
                        prefetchable,
                        address: (orig & !0xf) as u64,
                        size,
                    });
                }
                i += 1;
            }
            2 => {
                if i == 5 {
                    return Err(PciError::BadConfig("64-bit BAR in the last slot"));
                }
                let (orig_hi, probe_hi) = size_register(ops, addr, off + 4)?;
                let mask = (probe_hi as u64) << 32 | (probe & !0xf) as u64;
                if mask != 0 {
                    bars.push(Bar {
                        index: i,
                        kind: BarKind::Mem64,
                        prefetchable,
                        address: (orig_hi as u64) << 32 | (orig & !0xf) as u64,
                        size: mask_to_size(mask)?,
                    });
                }
                i += 2;
            }
            _ => return Err(PciError::BadConfig("reserved memory BAR type")),
        }
    }
    for b in &bars {
        if b.address % b.size != 0 || b.address.checked_add(b.size).is_none() {
            return Err(PciError::BadConfig("BAR address not aligned to its size"));
        }
    }
    Ok(bars)
}

/// Reads the register, writes all ones, reads the size mask back and restores it.
fn size_register<C: ConfigOps>(
    ops: &mut C,
    addr: PciAddress,
    off: u16,
) -> Result<(u32, u32), PciError> {
    let orig = ops.conf_read(addr, off, 4)?;
    ops.conf_write(addr, off, 4, 0xffff_ffff)?;
    let probe = ops.conf_read(addr, off, 4);
    let restore = ops.conf_write(addr, off, 4, orig);
    let probe = probe?;
    restore?;
    Ok((orig, probe))
}

/// A size mask (`~(size - 1)` with the flag bits cleared) to the size; the set bits must
/// be contiguous up to bit 63.
fn mask_to_size(mask: u64) -> Result<u64, PciError> {
    let size = mask & mask.wrapping_neg();
    if size == 0 || mask | (size - 1) != u64::MAX {
        return Err(PciError::BadConfig("BAR size mask not contiguous"));
    }
    Ok(size)
}

/// A capability in the standard list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    pub offset: u8,
    pub id: u8,
}

/// Walks the capability list (empty if the status register says there is none).
/// A pointer into the header (< 0x40), an unaligned one, or a loop is an error.
pub fn capabilities<C: ConfigOps>(
    ops: &mut C,
    addr: PciAddress,
) -> Result<Vec<Capability>, PciError> {
    let status = ops.conf_read(addr, PCI_STATUS, 2)? as u16;
    let mut caps = Vec::new();
    if status & PCI_STATUS_CAP_LIST == 0 {
        return Ok(caps);
    }
    let mut seen = [false; 64];
    let mut ptr = ops.conf_read(addr, PCI_CAPABILITY_LIST, 1)? as u8 & 0xfc;
    while ptr != 0 {
        if ptr < 0x40 {
            return Err(PciError::BadConfig("capability pointer into the header"));
        }
        let slot = &mut seen[ptr as usize / 4];
        if *slot {
            return Err(PciError::BadConfig("capability list loops"));
        }
        *slot = true;
        let hdr = ops.conf_read(addr, ptr as u16, 2)?;
        caps.push(Capability {
            offset: ptr,
            id: hdr as u8,
        });
        let next = (hdr >> 8) as u8;
        if next & 0x3 != 0 {
            return Err(PciError::BadConfig("unaligned capability pointer"));
        }
        ptr = next;
    }
    Ok(caps)
}

/// The first capability with `id`.
pub fn find_capability(caps: &[Capability], id: u8) -> Option<Capability> {
    caps.iter().copied().find(|c| c.id == id)
}

/// MSI-X table size (entries) from the capability at `cap`.
pub fn msix_table_size<C: ConfigOps>(
    ops: &mut C,
    addr: PciAddress,
    cap: Capability,
) -> Result<u16, PciError> {
    let ctrl = ops.conf_read(addr, cap.offset as u16 + 2, 2)? as u16;
    Ok((ctrl & 0x7ff) + 1)
}
