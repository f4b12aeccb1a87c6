//! The `sys_*` functions Rust std's Hermit port links against (hermit-abi 0.5 signatures).
//!
//! Conventions of that ABI: errors are returned as `-errno`; `sys_read_entropy` and the I/O
//! calls return byte counts; `sys_spawn2` returns 0 when no thread was created. Each function
//! here is a thin adapter onto the module that owns the concern. Calls for facilities libos
//! does not have (threads, sockets, directories) return `-ENOSYS` (or the ABI's own failure
//! value), so std reports a clean `io::Error` instead of misbehaving.
#![allow(missing_docs)]

use core::ffi::{c_char, c_void};

use uhyve_interface::v2::parameters::FileAttr;

use seuss_abi::errno::{EAGAIN, EFAULT, EINVAL, ENOSYS, ETIMEDOUT};
use crate::console::{self, ABORT_EXIT_CODE};
use crate::{entropy, fs, heap, time};

const CLOCK_REALTIME: u32 = 1;
const CLOCK_MONOTONIC: u32 = 4;
const FUTEX_RELATIVE_TIMEOUT: u32 = 1;

/// `struct timespec` of the Hermit ABI.
#[repr(C)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: i32,
}

/// `struct iovec` of the Hermit ABI.
#[repr(C)]
pub struct Iovec {
    pub iov_base: *mut c_void,
    pub iov_len: usize,
}

// ---- process -------------------------------------------------------------------------------

#[unsafe(no_mangle)]
pub extern "C" fn sys_exit(status: i32) -> ! {
    crate::hypercall::exit(status)
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_abort() -> ! {
    crate::hypercall::exit(ABORT_EXIT_CODE)
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_getpid() -> u32 {
    1
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_get_errno() -> i32 {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_errno() -> i32 {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_getpagesize() -> i32 {
    4096
}

// ---- memory --------------------------------------------------------------------------------

#[unsafe(no_mangle)]
pub extern "C" fn sys_malloc(size: usize, align: usize) -> *mut u8 {
    heap::alloc(size, align)
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_alloc(size: usize, align: usize) -> *mut u8 {
    heap::alloc(size, align)
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_alloc_zeroed(size: usize, align: usize) -> *mut u8 {
    let p = heap::alloc(size, align);
    if !p.is_null() {
        // SAFETY: p points at `size` freshly allocated bytes.
        unsafe { core::ptr::write_bytes(p, 0, size) };
    }
    p
}

/// # Safety
/// `ptr` must come from this allocator with `size` and `align`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_realloc(ptr: *mut u8, size: usize, align: usize, new_size: usize) -> *mut u8 {
    // SAFETY: forwarded contract.
    unsafe { heap::realloc(ptr, size, align, new_size) }
}

/// # Safety
/// `ptr` must come from this allocator with `size` and `align`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_free(ptr: *mut u8, size: usize, align: usize) {
    // SAFETY: forwarded contract.
    unsafe { heap::free(ptr, size, align) }
}

/// # Safety
/// As [`sys_free`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_dealloc(ptr: *mut u8, size: usize, align: usize) {
    // SAFETY: forwarded contract.
    unsafe { heap::free(ptr, size, align) }
}

// ---- console and files ---------------------------------------------------------------------

/// # Safety
/// `buf` must be valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_write(fd: i32, buf: *const u8, len: usize) -> isize {
    if buf.is_null() && len > 0 {
        return -EFAULT as isize;
    }
    // SAFETY: the caller guarantees buf..buf+len is readable.
    let bytes = unsafe { core::slice::from_raw_parts(buf, len) };
    match fd {
        1 | 2 => console::write_fd(fd, bytes) as isize,
        _ => fs::write(fd, bytes),
    }
}

/// Runs `op` over each iovec until one is short or fails (POSIX `readv`/`writev` semantics:
/// bytes moved so far, or the first error if nothing moved).
///
/// # Safety
/// `iov` must point at `iovcnt` valid iovecs.
unsafe fn each_iovec(iov: *const Iovec, iovcnt: usize, mut op: impl FnMut(&Iovec) -> isize) -> isize {
    let mut total = 0isize;
    for i in 0..iovcnt {
        // SAFETY: the caller guarantees iovcnt valid entries.
        let v = unsafe { &*iov.add(i) };
        let n = op(v);
        if n < 0 {
            return if total > 0 { total } else { n };
        }
        total += n;
        if (n as usize) < v.iov_len {
            break;
        }
    }
    total
}

/// # Safety
/// `iov` must point at `iovcnt` valid iovecs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_writev(fd: i32, iov: *const Iovec, iovcnt: usize) -> isize {
    // SAFETY: forwarded contract; each iovec describes readable memory.
    unsafe { each_iovec(iov, iovcnt, |v| sys_write(fd, v.iov_base as *const u8, v.iov_len)) }
}

/// # Safety
/// `buf` must be valid for writes of `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_read(fd: i32, buf: *mut u8, len: usize) -> isize {
    if buf.is_null() && len > 0 {
        return -EFAULT as isize;
    }
    // SAFETY: the caller guarantees buf..buf+len is writable.
    fs::read(fd, unsafe { core::slice::from_raw_parts_mut(buf, len) })
}

/// # Safety
/// `iov` must point at `iovcnt` valid iovecs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_readv(fd: i32, iov: *const Iovec, iovcnt: usize) -> isize {
    // SAFETY: forwarded contract; each iovec describes writable memory.
    unsafe { each_iovec(iov, iovcnt, |v| sys_read(fd, v.iov_base as *mut u8, v.iov_len)) }
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_open(name: *const c_char, flags: i32, mode: i32) -> i32 {
    fs::open(name, flags, mode)
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_close(fd: i32) -> i32 {
    fs::close(fd)
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_lseek(fd: i32, offset: isize, whence: i32) -> isize {
    fs::lseek(fd, offset, whence)
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_unlink(name: *const c_char) -> i32 {
    fs::unlink(name)
}

/// # Safety
/// `stat` must point at a writable Hermit `struct stat` (the same layout as [`FileAttr`]).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_fstat(fd: i32, stat: *mut FileAttr) -> i32 {
    if stat.is_null() {
        return -EFAULT;
    }
    // SAFETY: the caller guarantees `stat` is valid.
    fs::fstat(fd, unsafe { &mut *stat })
}

/// `stat` by path: opened read-only and `fstat`ed, so it sees exactly what `open` sees.
///
/// # Safety
/// As [`sys_fstat`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_stat(name: *const c_char, stat: *mut FileAttr) -> i32 {
    let fd = fs::open(name, 0, 0);
    if fd < 0 {
        return fd;
    }
    // SAFETY: forwarded contract.
    let r = unsafe { sys_fstat(fd, stat) };
    fs::close(fd);
    r
}

/// # Safety
/// As [`sys_fstat`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_lstat(name: *const c_char, stat: *mut FileAttr) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { sys_stat(name, stat) }
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_dup(_fd: i32) -> i32 {
    -ENOSYS
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_mkdir(_name: *const c_char, _mode: u32) -> i32 {
    -ENOSYS
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_rmdir(_name: *const c_char) -> i32 {
    -ENOSYS
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_opendir(_name: *const c_char) -> i32 {
    -ENOSYS
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_getdents64(_fd: i32, _dirp: *mut c_void, _count: usize) -> i64 {
    -(ENOSYS as i64)
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_fcntl(_fd: i32, _cmd: i32, _arg: i32) -> i32 {
    -ENOSYS
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_ioctl(_fd: i32, _cmd: i32, _argp: *mut c_void) -> i32 {
    -ENOSYS
}

// ---- time, entropy, sleeping ---------------------------------------------------------------

/// # Safety
/// `tp` must point at a writable timespec.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_clock_gettime(clock: u32, tp: *mut Timespec) -> i32 {
    if tp.is_null() {
        return -EFAULT;
    }
    let ns = match clock {
        CLOCK_REALTIME => time::realtime_ns(),
        CLOCK_MONOTONIC => time::monotonic_ns() as i64,
        _ => return -EINVAL,
    };
    // SAFETY: checked non-null; the caller guarantees validity.
    unsafe {
        *tp = Timespec { tv_sec: ns.div_euclid(1_000_000_000), tv_nsec: ns.rem_euclid(1_000_000_000) as i32 };
    }
    0
}

/// # Safety
/// `buf` must be valid for writes of `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_read_entropy(buf: *mut u8, len: usize, _flags: u32) -> isize {
    if buf.is_null() {
        return -EFAULT as isize;
    }
    // SAFETY: the caller guarantees buf..buf+len is writable.
    let out = unsafe { core::slice::from_raw_parts_mut(buf, len) };
    if entropy::fill(out) { len as isize } else { -1 }
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_usleep(usecs: u64) {
    crate::invocation::sleep_ns(usecs.saturating_mul(1000));
}

/// # Safety
/// `req` must point at a valid timespec.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_nanosleep(req: *const Timespec) -> i32 {
    if req.is_null() {
        return -EFAULT;
    }
    // SAFETY: checked non-null; the caller guarantees validity.
    let t = unsafe { &*req };
    if t.tv_sec < 0 || !(0..1_000_000_000).contains(&t.tv_nsec) {
        return -EINVAL;
    }
    crate::invocation::sleep_ns((t.tv_sec as u64).saturating_mul(1_000_000_000) + t.tv_nsec as u64);
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_yield() {}

// ---- threads and futexes (one thread only) -------------------------------------------------

#[unsafe(no_mangle)]
pub extern "C" fn sys_available_parallelism() -> usize {
    1
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_get_processor_count() -> usize {
    1
}

/// No threads: returns 0, which std turns into "unable to create thread!".
#[unsafe(no_mangle)]
pub extern "C" fn sys_spawn2(_f: extern "C" fn(usize), _arg: usize, _prio: u8, _stack: usize, _core: isize) -> u32 {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_spawn(_id: *mut u32, _f: extern "C" fn(usize), _arg: usize, _prio: u8, _core: isize) -> i32 {
    -ENOSYS
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_join(_id: u32) -> i32 {
    -ENOSYS
}

/// With a single thread nobody can wake a waiter: a wait on a matching value either times out
/// (after sleeping for the timeout) or is a deadlock, which ends the guest with a message.
///
/// # Safety
/// `address` must be a valid u32; `timeout` null or a valid timespec.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_futex_wait(address: *mut u32, expected: u32, timeout: *const Timespec, flags: u32) -> i32 {
    if address.is_null() || flags & !FUTEX_RELATIVE_TIMEOUT != 0 {
        return -EINVAL;
    }
    // SAFETY: the caller guarantees `address` is valid.
    if unsafe { core::ptr::read_volatile(address) } != expected {
        return -EAGAIN;
    }
    if timeout.is_null() {
        // Waiting forever with no other thread to wake us: a guaranteed hang. Say so and stop.
        console::fatal(b"libos: deadlock: futex wait without timeout and no other thread\n");
    }
    // SAFETY: checked non-null.
    let t = unsafe { &*timeout };
    if t.tv_sec < 0 || t.tv_nsec < 0 {
        return -EINVAL;
    }
    let ns = (t.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(t.tv_nsec as u64);
    let relative = if flags & FUTEX_RELATIVE_TIMEOUT != 0 { ns } else { ns.saturating_sub(time::monotonic_ns()) };
    crate::invocation::sleep_ns(relative);
    -ETIMEDOUT
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_futex_wake(address: *mut u32, count: i32) -> i32 {
    if address.is_null() || count < 0 { -EINVAL } else { 0 }
}

// ---- networking: not provided ---------------------------------------------------------------

macro_rules! no_network {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($(_: $ty),*) -> $ret { -(ENOSYS as $ret) }
    )*};
}

no_network! {
    sys_socket(a: i32, b: i32, c: i32) -> i32;
    sys_bind(a: i32, b: *const c_void, c: u32) -> i32;
    sys_listen(a: i32, b: i32) -> i32;
    sys_accept(a: i32, b: *mut c_void, c: *mut u32) -> i32;
    sys_connect(a: i32, b: *const c_void, c: u32) -> i32;
    sys_recv(a: i32, b: *mut u8, c: usize, d: i32) -> isize;
    sys_recvfrom(a: i32, b: *mut u8, c: usize, d: i32, e: *mut c_void, f: *mut u32) -> isize;
    sys_send(a: i32, b: *const c_void, c: usize, d: i32) -> isize;
    sys_sendto(a: i32, b: *const c_void, c: usize, d: i32, e: *const c_void, f: u32) -> isize;
    sys_shutdown(a: i32, b: i32) -> i32;
    sys_shutdown_socket(a: i32, b: i32) -> i32;
    sys_getpeername(a: i32, b: *mut c_void, c: *mut u32) -> i32;
    sys_getsockname(a: i32, b: *mut c_void, c: *mut u32) -> i32;
    sys_getsockopt(a: i32, b: i32, c: i32, d: *mut c_void, e: *mut u32) -> i32;
    sys_setsockopt(a: i32, b: i32, c: i32, d: *const c_void, e: u32) -> i32;
    sys_getaddrinfo(a: *const c_char, b: *const c_char, c: *const c_void, d: *mut *mut c_void) -> i32;
    sys_poll(a: *mut c_void, b: usize, c: i32) -> i32;
    sys_eventfd(a: u64, b: i16) -> i32;
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_freeaddrinfo(_ai: *mut c_void) {}
