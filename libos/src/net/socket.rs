//! Sockets as the Hermit ABI sees them: descriptors from [`FD_BASE`] up (far above the host's
//! file descriptors), each an [`Entry`] over smoltcp sockets. Every function returns what the
//! `sys_*` call returns: a count or 0, or `-errno`.
//!
//! TCP connect: `-EACCES` when the egress policy refuses; otherwise SYN, then blocking until
//! established (or `-EINPROGRESS` when non-blocking; `poll` reports POLLOUT when established,
//! POLLHUP and `SO_ERROR` when refused). Listening: a backlog of up to [`MAX_BACKLOG`] smoltcp
//! sockets on the port, refilled at each `accept`. Timeouts: `SO_RCVTIMEO`/`SO_SNDTIMEO` end a
//! blocked receive or send with `-EAGAIN`; a connect gives up after [`CONNECT_TIMEOUT_NS`].

use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::{tcp, udp};
use smoltcp::wire::{IpAddress, IpEndpoint, IpListenEndpoint, Ipv4Address};

use super::abi::{self, errno::*, Pollfd, SockaddrIn, Timeval};
use super::Stack;

/// First socket descriptor.
pub const FD_BASE: i32 = 1 << 24;
/// Most listening sockets kept per port.
pub const MAX_BACKLOG: usize = 4;
/// Most sockets open at once.
pub const MAX_SOCKETS: usize = 256;
/// How long a blocking connect waits for the handshake.
pub const CONNECT_TIMEOUT_NS: u64 = 30_000_000_000;
const TCP_BUFFER: usize = 64 * 1024;
const UDP_PACKETS: usize = 16;
const UDP_BUFFER: usize = 64 * 1024;

/// What a descriptor is.
enum Kind {
    /// `socket(SOCK_STREAM)`, not yet connected or listening; the port of `bind`.
    Tcp { handle: SocketHandle, bound: Option<u16>, connecting: bool },
    /// Listening on `port` with a backlog of listening sockets.
    Listener { port: u16, backlog: Vec<SocketHandle> },
    /// A datagram socket; `bound` once it has a port; `peer` after `connect`.
    Udp { handle: SocketHandle, bound: Option<u16>, peer: Option<IpEndpoint> },
}

/// One socket descriptor.
pub struct Entry {
    kind: Kind,
    nonblocking: bool,
    rcvtimeo_ns: Option<u64>,
    sndtimeo_ns: Option<u64>,
    /// Pending error for `SO_ERROR`.
    error: i32,
}

impl Entry {
    /// The local port, if it has one.
    pub fn local_port(&self) -> Option<u16> {
        match self.kind {
            Kind::Tcp { bound, .. } => bound,
            Kind::Listener { port, .. } => Some(port),
            Kind::Udp { bound, .. } => bound,
        }
    }
}

fn tcp_socket() -> tcp::Socket<'static> {
    let mut s = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; TCP_BUFFER]), tcp::SocketBuffer::new(vec![0; TCP_BUFFER]));
    s.set_nagle_enabled(false);
    s
}

fn udp_socket() -> udp::Socket<'static> {
    udp::Socket::new(
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; UDP_PACKETS], vec![0; UDP_BUFFER]),
        udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; UDP_PACKETS], vec![0; UDP_BUFFER]),
    )
}

/// Reads an IPv4 socket address given by the caller.
///
/// # Safety
/// `addr` must be valid for `len` bytes (or null).
pub unsafe fn read_sockaddr(addr: *const u8, len: u32) -> Result<IpEndpoint, i32> {
    if addr.is_null() {
        return Err(-EFAULT);
    }
    if (len as usize) < core::mem::size_of::<SockaddrIn>() {
        return Err(-EINVAL);
    }
    // SAFETY: the caller guarantees `len` >= 16 readable bytes.
    let sa = unsafe { (addr as *const SockaddrIn).read_unaligned() };
    if i32::from(sa.sin_family) != abi::AF_INET {
        return Err(-EAFNOSUPPORT);
    }
    let ip = Ipv4Address::from_octets(sa.sin_addr.s_addr.to_ne_bytes());
    Ok(IpEndpoint::new(IpAddress::Ipv4(ip), u16::from_be(sa.sin_port)))
}

/// Writes `ep` as a `sockaddr_in` for the caller.
///
/// # Safety
/// `addr` must be valid for `*len` bytes, `len` valid (either may be null: nothing written).
pub unsafe fn write_sockaddr(ep: IpEndpoint, addr: *mut u8, len: *mut u32) {
    if addr.is_null() || len.is_null() {
        return;
    }
    let IpAddress::Ipv4(ip) = ep.addr;
    let sa = SockaddrIn {
        sin_len: 16,
        sin_family: abi::AF_INET as u8,
        sin_port: ep.port.to_be(),
        sin_addr: abi::InAddr { s_addr: u32::from_ne_bytes(ip.octets()) },
        sin_zero: [0; 8],
    };
    // SAFETY: the caller guarantees validity; at most the given capacity is written.
    unsafe {
        let cap = (*len as usize).min(16);
        core::ptr::copy_nonoverlapping((&sa as *const SockaddrIn).cast::<u8>(), addr, cap);
        *len = 16;
    }
}

impl Stack {
    fn entry(&mut self, fd: i32) -> Result<&mut Entry, i32> {
        self.table.get_mut(&fd).ok_or(-EBADF)
    }

    fn insert(&mut self, kind: Kind, nonblocking: bool) -> Result<i32, i32> {
        if self.table.len() >= MAX_SOCKETS {
            return Err(-EMFILE);
        }
        let fd = self.next_fd;
        self.next_fd = self.next_fd.checked_add(1).ok_or(-EMFILE)?;
        self.table.insert(fd, Entry { kind, nonblocking, rcvtimeo_ns: None, sndtimeo_ns: None, error: 0 });
        Ok(fd)
    }

    /// `socket(domain, type, protocol)`.
    pub fn socket(&mut self, domain: i32, ty: i32, _protocol: i32) -> i32 {
        if domain != abi::AF_INET {
            return -EAFNOSUPPORT;
        }
        let nonblocking = ty & abi::SOCK_NONBLOCK != 0;
        let kind = match ty & !(abi::SOCK_NONBLOCK | abi::SOCK_CLOEXEC) {
            abi::SOCK_STREAM => Kind::Tcp { handle: self.sockets.add(tcp_socket()), bound: None, connecting: false },
            abi::SOCK_DGRAM => Kind::Udp { handle: self.sockets.add(udp_socket()), bound: None, peer: None },
            _ => return -EPROTONOSUPPORT,
        };
        self.insert(kind, nonblocking).unwrap_or_else(|e| e)
    }

    /// `close(fd)`: TCP connections close gracefully in the background.
    pub fn close(&mut self, fd: i32) -> i32 {
        let Some(e) = self.table.remove(&fd) else { return -EBADF };
        match e.kind {
            Kind::Tcp { handle, .. } => {
                let s = self.sockets.get_mut::<tcp::Socket>(handle);
                if s.is_open() {
                    s.close();
                    self.closing.push(handle);
                } else {
                    self.sockets.remove(handle);
                }
            }
            Kind::Listener { backlog, .. } => {
                for h in backlog {
                    self.sockets.get_mut::<tcp::Socket>(h).abort();
                    self.closing.push(h);
                }
            }
            Kind::Udp { handle, .. } => {
                self.sockets.remove(handle);
            }
        }
        self.poll();
        0
    }

    /// `bind(fd, addr)`: records the local port (TCP) or binds (UDP); port 0 picks one.
    pub fn bind(&mut self, fd: i32, ep: IpEndpoint) -> i32 {
        let port = if ep.port == 0 { self.ephemeral_port() } else { ep.port };
        if self.table.iter().any(|(&f, e)| f != fd && e.local_port() == Some(port)) {
            return -EADDRINUSE;
        }
        let Ok(e) = self.entry(fd) else { return -EBADF };
        match &mut e.kind {
            Kind::Tcp { bound, .. } => *bound = Some(port),
            Kind::Udp { handle, bound, .. } => {
                let h = *handle;
                *bound = Some(port);
                if self.sockets.get_mut::<udp::Socket>(h).bind(port).is_err() {
                    return -EINVAL;
                }
            }
            Kind::Listener { .. } => return -EINVAL,
        }
        0
    }

    /// `listen(fd, backlog)`.
    pub fn listen(&mut self, fd: i32, backlog: i32) -> i32 {
        let Ok(e) = self.entry(fd) else { return -EBADF };
        let (handle, port) = match e.kind {
            Kind::Tcp { handle, bound: Some(port), .. } => (handle, port),
            Kind::Tcp { bound: None, .. } => return -EDESTADDRREQ,
            Kind::Listener { .. } => return 0,
            Kind::Udp { .. } => return -EOPNOTSUPP,
        };
        let n = (backlog.max(1) as usize).min(MAX_BACKLOG);
        let mut handles = vec![handle];
        for _ in 1..n {
            handles.push(self.sockets.add(tcp_socket()));
        }
        for &h in &handles {
            if self.sockets.get_mut::<tcp::Socket>(h).listen(IpListenEndpoint { addr: None, port }).is_err() {
                return -EINVAL;
            }
        }
        self.entry(fd).expect("present").kind = Kind::Listener { port, backlog: handles };
        0
    }

    /// `accept(fd)`: an established connection from the backlog; its listening slot is
    /// refilled.
    pub fn accept(&mut self, fd: i32) -> Result<(i32, IpEndpoint), i32> {
        let (nonblocking, timeout) = match self.entry(fd)? {
            Entry { kind: Kind::Listener { .. }, nonblocking, rcvtimeo_ns, .. } => (*nonblocking, *rcvtimeo_ns),
            _ => return Err(-EINVAL),
        };
        let deadline = timeout.map(|t| crate::time::monotonic_ns().saturating_add(t));
        let ready = |s: &mut Self| -> Option<(usize, SocketHandle)> {
            let Some(Entry { kind: Kind::Listener { backlog, .. }, .. }) = s.table.get(&fd) else { return None };
            backlog.iter().enumerate().find_map(|(i, &h)| {
                let t = s.sockets.get::<tcp::Socket>(h);
                (t.is_active() && !t.is_listening() && t.state() != tcp::State::SynReceived).then_some((i, h))
            })
        };
        let found = if nonblocking {
            self.poll();
            ready(self)
        } else {
            self.block_until(deadline, ready)
        };
        let (i, h) = found.ok_or(-EAGAIN)?;
        let peer = self.sockets.get::<tcp::Socket>(h).remote_endpoint().ok_or(-ECONNABORTED)?;
        let port = match &self.entry(fd)?.kind {
            Kind::Listener { port, .. } => *port,
            _ => unreachable!("checked above"),
        };
        let fresh = self.sockets.add(tcp_socket());
        let _ = self.sockets.get_mut::<tcp::Socket>(fresh).listen(IpListenEndpoint { addr: None, port });
        if let Kind::Listener { backlog, .. } = &mut self.entry(fd)?.kind {
            backlog[i] = fresh;
        }
        let new_fd = self.insert(Kind::Tcp { handle: h, bound: Some(port), connecting: false }, false)?;
        Ok((new_fd, peer))
    }

    /// `connect(fd, addr)`.
    pub fn connect(&mut self, fd: i32, remote: IpEndpoint) -> i32 {
        let IpAddress::Ipv4(ip) = remote.addr;
        let e = match self.entry(fd) {
            Ok(e) => e,
            Err(e) => return e,
        };
        match e.kind {
            Kind::Udp { .. } => {
                if !self.egress_allowed(ip, remote.port, 17) {
                    return -EACCES;
                }
                if let Err(e) = self.udp_ensure_bound(fd) {
                    return e;
                }
                if let Ok(Entry { kind: Kind::Udp { peer, .. }, .. }) = self.entry(fd) {
                    *peer = Some(remote);
                }
                return 0;
            }
            Kind::Listener { .. } => return -EISCONN,
            Kind::Tcp { connecting: true, .. } => return -EALREADY,
            Kind::Tcp { .. } => {}
        }
        // The guest's own loopback has no listener this stack could reach (smoltcp has no
        // loopback interface here): refused, as a Linux host refuses a closed local port.
        if ip.octets()[0] == 127 {
            self.entry(fd).expect("present").error = -ECONNREFUSED;
            return -ECONNREFUSED;
        }
        // Stock uhyve has no policy to ask. Under our hypervisor the SYN is queued first and
        // the Egress hypercall carries it (the host takes un-notified TX frames at every
        // hypercall, and its NAT enforces the policy on the SYN itself): one exit for both.
        if !self.on_seuss && !self.egress_allowed(ip, remote.port, 6) {
            self.entry(fd).expect("present").error = -EACCES;
            return -EACCES;
        }
        let local = match self.entry(fd).expect("present").kind {
            Kind::Tcp { bound: Some(p), .. } => p,
            _ => self.ephemeral_port(),
        };
        let Kind::Tcp { handle, .. } = self.entry(fd).expect("present").kind else { unreachable!() };
        if self.sockets.get_mut::<tcp::Socket>(handle).connect(self.iface.context(), remote, local).is_err() {
            return -EISCONN;
        }
        let e = self.entry(fd).expect("present");
        e.kind = Kind::Tcp { handle, bound: Some(local), connecting: true };
        let nonblocking = e.nonblocking;
        if self.on_seuss {
            self.dev.hold(true);
            self.poll();
            self.dev.hold(false);
            if !self.egress_allowed(ip, remote.port, 6) {
                self.sockets.get_mut::<tcp::Socket>(handle).abort();
                let e = self.entry(fd).expect("present");
                e.kind = Kind::Tcp { handle, bound: Some(local), connecting: false };
                e.error = -EACCES;
                return -EACCES;
            }
        }
        self.poll();
        if nonblocking {
            return -abi::errno::EINPROGRESS;
        }
        let deadline = crate::time::monotonic_ns().saturating_add(CONNECT_TIMEOUT_NS);
        let r = self.block_until(Some(deadline), |s| s.tcp_connect_status(fd));
        match r {
            Some(0) => 0,
            Some(err) => err,
            None => {
                self.sockets.get_mut::<tcp::Socket>(handle).abort();
                -ETIMEDOUT
            }
        }
    }

    /// `Some(0)` once a connecting socket is established, `Some(-errno)` once it failed.
    fn tcp_connect_status(&mut self, fd: i32) -> Option<i32> {
        let e = self.table.get_mut(&fd)?;
        let Kind::Tcp { handle, connecting: true, .. } = e.kind else { return Some(0) };
        let s = self.sockets.get::<tcp::Socket>(handle);
        match s.state() {
            tcp::State::SynSent | tcp::State::SynReceived => None,
            tcp::State::Closed => {
                e.error = -ECONNREFUSED;
                Some(-ECONNREFUSED)
            }
            _ => {
                if let Kind::Tcp { connecting, .. } = &mut e.kind {
                    *connecting = false;
                }
                Some(0)
            }
        }
    }

    fn udp_ensure_bound(&mut self, fd: i32) -> Result<(), i32> {
        if let Kind::Udp { bound: None, .. } = self.entry(fd)?.kind {
            let r = self.bind(fd, IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::UNSPECIFIED), 0));
            if r < 0 {
                return Err(r);
            }
        }
        Ok(())
    }

    /// `recv`/`read`/`recvfrom` (`peek` with MSG_PEEK); the sender for datagrams.
    pub fn recv(&mut self, fd: i32, buf: &mut [u8], flags: i32) -> Result<(usize, Option<IpEndpoint>), i32> {
        let peek = flags & abi::MSG_PEEK != 0;
        let e = self.entry(fd)?;
        let (nonblocking, timeout) = (e.nonblocking, e.rcvtimeo_ns);
        let deadline = timeout.map(|t| crate::time::monotonic_ns().saturating_add(t));
        let mut step = |s: &mut Self| -> Option<Result<(usize, Option<IpEndpoint>), i32>> {
            let e = s.table.get_mut(&fd)?;
            match e.kind {
                Kind::Tcp { handle, .. } => {
                    let t = s.sockets.get_mut::<tcp::Socket>(handle);
                    if t.can_recv() {
                        let r = if peek { t.peek_slice(buf) } else { t.recv_slice(buf) };
                        return Some(r.map(|n| (n, None)).map_err(|_| -ECONNRESET));
                    }
                    if !t.may_recv() {
                        // FIN received (EOF), or reset/closed.
                        return Some(match t.state() {
                            tcp::State::Closed if e.error != 0 => Err(e.error),
                            tcp::State::Closed | tcp::State::Listen => Err(-ENOTCONN),
                            _ => Ok((0, None)),
                        });
                    }
                    None
                }
                Kind::Udp { handle, .. } => {
                    let u = s.sockets.get_mut::<udp::Socket>(handle);
                    if !u.can_recv() {
                        return None;
                    }
                    let r = if peek {
                        u.peek().map(|(d, m)| {
                            let n = d.len().min(buf.len());
                            buf[..n].copy_from_slice(&d[..n]);
                            (n, m.endpoint)
                        })
                    } else {
                        u.recv_slice(buf).map(|(n, m)| (n, m.endpoint))
                    };
                    Some(r.map(|(n, ep)| (n, Some(ep))).map_err(|_| -EMSGSIZE))
                }
                Kind::Listener { .. } => Some(Err(-ENOTCONN)),
            }
        };
        let r = if nonblocking {
            self.poll();
            step(self)
        } else {
            self.block_until(deadline, step)
        };
        r.unwrap_or(Err(-EAGAIN))
    }

    /// `send`/`write`/`sendto`.
    pub fn send(&mut self, fd: i32, data: &[u8], to: Option<IpEndpoint>) -> Result<usize, i32> {
        let e = self.entry(fd)?;
        let (nonblocking, timeout) = (e.nonblocking, e.sndtimeo_ns);
        if let Kind::Udp { peer, .. } = e.kind {
            let dest = to.or(peer).ok_or(-EDESTADDRREQ)?;
            let IpAddress::Ipv4(ip) = dest.addr;
            if !self.egress_allowed(ip, dest.port, 17) {
                return Err(-EACCES);
            }
            self.udp_ensure_bound(fd)?;
            let Kind::Udp { handle, .. } = self.entry(fd)?.kind else { unreachable!() };
            let r = self.sockets.get_mut::<udp::Socket>(handle).send_slice(data, dest);
            self.poll();
            return r.map(|()| data.len()).map_err(|e| match e {
                udp::SendError::BufferFull => -EAGAIN,
                udp::SendError::Unaddressable => -EINVAL,
            });
        }
        let deadline = timeout.map(|t| crate::time::monotonic_ns().saturating_add(t));
        let step = |s: &mut Self| -> Option<Result<usize, i32>> {
            let e = s.table.get(&fd)?;
            let Kind::Tcp { handle, .. } = e.kind else { return Some(Err(-ENOTCONN)) };
            let t = s.sockets.get_mut::<tcp::Socket>(handle);
            if !t.may_send() {
                return Some(Err(if t.state() == tcp::State::Closed && e.error != 0 { e.error } else { -EPIPE }));
            }
            if t.can_send() {
                return Some(t.send_slice(data).map_err(|_| -EPIPE));
            }
            None
        };
        let r = if nonblocking {
            self.poll();
            step(self)
        } else {
            self.block_until(deadline, step)
        };
        let r = r.unwrap_or(Err(-EAGAIN));
        self.poll();
        r
    }

    /// `shutdown(fd, how)`.
    pub fn shutdown(&mut self, fd: i32, how: i32) -> i32 {
        let Ok(e) = self.entry(fd) else { return -EBADF };
        match (e.kind.handle_tcp(), how) {
            (Some(h), abi::SHUT_WR | abi::SHUT_RDWR) => {
                self.sockets.get_mut::<tcp::Socket>(h).close();
                self.poll();
                0
            }
            (Some(_), abi::SHUT_RD) => 0,
            (Some(_), _) => -EINVAL,
            (None, _) => -ENOTCONN,
        }
    }

    /// The local (`peer == false`) or remote endpoint.
    pub fn endpoint(&mut self, fd: i32, peer: bool) -> Result<IpEndpoint, i32> {
        let e = self.entry(fd)?;
        match e.kind {
            Kind::Tcp { handle, bound, .. } => {
                let t = self.sockets.get::<tcp::Socket>(handle);
                let ep = if peer { t.remote_endpoint() } else { t.local_endpoint() };
                match (ep, peer, bound) {
                    (Some(ep), _, _) => Ok(ep),
                    (None, false, Some(p)) => Ok(IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::UNSPECIFIED), p)),
                    _ => Err(-ENOTCONN),
                }
            }
            Kind::Listener { port, .. } if !peer => Ok(IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::UNSPECIFIED), port)),
            Kind::Udp { bound: Some(p), .. } if !peer => Ok(IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::UNSPECIFIED), p)),
            Kind::Udp { peer: Some(ep), .. } if peer => Ok(ep),
            _ => Err(-ENOTCONN),
        }
    }

    /// `ioctl(fd, FIONBIO, &on)`.
    pub fn set_nonblocking(&mut self, fd: i32, on: bool) -> i32 {
        match self.entry(fd) {
            Ok(e) => {
                e.nonblocking = on;
                0
            }
            Err(e) => e,
        }
    }

    /// `setsockopt` with the option value's bytes.
    pub fn setsockopt(&mut self, fd: i32, level: i32, name: i32, value: &[u8]) -> i32 {
        let int = || value.get(..4).map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")));
        let time = || -> Option<Option<u64>> {
            if value.len() < core::mem::size_of::<Timeval>() {
                return None;
            }
            // SAFETY: at least size_of::<Timeval>() bytes.
            let t = unsafe { (value.as_ptr() as *const Timeval).read_unaligned() };
            let ns = (t.tv_sec.max(0) as u64).saturating_mul(1_000_000_000).saturating_add((t.tv_usec.max(0) as u64).saturating_mul(1000));
            Some((ns > 0).then_some(ns))
        };
        let Ok(e) = self.entry(fd) else { return -EBADF };
        match (level, name) {
            (abi::SOL_SOCKET, abi::SO_REUSEADDR | abi::SO_BROADCAST | abi::SO_LINGER | abi::SO_SNDBUF | abi::SO_RCVBUF) => 0,
            (abi::SOL_SOCKET, abi::SO_RCVTIMEO) => match time() {
                Some(t) => {
                    e.rcvtimeo_ns = t;
                    0
                }
                None => -EINVAL,
            },
            (abi::SOL_SOCKET, abi::SO_SNDTIMEO) => match time() {
                Some(t) => {
                    e.sndtimeo_ns = t;
                    0
                }
                None => -EINVAL,
            },
            (abi::SOL_SOCKET, abi::SO_KEEPALIVE) => {
                let (Some(on), Some(h)) = (int(), e.kind.handle_tcp()) else { return -EINVAL };
                let interval = (on != 0).then(|| smoltcp::time::Duration::from_secs(75));
                self.sockets.get_mut::<tcp::Socket>(h).set_keep_alive(interval);
                0
            }
            (abi::IPPROTO_TCP, abi::TCP_NODELAY) => {
                let (Some(on), Some(h)) = (int(), e.kind.handle_tcp()) else { return -EINVAL };
                self.sockets.get_mut::<tcp::Socket>(h).set_nagle_enabled(on == 0);
                0
            }
            (abi::IPPROTO_IP, abi::IP_TTL) => {
                let (Some(ttl), Some(h)) = (int(), e.kind.handle_tcp()) else { return 0 };
                self.sockets.get_mut::<tcp::Socket>(h).set_hop_limit(u8::try_from(ttl).ok().filter(|t| *t > 0));
                0
            }
            _ => -abi::errno::ENOPROTOOPT,
        }
    }

    /// `getsockopt`: the value's bytes (at most 16).
    pub fn getsockopt(&mut self, fd: i32, level: i32, name: i32) -> Result<Vec<u8>, i32> {
        let e = self.entry(fd)?;
        let timeval = |t: Option<u64>| {
            let ns = t.unwrap_or(0);
            let tv = Timeval { tv_sec: (ns / 1_000_000_000) as i64, tv_usec: ((ns % 1_000_000_000) / 1000) as i32 };
            let mut b = vec![0u8; 16];
            b[..8].copy_from_slice(&tv.tv_sec.to_ne_bytes());
            b[8..12].copy_from_slice(&tv.tv_usec.to_ne_bytes());
            b
        };
        Ok(match (level, name) {
            (abi::SOL_SOCKET, abi::SO_ERROR) => {
                let err = core::mem::take(&mut e.error);
                (-err).to_ne_bytes().to_vec()
            }
            (abi::SOL_SOCKET, abi::SO_RCVTIMEO) => timeval(e.rcvtimeo_ns),
            (abi::SOL_SOCKET, abi::SO_SNDTIMEO) => timeval(e.sndtimeo_ns),
            (abi::IPPROTO_TCP, abi::TCP_NODELAY) => {
                let h = e.kind.handle_tcp().ok_or(-ENOPROTOOPT)?;
                i32::from(!self.sockets.get::<tcp::Socket>(h).nagle_enabled()).to_ne_bytes().to_vec()
            }
            (abi::SOL_SOCKET, abi::SO_REUSEADDR | abi::SO_KEEPALIVE | abi::SO_BROADCAST) => 0i32.to_ne_bytes().to_vec(),
            (abi::IPPROTO_IP, abi::IP_TTL) => 64i32.to_ne_bytes().to_vec(),
            _ => return Err(-ENOPROTOOPT),
        })
    }

    /// The `revents` of one descriptor for `events`.
    fn readiness(&mut self, fd: i32, events: i16) -> i16 {
        let Some(e) = self.table.get_mut(&fd) else { return abi::POLLNVAL };
        let mut r = 0;
        match e.kind {
            Kind::Tcp { handle, connecting, .. } => {
                let t = self.sockets.get::<tcp::Socket>(handle);
                let state = t.state();
                if t.can_recv() || (!t.may_recv() && state != tcp::State::SynSent && state != tcp::State::Closed) {
                    r |= abi::POLLIN;
                }
                if t.can_send() {
                    r |= abi::POLLOUT;
                }
                if state == tcp::State::Closed && (connecting || e.error != 0 || t.remote_endpoint().is_none()) {
                    if connecting && e.error == 0 {
                        e.error = -ECONNREFUSED;
                    }
                    r |= abi::POLLHUP;
                }
            }
            Kind::Listener { ref backlog, .. } => {
                let ready = backlog.iter().any(|&h| {
                    let t = self.sockets.get::<tcp::Socket>(h);
                    t.is_active() && !t.is_listening() && t.state() != tcp::State::SynReceived
                });
                if ready {
                    r |= abi::POLLIN;
                }
            }
            Kind::Udp { handle, .. } => {
                let u = self.sockets.get::<udp::Socket>(handle);
                if u.can_recv() {
                    r |= abi::POLLIN;
                }
                if u.can_send() {
                    r |= abi::POLLOUT;
                }
            }
        }
        r & (events | abi::POLLHUP | abi::POLLERR | abi::POLLNVAL)
    }

    /// `poll(fds, timeout)` over socket descriptors; other descriptors (files, the console)
    /// are always ready for what they ask.
    pub fn poll_fds(&mut self, fds: &mut [Pollfd], timeout_ms: i32) -> i32 {
        let deadline = (timeout_ms >= 0).then(|| crate::time::monotonic_ns().saturating_add(timeout_ms as u64 * 1_000_000));
        let count = |s: &mut Self, fds: &mut [Pollfd]| -> i32 {
            let mut n = 0;
            for p in fds.iter_mut() {
                p.revents = if p.fd < 0 {
                    0
                } else if s.table.contains_key(&p.fd) {
                    s.readiness(p.fd, p.events)
                } else if p.fd < FD_BASE {
                    p.events & (abi::POLLIN | abi::POLLOUT)
                } else {
                    abi::POLLNVAL
                };
                if p.revents != 0 {
                    n += 1;
                }
            }
            n
        };
        if timeout_ms == 0 {
            self.poll();
            return count(self, fds);
        }
        self.block_until(deadline, |s| Some(count(s, fds)).filter(|n| *n > 0)).unwrap_or(0)
    }
}

impl Kind {
    fn handle_tcp(&self) -> Option<SocketHandle> {
        match *self {
            Kind::Tcp { handle, .. } => Some(handle),
            _ => None,
        }
    }
}
