//! [`Loaded`]: a snapshot chain opened, validated and ready for cloning.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use seuss_abi::Hypercall;
use snapfmt::{Header, Kind, Pages, Snapshot, SnapshotId, StoreKey, PAGE_SIZE};

use crate::config::check_memory;
use crate::cpu_state::{Loadable, StateError};
use crate::error::ErrorKind;
use crate::image::RAM_BASE;
use crate::memory::Layer;
use crate::store::PageStore;

/// Most links in a snapshot chain (a function snapshot over a runtime snapshot is 2).
pub const MAX_CHAIN_DEPTH: usize = 8;

/// A snapshot (or one of its parents) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// `snapfmt` refused the file (I/O, checksums, format, consistency).
    #[error("{path}: {source}")]
    File {
        /// Which file.
        path: String,
        /// What is wrong with it.
        source: snapfmt::SnapError,
    },
    /// A header field is outside what this hypervisor accepts.
    #[error("{path}: {detail}")]
    Invalid {
        /// Which file.
        path: String,
        /// Which field and why.
        detail: String,
    },
    /// The parent chain is broken: a parent with another id or other memory, too long, a loop.
    #[error("{path}: {detail}")]
    Chain {
        /// The child whose parent is wrong.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The snapshot was made by an incompatible guest ABI.
    #[error("{path}: snapshot speaks guest ABI {found}, this hypervisor speaks {expected}")]
    Abi {
        /// Which file.
        path: String,
        /// In the file.
        found: u32,
        /// Ours.
        expected: u32,
    },
    /// A store-backed snapshot's pages could not be materialised.
    #[error("{path}: {source}")]
    Store {
        /// Which file.
        path: String,
        /// Why.
        source: crate::store::StoreError,
    },
    /// A file of the chain changed after it was validated (truncated or rewritten in place):
    /// its pages can no longer be trusted or even read.
    #[error("{path}: {detail}")]
    Changed {
        /// Which file.
        path: String,
        /// What changed.
        detail: String,
    },
    /// The stored vCPU state does not fit this KVM.
    #[error("{path}: {source}")]
    VcpuState {
        /// Which file.
        path: String,
        /// Why.
        source: StateError,
    },
}

impl LoadError {
    /// Always [`ErrorKind::Host`]: the snapshot files are the host's data.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Host
    }
}

/// A validated snapshot chain ready for cloning.
pub struct Loaded {
    snap: Snapshot,
    parent: Option<Arc<Loaded>>,
    vcpu: Loadable,
    /// The ask hypercall the guest is parked in, and its parameter struct.
    parked: (Hypercall, u64),
    /// Guest page → stored index, for this snapshot's own pages (comparisons walk the chain).
    index: HashMap<u64, u64>,
    /// Device and inode of the file, to recognise it again.
    file_id: (u64, u64),
    /// The file's size when it was validated.
    file_len: u64,
    /// The store key every file of this chain was authenticated with, if any; snapshots
    /// captured from its clones are written with it too.
    key: Option<StoreKey>,
    /// The stored pages, mapped read-only (the source of clone resets).
    data: DataMap,
    /// Where the pages of a store-backed snapshot were materialised (clones map it).
    memfd: Option<std::os::fd::OwnedFd>,
}

/// Where a snapshot's pages live and what authenticates its files: the default is pages in
/// the snapshot file itself and no authentication. A page store's own snapshots name the store
/// and its key (see [`PageStore`] and [`StoreKey`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Storage<'a> {
    /// The page store holding the pages of snapshots written with it (their files then hold
    /// the header alone).
    pub pages: Option<&'a Arc<PageStore>>,
    /// The key every file must be authenticated by (and new files are written with).
    pub key: Option<&'a StoreKey>,
}

/// A read-only shared mapping of a snapshot file's page data (`None` when it stores none).
struct DataMap(Option<(std::ptr::NonNull<u8>, usize)>);

impl DataMap {
    /// Maps `len` bytes of `fd` at `offset` read-only.
    fn new(fd: std::os::fd::RawFd, offset: u64, len: u64) -> std::io::Result<Self> {
        let len = len as usize;
        if len == 0 {
            return Ok(Self(None));
        }
        // SAFETY: a fresh read-only mapping of `len` bytes at a page-aligned offset of a
        // validated snapshot file (snapfmt checked the file holds them) or of a memfd the store
        // filled with exactly that many bytes. Snapshot files are never modified in place
        // (snapfmt writes a new file and renames it) and the memfd is ours, so the bytes cannot
        // change under the mapping.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, fd, offset as libc::off_t) };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self(Some((std::ptr::NonNull::new(p.cast()).expect("mmap never returns null on success"), len))))
    }

    /// Stored page `index` (file order).
    fn page(&self, index: u64) -> Option<&[u8]> {
        let (p, len) = self.0?;
        let off = (index as usize).checked_mul(PAGE_SIZE as usize)?;
        if off + PAGE_SIZE as usize > len {
            return None;
        }
        // SAFETY: [off, off + PAGE_SIZE) lies inside the live read-only mapping (checked).
        Some(unsafe { std::slice::from_raw_parts(p.as_ptr().add(off), PAGE_SIZE as usize) })
    }
}

impl Drop for DataMap {
    fn drop(&mut self) {
        if let Some((p, len)) = self.0 {
            // SAFETY: unmapping the region this value mapped and owns.
            unsafe { libc::munmap(p.as_ptr().cast(), len) };
        }
    }
}

// SAFETY: the mapping is read-only and owned; sharing references to it across threads is as
// safe as sharing a `&[u8]`.
unsafe impl Send for DataMap {}
// SAFETY: as above: only shared reads.
unsafe impl Sync for DataMap {}

impl Loaded {
    /// Opens and validates `path` and its parents (read from disk). Authentication tags, if
    /// any, are not checked, and snapshots whose pages are in a page store are refused: see
    /// [`Loaded::open_in`].
    pub fn open(path: &Path) -> Result<Arc<Self>, LoadError> {
        Self::open_in(path, Storage::default())
    }

    /// Opens `path` and its parents as `storage` says: pages kept in its page store are
    /// taken from there (materialised into memory that clones map: the snapshot is then in
    /// the mapped tier while this value lives), and with its key every file of the chain must
    /// be authenticated by it (a store's own files; see [`StoreKey`] and ARCHITECTURE.md,
    /// "Trust"). Snapshots captured from clones of the result are written with the same key.
    pub fn open_in(path: &Path, storage: Storage<'_>) -> Result<Arc<Self>, LoadError> {
        let snap = open_file(path, storage.key)?;
        Self::open_chain(snap, None, storage, &mut Vec::new())
    }

    /// Opens `path`, whose parent is the already loaded `parent` (checked by id): the warm
    /// path shares one loaded runtime snapshot among all its function snapshots. The file must
    /// be authenticated by the parent's key, if the parent had one.
    pub fn open_with_parent(path: &Path, parent: &Arc<Loaded>) -> Result<Arc<Self>, LoadError> {
        Self::open_with_parent_in(path, parent, Storage { pages: None, key: parent.key.as_ref() })
    }

    /// [`Loaded::open_with_parent`], with pages possibly in `storage`'s page store and the
    /// file authenticated by its key (when given).
    pub fn open_with_parent_in(path: &Path, parent: &Arc<Loaded>, storage: Storage<'_>) -> Result<Arc<Self>, LoadError> {
        let snap = open_file(path, storage.key)?;
        Self::open_chain(snap, Some(parent.clone()), storage, &mut Vec::new())
    }

    /// The store key this chain was authenticated with, if any.
    pub fn store_key(&self) -> Option<&StoreKey> {
        self.key.as_ref()
    }

    /// Validates `snap` and links it to its parent; `seen` holds the files and ids of the
    /// children already on this chain (loop and depth guard).
    fn open_chain(
        snap: Snapshot,
        known_parent: Option<Arc<Loaded>>,
        storage: Storage<'_>,
        seen: &mut Vec<((u64, u64), SnapshotId)>,
    ) -> Result<Arc<Self>, LoadError> {
        let path = snap.path().to_path_buf();
        let shown = || path.display().to_string();
        let meta = snap.file().metadata().map_err(|e| LoadError::File { path: shown(), source: e.into() })?;
        let file_id = (meta.dev(), meta.ino());
        if seen.iter().any(|(f, id)| *f == file_id || *id == snap.id()) {
            return Err(LoadError::Chain { path: shown(), detail: "the parent chain loops back to this file".into() });
        }
        if seen.len() >= MAX_CHAIN_DEPTH {
            return Err(LoadError::Chain {
                path: shown(),
                detail: format!("the parent chain is longer than {MAX_CHAIN_DEPTH} snapshots"),
            });
        }
        let vcpu = Loadable::decode(&snap.header().vcpu).map_err(|source| LoadError::VcpuState { path: shown(), source })?;
        let parked = check_header(snap.header(), &vcpu).map_err(|detail| LoadError::Invalid { path: shown(), detail })?;
        if snap.header().abi_version != seuss_abi::ABI_VERSION {
            return Err(LoadError::Abi { path: shown(), found: snap.header().abi_version, expected: seuss_abi::ABI_VERSION });
        }
        let parent = match &snap.header().parent {
            None => None,
            Some(p) => {
                let parent = match known_parent {
                    Some(parent) => parent,
                    None => {
                        let parent_path = resolve_parent(&path, &p.path);
                        // The parent's id is checked before its own parent is opened, so a file
                        // that names itself (or a copy of itself) as parent stops here.
                        let parent_snap = open_file(&parent_path, storage.key)?;
                        snap.check_parent(Some(&parent_snap)).map_err(|source| LoadError::File { path: shown(), source })?;
                        seen.push((file_id, snap.id()));
                        Self::open_chain(parent_snap, None, storage, seen)?
                    }
                };
                snap.check_parent(Some(&parent.snap)).map_err(|source| LoadError::File { path: shown(), source })?;
                let (a, b) = (parent.snap.header(), snap.header());
                if a.guest_memory_bytes != b.guest_memory_bytes || a.guest_memory_base != b.guest_memory_base {
                    return Err(LoadError::Chain { path: shown(), detail: "guest memory differs from the parent's".into() });
                }
                Some(parent)
            }
        };
        let mut index = HashMap::new();
        let mut stored = 0;
        for run in &snap.header().runs {
            for page in run.first_page..run.first_page + run.count {
                index.insert(page, stored);
                stored += 1;
            }
        }
        let (data, memfd) = match (&snap.header().pages, storage.pages) {
            (Pages::Inline, _) => {
                let data = DataMap::new(snap.file().as_raw_fd(), snap.data_offset(), snap.data_len())
                    .map_err(|e| LoadError::File { path: shown(), source: e.into() })?;
                (data, None)
            }
            (Pages::Store(hashes), Some(store)) => {
                let fd = store.materialize(hashes).map_err(|e| LoadError::Store { path: shown(), source: e })?;
                let data = DataMap::new(fd.as_raw_fd(), 0, hashes.len() as u64 * PAGE_SIZE)
                    .map_err(|e| LoadError::File { path: shown(), source: e.into() })?;
                (data, Some(fd))
            }
            (Pages::Store(_), None) => {
                return Err(LoadError::Invalid {
                    path: shown(),
                    detail: "its pages are in a page store: open it through the store (`--store DIR`)".into(),
                })
            }
        };
        let file_len = snap.file_len();
        let loaded = Self { snap, parent, vcpu, parked, index, file_id, file_len, data, memfd, key: storage.key.cloned() };
        loaded.check_parked_call().map_err(|detail| LoadError::Invalid { path: shown(), detail })?;
        Ok(Arc::new(loaded))
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

    /// Bytes of page data this snapshot holds (not counting its parent): in its file, or
    /// materialised from a store.
    pub fn stored_bytes(&self) -> u64 {
        self.snap.header().stored_pages() * PAGE_SIZE
    }

    /// Whether its pages come from a page store.
    pub fn in_store(&self) -> bool {
        matches!(self.snap.header().pages, Pages::Store(_))
    }

    /// The ask hypercall the guest is parked in: FunctionSource for runtime snapshots,
    /// NextInvocation for function snapshots.
    pub fn parked_call(&self) -> Hypercall {
        self.parked.0
    }

    /// Guest-physical address of the parked call's parameter struct.
    pub(crate) fn parked_params(&self) -> u64 {
        self.parked.1
    }

    /// Whether `path` is one of the files of this chain (same device and inode).
    pub fn chain_contains(&self, path: &Path) -> bool {
        let Ok(meta) = std::fs::metadata(path) else { return false };
        let id = (meta.dev(), meta.ino());
        let mut link = Some(self);
        while let Some(l) = link {
            if l.file_id == id {
                return true;
            }
            link = l.parent.as_deref();
        }
        false
    }

    /// Checks that every file of the chain still has the size it was validated with.
    ///
    /// Clones map the files `MAP_PRIVATE` and resets copy from a shared mapping of them, so a
    /// file truncated in place would make accesses to the lost pages fault (`SIGBUS` on the
    /// host, a failed guest access in KVM). Snapshot files are never modified in place by this
    /// project (snapfmt writes a new file and renames it over the old one, which leaves open
    /// files intact); the trust model (ARCHITECTURE.md, "Trust") puts in-place modification
    /// out of bounds. This check, run before every clone, invocation and reset and after a
    /// failed invocation, turns the detectable cases into this error instead of a guest crash.
    pub fn check_unchanged(&self) -> Result<(), LoadError> {
        let mut link = Some(self);
        while let Some(l) = link {
            let path = || l.path().display().to_string();
            let meta = l.snap.file().metadata().map_err(|e| LoadError::File { path: path(), source: e.into() })?;
            if meta.len() != l.file_len {
                return Err(LoadError::Changed {
                    path: path(),
                    detail: format!(
                        "the snapshot file changed while in use: it had {} bytes when loaded and has {} now (snapshot files must be replaced, never modified in place)",
                        l.file_len,
                        meta.len()
                    ),
                });
            }
            link = l.parent.as_deref();
        }
        Ok(())
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
        let (fd, data_offset) = match &self.memfd {
            Some(fd) => (fd.as_raw_fd(), 0),
            None => (self.snap.file().as_raw_fd(), self.snap.data_offset()),
        };
        v.push(Layer { fd, data_offset, runs: &self.snap.header().runs });
        v
    }

    /// The snapshot's content of guest page `page`: the newest layer of the chain that stores
    /// it, or `None` when no layer does (the page is zero).
    pub(crate) fn page_data(&self, page: u64) -> Option<&[u8]> {
        match (self.index.get(&page), &self.parent) {
            (Some(&idx), _) => self.data.page(idx),
            (None, Some(parent)) => parent.page_data(page),
            (None, None) => None,
        }
    }

    /// `len` bytes of the snapshot's guest memory at guest-physical `gpa` (zeros where no layer
    /// stores a page); `None` outside guest memory.
    fn guest_bytes(&self, gpa: u64, len: u64) -> Option<Vec<u8>> {
        let h = self.header();
        let off = gpa.checked_sub(h.guest_memory_base)?;
        if off.checked_add(len)? > h.guest_memory_bytes {
            return None;
        }
        let mut out = Vec::with_capacity(len as usize);
        let mut at = off;
        while at < off + len {
            let (page, in_page) = (at / PAGE_SIZE, (at % PAGE_SIZE) as usize);
            let n = ((PAGE_SIZE as usize - in_page) as u64).min(off + len - at) as usize;
            match self.page_data(page) {
                Some(data) => out.extend_from_slice(&data[in_page..in_page + n]),
                None => out.resize(out.len() + n, 0),
            }
            at += n as u64;
        }
        Some(out)
    }

    /// The saved state is a guest parked in its ask call, as a capture leaves it: the
    /// instruction before `rip` is the hypercall's `out dx, al`, `dx` holds the call's port,
    /// and the parameter struct at `rdi` offers a full-size buffer inside guest memory (what
    /// the host will fill). A forged `rip`, `rdx` or `rdi` fails here instead of letting a
    /// clone read its parameters from the wrong place. `Err` names the field.
    fn check_parked_call(&self) -> Result<(), String> {
        let (call, params) = self.parked;
        let rip = self.vcpu.rip();
        if self.guest_bytes(rip - 1, 1).as_deref() != Some(&[0xEE][..]) {
            return Err(format!(
                "the saved instruction pointer {rip:#x} does not follow the parked {} call's `out dx, al`",
                call.name()
            ));
        }
        let port = self.vcpu.rdx() & 0xffff;
        if port != u64::from(call.port()) {
            return Err(format!("the saved rdx names port {port:#x}, not the parked {} call's {:#x}", call.name(), call.port()));
        }
        let min = match call {
            Hypercall::FunctionSource => seuss_abi::MAX_SOURCE,
            _ => seuss_abi::MAX_PAYLOAD,
        } as u64;
        let word = |at: u64| self.guest_bytes(params + at, 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
        const _: () = assert!(std::mem::offset_of!(seuss_abi::BufferParams, buf) == 0);
        const _: () = assert!(std::mem::offset_of!(seuss_abi::BufferParams, cap) == 8);
        let (buf, cap) = (word(0).unwrap_or(0), word(8).unwrap_or(0));
        let h = self.header();
        let end = h.guest_memory_base + h.guest_memory_bytes;
        let buffer_ok = cap >= min && buf >= h.guest_memory_base && buf.checked_add(cap).is_some_and(|e| e <= end);
        if !buffer_ok {
            return Err(format!(
                "the saved rdi {params:#x} does not point at the parked {} call's parameters (buffer {buf:#x} of {cap} bytes; a full buffer of {min} bytes inside guest memory is required)",
                call.name()
            ));
        }
        Ok(())
    }

    /// Content of guest page `page` in this snapshot chain (zeros if no layer stores it).
    pub(crate) fn read_page(&self, page: u64, buf: &mut [u8]) {
        match self.page_data(page) {
            Some(p) => buf.copy_from_slice(p),
            None => buf.fill(0),
        }
    }
}

fn open_file(path: &Path, key: Option<&StoreKey>) -> Result<Snapshot, LoadError> {
    Snapshot::open_with(path, key).map_err(|source| LoadError::File { path: path.display().to_string(), source })
}

/// The hypercall a snapshot of `kind` is parked in.
pub(crate) fn parked_call_of(kind: Kind) -> Hypercall {
    match kind {
        Kind::Runtime => Hypercall::FunctionSource,
        Kind::Function => Hypercall::NextInvocation,
    }
}

/// The header's fields against the limits a cold boot enforces; returns the parked call and
/// its parameter address. `Err` names the field.
fn check_header(h: &Header, vcpu: &Loadable) -> Result<(Hypercall, u64), String> {
    check_memory(h.guest_memory_bytes)?;
    if h.guest_memory_base != RAM_BASE {
        return Err(format!("guest memory starts at {:#x}, not at {RAM_BASE:#x}", h.guest_memory_base));
    }
    let (base, end) = (h.guest_memory_base, h.guest_memory_base + h.guest_memory_bytes);
    let call = parked_call_of(h.kind);
    let params = vcpu.rdi();
    let params_end = params.checked_add(call.params_size() as u64);
    if params < base || params_end.is_none_or(|e| e > end) {
        return Err(format!("the parked {} call's parameters at {params:#x} are outside guest memory", call.name()));
    }
    let rip = vcpu.rip();
    if !(base..end).contains(&rip) {
        return Err(format!("the saved instruction pointer {rip:#x} is outside guest memory"));
    }
    let rsp = vcpu.rsp();
    if !(base..=end).contains(&rsp) {
        return Err(format!("the saved stack pointer {rsp:#x} is outside guest memory"));
    }
    Ok((call, params))
}

/// A parent path recorded relative to the child's directory, or absolute.
pub(crate) fn resolve_parent(child: &Path, recorded: &str) -> PathBuf {
    let p = Path::new(recorded);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        child.parent().unwrap_or(Path::new(".")).join(p)
    }
}
