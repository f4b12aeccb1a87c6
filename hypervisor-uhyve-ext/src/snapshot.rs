//! Snapshots: capture a parked instance, load a snapshot chain, and make clones of it.
//!
//! * **Capture** ([`capture`]) happens while the guest is parked in one of the two "ask"
//!   hypercalls. The vCPU is settled first (KVM completes the pending `out`, so `rip` points
//!   after it) and saved with [`crate::cpu_state`]. A *root* snapshot (cold-booted instance)
//!   stores every page the guest touched that is not all zero. A *diff* snapshot (an instance
//!   cloned from a parent snapshot) stores only the pages that now differ from the parent:
//!   candidates are the pages private to the clone's copy-on-write mapping
//!   (`/proc/self/pagemap`), which include the host's own writes into guest memory (source,
//!   args, clock) that the KVM dirty log would miss; each candidate is compared with the
//!   parent's content and dropped if equal.
//! * Runs of stored pages separated by small gaps are merged (the gap pages are stored too) so
//!   that a clone needs few `mmap` calls.
//! * **Load** ([`Loaded::open`]) validates the file with `snapfmt`, opens and checks the
//!   parent chain, and decodes the vCPU state once.
//! * **Clone**: [`crate::Instance::from_snapshot`] maps the chain's pages copy-on-write
//!   ([`crate::memory::GuestRam::from_layers`]) and loads the vCPU state; the guest resumes
//!   when the host completes its pending hypercall. [`crate::Instance::reset`] returns a used
//!   clone to the snapshot state without a new VM.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use snapfmt::{Header, ImageRef, Kind, PageRun, ParentRef, Snapshot, SnapshotId, PAGE_SIZE};

use crate::cpu_state::{self, Loadable, StateError};
use crate::instance::{Error as InstanceError, Instance};
use crate::memory::Layer;

/// Largest gap (in pages) merged into a run when storing.
const MERGE_GAP: u64 = 8;

/// Snapshot operations failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file (or its parent) is invalid.
    #[error("{path}: {source}")]
    File {
        /// Which file.
        path: String,
        /// What is wrong with it.
        source: snapfmt::SnapError,
    },
    /// vCPU state could not be saved or restored.
    #[error(transparent)]
    State(#[from] StateError),
    /// The instance cannot be captured now.
    #[error("cannot snapshot: {0}")]
    NotParked(&'static str),
    /// The snapshot was made by an incompatible guest ABI.
    #[error("snapshot speaks guest ABI {found}, this hypervisor speaks {expected}")]
    Abi {
        /// In the file.
        found: u32,
        /// Ours.
        expected: u32,
    },
    /// Reading guest memory or /proc failed.
    #[error("snapshot I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The instance failed while being prepared.
    #[error(transparent)]
    Instance(#[from] InstanceError),
    /// The function did not import.
    #[error("{0}")]
    Import(String),
}

/// A validated snapshot chain ready for cloning.
pub struct Loaded {
    snap: Snapshot,
    parent: Option<Arc<Loaded>>,
    vcpu: Loadable,
    /// Guest page → stored index, for this snapshot's own pages (comparisons walk the chain).
    index: HashMap<u64, u64>,
}

fn file_err(path: &Path) -> impl Fn(snapfmt::SnapError) -> SnapshotError + '_ {
    move |source| SnapshotError::File { path: path.display().to_string(), source }
}

impl Loaded {
    /// Opens and validates `path` and its parents (read from disk).
    pub fn open(path: &Path) -> Result<Arc<Self>, SnapshotError> {
        Self::open_inner(path, None)
    }

    /// Opens `path`, whose parent is the already loaded `parent` (checked by id): the warm
    /// path shares one loaded runtime snapshot among all its function snapshots.
    pub fn open_with_parent(path: &Path, parent: &Arc<Loaded>) -> Result<Arc<Self>, SnapshotError> {
        Self::open_inner(path, Some(parent.clone()))
    }

    fn open_inner(path: &Path, known_parent: Option<Arc<Loaded>>) -> Result<Arc<Self>, SnapshotError> {
        let snap = Snapshot::open(path).map_err(file_err(path))?;
        let abi = snap.header().abi_version;
        if abi != seuss_abi::ABI_VERSION {
            return Err(SnapshotError::Abi { found: abi, expected: seuss_abi::ABI_VERSION });
        }
        let parent = match &snap.header().parent {
            None => None,
            Some(p) => {
                let parent = match known_parent {
                    Some(parent) => parent,
                    None => Loaded::open(&resolve_parent(path, &p.path))?,
                };
                snap.check_parent(Some(&parent.snap)).map_err(file_err(path))?;
                let (a, b) = (parent.snap.header(), snap.header());
                if a.guest_memory_bytes != b.guest_memory_bytes || a.guest_memory_base != b.guest_memory_base {
                    return Err(SnapshotError::File {
                        path: path.display().to_string(),
                        source: snapfmt::SnapError::Inconsistent("guest memory differs from the parent's".into()),
                    });
                }
                Some(parent)
            }
        };
        let vcpu = Loadable::decode(&snap.header().vcpu)?;
        let mut index = HashMap::new();
        let mut stored = 0;
        for run in &snap.header().runs {
            for page in run.first_page..run.first_page + run.count {
                index.insert(page, stored);
                stored += 1;
            }
        }
        Ok(Arc::new(Self { snap, parent, vcpu, index }))
    }

    /// The leaf snapshot's header.
    pub fn header(&self) -> &Header {
        self.snap.header()
    }

    /// The leaf snapshot's id.
    pub fn id(&self) -> SnapshotId {
        self.snap.id()
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        self.snap.path()
    }

    /// The parent, if this is a diff snapshot.
    pub fn parent(&self) -> Option<&Arc<Loaded>> {
        self.parent.as_ref()
    }

    /// Bytes of page data this snapshot stores (not counting its parent).
    pub fn stored_bytes(&self) -> u64 {
        self.snap.data_len()
    }

    /// The decoded vCPU state.
    pub(crate) fn vcpu(&self) -> &Loadable {
        &self.vcpu
    }

    /// Memory layers, root first.
    pub(crate) fn layers(&self) -> Vec<Layer<'_>> {
        let mut v = match &self.parent {
            Some(p) => p.layers(),
            None => Vec::new(),
        };
        v.push(Layer { fd: self.snap.file().as_raw_fd(), data_offset: self.snap.data_offset(), runs: &self.snap.header().runs });
        v
    }

    /// Content of guest page `page` in this snapshot chain (zeros if no layer stores it).
    fn read_page(&self, page: u64, buf: &mut [u8]) -> Result<(), SnapshotError> {
        match (self.index.get(&page), &self.parent) {
            (Some(&idx), _) => self.snap.read_page(idx, buf).map_err(file_err(self.snap.path())),
            (None, Some(parent)) => parent.read_page(page, buf),
            (None, None) => {
                buf.fill(0);
                Ok(())
            }
        }
    }
}

/// A parent path recorded relative to the child's directory, or absolute.
fn resolve_parent(child: &Path, recorded: &str) -> PathBuf {
    let p = Path::new(recorded);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        child.parent().unwrap_or(Path::new(".")).join(p)
    }
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

/// Merges sorted page numbers into runs, bridging gaps of at most [`MERGE_GAP`] pages.
fn runs_of(pages: &[u64]) -> Vec<PageRun> {
    let mut runs: Vec<PageRun> = Vec::new();
    for &p in pages {
        match runs.last_mut() {
            Some(r) if p >= r.first_page + r.count && p - (r.first_page + r.count) <= MERGE_GAP => {
                r.count = p - r.first_page + 1;
            }
            _ => runs.push(PageRun { first_page: p, count: 1 }),
        }
    }
    runs
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

/// Captures `inst` (parked in an ask hypercall) to `out`. `image` names the image it came
/// from; the parent is the snapshot `inst` was cloned from, if any.
pub fn capture(inst: &mut Instance, out: &Path, image: ImageRef) -> Result<Captured, SnapshotError> {
    let (port, params) = inst.pending_call().ok_or(SnapshotError::NotParked("the guest is not parked in an ask hypercall"))?;
    if inst.has_open_files() {
        return Err(SnapshotError::NotParked("the guest holds open files, which a snapshot cannot carry"));
    }
    let kind = if port == seuss_abi::Hypercall::FunctionSource.port() { Kind::Runtime } else { Kind::Function };
    let parent = inst.origin().cloned();
    cpu_state::settle(inst.vcpu_mut())?;
    let vcpu = cpu_state::save(inst.vcpu_mut())?;
    let ram = inst.ram();
    let candidates = ram.private_pages()?;
    let mut keep = Vec::new();
    let mut theirs = vec![0u8; PAGE_SIZE as usize];
    for &page in &candidates {
        let ours = ram.slice(ram.base() + page * PAGE_SIZE, PAGE_SIZE).expect("page inside RAM");
        let same = match &parent {
            None => ours.iter().all(|b| *b == 0),
            Some(p) => {
                p.read_page(page, &mut theirs)?;
                ours == &theirs[..]
            }
        };
        if !same {
            keep.push(page);
        }
    }
    let runs = runs_of(&keep);
    let stored: u64 = runs.iter().map(|r| r.count).sum();
    let mut data = Vec::with_capacity((stored * PAGE_SIZE) as usize);
    for r in &runs {
        data.extend_from_slice(ram.slice(ram.base() + r.first_page * PAGE_SIZE, r.count * PAGE_SIZE).expect("inside RAM"));
    }
    let header = Header {
        kind,
        abi_version: seuss_abi::ABI_VERSION,
        image,
        guest_memory_base: ram.base(),
        guest_memory_bytes: ram.size(),
        parent: parent.as_ref().map(|p| ParentRef { id: p.id(), path: parent_path_for(out, p.path()) }),
        vcpu,
        pending_port: port,
        pending_params_gpa: params,
        runs,
        created_unix_ns: crate::instance::unix_now_ns(),
    };
    let id = snapfmt::write(out, &header, &data).map_err(file_err(out))?;
    Ok(Captured { id, stored_pages: stored, candidate_pages: candidates.len() as u64 })
}

/// Identifies an image in snapshot headers: its path and a hash of its bytes.
pub fn image_ref(path: &Path) -> std::io::Result<ImageRef> {
    let bytes = std::fs::read(path)?;
    Ok(ImageRef { name: path.display().to_string(), hash: xxhash_rust::xxh3::xxh3_64(&bytes) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_bridge_small_gaps_only() {
        let r = runs_of(&[1, 2, 3, 10, 11, 30]);
        assert_eq!(
            r,
            vec![PageRun { first_page: 1, count: 11 }, PageRun { first_page: 30, count: 1 }]
        );
        assert!(runs_of(&[]).is_empty());
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
