//! Guest memory layout decided by libos (everything uhyve does not decide).
//!
//! ```text
//!  phys_start ┌───────────────────────────────┐  uhyve: GDT, FDT, boot info, its page tables,
//!             │ uhyve boot area (256 KiB)     │  its boot stack (all below the kernel)
//!             ├───────────────────────────────┤  kernel_image_addr_range.start
//!             │ image: .text .data .bss       │  .bss holds our page tables, GDT/TSS/IDT and
//!             │                               │  the small boot/interrupt stacks
//!             ├───────────────────────────────┤  kernel_image_addr_range.end (4 KiB aligned up)
//!             │ heap (talc)                   │  TLS block and everything std allocates
//!             │                               │
//!             ├───────────────────────────────┤  stack_window_base = ram_end - STACK_WINDOW
//!             │ guard page (not present)      │  4 KiB: a stack overflow faults here
//!             ├───────────────────────────────┤
//!             │ main stack (grows down)       │  STACK_WINDOW - 4 KiB
//!    ram_end  └───────────────────────────────┘  (phys_end rounded down to 2 MiB, at most
//!                                                 RAM_WINDOW above phys_start)
//! ```
//!
//! Guest RAM is identity-mapped (virtual = guest-physical) with 2 MiB pages, except the stack
//! window, which is mapped with 4 KiB pages so that the guard page can be left out.

/// Size of a small page.
pub const PAGE_SIZE: u64 = 4096;
/// Size of a large page (one page-directory entry).
pub const LARGE_PAGE_SIZE: u64 = 2 * 1024 * 1024;
/// The stack window at the top of RAM: one guard page plus the main stack.
pub const STACK_WINDOW: u64 = 2 * LARGE_PAGE_SIZE;
/// Page tables for the stack window (4 KiB mappings).
pub const STACK_PTS: usize = (STACK_WINDOW / LARGE_PAGE_SIZE) as usize;
/// How much guest RAM libos maps at most; RAM above this is reported and left unused.
pub const RAM_WINDOW: u64 = 16 * 1024 * 1024 * 1024;
/// Page directories needed for [`RAM_WINDOW`] (plus one when the window straddles 1 GiB).
pub const MAX_PDS: usize = (RAM_WINDOW >> 30) as usize + 1;
/// Page-directory-pointer tables (the window may straddle one 512 GiB boundary).
pub const MAX_PDPTS: usize = 2;

/// Where RAM ends as libos uses it, given the boot info's physical range.
pub const fn ram_end(phys_start: u64, phys_end: u64) -> u64 {
    let end = if phys_end - phys_start > RAM_WINDOW { phys_start + RAM_WINDOW } else { phys_end };
    end & !(LARGE_PAGE_SIZE - 1)
}

/// The lowest address of the stack window (its first page is the guard page).
pub const fn stack_window_base(ram_end: u64) -> u64 {
    ram_end - STACK_WINDOW
}
