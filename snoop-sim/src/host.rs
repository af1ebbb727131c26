//! A TCP/IP host: a `smoltcp` interface over a [`SimDevice`], driven by simulated time.

use std::cell::Cell;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{HardwareAddress, IpAddress, IpCidr, Ipv4Address, Ipv6Address};

use crate::device::SimDevice;
use crate::time::{Nanos, US};

thread_local! {
    /// Simulated time (µs) for the TCP timestamp generators, which `smoltcp` takes as plain
    /// `fn() -> u32`. Each simulated world runs on one thread and sets it before every poll.
    static SIM_NOW_US: Cell<u64> = const { Cell::new(0) };
}

/// TSval clock of the sender: 1 kHz (Linux's TCP timestamp clock), arbitrary offset.
fn tsval_sender() -> u32 {
    (SIM_NOW_US.get() / 1000) as u32 ^ 0x1234_0000
}
/// TSval clock of the receiver VM: 1 kHz, a different offset.
fn tsval_receiver() -> u32 {
    ((SIM_NOW_US.get() / 1000) as u32).wrapping_add(0x7700_0000)
}

/// Which end of the simulated connection a host is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Sender,
    Receiver,
}

/// Addresses used by the simulation.
pub fn addrs(ipv6: bool) -> (IpAddress, IpAddress, u8) {
    if ipv6 {
        (
            IpAddress::Ipv6(Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
            IpAddress::Ipv6(Ipv6Address::new(0xfd00, 0, 0, 0, 0, 0, 0, 2)),
            64,
        )
    } else {
        (
            IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 1)),
            IpAddress::Ipv4(Ipv4Address::new(10, 0, 0, 2)),
            24,
        )
    }
}

pub fn to_instant(t: Nanos) -> Instant {
    Instant::from_micros((t / US) as i64)
}

pub struct Host {
    pub iface: Interface,
    pub dev: SimDevice,
    pub sockets: SocketSet<'static>,
    pub role: Role,
}

impl Host {
    pub fn new(role: Role, ipv6: bool, mac: [u8; 6], peer_mac: [u8; 6], seed: u64) -> Self {
        let mut dev = SimDevice::new(mac, peer_mac, 1500);
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut dev, Instant::from_micros(0));
        let (snd, rcv, prefix) = addrs(ipv6);
        let me = match role {
            Role::Sender => snd,
            Role::Receiver => rcv,
        };
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(me, prefix)).unwrap();
        });
        Host {
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
            role,
        }
    }

    /// A fresh TCP socket with the simulation's stack settings (see docs/simulation.md).
    pub fn new_tcp_socket(&self, rx_buf: usize, tx_buf: usize) -> tcp::Socket<'static> {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; rx_buf]),
            tcp::SocketBuffer::new(vec![0u8; tx_buf]),
        );
        s.set_tsval_generator(Some(match self.role {
            Role::Sender => tsval_sender,
            Role::Receiver => tsval_receiver,
        }));
        s.set_congestion_control(tcp::CongestionControl::Cubic);
        s
    }

    pub fn add(&mut self, s: tcp::Socket<'static>) -> SocketHandle {
        self.sockets.add(s)
    }

    pub fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    /// Runs the stack at `now` (ingress of every queued frame, then egress).
    pub fn poll(&mut self, now: Nanos) {
        SIM_NOW_US.set(now / US);
        self.iface
            .poll(to_instant(now), &mut self.dev, &mut self.sockets);
    }

    /// When the stack next needs a poll (timers), in simulated ns.
    pub fn poll_at(&mut self, now: Nanos) -> Option<Nanos> {
        self.iface
            .poll_at(to_instant(now), &self.sockets)
            .map(|i| i.total_micros().max(0) as u64 * US)
    }
}
