//! Kernel entry (called by `boot`'s `_start`), banner, panic handler.

use core::ptr::NonNull;

use xen::abi::{sched, start_info::StartInfo, PAGE_SHIFT};
use xen::hypercall;

use crate::{console, heap, println};

/// Kernel command-line flag that forces a panic right after the banner (lab scenario
/// `panic-dd` uses it to check the crash path).
const FORCE_PANIC_FLAG: &str = "vsnoop.panic";

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
    heap::init();
    banner(si);

    let cmdline = si.cmdline();
    if cmdline.split_whitespace().any(|w| w == FORCE_PANIC_FLAG) {
        panic!("forced by '{FORCE_PANIC_FLAG}' on the command line");
    }

    println!("vsnoop: nothing to serve yet, powering off");
    console::flush();
    hypercall::shutdown(sched::SHUTDOWN_POWEROFF);
}

fn banner(si: &StartInfo) {
    let (major, minor) = hypercall::xen_version();
    let extra = hypercall::xen_extraversion();
    let extra_len = extra.iter().position(|&b| b == 0).unwrap_or(extra.len());
    let extra = core::str::from_utf8(&extra[..extra_len]).unwrap_or("");
    let mem_mib = si.nr_pages * 4096 / (1024 * 1024);
    let (used, free) = heap::usage();
    println!(
        "vsnoop {} (Xen network driver domain with vSnoop ACK offload)",
        env!("CARGO_PKG_VERSION")
    );
    println!(
        "vsnoop: Xen {major}.{minor}{extra}, start_info '{}'",
        si.magic_str()
    );
    println!(
        "vsnoop: memory {} MiB ({} pages), heap {} KiB free ({} used)",
        mem_mib,
        si.nr_pages,
        free / 1024,
        used
    );
    println!(
        "vsnoop: xenstore mfn {:#x} evtchn {}, console evtchn {}, flags {:#x}",
        si.store_mfn, si.store_evtchn, si.console.evtchn, si.flags
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
