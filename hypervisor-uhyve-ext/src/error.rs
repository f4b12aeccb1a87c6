//! Why an instance could not go on ([`Error`]), and the few classes callers act on
//! ([`ErrorKind`]): the CLI maps them to exit statuses, the node to OpenWhisk's activation
//! statuses.

use std::time::Duration;

use crate::cpu_state::StateError;
use crate::image::ImageError;
use crate::vm::KvmError;

/// What kind of failure an error is, for callers that act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller asked for something invalid (configuration, arguments, wrong state).
    Usage,
    /// The wall-clock deadline passed; the guest was stopped.
    Timeout,
    /// The guest crashed, exited without a result, or broke the hypercall rules.
    Guest,
    /// The host failed: KVM, memory, files, a snapshot file that is corrupt or inconsistent.
    Host,
}

/// Why an instance could not go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image cannot be loaded.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// KVM refused an operation.
    #[error(transparent)]
    Kvm(#[from] KvmError),
    /// Guest memory could not be mapped.
    #[error("cannot map {0} bytes of guest memory: {1}")]
    Memory(u64, std::io::Error),
    /// The vCPU state could not be loaded, saved or settled.
    #[error(transparent)]
    VcpuState(#[from] StateError),
    /// Bad configuration or arguments.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The deadline passed; the vCPU was stopped.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A hypercall carried invalid arguments; the guest was stopped.
    #[error("guest passed invalid arguments to hypercall {call}: {detail}{}", at_rip(.rip))]
    Hypercall {
        /// The hypercall's name.
        call: &'static str,
        /// What was wrong.
        detail: String,
        /// Guest instruction pointer (0: none applies).
        rip: u64,
    },
    /// The guest did something a unikernel must not (unknown port, MMIO, triple fault, ...).
    #[error("guest crashed: {what}{}", at_rip(.rip))]
    Crash {
        /// What happened.
        what: String,
        /// Guest instruction pointer.
        rip: u64,
    },
    /// The snapshot was made for another CPU (see `cpu_contract.rs`).
    #[error("snapshot cannot run on this host: {0}")]
    Incompatible(String),
    /// A snapshot file of a clone's chain changed while in use (see
    /// [`Loaded::check_unchanged`](crate::Loaded::check_unchanged)).
    #[error("{0}")]
    SnapshotChanged(String),
    /// The caller used the instance in the wrong state.
    #[error("instance is {0}, which does not allow this operation")]
    State(&'static str),
}

/// " (rip 0x...)", or nothing when the host made the error up without a guest instruction
/// to name (0: a guest that exited, a protocol step out of order).
fn at_rip(rip: &u64) -> String {
    if *rip == 0 { String::new() } else { format!(" (rip {rip:#x})") }
}

impl Error {
    /// The class of this error (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) | Error::State(_) => ErrorKind::Usage,
            Error::Image(e) => e.kind(),
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Hypercall { .. } | Error::Crash { .. } => ErrorKind::Guest,
            Error::Kvm(_) | Error::Memory(..) | Error::VcpuState(_) | Error::SnapshotChanged(_) | Error::Incompatible(_) => ErrorKind::Host,
        }
    }
}

// Here rather than in `image.rs`, which this module imports.
impl ImageError {
    /// The class of this error: a file that cannot be read or is a corrupt image is
    /// [`ErrorKind::Host`] (like a corrupt snapshot); a file of the wrong kind, an interface
    /// we do not speak, or too little memory for the image is [`ErrorKind::Usage`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            ImageError::Read { .. } | ImageError::Malformed(..) => ErrorKind::Host,
            ImageError::NotElf(..) | ImageError::Interface(..) | ImageError::TooSmall { .. } | ImageError::DeviceTree(_) => {
                ErrorKind::Usage
            }
        }
    }
}
