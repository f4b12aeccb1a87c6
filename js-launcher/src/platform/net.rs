//! The two socket operations `fetch` needs beyond Rust std: a *non-blocking* TCP connect and
//! a readiness wait over many sockets. Everything else (send, recv, `SO_ERROR`, name
//! resolution) goes through `std::net`, which links the same Hermit ABI calls in the guest.
//!
//! | operation | host (Linux) | guest (libos) |
//! |---|---|---|
//! | [`connect_start`] | `socket(2)` + `connect(2)` via libc | `sys_socket` + `sys_connect` |
//! | [`poll`] | `poll(2)` via libc | `sys_poll` |
//!
//! Both return a [`TcpStream`] in non-blocking mode (std's `set_nonblocking`, i.e. `FIONBIO`
//! in the guest) whose connection may still be in progress: the caller waits for
//! [`Interest::Write`] and then reads the outcome with `TcpStream::take_error`.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// What a socket is waited for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Bytes to read (or end of stream, or an error).
    Read,
    /// Room to write, or a finished (or failed) connect.
    Write,
}

/// One socket in a [`poll`] call.
#[derive(Debug)]
pub struct PollEntry {
    /// The socket's descriptor.
    pub fd: i32,
    /// What it is waited for.
    pub interest: Interest,
    /// Set by [`poll`]: the socket is ready (or has an error or hang-up to report).
    pub ready: bool,
}

/// Milliseconds for a poll timeout: rounded up, so a wait never ends just before a deadline;
/// `-1` waits without limit.
fn timeout_ms(timeout: Option<Duration>) -> i32 {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            i32::try_from(ms).unwrap_or(i32::MAX)
        }
    }
}

#[cfg(not(target_os = "hermit"))]
mod sys {
    use std::io;
    use std::net::{SocketAddr, TcpStream};
    use std::os::fd::FromRawFd;

    use super::{Interest, PollEntry};

    pub fn connect_start(addr: &SocketAddr) -> io::Result<TcpStream> {
        let family = if addr.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a freshly created socket that nothing else owns.
        let stream = unsafe { TcpStream::from_raw_fd(fd) };
        stream.set_nonblocking(true)?;
        // SAFETY: both sockaddr structs are zero-initialisable plain C data.
        let mut v4: libc::sockaddr_in = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut v6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
        let (ptr, len) = match addr {
            SocketAddr::V4(a) => {
                v4.sin_family = libc::AF_INET as libc::sa_family_t;
                v4.sin_port = a.port().to_be();
                v4.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                ((&raw const v4).cast::<libc::sockaddr>(), size_of::<libc::sockaddr_in>())
            }
            SocketAddr::V6(a) => {
                v6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                v6.sin6_port = a.port().to_be();
                v6.sin6_flowinfo = a.flowinfo();
                v6.sin6_addr.s6_addr = a.ip().octets();
                v6.sin6_scope_id = a.scope_id();
                ((&raw const v6).cast::<libc::sockaddr>(), size_of::<libc::sockaddr_in6>())
            }
        };
        // SAFETY: `ptr` points to a live sockaddr of `len` bytes for the duration of the call.
        let rc = unsafe { libc::connect(fd, ptr, len as libc::socklen_t) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINPROGRESS) {
                return Err(err);
            }
        }
        Ok(stream)
    }

    pub fn poll(entries: &mut [PollEntry], timeout_ms: i32) -> io::Result<usize> {
        let mut fds: Vec<libc::pollfd> = entries
            .iter()
            .map(|e| libc::pollfd {
                fd: e.fd,
                events: match e.interest {
                    Interest::Read => libc::POLLIN,
                    Interest::Write => libc::POLLOUT,
                },
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a live array of `fds.len()` pollfd structs.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if n < 0 {
            let err = io::Error::last_os_error();
            return if err.kind() == io::ErrorKind::Interrupted { Ok(0) } else { Err(err) };
        }
        for (e, p) in entries.iter_mut().zip(&fds) {
            e.ready = p.revents != 0;
        }
        Ok(n as usize)
    }
}

#[cfg(target_os = "hermit")]
mod sys {
    use std::io;
    use std::net::{SocketAddr, TcpStream};
    use std::os::hermit::io::FromRawFd;

    use hermit_abi as abi;

    use super::{Interest, PollEntry};

    /// Hermit ABI calls return `-errno` on failure.
    fn check(rc: i32) -> io::Result<i32> {
        if rc < 0 { Err(io::Error::from_raw_os_error(-rc)) } else { Ok(rc) }
    }

    pub fn connect_start(addr: &SocketAddr) -> io::Result<TcpStream> {
        let family = if addr.is_ipv4() { abi::AF_INET } else { abi::AF_INET6 };
        // SAFETY: plain Hermit ABI call; the result is checked before use.
        let fd = check(unsafe { abi::socket(family, abi::SOCK_STREAM, 0) })?;
        // SAFETY: `fd` is a freshly created socket that nothing else owns.
        let stream = unsafe { TcpStream::from_raw_fd(fd) };
        stream.set_nonblocking(true)?;
        let mut v4 = abi::sockaddr_in::default();
        let mut v6 = abi::sockaddr_in6::default();
        let (ptr, len) = match addr {
            SocketAddr::V4(a) => {
                v4.sin_len = size_of::<abi::sockaddr_in>() as u8;
                v4.sin_family = abi::AF_INET as abi::sa_family_t;
                v4.sin_port = a.port().to_be();
                v4.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                ((&raw const v4).cast::<abi::sockaddr>(), size_of::<abi::sockaddr_in>())
            }
            SocketAddr::V6(a) => {
                v6.sin6_len = size_of::<abi::sockaddr_in6>() as u8;
                v6.sin6_family = abi::AF_INET6 as abi::sa_family_t;
                v6.sin6_port = a.port().to_be();
                v6.sin6_flowinfo = a.flowinfo();
                v6.sin6_addr.s6_addr = a.ip().octets();
                v6.sin6_scope_id = a.scope_id();
                ((&raw const v6).cast::<abi::sockaddr>(), size_of::<abi::sockaddr_in6>())
            }
        };
        // SAFETY: `ptr` points to a live sockaddr of `len` bytes for the duration of the call.
        let rc = unsafe { abi::connect(fd, ptr, len as abi::socklen_t) };
        if rc < 0 && -rc != abi::errno::EINPROGRESS && -rc != abi::errno::EAGAIN {
            return Err(io::Error::from_raw_os_error(-rc));
        }
        Ok(stream)
    }

    pub fn poll(entries: &mut [PollEntry], timeout_ms: i32) -> io::Result<usize> {
        let mut fds: Vec<abi::pollfd> = entries
            .iter()
            .map(|e| abi::pollfd {
                fd: e.fd,
                events: match e.interest {
                    Interest::Read => abi::POLLIN,
                    Interest::Write => abi::POLLOUT,
                },
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a live array of `fds.len()` pollfd structs.
        let n = unsafe { abi::poll(fds.as_mut_ptr(), fds.len(), timeout_ms) };
        if n < 0 {
            return if -n == abi::errno::EINTR { Ok(0) } else { Err(io::Error::from_raw_os_error(-n)) };
        }
        for (e, p) in entries.iter_mut().zip(&fds) {
            e.ready = p.revents != 0;
        }
        Ok(n as usize)
    }
}

/// Starts a TCP connection to `addr` without waiting for it: the stream is non-blocking and
/// its connect may still be in progress (see the module docs).
pub fn connect_start(addr: &SocketAddr) -> io::Result<TcpStream> {
    sys::connect_start(addr)
}

/// Waits until one of `entries` is ready or `timeout` passes (`None`: no limit); marks the
/// ready ones and returns how many are ready (0 on timeout or interruption).
pub fn poll(entries: &mut [PollEntry], timeout: Option<Duration>) -> io::Result<usize> {
    for e in entries.iter_mut() {
        e.ready = false;
    }
    sys::poll(entries, timeout_ms(timeout))
}

/// The error a failed connect to `host` (resolved to `addr`) reports to the function. In the
/// guest, `EACCES` means the hypervisor's egress policy refused the address (libos asks the
/// host before connecting): the error then explains itself and names the flag to change, and
/// its text reaches the JS `cause.message` verbatim. Other errors pass through unchanged.
pub fn connect_error(host: &str, addr: &SocketAddr, err: io::Error) -> io::Error {
    if cfg!(target_os = "hermit") && err.raw_os_error() == Some(13) {
        let port = addr.port();
        return io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("connection to {host}:{port} refused by the seuss egress policy: allow it with --allow-net {host}:{port}"),
        );
    }
    err
}

/// The descriptor of a stream (for [`PollEntry::fd`]).
pub fn fd_of(stream: &TcpStream) -> i32 {
    #[cfg(not(target_os = "hermit"))]
    use std::os::fd::AsRawFd;
    #[cfg(target_os = "hermit")]
    use std::os::hermit::io::AsRawFd;
    stream.as_raw_fd()
}
