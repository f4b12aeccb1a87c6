//! The scheduler: a bounded queue of jobs served by dedicated worker threads, which do all VM
//! work (the async HTTP runtime never runs a vCPU).
//!
//! ```text
//!  submit(job) ──try_send──► [bounded queue, --max-queue] ──► worker 1..N (one thread each)
//!     │ full: 429                                               │
//!     │ namespace over its limit: 429 (NsPermit)                ▼
//!                              idle reset clone of (snapshot, timeout) in this worker? ── hot
//!                              else snapshot in the cache? ─────────────────────────────── clone
//!                              else snapshot file valid in the state dir? ──────────────── load
//!                              else runtime clone + import + capture (warm path) ───────── warm
//!                                  ▼
//!                              invoke ─► job.done(Execution) (records, replies) ─► reset ─► pool
//! ```
//!
//! Each worker keeps at most one idle clone per (function snapshot, timeout): a worker runs
//! one invocation at a time, so more would never be used by it; across workers a hot function
//! has up to N clones. The pools are LRU-bounded per worker (`idle_clones_per_worker`). The
//! reset that returns a clone to its snapshot state runs *after* the reply is sent.
//!
//! A guest that waits on a timer holds its worker (the vCPU thread sleeps), so I/O-bound
//! functions need more workers than cores (`--workers`).
//!
//! Draining ([`Scheduler::begin_drain`], [`Scheduler::join`]): the queue is closed, jobs that have not started are
//! cancelled ([`ExecError::Cancelled`]), running ones finish or hit their deadline, and the
//! workers are joined.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use lru::LruCache;
use seuss_hv::{Config, Console, Instance, Kvm, Loaded, Outcome, SnapshotError, SnapshotId};

use crate::cache::SnapCache;
use crate::function::Function;
use crate::metrics::Metrics;
use crate::runtime::Runtimes;

/// How an invocation's instance came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartKind {
    /// An idle reset clone from the worker's pool.
    Hot,
    /// A new clone of a function snapshot in the cache.
    Clone,
    /// The function snapshot was loaded (and verified) from the state dir, then cloned.
    Load,
    /// The warm path made the function snapshot (runtime clone + import), then cloned.
    Warm,
    /// No instance ran (the job failed before, or was cancelled).
    None,
}

impl StartKind {
    /// The label used in metrics, logs and activation annotations.
    pub fn as_str(self) -> &'static str {
        match self {
            StartKind::Hot => "hot",
            StartKind::Clone => "clone",
            StartKind::Load => "load",
            StartKind::Warm => "warm",
            StartKind::None => "none",
        }
    }
}

/// Why a job produced no outcome.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The instance failed: timeout, crash, bad hypercall, host error.
    #[error(transparent)]
    Run(#[from] seuss_hv::Error),
    /// The function did not import (its own message).
    #[error("{0}")]
    Import(String),
    /// The node could not prepare the function (runtime snapshot, files).
    #[error("{0}")]
    Node(String),
    /// The node shut down before the job started.
    #[error("the node shut down before this activation started")]
    Cancelled,
}

/// What running an invocation produced.
#[derive(Debug)]
pub struct Execution {
    /// The outcome, or why there is none.
    pub result: Result<Outcome, ExecError>,
    /// Raw guest stdout and stderr (besides `console.*` lines, which are in the outcome).
    pub output: (Vec<u8>, Vec<u8>),
    /// How the instance started.
    pub start: StartKind,
    /// Time in the queue.
    pub wait: Duration,
    /// Time to get an instance (load, warm path, clone); zero for hot starts.
    pub init: Duration,
    /// When the invocation started running.
    pub started: SystemTime,
    /// When it ended.
    pub ended: SystemTime,
}

/// Runs on the worker thread with the execution, before the clone is reset.
pub type Done = Box<dyn FnOnce(Execution) + Send>;
/// Runs on the worker thread once a function's snapshot is ready (or failed).
pub type Prepared = Box<dyn FnOnce(Result<StartKind, ExecError>) + Send>;

/// One invocation to run.
pub struct InvokeJob {
    /// The function.
    pub function: Arc<Function>,
    /// Args JSON (at most [`seuss_hv::MAX_PAYLOAD`] bytes).
    pub args: String,
    /// Wall-clock limit of the invocation.
    pub timeout: Duration,
    /// The activation's span (entered on the worker).
    pub span: tracing::Span,
    /// Completion.
    pub done: Done,
    /// Namespace slot, released when the job is over.
    pub permit: Option<NsPermit>,
}

/// A job for a worker.
pub enum Job {
    /// Run an invocation.
    Invoke(Box<InvokeJob>),
    /// Make sure a function's snapshot exists (action create, proxy `/init`).
    Prepare {
        /// The function.
        function: Arc<Function>,
        /// Completion.
        done: Prepared,
    },
}

struct Queued {
    job: Job,
    enqueued: Instant,
}

/// Why a job was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// The queue holds `max` jobs.
    QueueFull {
        /// The limit.
        max: usize,
    },
    /// The namespace has `count` invocations queued or running.
    Namespace {
        /// In flight.
        count: usize,
        /// The limit.
        allowed: usize,
    },
    /// The node is draining.
    ShuttingDown,
}

/// Counts invocations per namespace.
struct NsCounts {
    counts: Mutex<HashMap<String, usize>>,
    limit: usize,
}

/// One invocation slot of a namespace; released on drop.
pub struct NsPermit {
    counts: Arc<NsCounts>,
    namespace: String,
}

impl Drop for NsPermit {
    fn drop(&mut self) {
        let mut c = self.counts.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = c.get_mut(&self.namespace) {
            *n -= 1;
            if *n == 0 {
                c.remove(&self.namespace);
            }
        }
    }
}

/// What the workers share.
pub struct Shared {
    /// KVM.
    pub kvm: Kvm,
    /// Runtime snapshots.
    pub runtimes: Runtimes,
    /// Loaded function snapshots.
    pub cache: SnapCache,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Idle clones each worker keeps.
    pub idle_per_worker: usize,
    /// The page store of function snapshots (`STATE/pages`): pages kept once by content.
    pub pages: Arc<seuss_hv::PageStore>,
    /// Destinations every function may reach.
    pub allow_net: seuss_hv::EgressPolicy,
    /// The state dir's store key: every snapshot the node writes is authenticated by it, and
    /// none is loaded without it (ARCHITECTURE.md, "Trust").
    pub key: seuss_hv::StoreKey,
}

impl Shared {
    /// Where function snapshots go: pages in the page store, files authenticated by the key.
    pub fn storage(&self) -> seuss_hv::Storage<'_> {
        seuss_hv::Storage { pages: Some(&self.pages), key: Some(&self.key) }
    }

    /// The instance configuration of `f` with `timeout`.
    pub fn config_of(&self, f: &Function, timeout: Duration) -> Config {
        let mut policy = self.allow_net.clone();
        policy.extend(&f.allow_net);
        Config { timeout, console: Console::Capture, network: seuss_hv::NetMode::User(policy), ..Config::default() }
    }
}

/// See the module docs.
pub struct Scheduler {
    tx: Mutex<Option<Sender<Queued>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    draining: Arc<AtomicBool>,
    max_queue: usize,
    ns: Arc<NsCounts>,
    shared: Arc<Shared>,
}

impl Scheduler {
    /// Starts `workers` worker threads.
    pub fn start(shared: Arc<Shared>, workers: usize, max_queue: usize, namespace_limit: usize) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded::<Queued>(max_queue.max(1));
        let draining = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for i in 0..workers.max(1) {
            let (rx, shared, draining) = (rx.clone(), shared.clone(), draining.clone());
            handles.push(std::thread::Builder::new().name(format!("seuss-worker-{i}")).spawn(move || {
                Worker::new(shared, draining).run(rx)
            })?);
        }
        Ok(Self {
            tx: Mutex::new(Some(tx)),
            workers: Mutex::new(handles),
            draining,
            max_queue: max_queue.max(1),
            ns: Arc::new(NsCounts { counts: Mutex::new(HashMap::new()), limit: namespace_limit.max(1) }),
            shared,
        })
    }

    /// What the workers share.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Takes a slot of `namespace`'s concurrency limit.
    pub fn permit(&self, namespace: &str) -> Result<NsPermit, Rejected> {
        let mut c = self.ns.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = c.entry(namespace.to_owned()).or_insert(0);
        if *n >= self.ns.limit {
            let count = *n;
            self.shared.metrics.rejected.get_or_create(&crate::metrics::RejectLabels { reason: "namespace" }).inc();
            return Err(Rejected::Namespace { count, allowed: self.ns.limit });
        }
        *n += 1;
        Ok(NsPermit { counts: self.ns.clone(), namespace: namespace.to_owned() })
    }

    /// Queues `job`, or says why not.
    pub fn submit(&self, job: Job) -> Result<(), Rejected> {
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = tx.as_ref() else { return Err(Rejected::ShuttingDown) };
        self.shared.metrics.queue_depth.inc();
        match tx.try_send(Queued { job, enqueued: Instant::now() }) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.shared.metrics.queue_depth.dec();
                match e {
                    TrySendError::Full(_) => {
                        self.shared.metrics.rejected.get_or_create(&crate::metrics::RejectLabels { reason: "queue" }).inc();
                        Err(Rejected::QueueFull { max: self.max_queue })
                    }
                    TrySendError::Disconnected(_) => Err(Rejected::ShuttingDown),
                }
            }
        }
    }

    /// Stops accepting jobs; jobs not started yet are cancelled as the workers take them.
    pub fn begin_drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        drop(self.tx.lock().unwrap_or_else(|e| e.into_inner()).take());
    }

    /// Waits for the workers to finish (after [`begin_drain`](Self::begin_drain); running
    /// invocations end by their deadline).
    pub fn join(&self) {
        let handles = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for h in handles {
            let _ = h.join();
        }
    }
}

/// Removes the function's snapshots over other runtime snapshots (an older runtime image or
/// a runtime snapshot made again): only `keep` can be loaded from now on.
fn remove_stale_snapshots(f: &Function, keep: &std::path::Path) {
    let prefix = format!("function-{}-", f.source_hash);
    let Ok(dir) = std::fs::read_dir(&f.dir) else { return };
    for e in dir.flatten() {
        let stale = e.file_name().to_str().is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".snap")) && e.path() != keep;
        if stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// An instance counted in the live-clones gauge.
struct Clone_ {
    inst: Instance,
    metrics: Arc<Metrics>,
}

impl Drop for Clone_ {
    fn drop(&mut self) {
        self.metrics.live_clones.dec();
    }
}

type PoolKey = (SnapshotId, u128);

struct Worker {
    shared: Arc<Shared>,
    draining: Arc<AtomicBool>,
    pool: LruCache<PoolKey, Clone_>,
}

impl Worker {
    fn new(shared: Arc<Shared>, draining: Arc<AtomicBool>) -> Self {
        let cap = std::num::NonZeroUsize::new(shared.idle_per_worker.max(1)).expect("at least 1");
        Self { shared, draining, pool: LruCache::new(cap) }
    }

    fn run(mut self, rx: Receiver<Queued>) {
        while let Ok(Queued { job, enqueued }) = rx.recv() {
            self.shared.metrics.queue_depth.dec();
            let wait = enqueued.elapsed();
            let cancelled = self.draining.load(Ordering::SeqCst);
            match job {
                Job::Invoke(job) if cancelled => {
                    let now = SystemTime::now();
                    (job.done)(Execution {
                        result: Err(ExecError::Cancelled),
                        output: Default::default(),
                        start: StartKind::None,
                        wait,
                        init: Duration::ZERO,
                        started: now,
                        ended: now,
                    });
                }
                Job::Invoke(job) => self.invoke(*job, wait),
                Job::Prepare { done, .. } if cancelled => done(Err(ExecError::Cancelled)),
                Job::Prepare { function, done } => {
                    let r = self.snapshot(&function).map(|(snap, kind, inst)| {
                        // The instance that imported the function waits in the pool: the first
                        // invocation is then a hot start.
                        if let Some(inst) = inst {
                            let clone = Clone_ { inst, metrics: self.shared.metrics.clone() };
                            if !self.draining.load(Ordering::SeqCst) && self.pool.push((snap.id(), function.timeout.as_nanos()), clone).is_none() {
                                self.shared.metrics.idle_clones.inc();
                            }
                        }
                        kind
                    });
                    done(r);
                }
            }
        }
        let idle = self.pool.len() as i64;
        self.shared.metrics.idle_clones.dec_by(idle);
    }

    /// The function's snapshot: from the cache, the state dir, or the warm path; the warm path
    /// also hands back the instance that imported the function, already a clone of the new
    /// snapshot (its first invocation needs no new VM).
    fn snapshot(&self, f: &Function) -> Result<(Arc<Loaded>, StartKind, Option<Instance>), ExecError> {
        let s = &self.shared;
        if let Some(snap) = f.current().and_then(|id| s.cache.get(&id)) {
            return Ok((snap, StartKind::Clone, None));
        }
        let _build = f.build.lock().unwrap_or_else(|e| e.into_inner());
        // Another worker may have made it while this one waited.
        if let Some(snap) = f.current().and_then(|id| s.cache.get(&id)) {
            return Ok((snap, StartKind::Clone, None));
        }
        let runtime = s.runtimes.get(&s.kvm, f.memory_mib).map_err(|e| ExecError::Node(e.to_string()))?;
        let path = f.snapshot_path(&s.runtimes.key(f.memory_mib));
        if path.exists() {
            match Loaded::open_with_parent_in(&path, &runtime, s.storage()) {
                Ok(snap) => {
                    s.metrics.snapshot_loads.inc();
                    f.set_current(snap.id());
                    s.cache.insert(snap.clone());
                    return Ok((snap, StartKind::Load, None));
                }
                Err(e) => {
                    tracing::warn!(function = %f.label, path = %path.display(), error = %e, "function snapshot unusable; making it again");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let source = f.guest_text().map_err(ExecError::Node)?;
        let config = s.config_of(f, f.timeout);
        let (snap, inst) = seuss_hv::warm_snapshot_and_clone(&s.kvm, &runtime, &source, &config, &path, s.storage()).map_err(|e| match e {
            SnapshotError::Import(msg) => ExecError::Import(msg),
            SnapshotError::Instance(e @ seuss_hv::Error::Timeout(_)) => ExecError::Import(format!("the import {e}")),
            SnapshotError::Instance(e) if e.kind() == seuss_hv::ErrorKind::Guest => ExecError::Import(e.to_string()),
            other => ExecError::Node(other.to_string()),
        })?;
        s.metrics.warm_snapshots.inc();
        remove_stale_snapshots(f, &path);
        f.set_current(snap.id());
        s.cache.insert(snap.clone());
        s.metrics.live_clones.inc();
        Ok((snap, StartKind::Warm, Some(inst)))
    }

    fn invoke(&mut self, job: InvokeJob, wait: Duration) {
        let InvokeJob { function: f, args, timeout, span, done, permit } = job;
        let _entered = span.enter();
        let t0 = Instant::now();
        let key = |id: SnapshotId| (id, timeout.as_nanos());
        let pooled = f.current().and_then(|id| self.pool.pop(&key(id)));
        let got = match pooled {
            Some(c) => {
                self.shared.metrics.idle_clones.dec();
                Ok((c, StartKind::Hot))
            }
            None => self.snapshot(&f).and_then(|(snap, kind, warm)| {
                let inst = match warm {
                    // The warm path's own instance (made with the function's own timeout).
                    Some(inst) if timeout == f.timeout => inst,
                    other => {
                        if other.is_some() {
                            // A clone for another timeout: the warm path's instance is dropped.
                            self.shared.metrics.live_clones.dec();
                        }
                        let config = self.shared.config_of(&f, timeout);
                        let inst = Instance::from_snapshot(&self.shared.kvm, &snap, &config)?;
                        self.shared.metrics.live_clones.inc();
                        inst
                    }
                };
                Ok((Clone_ { inst, metrics: self.shared.metrics.clone() }, kind))
            }),
        };
        let init = t0.elapsed();
        let started = SystemTime::now();
        let (mut clone, start) = match got {
            Ok(x) => x,
            Err(e) => {
                let now = SystemTime::now();
                done(Execution { result: Err(e), output: Default::default(), start: StartKind::None, wait, init, started: now, ended: now });
                drop(permit);
                return;
            }
        };
        span.record("start", start.as_str());
        let result = clone.inst.invoke(&args).map_err(ExecError::Run);
        let output = clone.inst.take_output();
        let ended = SystemTime::now();
        tracing::debug!(start = start.as_str(), wait_us = wait.as_micros() as u64, init_us = init.as_micros() as u64,
            run_us = ended.duration_since(started).unwrap_or_default().as_micros() as u64, "activation ran");
        done(Execution { result, output, start, wait, init, started, ended });
        drop(permit);
        // Off the request path: back to the snapshot state for the next hot start.
        let snap_id = clone.inst.origin().map(|o| o.id());
        let reset = clone.inst.reset();
        if let Err(e) = &reset {
            tracing::warn!(error = %e, "reset failed; the clone is dropped");
        }
        if let (Some(id), Ok(())) = (snap_id, reset) {
            // `push` hands back the entry it replaced or evicted: the idle count stays.
            if !self.draining.load(Ordering::SeqCst) && self.pool.push(key(id), clone).is_none() {
                self.shared.metrics.idle_clones.inc();
            }
        }
    }
}
