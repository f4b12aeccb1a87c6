//! A tap device as the network backend (`--net tap:NAME`), as stock uhyve offers: frames go to
//! and come from an existing tap interface, which the host bridges or routes as it likes. The
//! tap must exist (`ip tuntap add NAME mode tap`) or the process needs CAP_NET_ADMIN.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// An open tap interface.
pub struct Tap {
    file: File,
    name: String,
}

const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
/// `TUNSETIFF` = `_IOW('T', 202, int)`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
/// `TUNSETOFFLOAD` = `_IOW('T', 208, unsigned int)`.
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;

impl Tap {
    /// Opens the tap interface `name` (at most 15 bytes).
    pub fn open(name: &str) -> std::io::Result<Self> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains('/') {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{name:?} is not an interface name")));
        }
        let file = OpenOptions::new().read(true).write(true).custom_flags_nonblock().open("/dev/net/tun")?;
        // SAFETY: ifreq is plain data; zeroed is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
            *dst = src as libc::c_char;
        }
        req.ifr_ifru.ifru_flags = IFF_TAP | IFF_NO_PI;
        // SAFETY: TUNSETIFF reads and writes one ifreq, which `req` is.
        if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF, &mut req) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // No checksum offload: frames we read then carry complete checksums (we have no vnet
        // header to say a checksum is partial). Stock uhyve turns offload on for the interface,
        // and the setting outlives it.
        // SAFETY: TUNSETOFFLOAD takes its argument by value.
        if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETOFFLOAD, 0 as libc::c_ulong) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self { file, name: name.to_owned() })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends one frame.
    pub fn send(&mut self, frame: &[u8]) {
        let _ = self.file.write(frame);
    }

    /// Waits up to `timeout` for a frame; `None` when none came.
    pub fn recv(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 65536];
        if let Ok(n) = self.file.read(&mut buf) {
            buf.truncate(n);
            return Some(buf);
        }
        let mut pfd = libc::pollfd { fd: self.file.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, ms) } <= 0 {
            return None;
        }
        let n = self.file.read(&mut buf).ok()?;
        buf.truncate(n);
        Some(buf)
    }
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::custom_flags(self, libc::O_NONBLOCK)
    }
}
