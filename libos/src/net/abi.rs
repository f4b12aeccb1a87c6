//! The socket types and constants of the Hermit ABI as Rust std's hermit target uses them
//! (hermit-abi 0.5: BSD-style sockaddrs with a length byte; `AF_INET` is 3, `SOL_SOCKET` is
//! 4095: not Linux's values).

#![allow(missing_docs)]

pub const AF_UNSPEC: i32 = 0;
pub const AF_INET6: i32 = 1;
pub const AF_INET: i32 = 3;
pub const SOCK_STREAM: i32 = 1;
pub const SOCK_DGRAM: i32 = 2;
pub const SOCK_NONBLOCK: i32 = 0o4000;
pub const SOCK_CLOEXEC: i32 = 0o40000;
pub const IPPROTO_IP: i32 = 0;
pub const IPPROTO_TCP: i32 = 6;
pub const IPPROTO_UDP: i32 = 17;
pub const SOL_SOCKET: i32 = 4095;
pub const SO_REUSEADDR: i32 = 0x4;
pub const SO_KEEPALIVE: i32 = 0x8;
pub const SO_BROADCAST: i32 = 0x20;
pub const SO_LINGER: i32 = 0x80;
pub const SO_SNDBUF: i32 = 0x1001;
pub const SO_RCVBUF: i32 = 0x1002;
pub const SO_SNDTIMEO: i32 = 0x1005;
pub const SO_RCVTIMEO: i32 = 0x1006;
pub const SO_ERROR: i32 = 0x1007;
pub const TCP_NODELAY: i32 = 1;
pub const IP_TTL: i32 = 2;
pub const MSG_PEEK: i32 = 1;
pub const SHUT_RD: i32 = 0;
pub const SHUT_WR: i32 = 1;
pub const SHUT_RDWR: i32 = 2;
pub const FIONBIO: i32 = 0x8008_667e_u32 as i32;
pub const POLLIN: i16 = 0x1;
pub const POLLOUT: i16 = 0x4;
pub const POLLERR: i16 = 0x8;
pub const POLLHUP: i16 = 0x10;
pub const POLLNVAL: i16 = 0x20;
pub const EAI_AGAIN: i32 = 2;
pub const EAI_FAIL: i32 = 4;
pub const EAI_FAMILY: i32 = 5;
pub const EAI_MEMORY: i32 = 6;
pub const EAI_NONAME: i32 = 8;

/// errno values the socket calls return (negated), Linux numbering.
pub mod errno {
    pub const EINTR: i32 = 4;
    pub const EBADF: i32 = 9;
    pub const EAGAIN: i32 = 11;
    pub const ENOMEM: i32 = 12;
    pub const EACCES: i32 = 13;
    pub const EFAULT: i32 = 14;
    pub const EINVAL: i32 = 22;
    pub const EMFILE: i32 = 24;
    pub const EPIPE: i32 = 32;
    pub const ENOTSOCK: i32 = 88;
    pub const EDESTADDRREQ: i32 = 89;
    pub const EMSGSIZE: i32 = 90;
    pub const ENOPROTOOPT: i32 = 92;
    pub const EPROTONOSUPPORT: i32 = 93;
    pub const EOPNOTSUPP: i32 = 95;
    pub const EAFNOSUPPORT: i32 = 97;
    pub const EADDRINUSE: i32 = 98;
    pub const EADDRNOTAVAIL: i32 = 99;
    pub const ENETDOWN: i32 = 100;
    pub const ENETUNREACH: i32 = 101;
    pub const ECONNABORTED: i32 = 103;
    pub const ECONNRESET: i32 = 104;
    pub const ENOBUFS: i32 = 105;
    pub const EISCONN: i32 = 106;
    pub const ENOTCONN: i32 = 107;
    pub const ETIMEDOUT: i32 = 110;
    pub const ECONNREFUSED: i32 = 111;
    pub const EHOSTUNREACH: i32 = 113;
    pub const EALREADY: i32 = 114;
    pub const EINPROGRESS: i32 = 115;
}

/// `struct in_addr` (network byte order).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct InAddr {
    pub s_addr: u32,
}

/// `struct sockaddr_in`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SockaddrIn {
    pub sin_len: u8,
    pub sin_family: u8,
    pub sin_port: u16,
    pub sin_addr: InAddr,
    pub sin_zero: [u8; 8],
}

/// `struct addrinfo` (BSD order: canonname before addr).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Addrinfo {
    pub ai_flags: i32,
    pub ai_family: i32,
    pub ai_socktype: i32,
    pub ai_protocol: i32,
    pub ai_addrlen: u32,
    pub ai_canonname: *mut u8,
    pub ai_addr: *mut SockaddrIn,
    pub ai_next: *mut Addrinfo,
}

/// `struct pollfd`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Pollfd {
    pub fd: i32,
    pub events: i16,
    pub revents: i16,
}

/// `struct timeval`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Timeval {
    pub tv_sec: i64,
    pub tv_usec: i32,
}

/// `struct linger`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Linger {
    pub l_onoff: i32,
    pub l_linger: i32,
}

const _: () = {
    assert!(core::mem::size_of::<SockaddrIn>() == 16);
    assert!(core::mem::size_of::<Addrinfo>() == 48);
    assert!(core::mem::offset_of!(Addrinfo, ai_addr) == 32);
    assert!(core::mem::size_of::<Pollfd>() == 8);
    assert!(core::mem::size_of::<Timeval>() == 16);
};
