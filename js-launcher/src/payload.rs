//! The function payload region that `cargo xtask build-image fn.js` fills in the linked
//! image (format: `seuss_abi::payload`).

use seuss_abi::payload::{self, HEADER_SIZE, MAGIC, REGION_SIZE};

// Only the header and the source are read (volatile, byte by byte): reading the whole 1 MiB
// region to call `payload::decode` would fault in 256 pages at every cold start.

#[repr(C, align(4096))]
struct Region([u8; REGION_SIZE]);

const fn initial_region() -> Region {
    let mut bytes = [0u8; REGION_SIZE];
    let mut i = 0;
    while i < MAGIC.len() {
        bytes[i] = MAGIC[i];
        i += 1;
    }
    Region(bytes)
}

/// The region. `static mut` + volatile reads: the compiler must not assume the build-time
/// contents (all zeros), since build-image rewrites them in the image file.
#[unsafe(link_section = ".data.seuss_payload")]
#[used]
static mut PAYLOAD: Region = initial_region();

/// The embedded source, `None` for a runtime image.
pub fn embedded_source() -> Option<String> {
    let base = (&raw const PAYLOAD).cast::<u8>();
    let mut header = [0u8; HEADER_SIZE];
    for (i, b) in header.iter_mut().enumerate() {
        // SAFETY: i < HEADER_SIZE <= REGION_SIZE; the region is never written at run time.
        *b = unsafe { base.add(i).read_volatile() };
    }
    let len = payload::source_len(&header)?;
    let mut bytes = vec![0u8; len];
    // SAFETY: HEADER_SIZE + len <= REGION_SIZE, checked above; volatile copy as above.
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = unsafe { base.add(HEADER_SIZE + i).read_volatile() };
    }
    String::from_utf8(bytes).ok()
}
