//! Runtime snapshots: the JS runtime booted once and parked where it asks for its function,
//! one per runtime image and guest memory size, kept in `STATE/runtimes/`.
//!
//! A file is named by the image's hash and the memory size (`<xxh3-64 of the image>-<MiB>.snap`),
//! so a new runtime image never reuses an old snapshot; on load the header's image hash and
//! memory are checked again and snapfmt verifies the checksums. A missing or unusable file is
//! made anew by a cold boot (about 150 ms).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use seuss_hv::{Config, Console, Event, Image, ImageKind, Instance, Kvm, Loaded};

use crate::metrics::Metrics;

/// Why the runtime image or a runtime snapshot cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The image cannot be read or is not a runtime image.
    #[error("runtime image {path}: {detail}")]
    Image {
        /// The image.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// Booting or capturing failed.
    #[error("making the runtime snapshot {path}: {detail}")]
    Snapshot {
        /// The snapshot file.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

/// The runtime image and its snapshots.
pub struct Runtimes {
    image: Image,
    image_ref: seuss_hv::ImageRef,
    dir: PathBuf,
    loaded: Mutex<HashMap<u64, Arc<Loaded>>>,
    metrics: Arc<Metrics>,
    /// The node's store key: runtime snapshots are written and loaded with it.
    key: seuss_hv::StoreKey,
}

impl Runtimes {
    /// Reads and checks the runtime image; snapshots go to `dir`, authenticated by `key`.
    pub fn new(image_path: &Path, dir: PathBuf, metrics: Arc<Metrics>, key: seuss_hv::StoreKey) -> Result<Self, RuntimeError> {
        let err = |detail: String| RuntimeError::Image { path: image_path.display().to_string(), detail };
        let image = Image::from_file(image_path).map_err(|e| err(e.to_string()))?;
        if image.kind() != ImageKind::Runtime {
            return Err(err(format!(
                "is a {:?} image, not the JS runtime image (`cargo xtask build-image --runtime -o runtime.img`)",
                image.kind()
            )));
        }
        let image_ref = seuss_hv::image_ref(image_path).map_err(|e| err(e.to_string()))?;
        std::fs::create_dir_all(&dir).map_err(|e| err(format!("creating {}: {e}", dir.display())))?;
        Ok(Self { image, image_ref, dir, loaded: Mutex::new(HashMap::new()), metrics, key })
    }

    /// Names the runtime snapshot for `memory_mib` (part of function snapshot file names).
    pub fn key(&self, memory_mib: u64) -> String {
        format!("{:016x}-{memory_mib}", self.image_ref.hash)
    }

    /// The runtime snapshot with `memory_mib` of guest memory, loaded or made on first use.
    /// VM work: call it on a worker thread.
    pub fn get(&self, kvm: &Kvm, memory_mib: u64) -> Result<Arc<Loaded>, RuntimeError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = loaded.get(&memory_mib) {
            return Ok(l.clone());
        }
        let path = self.dir.join(format!("{}MiB.snap", self.key(memory_mib)));
        let memory = memory_mib * 1024 * 1024;
        let usable = |l: &Loaded| {
            l.header().kind == seuss_hv::Kind::Runtime
                && l.header().image.hash == self.image_ref.hash
                && l.header().guest_memory_bytes == memory
        };
        let snap = match Loaded::open_in(&path, self.storage()) {
            Ok(l) if usable(&l) => l,
            other => {
                if let Err(e) = &other {
                    if path.exists() {
                        tracing::warn!(path = %path.display(), error = %e, "runtime snapshot unusable; making it again");
                    }
                }
                self.make(kvm, &path, memory)?
            }
        };
        loaded.insert(memory_mib, snap.clone());
        Ok(snap)
    }

    fn make(&self, kvm: &Kvm, path: &Path, memory: u64) -> Result<Arc<Loaded>, RuntimeError> {
        let _span = tracing::info_span!("runtime_snapshot", path = %path.display(), memory).entered();
        let err = |detail: String| RuntimeError::Snapshot { path: path.display().to_string(), detail };
        let config = Config { memory, timeout: Duration::from_secs(60), console: Console::Capture, ..Config::default() };
        let mut inst = Instance::boot(kvm, &self.image, &config).map_err(|e| err(e.to_string()))?;
        match inst.run().map_err(|e| err(e.to_string()))? {
            Event::WantsSource => {}
            other => return Err(err(format!("the runtime image stopped at {other:?} instead of asking for a function"))),
        }
        seuss_hv::capture_in(&mut inst, path, self.image_ref.clone(), self.storage()).map_err(|e| err(e.to_string()))?;
        self.metrics.runtime_snapshots.inc();
        tracing::info!("runtime snapshot made");
        Loaded::open_in(path, self.storage()).map_err(|e| err(e.to_string()))
    }

    fn storage(&self) -> seuss_hv::Storage<'_> {
        seuss_hv::Storage { pages: None, key: Some(&self.key) }
    }
}
