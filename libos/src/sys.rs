//! The `sys_*` functions Rust std's Hermit port links against (hermit-abi 0.5 signatures).
//!
//! Conventions of that ABI: errors are returned as `-errno`; `sys_read_entropy` and the I/O
//! calls return byte counts; `sys_spawn2` returns 0 when no thread was created. Each function
//! here is a thin adapter onto the module that owns the concern (sockets: `net/`; descriptors
//! from `net::socket::FD_BASE` up are sockets, below it files). Calls for facilities libos
//! does not have (threads, directories) return `-ENOSYS` (or the ABI's own failure value), so
//! std reports a clean `io::Error` instead of misbehaving.
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
        fd if fd >= FD_BASE => isize_of(on_stack(|s| s.send(fd, bytes, None))),
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
    let buf = unsafe { core::slice::from_raw_parts_mut(buf, len) };
    if fd >= FD_BASE {
        return isize_of(on_stack(|s| s.recv(fd, buf, 0).map(|(n, _)| n)));
    }
    fs::read(fd, buf)
}

/// # Safety
/// `iov` must point at `iovcnt` valid iovecs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_readv(fd: i32, iov: *const Iovec, iovcnt: usize) -> isize {
    // SAFETY: forwarded contract; each iovec describes writable memory.
    unsafe { each_iovec(iov, iovcnt, |v| sys_read(fd, v.iov_base as *mut u8, v.iov_len)) }
}

/// # Safety
/// `name` is null (refused with `-EINVAL`) or points at a NUL-terminated path.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_open(name: *const c_char, flags: i32, mode: i32) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { fs::open(name, flags, mode) }
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_close(fd: i32) -> i32 {
    if fd >= FD_BASE {
        return on_stack(|s| Ok(s.close(fd))).unwrap_or_else(|e| e);
    }
    fs::close(fd)
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_lseek(fd: i32, offset: isize, whence: i32) -> isize {
    fs::lseek(fd, offset, whence)
}

/// # Safety
/// `name` is null (refused with `-EINVAL`) or points at a NUL-terminated path.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_unlink(name: *const c_char) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { fs::unlink(name) }
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
/// As [`sys_fstat`]; `name` as for [`sys_open`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_stat(name: *const c_char, stat: *mut FileAttr) -> i32 {
    // SAFETY: forwarded contract on `name`.
    let fd = unsafe { fs::open(name, 0, 0) };
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

/// `FIONBIO` on sockets; nothing else.
///
/// # Safety
/// For `FIONBIO`, `argp` must point at an `i32`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_ioctl(fd: i32, cmd: i32, argp: *mut c_void) -> i32 {
    if cmd != netabi::FIONBIO || fd < FD_BASE {
        return -ENOSYS;
    }
    if argp.is_null() {
        return -EFAULT;
    }
    // SAFETY: forwarded contract.
    let on = unsafe { (argp as *const i32).read_unaligned() } != 0;
    on_stack(|s| Ok(s.set_nonblocking(fd, on))).unwrap_or_else(|e| e)
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
        CLOCK_MONOTONIC => i64::try_from(time::monotonic_ns()).unwrap_or(i64::MAX),
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
    crate::invocation::sleep_ns((t.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(t.tv_nsec as u64));
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

// ---- networking (net/) --------------------------------------------------------------------

use crate::net::{self, abi as netabi, socket::FD_BASE};

/// Runs a socket operation on the stack (bringing it up on first use).
fn on_stack<R>(f: impl FnOnce(&mut net::Stack) -> Result<R, i32>) -> Result<R, i32> {
    net::with(f).and_then(|r| r)
}

fn isize_of(r: Result<usize, i32>) -> isize {
    match r {
        Ok(n) => n as isize,
        Err(e) => e as isize,
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_socket(domain: i32, ty: i32, protocol: i32) -> i32 {
    on_stack(|s| Ok(s.socket(domain, ty, protocol))).unwrap_or_else(|e| e)
}

/// # Safety
/// `addr` must be valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_bind(fd: i32, addr: *const c_void, len: u32) -> i32 {
    // SAFETY: forwarded contract.
    let ep = match unsafe { net::socket::read_sockaddr(addr.cast(), len) } {
        Ok(ep) => ep,
        Err(e) => return e,
    };
    on_stack(|s| Ok(s.bind(fd, ep))).unwrap_or_else(|e| e)
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_listen(fd: i32, backlog: i32) -> i32 {
    on_stack(|s| Ok(s.listen(fd, backlog))).unwrap_or_else(|e| e)
}

/// # Safety
/// `addr`/`len` must be null or valid (`*len` bytes).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_accept(fd: i32, addr: *mut c_void, len: *mut u32) -> i32 {
    match on_stack(|s| s.accept(fd)) {
        Ok((new_fd, peer)) => {
            // SAFETY: forwarded contract.
            unsafe { net::socket::write_sockaddr(peer, addr.cast(), len) };
            new_fd
        }
        Err(e) => e,
    }
}

/// # Safety
/// `addr` must be valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_connect(fd: i32, addr: *const c_void, len: u32) -> i32 {
    // SAFETY: forwarded contract.
    let ep = match unsafe { net::socket::read_sockaddr(addr.cast(), len) } {
        Ok(ep) => ep,
        Err(e) => return e,
    };
    on_stack(|s| Ok(s.connect(fd, ep))).unwrap_or_else(|e| e)
}

/// # Safety
/// `buf` must be valid for writes of `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_recv(fd: i32, buf: *mut u8, len: usize, flags: i32) -> isize {
    if buf.is_null() && len > 0 {
        return -EFAULT as isize;
    }
    // SAFETY: forwarded contract.
    let buf = unsafe { core::slice::from_raw_parts_mut(buf, len) };
    isize_of(on_stack(|s| s.recv(fd, buf, flags).map(|(n, _)| n)))
}

/// # Safety
/// `buf` valid for `len` bytes; `addr`/`addrlen` null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_recvfrom(fd: i32, buf: *mut u8, len: usize, flags: i32, addr: *mut c_void, addrlen: *mut u32) -> isize {
    if buf.is_null() && len > 0 {
        return -EFAULT as isize;
    }
    // SAFETY: forwarded contract.
    let buf = unsafe { core::slice::from_raw_parts_mut(buf, len) };
    match on_stack(|s| s.recv(fd, buf, flags)) {
        Ok((n, from)) => {
            if let Some(ep) = from {
                // SAFETY: forwarded contract.
                unsafe { net::socket::write_sockaddr(ep, addr.cast(), addrlen) };
            }
            n as isize
        }
        Err(e) => e as isize,
    }
}

/// # Safety
/// `buf` must be valid for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_send(fd: i32, buf: *const c_void, len: usize, _flags: i32) -> isize {
    if buf.is_null() && len > 0 {
        return -EFAULT as isize;
    }
    // SAFETY: forwarded contract.
    let data = unsafe { core::slice::from_raw_parts(buf as *const u8, len) };
    isize_of(on_stack(|s| s.send(fd, data, None)))
}

/// # Safety
/// `buf` valid for `len` bytes; `addr` valid for `addrlen` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_sendto(fd: i32, buf: *const c_void, len: usize, _flags: i32, addr: *const c_void, addrlen: u32) -> isize {
    if buf.is_null() && len > 0 {
        return -EFAULT as isize;
    }
    // SAFETY: forwarded contract.
    let to = match unsafe { net::socket::read_sockaddr(addr.cast(), addrlen) } {
        Ok(ep) => ep,
        Err(e) => return e as isize,
    };
    // SAFETY: forwarded contract.
    let data = unsafe { core::slice::from_raw_parts(buf as *const u8, len) };
    isize_of(on_stack(|s| s.send(fd, data, Some(to))))
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_shutdown(fd: i32, how: i32) -> i32 {
    on_stack(|s| Ok(s.shutdown(fd, how))).unwrap_or_else(|e| e)
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_shutdown_socket(fd: i32, how: i32) -> i32 {
    sys_shutdown(fd, how)
}

/// # Safety
/// `addr`/`len` null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_getpeername(fd: i32, addr: *mut c_void, len: *mut u32) -> i32 {
    match on_stack(|s| s.endpoint(fd, true)) {
        // SAFETY: forwarded contract.
        Ok(ep) => unsafe {
            net::socket::write_sockaddr(ep, addr.cast(), len);
            0
        },
        Err(e) => e,
    }
}

/// # Safety
/// `addr`/`len` null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_getsockname(fd: i32, addr: *mut c_void, len: *mut u32) -> i32 {
    match on_stack(|s| s.endpoint(fd, false)) {
        // SAFETY: forwarded contract.
        Ok(ep) => unsafe {
            net::socket::write_sockaddr(ep, addr.cast(), len);
            0
        },
        Err(e) => e,
    }
}

/// # Safety
/// `value` valid for `len` bytes (or null with len 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_setsockopt(fd: i32, level: i32, name: i32, value: *const c_void, len: u32) -> i32 {
    if value.is_null() && len > 0 {
        return -EFAULT;
    }
    // SAFETY: forwarded contract.
    let bytes = unsafe { core::slice::from_raw_parts(value as *const u8, len as usize) };
    on_stack(|s| Ok(s.setsockopt(fd, level, name, bytes))).unwrap_or_else(|e| e)
}

/// # Safety
/// `value` valid for `*len` bytes; `len` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_getsockopt(fd: i32, level: i32, name: i32, value: *mut c_void, len: *mut u32) -> i32 {
    if value.is_null() || len.is_null() {
        return -EFAULT;
    }
    match on_stack(|s| s.getsockopt(fd, level, name)) {
        // SAFETY: forwarded contract; at most *len bytes are written.
        Ok(bytes) => unsafe {
            let n = (*len as usize).min(bytes.len());
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), value as *mut u8, n);
            *len = n as u32;
            0
        },
        Err(e) => e,
    }
}

/// # Safety
/// `node` null or a NUL-terminated string; `hints` null or valid; `res` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_getaddrinfo(node: *const c_char, _service: *const c_char, hints: *const c_void, res: *mut *mut c_void) -> i32 {
    if node.is_null() || res.is_null() {
        return netabi::EAI_NONAME;
    }
    // SAFETY: forwarded contract.
    let Ok(name) = unsafe { core::ffi::CStr::from_ptr(node) }.to_str() else { return netabi::EAI_NONAME };
    // SAFETY: forwarded contract.
    let hints = (!hints.is_null()).then(|| unsafe { (hints as *const netabi::Addrinfo).read_unaligned() });
    if hints.is_some_and(|h| h.ai_family != netabi::AF_UNSPEC && h.ai_family != netabi::AF_INET) {
        return netabi::EAI_FAMILY;
    }
    let socktype = hints.map_or(netabi::SOCK_STREAM, |h| h.ai_socktype);
    match net::dns::resolve(name).and_then(|addrs| net::dns::to_list(&addrs, socktype)) {
        Ok(list) if list.is_null() => netabi::EAI_NONAME,
        Ok(list) => {
            // SAFETY: forwarded contract.
            unsafe { *res = list.cast() };
            0
        }
        Err(code) => code,
    }
}

/// # Safety
/// `ai` is null or a list `sys_getaddrinfo` returned, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_freeaddrinfo(ai: *mut c_void) {
    // SAFETY: forwarded contract.
    unsafe { net::dns::free(ai.cast()) };
}

/// # Safety
/// `fds` must point at `nfds` valid pollfds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sys_poll(fds: *mut c_void, nfds: usize, timeout: i32) -> i32 {
    if fds.is_null() && nfds > 0 {
        return -EFAULT;
    }
    // SAFETY: forwarded contract.
    let fds = unsafe { core::slice::from_raw_parts_mut(fds as *mut netabi::Pollfd, nfds) };
    if !fds.iter().any(|p| p.fd >= FD_BASE) {
        // Only files and the console: always ready.
        let mut n = 0;
        for p in fds.iter_mut() {
            p.revents = if p.fd >= 0 { p.events & (netabi::POLLIN | netabi::POLLOUT) } else { 0 };
            n += i32::from(p.revents != 0);
        }
        return n;
    }
    on_stack(|s| Ok(s.poll_fds(fds, timeout))).unwrap_or_else(|e| e)
}

#[unsafe(no_mangle)]
pub extern "C" fn sys_eventfd(_initval: u64, _flags: i16) -> i32 {
    -ENOSYS
}
