//! [`Function`]: what the scheduler needs to start an action's instances: its guest source,
//! memory and timeout, and where its function snapshot lives.
//!
//! A function snapshot is a diff over the runtime snapshot for the function's memory size,
//! stored beside the action as `function-<source hash>-<runtime key>.snap`: a new source or a
//! new runtime image never matches an old file, and loading checks the parent's id and every
//! checksum (snapfmt), so a stale or damaged file is made again by the warm path.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seuss_hv::SnapshotId;

use crate::source::assemble;

/// Where a function's guest source comes from.
#[derive(Debug)]
pub enum GuestSource {
    /// Held in memory (action-proxy mode).
    Memory(Arc<str>),
    /// The user's code in the store, with its entry point (the glue is added when needed).
    File {
        /// The code file.
        code: PathBuf,
        /// `exec.main`.
        main: Option<String>,
    },
}

/// See the module docs.
#[derive(Debug)]
pub struct Function {
    /// `namespace/name`, for logs and errors.
    pub label: String,
    /// The guest source.
    pub source: GuestSource,
    /// Hash of the guest source ([`crate::source::source_hash`]).
    pub source_hash: String,
    /// Directory of its function snapshots.
    pub dir: PathBuf,
    /// Guest memory in MiB.
    pub memory_mib: u64,
    /// Wall-clock limit of one invocation (and of the import).
    pub timeout: Duration,
    /// The id of its function snapshot once known (the cache key).
    pub current: Mutex<Option<SnapshotId>>,
    /// Serialises loading and making its snapshot.
    pub build: Mutex<()>,
    /// Destinations this function may reach beyond the node's `--allow-net` (the action's
    /// `allow-net` annotation).
    pub allow_net: seuss_hv::EgressPolicy,
}

impl Function {
    /// The function with the extra egress entries `policy` (its `allow-net` annotation).
    pub fn with_allow_net(mut self, policy: seuss_hv::EgressPolicy) -> Self {
        self.allow_net = policy;
        self
    }

    /// A function; `memory_mb` is rounded up to the guest's 2 MiB granule.
    pub fn new(label: String, source: GuestSource, source_hash: String, dir: PathBuf, memory_mb: u64, timeout: Duration) -> Self {
        Self {
            label,
            source,
            source_hash,
            dir,
            memory_mib: memory_mb.div_ceil(2) * 2,
            timeout,
            current: Mutex::new(None),
            build: Mutex::new(()),
            allow_net: seuss_hv::EgressPolicy::default(),
        }
    }

    /// The function snapshot file over the runtime snapshot named `runtime_key`.
    pub fn snapshot_path(&self, runtime_key: &str) -> PathBuf {
        self.dir.join(format!("function-{}-{runtime_key}.snap", self.source_hash))
    }

    /// The guest source text.
    pub fn guest_text(&self) -> Result<Arc<str>, String> {
        match &self.source {
            GuestSource::Memory(s) => Ok(s.clone()),
            GuestSource::File { code, main } => {
                let text = std::fs::read_to_string(code).map_err(|e| format!("reading {}: {e}", code.display()))?;
                Ok(assemble(&text, main.as_deref(), &[]).into())
            }
        }
    }

    /// The snapshot id last seen.
    pub fn current(&self) -> Option<SnapshotId> {
        *self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the snapshot id.
    pub fn set_current(&self, id: SnapshotId) {
        *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(id);
    }
}
