//! Kernel entry (called by `boot`'s `_start`): brings the Xen facilities up, prints the
//! banner, runs what the command line asks for; and the panic handler.

use alloc::string::String;
use core::ptr::NonNull;

use drivers::xenstore::Tx;
use xen::abi::{sched, start_info::StartInfo, PAGE_SHIFT};
use xen::hypercall;

use crate::{console, gnttab, heap, logger, mm, println, selftest, serve, shared, time, xs};

/// Kernel command-line flag that forces a panic right after the banner (lab scenario
/// `panic-dd` uses it to check the crash path).
const FORCE_PANIC_FLAG: &str = "vsnoop.panic";
/// Kernel command-line key that runs a self-test, then powers off (`vsnoop.selftest=NAME`).
const SELFTEST_KEY: &str = "vsnoop.selftest=";

/// Entered from `_start` on the kernel stack, events masked, with Xen's `start_info`.
#[no_mangle]
extern "C" fn kernel_entry(si: *const StartInfo) -> ! {
    // SAFETY: Xen passes a valid, mapped `start_info` in %rsi at entry; it stays mapped.
    let si: &'static StartInfo = unsafe { &*si };
    if !si.magic_ok() {
        // Nothing to print on: no console page without a valid start_info.
        hypercall::shutdown(sched::SHUTDOWN_CRASH);
    }
    // SAFETY: the console page is this domain's own frame; the domain builder put it inside
    // the initial mapping, at virtual address pfn << PAGE_SHIFT (VIRT_BASE is 0).
    unsafe {
        let pfn = hypercall::mfn_to_pfn(si.console.mfn);
        let page = NonNull::new((pfn << PAGE_SHIFT) as *mut _).expect("console page at 0");
        console::init(page, si.console.evtchn);
    }
    // SAFETY: called once, first thing after the console, with Xen's start_info.
    let mem = unsafe { mm::init(si) }.unwrap_or_else(|e| panic!("memory set-up failed: {e:?}"));
    // SAFETY: mm::init mapped [heap_start, heap_start + heap_bytes) for us alone.
    unsafe { heap::init(mem.heap_start, mem.heap_bytes) };
    shared::init(si).unwrap_or_else(|e| panic!("cannot map shared info: {e:?}"));
    gnttab::init().unwrap_or_else(|e| panic!("grant table set-up failed: {e:?}"));
    xs::init(si);
    let name = xs::with(|x| x.read_string(Tx::NONE, "name")).unwrap_or_else(|_| "vsnoop".into());
    logger::init(name, logger::level_from_cmdline(si.cmdline()));
    banner(si, &mem);

    let cmdline = si.cmdline();
    if cmdline.split_whitespace().any(|w| w == FORCE_PANIC_FLAG) {
        panic!("forced by '{FORCE_PANIC_FLAG}' on the command line");
    }
    let selftest = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix(SELFTEST_KEY));
    let reason = if let Some(name) = selftest {
        match selftest::run(name) {
            Ok(()) => log::info!("self-test {name} passed"),
            Err(e) => log::error!("self-test FAILED: {e}"),
        }
        sched::SHUTDOWN_POWEROFF
    } else {
        let domid = store_value("domid")
            .parse()
            .unwrap_or_else(|_| panic!("no domid in xenstore"));
        serve::run(
            domid,
            si.store_evtchn,
            serve::ServeConfig::from_cmdline(cmdline),
        )
    };
    log::info!("powering off");
    console::flush();
    hypercall::shutdown(reason);
}

fn store_value(key: &str) -> String {
    xs::with(|x| x.read_string(Tx::NONE, key)).unwrap_or_else(|e| alloc::format!("? ({e:?})"))
}

fn banner(si: &StartInfo, mem: &mm::MemInfo) {
    let (major, minor) = hypercall::xen_version();
    let extra = hypercall::xen_extraversion();
    let extra_len = extra.iter().position(|&b| b == 0).unwrap_or(extra.len());
    let extra = core::str::from_utf8(&extra[..extra_len]).unwrap_or("");
    let (_, free) = heap::usage();
    println!(
        "vsnoop {} (Xen network driver domain with vSnoop ACK offload)",
        env!("CARGO_PKG_VERSION")
    );
    println!(
        "vsnoop: domain '{}', domid {}, Xen {major}.{minor}{extra} ({})",
        store_value("name"),
        store_value("domid"),
        si.magic_str()
    );
    println!(
        "vsnoop: memory {} MiB ({} pages), heap {} KiB ({} KiB free), boot region {} KiB",
        si.nr_pages * 4096 / (1024 * 1024),
        si.nr_pages,
        mem.heap_bytes / 1024,
        free / 1024,
        mem.boot_end_pfn * 4,
    );
    println!(
        "vsnoop: xenstore evtchn {}, console evtchn {}, system time {} ms",
        si.store_evtchn,
        si.console.evtchn,
        time::now_ns() / 1_000_000
    );
    println!("vsnoop: cmdline '{}'", si.cmdline());
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    match info.location() {
        Some(loc) => console::print_panic(format_args!(
            "\nvsnoop PANIC at {}:{}:{}: {}\n",
            loc.file(),
            loc.line(),
            loc.column(),
            info.message()
        )),
        None => console::print_panic(format_args!("\nvsnoop PANIC: {}\n", info.message())),
    }
    hypercall::shutdown(sched::SHUTDOWN_CRASH);
}
