//! An in-memory cache of function snapshots over one runtime snapshot.
//!
//! Key: the runtime snapshot's id and a 128-bit hash of the function source. A miss takes the
//! *warm* path: clone the runtime snapshot, hand it the source, let it import the function,
//! and capture the diff snapshot (typically a few hundred KiB) into the cache directory. The
//! least recently used entries are evicted (their files deleted) when the stored bytes exceed
//! the budget. Counters: hits, misses, evictions, resident bytes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use kvm_ioctls::Kvm;
use snapfmt::{SnapshotId, StoreKey};

use crate::config::Config;
use crate::snapshot::{warm_snapshot_in, Loaded, SnapshotError, Storage};

/// Cache counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups served from the cache.
    pub hits: u64,
    /// Lookups that created a snapshot.
    pub misses: u64,
    /// Entries evicted for the budget.
    pub evictions: u64,
    /// Snapshot bytes held (page data of the cached diffs).
    pub resident_bytes: u64,
    /// Entries held.
    pub entries: u64,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Key {
    runtime: SnapshotId,
    source: u128,
}

struct Entry {
    snap: Arc<Loaded>,
    bytes: u64,
    last_used: u64,
}

/// See the module docs.
pub struct SnapshotCache {
    dir: PathBuf,
    /// The store's key (`dir/.seuss-store.key`): every snapshot the cache writes carries its
    /// tag and is checked against it when loaded.
    key: StoreKey,
    budget: u64,
    entries: HashMap<Key, Entry>,
    clock: u64,
    stats: CacheStats,
}

impl SnapshotCache {
    /// A cache writing its snapshots into `dir`, holding at most `budget` bytes.
    ///
    /// Every cached snapshot keeps its file open (clones map it), so this raises the process's
    /// soft limit on open files to its hard limit: tens of thousands of cached functions need
    /// that many descriptors.
    pub fn new(dir: PathBuf, budget: u64) -> std::io::Result<Self> {
        std::fs::create_dir_all(&dir)?;
        raise_fd_limit();
        let key = StoreKey::load_or_create(&dir)?;
        Ok(Self { dir, key, budget, entries: HashMap::new(), clock: 0, stats: CacheStats::default() })
    }

    /// The store key of the cache's directory (created there on first use): snapshots the
    /// cache writes are authenticated with it.
    pub fn store_key(&self) -> &StoreKey {
        &self.key
    }

    /// Counters.
    pub fn stats(&self) -> CacheStats {
        CacheStats { entries: self.entries.len() as u64, ..self.stats }
    }

    /// The function snapshot for `source` over `runtime`, created on a miss.
    pub fn get_or_create(
        &mut self,
        kvm: &Kvm,
        runtime: &Arc<Loaded>,
        source: &str,
        config: &Config,
    ) -> Result<Arc<Loaded>, SnapshotError> {
        self.clock += 1;
        let key = Key { runtime: runtime.id(), source: xxhash_rust::xxh3::xxh3_128(source.as_bytes()) };
        if let Some(e) = self.entries.get_mut(&key) {
            e.last_used = self.clock;
            self.stats.hits += 1;
            return Ok(e.snap.clone());
        }
        self.stats.misses += 1;
        let path = self.dir.join(format!("{}-{:032x}.snap", key.runtime, key.source));
        let snap = warm_snapshot_in(kvm, runtime, source, config, &path, Storage { pages: None, key: Some(&self.key) })?;
        let bytes = snap.stored_bytes();
        self.stats.resident_bytes += bytes;
        self.entries.insert(key, Entry { snap: snap.clone(), bytes, last_used: self.clock });
        self.evict();
        Ok(snap)
    }

    fn evict(&mut self) {
        while self.stats.resident_bytes > self.budget && self.entries.len() > 1 {
            let Some((&key, _)) = self.entries.iter().min_by_key(|(_, e)| e.last_used) else { return };
            let e = self.entries.remove(&key).expect("key from the map");
            self.stats.resident_bytes -= e.bytes;
            self.stats.evictions += 1;
            let _ = std::fs::remove_file(e.snap.path());
        }
    }
}

fn raise_fd_limit() {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid out-pointer; only the soft limit changes, up to
    // the hard limit the kernel already grants this process.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
