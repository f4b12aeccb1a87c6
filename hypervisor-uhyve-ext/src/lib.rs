//! `seuss_hv`: our KVM hypervisor as a library. It boots the same Hermit images as stock
//! uhyve 0.10 (same boot protocol, memory layout and hypercalls), adds an invocation channel
//! (the `seuss-abi` hypercalls) through which a JS function's source, args and results travel,
//! and snapshots guests so that every invocation can start as a copy-on-write clone.
//!
//! # The hot loop (what a benchmark suite wants)
//!
//! ```no_run
//! use std::sync::Arc;
//! use seuss_hv::{Config, Instance, Kvm, Loaded, Summary};
//!
//! let kvm = Kvm::new()?;
//! // A function snapshot, made once with `seuss snapshot hello.img -o hello.snap` (or
//! // `seuss_hv::capture`, or `seuss_hv::warm_snapshot` over a runtime snapshot).
//! let snap: Arc<Loaded> = Loaded::open("hello.snap".as_ref())?;
//! let mut clone = Instance::from_snapshot(&kvm, &snap, &Config::default())?;
//! let mut hot = Vec::new();
//! for i in 0..100 {
//!     if i > 0 {
//!         clone.reset()?; // back to the snapshot: the next invoke is a *hot* start
//!     }
//!     let t = std::time::Instant::now();
//!     let outcome = clone.invoke(r#"{"name":"Ada"}"#)?;
//!     hot.push(t.elapsed());
//!     assert!(!outcome.is_error, "{:?}", outcome.result);
//! }
//! println!("hot start: {:?}", Summary::of(&hot));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Calling [`Instance::invoke`] again *without* [`Instance::reset`] runs the next invocation
//! in the same, used instance: that is *reuse*, not a hot start (no isolation between the two
//! invocations; it is only a comparison point). The example program
//! `examples/hot_loop.rs` of this crate is the loop above with its statistics.
//!
//! # Start kinds (the words used in code, docs and benchmarks)
//!
//! | kind | what happens | here |
//! |---|---|---|
//! | cold | boot the image, initialise the runtime, import the function, run | [`run_cold`] |
//! | warm | clone the runtime snapshot, import the function, run | [`warm_snapshot`] + invoke |
//! | hot | clone the function snapshot, run | [`Instance::from_snapshot`] or [`Instance::reset`], then [`Instance::invoke`] |
//! | reuse | run again in an instance that is still alive (no isolation) | [`Instance::invoke`] twice |
//!
//! For finer control, drive an [`Instance`] yourself: [`Instance::boot`], then
//! [`Instance::run`] until it reports [`Event::WantsSource`] (answer with
//! [`Instance::provide_source`]) or [`Event::WantsInvocation`] (answer with
//! [`Instance::invoke`]); [`capture`] a parked instance to a snapshot file.
//!
//! # Process-wide side effects
//!
//! * The first run of any instance starts one watchdog thread and installs a handler for the
//!   real-time signal `SIGRTMIN + 3`, which interrupts `KVM_RUN` at deadlines. Do not use that
//!   signal elsewhere in an embedding process.
//! * The first image load installs a panic hook that stays silent while hermit-entry parses
//!   an image (its panics on malformed input become [`ImageError`]s) and delegates to the
//!   previous hook otherwise. This relies on unwinding: **built with `panic = "abort"`, a
//!   malformed image aborts the process** instead of returning an error.
//! * [`SnapshotCache::new`] raises the soft `RLIMIT_NOFILE` to the hard limit: every cached
//!   snapshot keeps its file open.
//!
//! Logs go through `tracing` (spans `boot`, `clone`, `invoke`, `reset`, `warm_snapshot`;
//! events for captures and hypercall exits at trace level): install any subscriber, e.g. with
//! `RUST_LOG=seuss_hv=debug` in the `seuss` CLI.
//!
//! # Modules
//!
//! | module | concern |
//! |---|---|
//! | `config` | [`Config`], [`Console`] and the limits (memory, output, args) |
//! | `error` | [`Error`] and [`ErrorKind`] |
//! | `outcome` | [`Event`], [`Outcome`], [`LogLine`], [`Marks`] |
//! | [`memory`] | guest RAM and bounds-checked access; copy-on-write layers; page scans |
//! | `elf_check` | an image's ELF structures bounds-checked before the loader sees them |
//! | [`image`] | parsing/loading images, boot structures (uhyve's layout) |
//! | [`vm`] | KVM VM + vCPU in uhyve's entry state |
//! | [`files`] | the guest's files, bounded by the file mapping |
//! | [`net`] | the virtio-net device model, user-mode NAT with the egress policy, tap |
//! | [`uhyve_calls`], [`seuss_calls`] | hypercalls decoded once into typed values |
//! | `output` | console output: routing and bounds |
//! | `instance` | an instance's life: run loop, hypercalls, invocations, clones, resets |
//! | `cold` | [`run_cold`]: a cold start in one call |
//! | [`snapshot`] | load, clone, capture, the warm path (file format: `snapfmt`) |
//! | [`cache`] | LRU cache of function snapshots over a runtime snapshot |
//! | [`cpu_state`] | vCPU state in and out of KVM |
//! | `cpu_contract` | the CPU a snapshot's guest was promised, checked before a clone runs |
//! | [`store`] | the page store: pages kept once by content, compressed, materialised for clones |
//! | `stats` | [`Summary`]: sample statistics; `format_int`, `format_fixed`, `format_times`: how reports write figures |
//! | `freshness` | what differs per invocation: wall clock, entropy, ids (internal) |
//! | `watchdog` | wall-clock deadlines that interrupt `KVM_RUN` (internal) |

#![warn(missing_docs)]

pub mod cache;
mod cold;
mod config;
mod cpu_contract;
pub mod cpu_state;
mod elf_check;
mod error;
pub mod files;
mod freshness;
pub mod image;
mod instance;
pub mod memory;
pub mod net;
mod outcome;
mod output;
pub mod seuss_calls;
pub mod snapshot;
mod stats;
pub mod store;
pub mod uhyve_calls;
pub mod vm;
mod watchdog;

pub use cache::{CacheStats, SnapshotCache};
pub use cold::{run_cold, ColdRun, Timings};
pub use config::{
    check_args, check_memory, Config, Console, DEFAULT_MEMORY, DEFAULT_TIMEOUT, MAX_CAPTURED_OUTPUT, MAX_MEMORY,
    MIN_MEMORY,
};
pub use error::{Error, ErrorKind};
pub use files::FileMapping;
pub use image::{Image, ImageError, ImageKind};
pub use instance::Instance;
pub use kvm_ioctls::Kvm;
pub use net::{EgressPolicy, NetMode, PolicyError};
pub use outcome::{Event, LogLine, Marks, Outcome};
pub use output::TRUNCATED_NOTE;
pub use seuss_abi::{Hypercall, Phase, MAX_PAYLOAD, MAX_SOURCE};
pub use snapfmt::{ImageRef, Kind, SnapshotId, StoreKey};
pub use snapshot::{
    capture, capture_in, image_ref, warm_snapshot, warm_snapshot_and_clone, warm_snapshot_in, Captured, LoadError, Loaded,
    SnapshotError, Storage,
};
pub use store::{Codec, PageStore, StoreError, StoreStats};
pub use stats::{format_fixed, format_int, format_times, Summary};
