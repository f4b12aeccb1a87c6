//! The heap: one `talc` arena over all free guest RAM.
//!
//! The arena is `[end of image, stack window)` (see `layout.rs`). Guest RAM arrives zeroed from
//! the hypervisor, so nothing is cleared at boot; `talc` only writes its metadata at the arena
//! edges. When the arena is exhausted the allocation fails (null), and std reports
//! "memory allocation of N bytes failed" and aborts: the guest never hangs on OOM.

use core::alloc::Layout;
use core::ptr::{null_mut, NonNull};

use talc::{ErrOnOom, Span, Talc};

use crate::sync::SpinLock;

static HEAP: SpinLock<Talc<ErrOnOom>> = SpinLock::new(Talc::new(ErrOnOom));

/// Hands `[start, end)` to the allocator. Called once at boot.
///
/// # Safety
/// The range must be RAM that nothing else uses, mapped writable.
pub unsafe fn init(start: u64, end: u64) {
    // SAFETY: the caller guarantees the span is free, writable memory.
    let claimed = unsafe { HEAP.lock().claim(Span::new(start as *mut u8, end as *mut u8)) };
    if claimed.is_err() {
        crate::console::fatal(b"libos: no memory left for the heap (image too large for -m?)\n");
    }
}

fn layout(size: usize, align: usize) -> Option<Layout> {
    Layout::from_size_align(size.max(1), align).ok()
}

/// Allocates `size` bytes aligned to `align`; null when out of memory or for a bad layout.
pub fn alloc(size: usize, align: usize) -> *mut u8 {
    let Some(layout) = layout(size, align) else { return null_mut() };
    // SAFETY: layout is valid and non-zero-sized.
    match unsafe { HEAP.lock().malloc(layout) } {
        Ok(p) => p.as_ptr(),
        Err(()) => null_mut(),
    }
}

/// Frees a block from [`alloc`] with the same `size` and `align`.
///
/// # Safety
/// `ptr` must come from [`alloc`]/[`realloc`] with this size and alignment.
pub unsafe fn free(ptr: *mut u8, size: usize, align: usize) {
    let (Some(ptr), Some(layout)) = (NonNull::new(ptr), layout(size, align)) else { return };
    // SAFETY: forwarded from the caller.
    unsafe { HEAP.lock().free(ptr, layout) }
}

/// Resizes a block in place when possible, otherwise moves it; null (old block intact) on OOM.
///
/// # Safety
/// As for [`free`].
pub unsafe fn realloc(ptr: *mut u8, size: usize, align: usize, new_size: usize) -> *mut u8 {
    let (Some(nn), Some(old)) = (NonNull::new(ptr), layout(size, align)) else {
        return alloc(new_size, align);
    };
    let new_size = new_size.max(1);
    if new_size <= old.size() {
        // SAFETY: shrinking a live block of `old` layout.
        unsafe { HEAP.lock().shrink(nn, old, new_size) };
        return ptr;
    }
    // SAFETY: growing a live block of `old` layout; talc copies when it must move.
    match unsafe { HEAP.lock().grow(nn, old, new_size) } {
        Ok(p) => p.as_ptr(),
        Err(()) => null_mut(),
    }
}
