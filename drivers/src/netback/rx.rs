//! Guest RX (us -> frontend): a bounded per-vif queue (drop-tail), then grant copies
//! into the buffers the frontend posted, answered in the slots of their requests.
//! Linux's rx.c.
//!
//! A frame of up to one page uses one slot; a larger one uses `ceil(len / 4096)` slots
//! (chained with `NETRXF_more_data`) only if the frontend has `feature-sg`, else it is
//! dropped. Each response's status is the byte count of its slot; the first carries
//! `NETRXF_data_validated` when we computed the frame's checksum ourselves. When a grant
//! copy into a posted buffer fails (bad gref, read-only grant, another domain's grant),
//! every slot of that frame is answered `NETIF_RSP_ERROR` and the frame is not
//! delivered.

use alloc::vec::Vec;

use xen::abi::netif::*;
use xen::abi::PAGE_SIZE;

use super::counters::{Fatal, RxDrop, VifCounters};
use super::hv::{push_to_guest, CopyOp, Hv};
use super::interface::Conn;
use super::rxqueue::RxQueue;
use super::{csum, gro};
use super::{Frame, VifId};

/// Frames per grant-copy batch.
pub const RX_BATCH: usize = 64;

/// What happened to a frame addressed to a guest: the vSnoop integration point.
///
/// `Delivered` is reported only after the frame's grant copies succeeded and its
/// responses were pushed (visible to the frontend); call
/// `snoop::Engine::on_delivered_to_guest(vif, &frame.data, rx_free_slots, now, ..)` there,
/// and `on_not_delivered` for `NotDelivered`.
#[derive(Debug)]
pub enum RxOutcome {
    Delivered {
        vif: VifId,
        frame: Frame,
        /// RX requests the frontend has posted that are still unused after this frame.
        rx_free_slots: u32,
    },
    NotDelivered {
        vif: VifId,
        frame: Frame,
        reason: RxDrop,
    },
}

/// Slots a frame of `len` bytes needs.
pub(crate) fn slots_for(len: usize) -> usize {
    len.div_ceil(PAGE_SIZE).max(1)
}

/// Runs RX for one connected vif: delivers at most `budget` frames from `queue`.
/// Returns whether frames remain that could be delivered now (budget exhausted).
pub(crate) fn rx_pass<H: Hv>(
    hv: &mut H,
    vif: VifId,
    conn: &mut Conn,
    queue: &mut RxQueue,
    counters: &mut VifCounters,
    budget: usize,
    outcomes: &mut Vec<RxOutcome>,
) -> Result<bool, Fatal> {
    let mut done = 0;
    loop {
        // Pick the frames of this batch and the requests they use.
        let mut frames: Vec<Frame> = Vec::new();
        // Per frame: its GSO size (0: a plain frame).
        let mut gsos: Vec<u16> = Vec::new();
        let mut reqs: Vec<NetifRxRequest> = Vec::new();
        let mut avail = conn
            .rx
            .unconsumed_requests()
            .map_err(|_| Fatal::RxRingCorrupt)? as usize;
        // Slots the front frame needs when the ring has fewer (0: not short).
        let mut short_of = 0;
        while frames.len() < RX_BATCH && done + frames.len() < budget {
            let Some(f) = queue.front() else { break };
            let need = slots_for(f.data.len());
            if need > 1 && !conn.features.sg || need > XEN_NETIF_NR_SLOTS_MIN as usize {
                let frame = queue.pop_front().expect("front exists");
                drop_frame(hv, vif, counters, frame, RxDrop::TooBig, outcomes);
                continue;
            }
            if need > avail {
                short_of = need;
                break;
            }
            // A guest that takes GSO packets gets a run of in-order segments of one
            // flow as one packet, within the slots it has posted.
            let gso = if conn.features.gso_tcpv4 && conn.features.sg {
                coalesce_front(queue, avail.min(XEN_NETIF_NR_SLOTS_MIN as usize))
            } else {
                0
            };
            let f = queue.front().expect("front exists");
            let need = slots_for(f.data.len()) + usize::from(gso != 0);
            for _ in 0..need {
                match conn.rx.next_request() {
                    Ok(Some(r)) => reqs.push(r),
                    _ => return Err(Fatal::RxRingCorrupt),
                }
            }
            avail -= need;
            let mut f = queue.pop_front().expect("front exists");
            verify_checksum(&mut f);
            frames.push(f);
            gsos.push(gso);
        }
        if frames.is_empty() {
            if queue.is_empty() || done >= budget {
                return Ok(!queue.is_empty());
            }
            // Waiting for buffers: ask for a notification once the front frame fits, and
            // retry if enough arrived meanwhile. (Asking for "one more" would spin when
            // some but too few slots are posted.)
            if conn
                .rx
                .final_check_for_at_least(short_of.max(1) as u32)
                .map_err(|_| Fatal::RxRingCorrupt)?
            {
                continue;
            }
            return Ok(false);
        }
        done += frames.len();
        run_batch(hv, vif, conn, counters, frames, &gsos, &reqs, outcomes);
    }
}

/// A frame nobody checked (from the wire): its TCP/UDP checksum is verified here, once,
/// and the guest is told (`NETRXF_data_validated`) so it does not verify it again; vSnoop
/// then trusts it too. A bad checksum goes up unmarked: the guest's stack drops it.
fn verify_checksum(f: &mut Frame) {
    if !f.csum_ok && csum::l4_checksum_ok(&f.data) {
        f.csum_ok = true;
    }
}

/// Merges the run of in-order TCP segments at the front of `queue` into one packet that
/// needs at most `max_slots` slots (its data plus the GSO extra slot) and puts it in
/// their place. Returns its GSO size, or 0 when the front frame stays as it was.
fn coalesce_front(queue: &mut RxQueue, max_slots: usize) -> u16 {
    if queue.len() < 2 || max_slots < 3 {
        return 0;
    }
    let Some(f0) = queue.get_mut(0) else { return 0 };
    verify_checksum(f0);
    let Some(first) = gro::Segment::parse(&f0.data, f0.csum_ok) else {
        return 0;
    };
    let mut merge = gro::Merge::new(&f0.data, first);
    let src = f0.src;
    let mut k = 1;
    while let Some(f) = queue.get_mut(k) {
        verify_checksum(f);
        let Some(seg) = gro::Segment::parse(&f.data, f.csum_ok) else {
            break;
        };
        if slots_for(merge.len() + seg.payload()) + 1 > max_slots || !merge.push(&f.data, seg) {
            break;
        }
        k += 1;
    }
    if k == 1 {
        return 0;
    }
    let (data, gso) = merge.finish();
    queue.replace_front(
        k,
        Frame {
            src,
            data,
            csum_ok: true,
        },
    );
    gso.unwrap_or(0)
}

fn drop_frame<H: Hv>(
    hv: &mut H,
    vif: VifId,
    counters: &mut VifCounters,
    frame: Frame,
    reason: RxDrop,
    outcomes: &mut Vec<RxOutcome>,
) {
    counters.count_rx_drop(reason);
    let n = counters.rx_drop(reason);
    if n.is_power_of_two() {
        hv.log(format_args!("vif{vif}: rx frame dropped: {reason} (x{n})"));
    }
    outcomes.push(RxOutcome::NotDelivered { vif, frame, reason });
}

#[allow(clippy::too_many_arguments)]
fn run_batch<H: Hv>(
    hv: &mut H,
    vif: VifId,
    conn: &mut Conn,
    counters: &mut VifCounters,
    frames: Vec<Frame>,
    gsos: &[u16],
    reqs: &[NetifRxRequest],
    outcomes: &mut Vec<RxOutcome>,
) {
    // Request index of each frame's first slot. A GSO packet's second slot carries the
    // extra info (after the first data slot, where netfront looks for it).
    let mut bases = Vec::with_capacity(frames.len());
    let mut next = 0;
    for (f, g) in frames.iter().zip(gsos) {
        bases.push(next);
        next += slots_for(f.data.len()) + usize::from(*g != 0);
    }
    let data_slot = |base: usize, gso: u16, chunk: usize| {
        if gso != 0 && chunk > 0 {
            base + chunk + 1
        } else {
            base + chunk
        }
    };
    let mut ok = Vec::with_capacity(frames.len());
    {
        let mut ops: Vec<CopyOp<'_>> = Vec::with_capacity(reqs.len() + frames.len());
        let mut ranges = Vec::with_capacity(frames.len());
        for ((f, g), base) in frames.iter().zip(gsos).zip(&bases) {
            let start = ops.len();
            for (i, chunk) in f.data.chunks(PAGE_SIZE).enumerate() {
                let r = data_slot(*base, *g, i);
                push_to_guest(&mut ops, conn.fe_dom, reqs[r].gref, 0, chunk);
            }
            ranges.push((start, ops.len()));
        }
        hv.grant_copy(&mut ops);
        for (s, e) in ranges {
            ok.push(ops[s..e].iter().all(|o| o.status == 0));
        }
    }
    // Responses, in the slots of their requests (consumed in order, answered in order).
    for (((f, g), base), good) in frames.iter().zip(gsos).zip(&bases).zip(&ok) {
        let n = slots_for(f.data.len());
        let gso = if *good { *g } else { 0 };
        for (i, chunk) in f.data.chunks(PAGE_SIZE).enumerate() {
            let mut flags = 0;
            if *good && i + 1 < n {
                flags |= NETRXF_MORE_DATA;
            }
            if *good && i == 0 && f.csum_ok {
                flags |= NETRXF_DATA_VALIDATED;
            }
            if gso != 0 && i == 0 {
                flags |= NETRXF_EXTRA_INFO;
            }
            let status = if *good {
                chunk.len() as i16
            } else {
                NETIF_RSP_ERROR
            };
            let _ = conn.rx.put_response(NetifRxResponse {
                id: reqs[data_slot(*base, *g, i)].id,
                offset: 0,
                flags,
                status,
            });
            if i == 0 && *g != 0 {
                // The slot reserved for the extra info: a GSO extra (as
                // `netif_extra_info` laid over the response), or an error answer
                // for its request when the copy failed.
                let extra = if gso != 0 {
                    NetifRxResponse {
                        id: u16::from(XEN_NETIF_EXTRA_TYPE_GSO),
                        offset: gso,
                        flags: u16::from(XEN_NETIF_GSO_TYPE_TCPV4),
                        status: 0,
                    }
                } else {
                    NetifRxResponse {
                        id: reqs[base + 1].id,
                        offset: 0,
                        flags: 0,
                        status: NETIF_RSP_ERROR,
                    }
                };
                let _ = conn.rx.put_response(extra);
            }
        }
        if gso != 0 {
            counters.rx_gso_packets += 1;
        }
    }
    if conn.rx.push_responses_and_check_notify() {
        hv.notify(conn.port.1);
        counters.notifies += 1;
    }
    // Free slots after the whole batch, plus those used by later frames of the batch.
    let free_after = conn.rx.unconsumed_requests().unwrap_or(0);
    let slots = |f: &Frame, g: u16| (slots_for(f.data.len()) + usize::from(g != 0)) as u32;
    let mut later: u32 = frames.iter().zip(gsos).map(|(f, g)| slots(f, *g)).sum();
    for ((f, g), good) in frames.into_iter().zip(gsos).zip(ok) {
        later -= slots(&f, *g);
        if good {
            counters.rx_packets += 1;
            counters.rx_bytes += f.data.len() as u64;
            outcomes.push(RxOutcome::Delivered {
                vif,
                frame: f,
                rx_free_slots: free_after + later,
            });
        } else {
            drop_frame(hv, vif, counters, f, RxDrop::CopyFailed, outcomes);
        }
    }
}
