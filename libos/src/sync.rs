//! A minimal lock for libos's global state.
//!
//! libos runs one vCPU and takes no interrupts, so a lock is only ever contended when libos
//! re-enters itself (for example an allocation from inside the allocator). That is a bug, and
//! spinning would hang the guest silently; [`SpinLock::lock`] aborts with a message instead.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// A non-reentrant lock around `T`.
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by `locked`.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A new, unlocked lock.
    pub const fn new(value: T) -> Self {
        Self { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// Takes the lock; a second holder means libos re-entered itself, which is fatal.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        if self.locked.swap(true, Ordering::Acquire) {
            crate::console::fatal(b"libos: internal lock re-entered (fatal)\n");
        }
        SpinLockGuard { lock: self }
    }
}

/// Holds a [`SpinLock`] until dropped.
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves exclusive access.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves exclusive access.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}
