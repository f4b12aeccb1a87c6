//! Clocks from the TSC.
//!
//! Monotonic time is TSC ticks since boot scaled by the TSC frequency the hypervisor reports
//! (boot info `cpu_freq`, kHz). Real time is the boot info's `boot_time` plus monotonic time;
//! a hypervisor that resumes a snapshot hands over the current wall clock, and
//! [`set_realtime_ns`] re-bases real time on it (monotonic time stays monotonic).

use core::arch::x86_64::_rdtsc;
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};

static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);
static TSC_KHZ: AtomicU64 = AtomicU64::new(1_000_000);
/// Unix time in ns at monotonic time 0.
static REALTIME_BASE_NS: AtomicI64 = AtomicI64::new(0);

/// Sets the clocks up from the boot info.
pub fn init(tsc_khz: Option<u64>, boot_time_unix_ns: i128) {
    TSC_AT_BOOT.store(rdtsc(), Ordering::Relaxed);
    match tsc_khz {
        Some(khz) if khz > 0 => TSC_KHZ.store(khz, Ordering::Relaxed),
        _ => crate::console::write_stderr(
            b"libos: warning: hypervisor reported no TSC frequency, assuming 1 GHz\n",
        ),
    }
    let base = i64::try_from(boot_time_unix_ns).unwrap_or(if boot_time_unix_ns < 0 { i64::MIN } else { i64::MAX });
    REALTIME_BASE_NS.store(base, Ordering::Relaxed);
}

fn rdtsc() -> u64 {
    // SAFETY: RDTSC is unprivileged and always present on x86-64.
    unsafe { _rdtsc() }
}

/// Nanoseconds since boot (saturating: the clock arithmetic never overflows, whatever the
/// TSC, the frequency or the times the hypervisor hands over).
pub fn monotonic_ns() -> u64 {
    let ticks = rdtsc().wrapping_sub(TSC_AT_BOOT.load(Ordering::Relaxed));
    let khz = TSC_KHZ.load(Ordering::Relaxed).max(1);
    u64::try_from(u128::from(ticks) * 1_000_000 / u128::from(khz)).unwrap_or(u64::MAX)
}

/// [`monotonic_ns`] as an `i64` (saturating).
fn monotonic_ns_i64() -> i64 {
    i64::try_from(monotonic_ns()).unwrap_or(i64::MAX)
}

/// Unix time in nanoseconds (saturating).
pub fn realtime_ns() -> i64 {
    REALTIME_BASE_NS.load(Ordering::Relaxed).saturating_add(monotonic_ns_i64())
}

/// Re-bases real time so that now is `unix_ns` (used when a snapshot is resumed; saturating).
pub fn set_realtime_ns(unix_ns: i64) {
    REALTIME_BASE_NS.store(unix_ns.saturating_sub(monotonic_ns_i64()), Ordering::Relaxed);
}
