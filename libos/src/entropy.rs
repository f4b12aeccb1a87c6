//! Entropy from RDRAND. Never RDSEED: this project's development hosts lack it.

use core::arch::x86_64::_rdrand64_step;

/// Fills `buf` with random bytes; `false` if the CPU's generator keeps failing.
pub fn fill(buf: &mut [u8]) -> bool {
    for chunk in buf.chunks_mut(8) {
        let Some(word) = rdrand() else { return false };
        chunk.copy_from_slice(&word.to_ne_bytes()[..chunk.len()]);
    }
    true
}

/// One 64-bit random value, retrying a transient underflow as Intel recommends (10 tries).
pub fn rdrand() -> Option<u64> {
    for _ in 0..10 {
        let mut v = 0u64;
        // SAFETY: RDRAND is present on every host this project supports; the
        // intrinsic reports failure through its return value.
        if unsafe { rdrand_step(&mut v) } == 1 {
            return Some(v);
        }
    }
    None
}

#[target_feature(enable = "rdrand")]
unsafe fn rdrand_step(v: &mut u64) -> i32 {
    _rdrand64_step(v)
}
