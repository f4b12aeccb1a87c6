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
//!
//! This module also holds the CPU-visible tables every other module agrees on: the segment
//! selectors (fixed by the GDT's order), the page tables in `.bss`, and the two addresses
//! learnt at start-up that fault reports need (image base, stack window). It imports nothing
//! of libos, so the boot code (`entry`, `start`) and the fault code (`faults`) meet here
//! instead of importing each other.

use core::sync::atomic::{AtomicU64, Ordering};

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

/// Kernel code selector. The selectors are fixed by the order of the GDT entries that
/// `entry.rs` builds (checked there in `setup_gdt`).
pub const KERNEL_CS: u16 = 0x08;
/// User data/stack selector (RPL 3).
pub const USER_SS: u16 = 0x1b;
/// User 64-bit code selector (RPL 3).
pub const USER_CS: u16 = 0x23;
/// RFLAGS for CPL3: reserved bit 1, IOPL = 3, interrupts off (libos takes no interrupts).
pub const USER_RFLAGS: u64 = 0x3002;

/// A 16-byte aligned stack in `.bss`.
#[repr(C, align(16))]
pub struct Stack<const N: usize>(pub [u8; N]);

impl<const N: usize> Stack<N> {
    /// The initial stack pointer (one past the end).
    pub fn top(this: *mut Self) -> u64 {
        this as u64 + N as u64
    }
}

/// All page tables libos builds; lives in `.bss`, which the loader zero-fills.
#[repr(C, align(4096))]
pub struct PageTables {
    /// The root (CR3 points here).
    pub pml4: [u64; 512],
    /// Page-directory-pointer tables.
    pub pdpts: [[u64; 512]; MAX_PDPTS],
    /// Page directories (2 MiB entries).
    pub pds: [[u64; 512]; MAX_PDS],
    /// 4 KiB page tables of the stack window, filled at CPL3 by `start.rs`.
    pub stack_pts: [[u64; 512]; STACK_PTS],
    /// A page directory for a device window below guest RAM ([`map_device_window`]).
    pub device_pd: [u64; 512],
}

/// The page tables (see [`PageTables`]).
pub static mut PAGE_TABLES: PageTables = PageTables {
    pml4: [0; 512],
    pdpts: [[0; 512]; MAX_PDPTS],
    pds: [[0; 512]; MAX_PDS],
    stack_pts: [[0; 512]; STACK_PTS],
    device_pd: [0; 512],
};

/// Maps the 2 MiB page holding the device registers at guest-physical `phys` (below 4 GiB,
/// outside RAM) at the same virtual address, user-accessible and uncached, so CPL3 code can
/// reach the device with plain loads and stores (each one an MMIO exit). The entries were not
/// present before, so no TLB flush is needed. `Err` when the address cannot be mapped.
pub fn map_device_window(phys: u64) -> Result<(), &'static str> {
    const P_W_U: u64 = 0b111;
    const PWT_PCD: u64 = 0b11 << 3;
    const HUGE: u64 = 1 << 7;
    if phys >= 1 << 32 {
        return Err("device window above 4 GiB");
    }
    let tables = core::ptr::addr_of_mut!(PAGE_TABLES);
    // SAFETY: the page tables are statics of libos, mapped writable for CPL3 (start.rs writes
    // the stack's entries the same way); one vCPU, no concurrent walkers besides the MMU.
    unsafe {
        let pml4e = core::ptr::addr_of!((*tables).pml4[0]).read_volatile();
        if pml4e & 1 == 0 {
            return Err("no page-directory-pointer table for the first 512 GiB");
        }
        let pdpt = (pml4e & 0x000f_ffff_ffff_f000) as *mut u64;
        let pdpte = pdpt.add(((phys >> 30) & 511) as usize);
        let pd = core::ptr::addr_of_mut!((*tables).device_pd) as u64;
        match pdpte.read_volatile() {
            0 => pdpte.write_volatile(pd | P_W_U),
            e if e & 0x000f_ffff_ffff_f000 == pd => {}
            _ => return Err("the device window's gigabyte is already mapped"),
        }
        let pde = core::ptr::addr_of_mut!((*tables).device_pd[((phys >> 21) & 511) as usize]);
        pde.write_volatile((phys & !(LARGE_PAGE_SIZE - 1)) | P_W_U | PWT_PCD | HUGE);
    }
    Ok(())
}

static IMAGE_BASE: AtomicU64 = AtomicU64::new(0);
static STACK_WINDOW_BASE: AtomicU64 = AtomicU64::new(0);

/// Load address of the image (for image-relative addresses in fault reports).
pub fn image_base() -> u64 {
    IMAGE_BASE.load(Ordering::Relaxed)
}

/// Whether `addr` lies in the guard page below the main stack.
pub fn is_guard_page(addr: u64) -> bool {
    let base = STACK_WINDOW_BASE.load(Ordering::Relaxed);
    base != 0 && (base..base + PAGE_SIZE).contains(&addr)
}

/// The main stack's usable range `(lowest byte, one past the highest)`, above the guard page;
/// `(0, 0)` before start-up has mapped it.
pub fn main_stack() -> (u64, u64) {
    let base = STACK_WINDOW_BASE.load(Ordering::Relaxed);
    if base == 0 {
        (0, 0)
    } else {
        (base + PAGE_SIZE, base + STACK_WINDOW)
    }
}

/// Records the image's load address (once, at start-up).
pub fn set_image_base(addr: u64) {
    IMAGE_BASE.store(addr, Ordering::Relaxed);
}

/// Records the stack window's base (once, after the stack is mapped).
pub fn set_stack_window_base(addr: u64) {
    STACK_WINDOW_BASE.store(addr, Ordering::Relaxed);
}

