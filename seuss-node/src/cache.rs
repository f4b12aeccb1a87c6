//! The snapshot cache: function snapshots kept loaded (open, validated, ready to clone) under
//! the node's memory budget, least recently used evicted first (`lru`, O(1) per operation).
//!
//! The budget counts each loaded snapshot's stored page bytes: the data its clones map from
//! the page cache. Evicting only unloads: the file stays in the state directory, and the next
//! use loads and verifies it again (a `load` start, about a millisecond) instead of taking the
//! warm path. Clones that are alive keep their snapshot alive until they are dropped.

use std::sync::{Arc, Mutex};

use lru::LruCache;
use seuss_hv::{Loaded, SnapshotId};

use crate::metrics::Metrics;

struct Inner {
    lru: LruCache<SnapshotId, Arc<Loaded>>,
    bytes: u64,
}

/// See the module docs.
pub struct SnapCache {
    inner: Mutex<Inner>,
    budget: u64,
    metrics: Arc<Metrics>,
}

impl SnapCache {
    /// A cache holding at most `budget` bytes (and always the last snapshot inserted).
    pub fn new(budget: u64, metrics: Arc<Metrics>) -> Self {
        Self { inner: Mutex::new(Inner { lru: LruCache::unbounded(), bytes: 0 }), budget, metrics }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The snapshot `id`, if loaded (counted as a hit or a miss).
    pub fn get(&self, id: &SnapshotId) -> Option<Arc<Loaded>> {
        let hit = self.lock().lru.get(id).cloned();
        match hit {
            Some(_) => self.metrics.cache_hits.inc(),
            None => self.metrics.cache_misses.inc(),
        };
        hit
    }

    /// Adds a loaded snapshot, evicting the least recently used beyond the budget.
    pub fn insert(&self, snap: Arc<Loaded>) {
        let mut inner = self.lock();
        let bytes = snap.stored_bytes();
        if let Some(old) = inner.lru.put(snap.id(), snap) {
            inner.bytes -= old.stored_bytes();
        }
        inner.bytes += bytes;
        while inner.bytes > self.budget && inner.lru.len() > 1 {
            let Some((_, gone)) = inner.lru.pop_lru() else { break };
            inner.bytes -= gone.stored_bytes();
            self.metrics.cache_evictions.inc();
        }
        self.publish(&inner);
    }

    /// Drops `id` (its action was deleted or changed).
    pub fn remove(&self, id: &SnapshotId) {
        let mut inner = self.lock();
        if let Some(old) = inner.lru.pop(id) {
            inner.bytes -= old.stored_bytes();
        }
        self.publish(&inner);
    }

    fn publish(&self, inner: &Inner) {
        self.metrics.cache_bytes.set(inner.bytes as i64);
        self.metrics.cache_entries.set(inner.lru.len() as i64);
    }
}
