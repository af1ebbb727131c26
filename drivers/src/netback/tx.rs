//! Guest TX (frontend -> us): consume TX requests, validate, grant-copy into local
//! buffers in batches, reassemble multi-slot packets, fill in blank checksums, answer
//! every slot exactly once. Linux's netback.c `xenvif_tx_build_gops` and friends.
//!
//! Policy (see docs/netback.md):
//! - *Fatal* (the vif is disconnected; the batch in progress is discarded, unanswered):
//!   an impossible `req_prod`, a packet of more than 18 data slots, a packet or extra
//!   info chain cut off at `req_prod`, more than 4 extra info segments.
//! - *Bad packet* (every slot answered `NETIF_RSP_ERROR`, nothing forwarded, counted):
//!   first size < 14, a zero-length following slot, a slot crossing its page, following
//!   slots adding up to the first slot's total or more, an unknown or repeated extra info
//!   type, GSO (not advertised), a failed grant copy, `csum_blank` on a packet we cannot
//!   checksum.
//! - Multicast add/del extra info: accepted (answered OKAY) and ignored (we flood
//!   multicast anyway); the packet carrying it is not forwarded.

use alloc::vec;
use alloc::vec::Vec;

use xen::abi::netif::*;
use xen::abi::{GrantRef, PAGE_SIZE};

use super::counters::{Fatal, TxDrop, VifCounters};
use super::csum;
use super::hv::{push_from_guest, CopyOp, Hv};
use super::interface::Conn;
use super::switch::PortId;
use super::{Frame, VifId};

/// Packets parsed per grant-copy batch.
pub const TX_BATCH: usize = 64;
/// Most extra info segments on one packet (one of each defined type).
const MAX_EXTRAS: usize = (XEN_NETIF_EXTRA_TYPE_MAX - 1) as usize;
const ETH_HLEN: u32 = 14;

/// One data slot of a packet.
#[derive(Clone, Copy)]
struct Seg {
    gref: GrantRef,
    offset: u16,
    len: u16,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Copy,
    Refuse(TxDrop),
    /// Multicast control: answer OKAY, forward nothing.
    Control,
}

struct Pkt {
    /// Responses to write, in ring order: `(id, is_extra)`, in `Batch::rsps`.
    rsps: (usize, usize),
    /// Data segments, in `Batch::segs`.
    segs: (usize, usize),
    size: u32,
    flags: u16,
    verdict: Verdict,
}

#[derive(Default)]
struct Batch {
    pkts: Vec<Pkt>,
    rsps: Vec<(u16, bool)>,
    segs: Vec<Seg>,
}

/// An extra info segment decoded from a TX slot (the first 8 bytes of the slot, in
/// memory order: `gref` then `offset` then `flags`, little-endian on x86).
fn extra_of(req: &NetifTxRequest) -> (u8, u8) {
    let g = req.gref.to_le_bytes();
    (g[0], g[1])
}

/// Reads one packet off the ring (all its slots consumed) into `b`. `Ok(false)`: no
/// request pending.
fn read_packet(conn: &mut Conn, b: &mut Batch) -> Result<bool, Fatal> {
    let avail = conn
        .tx
        .unconsumed_requests()
        .map_err(|_| Fatal::TxRingCorrupt)?;
    if avail == 0 {
        return Ok(false);
    }
    let mut left = avail;
    let mut next = |conn: &mut Conn| -> Result<NetifTxRequest, Fatal> {
        if left == 0 {
            return Err(Fatal::TruncatedPacket);
        }
        left -= 1;
        match conn.tx.next_request() {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(Fatal::TruncatedPacket),
            Err(_) => Err(Fatal::TxRingCorrupt),
        }
    };
    let first = next(conn)?;
    let rsp_start = b.rsps.len();
    let seg_start = b.segs.len();
    b.rsps.push((first.id, false));
    let mut verdict = Verdict::Copy;
    let refuse = |v: &mut Verdict, why: TxDrop| {
        if !matches!(v, Verdict::Refuse(_)) {
            *v = Verdict::Refuse(why);
        }
    };

    // Extra info segments follow the first request.
    if first.flags & NETTXF_EXTRA_INFO != 0 {
        let mut seen = 0u8;
        let mut n = 0;
        loop {
            if n == MAX_EXTRAS {
                return Err(Fatal::TooManyExtras);
            }
            let ex = next(conn)?;
            n += 1;
            b.rsps.push((0, true));
            let (ty, fl) = extra_of(&ex);
            match ty {
                XEN_NETIF_EXTRA_TYPE_GSO
                | XEN_NETIF_EXTRA_TYPE_MCAST_ADD
                | XEN_NETIF_EXTRA_TYPE_MCAST_DEL
                | XEN_NETIF_EXTRA_TYPE_HASH => {
                    if seen & (1 << ty) != 0 {
                        refuse(&mut verdict, TxDrop::BadExtra);
                    }
                    seen |= 1 << ty;
                    match ty {
                        // We advertise no feature-gso-*: netif.h forbids GSO then.
                        XEN_NETIF_EXTRA_TYPE_GSO => refuse(&mut verdict, TxDrop::GsoNotNegotiated),
                        XEN_NETIF_EXTRA_TYPE_MCAST_ADD | XEN_NETIF_EXTRA_TYPE_MCAST_DEL
                            if verdict == Verdict::Copy =>
                        {
                            verdict = Verdict::Control;
                        }
                        // A hash value for the packet: accepted and ignored.
                        _ => {}
                    }
                }
                _ => refuse(&mut verdict, TxDrop::BadExtra),
            }
            if fl & XEN_NETIF_EXTRA_FLAG_MORE == 0 {
                break;
            }
        }
    }

    // Following data slots.
    let mut more = first.flags & NETTXF_MORE_DATA != 0;
    let mut rest: u32 = 0;
    let mut slots = 1u32;
    b.segs.push(Seg {
        gref: first.gref,
        offset: first.offset,
        len: 0,
    });
    while more {
        if slots == XEN_NETIF_NR_SLOTS_MIN {
            return Err(Fatal::TooManySlots);
        }
        let r = next(conn)?;
        slots += 1;
        b.rsps.push((r.id, false));
        more = r.flags & NETTXF_MORE_DATA != 0;
        if r.size == 0 {
            refuse(&mut verdict, TxDrop::ZeroSlot);
        }
        if r.offset as usize + r.size as usize > PAGE_SIZE {
            refuse(&mut verdict, TxDrop::CrossesPage);
        }
        rest += r.size as u32;
        b.segs.push(Seg {
            gref: r.gref,
            offset: r.offset,
            len: r.size,
        });
    }
    let size = first.size as u32;
    if size < ETH_HLEN {
        refuse(&mut verdict, TxDrop::TooSmall);
    } else if rest >= size {
        refuse(&mut verdict, TxDrop::SizeMismatch);
    } else {
        let own = size - rest;
        if first.offset as usize + own as usize > PAGE_SIZE {
            refuse(&mut verdict, TxDrop::CrossesPage);
        }
        b.segs[seg_start].len = own as u16;
    }
    b.pkts.push(Pkt {
        rsps: (rsp_start, b.rsps.len()),
        segs: (seg_start, b.segs.len()),
        size,
        flags: first.flags,
        verdict,
    });
    Ok(true)
}

/// Runs TX for one connected vif: at most `budget.0` packets, and no more packets
/// once `budget.1` bytes are taken (so one turn holds at most that much, plus one
/// packet, copied from this guest). Frames go to `out`. Returns whether requests are
/// still pending (budget exhausted).
pub(crate) fn tx_pass<H: Hv>(
    hv: &mut H,
    vif: VifId,
    conn: &mut Conn,
    counters: &mut VifCounters,
    (budget, byte_budget): (usize, usize),
    out: &mut Vec<Frame>,
) -> Result<bool, Fatal> {
    let mut done = 0;
    let mut bytes = 0usize;
    let mut b = Batch::default();
    loop {
        b.pkts.clear();
        b.rsps.clear();
        b.segs.clear();
        while b.pkts.len() < TX_BATCH && done + b.pkts.len() < budget && bytes < byte_budget {
            if !read_packet(conn, &mut b)? {
                break;
            }
            bytes += b.pkts.last().map_or(0, |p| p.size as usize);
        }
        if b.pkts.is_empty() {
            // Ring drained: arm the event, and go on if something slipped in.
            if conn
                .tx
                .final_check_for_requests()
                .map_err(|_| Fatal::TxRingCorrupt)?
                && done < budget
                && bytes < byte_budget
            {
                continue;
            }
            return Ok(done >= budget || bytes >= byte_budget);
        }
        done += b.pkts.len();
        run_batch(hv, vif, conn, counters, &mut b, out);
        if done >= budget || bytes >= byte_budget {
            // Budget spent: more work if requests remain; if the ring happens to be
            // drained, re-arm the event so that the guest's next request notifies us.
            return conn
                .tx
                .final_check_for_requests()
                .map_err(|_| Fatal::TxRingCorrupt);
        }
    }
}

fn run_batch<H: Hv>(
    hv: &mut H,
    vif: VifId,
    conn: &mut Conn,
    counters: &mut VifCounters,
    b: &mut Batch,
    out: &mut Vec<Frame>,
) {
    // Buffers for the packets we copy.
    let mut bufs: Vec<Vec<u8>> = b
        .pkts
        .iter()
        .map(|p| {
            if p.verdict == Verdict::Copy {
                vec![0u8; p.size as usize]
            } else {
                Vec::new()
            }
        })
        .collect();
    // Copy-op index ranges per packet.
    let mut op_ranges = Vec::with_capacity(b.pkts.len());
    let mut ok = Vec::with_capacity(b.pkts.len());
    {
        let mut ops: Vec<CopyOp<'_>> = Vec::with_capacity(b.segs.len() + 8);
        for (p, buf) in b.pkts.iter().zip(bufs.iter_mut()) {
            let start = ops.len();
            if p.verdict == Verdict::Copy {
                let mut rest: &mut [u8] = buf.as_mut_slice();
                for s in &b.segs[p.segs.0..p.segs.1] {
                    let (head, tail) = rest.split_at_mut(s.len as usize);
                    push_from_guest(&mut ops, conn.fe_dom, s.gref, s.offset, head);
                    rest = tail;
                }
            }
            op_ranges.push((start, ops.len()));
        }
        if !ops.is_empty() {
            hv.grant_copy(&mut ops);
        }
        for (s, e) in &op_ranges {
            ok.push(ops[*s..*e].iter().all(|o| o.status == 0));
        }
    }
    for ((p, buf), copied) in b.pkts.iter_mut().zip(bufs).zip(ok) {
        let mut data = buf;
        let mut csum_ok = false;
        if p.verdict == Verdict::Copy && !copied {
            p.verdict = Verdict::Refuse(TxDrop::CopyFailed);
        }
        if p.verdict == Verdict::Copy && p.flags & NETTXF_CSUM_BLANK != 0 {
            if csum::fill_l4_checksum(&mut data).is_ok() {
                csum_ok = true;
                counters.csum_filled += 1;
            } else {
                p.verdict = Verdict::Refuse(TxDrop::BadCsumPacket);
            }
        }
        let status = match p.verdict {
            Verdict::Copy | Verdict::Control => NETIF_RSP_OKAY,
            Verdict::Refuse(_) => NETIF_RSP_ERROR,
        };
        for &(id, extra) in &b.rsps[p.rsps.0..p.rsps.1] {
            let rsp = NetifTxResponse {
                id,
                status: if extra { NETIF_RSP_NULL } else { status },
            };
            // Cannot fail: every consumed request gets exactly one response, in order.
            let _ = conn.tx.put_response(rsp);
        }
        counters.tx_slots += (p.rsps.1 - p.rsps.0) as u64;
        match p.verdict {
            Verdict::Copy => {
                counters.tx_packets += 1;
                counters.tx_bytes += data.len() as u64;
                out.push(Frame {
                    src: PortId::Vif(vif),
                    data,
                    csum_ok,
                });
            }
            Verdict::Control => counters.count_tx_drop(TxDrop::McastControl),
            Verdict::Refuse(why) => {
                counters.count_tx_drop(why);
                let n = counters.tx_drop(why);
                if n.is_power_of_two() {
                    hv.log(format_args!("vif{vif}: tx packet refused: {why} (x{n})"));
                }
            }
        }
    }
    if conn.tx.push_responses_and_check_notify() {
        hv.notify(conn.port.0);
        counters.notifies += 1;
    }
}
