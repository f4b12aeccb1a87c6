//! One guest instance: its VM, its files, its console, and the state machine of its life.
//!
//! ```text
//!            boot()                 run()                          run()
//!  Image ──────────► Ready ────────────────► Parked(FunctionSource) ──────┐
//!  Snapshot ─────────────────────────────►   provide_source(src) ─► Ready │
//!   from_snapshot()                 │                                     │
//!                                   ├──────► Parked(NextInvocation) ◄─────┘
//!                                   │        invoke(args) ─► Ready ─► runs main
//!                                   │             └─► Returned (stopped at the result)
//!                                   │                  invoke(args) again = reuse
//!                                   └──────► Exited(status)  |  Failed(error)
//!  reset() (clones only): any state ─► Parked(the snapshot's call), as freshly cloned
//! ```
//!
//! `run()` executes the vCPU until the guest parks in one of our "ask" hypercalls, exits, or
//! fails; console, file, log, wait and mark hypercalls are served inside it. Every hypercall is
//! decoded once into a typed value ([`crate::uhyve_calls`], [`crate::seuss_calls`]), which
//! validates its arguments against guest RAM; a guest that passes garbage is stopped with an
//! error naming the hypercall. A wall-clock deadline bounds every `run()` and `invoke()`.
//!
//! The `impl Instance` is split by concern:
//!
//! | file | concern |
//! |---|---|
//! | `lifecycle.rs` | [`Instance::boot`], [`Instance::from_snapshot`], [`Instance::reset`] |
//! | `run_loop.rs` | [`Instance::run`]: the vCPU loop and its exits |
//! | `uhyve_serve.rs` | serving uhyve's hypercalls (console, files, exit) |
//! | `seuss_serve.rs` | serving ours (result, log, wait, mark; parking on the ask calls) |
//! | `ask.rs` | completing the ask calls: [`Instance::provide_source`], [`Instance::invoke`] |

mod ask;
mod lifecycle;
mod run_loop;
mod seuss_serve;
#[cfg(test)]
mod tests;
mod uhyve_serve;

use std::sync::Arc;

use seuss_abi::Hypercall;

use crate::config::Config;
use crate::error::Error;
use crate::files::Files;
use crate::memory::GuestRam;
use crate::net::Network;
use crate::outcome::Marks;
use crate::output::Output;
use crate::snapshot::Loaded;
use crate::vm::Vm;

/// Where an instance is in its life (the module docs draw the transitions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The vCPU may run: just booted, or a parked hypercall was completed.
    Ready,
    /// Parked in an ask hypercall that the host must complete first; `params` is the
    /// guest-physical address of its parameter struct.
    Parked {
        /// FunctionSource or NextInvocation.
        call: Hypercall,
        /// Its parameter struct.
        params: u64,
    },
    /// Stopped right after ReturnResult (see [`crate::Event::Returned`]).
    Returned,
    /// The guest exited with this status.
    Exited(i32),
    /// Stopped by an error (timeout, crash, bad hypercall); only [`Instance::reset`] revives
    /// a clone.
    Failed,
}

/// See the module docs.
pub struct Instance {
    vm: Vm,
    files: Files,
    config: Config,
    state: State,
    /// The last result: (JSON text, is it an error).
    result: Option<(String, bool)>,
    output: Output,
    marks: Marks,
    /// The snapshot this instance is a clone of.
    origin: Option<Arc<Loaded>>,
    /// Written pages already reported (by [`Instance::pages_written`]) that the next reset
    /// must restore.
    pending_restore: Vec<u64>,
    /// Pages kept writable across resets (see [`HotSet`]).
    hot_set: HotSet,
    /// The network device and what is behind it (`None`: no network).
    network: Option<Network>,
}

/// Most pages a clone keeps writable across resets (`Instance::reset`): 2 MiB restored by copy
/// at every reset at most.
pub const HOT_SET_PAGES: usize = 512;

/// The pages a clone keeps writable across resets: those written by the guest or the host in
/// two invocations in a row. A reset restores them every time (written or not) and leaves
/// them unprotected, so a steady invocation pays no write-protection fault for them (each one
/// is a VM exit, 10-30 µs on kvm-pvm); pages written once are protected again.
#[derive(Default)]
struct HotSet {
    /// Sorted.
    hot: Vec<u64>,
    /// The pages restored by the previous reset (sorted).
    previous: Vec<u64>,
}

impl HotSet {
    /// After restoring `restored` (sorted): the new hot-set size and the pages to protect.
    fn update(&mut self, restored: &[u64]) -> (usize, Vec<u64>) {
        let mut protect = Vec::new();
        for &p in restored {
            let hot = self.hot.binary_search(&p).is_ok();
            if !hot && self.hot.len() < HOT_SET_PAGES && self.previous.binary_search(&p).is_ok() {
                let at = self.hot.binary_search(&p).unwrap_err();
                self.hot.insert(at, p);
            } else if !hot {
                protect.push(p);
            }
        }
        self.previous = restored.to_vec();
        (self.hot.len(), protect)
    }
}

impl Instance {
    /// The last result the guest returned (e.g. its import error before exiting).
    pub fn last_result(&self) -> Option<&str> {
        self.result.as_ref().map(|(r, _)| r.as_str())
    }

    /// The snapshot this instance was cloned from.
    pub fn origin(&self) -> Option<&Arc<Loaded>> {
        self.origin.as_ref()
    }

    /// Why this instance cannot be snapshotted now (open files, network state), if it cannot.
    pub fn snapshot_obstacle(&self) -> Option<String> {
        if self.files.any_open() {
            return Some("the guest holds open files, which a snapshot cannot carry".into());
        }
        self.network.as_ref().and_then(Network::snapshot_obstacle)
    }

    /// The ask hypercall the guest is parked in, if it is.
    pub fn parked_call(&self) -> Option<Hypercall> {
        match self.state {
            State::Parked { call, .. } => Some(call),
            _ => None,
        }
    }

    pub(crate) fn vcpu_mut(&mut self) -> &mut kvm_ioctls::VcpuFd {
        &mut self.vm.vcpu
    }

    /// Phase timestamps so far.
    pub fn marks(&self) -> &Marks {
        &self.marks
    }

    /// Captured stdout and stderr (with [`crate::Console::Capture`]), emptied.
    pub fn take_output(&mut self) -> (Vec<u8>, Vec<u8>) {
        self.output.take_captured()
    }

    /// Guest RAM (read-only view, for tests, statistics and snapshots).
    pub fn ram(&self) -> &GuestRam {
        &self.vm.ram
    }

    /// The guest's exit status, once it exited.
    pub fn exit_status(&self) -> Option<i32> {
        match self.state {
            State::Exited(code) => Some(code),
            _ => None,
        }
    }

    /// Whether the instance failed (timeout, crash, bad hypercall): only a reset revives it.
    pub fn has_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Refuses operations on an instance that exited or failed.
    fn state_check(&self) -> Result<(), Error> {
        match self.state {
            State::Failed => Err(Error::State("failed")),
            State::Exited(_) => Err(Error::State("exited")),
            _ => Ok(()),
        }
    }

    /// The parameter address of the pending `call`, if the guest is parked in it.
    fn parked_in(&self, call: Hypercall) -> Option<u64> {
        match self.state {
            State::Parked { call: c, params } if c == call => Some(params),
            _ => None,
        }
    }

    /// The CPU this guest was given (recorded in its snapshots).
    pub(crate) fn cpu_contract(&self) -> snapfmt::CpuContract {
        snapfmt::CpuContract { cpuid: self.vm.cpuid.clone(), tsc_khz: self.vm.tsc_khz }
    }

    /// A clone's snapshot files are as they were validated (see
    /// [`Loaded::check_unchanged`]); always `Ok` for cold-booted instances.
    fn check_origin(&self) -> Result<(), Error> {
        match &self.origin {
            Some(snap) => snap.check_unchanged().map_err(|e| Error::SnapshotChanged(e.to_string())),
            None => Ok(()),
        }
    }

    /// After a failed run of a clone: a changed snapshot file explains a guest crash or a KVM
    /// error better than the symptom does (a lost page faults), so it is reported instead.
    fn blame_origin(&self, e: Error) -> Error {
        if matches!(e.kind(), crate::error::ErrorKind::Guest | crate::error::ErrorKind::Host) {
            if let Err(changed) = self.check_origin() {
                return changed;
            }
        }
        e
    }

    /// The guest's instruction pointer (0 if KVM cannot tell), for error messages.
    pub(crate) fn rip(&self) -> u64 {
        self.vm.vcpu.get_regs().map(|r| r.rip).unwrap_or(0)
    }
}
