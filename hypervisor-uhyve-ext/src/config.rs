//! How an instance is configured, and the limits every instance obeys.

use std::time::Duration;

use seuss_abi::MAX_PAYLOAD;

use crate::files::FileMapping;
use crate::net::NetMode;

/// Default guest memory: enough for the JS runtime with room for the heap. RAM is allocated
/// lazily, so untouched memory costs nothing.
pub const DEFAULT_MEMORY: u64 = 256 * 1024 * 1024;
/// Smallest guest memory accepted (uhyve's minimum).
pub const MIN_MEMORY: u64 = 16 * 1024 * 1024;
/// Largest guest memory accepted, for cold boots and snapshots alike.
pub const MAX_MEMORY: u64 = 64 * 1024 * 1024 * 1024;
/// Guest memory is a whole number of these (libos maps RAM with 2 MiB pages).
pub const MEMORY_GRANULE: u64 = 2 * 1024 * 1024;
/// Most console output kept per instance (captured stdout/stderr and log lines, each), like
/// OpenWhisk's 10 MB log limit. Beyond it output is dropped and one truncation note is kept.
pub const MAX_CAPTURED_OUTPUT: usize = 10 * 1024 * 1024;
/// Default per-invocation timeout (OpenWhisk's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How an instance is configured.
#[derive(Clone, Debug)]
pub struct Config {
    /// Guest RAM in bytes (a multiple of [`MEMORY_GRANULE`], between [`MIN_MEMORY`] and
    /// [`MAX_MEMORY`]). Ignored by clones: the snapshot fixes it.
    pub memory: u64,
    /// Wall-clock limit of each `run()` / `invoke()`.
    pub timeout: Duration,
    /// Files the guest may open.
    pub file_mappings: Vec<FileMapping>,
    /// Command-line arguments (what follows `--` for uhyve).
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Where the guest's stdout/stderr (FileWrite to fd 1/2) and `console.*` lines go.
    pub console: Console,
    /// The guest's network: user-mode with an egress policy (default: nothing allowed), a tap,
    /// or none.
    pub network: NetMode,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            memory: DEFAULT_MEMORY,
            timeout: DEFAULT_TIMEOUT,
            file_mappings: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            console: Console::Capture,
            network: NetMode::default(),
        }
    }
}

/// Destination of guest console output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Guest stdout → our stdout, guest stderr and `console.*` lines → our stderr, each
    /// stream bounded by [`MAX_CAPTURED_OUTPUT`] per instance (a note marks the cut).
    Inherit,
    /// Kept in the instance ([`crate::Instance::take_output`], [`crate::Outcome::logs`]),
    /// bounded the same way.
    Capture,
}

/// Checks a guest memory size against the limits above; `Err` says what is wrong.
pub fn check_memory(bytes: u64) -> Result<(), String> {
    if !bytes.is_multiple_of(MEMORY_GRANULE) || bytes < MIN_MEMORY {
        return Err(format!("guest memory must be a multiple of 2 MiB and at least 16 MiB, not {bytes} bytes"));
    }
    if bytes > MAX_MEMORY {
        return Err(format!("guest memory of {bytes} bytes is above the 64 GiB limit"));
    }
    Ok(())
}

/// Checks invocation args: at most [`MAX_PAYLOAD`] bytes of one JSON value (or empty, which
/// the launcher reads as `{}`). Lone surrogate escapes (`"\ud800"`) are accepted, as Node.js
/// accepts them. `Err` says what is wrong.
pub fn check_args(args: &str) -> Result<(), String> {
    if args.len() > MAX_PAYLOAD {
        return Err(format!("args are {} bytes, over the 1 MiB limit ({MAX_PAYLOAD} bytes)", args.len()));
    }
    if !args.trim().is_empty() {
        serde_json::from_str::<serde::de::IgnoredAny>(args).map_err(|e| format!("args are not one JSON value: {e}"))?;
    }
    Ok(())
}
