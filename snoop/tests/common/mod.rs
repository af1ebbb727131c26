//! Frame builders shared by the integration tests.
#![allow(dead_code)]

use snoop::wire::{map_v4, parse_tcp_frame, IpVersion, SegmentSpec, TcpFlags, TcpFrame};
use snoop::{Engine, FlowKey, FlowState, GuestVerdict, ACK_FRAME_MAX};

pub const ACK: u8 = TcpFlags::ACK;
pub const SYN: u8 = TcpFlags::SYN;
pub const FIN: u8 = TcpFlags::FIN;
pub const RST: u8 = TcpFlags::RST;
pub const PSH: u8 = TcpFlags::PSH;

/// One TCP connection between a remote sender and a guest behind `vif`.
#[derive(Clone, Debug)]
pub struct Conn {
    pub vif: u16,
    pub ip: IpVersion,
    pub vlan: Option<u16>,
    pub remote: [u8; 16],
    pub guest: [u8; 16],
    pub rport: u16,
    pub gport: u16,
    pub remote_mac: [u8; 6],
    pub guest_mac: [u8; 6],
    /// Timestamps offered by both sides.
    pub ts: bool,
    pub sack: bool,
    pub ws_remote: Option<u8>,
    pub ws_guest: Option<u8>,
    pub r_isn: u32,
    pub g_isn: u32,
}

impl Conn {
    pub fn v4() -> Self {
        Conn {
            vif: 3,
            ip: IpVersion::V4,
            vlan: None,
            remote: map_v4([198, 51, 100, 7]),
            guest: map_v4([10, 0, 0, 2]),
            rport: 40000,
            gport: 80,
            remote_mac: [2, 0, 0, 0, 0, 0xaa],
            guest_mac: [0, 0x16, 0x3e, 0, 0, 2],
            ts: true,
            sack: true,
            ws_remote: Some(7),
            ws_guest: Some(2),
            r_isn: 1000,
            g_isn: 5000,
        }
    }

    pub fn v6() -> Self {
        let mut r = [0u8; 16];
        r[0] = 0x20;
        r[1] = 0x01;
        r[2] = 0x0d;
        r[3] = 0xb8;
        r[15] = 7;
        let mut g = r;
        g[15] = 2;
        Conn {
            ip: IpVersion::V6,
            remote: r,
            guest: g,
            vlan: Some(0x2005),
            ..Conn::v4()
        }
    }

    pub fn key(&self) -> FlowKey {
        FlowKey {
            vif: self.vif,
            remote_port: self.rport,
            guest_port: self.gport,
            remote: self.remote,
            guest: self.guest,
        }
    }

    /// First data sequence number of the sender.
    pub fn r0(&self) -> u32 {
        self.r_isn.wrapping_add(1)
    }

    /// First data sequence number of the guest.
    pub fn g0(&self) -> u32 {
        self.g_isn.wrapping_add(1)
    }

    /// Effective guest window scale after the handshake.
    pub fn gws(&self) -> u8 {
        match (self.ws_remote, self.ws_guest) {
            (Some(_), Some(g)) => g,
            _ => 0,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn remote_seg_full(
        &self,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        ts: Option<(u32, u32)>,
        syn_opts: bool,
        payload: &[u8],
    ) -> Vec<u8> {
        let spec = SegmentSpec {
            eth_src: self.remote_mac,
            eth_dst: self.guest_mac,
            vlan_tci: self.vlan,
            ip: self.ip,
            src: self.remote,
            dst: self.guest,
            tos: 0,
            src_port: self.rport,
            dst_port: self.gport,
            seq,
            ack,
            flags,
            window,
            mss: syn_opts.then_some(1460),
            wscale: if syn_opts { self.ws_remote } else { None },
            sack_permitted: syn_opts && self.sack,
            timestamps: if self.ts { ts } else { None },
            sack: &[],
            payload,
        };
        let mut buf = vec![0u8; spec.frame_len()];
        let n = spec.write(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    /// A data (or control) segment from the sender.
    pub fn data(&self, seq: u32, tsval: u32, payload: &[u8]) -> Vec<u8> {
        self.remote_seg_full(
            seq,
            self.g0(),
            ACK | PSH,
            1000,
            Some((tsval, 1)),
            false,
            payload,
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub fn guest_seg_full(
        &self,
        seq: u32,
        ack: u32,
        flags: u8,
        window: u16,
        ts: Option<(u32, u32)>,
        syn_opts: bool,
        sack: &[(u32, u32)],
        payload: &[u8],
    ) -> Vec<u8> {
        let spec = SegmentSpec {
            eth_src: self.guest_mac,
            eth_dst: self.remote_mac,
            vlan_tci: self.vlan,
            ip: self.ip,
            src: self.guest,
            dst: self.remote,
            tos: 0,
            src_port: self.gport,
            dst_port: self.rport,
            seq,
            ack,
            flags,
            window,
            mss: syn_opts.then_some(1460),
            wscale: if syn_opts { self.ws_guest } else { None },
            sack_permitted: syn_opts && self.sack,
            timestamps: if self.ts { ts } else { None },
            sack,
            payload,
        };
        let mut buf = vec![0u8; spec.frame_len()];
        let n = spec.write(&mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    /// A pure ACK from the guest.
    pub fn gack(&self, ack: u32, window: u16, tsval: u32) -> Vec<u8> {
        self.guest_seg_full(
            self.g0(),
            ack,
            ACK,
            window,
            Some((tsval, 1)),
            false,
            &[],
            &[],
        )
    }

    /// Runs the passive handshake (sender SYN, guest SYN-ACK, sender ACK, guest's
    /// first ACK with `window`); the flow ends ACTIVE.
    pub fn establish(&self, e: &mut Engine, window: u16) {
        self.handshake_to_third_ack(e);
        let mut ga = self.gack(self.r0(), window, 51);
        assert_eq!(e.on_from_guest(self.vif, &mut ga, 0), GuestVerdict::Forward);
        assert_eq!(state(e, self), Some(FlowState::Active));
    }

    /// Sender SYN, guest SYN-ACK, sender ACK: the flow is ESTABLISHING, waiting for
    /// the guest's first segment.
    pub fn handshake_to_third_ack(&self, e: &mut Engine) {
        let mut out = [0u8; ACK_FRAME_MAX];
        let syn = self.remote_seg_full(self.r_isn, 0, SYN, 64240, Some((100, 0)), true, &[]);
        assert_eq!(
            e.on_delivered_to_guest(self.vif, &syn, 256, 0, &mut out),
            None
        );
        assert_eq!(state(e, self), Some(FlowState::SynSeen));
        let mut sa = self.guest_seg_full(
            self.g_isn,
            self.r0(),
            SYN | ACK,
            65160,
            Some((50, 100)),
            true,
            &[],
            &[],
        );
        assert_eq!(e.on_from_guest(self.vif, &mut sa, 0), GuestVerdict::Forward);
        assert_eq!(state(e, self), Some(FlowState::Establishing));
        let a = self.remote_seg_full(self.r0(), self.g0(), ACK, 1000, Some((101, 50)), false, &[]);
        assert_eq!(
            e.on_delivered_to_guest(self.vif, &a, 256, 0, &mut out),
            None
        );
        assert_eq!(state(e, self), Some(FlowState::Establishing));
    }
}

pub fn state(e: &Engine, c: &Conn) -> Option<FlowState> {
    e.flow_info(&c.key()).map(|i| i.state)
}

/// Parses an early ACK and checks it is a well-formed, checksummed pure ACK.
pub fn parse_ack(buf: &[u8]) -> TcpFrame {
    let f = parse_tcp_frame(buf).expect("early ACK parses");
    assert!(f.checksums_ok(buf), "early ACK checksums");
    assert_eq!(f.flags.0, ACK, "pure ACK");
    assert_eq!(f.payload_len(), 0);
    assert_eq!(f.opts.sack_blocks, 0, "no SACK blocks");
    f
}

/// Verifies IPv4 header and TCP checksums of any frame.
pub fn checksums_ok(buf: &[u8]) -> bool {
    parse_tcp_frame(buf)
        .map(|f| f.checksums_ok(buf))
        .unwrap_or(false)
}

/// Sequence-space order (RFC 9293 modular comparison): `a` before `b`.
pub fn lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `a` before or equal to `b` in sequence space.
pub fn le(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) <= 0
}
