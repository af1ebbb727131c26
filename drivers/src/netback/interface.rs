//! A connected vif's shared state: both rings mapped from the frontend, the event
//! channel(s) bound, and the frontend's negotiated features. Setting it up and tearing it
//! down (what Linux's interface.c does for a queue).

use alloc::format;
use alloc::string::String;

use xen::abi::netif::{NetifRxRequest, NetifRxResponse, NetifTxRequest, NetifTxResponse};
use xen::abi::{DomId, EvtchnPort, GrantRef, PAGE_SIZE};

use super::counters::Fatal;
use super::hv::{ForeignPage, Hv};
use crate::ring::BackRing;

pub(crate) type TxRing = BackRing<NetifTxRequest, NetifTxResponse>;
pub(crate) type RxRing = BackRing<NetifRxRequest, NetifRxResponse>;

/// Features the frontend wrote (only those that change what we do).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrontendFeatures {
    /// `feature-sg`: it accepts multi-slot RX packets.
    pub sg: bool,
    /// `feature-rx-notify`: it notifies when it posts RX buffers (else we must poll).
    pub rx_notify: bool,
    /// `feature-no-csum-offload`: it does not want blank checksums on RX.
    pub no_csum_offload: bool,
    /// `feature-gso-tcpv4` / `-tcpv6`: it accepts GSO RX packets (we never send them).
    pub gso_tcpv4: bool,
    pub gso_tcpv6: bool,
}

/// What connecting needs, read from the frontend's directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConnectParams {
    pub tx_ref: GrantRef,
    pub rx_ref: GrantRef,
    /// `(tx, rx)` remote ports; equal when not split.
    pub evtchn: (EvtchnPort, EvtchnPort),
    pub features: FrontendFeatures,
}

/// A connected vif.
pub(crate) struct Conn {
    pub fe_dom: DomId,
    pub tx: TxRing,
    pub rx: RxRing,
    /// Local ports: `(tx, rx)`, equal when not split.
    pub port: (EvtchnPort, EvtchnPort),
    pub features: FrontendFeatures,
    tx_page: ForeignPage,
    rx_page: ForeignPage,
}

/// A failed connection attempt: which counter, and a message to log.
pub(crate) type ConnError = (Fatal, String);

impl Conn {
    /// Maps the rings and binds the event channel(s); on any failure releases what was
    /// already set up.
    pub fn connect<H: Hv>(hv: &mut H, fe_dom: DomId, p: &ConnectParams) -> Result<Conn, ConnError> {
        let tx_page = hv
            .map_grant(fe_dom, p.tx_ref)
            .map_err(|e| (Fatal::MapFailed, format!("tx-ring-ref {}: {e}", p.tx_ref)))?;
        let rx_page = match hv.map_grant(fe_dom, p.rx_ref) {
            Ok(pg) => pg,
            Err(e) => {
                unmap(hv, tx_page);
                return Err((Fatal::MapFailed, format!("rx-ring-ref {}: {e}", p.rx_ref)));
            }
        };
        // SAFETY: `GrantMap`'s contract: the page is mapped read-write, 8-aligned, for
        // PAGE_SIZE bytes until we unmap it, which happens only in `release` after the
        // ring is no longer used (the ring is dropped with `self`).
        let tx = unsafe { TxRing::attach(tx_page.ptr, PAGE_SIZE) };
        // SAFETY: as above, for the RX page.
        let rx = unsafe { RxRing::attach(rx_page.ptr, PAGE_SIZE) };
        let (tx, rx) = match (tx, rx) {
            (Ok(tx), Ok(rx)) => (tx, rx),
            (t, _) => {
                unmap(hv, tx_page);
                unmap(hv, rx_page);
                let which = if t.is_err() { "tx" } else { "rx" };
                return Err((Fatal::BadRing, format!("{which} ring page unusable (req_prod ahead of rsp_prod by more than a ring)")));
            }
        };
        let tx_port = match hv.bind_interdomain(fe_dom, p.evtchn.0) {
            Ok(port) => port,
            Err(e) => {
                unmap(hv, tx_page);
                unmap(hv, rx_page);
                return Err((
                    Fatal::BindFailed,
                    format!("event channel {}: {e}", p.evtchn.0),
                ));
            }
        };
        let rx_port = if p.evtchn.1 == p.evtchn.0 {
            tx_port
        } else {
            match hv.bind_interdomain(fe_dom, p.evtchn.1) {
                Ok(port) => port,
                Err(e) => {
                    hv.close(tx_port);
                    unmap(hv, tx_page);
                    unmap(hv, rx_page);
                    return Err((
                        Fatal::BindFailed,
                        format!("event-channel-rx {}: {e}", p.evtchn.1),
                    ));
                }
            }
        };
        Ok(Conn {
            fe_dom,
            tx,
            rx,
            port: (tx_port, rx_port),
            features: p.features,
            tx_page,
            rx_page,
        })
    }

    /// Closes the event channel(s) and unmaps both rings.
    pub fn release<H: Hv>(self, hv: &mut H) {
        // The rings (raw pointers into the pages) are consumed here and never used again.
        let Conn {
            port,
            tx_page,
            rx_page,
            ..
        } = self;
        hv.close(port.0);
        if port.1 != port.0 {
            hv.close(port.1);
        }
        unmap(hv, tx_page);
        unmap(hv, rx_page);
    }
}

fn unmap<H: Hv>(hv: &mut H, page: ForeignPage) {
    if let Err(e) = hv.unmap_grant(page) {
        hv.log(format_args!("unmapping a ring page: {e} (mapping leaked)"));
    }
}
