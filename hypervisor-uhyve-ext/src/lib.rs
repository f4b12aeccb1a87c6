//! `seuss_hv`: our KVM hypervisor. It boots the same Hermit images as stock uhyve 0.10 (same
//! boot protocol, memory layout and hypercalls) and adds an invocation channel (the
//! `seuss-abi` hypercalls) through which a JS function's source, args and results travel.
//!
//! # Library use (benchmark suites)
//!
//! ```no_run
//! use seuss_hv::{run_cold, Config, Image};
//! let kvm = kvm_ioctls::Kvm::new()?;
//! let image = Image::from_file("hello.img".as_ref())?;
//! let run = run_cold(&kvm, &image, &Config::default(), None, r#"{"name":"Ada"}"#)?;
//! let outcome = run.outcome.expect("a JS image returns a result");
//! println!("{} in {:?}", outcome.result.unwrap(), run.timings.total);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! For finer control, drive an [`Instance`] yourself: [`Instance::boot`], then
//! [`Instance::run`] until it reports [`Event::WantsSource`] (answer with
//! [`Instance::provide_source`]) or [`Event::WantsInvocation`] (answer with
//! [`Instance::invoke`], as often as you like: that is the *reuse* start).
//!
//! # Modules
//!
//! | module | concern |
//! |---|---|
//! | [`memory`] | guest RAM and bounds-checked access |
//! | [`image`] | parsing/loading images, boot structures (uhyve's layout) |
//! | [`vm`] | KVM VM + vCPU in uhyve's entry state |
//! | [`files`] | the guest's files, bounded by the file mapping |
//! | [`instance`] | an instance's life: run loop, hypercalls, invocations, clones |
//! | [`snapshot`] | capture, load and clone snapshots (file format: `snapfmt`) |
//! | [`cache`] | LRU cache of function snapshots over a runtime snapshot |
//! | [`cpu_state`] | vCPU state in and out of KVM |
//! | `watchdog` | wall-clock deadlines that interrupt `KVM_RUN` (internal) |

pub mod cache;
pub mod cpu_state;
pub mod files;
pub mod image;
pub mod instance;
pub mod memory;
pub mod snapshot;
pub mod vm;
mod watchdog;

use std::time::{Duration, Instant};

pub use files::FileMapping;
pub use image::Image;
pub use instance::{Config, Console, Error, Event, Instance, LogLine, Outcome};
pub use seuss_abi::Phase;
pub use cache::{CacheStats, SnapshotCache};
pub use snapshot::{capture, Loaded, SnapshotError};

/// Where the time of a cold start went (the start-time vocabulary is in BENCHMARKS.md).
#[derive(Clone, Debug, Default)]
pub struct Timings {
    /// Create the VM and load the image.
    pub vm_setup: Duration,
    /// First instruction to libos handing over to the program.
    pub boot: Option<Duration>,
    /// JS engine initialisation.
    pub engine_init: Option<Duration>,
    /// Obtaining and importing the function.
    pub import: Option<Duration>,
    /// The invocation (args handed over to result).
    pub run: Option<Duration>,
    /// Everything.
    pub total: Duration,
}

/// The outcome of a cold start ([`run_cold`]).
#[derive(Debug)]
pub struct ColdRun {
    /// The invocation's outcome (JS images); `None` if the guest exited before asking.
    pub outcome: Option<Outcome>,
    /// Exit status, when the guest exited.
    pub exit: Option<i32>,
    /// Time split.
    pub timings: Timings,
    /// Captured stdout (with [`Console::Capture`]).
    pub stdout: Vec<u8>,
    /// Captured stderr (with [`Console::Capture`]).
    pub stderr: Vec<u8>,
}

/// Cold start: boot `image`, hand it `source` if it asks for one (runtime images), run one
/// invocation with `args`, and report. Plain programs (no invocation channel) run to exit.
pub fn run_cold(
    kvm: &kvm_ioctls::Kvm,
    image: &Image,
    config: &Config,
    source: Option<&str>,
    args: &str,
) -> Result<ColdRun, Error> {
    let t0 = Instant::now();
    let mut inst = Instance::boot(kvm, image, config)?;
    let vm_setup = t0.elapsed();
    let mut outcome = None;
    loop {
        match inst.run()? {
            Event::WantsSource => inst.provide_source(source)?,
            Event::WantsInvocation => {
                outcome = Some(inst.invoke(args)?);
                break;
            }
            // A result before any invocation: the launcher reporting why it cannot run (no
            // function, import failed).
            Event::Returned => {
                outcome = Some(Outcome {
                    result: inst.last_result().map(str::to_owned),
                    is_error: true,
                    logs: Vec::new(),
                    event: Event::Returned,
                    run_time: Duration::ZERO,
                });
                break;
            }
            Event::Exited(_) => break,
        }
    }
    let total = t0.elapsed();
    let m = inst.marks();
    let between = |a: Option<Instant>, b: Option<Instant>| Some(b?.saturating_duration_since(a?));
    let started = m.started;
    let timings = Timings {
        vm_setup,
        boot: between(started, m.at(Phase::Booted)),
        engine_init: between(m.at(Phase::Booted), m.at(Phase::EngineReady)),
        import: between(m.at(Phase::EngineReady), m.at(Phase::Imported)),
        run: outcome.as_ref().map(|o: &Outcome| o.run_time),
        total,
    };
    let exit = inst.exit_status();
    let (stdout, stderr) = inst.take_output();
    Ok(ColdRun { outcome, exit, timings, stdout, stderr })
}
