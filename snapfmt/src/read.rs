//! Reading snapshots: [`decode`] from memory, [`Snapshot::open`] from a file. Both run the
//! same checks in the same order:
//!
//! 1. the file holds a whole preamble, else [`SnapError::Truncated`];
//! 2. magic ([`SnapError::Foreign`]), preamble checksum, version, flags;
//! 3. header length at most [`MAX_HEADER_LEN`] and the file long enough for the header;
//! 4. header checksum, postcard decoding (nothing may follow the header), [`Header::validate`];
//! 5. the preamble's data offset and length agree with the header;
//! 6. the file size is exactly `data_offset + data_len` (shorter: truncated, longer:
//!    trailing bytes), and the padding is zero;
//! 7. the data checksum;
//! 8. with a [`StoreKey`]: the file is authenticated and its tag is right.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::error::{inconsistent, SnapError};
use crate::header::Header;
use crate::id::SnapshotId;
use crate::key::StoreKey;
use crate::layout::{data_offset_for, Preamble, MAX_HEADER_LEN, PAGE_SIZE, PREAMBLE_SIZE};

/// Size of the chunks [`Snapshot::open`] reads the data in to check its checksum.
const CHECKSUM_CHUNK: usize = 1 << 20;

/// Decoded metadata of a snapshot held in memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The header.
    pub header: Header,
    /// The snapshot's id.
    pub id: SnapshotId,
    /// Offset of the data in the file, a multiple of [`PAGE_SIZE`].
    pub data_offset: u64,
    /// Length of the data in bytes.
    pub data_len: u64,
    /// The file carries an authentication tag (checked when a key was given).
    pub authenticated: bool,
}

/// Parses and fully validates a whole snapshot file held in memory (used by the fuzz target
/// and tests). A tag, if present, is not checked (no key).
pub fn decode(bytes: &[u8]) -> Result<Decoded, SnapError> {
    decode_with(bytes, None)
}

/// [`decode`], and with `key` the file must be authenticated by it ([`StoreKey`]).
pub fn decode_with(bytes: &[u8], key: Option<&StoreKey>) -> Result<Decoded, SnapError> {
    let file_len = bytes.len() as u64;
    let p = check_preamble(bytes, file_len)?;
    // Every offset below is at most file_len (checked), so it fits in usize.
    let header_end = (PREAMBLE_SIZE + p.header_len) as usize;
    let header_bytes = &bytes[PREAMBLE_SIZE as usize..header_end];
    let header = check_header(&p, header_bytes, file_len)?;
    check_padding(&bytes[header_end..p.data_offset as usize])?;
    let data_end = (p.data_offset + p.data_len) as usize;
    if xxh3_64(&bytes[p.data_offset as usize..data_end]) != p.data_checksum {
        return Err(SnapError::DataChecksum);
    }
    if let Some(key) = key {
        let mut h = key.hasher();
        h.update(&bytes[..data_end]);
        check_tag(&p, &h, &bytes[data_end..])?;
    }
    Ok(Decoded {
        header,
        id: compute_id(header_bytes, p.data_checksum),
        data_offset: p.data_offset,
        data_len: p.data_len,
        authenticated: p.trailer_len() > 0,
    })
}

/// Step 8: the file is authenticated and `tag` is what the keyed hasher of its bytes says.
fn check_tag(p: &Preamble, hasher: &blake3::Hasher, tag: &[u8]) -> Result<(), SnapError> {
    if p.trailer_len() == 0 {
        return Err(SnapError::Unauthenticated("the file carries no authentication tag (written without this store's key)".into()));
    }
    if !StoreKey::verify(hasher, tag) {
        return Err(SnapError::Unauthenticated("the authentication tag does not match this store's key (written by someone else, or modified)".into()));
    }
    Ok(())
}

/// An open, validated snapshot file.
#[derive(Debug)]
pub struct Snapshot {
    header: Header,
    id: SnapshotId,
    data_offset: u64,
    data_len: u64,
    file: File,
    path: PathBuf,
    authenticated: bool,
}

impl Snapshot {
    /// Opens and fully validates the snapshot at `path`: preamble, header, consistency, file
    /// size and the data checksum (reading the data through a buffered reader in 1 MiB
    /// chunks). A tag, if present, is not checked (no key): see [`Snapshot::open_with`].
    pub fn open(path: &Path) -> Result<Snapshot, SnapError> {
        Self::open_with(path, None)
    }

    /// [`Snapshot::open`], and with `key` the file must carry this key's tag
    /// ([`SnapError::Unauthenticated`] otherwise; see [`StoreKey`]).
    pub fn open_with(path: &Path, key: Option<&StoreKey>) -> Result<Snapshot, SnapError> {
        // O_NONBLOCK: opening a FIFO must not wait for a writer; anything but a regular file
        // is refused right after.
        let file = std::fs::OpenOptions::new().read(true).custom_flags(libc_o_nonblock()).open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(SnapError::NotAFile);
        }
        let file_len = meta.len();

        let mut preamble = [0u8; PREAMBLE_SIZE as usize];
        let n = file_len.min(PREAMBLE_SIZE) as usize;
        read_exact_at(&file, &mut preamble[..n], 0, file_len)?;
        let p = check_preamble(&preamble[..n], file_len)?;

        // header_len <= MAX_HEADER_LEN and the file holds it (checked): bounded allocation.
        let mut header_bytes = vec![0u8; p.header_len as usize];
        read_exact_at(&file, &mut header_bytes, PREAMBLE_SIZE, file_len)?;
        let header = check_header(&p, &header_bytes, file_len)?;

        let header_end = PREAMBLE_SIZE + p.header_len;
        let mut padding = vec![0u8; (p.data_offset - header_end) as usize]; // < PAGE_SIZE
        read_exact_at(&file, &mut padding, header_end, file_len)?;
        check_padding(&padding)?;

        let mut keyed = key.map(|k| {
            let mut h = k.hasher();
            h.update(&preamble);
            h.update(&header_bytes);
            h.update(&padding);
            h
        });
        check_data(&file, p.data_offset, p.data_len, p.data_checksum, keyed.as_mut())?;
        if let Some(h) = &keyed {
            let mut tag = vec![0u8; p.trailer_len() as usize];
            read_exact_at(&file, &mut tag, p.data_offset + p.data_len, file_len)?;
            check_tag(&p, h, &tag)?;
        }
        Ok(Snapshot {
            header,
            id: compute_id(&header_bytes, p.data_checksum),
            data_offset: p.data_offset,
            data_len: p.data_len,
            file,
            path: path.to_path_buf(),
            authenticated: p.trailer_len() > 0,
        })
    }

    /// Whether the file carries an authentication tag (checked by [`Snapshot::open_with`]
    /// with a key; not checked by [`Snapshot::open`]).
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// The file's size: preamble, header, padding, data and tag.
    pub fn file_len(&self) -> u64 {
        self.data_offset + self.data_len + if self.authenticated { crate::layout::TAG_SIZE } else { 0 }
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The snapshot's id.
    pub fn id(&self) -> SnapshotId {
        self.id
    }

    /// Offset of the data in the file, a multiple of [`PAGE_SIZE`].
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Length of the data in bytes (`header().stored_pages() * PAGE_SIZE`).
    pub fn data_len(&self) -> u64 {
        self.data_len
    }

    /// The open file, for mapping the data.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The path the snapshot was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks that `parent` is this snapshot's parent (ids match); errors:
    /// [`SnapError::MissingParent`] if this snapshot has a parent and `parent` is `None`;
    /// [`SnapError::NotAParentSnapshot`] if it has none but one is given;
    /// [`SnapError::WrongParent`] on mismatch.
    pub fn check_parent(&self, parent: Option<&Snapshot>) -> Result<(), SnapError> {
        match (&self.header.parent, parent) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err(SnapError::NotAParentSnapshot),
            (Some(want), None) => Err(SnapError::MissingParent(want.id)),
            (Some(want), Some(given)) if want.id == given.id() => Ok(()),
            (Some(want), Some(given)) => Err(SnapError::WrongParent { expected: want.id, found: given.id() }),
        }
    }

    /// Reads stored page number `index` (0-based in file order) into `buf`, which must be
    /// [`PAGE_SIZE`] bytes long; a wrong length or an index past the stored pages is an
    /// [`io::ErrorKind::InvalidInput`] error.
    pub fn read_page(&self, index: u64, buf: &mut [u8]) -> Result<(), SnapError> {
        if let crate::header::Pages::Store(_) = self.header.pages {
            return Err(invalid_input("this snapshot's pages are in a page store, not in the file".into()));
        }
        if buf.len() as u64 != PAGE_SIZE {
            return Err(invalid_input(format!("page buffer has {} bytes, not {PAGE_SIZE}", buf.len())));
        }
        let stored = self.data_len / PAGE_SIZE;
        if index >= stored {
            return Err(invalid_input(format!("page {index} is past the {stored} stored pages")));
        }
        // index < stored, so the offset lies inside the validated file.
        let offset = self.data_offset + index * PAGE_SIZE;
        self.file.read_exact_at(buf, offset)?;
        Ok(())
    }
}

/// `O_NONBLOCK` on Linux (x86-64 and aarch64 agree), without a libc dependency.
const fn libc_o_nonblock() -> i32 {
    0o4000
}

/// The id of a snapshot: `xxh3_128(header_bytes ++ data_checksum.to_le_bytes())`, big-endian.
pub(crate) fn compute_id(header_bytes: &[u8], data_checksum: u64) -> SnapshotId {
    let mut h = Xxh3::new();
    h.update(header_bytes);
    h.update(&data_checksum.to_le_bytes());
    SnapshotId(h.digest128().to_be_bytes())
}

/// Steps 1–3: `prefix` holds the file's first `min(file_len, 64)` bytes.
fn check_preamble(prefix: &[u8], file_len: u64) -> Result<Preamble, SnapError> {
    let Some(bytes) = prefix.first_chunk::<{ PREAMBLE_SIZE as usize }>() else {
        return Err(SnapError::Truncated { needed: PREAMBLE_SIZE, actual: file_len });
    };
    if file_len < PREAMBLE_SIZE {
        return Err(SnapError::Truncated { needed: PREAMBLE_SIZE, actual: file_len });
    }
    let p = Preamble::parse(bytes)?;
    if p.header_len > MAX_HEADER_LEN {
        return Err(inconsistent(format!("header length {} exceeds {MAX_HEADER_LEN}", p.header_len)));
    }
    let needed = PREAMBLE_SIZE + p.header_len;
    if file_len < needed {
        return Err(SnapError::Truncated { needed, actual: file_len });
    }
    Ok(p)
}

/// Steps 4–6 (without the padding): decodes and checks the header against the preamble and
/// the file size.
fn check_header(p: &Preamble, header_bytes: &[u8], file_len: u64) -> Result<Header, SnapError> {
    if xxh3_64(header_bytes) != p.header_checksum {
        return Err(SnapError::HeaderChecksum);
    }
    let (header, rest) =
        postcard::take_from_bytes::<Header>(header_bytes).map_err(|e| SnapError::Header(e.to_string()))?;
    if !rest.is_empty() {
        return Err(SnapError::Header(format!("{} bytes follow the encoded header", rest.len())));
    }
    header.validate()?;
    let data_offset = data_offset_for(p.header_len).ok_or_else(|| inconsistent("header length overflows"))?;
    if p.data_offset != data_offset {
        return Err(inconsistent(format!(
            "data offset {} should be {data_offset} for a header of {} bytes",
            p.data_offset, p.header_len
        )));
    }
    let data_len = header.data_len()?;
    if p.data_len != data_len {
        return Err(inconsistent(format!(
            "data length {} does not match the {data_len} bytes of the header's runs",
            p.data_len
        )));
    }
    let needed = data_offset
        .checked_add(data_len)
        .and_then(|n| n.checked_add(p.trailer_len()))
        .ok_or_else(|| inconsistent("file size overflows"))?;
    if file_len < needed {
        return Err(SnapError::Truncated { needed, actual: file_len });
    }
    if file_len > needed {
        return Err(inconsistent(format!("{} trailing bytes after the data", file_len - needed)));
    }
    Ok(header)
}

fn check_padding(padding: &[u8]) -> Result<(), SnapError> {
    if padding.iter().any(|&b| b != 0) {
        return Err(inconsistent("padding before the data is not zero"));
    }
    Ok(())
}

/// Step 7 for a file: streams the data through xxh3 (and the keyed hasher of step 8, if any)
/// in [`CHECKSUM_CHUNK`] pieces.
fn check_data(
    file: &File,
    data_offset: u64,
    data_len: u64,
    checksum: u64,
    mut keyed: Option<&mut blake3::Hasher>,
) -> Result<(), SnapError> {
    let mut f = file;
    f.seek(SeekFrom::Start(data_offset))?;
    let mut reader = BufReader::with_capacity(CHECKSUM_CHUNK, f.take(data_len));
    let mut hasher = Xxh3::new();
    let mut seen = 0u64;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            break;
        }
        hasher.update(chunk);
        if let Some(k) = keyed.as_deref_mut() {
            k.update(chunk);
        }
        let n = chunk.len();
        seen += n as u64;
        reader.consume(n);
    }
    if seen != data_len {
        // The file shrank after its size was checked.
        let needed = data_offset.saturating_add(data_len);
        return Err(SnapError::Truncated { needed, actual: data_offset.saturating_add(seen) });
    }
    if hasher.digest() != checksum {
        return Err(SnapError::DataChecksum);
    }
    Ok(())
}

/// `read_exact_at`, reporting a file that shrank since `file_len` was taken as truncated.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64, file_len: u64) -> Result<(), SnapError> {
    match file.read_exact_at(buf, offset) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(SnapError::Truncated {
            needed: offset.saturating_add(buf.len() as u64),
            actual: file_len,
        }),
        Err(e) => Err(e.into()),
    }
}

fn invalid_input(msg: String) -> SnapError {
    SnapError::Io(io::Error::new(io::ErrorKind::InvalidInput, msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use xxhash_rust::xxh3::xxh3_128;

    #[test]
    fn id_is_xxh3_128_of_header_and_data_checksum() {
        for len in [0usize, 1, 15, 16, 17, 128, 129, 240, 241, 1000, 5000] {
            let header: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let sum = 0x0123_4567_89ab_cdefu64;
            let mut all = header.clone();
            all.extend_from_slice(&sum.to_le_bytes());
            assert_eq!(compute_id(&header, sum), SnapshotId(xxh3_128(&all).to_be_bytes()), "len {len}");
        }
    }
}
