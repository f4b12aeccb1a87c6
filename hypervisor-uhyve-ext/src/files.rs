//! Guest file access through uhyve's file hypercalls, restricted to an explicit mapping.
//!
//! Like uhyve's `--file-mapping HOST:GUEST`, a guest path is reachable only if it equals a
//! mapped guest path or lies below a mapped guest directory; `..` components are refused
//! before any lookup. Everything else is `ENOENT`. Descriptors 0-2 are the console.
//!
//! The host side resolves a path in one step, in the kernel: `openat2(2)` relative to the
//! mapped directory with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`, so a symlink (or `..`
//! inside one) that leads out of the mapping fails with `EXDEV`, and there is no window
//! between a check and the open that a process swapping symlinks could use. `unlink` resolves
//! the parent directory the same way and removes the name with `unlinkat(2)`, which never
//! follows the last component. Only regular files open (a FIFO or device in the mapping is
//! refused with `EPERM` instead of blocking the host thread: the open itself is non-blocking).
//!
//! ```text
//!  guest "/data/sub/a.txt" ─ normalise, match mapping "/data" ─► (root = HOST, rel = "sub/a.txt")
//!     root opened O_PATH|O_DIRECTORY ─► openat2(root, rel, flags, RESOLVE_BENEATH) ─► fstat: regular?
//! ```

use std::collections::HashMap;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
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

    /// Where a guest path lies on the host, if the mapping allows it: the mapped host
    /// directory and the path below it (for a mapped file: its directory and its name).
    /// Nothing is resolved here; [`open_beneath`] resolves inside the kernel.
    pub fn locate(&self, guest: &str) -> Option<(PathBuf, PathBuf)> {
        let guest = normalise(guest)?;
        for m in &self.mappings {
            let rest = if guest == m.guest {
                Some("")
            } else {
                guest.strip_prefix(&m.guest).filter(|r| r.starts_with('/') || m.guest == "/")
            };
            let Some(rest) = rest.map(|r| r.trim_start_matches('/')) else { continue };
            if m.host.is_dir() {
                let rel = if rest.is_empty() { PathBuf::from(".") } else { PathBuf::from(rest) };
                return Some((m.host.clone(), rel));
            }
            // A mapped file: only the mapping's own guest path names it.
            if rest.is_empty() {
                return Some((m.host.parent()?.to_path_buf(), PathBuf::from(m.host.file_name()?)));
            }
        }
        None
    }

    /// `open(2)` with Hermit flags; a descriptor or `-errno`.
    pub fn open(&mut self, guest: &str, flags: i32, mode: i32) -> i32 {
        let Some((root, rel)) = self.locate(guest) else { return -errno::ENOENT };
        if self.open.len() >= 1000 {
            return -errno::EMFILE;
        }
        // Hermit's flag bits are Linux's for these; anything else is refused.
        const KNOWN: i32 = 0b11 | libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_APPEND;
        if flags & 0b11 == 0b11 || flags & !KNOWN != 0 {
            return -errno::EINVAL;
        }
        let mode = if flags & libc::O_CREAT != 0 { (mode as u32) & 0o777 } else { 0 };
        match open_beneath(&root, &rel, flags | libc::O_NONBLOCK | libc::O_NOCTTY, mode) {
            Ok(f) => {
                if !f.metadata().is_ok_and(|m| m.is_file()) {
                    return -errno::EPERM;
                }
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

    /// `unlink(2)`: the parent directory is resolved beneath the mapping, the last component
    /// is removed without being followed.
    pub fn unlink(&mut self, guest: &str) -> i32 {
        let Some((root, rel)) = self.locate(guest) else { return -errno::ENOENT };
        let (Some(name), parent) = (rel.file_name(), rel.parent().filter(|p| !p.as_os_str().is_empty())) else {
            return -errno::EPERM; // the mapped directory itself
        };
        let dir = match open_beneath(&root, parent.unwrap_or(Path::new(".")), libc::O_PATH | libc::O_DIRECTORY, 0) {
            Ok(d) => d,
            Err(e) => return -e.raw_os_error().unwrap_or(errno::EIO),
        };
        let Ok(name) = CString::new(name.as_bytes()) else { return -errno::EINVAL };
        // SAFETY: a valid directory descriptor and a NUL-terminated name.
        if unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) } == 0 {
            0
        } else {
            -std::io::Error::last_os_error().raw_os_error().unwrap_or(errno::EIO)
        }
    }

    /// `fstat(2)`: (mode, size, mtime seconds) or `-errno`.
    pub fn fstat(&self, fd: i32) -> Result<(u32, i64, i64, u64), i32> {
        let f = self.open.get(&fd).ok_or(errno::EBADF)?;
        let m = f.metadata().map_err(|e| e.raw_os_error().unwrap_or(errno::EIO))?;
        Ok((m.mode(), m.size() as i64, m.mtime(), m.ino()))
    }
}

/// `struct open_how` of `openat2(2)` (libc's is `#[non_exhaustive]`).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// Opens `rel` below the directory `root` with `openat2(2)`: the kernel refuses any path,
/// symlink or `..` that leaves `root` (`EXDEV`) and magic links (`/proc/self/fd/N`).
fn open_beneath(root: &Path, rel: &Path, flags: i32, mode: u32) -> std::io::Result<File> {
    let dir = OpenOptions::new().read(true).custom_flags(libc::O_PATH | libc::O_DIRECTORY).open(root)?;
    let rel = CString::new(rel.as_os_str().as_bytes()).map_err(|_| std::io::Error::from_raw_os_error(errno::EINVAL))?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: u64::from(mode),
        resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: openat2 with a valid directory descriptor, a NUL-terminated path, and an
    // `open_how` of the size passed; it returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(libc::SYS_openat2, dir.as_raw_fd(), rel.as_ptr(), &how as *const OpenHow, size_of::<OpenHow>())
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a descriptor openat2 just returned, owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("seuss-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data/sub")).unwrap();
        std::fs::write(dir.join("data/sub/a.txt"), "inside").unwrap();
        std::fs::write(dir.join("secret.txt"), "outside").unwrap();
        dir
    }

    fn read_all(files: &mut Files, guest: &str) -> Result<String, i32> {
        let fd = files.open(guest, 0, 0);
        if fd < 0 {
            return Err(-fd);
        }
        let mut buf = [0u8; 64];
        let n = files.read(fd, &mut buf);
        files.close(fd);
        Ok(String::from_utf8_lossy(&buf[..n.max(0) as usize]).into_owned())
    }

    #[test]
    fn only_mapped_paths_resolve() {
        let dir = scratch("map");
        let mut files = Files::new(vec![format!("{}:/data", dir.join("data").display()).parse().unwrap()]);
        assert_eq!(read_all(&mut files, "/data/sub/a.txt").as_deref(), Ok("inside"));
        assert_eq!(read_all(&mut files, "/data/../secret.txt"), Err(errno::ENOENT), "no .. in guest paths");
        assert_eq!(read_all(&mut files, "/etc/passwd"), Err(errno::ENOENT), "outside the mapping");
        assert_eq!(read_all(&mut files, "/database"), Err(errno::ENOENT), "prefix of a name is not a directory");
    }

    #[test]
    fn symlinks_may_not_leave_the_mapping() {
        let dir = scratch("links");
        let data = dir.join("data");
        std::os::unix::fs::symlink("/etc/passwd", data.join("abs")).unwrap();
        std::os::unix::fs::symlink("../secret.txt", data.join("rel")).unwrap();
        std::os::unix::fs::symlink("..", data.join("up")).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", data.join("inner")).unwrap();
        std::os::unix::fs::symlink("/proc/self/root/etc/passwd", data.join("magic")).unwrap();
        let mut files = Files::new(vec![format!("{}:/data", data.display()).parse().unwrap()]);
        for guest in ["/data/abs", "/data/rel", "/data/up/secret.txt", "/data/magic"] {
            assert_eq!(read_all(&mut files, guest), Err(libc::EXDEV), "{guest}");
        }
        assert_eq!(read_all(&mut files, "/data/inner").as_deref(), Ok("inside"), "links inside the mapping work");
        // Creating through a link that leaves the mapping fails too, and creates nothing.
        assert!(files.open("/data/up/created.txt", 0o1 | libc::O_CREAT, 0o644) < 0);
        assert!(!dir.join("created.txt").exists());
        // unlink removes a link, never what it points at, and resolves directories beneath.
        assert_eq!(files.unlink("/data/rel"), 0);
        assert!(dir.join("secret.txt").exists());
        assert_eq!(files.unlink("/data/up/secret.txt"), -libc::EXDEV);
        assert!(dir.join("secret.txt").exists());
    }

    #[test]
    fn a_fifo_in_the_mapping_is_refused_without_blocking() {
        let dir = scratch("fifo");
        let fifo = CString::new(dir.join("data/pipe").as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
        let mut files = Files::new(vec![format!("{}:/data", dir.join("data").display()).parse().unwrap()]);
        assert_eq!(files.open("/data/pipe", 0, 0), -errno::EPERM);
        assert!(!files.any_open());
    }

    #[test]
    fn swapping_a_symlink_during_opens_never_reaches_outside() {
        let dir = scratch("race");
        let data = dir.join("data");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let swapper = {
            let (stop, data) = (stop.clone(), data.clone());
            std::thread::spawn(move || {
                let (file, link) = (data.join("swap.file"), data.join("swap.link"));
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = std::fs::write(&file, "inside");
                    let _ = std::fs::rename(&file, data.join("swap"));
                    let _ = std::os::unix::fs::symlink("../secret.txt", &link);
                    let _ = std::fs::rename(&link, data.join("swap"));
                    n += 1;
                }
                n
            })
        };
        let mut files = Files::new(vec![format!("{}:/data", data.display()).parse().unwrap()]);
        let (mut inside, mut refused) = (0, 0);
        for _ in 0..20_000 {
            match read_all(&mut files, "/data/swap") {
                Ok(text) => {
                    assert_ne!(text, "outside", "a swapped symlink led out of the mapping");
                    inside += 1;
                }
                Err(_) => refused += 1,
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let swaps = swapper.join().unwrap();
        assert!(swaps > 0 && inside + refused == 20_000);
    }
}
