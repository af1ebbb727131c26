//! Xenstore: the wire codec ([`wire`]), the byte-ring transport over the xenstore page
//! ([`ring`]) and a synchronous client ([`client`]) that the kernel drives through a
//! small [`Doorbell`] trait (notify xenstored; wait a bit).
//!
//! ```ignore
//! let mut xs = unsafe { XsClient::new(store_page, KernelDoorbell::new(store_evtchn)) };
//! xs.write(Tx::NONE, "device/vif/0/state", b"4")?;
//! xs.watch("backend/vif", "vif")?;
//! while let Some(ev) = xs.poll_watch()? { /* ev.path, ev.token */ }
//! xs.transaction(8, |xs, tx| xs.write(tx, "a", b"1"))?;
//! ```

pub mod client;
pub mod ring;
pub mod value;
pub mod wire;

pub use client::{
    Doorbell, Timeout, Tx, XsClient, XsError, MAX_QUEUED_EVENTS, MAX_QUEUED_EVENT_BYTES,
};
pub use wire::{WatchEvent, WireError, XsErrno};
