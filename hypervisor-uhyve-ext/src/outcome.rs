//! What running an instance reports: the [`Event`] that made `run()` return, the [`Outcome`]
//! of one invocation with its [`LogLine`]s, and the [`Marks`] of the guest's phases.

use std::time::{Duration, Instant};

use seuss_abi::Phase;

/// What made [`crate::Instance::run`] return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The guest asks for its function source (runtime snapshot point).
    WantsSource,
    /// The guest asks for the next invocation (function snapshot point).
    WantsInvocation,
    /// The guest exited with this status.
    Exited(i32),
    /// The guest returned an invocation's result; it is stopped right there (the hot path
    /// needs nothing after the result). Running it again lets it park for the next
    /// invocation (reuse).
    Returned,
}

/// A console line the function logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// `true` for warn/error.
    pub is_error: bool,
    /// The text.
    pub text: String,
}

/// What one invocation produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The result: one JSON value, validated on the host (`None` when the guest exited or
    /// failed without one).
    pub result: Option<String>,
    /// Whether the result is an error object (`{"error": ...}`).
    pub is_error: bool,
    /// Console lines logged during the invocation.
    pub logs: Vec<LogLine>,
    /// How the invocation ended: [`Event::Returned`] normally, [`Event::Exited`] if the
    /// guest stopped.
    pub event: Event,
    /// Wall time from completing the NextInvocation hypercall to the result.
    pub run_time: Duration,
}

/// Host-side timestamps of the guest's phases (see [`Phase`]).
#[derive(Clone, Debug, Default)]
pub struct Marks {
    /// When the VM was created and loaded.
    pub created: Option<Instant>,
    /// When the vCPU first ran.
    pub started: Option<Instant>,
    /// When each phase was last reached, indexed by [`Phase`].
    pub phases: [Option<Instant>; Phase::COUNT],
}

impl Marks {
    /// Marks of an instance created now.
    pub(crate) fn created_now(started: bool) -> Self {
        let now = Instant::now();
        Self { created: Some(now), started: started.then_some(now), ..Default::default() }
    }

    /// When `phase` was reached (the last time).
    pub fn at(&self, phase: Phase) -> Option<Instant> {
        self.phases[phase as usize]
    }
}
