//! The cold start as one call: boot an image, hand it a source if it asks, run one
//! invocation, and report where the time went.

use std::time::{Duration, Instant};

use kvm_ioctls::Kvm;
use seuss_abi::Phase;

use crate::config::{check_args, Config};
use crate::error::Error;
use crate::image::Image;
use crate::instance::Instance;
use crate::outcome::{Event, Outcome};

/// Where the time of a cold start went.
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
    /// Captured stdout (with [`crate::Console::Capture`]).
    pub stdout: Vec<u8>,
    /// Captured stderr (with [`crate::Console::Capture`]).
    pub stderr: Vec<u8>,
}

/// Cold start: boot `image`, hand it `source` if it asks for one (runtime images), run one
/// invocation with `args`, and report. Plain programs (no invocation channel) run to exit.
/// A runtime image given no `source` reports the launcher's "no function" error result.
pub fn run_cold(kvm: &Kvm, image: &Image, config: &Config, source: Option<&str>, args: &str) -> Result<ColdRun, Error> {
    check_args(args).map_err(Error::Config)?;
    let t0 = Instant::now();
    let mut inst = Instance::boot(kvm, image, config)?;
    let vm_setup = t0.elapsed();
    let mut outcome = None;
    let mut source_given = false;
    loop {
        match inst.run()? {
            Event::WantsSource if !source_given => {
                source_given = true;
                inst.provide_source(source)?;
            }
            Event::WantsSource => return Err(Error::Crash { what: "the guest asked for its source twice".into(), rip: inst.rip() }),
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
    let timings = Timings {
        vm_setup,
        boot: between(m.started, m.at(Phase::Booted)),
        engine_init: between(m.at(Phase::Booted), m.at(Phase::EngineReady)),
        import: between(m.at(Phase::EngineReady), m.at(Phase::Imported)),
        run: outcome.as_ref().map(|o: &Outcome| o.run_time),
        total,
    };
    let exit = inst.exit_status();
    let (stdout, stderr) = inst.take_output();
    Ok(ColdRun { outcome, exit, timings, stdout, stderr })
}
