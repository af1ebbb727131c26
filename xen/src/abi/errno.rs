//! Xen's errno values (`errno.h`). Hypercalls return `-E*` on failure.
//!
//! `EINTR` and `ERESTART` are internal to Xen and never reach a guest; the aliases
//! `EWOULDBLOCK` (= `EAGAIN`) and `EDEADLOCK` (= `EDEADLK`) are left out.

/// Operation not permitted.
pub const EPERM: i32 = 1;
/// No such file or directory.
pub const ENOENT: i32 = 2;
/// No such process.
pub const ESRCH: i32 = 3;
/// I/O error.
pub const EIO: i32 = 5;
/// No such device or address.
pub const ENXIO: i32 = 6;
/// Arg list too long.
pub const E2BIG: i32 = 7;
/// Exec format error.
pub const ENOEXEC: i32 = 8;
/// Bad file number.
pub const EBADF: i32 = 9;
/// No child processes.
pub const ECHILD: i32 = 10;
/// Try again.
pub const EAGAIN: i32 = 11;
/// Out of memory.
pub const ENOMEM: i32 = 12;
/// Permission denied.
pub const EACCES: i32 = 13;
/// Bad address.
pub const EFAULT: i32 = 14;
/// Device or resource busy.
pub const EBUSY: i32 = 16;
/// File exists.
pub const EEXIST: i32 = 17;
/// Cross-device link.
pub const EXDEV: i32 = 18;
/// No such device.
pub const ENODEV: i32 = 19;
/// Not a directory.
pub const ENOTDIR: i32 = 20;
/// Is a directory.
pub const EISDIR: i32 = 21;
/// Invalid argument.
pub const EINVAL: i32 = 22;
/// File table overflow.
pub const ENFILE: i32 = 23;
/// Too many open files.
pub const EMFILE: i32 = 24;
/// No space left on device.
pub const ENOSPC: i32 = 28;
/// Read-only file system.
pub const EROFS: i32 = 30;
/// Too many links.
pub const EMLINK: i32 = 31;
/// Math argument out of domain of func.
pub const EDOM: i32 = 33;
/// Math result not representable.
pub const ERANGE: i32 = 34;
/// Resource deadlock would occur.
pub const EDEADLK: i32 = 35;
/// File name too long.
pub const ENAMETOOLONG: i32 = 36;
/// No record locks available.
pub const ENOLCK: i32 = 37;
/// Function not implemented.
pub const ENOSYS: i32 = 38;
/// Directory not empty.
pub const ENOTEMPTY: i32 = 39;
/// No data available.
pub const ENODATA: i32 = 61;
/// Timer expired.
pub const ETIME: i32 = 62;
/// Not a data message.
pub const EBADMSG: i32 = 74;
/// Value too large for defined data type.
pub const EOVERFLOW: i32 = 75;
/// Illegal byte sequence.
pub const EILSEQ: i32 = 84;
/// Socket operation on non-socket.
pub const ENOTSOCK: i32 = 88;
/// Message too large.
pub const EMSGSIZE: i32 = 90;
/// Operation not supported on transport endpoint.
pub const EOPNOTSUPP: i32 = 95;
/// Address already in use.
pub const EADDRINUSE: i32 = 98;
/// Cannot assign requested address.
pub const EADDRNOTAVAIL: i32 = 99;
/// No buffer space available.
pub const ENOBUFS: i32 = 105;
/// Transport endpoint is already connected.
pub const EISCONN: i32 = 106;
/// Transport endpoint is not connected.
pub const ENOTCONN: i32 = 107;
/// Connection timed out.
pub const ETIMEDOUT: i32 = 110;
/// Connection refused.
pub const ECONNREFUSED: i32 = 111;

/// `(value, name, description)` of every errno above, in value order.
pub const ALL: &[(i32, &str, &str)] = &[
    (EPERM, "EPERM", "Operation not permitted"),
    (ENOENT, "ENOENT", "No such file or directory"),
    (ESRCH, "ESRCH", "No such process"),
    (EIO, "EIO", "I/O error"),
    (ENXIO, "ENXIO", "No such device or address"),
    (E2BIG, "E2BIG", "Arg list too long"),
    (ENOEXEC, "ENOEXEC", "Exec format error"),
    (EBADF, "EBADF", "Bad file number"),
    (ECHILD, "ECHILD", "No child processes"),
    (EAGAIN, "EAGAIN", "Try again"),
    (ENOMEM, "ENOMEM", "Out of memory"),
    (EACCES, "EACCES", "Permission denied"),
    (EFAULT, "EFAULT", "Bad address"),
    (EBUSY, "EBUSY", "Device or resource busy"),
    (EEXIST, "EEXIST", "File exists"),
    (EXDEV, "EXDEV", "Cross-device link"),
    (ENODEV, "ENODEV", "No such device"),
    (ENOTDIR, "ENOTDIR", "Not a directory"),
    (EISDIR, "EISDIR", "Is a directory"),
    (EINVAL, "EINVAL", "Invalid argument"),
    (ENFILE, "ENFILE", "File table overflow"),
    (EMFILE, "EMFILE", "Too many open files"),
    (ENOSPC, "ENOSPC", "No space left on device"),
    (EROFS, "EROFS", "Read-only file system"),
    (EMLINK, "EMLINK", "Too many links"),
    (EDOM, "EDOM", "Math argument out of domain of func"),
    (ERANGE, "ERANGE", "Math result not representable"),
    (EDEADLK, "EDEADLK", "Resource deadlock would occur"),
    (ENAMETOOLONG, "ENAMETOOLONG", "File name too long"),
    (ENOLCK, "ENOLCK", "No record locks available"),
    (ENOSYS, "ENOSYS", "Function not implemented"),
    (ENOTEMPTY, "ENOTEMPTY", "Directory not empty"),
    (ENODATA, "ENODATA", "No data available"),
    (ETIME, "ETIME", "Timer expired"),
    (EBADMSG, "EBADMSG", "Not a data message"),
    (
        EOVERFLOW,
        "EOVERFLOW",
        "Value too large for defined data type",
    ),
    (EILSEQ, "EILSEQ", "Illegal byte sequence"),
    (ENOTSOCK, "ENOTSOCK", "Socket operation on non-socket"),
    (EMSGSIZE, "EMSGSIZE", "Message too large"),
    (
        EOPNOTSUPP,
        "EOPNOTSUPP",
        "Operation not supported on transport endpoint",
    ),
    (EADDRINUSE, "EADDRINUSE", "Address already in use"),
    (
        EADDRNOTAVAIL,
        "EADDRNOTAVAIL",
        "Cannot assign requested address",
    ),
    (ENOBUFS, "ENOBUFS", "No buffer space available"),
    (
        EISCONN,
        "EISCONN",
        "Transport endpoint is already connected",
    ),
    (ENOTCONN, "ENOTCONN", "Transport endpoint is not connected"),
    (ETIMEDOUT, "ETIMEDOUT", "Connection timed out"),
    (ECONNREFUSED, "ECONNREFUSED", "Connection refused"),
];

/// The name (`"EAGAIN"`) of a positive errno value, if Xen defines it.
pub fn name(errno: i32) -> Option<&'static str> {
    ALL.iter().find(|e| e.0 == errno).map(|e| e.1)
}
