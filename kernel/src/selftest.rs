//! Self-tests the lab runs through the kernel command line (`vsnoop.selftest=NAME`).
//! Each step publishes its result in xenstore under `data/<name>/` so that dom0 can check
//! it; dom0's side is `lab/scenarios/<name>.sh`.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use core::cell::Cell;

use alloc::rc::Rc;
use drivers::xenstore::{Tx, XsError};
use xen::hypercall;

use crate::{dma, events::Dispatcher, gnttab, mm, println, time, xs};

/// Runs self-test `name`; returns an error message on failure.
pub fn run(name: &str) -> Result<(), String> {
    match name {
        "xen-core" => xen_core().map_err(|e| format!("xen-core: {e}")),
        other => Err(format!("unknown self-test '{other}'")),
    }
}

const BASE: &str = "data/xen-core";

fn put(key: &str, value: &str) -> Result<(), String> {
    xs::with(|x| x.write(Tx::NONE, &format!("{BASE}/{key}"), value.as_bytes()))
        .map_err(|e| format!("write {key}: {e:?}"))
}

fn get(path: &str) -> Result<String, XsError> {
    xs::with(|x| x.read_string(Tx::NONE, path))
}

/// Waits (up to `secs`) until `BASE/key` reads `want`, woken by a watch on it.
fn wait_key(key: &str, want: &str, secs: u64) -> Result<(), String> {
    let path = format!("{BASE}/{key}");
    let token = format!("st-{key}");
    xs::with(|x| x.watch(&path, &token)).map_err(|e| format!("watch {key}: {e:?}"))?;
    let deadline = time::now_ns() + secs * 1_000_000_000;
    let result = loop {
        if get(&path).is_ok_and(|v| v == want) {
            break Ok(());
        }
        if time::now_ns() > deadline {
            break Err(format!("timed out waiting for {key}={want}"));
        }
        // Sleep until xenstored talks to us (a watch event) or 50 ms pass.
        let got = xs::with(|x| x.poll_watch());
        if !matches!(got, Ok(Some(_))) {
            let port = xs::with(|x| x.doorbell().port());
            let _ = hypercall::sched_poll(&[port], time::now_ns() + 50_000_000);
        }
    };
    let _ = xs::with(|x| x.unwatch(&path, &token));
    result
}

fn xen_core() -> Result<(), String> {
    // 1. xenstore read: our own name and domid.
    let name = get("name").map_err(|e| format!("read name: {e:?}"))?;
    let domid = get("domid").map_err(|e| format!("read domid: {e:?}"))?;
    println!("xen-core: xenstore says name '{name}', domid {domid}");
    put("seen-name", &name)?;
    put("seen-domid", &domid)?;
    // 2. xenstore write, read back by dom0.
    put("hello", "from-vsnoop")?;
    // 3. a watch dom0 fires.
    put("ready", "1")?;
    wait_key("ping", "1", 20)?;
    put("pong", "1")?;
    println!("xen-core: watch fired by dom0 received");
    // 4. a 100 ms one-shot timer on the dispatcher.
    let mut d = Dispatcher::default();
    let fired = Rc::new(Cell::new(0u64));
    let t0 = time::now_ns();
    let f2 = fired.clone();
    d.at(t0 + 100_000_000, Box::new(move || f2.set(time::now_ns())));
    while fired.get() == 0 {
        d.run_once();
    }
    let delay_us = (fired.get() - t0) / 1000;
    let ms = format!("{}.{:03}", delay_us / 1000, delay_us % 1000);
    println!(
        "xen-core: 100 ms timer fired after {ms} ms ({} wake-ups)",
        d.wakeups
    );
    put("timer-ms", &ms)?;
    // 5. grant a page to dom0, which maps it and checks the pattern; then revoke it.
    let mut page = vec![0u8; 8192]; // an aligned 4 KiB page inside
    let off = page.as_ptr().align_offset(4096);
    let buf = &mut page[off..off + 4096];
    let tag = b"vsnoop-grant-ok";
    buf[..tag.len()].copy_from_slice(tag);
    for (i, b) in buf.iter_mut().enumerate().skip(tag.len()) {
        *b = ((i * 7 + 3) & 0xff) as u8;
    }
    let mfn = mm::virt_to_mfn(buf.as_ptr() as u64).ok_or("no mfn for the page")?;
    let gref = gnttab::grant_access(0, mfn, true).map_err(|e| format!("grant: {e:?}"))?;
    put("gref", &format!("{gref}"))?;
    wait_key("grant-read", "1", 30)?;
    let mut revoked = gnttab::end_access(gref);
    for _ in 0..100 {
        if revoked.is_ok() {
            break;
        }
        let _ = hypercall::sched_poll(&[], time::now_ns() + 10_000_000);
        revoked = gnttab::end_access(gref);
    }
    revoked.map_err(|e| format!("revoke: {e:?}"))?;
    put("revoked", "1")?;
    println!("xen-core: page granted to dom0 (ref {gref}), read by it, revoked");
    drop(page);
    // 6. a machine-contiguous DMA region (the NIC's rings need them).
    let region = dma::alloc(4).map_err(|e| format!("dma alloc: {e:?}"))?;
    let base = region.machine_addr() >> 12;
    let contiguous = (0..4u64).all(|i| mm::virt_to_mfn(region.va() + i * 4096) == Some(base + i));
    // SAFETY: the region is ours, mapped RW, len() bytes long.
    let bytes = unsafe { core::slice::from_raw_parts_mut(region.va() as *mut u8, region.len()) };
    bytes.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    let intact = bytes.iter().enumerate().all(|(i, b)| *b == i as u8);
    println!(
        "xen-core: DMA region of 4 pages at machine {:#x}: contiguous {contiguous}, intact {intact}",
        region.machine_addr()
    );
    dma::free(region);
    if !(contiguous && intact) {
        return Err("DMA region not machine-contiguous".into());
    }
    put("dma-contiguous", "1")?;
    println!("xen-core: all steps done");
    // Our xenstore directory goes away when we power off: wait until dom0 read it all.
    wait_key("finish", "1", 30)?;
    Ok(())
}
