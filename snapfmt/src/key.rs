//! [`StoreKey`]: the per-store secret that authenticates snapshot files.
//!
//! Checksums show a file is intact, not who wrote it. A store that must refuse files written
//! by anyone else keeps a 32-byte random key next to its snapshots (`.seuss-store.key`, mode
//! 0600, created on first use) and writes every snapshot with a keyed BLAKE3 tag of all the
//! bytes before it ([`FLAG_AUTHENTICATED`](crate::FLAG_AUTHENTICATED)); a reader given the key
//! refuses a file without a tag or with a wrong one. Whoever can read the key can forge, so
//! the key file is as private as the store itself (ARCHITECTURE.md, "Trust").

use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::layout::TAG_SIZE;

/// The name of the key file inside a store directory.
pub const KEY_FILE: &str = ".seuss-store.key";

/// A store's authentication key (32 bytes). `Debug` never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreKey([u8; 32]);

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

impl StoreKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key of the store at `dir`: read from `dir/.seuss-store.key`, or created there
    /// (32 bytes from the OS's random source, mode 0600, without replacing a file another
    /// process created meanwhile). A key file of another size, or readable or writable by
    /// group or others, is refused.
    pub fn load_or_create(dir: &Path) -> io::Result<Self> {
        let path = dir.join(KEY_FILE);
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
            Ok(mut f) => {
                let mut key = [0u8; 32];
                std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
                f.write_all(&key)?;
                f.sync_all()?;
                Ok(Self(key))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let mut f = std::fs::File::open(&path)?;
                let meta = f.metadata()?;
                if meta.permissions().mode() & 0o077 != 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        format!("{}: a store key must be private to its owner (mode 0600)", path.display()),
                    ));
                }
                let mut key = Vec::new();
                f.read_to_end(&mut key)?;
                let key: [u8; 32] = key.try_into().map_err(|k: Vec<u8>| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{}: a store key has 32 bytes, not {}", path.display(), k.len()))
                })?;
                Ok(Self(key))
            }
            Err(e) => Err(e),
        }
    }

    /// A keyed BLAKE3 hasher for a file's bytes before its tag.
    pub(crate) fn hasher(&self) -> blake3::Hasher {
        blake3::Hasher::new_keyed(&self.0)
    }

    /// Whether `tag` is the tag `hasher` computed (constant-time comparison).
    pub(crate) fn verify(hasher: &blake3::Hasher, tag: &[u8]) -> bool {
        <[u8; TAG_SIZE as usize]>::try_from(tag).is_ok_and(|t| hasher.finalize() == blake3::Hash::from_bytes(t))
    }
}
