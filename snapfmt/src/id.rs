//! [`SnapshotId`]: the content-derived name of a snapshot, and its text form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The content-derived identity of a snapshot (see the crate docs for how it is computed).
///
/// Displays, and parses from, 32 hex digits (lowercase when displayed; either case parses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SnapshotId(pub [u8; 16]);

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The text given to [`SnapshotId::from_str`] is not 32 hex digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a snapshot id is 32 hex digits")]
pub struct ParseSnapshotIdError;

impl FromStr for SnapshotId {
    type Err = ParseSnapshotIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.as_bytes();
        if s.len() != 32 {
            return Err(ParseSnapshotIdError);
        }
        let mut id = [0u8; 16];
        for (out, pair) in id.iter_mut().zip(s.chunks_exact(2)) {
            *out = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Ok(SnapshotId(id))
    }
}

fn hex_digit(c: u8) -> Result<u8, ParseSnapshotIdError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(ParseSnapshotIdError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_hex_round_trip() {
        let id = SnapshotId([0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x6a]);
        let s = id.to_string();
        assert_eq!(s, "0123456789abcdef00ff10203040506a");
        assert_eq!(s.parse::<SnapshotId>(), Ok(id));
        assert_eq!(s.to_uppercase().parse::<SnapshotId>(), Ok(id));
    }

    #[test]
    fn id_parse_rejects_bad_text() {
        for bad in ["", "0123", "0123456789abcdef00ff10203040506", "0123456789abcdef00ff10203040506a0", "0123456789abcdef00ff10203040506g", "é123456789abcdef00ff10203040506"] {
            assert_eq!(bad.parse::<SnapshotId>(), Err(ParseSnapshotIdError), "{bad:?}");
        }
    }
}
