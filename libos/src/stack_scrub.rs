//! Zeroing the dead part of the main stack before a snapshot point.
//!
//! ```text
//!  ram_end ┌──────────────┐
//!          │ live frames  │  kept
//!   sp ─►  ├──────────────┤
//!          │ margin       │  kept (this function's own frame and the ones it calls)
//!          ├──────────────┤
//!          │ dead frames  │  zeroed, page by page, down to the first run of zero pages
//!          │ (garbage)    │
//!          ├──────────────┤
//!          │ never used   │  already zero, not touched
//!   base   └──────────────┘  guard page
//! ```
//!
//! A snapshot stores the pages that differ from its parent's. Dead frames below the stack
//! pointer hold whatever the engine's deepest calls left there (parser and compiler frames full
//! of heap addresses), which differs from function to function and between the runtime and the
//! function snapshot. Zeroed at both snapshot points, those pages equal the parent's (zero) and
//! are not stored at all.

use crate::layout::PAGE_SIZE;

/// What is left alone below the stack pointer: this function's frame and `write_bytes`'s.
const MARGIN: u64 = 2 * PAGE_SIZE;
/// Consecutive all-zero pages that end the scan (the stack is used contiguously from the top,
/// so below the deepest frame ever used everything is zero).
const ZERO_RUN_END: u32 = 8;

/// Zeroes the dead stack below the caller (see the module docs). Does nothing when not on the
/// main stack.
#[inline(never)]
pub fn scrub_dead_stack() {
    let (bottom, top) = crate::layout::main_stack();
    let marker = 0u8;
    let sp = core::ptr::addr_of!(marker) as u64;
    if bottom == 0 || sp <= bottom + MARGIN || sp > top {
        return;
    }
    let mut page = (sp - MARGIN) & !(PAGE_SIZE - 1);
    let mut zero_run = 0;
    while page > bottom && zero_run < ZERO_RUN_END {
        page -= PAGE_SIZE;
        let words = page as *mut u64;
        // SAFETY: `page` lies in the mapped main stack, below this frame by at least MARGIN:
        // no live frame uses it (calls below this one are the only ones that could, and they
        // fit in MARGIN). Volatile, so the compiler keeps both the reads and the writes.
        let dirty = (0..PAGE_SIZE as usize / 8).any(|i| unsafe { words.add(i).read_volatile() } != 0);
        if dirty {
            zero_run = 0;
            for i in 0..PAGE_SIZE as usize / 8 {
                // SAFETY: as above.
                unsafe { words.add(i).write_volatile(0) };
            }
        } else {
            zero_run += 1;
        }
    }
}
