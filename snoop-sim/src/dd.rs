//! The driver domain (netback + vSnoop) for one guest vif.
//!
//! Network → guest: a frame is copied into one of the guest's *posted* RX buffers if one is
//! free ("delivered": the engine's `on_delivered_to_guest` runs and any early ACK it returns
//! goes to the sender); otherwise it waits in a bounded backlog (Linux netback's internal RX
//! queue, bounded in bytes), or is dropped when that is full (`on_not_delivered`). The guest
//! consumes delivered frames and re-posts buffers only while it runs; re-posting drains the
//! backlog. Guest → network: every frame passes `on_from_guest` (Suppress = drop).
//! Handshake hold: frames the engine hands back for redelivery (`poll_redeliver`, polled on
//! every scheduler tick) take the network → guest path again.

use std::collections::VecDeque;

use snoop::{Config as EngineConfig, Engine, GuestVerdict, VifId};

use crate::monitor::{Monitor, Origin};
use crate::time::Nanos;

#[derive(Clone, Debug)]
pub struct DdParams {
    /// RX ring size (slots).
    pub ring_slots: u32,
    /// Buffers the guest keeps posted (netfront's RX target).
    pub rx_target: u32,
    /// Backlog bound in bytes.
    pub backlog_bytes: usize,
    pub vif: VifId,
}

#[derive(Clone, Debug, Default)]
pub struct DdStats {
    pub delivered: u64,
    pub backlogged: u64,
    pub dropped: u64,
    pub early_acks: u64,
    pub guest_frames: u64,
    pub suppressed: u64,
    pub rewritten: u64,
    pub redelivered: u64,
    pub min_free_slots: u32,
}

pub struct DriverDomain {
    pub p: DdParams,
    pub engine: Engine,
    /// Posted, still free RX buffers.
    posted: u32,
    /// Delivered frames the guest has not consumed yet (they occupy ring slots).
    ring: VecDeque<Vec<u8>>,
    backlog: VecDeque<Vec<u8>>,
    backlog_len: usize,
    pub monitor: Monitor,
    pub stats: DdStats,
    ack_buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl DriverDomain {
    pub fn new(p: DdParams, engine_cfg: EngineConfig) -> Self {
        assert!(p.rx_target <= p.ring_slots);
        DriverDomain {
            posted: p.rx_target,
            stats: DdStats {
                min_free_slots: p.rx_target,
                ..Default::default()
            },
            p,
            engine: Engine::new(engine_cfg),
            ring: VecDeque::new(),
            backlog: VecDeque::new(),
            backlog_len: 0,
            monitor: Monitor::default(),
            ack_buf: vec![0u8; 256],
            scratch: Vec::with_capacity(2048),
        }
    }

    pub fn posted(&self) -> u32 {
        self.posted
    }
    pub fn ring_pending(&self) -> usize {
        self.ring.len()
    }
    pub fn backlog_frames(&self) -> usize {
        self.backlog.len()
    }

    /// A frame from the network for the guest. Returns true if something was delivered.
    /// Frames for the sender (early ACKs) are appended to `to_sender`.
    pub fn from_network(
        &mut self,
        now: Nanos,
        frame: Vec<u8>,
        to_sender: &mut Vec<Vec<u8>>,
    ) -> bool {
        self.monitor.on_sender_frame_seen(&frame);
        self.enter_rx(now, frame, to_sender)
    }

    /// Deferred early ACKs that are due go to the sender (`Config::ack_defer_ns`).
    pub fn send_deferred_acks(&mut self, now: Nanos, to_sender: &mut Vec<Vec<u8>>) {
        while let Some((vif, n)) = self.engine.poll_deferred_ack(now, &mut self.ack_buf) {
            assert_eq!(vif, self.p.vif);
            let ack = self.ack_buf[..n].to_vec();
            self.stats.early_acks += 1;
            self.monitor.on_to_sender(now, &ack, Origin::EarlyAck);
            to_sender.push(ack);
        }
    }

    /// Frames the handshake hold has due for redelivery go to the guest again. Returns true
    /// if something was delivered.
    pub fn redeliver(&mut self, now: Nanos, to_sender: &mut Vec<Vec<u8>>) -> bool {
        let mut any = false;
        let mut due = Vec::new();
        self.engine.poll_redeliver(now, &mut due);
        for (vif, f) in due {
            assert_eq!(vif, self.p.vif);
            self.stats.redelivered += 1;
            any |= self.enter_rx(now, f, to_sender);
        }
        any
    }

    fn enter_rx(&mut self, now: Nanos, frame: Vec<u8>, to_sender: &mut Vec<Vec<u8>>) -> bool {
        if self.posted > 0 && self.backlog.is_empty() {
            self.deliver(now, frame, to_sender);
            true
        } else if self.backlog_len + frame.len() <= self.p.backlog_bytes {
            self.stats.backlogged += 1;
            self.backlog_len += frame.len();
            self.backlog.push_back(frame);
            false
        } else {
            self.stats.dropped += 1;
            self.engine.on_not_delivered(self.p.vif, &frame, now);
            false
        }
    }

    fn deliver(&mut self, now: Nanos, frame: Vec<u8>, to_sender: &mut Vec<Vec<u8>>) {
        self.posted -= 1;
        self.stats.delivered += 1;
        self.stats.min_free_slots = self.stats.min_free_slots.min(self.posted);
        self.monitor.on_delivered(&frame);
        if let Some(n) = self.engine.on_delivered_to_guest(
            self.p.vif,
            &frame,
            self.posted,
            now,
            &mut self.ack_buf,
        ) {
            assert!(
                n <= self.ack_buf.len(),
                "engine returned length {n} > buffer"
            );
            let ack = self.ack_buf[..n].to_vec();
            self.stats.early_acks += 1;
            self.monitor.on_to_sender(now, &ack, Origin::EarlyAck);
            to_sender.push(ack);
        }
        self.ring.push_back(frame);
    }

    /// The guest (running) takes every delivered frame off the ring.
    pub fn guest_take_ring(&mut self) -> VecDeque<Vec<u8>> {
        std::mem::take(&mut self.ring)
    }

    /// The guest (running) re-posts RX buffers up to its target; the backlog drains into
    /// them. Returns true if frames were delivered.
    pub fn guest_repost(&mut self, now: Nanos, to_sender: &mut Vec<Vec<u8>>) -> bool {
        let free_slots = self.p.ring_slots - self.ring.len() as u32;
        let before = self.posted;
        self.posted = self.p.rx_target.min(free_slots).max(self.posted);
        if self.posted != before {
            // netback sees the RX ring's req_prod move: NO-BUFFER ends once the vif has
            // enough free slots again (docs/snoop.md, rule 4 for the caller).
            self.engine.on_rx_space(self.p.vif, self.posted);
        }
        let mut any = false;
        while self.posted > 0 {
            let Some(f) = self.backlog.pop_front() else {
                break;
            };
            self.backlog_len -= f.len();
            self.deliver(now, f, to_sender);
            any = true;
        }
        any
    }

    /// A frame the guest sent toward the network.
    pub fn from_guest(&mut self, now: Nanos, mut frame: Vec<u8>, to_sender: &mut Vec<Vec<u8>>) {
        self.stats.guest_frames += 1;
        self.monitor.on_guest_frame(&frame);
        self.scratch.clear();
        self.scratch.extend_from_slice(&frame);
        match self.engine.on_from_guest(self.p.vif, &mut frame, now) {
            GuestVerdict::Suppress => self.stats.suppressed += 1,
            GuestVerdict::Forward => {
                let origin = if frame == self.scratch {
                    Origin::Guest
                } else {
                    self.stats.rewritten += 1;
                    Origin::GuestRewritten
                };
                self.monitor.on_to_sender(now, &frame, origin);
                to_sender.push(frame);
            }
        }
    }
}
