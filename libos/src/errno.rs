//! Error numbers of the Hermit ABI (the same values as Linux), returned negated by `sys_*`.
#![allow(missing_docs)]

pub const EIO: i32 = 5;
pub const EBADF: i32 = 9;
pub const EAGAIN: i32 = 11;
pub const EFAULT: i32 = 14;
pub const EINVAL: i32 = 22;
pub const EMFILE: i32 = 24;
pub const ENOSYS: i32 = 38;
pub const ETIMEDOUT: i32 = 110;
