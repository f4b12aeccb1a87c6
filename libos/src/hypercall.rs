//! Port-I/O hypercalls.
//!
//! Every hypercall is one `out dx, al` with `dx` = port and `rdi` = guest-physical address of
//! its parameter struct (or the value itself, for `Exit`), as uhyve's interface v2/v3 defines.
//! Guest RAM is identity-mapped, so a pointer is its guest-physical address. The host may write
//! into the parameter struct; the `asm!` block is therefore not `nomem`.
//!
//! At CPL3 the `out` runs directly when the host honours RFLAGS.IOPL = 3; otherwise it raises
//! `#GP` and the fault entry performs it at CPL0 (`faults.rs`). Either way the caller sees a
//! plain function call.

use core::arch::asm;

use uhyve_interface::v2::HypercallAddress;

/// Issues hypercall `port` with `arg` in `rdi`.
#[inline]
pub fn raw(port: u16, arg: u64) {
    // SAFETY: `out` to a hypercall port only transfers control to the hypervisor, which reads
    // or writes the parameter struct `arg` points to (hence no `nomem`).
    unsafe {
        asm!("out dx, al", in("dx") port, in("al") 0u8, in("rdi") arg, options(nostack, preserves_flags));
    }
}

/// Issues a uhyve hypercall whose parameter struct is `params`.
#[inline]
pub fn uhyve<T>(call: HypercallAddress, params: &mut T) {
    raw(call as u16, params as *mut T as u64);
}

/// Issues one of our own hypercalls (`seuss-abi`) whose parameter struct is `params`.
#[inline]
pub fn seuss<T>(call: seuss_abi::Hypercall, params: &mut T) {
    raw(call.port(), params as *mut T as u64);
}

/// Ends the VM with `code` as the hypervisor's exit status.
pub fn exit(code: i32) -> ! {
    raw(HypercallAddress::Exit as u16, code as u32 as u64);
    // A hypervisor that resumes after Exit is broken; do not run on.
    loop {
        core::hint::spin_loop();
    }
}
