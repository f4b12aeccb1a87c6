//! Guest RAM: one host mapping, one KVM memory slot, bounds-checked access by guest-physical
//! address.
//!
//! Every access from hypercall handling goes through [`GuestRam::slice`] /
//! [`GuestRam::slice_mut`] / [`GuestRam::read`] / [`GuestRam::write`], which check that
//! `[gpa, gpa + len)` lies inside RAM without overflow. A guest that passes garbage gets a
//! [`MemError`], never a host fault.
//!
//! A cold-booted instance's RAM is an anonymous private mapping (`MAP_NORESERVE`, zero-filled
//! on first touch): pages the guest never touches cost nothing. A clone's RAM is the same
//! anonymous mapping with the snapshot's stored pages mapped over it, `MAP_PRIVATE` from the
//! snapshot files ([`GuestRam::from_layers`]): copy-on-write, so pages a clone only reads stay
//! shared (page cache) among all clones. A clone is returned to the snapshot's contents by
//! [`GuestRam::restore_pages`]: the pages written since the last reset (KVM's dirty log for
//! the guest's writes, [`GuestRam::take_host_written`] for the host's) get the snapshot's bytes
//! back by copy. Nothing is unmapped: a reset changes no mapping, so KVM keeps its mappings of
//! the clone's pages and no MMU-notifier invalidation reaches the other VMs of the process.

use std::ptr::NonNull;

/// A guest-physical range was outside RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("guest range {gpa:#x}+{len:#x} is outside guest RAM {base:#x}..{end:#x}")]
pub struct MemError {
    /// Start of the offending range.
    pub gpa: u64,
    /// Its length.
    pub len: u64,
    /// RAM start.
    pub base: u64,
    /// RAM end (exclusive).
    pub end: u64,
}

/// Types for which every bit pattern is a valid value (plain integers and arrays of them), so
/// they may be read from guest memory by copy.
///
/// # Safety
/// Implement only for `#[repr(C)]` types made of integers/arrays of integers, without padding
/// that matters and without enums, references or pointers with validity invariants.
pub unsafe trait Plain: Copy {}

// SAFETY: all of these are repr(C) structs of integers (the `_pad` fields are integers too).
unsafe impl Plain for seuss_abi::BufferParams {}
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Plain for seuss_abi::InvocationParams {}
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Plain for seuss_abi::ResultParams {}
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Plain for seuss_abi::LogParams {}
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Plain for seuss_abi::WaitParams {}
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Plain for seuss_abi::MarkParams {}
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Plain for seuss_abi::EgressParams {}
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Plain for seuss_abi::NetSetupParams {}
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Plain for u64 {}
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Plain for i64 {}
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Plain for u32 {}
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Plain for u16 {}
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Plain for i32 {}
// SAFETY: arrays of integers have no padding.
unsafe impl<const N: usize> Plain for [u64; N] {}

/// The page size of guest memory and of snapshot page data: one definition, snapfmt's.
const PAGE: u64 = snapfmt::PAGE_SIZE;

/// Stored pages of one snapshot to map into a clone's RAM.
pub struct Layer<'a> {
    /// The snapshot file.
    pub fd: std::os::fd::RawFd,
    /// File offset of its first stored page.
    pub data_offset: u64,
    /// Its page runs, in file order.
    pub runs: &'a [snapfmt::PageRun],
}

/// Guest RAM (see module docs).
pub struct GuestRam {
    host: NonNull<u8>,
    size: u64,
    base: u64,
    /// `/proc/self/pagemap` and a buffer for one read of all of RAM's entries, kept across
    /// scans (statistics and captures).
    pagemap: std::sync::Mutex<PagemapScan>,
    /// Pages the host wrote through [`GuestRam::slice_mut`] / [`GuestRam::write`] since the
    /// last [`GuestRam::take_host_written`]: the KVM dirty log sees only the guest's writes.
    host_written: Vec<u64>,
}

#[derive(Default)]
struct PagemapScan {
    file: Option<std::fs::File>,
    buf: Vec<u8>,
}

// SAFETY: the mapping is owned by this value; concurrent access is the caller's concern, as
// with any &/&mut. The vCPU only runs while the owning instance holds it.
// SAFETY: a repr(C) struct of integers (or an integer, or an array of them): every bit pattern is valid and there is no padding that matters.
unsafe impl Send for GuestRam {}

impl GuestRam {
    /// Maps `size` bytes of zeroed, lazily allocated RAM at guest-physical `base`.
    pub fn anonymous(base: u64, size: u64) -> std::io::Result<Self> {
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Self {
            host: NonNull::new(ptr.cast()).expect("mmap never returns null on success"),
            size,
            base,
            pagemap: Default::default(),
            host_written: Vec::new(),
        })
    }

    /// Maps RAM for a clone: zero everywhere, then each layer's stored pages on top
    /// (`MAP_PRIVATE | MAP_FIXED` of the snapshot file). Later layers override earlier ones.
    pub fn from_layers(base: u64, size: u64, layers: &[Layer<'_>]) -> std::io::Result<Self> {
        let ram = Self::anonymous(base, size)?;
        for layer in layers {
            let mut stored = 0u64;
            for run in layer.runs {
                let end = run.first_page.checked_add(run.count).and_then(|e| e.checked_mul(PAGE));
                if end.is_none_or(|e| e > size) {
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "page run outside guest RAM"));
                }
                let offset = layer.data_offset + stored * PAGE;
                // SAFETY: the target range lies inside our own mapping (checked above), so
                // MAP_FIXED only replaces pages of this GuestRam; the fd is a readable file
                // that holds `count` pages at `offset` (snapfmt validated its size).
                let p = unsafe {
                    libc::mmap(
                        ram.host.as_ptr().add((run.first_page * PAGE) as usize).cast(),
                        (run.count * PAGE) as usize,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_PRIVATE | libc::MAP_FIXED | libc::MAP_NORESERVE,
                        layer.fd,
                        offset as libc::off_t,
                    )
                };
                if p == libc::MAP_FAILED {
                    return Err(std::io::Error::last_os_error());
                }
                stored += run.count;
            }
        }
        Ok(ram)
    }

    /// The pages the host wrote since the last call (sorted, each once), emptied.
    pub fn take_host_written(&mut self) -> Vec<u64> {
        let mut v = std::mem::take(&mut self.host_written);
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Puts the content `source` gives for each of `pages` back (a page `source` has no content
    /// for becomes zero). The pages stay mapped: nothing is unmapped or dropped, so KVM's
    /// mappings of them stay valid and no other VM of the process is disturbed. This is the
    /// clone reset ([`crate::Instance::reset`]).
    pub fn restore_pages<'s>(&mut self, pages: &[u64], source: impl Fn(u64) -> Option<&'s [u8]>) -> std::io::Result<()> {
        for &page in pages {
            let off = page.checked_mul(PAGE).filter(|o| o + PAGE <= self.size).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("page {page} outside guest RAM"))
            })?;
            // SAFETY: [off, off + PAGE) lies inside our own mapping (checked); &mut self gives
            // exclusive host access; the vCPU is not running (reset runs between invocations).
            let dst = unsafe { std::slice::from_raw_parts_mut(self.host.as_ptr().add(off as usize), PAGE as usize) };
            match source(page) {
                Some(src) if src.len() == PAGE as usize => dst.copy_from_slice(src),
                Some(src) => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("snapshot page {page} has {} bytes", src.len()),
                    ))
                }
                None => dst.fill(0),
            }
        }
        Ok(())
    }

    /// Guest page numbers (relative to the RAM base) whose content is private to this mapping:
    /// written since it was created, by the guest or the host (the candidates of a capture).
    /// From `/proc/self/pagemap`: present, not file-backed, exclusively mapped.
    pub fn private_pages(&self) -> std::io::Result<Vec<u64>> {
        self.scan_pagemap(true)
    }

    /// Guest page numbers mapped in the host right now (read or written since the mapping was
    /// made or reset): the pages an invocation touched.
    pub fn present_pages(&self) -> std::io::Result<Vec<u64>> {
        self.scan_pagemap(false)
    }

    fn scan_pagemap(&self, private_only: bool) -> std::io::Result<Vec<u64>> {
        use std::os::unix::fs::FileExt;
        let pages = self.size / PAGE;
        let first = self.host.as_ptr() as u64 / PAGE;
        let mut scan = self.pagemap.lock().unwrap_or_else(|e| e.into_inner());
        if scan.file.is_none() {
            scan.file = Some(std::fs::File::open("/proc/self/pagemap")?);
        }
        let PagemapScan { file, buf } = &mut *scan;
        buf.resize((pages * 8) as usize, 0);
        file.as_ref().expect("opened above").read_exact_at(buf, first * 8)?;
        let mut out = Vec::new();
        for (page, e) in buf.chunks_exact(8).enumerate() {
            let e = u64::from_le_bytes(e.try_into().expect("8 bytes"));
            let present = e & (1 << 63) != 0;
            // A private page the kernel swapped out is still private content.
            let swapped = e & (1 << 62) != 0;
            let file_or_shared = e & (1 << 61) != 0;
            // Bit 56 "exclusively mapped" tells a private copy from the shared zero page,
            // which a read of never-written anonymous memory maps.
            let exclusive = e & (1 << 56) != 0;
            let keep = if private_only { (present && !file_or_shared && exclusive) || swapped } else { present || swapped };
            if keep {
                out.push(page as u64);
            }
        }
        Ok(out)
    }

    /// Guest-physical start.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Guest-physical end (exclusive).
    pub fn end(&self) -> u64 {
        self.base + self.size
    }

    /// Host address of the mapping (for KVM's memory slot).
    pub fn host_addr(&self) -> u64 {
        self.host.as_ptr() as u64
    }

    fn offset(&self, gpa: u64, len: u64) -> Result<usize, MemError> {
        let err = MemError { gpa, len, base: self.base, end: self.end() };
        let off = gpa.checked_sub(self.base).ok_or(err)?;
        let end = off.checked_add(len).ok_or(err)?;
        if end > self.size {
            return Err(err);
        }
        Ok(off as usize)
    }

    /// The bytes at `[gpa, gpa + len)`.
    pub fn slice(&self, gpa: u64, len: u64) -> Result<&[u8], MemError> {
        let off = self.offset(gpa, len)?;
        // SAFETY: offset() proved the range lies inside the live mapping.
        Ok(unsafe { std::slice::from_raw_parts(self.host.as_ptr().add(off), len as usize) })
    }

    /// The bytes at `[gpa, gpa + len)`, writable. The pages are recorded as written by the host
    /// (see [`GuestRam::take_host_written`]).
    pub fn slice_mut(&mut self, gpa: u64, len: u64) -> Result<&mut [u8], MemError> {
        let off = self.offset(gpa, len)?;
        if len > 0 {
            let (first, last) = (off as u64 / PAGE, (off as u64 + len - 1) / PAGE);
            self.host_written.extend(first..=last);
        }
        // SAFETY: as in slice(); &mut self gives exclusive access on the host side.
        Ok(unsafe { std::slice::from_raw_parts_mut(self.host.as_ptr().add(off), len as usize) })
    }

    /// All of RAM, writable (image loading).
    pub fn all_mut(&mut self) -> &mut [u8] {
        // SAFETY: the whole mapping, exclusively borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.host.as_ptr(), self.size as usize) }
    }

    /// Copies a `T` out of guest memory.
    pub fn read<T: Plain>(&self, gpa: u64) -> Result<T, MemError> {
        let bytes = self.slice(gpa, size_of::<T>() as u64)?;
        // SAFETY: bytes has size_of::<T>() bytes and T accepts any bit pattern (Plain).
        Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
    }

    /// Copies a `T` into guest memory. [`Plain`] types have no padding, so no host bytes
    /// other than the value's reach the guest.
    pub fn write<T: Plain>(&mut self, gpa: u64, value: &T) -> Result<(), MemError> {
        let bytes = self.slice_mut(gpa, size_of::<T>() as u64)?;
        // SAFETY: bytes has size_of::<T>() bytes; T is Plain (Copy, no drop glue).
        unsafe { std::ptr::write_unaligned(bytes.as_mut_ptr().cast::<T>(), *value) };
        Ok(())
    }

    /// Copies a boot structure that may contain padding (hermit-entry's `RawBootInfo`) into
    /// guest memory. Only image loading uses it, once, before the guest first runs; the
    /// padding bytes copied are this thread's stack bytes at that moment.
    pub(crate) fn write_boot_struct<T: Copy>(&mut self, gpa: u64, value: &T) -> Result<(), MemError> {
        let bytes = self.slice_mut(gpa, size_of::<T>() as u64)?;
        bytes.fill(0);
        // SAFETY: bytes has size_of::<T>() bytes; T is Copy (no drop glue).
        unsafe { std::ptr::write_unaligned(bytes.as_mut_ptr().cast::<T>(), *value) };
        Ok(())
    }

    /// A NUL-terminated UTF-8 string at `gpa` (at most `max` bytes before the NUL).
    pub fn c_str(&self, gpa: u64, max: u64) -> Result<Result<&str, &'static str>, MemError> {
        let avail = self.end().saturating_sub(gpa).min(max + 1);
        let bytes = self.slice(gpa, avail)?;
        let Some(nul) = bytes.iter().position(|b| *b == 0) else {
            return Ok(Err("string is not NUL-terminated within the limit"));
        };
        Ok(std::str::from_utf8(&bytes[..nul]).map_err(|_| "string is not UTF-8"))
    }
}

impl Drop for GuestRam {
    fn drop(&mut self) {
        // SAFETY: unmapping the region this value mapped and owns.
        unsafe { libc::munmap(self.host.as_ptr().cast(), self.size as usize) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_outside_ram_are_refused_without_overflow() {
        let mut ram = GuestRam::anonymous(0x1_0000_0000, 1 << 20).unwrap();
        assert!(ram.slice(0x1_0000_0000, 16).is_ok());
        assert!(ram.slice(0xffff_ffff, 1).is_err(), "below RAM");
        assert!(ram.slice(0x1_0000_0000 + (1 << 20) - 4, 8).is_err(), "straddles the end");
        assert!(ram.slice(u64::MAX - 2, 8).is_err(), "gpa + len overflows");
        assert!(ram.slice(0x1_0000_0000, u64::MAX).is_err(), "huge length");
        assert!(ram.restore_pages(&[u64::MAX / 2], |_| None).is_err(), "page number overflow is refused");
        ram.write(0x1_0000_0010, &42u64).unwrap();
        assert_eq!(ram.read::<u64>(0x1_0000_0010).unwrap(), 42);
    }

    #[test]
    fn layers_map_file_pages_copy_on_write_and_reset_restores_them() {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("seuss-layer-{}", std::process::id()));
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(&[7u8; 4096]).unwrap();
        f.write_all(&[9u8; 4096]).unwrap();
        drop(f);
        let f = std::fs::File::open(&path).unwrap();
        use std::os::fd::AsRawFd;
        let runs = [snapfmt::PageRun { first_page: 2, count: 1 }, snapfmt::PageRun { first_page: 5, count: 1 }];
        let mut ram = GuestRam::from_layers(0x1000_0000, 16 * 4096, &[Layer { fd: f.as_raw_fd(), data_offset: 0, runs: &runs }]).unwrap();
        assert_eq!(ram.slice(0x1000_0000 + 2 * 4096, 4).unwrap(), &[7; 4]);
        assert_eq!(ram.slice(0x1000_0000 + 5 * 4096, 4).unwrap(), &[9; 4]);
        assert_eq!(ram.slice(0x1000_0000 + 3 * 4096, 4).unwrap(), &[0; 4]);
        assert!(ram.private_pages().unwrap().is_empty(), "nothing written yet");
        ram.slice_mut(0x1000_0000 + 2 * 4096, 4).unwrap().fill(1);
        ram.slice_mut(0x1000_0000 + 8 * 4096, 4).unwrap().fill(1);
        assert_eq!(ram.private_pages().unwrap(), vec![2, 8]);
        assert_eq!(std::fs::read(&path).unwrap()[0], 7, "the file never changes");
        assert_eq!(ram.take_host_written(), vec![2, 8], "host writes are recorded");
        let original = [7u8; 4096];
        ram.restore_pages(&[2, 8], |p| (p == 2).then_some(&original[..])).unwrap();
        assert_eq!(ram.slice(0x1000_0000 + 2 * 4096, 4).unwrap(), &[7; 4]);
        assert_eq!(ram.slice(0x1000_0000 + 8 * 4096, 4).unwrap(), &[0; 4]);
        assert!(ram.take_host_written().is_empty(), "a restore is not a write to undo");
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn c_strings_must_be_terminated_and_utf8() {
        let mut ram = GuestRam::anonymous(0x1000_0000, 4096).unwrap();
        ram.slice_mut(0x1000_0000, 6).unwrap().copy_from_slice(b"abc\0\xff\0");
        assert_eq!(ram.c_str(0x1000_0000, 100).unwrap(), Ok("abc"));
        ram.slice_mut(0x1000_0000, 2).unwrap().copy_from_slice(b"\xff\0");
        assert!(ram.c_str(0x1000_0000, 100).unwrap().is_err());
        ram.slice_mut(0x1000_0000, 4096).unwrap().fill(b'a');
        assert!(ram.c_str(0x1000_0000, 100).unwrap().is_err(), "no NUL within limit");
    }
}
