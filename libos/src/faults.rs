//! CPU exceptions: entry stubs (CPL0) and the fault reporter (CPL3).
//!
//! Code at CPL0 is emulated on kvm-pvm, and the emulator ends the VM on some SSE instructions
//! that `core::fmt` emits. So the CPL0 side is a few lines of assembly that
//!
//! * complete a port access: a `#GP` raised at CPL3 (where the host does not honour
//!   RFLAGS.IOPL = 3) by `out dx, al` (a hypercall), `out dx, eax` or `in eax, dx` (PCI
//!   configuration, `pci.rs`) is performed here at CPL0 with the program's own registers, and
//!   the program resumes after the one-byte instruction, or
//! * record the fault in [`FAULT`] and `iretq` to [`fault_report`] at CPL3 on a fresh stack,
//!   which prints one line and exits with [`FAULT_EXIT_CODE`].
//!
//! A fault while reporting exits at once with the same code, without a message.

use core::arch::global_asm;
use core::ptr::addr_of;

use crate::layout::{self, Stack};

/// Exit status of a guest that died of a CPU exception (as a shell reports SIGSEGV).
pub const FAULT_EXIT_CODE: i32 = 139;
/// Distance between consecutive entry stubs.
pub const STUB_STRIDE: u64 = 16;

/// The CPU state recorded by the fault entry (layout used by the assembly below).
#[repr(C)]
pub struct FaultRecord {
    vector: u64,
    error_code: u64,
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    cr2: u64,
}

#[unsafe(no_mangle)]
static mut LIBOS_FAULT: FaultRecord =
    FaultRecord { vector: 0, error_code: 0, rip: 0, cs: 0, rflags: 0, rsp: 0, cr2: 0 };
#[unsafe(no_mangle)]
static mut LIBOS_FAULT_REPORTING: u8 = 0;
const REPORT_STACK_SIZE: usize = 64 * 1024;
#[unsafe(no_mangle)]
static mut LIBOS_REPORT_STACK: Stack<REPORT_STACK_SIZE> = Stack([0; REPORT_STACK_SIZE]);

/// Address of the first stub; stub `n` is at `base + n * STUB_STRIDE`.
pub fn stub_table_base() -> u64 {
    unsafe extern "C" {
        static libos_fault_stubs: u8;
    }
    addr_of!(libos_fault_stubs) as u64
}

// Vectors 8, 10-14, 17, 21, 29 and 30 push an error code; the others get a 0 so that every
// frame has the same layout: [vector][error][rip][cs][rflags][rsp][ss].
global_asm!(
    r#"
    .section .text.libos_faults, "ax"
    .p2align 4
    .global libos_fault_stubs
libos_fault_stubs:
    .set libos_vec, 0
    .rept 32
    .p2align 4
    .if (libos_vec == 8) || (libos_vec == 10) || (libos_vec == 11) || (libos_vec == 12) || (libos_vec == 13) || (libos_vec == 14) || (libos_vec == 17) || (libos_vec == 21) || (libos_vec == 29) || (libos_vec == 30)
    .else
    push 0
    .endif
    push libos_vec
    jmp libos_fault_common
    .set libos_vec, libos_vec + 1
    .endr

libos_fault_common:
    cmp qword ptr [rsp], 13
    jne 3f
    test qword ptr [rsp + 24], 3
    jz 3f
    push rax
    mov rax, [rsp + 24]
    movzx eax, byte ptr [rax]
    cmp eax, 0xee
    je 10f
    cmp eax, 0xef
    je 11f
    cmp eax, 0xed
    je 12f
    pop rax
    jmp 3f
10:
    pop rax
    out dx, al
    jmp 13f
11:
    pop rax
    out dx, eax
    jmp 13f
12:
    pop rax
    in eax, dx
13:
    add qword ptr [rsp + 16], 1
    add rsp, 16
    iretq
3:
    cmp byte ptr [rip + LIBOS_FAULT_REPORTING], 0
    jne 5f
    mov byte ptr [rip + LIBOS_FAULT_REPORTING], 1
    lea rax, [rip + LIBOS_FAULT]
    mov rcx, [rsp]
    mov [rax], rcx
    mov rcx, [rsp + 8]
    mov [rax + 8], rcx
    mov rcx, [rsp + 16]
    mov [rax + 16], rcx
    mov rcx, [rsp + 24]
    mov [rax + 24], rcx
    mov rcx, [rsp + 32]
    mov [rax + 32], rcx
    mov rcx, [rsp + 40]
    mov [rax + 40], rcx
    mov rcx, cr2
    mov [rax + 48], rcx
    lea rcx, [rip + LIBOS_REPORT_STACK + {report_stack_size}]
    push {user_ss}
    push rcx
    push {user_rflags}
    push {user_cs}
    lea rcx, [rip + {report}]
    push rcx
    iretq
5:
    mov edi, {exit_code}
    mov dx, {exit_port}
    out dx, al
6:
    hlt
    jmp 6b
    .text
"#,
    report_stack_size = const REPORT_STACK_SIZE,
    user_ss = const layout::USER_SS as u64,
    user_cs = const layout::USER_CS as u64,
    user_rflags = const layout::USER_RFLAGS,
    report = sym fault_report,
    exit_code = const FAULT_EXIT_CODE,
    exit_port = const uhyve_interface::v2::HypercallAddress::Exit as u16,
);

/// Human name of an exception vector.
fn vector_name(vector: u64) -> &'static str {
    match vector {
        0 => "divide error",
        1 => "debug",
        2 => "NMI",
        3 => "breakpoint",
        4 => "overflow",
        5 => "bound range exceeded",
        6 => "invalid opcode",
        7 => "device not available",
        8 => "double fault",
        10 => "invalid TSS",
        11 => "segment not present",
        12 => "stack-segment fault",
        13 => "general protection fault",
        14 => "page fault",
        16 => "x87 floating-point exception",
        17 => "alignment check",
        18 => "machine check",
        19 => "SIMD floating-point exception",
        _ => "reserved exception",
    }
}

/// CPL3 side of a fatal exception: one line on stderr, then exit with [`FAULT_EXIT_CODE`].
extern "C" fn fault_report() -> ! {
    // SAFETY: written once by the fault entry before it jumped here; never written again
    // (LIBOS_FAULT_REPORTING stops a second fault at the entry).
    let f = unsafe { &*addr_of!(LIBOS_FAULT) };
    let image_base = layout::image_base();
    let what = if f.vector == 14 && layout::is_guard_page(f.cr2) {
        "stack overflow (hit the guard page below the main stack)"
    } else if f.vector == 14 && f.cr2 < 4096 {
        "null pointer dereference"
    } else {
        vector_name(f.vector)
    };
    let mut line = crate::console::LineBuf::new();
    use core::fmt::Write;
    let _ = writeln!(
        line,
        "libos: fatal CPU exception: {what} (vector {}, error code {:#x}) at rip={:#x} \
         (image offset {:#x}), cr2={:#x}, rsp={:#x}",
        f.vector,
        f.error_code,
        f.rip,
        f.rip.wrapping_sub(image_base),
        f.cr2,
        f.rsp
    );
    crate::console::write_stderr(line.as_bytes());
    crate::hypercall::exit(FAULT_EXIT_CODE)
}
