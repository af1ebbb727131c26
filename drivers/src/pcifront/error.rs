//! [`PciError`]: why a pcifront operation failed. Every peer-controlled input that is
//! wrong ends here, never in a panic.

use alloc::string::String;
use core::fmt;

use xen::abi::pciif::{
    XEN_PCI_ERR_ACCESS_DENIED, XEN_PCI_ERR_DEV_NOT_FOUND, XEN_PCI_ERR_INVALID_OFFSET,
    XEN_PCI_ERR_NOT_IMPLEMENTED, XEN_PCI_ERR_OP_FAILED,
};
use xen::abi::xenbus::XenbusState;

use super::parse::PciAddress;
use super::platform::StoreError;

/// A non-zero `err` pciback put in an op.
///
/// pciback answers with `XEN_PCI_ERR_*` (-1..-5) or, for MSI-X, a negative Linux errno;
/// the two ranges overlap (-1 is both `XEN_PCI_ERR_dev_not_found` and `-EPERM`), so the
/// raw value is kept and [`BackendCode::name`] gives the pciif reading first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackendCode(pub i32);

impl BackendCode {
    /// `"dev_not_found"`, `"EALREADY"`, ... or `None` for an unknown value.
    pub fn name(self) -> Option<&'static str> {
        match self.0 {
            XEN_PCI_ERR_DEV_NOT_FOUND => Some("dev_not_found"),
            XEN_PCI_ERR_INVALID_OFFSET => Some("invalid_offset"),
            XEN_PCI_ERR_ACCESS_DENIED => Some("access_denied"),
            XEN_PCI_ERR_NOT_IMPLEMENTED => Some("not_implemented"),
            XEN_PCI_ERR_OP_FAILED => Some("op_failed"),
            // Linux's EALREADY (MSI/MSI-X already on); Xen's errno.h has no such value.
            -114 => Some("EALREADY"),
            c if c < 0 => xen::abi::errno::name(c.checked_neg()?),
            _ => None,
        }
    }
}

impl fmt::Display for BackendCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{} ({n})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Why a pcifront operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PciError {
    /// A xenstore access failed.
    Store { path: String, err: StoreError },
    /// A xenstore value written by the toolstack or pciback is malformed.
    BadValue { path: String, what: &'static str },
    /// The backend went to `Closing`/`Closed` (or another unusable state) during the
    /// handshake.
    BackendState(XenbusState),
    /// Granting the shared page or allocating the event channel failed.
    Platform { what: &'static str, code: i32 },
    /// The backend did not answer in time (`"connect"` or `"op"`).
    Timeout(&'static str),
    /// The frontend is not connected (handshake not done, or it failed).
    NotConnected,
    /// An earlier op timed out and pciback still has not completed it: the shared page
    /// cannot be reused until it does.
    Busy,
    /// pciback answered the op with a non-zero `err`.
    Backend { cmd: u32, code: BackendCode },
    /// pciback's answer is impossible: it changed the op we sent (an answer to another
    /// op), or returned a value that does not fit the request.
    Corrupt(&'static str),
    /// MSI-X: pciback could enable only this many vectors (`value > 0`).
    MsixPartial(u32),
    /// A request we refuse to send (bad size, offset, entry count...).
    InvalidArgument(&'static str),
    /// The address is not one of the devices pciback exported.
    NoSuchDevice(PciAddress),
    /// The device's configuration space is not usable (BARs, capability list...).
    BadConfig(&'static str),
}

impl fmt::Display for PciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PciError::Store { path, err } => write!(f, "pcifront: xenstore {path}: {err:?}"),
            PciError::BadValue { path, what } => write!(f, "pcifront: {path}: {what}"),
            PciError::BackendState(s) => write!(f, "pcifront: backend state {s:?}"),
            PciError::Platform { what, code } => write!(f, "pcifront: {what} failed ({code})"),
            PciError::Timeout(w) => write!(f, "pcifront: {w} timed out"),
            PciError::NotConnected => f.write_str("pcifront: not connected"),
            PciError::Busy => f.write_str("pcifront: backend still busy with a timed-out op"),
            PciError::Backend { cmd, code } => write!(f, "pcifront: op {cmd} failed: {code}"),
            PciError::Corrupt(w) => write!(f, "pcifront: corrupt answer: {w}"),
            PciError::MsixPartial(n) => write!(f, "pcifront: only {n} MSI-X vectors available"),
            PciError::InvalidArgument(w) => write!(f, "pcifront: invalid request: {w}"),
            PciError::NoSuchDevice(a) => write!(f, "pcifront: no device {a}"),
            PciError::BadConfig(w) => write!(f, "pcifront: bad config space: {w}"),
        }
    }
}
