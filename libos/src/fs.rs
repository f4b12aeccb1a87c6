//! Files through uhyve's file hypercalls (what `--file-mapping host:guest` exposes).
//!
//! The hypervisor owns the descriptor table; libos only remembers which descriptors it handed
//! out, because stock uhyve ends the whole VM (a host panic) when the guest writes to a
//! descriptor it does not know. Every `sys_*` file call checks [`is_open`] first and answers
//! `-EBADF` itself.

use core::ffi::{c_char, CStr};

use uhyve_interface::v2::parameters::{
    CloseParams, FileAttr, FstatParams, LseekParams, OpenParams, ReadParams, StatResult,
    UnlinkParams, WriteParams,
};
use uhyve_interface::v2::HypercallAddress;
use uhyve_interface::GuestPhysAddr;

use seuss_abi::errno::{EBADF, EINVAL, EMFILE};
use crate::hypercall::uhyve;
use crate::sync::SpinLock;

/// Descriptors below this are tracked; uhyve hands them out increasing from 3.
const MAX_FDS: usize = 1024;
static OPEN: SpinLock<[u64; MAX_FDS / 64]> = SpinLock::new({
    let mut bits = [0u64; MAX_FDS / 64];
    bits[0] = 0b111; // stdin, stdout, stderr
    bits
});

/// Whether `fd` is a descriptor this guest holds.
pub fn is_open(fd: i32) -> bool {
    (0..MAX_FDS as i32).contains(&fd) && OPEN.lock()[fd as usize / 64] & (1 << (fd % 64)) != 0
}

fn set_open(fd: i32, open: bool) {
    let mut bits = OPEN.lock();
    let (word, bit) = (fd as usize / 64, 1u64 << (fd % 64));
    if open {
        bits[word] |= bit;
    } else {
        bits[word] &= !bit;
    }
}

/// # Safety
/// `name` is null or points at a NUL-terminated string.
unsafe fn path_addr(name: *const c_char) -> Option<GuestPhysAddr> {
    if name.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated (the caller's contract); we only check it is UTF-8
    // (uhyve requires it).
    let path = unsafe { CStr::from_ptr(name) };
    path.to_str().ok()?;
    Some(GuestPhysAddr::new(name as u64))
}

/// `open(2)`: a new descriptor or `-errno`.
///
/// # Safety
/// `name` is null or points at a NUL-terminated string.
pub unsafe fn open(name: *const c_char, flags: i32, mode: i32) -> i32 {
    // SAFETY: forwarded contract.
    let Some(name) = (unsafe { path_addr(name) }) else { return -EINVAL };
    let mut p = OpenParams { name, flags, mode, ret: -1 };
    uhyve(HypercallAddress::FileOpen, &mut p);
    let fd = p.ret;
    if fd >= 0 {
        if fd as usize >= MAX_FDS {
            close(fd);
            return -EMFILE;
        }
        set_open(fd, true);
    }
    fd
}

/// `close(2)`.
pub fn close(fd: i32) -> i32 {
    if !is_open(fd) {
        return -EBADF;
    }
    if fd > 2 {
        set_open(fd, false);
    }
    let mut p = CloseParams { fd, ret: -1 };
    uhyve(HypercallAddress::FileClose, &mut p);
    p.ret
}

/// `read(2)` into `buf`.
pub fn read(fd: i32, buf: &mut [u8]) -> isize {
    if !is_open(fd) {
        return -EBADF as isize;
    }
    let mut p = ReadParams { fd, buf: GuestPhysAddr::new(buf.as_mut_ptr() as u64), len: buf.len() as u64, ret: 0 };
    uhyve(HypercallAddress::FileRead, &mut p);
    p.ret as isize
}

/// `write(2)` from `buf`.
pub fn write(fd: i32, buf: &[u8]) -> isize {
    if !is_open(fd) {
        return -EBADF as isize;
    }
    let mut p = WriteParams { fd, buf: GuestPhysAddr::new(buf.as_ptr() as u64), len: buf.len() as u64, ret: 0 };
    uhyve(HypercallAddress::FileWrite, &mut p);
    p.ret as isize
}

/// `lseek(2)`: the new offset or `-errno`.
pub fn lseek(fd: i32, offset: isize, whence: i32) -> isize {
    if !is_open(fd) {
        return -EBADF as isize;
    }
    let mut p = LseekParams { fd, offset: offset as i64, whence: whence as u32 };
    uhyve(HypercallAddress::FileLseek, &mut p);
    p.offset as isize
}

/// `unlink(2)`.
///
/// # Safety
/// `name` is null or points at a NUL-terminated string.
pub unsafe fn unlink(name: *const c_char) -> i32 {
    // SAFETY: forwarded contract.
    let Some(name) = (unsafe { path_addr(name) }) else { return -EINVAL };
    let mut p = UnlinkParams { name, ret: -1 };
    uhyve(HypercallAddress::FileUnlink, &mut p);
    p.ret
}

/// `fstat(2)` into a [`FileAttr`] (the same layout as the Hermit ABI's `stat`).
pub fn fstat(fd: i32, attr: &mut FileAttr) -> i32 {
    if !is_open(fd) {
        return -EBADF;
    }
    if fd <= 2 {
        // uhyve does not stat the console; report a character device as Hermit does.
        *attr = FileAttr { st_mode: 0o20_0620, ..FileAttr::default() };
        return 0;
    }
    let mut p = FstatParams { fd, attr: GuestPhysAddr::new(attr as *mut FileAttr as u64), ret: StatResult::None };
    uhyve(HypercallAddress::FileFstat, &mut p);
    match p.ret {
        StatResult::Success => 0,
        StatResult::Error(e) => -e,
        StatResult::None => -seuss_abi::errno::EIO,
    }
}
