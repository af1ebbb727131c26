//! Event channel operations (`event_channel.h`), `HYPERVISOR_event_channel_op(cmd, arg)`.

use super::{DomId, EvtchnPort};

pub const EVTCHNOP_BIND_INTERDOMAIN: u32 = 0;
pub const EVTCHNOP_BIND_VIRQ: u32 = 1;
pub const EVTCHNOP_BIND_PIRQ: u32 = 2;
pub const EVTCHNOP_CLOSE: u32 = 3;
pub const EVTCHNOP_SEND: u32 = 4;
pub const EVTCHNOP_STATUS: u32 = 5;
pub const EVTCHNOP_ALLOC_UNBOUND: u32 = 6;
pub const EVTCHNOP_BIND_IPI: u32 = 7;
pub const EVTCHNOP_BIND_VCPU: u32 = 8;
pub const EVTCHNOP_UNMASK: u32 = 9;
pub const EVTCHNOP_RESET: u32 = 10;

/// `BIND_PIRQ__WILL_SHARE`.
pub const BIND_PIRQ_WILL_SHARE: u32 = 1;

pub const EVTCHNSTAT_CLOSED: u32 = 0;
pub const EVTCHNSTAT_UNBOUND: u32 = 1;
pub const EVTCHNSTAT_INTERDOMAIN: u32 = 2;
pub const EVTCHNSTAT_PIRQ: u32 = 3;
pub const EVTCHNSTAT_VIRQ: u32 = 4;
pub const EVTCHNSTAT_IPI: u32 = 5;

/// Ports of the 2-level ABI on 64-bit guests (`EVTCHN_2L_NR_CHANNELS`).
pub const EVTCHN_2L_NR_CHANNELS: usize = 64 * 64;

/// `struct evtchn_alloc_unbound`: a port in `dom` that `remote_dom` may bind.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnAllocUnbound {
    pub dom: DomId,
    pub remote_dom: DomId,
    /// OUT.
    pub port: EvtchnPort,
}

/// `struct evtchn_bind_interdomain`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnBindInterdomain {
    pub remote_dom: DomId,
    pub remote_port: EvtchnPort,
    /// OUT.
    pub local_port: EvtchnPort,
}

/// `struct evtchn_bind_virq`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnBindVirq {
    pub virq: u32,
    pub vcpu: u32,
    /// OUT.
    pub port: EvtchnPort,
}

/// `struct evtchn_bind_pirq`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnBindPirq {
    pub pirq: u32,
    /// `BIND_PIRQ__*`.
    pub flags: u32,
    /// OUT.
    pub port: EvtchnPort,
}

/// `struct evtchn_bind_ipi`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnBindIpi {
    pub vcpu: u32,
    /// OUT.
    pub port: EvtchnPort,
}

/// `struct evtchn_close`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnClose {
    pub port: EvtchnPort,
}

/// `struct evtchn_send`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnSend {
    pub port: EvtchnPort,
}

/// `struct evtchn_unmask`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnUnmask {
    pub port: EvtchnPort,
}

/// `struct evtchn_bind_vcpu`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnBindVcpu {
    pub port: EvtchnPort,
    pub vcpu: u32,
}

/// The `interdomain` arm of `evtchn_status.u`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvtchnStatusInterdomain {
    pub dom: DomId,
    pub port: EvtchnPort,
}

/// `evtchn_status.u`. Which arm is valid depends on `status` (`EVTCHNSTAT_*`).
#[repr(C)]
#[derive(Clone, Copy)]
pub union EvtchnStatusU {
    /// `unbound.dom` (`EVTCHNSTAT_unbound`).
    pub unbound_dom: DomId,
    /// `EVTCHNSTAT_interdomain`.
    pub interdomain: EvtchnStatusInterdomain,
    /// `EVTCHNSTAT_pirq`.
    pub pirq: u32,
    /// `EVTCHNSTAT_virq`.
    pub virq: u32,
}

/// `struct evtchn_status`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct EvtchnStatus {
    pub dom: DomId,
    pub port: EvtchnPort,
    /// OUT: `EVTCHNSTAT_*`.
    pub status: u32,
    /// OUT: vCPU the port is bound to.
    pub vcpu: u32,
    /// OUT.
    pub u: EvtchnStatusU,
}

impl Default for EvtchnStatus {
    fn default() -> Self {
        EvtchnStatus {
            dom: 0,
            port: 0,
            status: 0,
            vcpu: 0,
            u: EvtchnStatusU {
                interdomain: EvtchnStatusInterdomain::default(),
            },
        }
    }
}
