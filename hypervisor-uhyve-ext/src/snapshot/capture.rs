//! Capturing a parked instance into a snapshot file, and the warm path that makes a function
//! snapshot from a runtime snapshot.

use std::path::Path;
use std::sync::Arc;

use kvm_ioctls::Kvm;
use seuss_abi::Hypercall;
use snapfmt::{Header, ImageRef, Kind, PageRun, Pages, ParentRef, SnapshotId, PAGE_SIZE};

use super::loaded::{LoadError, Loaded, Storage};
use crate::config::Config;
use crate::cpu_state::{self, StateError};
use crate::error::{Error, ErrorKind};
use crate::freshness::unix_now_ns;
use crate::instance::Instance;
use crate::outcome::Event;
use crate::store::StoreError;

/// Largest gap (in pages) merged into a run when storing pages in the file: fewer runs are
/// fewer `mmap`s per clone, for at most this many unchanged pages stored per gap.
const MERGE_GAP: u64 = 8;
/// The same for a page store: none. A bridged page there is one more hash in the header and one
/// more page in every materialised copy of the snapshot (about half of a function snapshot's
/// pages were such unchanged gap pages).
const MERGE_GAP_STORE: u64 = 0;

/// Capturing a snapshot, or the warm path, failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The instance cannot be captured now (not parked in an ask call, open files, ...).
    #[error("cannot snapshot: {0}")]
    NotCapturable(String),
    /// The instance failed while being prepared.
    #[error(transparent)]
    Instance(#[from] Error),
    /// A snapshot (the parent, or the one just written) cannot be loaded.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// Writing the file failed.
    #[error("{path}: {source}")]
    Write {
        /// The output file.
        path: String,
        /// Why.
        source: snapfmt::SnapError,
    },
    /// vCPU state could not be saved.
    #[error(transparent)]
    VcpuState(#[from] StateError),
    /// Reading guest memory or /proc failed.
    #[error("snapshot I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The page store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The function did not import (its own error message).
    #[error("the function could not be imported: {0}")]
    Import(String),
}

impl SnapshotError {
    /// The class of this error (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            SnapshotError::NotCapturable(_) => ErrorKind::Usage,
            SnapshotError::Instance(e) => e.kind(),
            SnapshotError::Import(_) => ErrorKind::Guest,
            SnapshotError::Load(_)
            | SnapshotError::Write { .. }
            | SnapshotError::VcpuState(_)
            | SnapshotError::Io(_)
            | SnapshotError::Store(_) => {
                ErrorKind::Host
            }
        }
    }
}

/// Merges sorted page numbers into runs, bridging gaps of at most `gap` pages.
fn runs_of(pages: &[u64], gap: u64) -> Vec<PageRun> {
    let mut runs: Vec<PageRun> = Vec::new();
    for &p in pages {
        match runs.last_mut() {
            Some(r) if p >= r.first_page + r.count && p - (r.first_page + r.count) <= gap => {
                r.count = p - r.first_page + 1;
            }
            _ => runs.push(PageRun { first_page: p, count: 1 }),
        }
    }
    runs
}

/// How to record the parent's path in a child: relative to the child's directory when both
/// share it, absolute otherwise.
fn parent_path_for(child: &Path, parent: &Path) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let parent_abs = abs(parent);
    let child_dir = child.parent().map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d }).map(abs);
    match (child_dir, parent_abs.parent(), parent_abs.file_name()) {
        (Some(cd), Some(pd), Some(name)) if cd == pd => name.to_string_lossy().into_owned(),
        _ => parent_abs.display().to_string(),
    }
}

/// What [`capture`] wrote.
#[derive(Clone, Debug)]
pub struct Captured {
    /// The new snapshot's id.
    pub id: SnapshotId,
    /// Pages stored.
    pub stored_pages: u64,
    /// Pages the guest had touched that were candidates.
    pub candidate_pages: u64,
}

/// Captures `inst` (parked in an ask hypercall) to `out`, a self-contained file. `image` names
/// the image it came from; the parent is the snapshot `inst` was cloned from, if any. `out` may
/// not be a file of the parent chain (a snapshot that overwrote its own parent could never be
/// loaded). The file is authenticated with the parent's store key when the parent had one (a
/// keyed store stays keyed); [`capture_in`] names the storage.
pub fn capture(inst: &mut Instance, out: &Path, image: ImageRef) -> Result<Captured, SnapshotError> {
    let key = inst.origin().and_then(|p| p.store_key().cloned());
    capture_in(inst, out, image, Storage { pages: None, key: key.as_ref() })
}

/// [`capture`] into `storage`: with a page store the pages go there (kept once by content,
/// compressed) and `out` holds the header alone (open it with [`Loaded::open_in`]); with a key
/// the file is authenticated by it (what a store writes; see [`snapfmt::StoreKey`]).
pub fn capture_in(inst: &mut Instance, out: &Path, image: ImageRef, storage: Storage<'_>) -> Result<Captured, SnapshotError> {
    let call = inst.parked_call().ok_or_else(|| SnapshotError::NotCapturable("the guest is not parked in an ask hypercall".into()))?;
    if let Some(why) = inst.snapshot_obstacle() {
        return Err(SnapshotError::NotCapturable(why));
    }
    let parent = inst.origin().cloned();
    if let Some(p) = parent.as_ref().filter(|p| p.chain_contains(out)) {
        return Err(SnapshotError::NotCapturable(format!(
            "{} is a snapshot this instance was cloned from (through {}); write the new snapshot to another file",
            out.display(),
            p.path().display()
        )));
    }
    let kind = if call == Hypercall::FunctionSource { Kind::Runtime } else { Kind::Function };
    cpu_state::settle(inst.vcpu_mut())?;
    let vcpu = cpu_state::save(inst.vcpu_mut())?;
    let cpu = inst.cpu_contract();
    let ram = inst.ram();
    let candidates = ram.private_pages()?;
    let mut keep = Vec::new();
    let mut theirs = vec![0u8; PAGE_SIZE as usize];
    for &page in &candidates {
        let ours = ram.slice(ram.base() + page * PAGE_SIZE, PAGE_SIZE).expect("a private page lies inside RAM");
        let same = match &parent {
            None => ours.iter().all(|b| *b == 0),
            Some(p) => {
                p.read_page(page, &mut theirs);
                ours == &theirs[..]
            }
        };
        if !same {
            keep.push(page);
        }
    }
    let runs = runs_of(&keep, if storage.pages.is_some() { MERGE_GAP_STORE } else { MERGE_GAP });
    let stored: u64 = runs.iter().map(|r| r.count).sum();
    let mut data = Vec::new();
    let pages = match storage.pages {
        None => {
            data.reserve((stored * PAGE_SIZE) as usize);
            for r in &runs {
                data.extend_from_slice(ram.slice(ram.base() + r.first_page * PAGE_SIZE, r.count * PAGE_SIZE).expect("runs lie inside RAM"));
            }
            Pages::Inline
        }
        Some(store) => {
            let mut hashes = Vec::with_capacity(stored as usize);
            for r in &runs {
                for p in r.first_page..r.first_page + r.count {
                    let page = ram.slice(ram.base() + p * PAGE_SIZE, PAGE_SIZE).expect("runs lie inside RAM");
                    hashes.push(store.put(page)?);
                }
            }
            Pages::Store(hashes)
        }
    };
    let header = Header {
        kind,
        abi_version: seuss_abi::ABI_VERSION,
        image,
        guest_memory_base: ram.base(),
        guest_memory_bytes: ram.size(),
        parent: parent.as_ref().map(|p| ParentRef { id: p.id(), path: parent_path_for(out, p.path()) }),
        vcpu,
        runs,
        pages,
        cpu,
        created_unix_ns: unix_now_ns(),
    };
    let id = snapfmt::write_with(out, &header, &data, storage.key).map_err(|source| SnapshotError::Write { path: out.display().to_string(), source })?;
    tracing::debug!(path = %out.display(), %id, stored, candidates = candidates.len(), "captured snapshot");
    Ok(Captured { id, stored_pages: stored, candidate_pages: candidates.len() as u64 })
}

/// Identifies an image in snapshot headers: its path and a hash of its bytes.
pub fn image_ref(path: &Path) -> std::io::Result<ImageRef> {
    let bytes = std::fs::read(path)?;
    Ok(ImageRef { name: path.display().to_string(), hash: xxhash_rust::xxh3::xxh3_64(&bytes) })
}

/// The warm path: clone `runtime`, import `source`, capture the function snapshot at `out`
/// (authenticated with the runtime's store key, if it was loaded with one).
pub fn warm_snapshot(
    kvm: &Kvm,
    runtime: &Arc<Loaded>,
    source: &str,
    config: &Config,
    out: &Path,
) -> Result<Arc<Loaded>, SnapshotError> {
    warm_snapshot_in(kvm, runtime, source, config, out, Storage { pages: None, key: runtime.store_key() })
}

/// [`warm_snapshot`] into `storage` (see [`capture_in`]); the result is loaded back from it.
pub fn warm_snapshot_in(
    kvm: &Kvm,
    runtime: &Arc<Loaded>,
    source: &str,
    config: &Config,
    out: &Path,
    storage: Storage<'_>,
) -> Result<Arc<Loaded>, SnapshotError> {
    Ok(warm_instance(kvm, runtime, source, config, out, storage)?.0)
}

/// The warm path that keeps going: as [`warm_snapshot_in`], and also returns the instance that
/// imported the function, now a ready clone of the new snapshot: its first invocation is a hot
/// start without creating a VM or faulting the imported pages in again.
pub fn warm_snapshot_and_clone(
    kvm: &Kvm,
    runtime: &Arc<Loaded>,
    source: &str,
    config: &Config,
    out: &Path,
    storage: Storage<'_>,
) -> Result<(Arc<Loaded>, Instance), SnapshotError> {
    let (snap, mut inst) = warm_instance(kvm, runtime, source, config, out, storage)?;
    inst.rebase(&snap)?;
    Ok((snap, inst))
}

fn warm_instance(
    kvm: &Kvm,
    runtime: &Arc<Loaded>,
    source: &str,
    config: &Config,
    out: &Path,
    storage: Storage<'_>,
) -> Result<(Arc<Loaded>, Instance), SnapshotError> {
    let _span = tracing::debug_span!("warm_snapshot", out = %out.display()).entered();
    if runtime.parked_call() != Hypercall::FunctionSource {
        return Err(SnapshotError::NotCapturable(format!(
            "{} is a function snapshot; the warm path needs a runtime snapshot",
            runtime.path().display()
        )));
    }
    let mut inst = Instance::from_snapshot(kvm, runtime, config)?;
    inst.provide_source(Some(source))?;
    match inst.run()? {
        Event::WantsInvocation => {}
        // The launcher reports an import failure as an error result, then exits.
        Event::Returned | Event::Exited(_) => {
            return Err(SnapshotError::Import(
                inst.last_result().unwrap_or("the guest stopped without a message").to_owned(),
            ))
        }
        Event::WantsSource => {
            return Err(SnapshotError::Instance(Error::Hypercall {
                call: "FunctionSource",
                detail: "the guest asked for its source twice".into(),
                rip: inst.rip(),
            }))
        }
    }
    let image = runtime.header().image.clone();
    capture_in(&mut inst, out, image, storage)?;
    Ok((Loaded::open_with_parent_in(out, runtime, storage)?, inst))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::loaded::resolve_parent;

    #[test]
    fn runs_bridge_small_gaps_only() {
        let r = runs_of(&[1, 2, 3, 10, 11, 30], MERGE_GAP);
        assert_eq!(r, vec![PageRun { first_page: 1, count: 11 }, PageRun { first_page: 30, count: 1 }]);
        assert!(runs_of(&[], MERGE_GAP).is_empty());
        let r = runs_of(&[1, 2, 4], MERGE_GAP_STORE);
        assert_eq!(r, vec![PageRun { first_page: 1, count: 2 }, PageRun { first_page: 4, count: 1 }]);
    }

    #[test]
    fn parent_paths_are_relative_within_a_directory() {
        let dir = std::env::temp_dir();
        let parent = dir.join("p.snap");
        std::fs::write(&parent, b"x").unwrap();
        assert_eq!(parent_path_for(&dir.join("c.snap"), &parent), "p.snap");
        assert_eq!(resolve_parent(&dir.join("c.snap"), "p.snap"), dir.join("p.snap"));
    }
}
