//! The page store: guest pages kept once by content, compressed, in one append-only pack file
//! per store directory. Function snapshots written into a store ([`crate::capture_in`] with a [`crate::Storage`] naming the store)
//! keep only their header in their own file and refer to their pages by hash, so identical
//! pages of thousands of functions (most of a function's diff over its runtime) cost once.
//!
//! ```text
//!  DIR/pages.pack: record record record ...        (append-only)
//!    record = hash [16] | codec u8 | len u32 LE | compressed page [len]
//!  in memory: hash -> (offset, len, codec)          (rebuilt by scanning the pack at open)
//! ```
//!
//! Tiers, coldest first: the pack on disk (the kernel's page cache keeps its hot parts in
//! memory, compressed); **mapped**: a snapshot opened through the store materialises its pages
//! into a memfd ([`PageStore::materialize`]) that clones map copy-on-write, exactly like a
//! snapshot file. Which snapshots stay materialised is the caller's budget (a cache of
//! [`crate::Loaded`]); dropping one leaves its pages in the pack, and opening it again promotes
//! it. The all-zero page is never stored. Every page read back is checked against its hash,
//! so a damaged pack is an error, never wrong guest memory. Pages are not removed (a store
//! only grows; delete the directory to start over).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use snapfmt::{PageHash, PAGE_SIZE};

const PAGE: usize = PAGE_SIZE as usize;
const RECORD_HEADER: usize = 16 + 1 + 4;
/// The pack's name inside a store directory.
pub const PACK_FILE: &str = "pages.pack";

/// How pages are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// Stored as is (incompressible pages).
    Raw = 0,
    /// zstd at the given level (the default, level 3).
    Zstd = 1,
    /// LZ4 (faster to decompress, larger).
    Lz4 = 2,
}

impl Codec {
    fn from_u8(v: u8) -> Option<Self> {
        [Codec::Raw, Codec::Zstd, Codec::Lz4].into_iter().find(|c| *c as u8 == v)
    }
}

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The pack could not be read or written.
    #[error("page store {path}: {source}")]
    Io {
        /// The pack file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A page is not in the store.
    #[error("page store {path}: page {hash:?} is missing")]
    Missing {
        /// The pack file.
        path: String,
        /// The page's hash.
        hash: PageHash,
    },
    /// A page read back does not match its hash (the pack is damaged).
    #[error("page store {path}: the page at offset {offset} is damaged ({why})")]
    Damaged {
        /// The pack file.
        path: String,
        /// Record offset.
        offset: u64,
        /// What is wrong.
        why: String,
    },
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Offset of the compressed bytes.
    offset: u64,
    len: u32,
    codec: Codec,
}

/// Counters of a store.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStats {
    /// Distinct pages kept.
    pub unique_pages: u64,
    /// Bytes of the pack file (compressed pages and record headers).
    pub pack_bytes: u64,
    /// Pages handed to [`PageStore::put`] (zero pages included).
    pub pages_put: u64,
    /// Of those, pages already present (deduplicated) or zero.
    pub pages_deduplicated: u64,
}

/// A page store in a directory (see the module docs).
pub struct PageStore {
    path: PathBuf,
    /// Reads (positioned, shareable).
    reader: File,
    /// Appends.
    writer: Mutex<File>,
    index: RwLock<HashMap<PageHash, Slot>>,
    stats: Mutex<StoreStats>,
    codec: Codec,
    zero: PageHash,
}

impl std::fmt::Debug for PageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageStore").field("path", &self.path).field("codec", &self.codec).finish_non_exhaustive()
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.display().to_string(), source }
}

impl PageStore {
    /// Opens (or creates) the store in `dir`, compressing new pages with `codec`. The pack is
    /// scanned to rebuild the index; a torn last record (a crash mid-append) is cut off.
    pub fn open(dir: &Path, codec: Codec) -> Result<Self, StoreError> {
        let path = dir.join(PACK_FILE);
        std::fs::create_dir_all(dir).map_err(io(&path))?;
        let mut writer = OpenOptions::new().read(true).append(true).create(true).open(&path).map_err(io(&path))?;
        let mut index = HashMap::new();
        let mut buf = Vec::new();
        writer.seek(SeekFrom::Start(0)).map_err(io(&path))?;
        writer.read_to_end(&mut buf).map_err(io(&path))?;
        let mut at = 0usize;
        while at + RECORD_HEADER <= buf.len() {
            let hash = PageHash(buf[at..at + 16].try_into().expect("16 bytes"));
            let codec = Codec::from_u8(buf[at + 16]);
            let len = u32::from_le_bytes(buf[at + 17..at + 21].try_into().expect("4 bytes"));
            let end = at + RECORD_HEADER + len as usize;
            let (Some(codec), true) = (codec, end <= buf.len() && len as usize <= PAGE + 1024) else { break };
            index.insert(hash, Slot { offset: (at + RECORD_HEADER) as u64, len, codec });
            at = end;
        }
        if at < buf.len() {
            tracing::warn!(path = %path.display(), at, len = buf.len(), "cutting a torn record off the page pack");
            writer.set_len(at as u64).map_err(io(&path))?;
        }
        let reader = File::open(&path).map_err(io(&path))?;
        let stats = StoreStats { unique_pages: index.len() as u64, pack_bytes: at as u64, ..Default::default() };
        Ok(Self { path, reader, writer: Mutex::new(writer), index: RwLock::new(index), stats: Mutex::new(stats), codec, zero: PageHash::zero() })
    }

    /// The pack file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counters.
    pub fn stats(&self) -> StoreStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `hash` is available (stored, or the zero page).
    pub fn contains(&self, hash: &PageHash) -> bool {
        *hash == self.zero || self.index.read().unwrap_or_else(|e| e.into_inner()).contains_key(hash)
    }

    /// Keeps `page` (one page) and returns its hash; present pages and the zero page cost
    /// nothing.
    pub fn put(&self, page: &[u8]) -> Result<PageHash, StoreError> {
        let hash = PageHash::of(page);
        let known = hash == self.zero || self.index.read().unwrap_or_else(|e| e.into_inner()).contains_key(&hash);
        {
            let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
            s.pages_put += 1;
            if known {
                s.pages_deduplicated += 1;
            }
        }
        if known {
            return Ok(hash);
        }
        let (codec, bytes) = compress(self.codec, page);
        let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        // Another writer may have stored it meanwhile.
        if self.index.read().unwrap_or_else(|e| e.into_inner()).contains_key(&hash) {
            return Ok(hash);
        }
        let offset = writer.seek(SeekFrom::End(0)).map_err(io(&self.path))?;
        let mut record = Vec::with_capacity(RECORD_HEADER + bytes.len());
        record.extend_from_slice(&hash.0);
        record.push(codec as u8);
        record.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        record.extend_from_slice(&bytes);
        writer.write_all(&record).map_err(io(&self.path))?;
        let slot = Slot { offset: offset + RECORD_HEADER as u64, len: bytes.len() as u32, codec };
        self.index.write().unwrap_or_else(|e| e.into_inner()).insert(hash, slot);
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        s.unique_pages += 1;
        s.pack_bytes += record.len() as u64;
        Ok(hash)
    }

    /// Makes everything put so far durable (fsync of the pack).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner()).sync_data().map_err(io(&self.path))
    }

    /// The page with `hash` into `out` (one page), checked against its hash.
    pub fn get(&self, hash: &PageHash, out: &mut [u8]) -> Result<(), StoreError> {
        if *hash == self.zero {
            out.fill(0);
            return Ok(());
        }
        let slot = self
            .index
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .copied()
            .ok_or_else(|| StoreError::Missing { path: self.path.display().to_string(), hash: *hash })?;
        let mut bytes = vec![0u8; slot.len as usize];
        self.reader.read_exact_at(&mut bytes, slot.offset).map_err(io(&self.path))?;
        let damaged = |why: String| StoreError::Damaged { path: self.path.display().to_string(), offset: slot.offset, why };
        decompress(slot.codec, &bytes, out).map_err(damaged)?;
        if PageHash::of(out) != *hash {
            return Err(damaged("content does not match its hash".into()));
        }
        Ok(())
    }

    /// Writes the pages `hashes` (in order) into a new anonymous memory file, which clones map
    /// like a snapshot file's data section.
    pub fn materialize(&self, hashes: &[PageHash]) -> Result<OwnedFd, StoreError> {
        let name = c"seuss-pages";
        // SAFETY: memfd_create with a valid NUL-terminated name; the fd is owned below.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io(&self.path)(std::io::Error::last_os_error()));
        }
        // SAFETY: a fresh descriptor nothing else owns.
        let file = unsafe { File::from_raw_fd(fd) };
        file.set_len((hashes.len() * PAGE) as u64).map_err(io(&self.path))?;
        let mut page = vec![0u8; PAGE];
        for (i, h) in hashes.iter().enumerate() {
            if *h == self.zero {
                continue; // a fresh memfd reads as zeros
            }
            self.get(h, &mut page)?;
            file.write_all_at(&page, (i * PAGE) as u64).map_err(io(&self.path))?;
        }
        let fd: OwnedFd = file.into();
        debug_assert!(fd.as_raw_fd() >= 0);
        Ok(fd)
    }
}

/// Compresses one page; incompressible pages are kept raw.
pub fn compress(codec: Codec, page: &[u8]) -> (Codec, Vec<u8>) {
    let out = match codec {
        Codec::Raw => None,
        Codec::Zstd => zstd::bulk::compress(page, 3).ok(),
        Codec::Lz4 => Some(lz4_flex::block::compress(page)),
    };
    match out {
        Some(b) if b.len() < page.len() => (codec, b),
        _ => (Codec::Raw, page.to_vec()),
    }
}

fn decompress(codec: Codec, bytes: &[u8], out: &mut [u8]) -> Result<(), String> {
    let n = match codec {
        Codec::Raw => {
            if bytes.len() != out.len() {
                return Err(format!("raw page of {} bytes", bytes.len()));
            }
            out.copy_from_slice(bytes);
            out.len()
        }
        Codec::Zstd => zstd::bulk::decompress_to_buffer(bytes, out).map_err(|e| e.to_string())?,
        Codec::Lz4 => lz4_flex::block::decompress_into(bytes, out).map_err(|e| e.to_string())?,
    };
    if n != out.len() {
        return Err(format!("decompressed to {n} bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_kept_once_compressed_and_checked() {
        let dir = std::env::temp_dir().join(format!("seuss-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let s = PageStore::open(&dir, Codec::Zstd).unwrap();
        let a = vec![7u8; PAGE];
        let mut b = vec![0u8; PAGE];
        b[..11].copy_from_slice(b"hello world");
        let ha = s.put(&a).unwrap();
        assert_eq!(s.put(&a).unwrap(), ha, "same content, same hash");
        let hb = s.put(&b).unwrap();
        let hz = s.put(&vec![0u8; PAGE]).unwrap();
        let st = s.stats();
        assert_eq!((st.unique_pages, st.pages_put, st.pages_deduplicated), (2, 4, 2));
        assert!(st.pack_bytes < 200, "two compressible pages take {} bytes", st.pack_bytes);
        let mut out = vec![1u8; PAGE];
        s.get(&hb, &mut out).unwrap();
        assert_eq!(out, b);
        s.get(&hz, &mut out).unwrap();
        assert!(out.iter().all(|&x| x == 0));
        drop(s);
        // Reopen: the index is rebuilt from the pack; a torn tail is cut off.
        std::fs::OpenOptions::new().append(true).open(dir.join(PACK_FILE)).unwrap().write_all(&[1, 2, 3]).unwrap();
        let s = PageStore::open(&dir, Codec::Lz4).unwrap();
        assert_eq!(s.stats().unique_pages, 2);
        s.get(&ha, &mut out).unwrap();
        assert_eq!(out, a);
        let fd = s.materialize(&[hb, hz, ha]).unwrap();
        let f = File::from(fd);
        let mut all = vec![0u8; 3 * PAGE];
        f.read_exact_at(&mut all, 0).unwrap();
        assert_eq!(&all[..PAGE], &b[..]);
        assert!(all[PAGE..2 * PAGE].iter().all(|&x| x == 0));
        assert_eq!(&all[2 * PAGE..], &a[..]);
        // A damaged page is an error, not wrong content.
        let pack = dir.join(PACK_FILE);
        let mut bytes = std::fs::read(&pack).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&pack, &bytes).unwrap();
        let s = PageStore::open(&dir, Codec::Zstd).unwrap();
        assert!(s.get(&hb, &mut out).is_err());
        assert!(matches!(s.get(&PageHash::of(&[9u8; PAGE]), &mut out), Err(StoreError::Missing { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
