//! The vsnoop unikernel: a Xen PV network driver domain.
//!
//! Built for `x86_64-xen.json` (`cargo kbuild`), this is the PV image; built for the host it
//! is an empty program, so `cargo test` over the workspace still works.
#![cfg_attr(target_os = "none", no_std, no_main)]

// The entry assembly, ELF notes and boot stack live in `boot`; nothing calls into it from
// Rust, so link it explicitly.
#[cfg(target_os = "none")]
use boot as _;

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
mod console;
#[cfg(target_os = "none")]
mod dma;
#[cfg(target_os = "none")]
mod events;
#[cfg(target_os = "none")]
mod gnttab;
#[cfg(target_os = "none")]
mod heap;
#[cfg(target_os = "none")]
mod hv;
#[cfg(target_os = "none")]
mod kmain;
#[cfg(target_os = "none")]
mod logger;
#[cfg(target_os = "none")]
mod mm;
#[cfg(target_os = "none")]
mod nic;
#[cfg(target_os = "none")]
mod selftest;
#[cfg(target_os = "none")]
mod serve;
#[cfg(target_os = "none")]
mod shared;
#[cfg(target_os = "none")]
mod snoop_status;
#[cfg(target_os = "none")]
mod time;
#[cfg(target_os = "none")]
mod xs;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("vsnoop is a Xen PV kernel: build it with `./run-xen.sh build` (cargo kbuild)");
}
