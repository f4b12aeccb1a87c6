//! stdout/stderr through uhyve's `FileWrite` hypercall on host fds 1 and 2, and [`fatal`]:
//! libos's one way to stop the guest with a message.

use uhyve_interface::v2::parameters::WriteParams;
use uhyve_interface::v2::HypercallAddress;
use uhyve_interface::GuestPhysAddr;

/// Exit status after `abort()` (as a shell reports SIGABRT), also used for libos's own fatal
/// errors.
pub const ABORT_EXIT_CODE: i32 = 134;

/// Prints `msg` (one line, newline included) on stderr and ends the guest with
/// [`ABORT_EXIT_CODE`].
pub fn fatal(msg: &[u8]) -> ! {
    write_stderr(msg);
    crate::hypercall::exit(ABORT_EXIT_CODE)
}

/// Writes `bytes` to host fd `fd`; returns bytes written or a negative errno.
pub fn write_fd(fd: i32, bytes: &[u8]) -> i64 {
    let mut params =
        WriteParams { fd, buf: GuestPhysAddr::new(bytes.as_ptr() as u64), len: bytes.len() as u64, ret: 0 };
    crate::hypercall::uhyve(HypercallAddress::FileWrite, &mut params);
    params.ret
}

/// Writes all of `bytes` to the guest's stdout.
pub fn write_stdout(bytes: &[u8]) {
    write_all(1, bytes);
}

/// Writes all of `bytes` to the guest's stderr.
pub fn write_stderr(bytes: &[u8]) {
    write_all(2, bytes);
}

fn write_all(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let n = write_fd(fd, bytes);
        if n <= 0 {
            return;
        }
        bytes = &bytes[(n as usize).min(bytes.len())..];
    }
}

/// A fixed-size line buffer for messages formatted without the heap (fault and boot paths).
pub struct LineBuf {
    buf: [u8; 512],
    len: usize,
}

impl LineBuf {
    /// An empty buffer.
    pub const fn new() -> Self {
        Self { buf: [0; 512], len: 0 }
    }

    /// What has been written so far (truncated at 512 bytes).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl core::fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
