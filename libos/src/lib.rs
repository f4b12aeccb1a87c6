//! `libos`: a library OS that boots unmodified Rust `std` programs on uhyve.
//!
//! A guest program depends on this crate and names it once (`use libos as _;`), exactly as a
//! Hermit application names the `hermit` crate. The linked ELF is then a Hermit-ABI unikernel:
//! stock uhyve 0.10 and our `hypervisor-uhyve-ext` both boot it.
//!
//! # Boot in two privilege levels
//!
//! On this project's development hosts KVM is `kvm-pvm`, which emulates guest code at CPL0
//! instruction by instruction (~4000x slower than native) but runs CPL3 code natively. So the
//! boot is split (see `ARCHITECTURE.md`):
//!
//! ```text
//!  uhyve ──► _start (CPL0, entry.rs)
//!              └─ cpl0::setup: page tables (U bit), GDT, TSS, IDT, CR0/CR4 ── iretq ──┐
//!                                                                                     ▼
//!            user_start (CPL3, start.rs): stack PTEs + guard page, heap, TLS, clocks,
//!              args/env from the device tree ──► std's `runtime_entry` ──► main()
//! ```
//!
//! After `iretq` nothing returns to CPL0 except CPU exceptions (`faults.rs`), and on hosts where
//! `RFLAGS.IOPL = 3` does not take effect, a `#GP` on the hypercall `out` instruction, which the
//! fault entry completes on the program's behalf.
//!
//! # Modules
//!
//! | module | concern |
//! |---|---|
//! | `entry` | the ELF entry point and CPL0 set-up (page tables, descriptor tables, `iretq`) |
//! | `faults` | exception entry stubs and the CPL3 fault reporter |
//! | `start` | CPL3 start-up and the call into std |
//! | `hypercall` | port-I/O hypercalls (uhyve interface v2 plus ours from `seuss-abi`) |
//! | `heap`, `tls`, `time`, `entropy`, `bootargs`, `fs`, `console` | one OS service each |
//! | `sys` | the `sys_*` functions std's Hermit port links against |
//! | `pci`, `virtio_net`, [`net`] | the network: PCI probe, the virtio-net driver, smoltcp and the socket calls |
//! | [`invocation`] | the calls a function launcher makes to the hypervisor |

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

mod bootargs;
mod console;
mod entropy;
mod entry;
mod faults;
mod fs;
mod heap;
mod stack_scrub;
mod hypercall;
pub mod invocation;
mod layout;
pub mod net;
mod pci;
mod start;
mod sync;
mod sys;
mod time;
mod tls;
mod virtio_net;

pub use console::{write_stderr, write_stdout};
pub use entropy::fill as fill_random;
pub use bootargs::raw_app_args;
pub use time::{monotonic_ns, realtime_ns};

// The two ELF notes uhyve reads before loading the image: the Hermit entry protocol version,
// and the uhyve hypercall interface version we speak (v2-style ports, address in rdi).
hermit_entry::define_entry_version!();
hermit_entry::define_uhyve_interface_version!(uhyve_interface::UHYVE_INTERFACE_VERSION);
