//! Guest file access through uhyve's file hypercalls, restricted to an explicit mapping.
//!
//! Like uhyve's `--file-mapping HOST:GUEST`, a guest path is reachable only if it equals a
//! mapped guest path or lies below a mapped guest directory; `..` components are refused
//! before any lookup, and the host path is resolved (`canonicalize`) and must stay inside the
//! mapped host path (no symlink escapes). Everything else is `ENOENT`. Descriptors 0-2 are
//! the console.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

pub use seuss_abi::errno;

/// One `HOST:GUEST` mapping.
#[derive(Clone, Debug)]
pub struct FileMapping {
    /// Host path (file or directory).
    pub host: PathBuf,
    /// Guest path (absolute, normalised).
    pub guest: String,
}

impl std::str::FromStr for FileMapping {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (host, guest) = s.split_once(':').ok_or_else(|| format!("file mapping {s:?} is not HOST:GUEST"))?;
        let host = std::fs::canonicalize(host).map_err(|e| format!("file mapping host path {host:?}: {e}"))?;
        let guest = normalise(guest).ok_or_else(|| format!("file mapping guest path {guest:?} is not absolute or has '..'"))?;
        Ok(Self { host, guest })
    }
}

/// `/a/./b/` -> `/a/b`; `None` for relative paths or `..`.
fn normalise(p: &str) -> Option<String> {
    let path = Path::new(p);
    if !path.is_absolute() {
        return None;
    }
    let mut out = String::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => {
                out.push('/');
                out.push_str(n.to_str()?);
            }
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(if out.is_empty() { "/".into() } else { out })
}

/// The guest's open files and the mapping that bounds them.
pub struct Files {
    mappings: Vec<FileMapping>,
    open: HashMap<i32, File>,
}

impl Files {
    /// A table allowing only `mappings`.
    pub fn new(mappings: Vec<FileMapping>) -> Self {
        Self { mappings, open: HashMap::new() }
    }

    /// Whether the guest holds open files (a snapshot cannot carry them).
    pub fn any_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// Closes every guest file (a clone being reset to its snapshot).
    pub fn close_all(&mut self) {
        self.open.clear();
    }

    /// The host path for a guest path, if the mapping allows it.
    pub fn resolve(&self, guest: &str) -> Option<PathBuf> {
        let guest = normalise(guest)?;
        for m in &self.mappings {
            let rest = if guest == m.guest {
                Some("")
            } else {
                guest.strip_prefix(&m.guest).filter(|r| r.starts_with('/') || m.guest == "/")
            };
            if let Some(rest) = rest {
                let candidate = m.host.join(rest.trim_start_matches('/'));
                // The file may not exist yet (O_CREAT): check its parent instead.
                let real = std::fs::canonicalize(&candidate)
                    .ok()
                    .or_else(|| Some(std::fs::canonicalize(candidate.parent()?).ok()?.join(candidate.file_name()?)))?;
                if real.starts_with(&m.host) {
                    return Some(real);
                }
            }
        }
        None
    }

    /// `open(2)` with Hermit flags; a descriptor or `-errno`.
    pub fn open(&mut self, guest: &str, flags: i32, mode: i32) -> i32 {
        let Some(host) = self.resolve(guest) else { return -errno::ENOENT };
        if self.open.len() >= 1000 {
            return -errno::EMFILE;
        }
        let acc = flags & 0b11;
        let mut o = OpenOptions::new();
        o.read(acc == 0 || acc == 2)
            .write(acc == 1 || acc == 2)
            .append(flags & 0o2000 != 0)
            .truncate(flags & 0o1000 != 0)
            .create(flags & 0o100 != 0)
            .mode((mode as u32) & 0o777);
        if flags & 0o200 != 0 && flags & 0o100 != 0 {
            o.create_new(true);
        }
        match o.open(&host) {
            Ok(f) => {
                // The lowest free descriptor, as POSIX does (libos tracks descriptors < 1024).
                let fd = (3..).find(|fd| !self.open.contains_key(fd)).expect("fewer than 1000 open");
                self.open.insert(fd, f);
                fd
            }
            Err(e) => -e.raw_os_error().unwrap_or(errno::EIO),
        }
    }

    /// `close(2)`.
    pub fn close(&mut self, fd: i32) -> i32 {
        if (0..=2).contains(&fd) {
            return 0;
        }
        if self.open.remove(&fd).is_some() { 0 } else { -errno::EBADF }
    }

    /// `read(2)` into `buf`.
    pub fn read(&mut self, fd: i32, buf: &mut [u8]) -> i64 {
        match self.open.get_mut(&fd) {
            Some(f) => f.read(buf).map(|n| n as i64).unwrap_or_else(|e| -(e.raw_os_error().unwrap_or(errno::EIO) as i64)),
            None => -(errno::EBADF as i64),
        }
    }

    /// `write(2)` to a file (not the console).
    pub fn write(&mut self, fd: i32, buf: &[u8]) -> i64 {
        match self.open.get_mut(&fd) {
            Some(f) => f.write(buf).map(|n| n as i64).unwrap_or_else(|e| -(e.raw_os_error().unwrap_or(errno::EIO) as i64)),
            None => -(errno::EBADF as i64),
        }
    }

    /// `lseek(2)`.
    pub fn lseek(&mut self, fd: i32, offset: i64, whence: u32) -> i64 {
        let Some(f) = self.open.get_mut(&fd) else { return -(errno::EBADF as i64) };
        let pos = match whence {
            0 if offset >= 0 => SeekFrom::Start(offset as u64),
            1 => SeekFrom::Current(offset),
            2 => SeekFrom::End(offset),
            _ => return -(errno::EINVAL as i64),
        };
        f.seek(pos).map(|p| p as i64).unwrap_or_else(|e| -(e.raw_os_error().unwrap_or(errno::EINVAL) as i64))
    }

    /// `unlink(2)`.
    pub fn unlink(&mut self, guest: &str) -> i32 {
        match self.resolve(guest) {
            Some(p) => std::fs::remove_file(p).map(|_| 0).unwrap_or_else(|e| -e.raw_os_error().unwrap_or(errno::EIO)),
            None => -errno::ENOENT,
        }
    }

    /// `fstat(2)`: (mode, size, mtime seconds) or `-errno`.
    pub fn fstat(&self, fd: i32) -> Result<(u32, i64, i64, u64), i32> {
        let f = self.open.get(&fd).ok_or(errno::EBADF)?;
        let m = f.metadata().map_err(|e| e.raw_os_error().unwrap_or(errno::EIO))?;
        Ok((m.mode(), m.size() as i64, m.mtime(), m.ino()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_mapped_paths_resolve() {
        let dir = std::env::temp_dir().join(format!("seuss-files-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/a.txt"), "a").unwrap();
        let files = Files::new(vec![format!("{}:/data", dir.display()).parse().unwrap()]);
        assert!(files.resolve("/data/sub/a.txt").is_some());
        assert!(files.resolve("/data/../etc/passwd").is_none(), "no .. escapes");
        assert!(files.resolve("/etc/passwd").is_none(), "outside the mapping");
        assert!(files.resolve("/database").is_none(), "prefix of a name is not a directory");
        std::os::unix::fs::symlink("/etc/passwd", dir.join("link")).unwrap_or(());
        assert!(files.resolve("/data/link").is_none(), "symlinks cannot leave the mapping");
    }
}
