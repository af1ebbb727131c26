//! In-memory `smoltcp` device: the stack sees bare IP packets (`Medium::Ip`, so no ARP in the
//! timed path); the device adds/strips the Ethernet header so that everything outside the
//! stacks (link, driver domain, vSnoop engine) handles full Ethernet frames.

use std::collections::VecDeque;

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::frame::{write_eth_header, ETH_HDR};

pub struct SimDevice {
    /// Ethernet frames waiting to be read by the stack.
    pub rx: VecDeque<Vec<u8>>,
    /// Ethernet frames the stack sent.
    pub tx: Vec<Vec<u8>>,
    mac: [u8; 6],
    peer_mac: [u8; 6],
    ip_mtu: usize,
}

impl SimDevice {
    pub fn new(mac: [u8; 6], peer_mac: [u8; 6], ip_mtu: usize) -> Self {
        SimDevice {
            rx: VecDeque::new(),
            tx: Vec::new(),
            mac,
            peer_mac,
            ip_mtu,
        }
    }
}

pub struct RxToken(Vec<u8>);

impl phy::RxToken for RxToken {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        f(&self.0[ETH_HDR..])
    }
}

pub struct TxToken<'a> {
    tx: &'a mut Vec<Vec<u8>>,
    mac: [u8; 6],
    peer_mac: [u8; 6],
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut buf = vec![0u8; ETH_HDR + len];
        let r = f(&mut buf[ETH_HDR..]);
        write_eth_header(&mut buf, self.peer_mac, self.mac);
        self.tx.push(buf);
        r
    }
}

impl Device for SimDevice {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.rx.pop_front()?;
        Some((
            RxToken(frame),
            TxToken {
                tx: &mut self.tx,
                mac: self.mac,
                peer_mac: self.peer_mac,
            },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        Some(TxToken {
            tx: &mut self.tx,
            mac: self.mac,
            peer_mac: self.peer_mac,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.ip_mtu;
        // Default checksum capabilities: the stacks compute *and verify* IP/TCP checksums, so a
        // frame the engine rewrote with a bad checksum is dropped like on real hardware (the
        // driver-domain monitor also flags it explicitly).
        caps
    }
}
