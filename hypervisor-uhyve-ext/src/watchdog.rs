//! Wall-clock deadlines for a running vCPU.
//!
//! [`Watchdog::arm`] starts a thread that sleeps until the deadline and then sends
//! [`KICK_SIGNAL`] to the vCPU thread (repeating every 10 ms until disarmed, so a signal that
//! lands between two `KVM_RUN`s is not lost). The signal has a no-op handler installed without
//! `SA_RESTART`, so `KVM_RUN` returns `EINTR` and the run loop sees the deadline. Dropping the
//! watchdog disarms it and joins its thread before the vCPU thread can go away.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The signal that interrupts `KVM_RUN` (a real-time signal unlikely to be used by embedders).
pub fn kick_signal() -> i32 {
    libc::SIGRTMIN() + 3
}

/// Alias documenting which signal is used.
pub const KICK_SIGNAL: &str = "SIGRTMIN+3";

extern "C" fn noop(_: i32) {}

fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: installs a handler that does nothing (async-signal-safe) for our signal only.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = noop as extern "C" fn(i32) as usize;
            sa.sa_flags = 0; // no SA_RESTART: KVM_RUN must return EINTR
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(kick_signal(), &sa, std::ptr::null_mut());
        }
    });
}

/// An armed deadline (see module docs).
pub struct Watchdog {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Arms a deadline for the calling thread.
    pub fn arm(deadline: Instant) -> Self {
        install_handler();
        // SAFETY: pthread_self has no preconditions.
        let target = unsafe { libc::pthread_self() };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("seuss-watchdog".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    let now = Instant::now();
                    if now < deadline {
                        std::thread::park_timeout(deadline - now);
                        continue;
                    }
                    // SAFETY: the target thread outlives this one: Drop joins us first.
                    unsafe { libc::pthread_kill(target, kick_signal()) };
                    std::thread::park_timeout(Duration::from_millis(10));
                }
            })
            .expect("spawning the watchdog thread");
        Self { stop, thread: Some(thread) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
