//! `snoop-sim`: a deterministic discrete-event simulation of vSnoop TCP acknowledgement offload.
//!
//! A sender host and a receiver VM, each running a real TCP/IP stack (`smoltcp`), exchange
//! Ethernet frames over a datacenter link through a driver-domain model that runs the `snoop`
//! engine; the receiver VM shares a physical CPU with other loaded VMs under a model of Xen's
//! credit scheduler, so its stack only runs while it is scheduled. See docs/simulation.md.

pub mod config;
pub mod dd;
pub mod device;
pub mod frame;
pub mod host;
pub mod link;
pub mod monitor;
pub mod pattern;
pub mod plot;
pub mod rng;
pub mod sched;
pub mod stats;
pub mod time;
pub mod world;

pub use config::{Contention, SimConfig};
pub use world::{run_sample, SimError, SynSched, TransferResult, World};
