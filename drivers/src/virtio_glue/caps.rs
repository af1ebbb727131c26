//! The virtio PCI capabilities (virtio 1.x, 4.1.4): where the common, notify, ISR and
//! device-specific structures live. We read them ourselves (the same way
//! `virtio_drivers` does: the first vendor capability of each type with `cap_len >= 16`)
//! to check them against the BARs before `virtio_drivers` trusts them, and to map the
//! common and device structures for the registers it does not expose.

use crate::pcifront::bar::{Bar, BarKind, Capability, PCI_CAP_ID_VNDR};
use crate::pcifront::{ConfigOps, PciAddress, PciError};

pub const VIRTIO_PCI_CAP_COMMON_CFG: u8 = 1;
pub const VIRTIO_PCI_CAP_NOTIFY_CFG: u8 = 2;
pub const VIRTIO_PCI_CAP_ISR_CFG: u8 = 3;
pub const VIRTIO_PCI_CAP_DEVICE_CFG: u8 = 4;

/// One structure: `length` bytes at `offset` in BAR `bar`, at machine address `phys`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtioRegion {
    pub bar: u8,
    pub offset: u32,
    pub length: u32,
    pub phys: u64,
}

/// The structures of a modern virtio PCI device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VirtioCaps {
    pub common: VirtioRegion,
    pub notify: VirtioRegion,
    pub notify_off_multiplier: u32,
    pub isr: VirtioRegion,
    pub device: Option<VirtioRegion>,
}

/// Why the capabilities are unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CapsError {
    /// No common configuration capability: a legacy-only device.
    NoModernInterface,
    /// Another required structure is missing.
    Missing(&'static str),
    /// A structure is outside its BAR, in an I/O or unassigned BAR...
    Bad(&'static str),
    Pci(PciError),
}

impl From<PciError> for CapsError {
    fn from(e: PciError) -> Self {
        CapsError::Pci(e)
    }
}

/// Reads the vendor capabilities among `caps` and checks each structure lies inside an
/// assigned memory BAR of `bars`.
pub fn read_virtio_caps<C: ConfigOps>(
    ops: &mut C,
    addr: PciAddress,
    caps: &[Capability],
    bars: &[Bar],
) -> Result<VirtioCaps, CapsError> {
    let mut common = None;
    let mut notify = None;
    let mut mult = 0;
    let mut isr = None;
    let mut device = None;
    for c in caps.iter().filter(|c| c.id == PCI_CAP_ID_VNDR) {
        let o = c.offset as u16;
        let hdr = ops.conf_read(addr, o, 4)?;
        let cap_len = (hdr >> 16) as u8;
        let cfg_type = (hdr >> 24) as u8;
        if cap_len < 16 {
            continue;
        }
        let raw = (
            ops.conf_read(addr, o + 4, 4)? as u8,
            ops.conf_read(addr, o + 8, 4)?,
            ops.conf_read(addr, o + 12, 4)?,
        );
        match cfg_type {
            VIRTIO_PCI_CAP_COMMON_CFG if common.is_none() => common = Some(raw),
            VIRTIO_PCI_CAP_NOTIFY_CFG if cap_len >= 20 && notify.is_none() => {
                notify = Some(raw);
                mult = ops.conf_read(addr, o + 16, 4)?;
            }
            VIRTIO_PCI_CAP_ISR_CFG if isr.is_none() => isr = Some(raw),
            VIRTIO_PCI_CAP_DEVICE_CFG if device.is_none() => device = Some(raw),
            _ => {}
        }
    }
    let region = |(bar, offset, length): (u8, u32, u32)| -> Result<VirtioRegion, CapsError> {
        let b = bars
            .iter()
            .find(|b| b.index == bar)
            .ok_or(CapsError::Bad("structure in an unimplemented BAR"))?;
        if b.kind == BarKind::Io {
            return Err(CapsError::Bad("structure in an I/O BAR"));
        }
        if b.address == 0 {
            return Err(CapsError::Bad("structure in an unassigned BAR"));
        }
        if length == 0 || !b.contains(offset as u64, length as u64) {
            return Err(CapsError::Bad("structure outside its BAR"));
        }
        Ok(VirtioRegion {
            bar,
            offset,
            length,
            phys: b.address + offset as u64,
        })
    };
    let common = region(common.ok_or(CapsError::NoModernInterface)?)?;
    if (common.length as usize) < super::transport::common_cfg::LEN {
        return Err(CapsError::Bad("common configuration too short"));
    }
    if mult % 2 != 0 {
        return Err(CapsError::Bad("odd notify_off_multiplier"));
    }
    Ok(VirtioCaps {
        common,
        notify: region(notify.ok_or(CapsError::Missing("notify"))?)?,
        notify_off_multiplier: mult,
        isr: region(isr.ok_or(CapsError::Missing("ISR"))?)?,
        device: device.map(region).transpose()?,
    })
}
