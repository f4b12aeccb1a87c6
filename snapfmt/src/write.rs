//! Writing snapshots: [`encode`] to memory, [`write()`] atomically to a file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use xxhash_rust::xxh3::xxh3_64;

use crate::error::{inconsistent, SnapError};
use crate::header::Header;
use crate::id::SnapshotId;
use crate::key::StoreKey;
use crate::layout::{data_offset_for, Preamble, FLAG_AUTHENTICATED, MAX_HEADER_LEN};
use crate::read::compute_id;

/// Everything of a file before its data (preamble, header, zero padding) and after it (the
/// tag of an authenticated file).
struct Head {
    bytes: Vec<u8>,
    id: SnapshotId,
    tag: Vec<u8>,
}

/// Validates `header` and `data` and lays out the file's head (and tag, with a key).
fn prepare(header: &Header, data: &[u8], key: Option<&StoreKey>) -> Result<Head, SnapError> {
    header.validate()?;
    let data_len = header.data_len()?;
    if data.len() as u64 != data_len {
        return Err(inconsistent(format!(
            "data has {} bytes, but the header's runs describe {data_len}",
            data.len()
        )));
    }
    let header_bytes = postcard::to_stdvec(header).map_err(|e| SnapError::Header(e.to_string()))?;
    let header_len = header_bytes.len() as u64;
    if header_len > MAX_HEADER_LEN {
        return Err(inconsistent(format!("header of {header_len} bytes exceeds {MAX_HEADER_LEN}")));
    }
    let data_offset = data_offset_for(header_len).ok_or_else(|| inconsistent("header length overflows"))?;
    let data_checksum = xxh3_64(data);
    let preamble = Preamble {
        header_len,
        header_checksum: xxh3_64(&header_bytes),
        data_offset,
        data_len,
        data_checksum,
        flags: if key.is_some() { FLAG_AUTHENTICATED } else { 0 },
    };
    let id = compute_id(&header_bytes, data_checksum);
    // data_offset <= 64 + MAX_HEADER_LEN + PAGE_SIZE, so it fits in usize.
    let mut bytes = Vec::with_capacity(data_offset as usize);
    bytes.extend_from_slice(&preamble.to_bytes());
    bytes.extend_from_slice(&header_bytes);
    bytes.resize(data_offset as usize, 0);
    let tag = match key {
        Some(k) => {
            let mut h = k.hasher();
            h.update(&bytes);
            h.update(data);
            h.finalize().as_bytes().to_vec()
        }
        None => Vec::new(),
    };
    Ok(Head { bytes, id, tag })
}

/// Encodes a whole snapshot file in memory (for tests, fuzz seeds and tools; the
/// hypervisor uses [`write()`]). Same checks and errors as [`write()`].
pub fn encode(header: &Header, data: &[u8]) -> Result<(Vec<u8>, SnapshotId), SnapError> {
    encode_with(header, data, None)
}

/// [`encode`], authenticated with `key` when given (see [`StoreKey`]).
pub fn encode_with(header: &Header, data: &[u8], key: Option<&StoreKey>) -> Result<(Vec<u8>, SnapshotId), SnapError> {
    let Head { mut bytes, id, tag } = prepare(header, data, key)?;
    bytes.extend_from_slice(data);
    bytes.extend_from_slice(&tag);
    Ok((bytes, id))
}

/// Frames `header_bytes` (taken as an already encoded header, valid or not) and `data` as a
/// snapshot file with a correct preamble: length, offsets and checksums all agree. Fuzzing
/// and tests use it to reach the header decoder and the consistency rules behind the
/// checksums; [`decode`](crate::decode) must refuse anything invalid with a
/// [`SnapError`], never panic.
pub fn frame(header_bytes: &[u8], data: &[u8]) -> Vec<u8> {
    let header_len = header_bytes.len() as u64;
    // A header longer than the reader accepts still gets a well-formed preamble: the reader
    // refuses its length.
    let data_offset = data_offset_for(header_len).unwrap_or(u64::MAX);
    let preamble = Preamble {
        header_len,
        header_checksum: xxh3_64(header_bytes),
        data_offset,
        data_len: data.len() as u64,
        data_checksum: xxh3_64(data),
        flags: 0,
    };
    let mut bytes = preamble.to_bytes().to_vec();
    bytes.extend_from_slice(header_bytes);
    if let Ok(end) = usize::try_from(data_offset) {
        bytes.resize(end.max(bytes.len()), 0);
    }
    bytes.extend_from_slice(data);
    bytes
}

/// Writes a snapshot to `path` atomically and returns its id.
///
/// The header is validated ([`Header::validate`]) and `data`, the stored pages concatenated
/// in run order, must be exactly `header.stored_pages() * PAGE_SIZE` bytes; otherwise this
/// fails with [`SnapError::Inconsistent`] before touching the file system. The file is
/// written to a temporary file in the same directory, synced, renamed over `path` and the
/// directory synced: readers see the old file or the complete new one, never a part. On
/// failure the temporary file is removed and an existing `path` is left as it was.
pub fn write(path: &Path, header: &Header, data: &[u8]) -> Result<SnapshotId, SnapError> {
    write_with(path, header, data, None)
}

/// [`write()`], authenticated with `key` when given: the file carries a keyed BLAKE3 tag that
/// [`Snapshot::open_with`](crate::Snapshot::open_with) checks (see [`StoreKey`]).
pub fn write_with(path: &Path, header: &Header, data: &[u8], key: Option<&StoreKey>) -> Result<SnapshotId, SnapError> {
    let head = prepare(header, data, key)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{} names no file", path.display())))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };

    let (file, temp) = create_temp(dir, name)?;
    let guard = RemoveOnDrop(Some(temp.clone()));
    write_all_and_sync(file, &head.bytes, data, &head.tag)?;
    fs::rename(&temp, path)?;
    guard.disarm();
    File::open(dir)?.sync_all()?;
    Ok(head.id)
}

fn write_all_and_sync(mut file: File, head: &[u8], data: &[u8], tag: &[u8]) -> io::Result<()> {
    file.write_all(head)?;
    file.write_all(data)?;
    file.write_all(tag)?;
    file.sync_all()
}

/// Creates a new, unique temporary file `.<name>.tmp-<pid>-<n>-<nanos>` in `dir`.
fn create_temp(dir: &Path, name: &std::ffi::OsStr) -> io::Result<(File, PathBuf)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let mut last_err = None;
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".tmp-{}-{n}-{nanos}", std::process::id()));
        let temp = dir.join(temp_name);
        match OpenOptions::new().write(true).create_new(true).open(&temp) {
            Ok(f) => return Ok((f, temp)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_err.unwrap_or_else(|| io::Error::other("no temporary file name was free")))
}

/// Removes the temporary file unless disarmed (after the rename).
struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}
