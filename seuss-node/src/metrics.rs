//! The node's metrics, exported by `GET /metrics` in Prometheus text format
//! (`prometheus-client`).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `seuss_invocations_total` | counter | `start` (hot, clone, load, warm, none), `status` (success, application_error, developer_error, internal_error) |
//! | `seuss_invocation_seconds` | histogram (accept → result, queue included) | `start` |
//! | `seuss_rejected_total` | counter (429s) | `reason` (queue, namespace) |
//! | `seuss_queue_depth` | gauge | |
//! | `seuss_cache_bytes`, `seuss_cache_entries` | gauges (loaded function snapshots) | |
//! | `seuss_cache_hits_total`, `seuss_cache_misses_total`, `seuss_cache_evictions_total` | counters | |
//! | `seuss_snapshot_loads_total` | counter (function snapshots loaded from the state dir) | |
//! | `seuss_warm_snapshots_total` | counter (function snapshots made by the warm path: runtime clone + import) | |
//! | `seuss_runtime_snapshots_total` | counter (runtime snapshots made by a cold boot) | |
//! | `seuss_live_clones`, `seuss_idle_clones` | gauges | |
//! | `seuss_actions` | gauge (stored actions) | |
//! | `seuss_activations_stored` | gauge (activation records kept) | |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of invocation counts.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InvocationLabels {
    /// How the instance started (see the scheduler's `StartKind`).
    pub start: &'static str,
    /// The activation status.
    pub status: &'static str,
}

/// Labels of latencies.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StartLabels {
    /// How the instance started.
    pub start: &'static str,
}

/// Labels of rejections.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    /// Which limit.
    pub reason: &'static str,
}

type HistogramFamily = Family<StartLabels, Histogram, fn() -> Histogram>;

/// Every metric of the node (cheap to update from any thread).
pub struct Metrics {
    registry: Registry,
    /// Invocations by start kind and status.
    pub invocations: Family<InvocationLabels, Counter>,
    /// Accept-to-result latency by start kind.
    pub latency: HistogramFamily,
    /// 429s by reason.
    pub rejected: Family<RejectLabels, Counter>,
    /// Jobs waiting for a worker.
    pub queue_depth: Gauge,
    /// Loaded function snapshot bytes.
    pub cache_bytes: Gauge,
    /// Loaded function snapshots.
    pub cache_entries: Gauge,
    /// Cache hits.
    pub cache_hits: Counter,
    /// Cache misses.
    pub cache_misses: Counter,
    /// Cache evictions.
    pub cache_evictions: Counter,
    /// Function snapshots loaded from the state directory.
    pub snapshot_loads: Counter,
    /// Warm-path snapshots made.
    pub warm_snapshots: Counter,
    /// Runtime snapshots made.
    pub runtime_snapshots: Counter,
    /// Clones alive (busy or idle).
    pub live_clones: Gauge,
    /// Idle reset clones in the workers' pools.
    pub idle_clones: Gauge,
    /// Stored actions.
    pub actions: Gauge,
    /// Activation records kept.
    pub activations_stored: Gauge,
}

fn latency_histogram() -> Histogram {
    // 100 µs .. ~105 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 21))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut m = Self {
            registry: Registry::default(),
            invocations: Family::default(),
            latency: Family::new_with_constructor(latency_histogram as fn() -> Histogram),
            rejected: Family::default(),
            queue_depth: Gauge::default(),
            cache_bytes: Gauge::default(),
            cache_entries: Gauge::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_evictions: Counter::default(),
            snapshot_loads: Counter::default(),
            warm_snapshots: Counter::default(),
            runtime_snapshots: Counter::default(),
            live_clones: Gauge::default(),
            idle_clones: Gauge::default(),
            actions: Gauge::default(),
            activations_stored: Gauge::default(),
        };
        let r = &mut m.registry;
        r.register("seuss_invocations", "Invocations by start kind and activation status", m.invocations.clone());
        r.register("seuss_invocation_seconds", "Accept-to-result latency of invocations", m.latency.clone());
        r.register("seuss_rejected", "Invocations refused with 429, by limit", m.rejected.clone());
        r.register("seuss_queue_depth", "Jobs waiting for a worker", m.queue_depth.clone());
        r.register("seuss_cache_bytes", "Bytes of function snapshots loaded in the cache", m.cache_bytes.clone());
        r.register("seuss_cache_entries", "Function snapshots loaded in the cache", m.cache_entries.clone());
        r.register("seuss_cache_hits", "Snapshot cache hits", m.cache_hits.clone());
        r.register("seuss_cache_misses", "Snapshot cache misses", m.cache_misses.clone());
        r.register("seuss_cache_evictions", "Snapshots evicted from the cache for the memory budget", m.cache_evictions.clone());
        r.register("seuss_snapshot_loads", "Function snapshots loaded (and verified) from the state directory", m.snapshot_loads.clone());
        r.register("seuss_warm_snapshots", "Function snapshots made by the warm path (runtime clone + import)", m.warm_snapshots.clone());
        r.register("seuss_runtime_snapshots", "Runtime snapshots made by a cold boot", m.runtime_snapshots.clone());
        r.register("seuss_live_clones", "Clones alive, busy or idle", m.live_clones.clone());
        r.register("seuss_idle_clones", "Idle reset clones in the workers' pools", m.idle_clones.clone());
        r.register("seuss_actions", "Stored actions", m.actions.clone());
        r.register("seuss_activations_stored", "Activation records kept", m.activations_stored.clone());
        m
    }
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
