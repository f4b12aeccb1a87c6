//! CPL3 start-up: from the first unprivileged instruction to std's `runtime_entry`.

use core::arch::naked_asm;
use core::ffi::c_char;
use core::ptr::addr_of_mut;

use alloc::ffi::CString;
use alloc::vec::Vec;
use hermit_entry::boot_info::{BootInfo, PlatformInfo, RawBootInfo};

use crate::layout::{self, PAGE_SIZE, PAGE_TABLES, STACK_WINDOW};

unsafe extern "C" {
    /// Defined by std (`library/std/src/sys/pal/hermit/mod.rs`): runs `main` and exits.
    fn runtime_entry(argc: i32, argv: *const *const c_char, env: *const *const c_char) -> !;
}

/// First CPL3 code (`iretq` target), on the small user boot stack; `rdi` = boot info.
///
/// Maps the main stack (4 KiB pages, guard page left out), switches to it and continues in
/// [`user_main`].
#[unsafe(naked)]
pub unsafe extern "C" fn user_start(_boot_info: *const RawBootInfo) -> ! {
    naked_asm!(
        "mov r12, rdi",
        "call {map_stack}",   // returns the new stack top in rax
        "mov rsp, rax",
        "mov rdi, r12",
        "xor ebp, ebp",
        "call {main}",
        "ud2",
        map_stack = sym map_stack,
        main = sym user_main,
    )
}

/// Fills the stack window's page tables: every page present except the lowest (guard).
/// These entries were not present before, so no TLB flush is needed (and none is possible
/// at CPL3). Returns the top of the main stack.
extern "C" fn map_stack(boot_info: *const RawBootInfo) -> u64 {
    // SAFETY: same read as in entry.rs: the first two u64 of RawBootInfo are the RAM range.
    let (start, end) = unsafe {
        let raw = boot_info as *const u64;
        (raw.read_volatile(), raw.add(1).read_volatile())
    };
    let ram_end = layout::ram_end(start, end);
    let base = layout::stack_window_base(ram_end);
    // SAFETY: the stack PTs were zeroed by the loader and referenced by CPL0's page directory;
    // nothing else writes them. Pages mapped are RAM inside the window.
    unsafe {
        let pts = addr_of_mut!(PAGE_TABLES.stack_pts);
        for (t, table) in (*pts).iter_mut().enumerate() {
            for (i, pte) in table.iter_mut().enumerate() {
                let addr = base + (t as u64 * 512 + i as u64) * PAGE_SIZE;
                if addr != base {
                    core::ptr::write_volatile(pte, addr | 0b111);
                }
            }
        }
    }
    ram_end
}

/// Rust start-up at CPL3 on the main stack.
extern "C" fn user_main(raw: *const RawBootInfo) -> ! {
    // SAFETY: the hypervisor passes a valid boot info that stays mapped.
    let boot = BootInfo::from(unsafe { *raw });
    let ram = boot.hardware_info.phys_addr_range.clone();
    let ram_end = layout::ram_end(ram.start, ram.end);
    let stack_base = layout::stack_window_base(ram_end);
    layout::set_stack_window_base(stack_base);
    layout::set_image_base(boot.load_info.kernel_image_addr_range.start);

    let heap_start = (boot.load_info.kernel_image_addr_range.end + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
    if heap_start + PAGE_SIZE >= stack_base {
        crate::console::fatal(b"libos: guest memory too small for this image and its stack\n");
    }
    // SAFETY: [heap_start, stack_base) is RAM above the image and below the stack window.
    unsafe { crate::heap::init(heap_start, stack_base) };
    crate::tls::init(boot.load_info.tls_info);

    let (tsc_khz, boot_time_ns) = match boot.platform_info {
        PlatformInfo::Uhyve { cpu_freq, boot_time, .. } => {
            (cpu_freq.map(|f| u64::from(f.get())), boot_time.unix_timestamp_nanos())
        }
        _ => (None, 0),
    };
    // SAFETY: device_tree is the hypervisor's FDT address.
    unsafe { crate::bootargs::init(boot.hardware_info.device_tree.map(|a| a.get())) };
    let fdt_khz = crate::bootargs::with(|b| b.tsc_khz);
    crate::time::init(tsc_khz.or(fdt_khz), boot_time_ns);

    if ram.end - ram.start > layout::RAM_WINDOW {
        crate::console::write_stderr(b"libos: warning: only the first 16 GiB of guest RAM are used\n");
    }
    let _ = STACK_WINDOW;
    crate::invocation::mark(seuss_abi::Phase::Booted);

    // argv/envp as NUL-terminated C strings that live for the whole program (std keeps the
    // pointers).
    let (args, env) = crate::bootargs::with(|b| (b.args.clone(), b.env.clone()));
    let to_c = |v: Vec<alloc::string::String>| -> Vec<*const c_char> {
        let mut ptrs: Vec<*const c_char> = v
            .into_iter()
            .map(|s| CString::new(s.replace('\0', "")).expect("NUL removed").into_raw() as *const c_char)
            .collect();
        ptrs.push(core::ptr::null());
        ptrs
    };
    let argv = to_c(args);
    let envp = to_c(env);
    let argc = (argv.len() - 1) as i32;
    let (argv, envp) = (argv.leak().as_ptr(), envp.leak().as_ptr());
    // SAFETY: argv/envp are valid, NUL-terminated and leaked ('static), as std requires.
    unsafe { runtime_entry(argc, argv, envp) }
}
