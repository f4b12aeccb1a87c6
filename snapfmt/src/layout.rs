//! Constants of the format and the fixed 64-byte preamble.

use xxhash_rust::xxh3::xxh3_64;

use crate::error::{inconsistent, SnapError};

/// The format version this build writes and reads.
///
/// **Version rule:** readers accept exactly this version; any change to the preamble, the
/// header types (their fields, order or encoding) or the data layout bumps it.
///
/// History: 1, the first format; 2, `pending_port` and `pending_params_gpa` left the header
/// (the kind names the call, the saved `rdi` its parameters); 3, pages may live in a page
/// store (`Header::pages`), and the CPU contract (`Header::cpu`) is recorded; 4, preamble flag
/// [`FLAG_AUTHENTICATED`] and the 32-byte tag after the data.
pub const FORMAT_VERSION: u32 = 4;

/// Preamble flag: a [`TAG_SIZE`]-byte keyed BLAKE3 tag of everything before it follows the
/// data (see [`StoreKey`](crate::StoreKey)).
pub const FLAG_AUTHENTICATED: u32 = 1;

/// Size of the authentication tag in bytes.
pub const TAG_SIZE: u64 = 32;

/// Size of a guest page and the alignment of the data section, in bytes.
pub const PAGE_SIZE: u64 = 4096;

/// The first 8 bytes of every snapshot file.
pub const MAGIC: [u8; 8] = *b"SEUSSNP\0";

/// Size of the preamble at the start of the file, in bytes.
pub const PREAMBLE_SIZE: u64 = 64;

/// Largest header a reader accepts (and a writer produces), in bytes: 64 MiB.
pub const MAX_HEADER_LEN: u64 = 64 << 20;

const OFF_VERSION: usize = 8;
const OFF_FLAGS: usize = 12;
const OFF_HEADER_LEN: usize = 16;
const OFF_HEADER_CHECKSUM: usize = 24;
const OFF_DATA_OFFSET: usize = 32;
const OFF_DATA_LEN: usize = 40;
const OFF_DATA_CHECKSUM: usize = 48;
const OFF_PREAMBLE_CHECKSUM: usize = 56;

/// The decoded fields of a preamble (magic, version and its own checksum already checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Preamble {
    pub header_len: u64,
    pub header_checksum: u64,
    pub data_offset: u64,
    pub data_len: u64,
    pub data_checksum: u64,
    /// [`FLAG_AUTHENTICATED`] or 0.
    pub flags: u32,
}

impl Preamble {
    /// Bytes after the data: the tag of an authenticated file, or nothing.
    pub fn trailer_len(&self) -> u64 {
        if self.flags & FLAG_AUTHENTICATED != 0 { TAG_SIZE } else { 0 }
    }

    /// The 64 bytes of this preamble, version [`FORMAT_VERSION`], checksum filled in.
    pub fn to_bytes(self) -> [u8; PREAMBLE_SIZE as usize] {
        let mut b = [0u8; PREAMBLE_SIZE as usize];
        b[..8].copy_from_slice(&MAGIC);
        b[OFF_VERSION..OFF_FLAGS].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[OFF_FLAGS..OFF_HEADER_LEN].copy_from_slice(&self.flags.to_le_bytes());
        put_u64(&mut b, OFF_HEADER_LEN, self.header_len);
        put_u64(&mut b, OFF_HEADER_CHECKSUM, self.header_checksum);
        put_u64(&mut b, OFF_DATA_OFFSET, self.data_offset);
        put_u64(&mut b, OFF_DATA_LEN, self.data_len);
        put_u64(&mut b, OFF_DATA_CHECKSUM, self.data_checksum);
        let sum = xxh3_64(&b[..OFF_PREAMBLE_CHECKSUM]);
        put_u64(&mut b, OFF_PREAMBLE_CHECKSUM, sum);
        b
    }

    /// Parses a preamble: magic, preamble checksum, version, flags, in that order.
    pub fn parse(b: &[u8; PREAMBLE_SIZE as usize]) -> Result<Preamble, SnapError> {
        if b[..8] != MAGIC {
            return Err(SnapError::Foreign);
        }
        if get_u64(b, OFF_PREAMBLE_CHECKSUM) != xxh3_64(&b[..OFF_PREAMBLE_CHECKSUM]) {
            return Err(SnapError::PreambleChecksum);
        }
        let version = get_u32(b, OFF_VERSION);
        if version != FORMAT_VERSION {
            return Err(SnapError::Version { found: version, supported: FORMAT_VERSION });
        }
        let flags = get_u32(b, OFF_FLAGS);
        if flags & !FLAG_AUTHENTICATED != 0 {
            return Err(inconsistent(format!("unknown preamble flags {flags:#x}")));
        }
        Ok(Preamble {
            header_len: get_u64(b, OFF_HEADER_LEN),
            header_checksum: get_u64(b, OFF_HEADER_CHECKSUM),
            data_offset: get_u64(b, OFF_DATA_OFFSET),
            data_len: get_u64(b, OFF_DATA_LEN),
            data_checksum: get_u64(b, OFF_DATA_CHECKSUM),
            flags,
        })
    }
}

/// Where the data section starts for a header of `header_len` bytes; `None` on overflow.
pub(crate) fn data_offset_for(header_len: u64) -> Option<u64> {
    PREAMBLE_SIZE.checked_add(header_len).and_then(align_up)
}

/// `x` rounded up to a multiple of [`PAGE_SIZE`]; `None` on overflow.
pub(crate) fn align_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

fn get_u64(b: &[u8; PREAMBLE_SIZE as usize], off: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(v)
}

fn get_u32(b: &[u8; PREAMBLE_SIZE as usize], off: usize) -> u32 {
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[off..off + 4]);
    u32::from_le_bytes(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_up_rounds_and_guards_overflow() {
        assert_eq!(align_up(0), Some(0));
        assert_eq!(align_up(1), Some(4096));
        assert_eq!(align_up(4096), Some(4096));
        assert_eq!(align_up(4097), Some(8192));
        assert_eq!(align_up(u64::MAX), None);
        assert_eq!(data_offset_for(u64::MAX - 10), None);
        assert_eq!(data_offset_for(100), Some(4096));
    }

    #[test]
    fn preamble_round_trips() {
        let p = Preamble { header_len: 1, header_checksum: 2, data_offset: 4096, data_len: 8192, data_checksum: 5, flags: 0 };
        let b = p.to_bytes();
        assert_eq!(&b[..8], b"SEUSSNP\0");
        assert_eq!(Preamble::parse(&b).unwrap(), p);
    }
}
