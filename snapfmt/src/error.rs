//! The errors of reading and writing snapshots.

use crate::id::SnapshotId;

/// Why a snapshot could not be read, validated or written.
#[derive(Debug, thiserror::Error)]
pub enum SnapError {
    /// The file could not be read or written.
    #[error("I/O error on snapshot: {0}")]
    Io(#[from] std::io::Error),
    /// The path is not a regular file (a FIFO, a device, a directory).
    #[error("not a regular file")]
    NotAFile,
    /// The file is shorter than its preamble says it must be.
    #[error("truncated snapshot: file has {actual} bytes, needs {needed}")]
    Truncated {
        /// Bytes the file needs.
        needed: u64,
        /// Bytes the file has.
        actual: u64,
    },
    /// The file does not start with [`MAGIC`](crate::MAGIC).
    #[error("not a snapshot file (bad magic)")]
    Foreign,
    /// The file was written in another format version.
    #[error("snapshot format version {found} is not supported (this build reads version {supported})")]
    Version {
        /// Version in the file.
        found: u32,
        /// The version this build reads, [`FORMAT_VERSION`](crate::FORMAT_VERSION).
        supported: u32,
    },
    /// The preamble's own checksum does not match.
    #[error("snapshot preamble checksum mismatch: the file is corrupt or was modified")]
    PreambleChecksum,
    /// The header's checksum does not match.
    #[error("snapshot header checksum mismatch: the file is corrupt or was modified")]
    HeaderChecksum,
    /// The data's checksum does not match.
    #[error("snapshot data checksum mismatch: the file is corrupt or was modified")]
    DataChecksum,
    /// The header bytes are not a valid encoded [`Header`](crate::Header).
    #[error("snapshot header cannot be decoded: {0}")]
    Header(String),
    /// The preamble, header, data and file size do not agree with each other.
    #[error("inconsistent snapshot: {0}")]
    Inconsistent(String),
    /// A key was given and the file is not authenticated by it (no tag, or a wrong one).
    #[error("snapshot is not authenticated by this store's key: {0}")]
    Unauthenticated(String),
    /// The parent given is not the snapshot this one was taken from.
    #[error("snapshot was taken from parent {expected}, but the parent given is {found}")]
    WrongParent {
        /// The parent recorded in this snapshot.
        expected: SnapshotId,
        /// The id of the parent given.
        found: SnapshotId,
    },
    /// A parent was given for a snapshot that has none.
    #[error("this snapshot has no parent, but a parent was given")]
    NotAParentSnapshot,
    /// No parent was given for a snapshot that needs one.
    #[error("this snapshot needs its parent snapshot {0}")]
    MissingParent(SnapshotId),
}

/// Shorthand for [`SnapError::Inconsistent`].
pub(crate) fn inconsistent(msg: impl Into<String>) -> SnapError {
    SnapError::Inconsistent(msg.into())
}
