//! The action store: every action of every namespace on disk in the state directory, and an
//! in-memory index of them.
//!
//! ```text
//! STATE/actions/<namespace>/<name>/          (a name over 200 bytes: ~<xxh3 of the name>)
//!     action.json                            metadata: OpenWhisk's entity without code, + source_hash
//!     code-<source_hash>.js                  the user's code, as given
//!     function-<source_hash>-<runtime>.snap  function snapshot: diff over STATE/runtimes/<runtime>MiB.snap
//! ```
//!
//! Writes are atomic (temporary file, `fsync`, rename) and ordered code → metadata, so a crash
//! leaves either the old or the new action; files of older versions are removed after the
//! metadata names the new one. On start every `action.json` is read and its code verified
//! against `source_hash` (the hash of the code with the node's glue); an action that fails the
//! check is skipped with a warning naming the file. Function snapshots are verified (parent
//! id, checksums) when first used, and made again by the warm path if they are missing,
//! stale or damaged.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::function::{Function, GuestSource};
use crate::model::ActionMeta;
use crate::names::is_entity_name;
use crate::source::{assemble, source_hash};

/// An action in the index.
#[derive(Debug)]
pub struct StoredAction {
    /// Its metadata.
    pub meta: ActionMeta,
    /// Its directory.
    pub dir: PathBuf,
    /// What the scheduler runs.
    pub function: Arc<Function>,
}

impl StoredAction {
    /// The user's code.
    pub fn code(&self) -> std::io::Result<String> {
        std::fs::read_to_string(code_path(&self.dir, &self.meta.source_hash))
    }
}

/// A store failure (I/O on the state directory).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct StoreError {
    /// The file or directory.
    pub path: String,
    /// Why.
    pub source: std::io::Error,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError { path: path.display().to_string(), source }
}

type Key = (String, String);

/// See the module docs.
pub struct ActionStore {
    root: PathBuf,
    index: RwLock<HashMap<Key, Arc<StoredAction>>>,
    /// Names being created, updated or deleted (a second writer gets 409).
    busy: Arc<Mutex<std::collections::HashSet<Key>>>,
}

/// A claim on a name while it is written; released on drop.
pub struct Claim {
    busy: Arc<Mutex<std::collections::HashSet<Key>>>,
    key: Key,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.busy.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.key);
    }
}

fn dir_name(name: &str) -> String {
    if name.len() <= 200 {
        name.to_owned()
    } else {
        format!("~{:032x}", xxhash_rust::xxh3::xxh3_128(name.as_bytes()))
    }
}

fn code_path(dir: &Path, hash: &str) -> PathBuf {
    dir.join(format!("code-{hash}.js"))
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// The egress entries of an action's `allow-net` annotation (a string in `--allow-net`'s
/// syntax); `Err` says why it is not valid.
pub fn allow_net_of(meta: &ActionMeta) -> Result<seuss_hv::EgressPolicy, String> {
    match meta.annotation("allow-net") {
        None => Ok(seuss_hv::EgressPolicy::default()),
        Some(serde_json::Value::String(s)) => s.parse().map_err(|e: seuss_hv::PolicyError| format!("annotation allow-net: {e}")),
        Some(_) => Err("annotation allow-net must be a string such as \"example.com:443,host.seuss.internal:8080\"".into()),
    }
}

/// The function of an action's metadata in `dir` (an invalid `allow-net` annotation, which
/// the REST API refuses at creation, allows nothing extra).
pub fn function_of(meta: &ActionMeta, dir: &Path) -> Function {
    Function::new(
        format!("{}/{}", meta.namespace, meta.name),
        GuestSource::File { code: code_path(dir, &meta.source_hash), main: meta.exec.main.clone() },
        meta.source_hash.clone(),
        dir.to_path_buf(),
        meta.limits.memory,
        Duration::from_millis(meta.limits.timeout),
    )
    .with_allow_net(allow_net_of(meta).unwrap_or_default())
}

impl ActionStore {
    /// Opens the store under `root` (`STATE/actions`) and loads every action; returns the
    /// store and a warning per action that was skipped.
    pub fn open(root: PathBuf) -> Result<(Self, Vec<String>), StoreError> {
        std::fs::create_dir_all(&root).map_err(io(&root))?;
        let mut index = HashMap::new();
        let mut warnings = Vec::new();
        for ns in std::fs::read_dir(&root).map_err(io(&root))? {
            let ns = ns.map_err(io(&root))?.path();
            if !ns.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(&ns).map_err(io(&ns))? {
                let dir = entry.map_err(io(&ns))?.path();
                if !dir.is_dir() {
                    continue;
                }
                match load_action(&dir) {
                    Ok(a) => {
                        index.insert((a.meta.namespace.clone(), a.meta.name.clone()), Arc::new(a));
                    }
                    Err(w) => warnings.push(w),
                }
            }
        }
        Ok((Self { root, index: RwLock::new(index), busy: Default::default() }, warnings))
    }

    /// The action `name` of `namespace`.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Arc<StoredAction>> {
        self.index.read().unwrap_or_else(|e| e.into_inner()).get(&(namespace.to_owned(), name.to_owned())).cloned()
    }

    /// Actions of `namespace`, most recently updated first.
    pub fn list(&self, namespace: &str) -> Vec<Arc<StoredAction>> {
        let mut v: Vec<_> =
            self.index.read().unwrap_or_else(|e| e.into_inner()).values().filter(|a| a.meta.namespace == namespace).cloned().collect();
        v.sort_by(|a, b| b.meta.updated.cmp(&a.meta.updated).then_with(|| a.meta.name.cmp(&b.meta.name)));
        v
    }

    /// Number of actions.
    pub fn len(&self) -> usize {
        self.index.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Claims `name` of `namespace` for a write; `None` if another write holds it.
    pub fn claim(&self, namespace: &str, name: &str) -> Option<Claim> {
        let key = (namespace.to_owned(), name.to_owned());
        let fresh = self.busy.lock().unwrap_or_else(|e| e.into_inner()).insert(key.clone());
        fresh.then(|| Claim { busy: self.busy.clone(), key })
    }

    /// The directory of an action.
    pub fn dir_of(&self, namespace: &str, name: &str) -> PathBuf {
        self.root.join(namespace).join(dir_name(name))
    }

    /// Writes the code of a new version (before its snapshot is made).
    pub fn write_code(&self, dir: &Path, hash: &str, code: &str) -> Result<(), StoreError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        write_atomic(&code_path(dir, hash), code.as_bytes())
    }

    /// Commits `meta` (its code written, its function snapshot made) and returns the indexed
    /// action. Files of other versions are removed.
    pub fn commit(&self, _claim: &Claim, meta: ActionMeta, function: Arc<Function>) -> Result<Arc<StoredAction>, StoreError> {
        let dir = self.dir_of(&meta.namespace, &meta.name);
        let json = serde_json::to_vec_pretty(&meta).expect("metadata serialises");
        write_atomic(&dir.join("action.json"), &json)?;
        remove_other_versions(&dir, &meta.source_hash);
        let action = Arc::new(StoredAction { meta, dir, function });
        self.index
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((action.meta.namespace.clone(), action.meta.name.clone()), action.clone());
        Ok(action)
    }

    /// Removes an action (files and index); returns it.
    pub fn delete(&self, _claim: &Claim, namespace: &str, name: &str) -> Result<Option<Arc<StoredAction>>, StoreError> {
        let gone = self.index.write().unwrap_or_else(|e| e.into_inner()).remove(&(namespace.to_owned(), name.to_owned()));
        if let Some(a) = &gone {
            std::fs::remove_dir_all(&a.dir).map_err(io(&a.dir))?;
        }
        Ok(gone)
    }

    /// Removes files of a version that was never committed (a failed create or update).
    pub fn discard(&self, dir: &Path, hash: &str, keep: Option<&str>) {
        if keep == Some(hash) {
            return;
        }
        let _ = std::fs::remove_file(code_path(dir, hash));
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with(&format!("function-{hash}-")) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        // A create that failed leaves an empty directory behind.
        let _ = std::fs::remove_dir(dir);
    }
}

fn remove_other_versions(dir: &Path, hash: &str) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        let ours = n == "action.json" || n.contains(hash);
        if !ours && (n.starts_with("code-") || n.starts_with("function-") || n.ends_with(".tmp")) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn load_action(dir: &Path) -> Result<StoredAction, String> {
    let meta_path = dir.join("action.json");
    let text = std::fs::read(&meta_path).map_err(|e| format!("{}: {e}", meta_path.display()))?;
    let meta: ActionMeta = serde_json::from_slice(&text).map_err(|e| format!("{}: not an action's metadata: {e}", meta_path.display()))?;
    if !is_entity_name(&meta.name) || !is_entity_name(&meta.namespace) {
        return Err(format!("{}: invalid namespace or name", meta_path.display()));
    }
    let code_file = code_path(dir, &meta.source_hash);
    let code = std::fs::read_to_string(&code_file).map_err(|e| format!("{}: {e}", code_file.display()))?;
    if source_hash(&assemble(&code, meta.exec.main.as_deref(), &[])) != meta.source_hash {
        return Err(format!("{}: the code does not match the checksum in action.json", code_file.display()));
    }
    let function = Arc::new(function_of(&meta, dir));
    Ok(StoredAction { meta, dir: dir.to_path_buf(), function })
}
