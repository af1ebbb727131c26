//! [`XenError`]: a failed hypercall's errno.

use core::fmt;

use crate::abi::errno;

/// A hypercall failed with `-errno`. Holds the positive errno value (`EAGAIN` is 11).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct XenError(pub i32);

impl XenError {
    pub const EPERM: XenError = XenError(errno::EPERM);
    pub const ENOENT: XenError = XenError(errno::ENOENT);
    pub const ESRCH: XenError = XenError(errno::ESRCH);
    pub const EIO: XenError = XenError(errno::EIO);
    pub const E2BIG: XenError = XenError(errno::E2BIG);
    pub const EAGAIN: XenError = XenError(errno::EAGAIN);
    pub const ENOMEM: XenError = XenError(errno::ENOMEM);
    pub const EACCES: XenError = XenError(errno::EACCES);
    pub const EFAULT: XenError = XenError(errno::EFAULT);
    pub const EBUSY: XenError = XenError(errno::EBUSY);
    pub const EEXIST: XenError = XenError(errno::EEXIST);
    pub const ENODEV: XenError = XenError(errno::ENODEV);
    pub const EINVAL: XenError = XenError(errno::EINVAL);
    pub const ENOSPC: XenError = XenError(errno::ENOSPC);
    pub const ENOSYS: XenError = XenError(errno::ENOSYS);
    pub const ETIME: XenError = XenError(errno::ETIME);
    pub const EOPNOTSUPP: XenError = XenError(errno::EOPNOTSUPP);
    pub const ENOBUFS: XenError = XenError(errno::ENOBUFS);
    pub const ETIMEDOUT: XenError = XenError(errno::ETIMEDOUT);

    /// Splits a raw hypercall return value: `>= 0` is success (the value), `< 0` is
    /// `-errno`. A value below `-4095` is not an errno; it is kept as is (negative), which
    /// [`XenError::name`] reports as unknown.
    pub fn check(ret: i64) -> Result<u64, XenError> {
        if ret >= 0 {
            Ok(ret as u64)
        } else if ret >= -4095 {
            Err(XenError((-ret) as i32))
        } else {
            Err(XenError(ret.clamp(i32::MIN as i64, -1) as i32))
        }
    }

    /// The positive errno value.
    pub fn errno(self) -> i32 {
        self.0
    }

    /// `"EAGAIN"` etc., or `None` for a value Xen's `errno.h` does not define.
    pub fn name(self) -> Option<&'static str> {
        errno::name(self.0)
    }
}

impl fmt::Debug for XenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "XenError({n})"),
            None => write!(f, "XenError({})", self.0),
        }
    }
}

impl fmt::Display for XenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "-{n}"),
            None => write!(f, "error {}", -(self.0 as i64)),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::format;

    #[test]
    fn check_splits_success_and_errno() {
        assert_eq!(XenError::check(0), Ok(0));
        assert_eq!(XenError::check(7), Ok(7));
        assert_eq!(XenError::check(-11), Err(XenError::EAGAIN));
        assert_eq!(XenError::check(-22).unwrap_err().name(), Some("EINVAL"));
        assert_eq!(XenError::check(-4095), Err(XenError(4095)));
        assert_eq!(XenError::check(-4095).unwrap_err().name(), None);
        assert_eq!(XenError::check(i64::MIN), Err(XenError(i32::MIN)));
    }

    #[test]
    fn formats_with_names() {
        assert_eq!(format!("{}", XenError::ENOSYS), "-ENOSYS");
        assert_eq!(format!("{:?}", XenError::EPERM), "XenError(EPERM)");
        assert_eq!(format!("{}", XenError(999)), "error -999");
    }
}
