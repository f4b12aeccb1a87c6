//! The heap: `talc` arenas over all free guest RAM.
//!
//! The heap is `[end of image, stack window)` (see `layout.rs`). Guest RAM arrives zeroed from
//! the hypervisor, so nothing is cleared at boot; `talc` only writes its metadata at the arena
//! edges. When the heap is exhausted the allocation fails (null), and std reports
//! "memory allocation of N bytes failed" and aborts: the guest never hangs on OOM.
//!
//! ## Two arenas: the runtime's and the function's
//!
//! ```text
//!  heap start ┌──────────────────────────────┐
//!             │ runtime arena                │  everything allocated up to the runtime
//!             │ (live objects + free holes)  │  snapshot point, frozen in the runtime snapshot
//!  split      ├──────────────────────────────┤  page-aligned, set by `start_function_arena`
//!             │ function arena               │  everything allocated after it: the import,
//!             │ (bins at its bottom)         │  then the invocations
//!  stack base └──────────────────────────────┘
//! ```
//!
//! At the runtime snapshot point ([`start_function_arena`], called just before the guest asks
//! for its function) the single arena is cut at the page above its highest allocated byte and
//! the rest becomes a second `talc` with its own bins. New allocations come from the function
//! arena first, so a function's import state lands on a few contiguous fresh pages instead of in
//! the free holes the runtime's start-up left all over its arena (and the free-list links between
//! them), which is what a function snapshot, stored as the pages that differ from the runtime
//! snapshot, pays for page by page. A block is freed to the arena that holds its address; the
//! runtime arena still serves allocations when the function arena is full.

use core::alloc::Layout;
use core::ptr::{null_mut, NonNull};
use core::sync::atomic::{AtomicU64, Ordering};

use talc::{ErrOnOom, Span, Talc};

use crate::layout::PAGE_SIZE;
use crate::sync::SpinLock;

/// The runtime arena (the only one until [`start_function_arena`]).
static HEAP: SpinLock<Talc<ErrOnOom>> = SpinLock::new(Talc::new(ErrOnOom));
/// The function arena (empty until [`start_function_arena`]).
static FUNCTION_HEAP: SpinLock<Talc<ErrOnOom>> = SpinLock::new(Talc::new(ErrOnOom));
/// The runtime arena's span as `talc` established it (base, acme).
static HEAP_SPAN: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
/// Where the function arena starts; 0 while there is none. Addresses at or above it belong to
/// the function arena.
static SPLIT: AtomicU64 = AtomicU64::new(0);

/// Hands `[start, end)` to the allocator. Called once at boot.
///
/// # Safety
/// The range must be RAM that nothing else uses, mapped writable.
pub unsafe fn init(start: u64, end: u64) {
    // SAFETY: the caller guarantees the span is free, writable memory.
    let claimed = unsafe { HEAP.lock().claim(Span::new(start as *mut u8, end as *mut u8)) };
    match claimed.ok().and_then(|s| s.get_base_acme()) {
        Some((base, acme)) => {
            HEAP_SPAN[0].store(base as u64, Ordering::Relaxed);
            HEAP_SPAN[1].store(acme as u64, Ordering::Relaxed);
        }
        None => crate::console::fatal(b"libos: no memory left for the heap (image too large for -m?)\n"),
    }
}

/// Starts the function arena (see the module docs): cuts the runtime arena at the page above
/// its highest allocated byte and gives the rest to a fresh arena that serves allocations from
/// now on. Does nothing when called again, or when too little is left to split off.
pub fn start_function_arena() {
    if SPLIT.load(Ordering::Relaxed) != 0 {
        return;
    }
    let (base, acme) = (HEAP_SPAN[0].load(Ordering::Relaxed), HEAP_SPAN[1].load(Ordering::Relaxed));
    if base == 0 {
        return;
    }
    let old = Span::new(base as *mut u8, acme as *mut u8);
    let mut runtime = HEAP.lock();
    // SAFETY: `old` is the span `claim` returned for this arena, never resized since.
    let used = unsafe { runtime.get_allocated_span(old) };
    let Some((_, used_acme)) = used.get_base_acme() else { return };
    let split = (used_acme as u64 + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    // Keep at least 1 MiB for the function arena, or do not split at all.
    if split + (1 << 20) > acme {
        return;
    }
    // SAFETY: `old` is this arena's current span and [base, split) holds all its allocations.
    let kept = unsafe { runtime.truncate(old, Span::new(base as *mut u8, split as *mut u8)) };
    let kept_acme = kept.get_base_acme().map_or(split, |(_, a)| a as u64);
    drop(runtime);
    // SAFETY: [kept_acme, acme) was just released by the runtime arena: free, writable RAM.
    let claimed = unsafe { FUNCTION_HEAP.lock().claim(Span::new(kept_acme as *mut u8, acme as *mut u8)) };
    if claimed.is_err() {
        crate::console::fatal(b"libos: cannot establish the function arena\n");
    }
    HEAP_SPAN[1].store(kept_acme, Ordering::Relaxed);
    SPLIT.store(kept_acme, Ordering::Relaxed);
}

/// Whether `ptr` lies in the function arena.
fn in_function_arena(ptr: *mut u8) -> bool {
    let split = SPLIT.load(Ordering::Relaxed);
    split != 0 && ptr as u64 >= split
}

/// The arena holding `ptr`.
fn arena_of(ptr: *mut u8) -> &'static SpinLock<Talc<ErrOnOom>> {
    if in_function_arena(ptr) {
        &FUNCTION_HEAP
    } else {
        &HEAP
    }
}

fn layout(size: usize, align: usize) -> Option<Layout> {
    Layout::from_size_align(size.max(1), align).ok()
}

fn alloc_layout(layout: Layout) -> *mut u8 {
    if SPLIT.load(Ordering::Relaxed) != 0 {
        // SAFETY: layout is valid and non-zero-sized.
        if let Ok(p) = unsafe { FUNCTION_HEAP.lock().malloc(layout) } {
            return p.as_ptr();
        }
    }
    // SAFETY: layout is valid and non-zero-sized.
    match unsafe { HEAP.lock().malloc(layout) } {
        Ok(p) => p.as_ptr(),
        Err(()) => null_mut(),
    }
}

/// Allocates `size` bytes aligned to `align`; null when out of memory or for a bad layout.
pub fn alloc(size: usize, align: usize) -> *mut u8 {
    let Some(layout) = layout(size, align) else { return null_mut() };
    alloc_layout(layout)
}

/// Frees a block from [`alloc`] with the same `size` and `align`.
///
/// # Safety
/// `ptr` must come from [`alloc`]/[`realloc`] with this size and alignment.
pub unsafe fn free(ptr: *mut u8, size: usize, align: usize) {
    let (Some(nn), Some(layout)) = (NonNull::new(ptr), layout(size, align)) else { return };
    // SAFETY: forwarded from the caller; the block belongs to the arena holding its address.
    unsafe { arena_of(ptr).lock().free(nn, layout) }
}

/// Resizes a block in place when possible, otherwise moves it; null (old block intact) on OOM.
/// A runtime-arena block that must move goes to the function arena when there is one.
///
/// # Safety
/// As for [`free`].
pub unsafe fn realloc(ptr: *mut u8, size: usize, align: usize, new_size: usize) -> *mut u8 {
    let (Some(nn), Some(old)) = (NonNull::new(ptr), layout(size, align)) else {
        return alloc(new_size, align);
    };
    let new_size = new_size.max(1);
    let arena = arena_of(ptr);
    if new_size <= old.size() {
        // SAFETY: shrinking a live block of `old` layout in its own arena.
        unsafe { arena.lock().shrink(nn, old, new_size) };
        return ptr;
    }
    if in_function_arena(ptr) || SPLIT.load(Ordering::Relaxed) == 0 {
        // SAFETY: growing a live block of `old` layout; talc copies within the arena when it
        // must move.
        if let Ok(p) = unsafe { arena.lock().grow(nn, old, new_size) } {
            return p.as_ptr();
        }
    } else {
        // SAFETY: growing a live block of `old` layout without moving it.
        if let Ok(p) = unsafe { arena.lock().grow_in_place(nn, old, new_size) } {
            return p.as_ptr();
        }
    }
    // Move across arenas: new block, copy, free the old one.
    let Ok(new_layout) = Layout::from_size_align(new_size, align) else { return null_mut() };
    let p = alloc_layout(new_layout);
    if p.is_null() {
        return p;
    }
    // SAFETY: both blocks are live, distinct, and at least `old.size()` bytes long.
    unsafe {
        core::ptr::copy_nonoverlapping(ptr, p, old.size());
        arena.lock().free(nn, old);
    }
    p
}
