//! `snapfmt`: the on-disk format of a snapshot of a guest (a paused VM: vCPU state plus the
//! guest pages worth keeping), written by the hypervisor and mapped back by it on restore.
//!
//! # File layout
//!
//! All integers are little-endian.
//!
//! ```text
//!  offset
//!       0 +-----------------------------------------------------------------+
//!         | preamble, PREAMBLE_SIZE = 64 bytes                              |
//!         |    0  magic              [u8; 8]  b"SEUSSNP\0"                 |
//!         |    8  format_version     u32      FORMAT_VERSION               |
//!         |   12  flags              u32      0 or FLAG_AUTHENTICATED      |
//!         |   16  header_len         u64                                   |
//!         |   24  header_checksum    u64      xxh3_64(header)              |
//!         |   32  data_offset        u64      align_up(64 + header_len)    |
//!         |   40  data_len           u64      stored_pages * PAGE_SIZE     |
//!         |   48  data_checksum      u64      xxh3_64(data)                |
//!         |   56  preamble_checksum  u64      xxh3_64(bytes 0..56)         |
//!      64 +-----------------------------------------------------------------+
//!         | header: postcard-encoded `Header`, header_len bytes             |
//!         |   (kind, image, memory, parent, vCPU, runs, pages, CPU) |
//!  64+hl  +-----------------------------------------------------------------+
//!         | zero padding up to the next PAGE_SIZE boundary                  |
//!  data_  +-----------------------------------------------------------------+
//!  offset | data: the stored guest pages, PAGE_SIZE bytes each, in file     |
//!         | order: run 0's pages, then run 1's, ...                         |
//!         |   run i covers guest pages first_page .. first_page + count,   |
//!         |   page p at guest-physical guest_memory_base + p * PAGE_SIZE    |
//!  data_  +-----------------------------------------------------------------+
//!  end    | tag, TAG_SIZE = 32 bytes, only with FLAG_AUTHENTICATED:          |
//!         |   blake3::keyed_hash(store key, every byte before the tag)      |
//!   end   +-----------------------------------------------------------------+
//!         file size == data_offset + data_len (+ TAG_SIZE), exactly
//! ```
//!
//! A snapshot's [`SnapshotId`] is `xxh3_128(header bytes ++ data_checksum.to_le_bytes())`,
//! stored as the big-endian bytes of the `u128`: it names the content, so writing the same
//! header and pages twice gives the same id. A function snapshot names its runtime
//! snapshot by id in [`Header::parent`]; [`Snapshot::check_parent`] enforces the link.
//!
//! The version rule is stated once, on [`FORMAT_VERSION`].
//!
//! # Authentication
//!
//! Checksums catch corruption, not forgery. A store that must accept only its own files keeps
//! a [`StoreKey`] ([`StoreKey::load_or_create`]: `.seuss-store.key` in the store directory)
//! and uses [`write_with`] / [`Snapshot::open_with`] (or [`encode_with`] / [`decode_with`]):
//! the writer appends a keyed BLAKE3 tag of every byte of the file before it, the reader
//! with a key refuses files without a tag or with a wrong one
//! ([`SnapError::Unauthenticated`]). Readers without a key accept tagged files (the checksums
//! still apply).
//!
//! # Reading and writing
//!
//! [`write()`] writes a file atomically; [`Snapshot::open`] validates a whole file (preamble,
//! header, consistency, size, data checksum) before handing it out; [`decode`] does the same
//! for a file held in memory. The reader never panics on malformed input: every error is a
//! [`SnapError`]. Two fuzz targets check that (`cargo xtask fuzz`, with cargo-fuzz):
//! `fuzz/fuzz_targets/reader.rs` feeds whole files, `fuzz/fuzz_targets/header.rs` feeds
//! header bytes framed with correct checksums ([`frame`]), so every input reaches the header
//! decoder and the consistency rules; `tests/fuzz_smoke.rs` runs the same properties on
//! deterministic mutations in the ordinary test suite.
//!
//! ```no_run
//! use snapfmt::{Snapshot, PAGE_SIZE};
//! # fn demo(header: snapfmt::Header, pages: Vec<u8>) -> Result<(), snapfmt::SnapError> {
//! let path = std::path::Path::new("/var/lib/seuss/hello.snap");
//! // `pages` holds header.stored_pages() pages, run after run.
//! let id = snapfmt::write(path, &header, &pages)?;
//! let snap = Snapshot::open(path)?; // fully validated, data checksum included
//! assert_eq!(snap.id(), id);
//! snap.check_parent(None)?; // a runtime snapshot has no parent
//! let mut page = vec![0u8; PAGE_SIZE as usize];
//! snap.read_page(0, &mut page)?; // or mmap snap.file() at snap.data_offset()
//! # Ok(()) }
//! ```
//!
//! # Modules
//!
//! | module | concern |
//! |---|---|
//! | `layout` | constants and the 64-byte preamble |
//! | `header` | the header types and their consistency rules |
//! | `id` | [`SnapshotId`] and its hex text form |
//! | `read` | [`decode`], [`Snapshot`] |
//! | `write` | [`write()`], [`write_with`], [`encode`], [`encode_with`], [`frame`] (fuzzing and tests) |
//! | `key` | [`StoreKey`]: the per-store authentication key |
//! | `error` | [`SnapError`] |

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod header;
mod id;
mod key;
mod layout;
mod read;
mod write;

pub use error::SnapError;
pub use header::{CpuContract, CpuidLeaf, Header, ImageRef, Kind, PageHash, PageRun, Pages, ParentRef, VcpuState};
pub use id::{ParseSnapshotIdError, SnapshotId};
pub use key::{StoreKey, KEY_FILE};
pub use layout::{FLAG_AUTHENTICATED, FORMAT_VERSION, MAGIC, MAX_HEADER_LEN, PAGE_SIZE, PREAMBLE_SIZE, TAG_SIZE};
pub use read::{decode, decode_with, Decoded, Snapshot};
pub use write::{encode, encode_with, frame, write, write_with};
