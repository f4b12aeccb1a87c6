//! The ELF entry point and the privileged (CPL0) part of boot.
//!
//! uhyve enters `_start` in 64-bit mode at CPL0 with `rdi` = guest-physical address of the
//! [`RawBootInfo`] and its own identity page tables, GDT and boot stack. Everything here runs
//! under kvm-pvm's instruction emulator, so it does the least it can, with plain integer code
//! (volatile stores: no SSE, no formatting, no allocation):
//!
//! 1. identity page tables for guest RAM with the U bit (2 MiB pages; the stack window gets
//!    empty 4 KiB page tables that CPL3 code fills, see `start.rs`),
//! 2. GDT with kernel and user segments and a TSS (RSP0 for faults, IST1 for double faults),
//! 3. IDT pointing at the fault stubs of `faults.rs`,
//! 4. (first, in `_start`) CR0/CR4: SSE on, CR4.OSXSAVE off (kvm-pvm rejects `xgetbv` at
//!    CPL0), FSGSBASE on,
//! 5. `iretq` to `start::user_start` at CPL3 with RFLAGS.IOPL = 3.

use core::arch::{asm, naked_asm};
use core::ptr::addr_of_mut;

use hermit_entry::boot_info::RawBootInfo;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

use crate::layout::{self, Stack, KERNEL_CS, LARGE_PAGE_SIZE, PAGE_TABLES, USER_CS, USER_RFLAGS, USER_SS};

/// Page-table entry flags: present, writable, user-accessible.
const PTE_PWU: u64 = 0b111;
/// Page-directory entry flag: this entry maps a 2 MiB page.
const PDE_HUGE: u64 = 1 << 7;

/// Stack size of each small CPL0/CPL3 boot stack.
const SMALL_STACK: usize = 16 * 1024;

/// Stack used from `_start` until `iretq`.
static mut BOOT_STACK: Stack<SMALL_STACK> = Stack([0; SMALL_STACK]);
/// Stack of the first CPL3 code, until it has mapped the main stack.
pub static mut USER_BOOT_STACK: Stack<SMALL_STACK> = Stack([0; SMALL_STACK]);
/// RSP0: where the CPU switches on an exception from CPL3.
static mut INTERRUPT_STACK: Stack<SMALL_STACK> = Stack([0; SMALL_STACK]);
/// IST1: for double faults, whatever the state of the other stacks.
static mut DOUBLE_FAULT_STACK: Stack<SMALL_STACK> = Stack([0; SMALL_STACK]);

static mut TSS: TaskStateSegment = TaskStateSegment::new();
static mut GDT: GlobalDescriptorTable<8> = GlobalDescriptorTable::empty();

/// One IDT gate: the raw 16-byte descriptor.
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    low: u64,
    high: u64,
}

/// The 32 exception gates (libos enables no external interrupts).
#[repr(C, align(16))]
struct Idt([Gate; 32]);
static mut IDT: Idt = Idt([Gate { low: 0, high: 0 }; 32]);

/// The image's entry point, called by uhyve at CPL0.
///
/// # Safety
/// Only the hypervisor calls this, once, with the boot info in `rdi`.
#[unsafe(naked)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn _start(_boot_info: &'static RawBootInfo, _cpu_id: u32) -> ! {
    naked_asm!(
        "cli",
        // CR0: clear EM, set MP and WP. CR4: OSFXSR, OSXMMEXCPT, FSGSBASE; OSXSAVE stays
        // clear. Done first: uhyve enters with SSE disabled and Rust code may use it.
        "mov rax, cr0",
        "and rax, {clear0}",
        "or rax, {set0}",
        "mov cr0, rax",
        "mov rax, cr4",
        "and rax, {clear4}",
        "or rax, {set4}",
        "mov cr4, rax",
        "lea rsp, [rip + {stack}]",
        "add rsp, {size}",
        "xor ebp, ebp",
        "call {setup}",
        "ud2",
        stack = sym BOOT_STACK,
        size = const SMALL_STACK,
        setup = sym setup,
        clear0 = const !(1i64 << 2),
        set0 = const (1u64 << 1) | (1 << 16),
        clear4 = const !(1i64 << 18),
        set4 = const (1u64 << 9) | (1 << 10) | (1 << 16),
    )
}

/// Privileged set-up, then `iretq` to CPL3. Runs emulated on kvm-pvm: keep it short.
extern "C" fn setup(boot_info: *const RawBootInfo) -> ! {
    // SAFETY: RawBootInfo is #[repr(C)] and starts with the hardware info, whose first two
    // fields are phys_addr_start and phys_addr_end (hermit-entry 0.10, pinned). The hypervisor
    // guarantees the pointer is valid.
    let (phys_start, phys_end) = unsafe {
        let raw = boot_info as *const u64;
        (raw.read_volatile(), raw.add(1).read_volatile())
    };
    let ram_end = layout::ram_end(phys_start, phys_end);
    // SAFETY: single vCPU, nothing else touches these statics during boot.
    unsafe {
        build_page_tables(phys_start & !(LARGE_PAGE_SIZE - 1), ram_end);
        setup_gdt();
        setup_idt();
        let cr3 = addr_of_mut!(PAGE_TABLES.pml4) as u64;
        // SAFETY: the new tables identity-map all of RAM, which holds this code, its stack
        // and the boot info, so execution continues at the same addresses.
        asm!("mov cr3, {}", in(reg) cr3, options(nostack));
        enter_user(boot_info)
    }
}

/// Identity-maps `[start, end)` with 2 MiB pages (U bit set); the stack window instead points
/// at the empty 4 KiB tables in [`PageTables::stack_pts`].
///
/// # Safety
/// Must run once, before CR3 is switched to [`PAGE_TABLES`].
unsafe fn build_page_tables(start: u64, end: u64) {
    let tables = addr_of_mut!(PAGE_TABLES);
    let stack_base = layout::stack_window_base(end);
    let mut next_pdpt = 0usize;
    let mut next_pd = 0usize;
    let mut addr = start;
    while addr < end {
        let pml4i = ((addr >> 39) & 511) as usize;
        let pdpti = ((addr >> 30) & 511) as usize;
        // SAFETY: indices are < 512; next_pdpt/next_pd stay below MAX_PDPTS/MAX_PDS because
        // the range is at most RAM_WINDOW long (the whole block relies on this).
        unsafe {
            let pml4e = addr_of_mut!((*tables).pml4[pml4i]);
            if pml4e.read_volatile() == 0 {
                let pdpt = addr_of_mut!((*tables).pdpts[next_pdpt]) as u64;
                next_pdpt += 1;
                pml4e.write_volatile(pdpt | PTE_PWU);
            }
            let pdpt = (pml4e.read_volatile() & !0xfff) as *mut u64;
            let pdpte = pdpt.add(pdpti);
            if pdpte.read_volatile() == 0 {
                let pd = addr_of_mut!((*tables).pds[next_pd]) as u64;
                next_pd += 1;
                pdpte.write_volatile(pd | PTE_PWU);
            }
            let pd = (pdpte.read_volatile() & !0xfff) as *mut u64;
            // Fill this page directory up to the next 1 GiB boundary or the end of RAM.
            let gib_end = (addr | ((1 << 30) - 1)) + 1;
            let stop = if gib_end < end { gib_end } else { end };
            while addr < stop {
                let pdi = ((addr >> 21) & 511) as usize;
                let entry = if addr >= stack_base {
                    let i = ((addr - stack_base) / LARGE_PAGE_SIZE) as usize;
                    addr_of_mut!((*tables).stack_pts[i]) as u64 | PTE_PWU
                } else {
                    addr | PTE_PWU | PDE_HUGE
                };
                pd.add(pdi).write_volatile(entry);
                addr += LARGE_PAGE_SIZE;
            }
        }
    }
}

/// Loads a GDT with kernel code/data, user data/code and the TSS, and reloads CS and TR.
///
/// # Safety
/// Boot-time only; the GDT and TSS statics must not be in use yet.
unsafe fn setup_gdt() {
    // SAFETY: boot-time exclusive access to the statics.
    unsafe {
        let tss = &mut *addr_of_mut!(TSS);
        tss.privilege_stack_table[0] = VirtAddr::new(Stack::top(addr_of_mut!(INTERRUPT_STACK)));
        tss.interrupt_stack_table[0] = VirtAddr::new(Stack::top(addr_of_mut!(DOUBLE_FAULT_STACK)));
        let gdt = &mut *addr_of_mut!(GDT);
        let kcs = gdt.append(Descriptor::kernel_code_segment());
        let kds = gdt.append(Descriptor::kernel_data_segment());
        let uds = gdt.append(Descriptor::user_data_segment());
        let ucs = gdt.append(Descriptor::user_code_segment());
        let tss_sel = gdt.append(Descriptor::tss_segment(&*addr_of_mut!(TSS)));
        debug_assert_eq!((kcs.0, uds.0, ucs.0), (KERNEL_CS, USER_SS, USER_CS));
        (*addr_of_mut!(GDT)).load();
        load_segments(kcs, kds, tss_sel);
    }
}

/// Reloads CS (far return), the data segments and the task register.
///
/// # Safety
/// The selectors must index the GDT just loaded.
unsafe fn load_segments(cs: SegmentSelector, ds: SegmentSelector, tss: SegmentSelector) {
    // SAFETY: the caller guarantees valid selectors; the far return lands on the next label.
    unsafe {
        asm!(
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {ds:x}",
            "mov es, {ds:x}",
            "mov ss, {ds:x}",
            "ltr {tss:x}",
            cs = in(reg) u64::from(cs.0),
            ds = in(reg) u64::from(ds.0),
            tss = in(reg) u64::from(tss.0),
            tmp = out(reg) _,
        );
    }
}

/// Fills the 32 exception gates with the stubs of `faults.rs` and loads the IDT.
///
/// # Safety
/// Boot-time only.
unsafe fn setup_idt() {
    let stubs = crate::faults::stub_table_base();
    // SAFETY: boot-time exclusive access to IDT.
    unsafe {
        let idt = addr_of_mut!(IDT);
        for vector in 0..32u64 {
            let handler = stubs + vector * crate::faults::STUB_STRIDE;
            // Present, DPL 0, 64-bit interrupt gate; IST1 for the double fault (vector 8).
            let ist = if vector == 8 { 1u64 } else { 0 };
            let low = (handler & 0xffff)
                | (u64::from(KERNEL_CS) << 16)
                | (ist << 32)
                | (0x8e << 40)
                | ((handler >> 16) & 0xffff) << 48;
            let gate = addr_of_mut!((*idt).0[vector as usize]);
            addr_of_mut!((*gate).low).write_volatile(low);
            addr_of_mut!((*gate).high).write_volatile(handler >> 32);
        }
        let base = idt as u64;
        let limit = (core::mem::size_of::<Idt>() - 1) as u16;
        let descriptor: [u16; 5] =
            [limit, base as u16, (base >> 16) as u16, (base >> 32) as u16, (base >> 48) as u16];
        asm!("lidt [{}]", in(reg) descriptor.as_ptr(), options(nostack));
    }
}

/// Drops to CPL3 at `start::user_start` on [`USER_BOOT_STACK`], with `rdi` = boot info.
///
/// # Safety
/// GDT, TSS, IDT and page tables must be loaded.
unsafe fn enter_user(boot_info: *const RawBootInfo) -> ! {
    let stack = Stack::top(addr_of_mut!(USER_BOOT_STACK));
    // SAFETY: builds a valid iretq frame for the selectors of our GDT; the target never returns.
    unsafe {
        asm!(
            "push {ss}",
            "push {rsp}",
            "push {rflags}",
            "push {cs}",
            "push {rip}",
            "iretq",
            ss = const USER_SS as u64,
            rsp = in(reg) stack,
            rflags = const USER_RFLAGS,
            cs = const USER_CS as u64,
            rip = in(reg) crate::start::user_start as *const () as usize,
            in("rdi") boot_info,
            options(noreturn),
        )
    }
}
