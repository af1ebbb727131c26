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

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use xen::abi::netif::*;
use xen::abi::PAGE_SIZE;

use super::counters::{Fatal, RxDrop, VifCounters};
use super::csum;
use super::hv::{push_to_guest, CopyOp, Hv};
use super::interface::Conn;
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
    queue: &mut VecDeque<Frame>,
    counters: &mut VifCounters,
    budget: usize,
    outcomes: &mut Vec<RxOutcome>,
) -> Result<bool, Fatal> {
    let mut done = 0;
    loop {
        // Pick the frames of this batch and the requests they use.
        let mut frames: Vec<Frame> = Vec::new();
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
            for _ in 0..need {
                match conn.rx.next_request() {
                    Ok(Some(r)) => reqs.push(r),
                    _ => return Err(Fatal::RxRingCorrupt),
                }
            }
            avail -= need;
            let mut f = queue.pop_front().expect("front exists");
            // A frame nobody checked (from the wire): verify its TCP/UDP checksum here,
            // once, and tell the guest (NETRXF_data_validated) so it does not verify it
            // again; vSnoop then trusts it too. A bad checksum goes up unmarked: the
            // guest's stack drops it.
            if !f.csum_ok && csum::l4_checksum_ok(&f.data) {
                f.csum_ok = true;
            }
            frames.push(f);
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
        run_batch(hv, vif, conn, counters, frames, &reqs, outcomes);
    }
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
        hv.log(format_args!(
            "netback: vif{vif}: rx frame dropped: {reason} (x{n})"
        ));
    }
    outcomes.push(RxOutcome::NotDelivered { vif, frame, reason });
}

fn run_batch<H: Hv>(
    hv: &mut H,
    vif: VifId,
    conn: &mut Conn,
    counters: &mut VifCounters,
    frames: Vec<Frame>,
    reqs: &[NetifRxRequest],
    outcomes: &mut Vec<RxOutcome>,
) {
    let mut ok = Vec::with_capacity(frames.len());
    {
        let mut ops: Vec<CopyOp<'_>> = Vec::with_capacity(reqs.len() + frames.len());
        let mut r = 0;
        let mut ranges = Vec::with_capacity(frames.len());
        for f in &frames {
            let start = ops.len();
            for chunk in f.data.chunks(PAGE_SIZE) {
                push_to_guest(&mut ops, conn.fe_dom, reqs[r].gref, 0, chunk);
                r += 1;
            }
            ranges.push((start, ops.len()));
        }
        hv.grant_copy(&mut ops);
        for (s, e) in ranges {
            ok.push(ops[s..e].iter().all(|o| o.status == 0));
        }
    }
    // Responses, in the slots of their requests (consumed in order, answered in order).
    let mut r = 0;
    for (f, good) in frames.iter().zip(&ok) {
        let n = slots_for(f.data.len());
        for (i, chunk) in f.data.chunks(PAGE_SIZE).enumerate() {
            let mut flags = 0;
            if *good && i + 1 < n {
                flags |= NETRXF_MORE_DATA;
            }
            if *good && i == 0 && f.csum_ok {
                flags |= NETRXF_DATA_VALIDATED;
            }
            let status = if *good {
                chunk.len() as i16
            } else {
                NETIF_RSP_ERROR
            };
            let _ = conn.rx.put_response(NetifRxResponse {
                id: reqs[r].id,
                offset: 0,
                flags,
                status,
            });
            r += 1;
        }
    }
    if conn.rx.push_responses_and_check_notify() {
        hv.notify(conn.port.1);
        counters.notifies += 1;
    }
    // Free slots after the whole batch, plus those used by later frames of the batch.
    let free_after = conn.rx.unconsumed_requests().unwrap_or(0);
    let mut later: u32 = frames.iter().map(|f| slots_for(f.data.len()) as u32).sum();
    for (f, good) in frames.into_iter().zip(ok) {
        later -= slots_for(f.data.len()) as u32;
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
