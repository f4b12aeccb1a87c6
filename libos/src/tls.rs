//! Thread-local storage for the initial-exec model (x86-64 TLS variant II).
//!
//! ```text
//!   block (heap) ┌──────────────┬──────────────────┬─────────┐
//!                │ .tdata copy  │ .tbss (zeroed)   │ TCB:    │
//!                │ filesz bytes │ memsz - filesz   │ self ptr│
//!                └──────────────┴──────────────────┴─────────┘
//!                ^ tcb - align_up(memsz, align)              ^ FS base = tcb
//! ```
//! Variables sit at negative offsets from FS base; `fs:[0]` holds the TCB's own address, which
//! is how compiled code reads the thread pointer.

use core::arch::asm;

use hermit_entry::boot_info::TlsInfo;

/// Builds the TLS block for the only thread and points FS base at it.
pub fn init(tls: Option<TlsInfo>) {
    let (start, filesz, memsz, align) = match tls {
        Some(t) => (t.start, t.filesz as usize, t.memsz as usize, t.align as usize),
        None => (0, 0, 0, 8),
    };
    let align = align.max(16);
    let tls_size = (memsz + align - 1) & !(align - 1);
    let block = crate::heap::alloc(tls_size + 8, align);
    if block.is_null() {
        crate::console::fatal(b"libos: cannot allocate the TLS block\n");
    }
    // SAFETY: `block` has tls_size + 8 bytes; the TLS image [start, start+filesz) lies in the
    // loaded image (hermit-entry reports it from PT_TLS).
    unsafe {
        core::ptr::write_bytes(block, 0, tls_size + 8);
        let data = block.add(tls_size - memsz);
        if filesz > 0 {
            core::ptr::copy_nonoverlapping(start as *const u8, data, filesz);
        }
        let tcb = block.add(tls_size) as *mut u64;
        tcb.write(tcb as u64);
        // CR4.FSGSBASE is set at boot, so CPL3 may write FS base directly.
        asm!("wrfsbase {}", in(reg) tcb as u64, options(nostack, preserves_flags));
    }
}
