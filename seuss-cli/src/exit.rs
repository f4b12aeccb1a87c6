//! The exit statuses of `seuss run`, `snapshot` and `invoke`: one table, here and in the
//! README and `--help`.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the function returned an error result (`{"error": ...}`), or its import failed (`snapshot`) |
//! | 2 | usage: bad flags, arguments, files of the wrong kind |
//! | 3 | timeout: the deadline passed and the guest was stopped |
//! | 4 | the guest crashed, exited without a result, or broke the hypercall rules |
//! | 5 | host-side failure: I/O, KVM, a corrupt or inconsistent snapshot or image file |
//!
//! A plain program (not a JS function) run by `seuss run` exits with its own status instead.

use std::process::ExitCode;

use seuss_hv::{Error, ErrorKind, LoadError, SnapshotError};

/// One of the statuses in the module table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Status {
    /// 0.
    Ok = 0,
    /// 1.
    FunctionError = 1,
    /// 2.
    Usage = 2,
    /// 3.
    Timeout = 3,
    /// 4.
    Guest = 4,
    /// 5.
    Host = 5,
}

/// The table as `--help` shows it.
pub const TABLE: &str = "Exit status: 0 success, 1 the function's error result, 2 usage error, 3 timeout, \
                         4 guest crash or hypercall violation, 5 host-side I/O or format error.";

impl Status {
    /// The status of an error kind.
    pub fn of_kind(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::Usage => Status::Usage,
            ErrorKind::Timeout => Status::Timeout,
            ErrorKind::Guest => Status::Guest,
            ErrorKind::Host => Status::Host,
        }
    }

    /// The status for an error that ended a command: the library's own classification where
    /// the chain holds one of its errors, [`Usage`] for [`UsageError`], [`Host`] otherwise (I/O).
    ///
    /// [`Usage`]: Status::Usage
    /// [`Host`]: Status::Host
    pub fn of_error(e: &anyhow::Error) -> Self {
        for cause in e.chain() {
            if cause.is::<UsageError>() {
                return Status::Usage;
            }
            if let Some(e) = cause.downcast_ref::<Error>() {
                return Self::of_kind(e.kind());
            }
            if let Some(e) = cause.downcast_ref::<SnapshotError>() {
                // A function whose import failed reported an error result, as `run` shows it.
                if let SnapshotError::Import(_) = e {
                    return Status::FunctionError;
                }
                return Self::of_kind(e.kind());
            }
            if let Some(e) = cause.downcast_ref::<LoadError>() {
                return Self::of_kind(e.kind());
            }
            if let Some(e) = cause.downcast_ref::<seuss_hv::ImageError>() {
                return Self::of_kind(e.kind());
            }
        }
        Status::Host
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> Self {
        ExitCode::from(s as u8)
    }
}

/// A usage error found by the CLI itself (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Fails with a [`UsageError`].
#[macro_export]
macro_rules! usage {
    ($($t:tt)*) => { return Err(anyhow::Error::new($crate::exit::UsageError(format!($($t)*)))) };
}
