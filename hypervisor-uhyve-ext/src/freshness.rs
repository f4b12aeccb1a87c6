//! What must differ in every invocation, even among clones of one snapshot: the wall clock,
//! entropy and an invocation id. The host hands all three over when it completes
//! NextInvocation.

use std::sync::atomic::{AtomicU64, Ordering};

/// Invocation ids: unique within this process.
static NEXT_INVOCATION_ID: AtomicU64 = AtomicU64::new(1);

/// A new invocation id.
pub(crate) fn next_invocation_id() -> u64 {
    NEXT_INVOCATION_ID.fetch_add(1, Ordering::Relaxed)
}

/// Unix time in nanoseconds (saturating: 0 before 1970, `i64::MAX` after 2262).
pub(crate) fn unix_now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// 32 bytes from the host kernel's CSPRNG.
pub(crate) fn entropy() -> [u8; 32] {
    let mut buf = [0u8; 32];
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: getrandom writes at most `len - filled` bytes at `buf[filled..]`.
        let n = unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        } else if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            // getrandom(2) with flags 0 blocks until the pool is ready and never fails
            // otherwise on Linux >= 3.17; there is no safe way to go on without entropy.
            panic!("getrandom failed: {}", std::io::Error::last_os_error());
        }
    }
    buf
}
