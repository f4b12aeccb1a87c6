//! The header types, postcard-encoded after the preamble, and their consistency rules.

use serde::{Deserialize, Serialize};

use crate::error::{inconsistent, SnapError};
use crate::id::SnapshotId;
use crate::layout::PAGE_SIZE;

/// What a snapshot captures. The kind also names the call the guest is paused in (the
/// hypervisor's business; its parameters are where the saved `rdi` points).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Kind {
    /// A runtime image paused before it has its function (at the function-source call).
    Runtime,
    /// A runtime with its function imported, paused before its first invocation.
    Function,
}

/// The vCPU state, as opaque KVM structures (the hypervisor owns their meaning).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VcpuState {
    /// General-purpose registers (`kvm_regs`).
    pub regs: Vec<u8>,
    /// Special registers (`kvm_sregs`).
    pub sregs: Vec<u8>,
    /// Extended FPU/SIMD state (`kvm_xsave`).
    pub xsave: Vec<u8>,
    /// Extended control registers (`kvm_xcrs`).
    pub xcrs: Vec<u8>,
    /// Pending exceptions and interrupts (`kvm_vcpu_events`).
    pub events: Vec<u8>,
    /// Model-specific registers as (index, value) pairs.
    pub msrs: Vec<(u32, u64)>,
}

/// The snapshot a snapshot was taken from, and whose pages it does not repeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentRef {
    /// The parent's id.
    pub id: SnapshotId,
    /// Where the parent was when this snapshot was written (a hint; the id decides).
    pub path: String,
}

/// The image the snapshotted guest was booted from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    /// The image's name.
    pub name: String,
    /// A hash of the image's content.
    pub hash: u64,
}

/// A run of consecutive stored guest pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRun {
    /// Index of the run's first page, relative to [`Header::guest_memory_base`].
    pub first_page: u64,
    /// Number of pages in the run (at least 1).
    pub count: u64,
}

/// A page's content hash in a page store: the first 16 bytes of the BLAKE3 hash of its
/// [`PAGE_SIZE`] bytes. A cryptographic hash, so a page in a store cannot be swapped for
/// another with the same hash (an authenticated snapshot's tag covers its hashes, and the
/// store checks every page it reads against its hash).
/// The all-zero page has a hash like any other; stores never keep it (see [`PageHash::of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PageHash(pub [u8; 16]);

impl PageHash {
    /// The hash of `page` (which should be [`PAGE_SIZE`] bytes).
    pub fn of(page: &[u8]) -> Self {
        PageHash(blake3::hash(page).as_bytes()[..16].try_into().expect("16 of 32 bytes"))
    }

    /// The hash of the all-zero page.
    pub fn zero() -> Self {
        Self::of(&[0u8; PAGE_SIZE as usize])
    }
}

/// Where a snapshot's stored pages are.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Pages {
    /// In the file's data section, run after run (a self-contained file).
    Inline,
    /// In a page store, by content: one hash per stored page, in run order (the file has no
    /// data section). Identical pages of many snapshots are kept once by the store.
    Store(Vec<PageHash>),
}

/// One CPUID leaf as the guest saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuidLeaf {
    /// EAX input.
    pub function: u32,
    /// ECX input (sub-leaf).
    pub index: u32,
    /// Output registers.
    pub eax: u32,
    /// Output registers.
    pub ebx: u32,
    /// Output registers.
    pub ecx: u32,
    /// Output registers.
    pub edx: u32,
}

/// What the guest was promised about its CPU: a clone must run where these still hold (same
/// vendor, no feature missing, the same TSC frequency).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuContract {
    /// The CPUID leaves the guest was given.
    pub cpuid: Vec<CpuidLeaf>,
    /// The TSC frequency the guest was told, in kHz.
    pub tsc_khz: Option<u32>,
}

/// Everything about a snapshot except its page contents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// What the snapshot captures.
    pub kind: Kind,
    /// The hypercall ABI version the guest speaks.
    pub abi_version: u32,
    /// The image the guest was booted from.
    pub image: ImageRef,
    /// Guest-physical address of the first byte of guest memory.
    pub guest_memory_base: u64,
    /// Size of guest memory in bytes, a multiple of [`PAGE_SIZE`].
    pub guest_memory_bytes: u64,
    /// The snapshot this one was taken from, if any.
    pub parent: Option<ParentRef>,
    /// The vCPU state.
    pub vcpu: VcpuState,
    /// The stored pages, in file order: sorted by `first_page`, non-overlapping, non-empty,
    /// inside guest memory.
    pub runs: Vec<PageRun>,
    /// Where the stored pages' contents are.
    pub pages: Pages,
    /// The CPU the guest ran on.
    pub cpu: CpuContract,
    /// When the snapshot was taken, in nanoseconds since the Unix epoch.
    pub created_unix_ns: i64,
}

impl Header {
    /// Number of stored pages: the sum of the runs' counts (saturating; a validated header
    /// never gets near `u64::MAX`).
    pub fn stored_pages(&self) -> u64 {
        self.runs.iter().fold(0u64, |acc, r| acc.saturating_add(r.count))
    }

    /// Checks the header's own rules (guest memory size and range, runs sorted, non-overlapping, non-empty and inside guest memory);
    /// fails with [`SnapError::Inconsistent`].
    pub fn validate(&self) -> Result<(), SnapError> {
        let base = self.guest_memory_base;
        let bytes = self.guest_memory_bytes;
        if !bytes.is_multiple_of(PAGE_SIZE) {
            return Err(inconsistent(format!("guest memory size {bytes:#x} is not a multiple of the page size")));
        }
        let end = base
            .checked_add(bytes)
            .ok_or_else(|| inconsistent(format!("guest memory {base:#x} + {bytes:#x} overflows")))?;
        if end == base {
            return Err(inconsistent("guest memory is empty"));
        }
        let guest_pages = bytes / PAGE_SIZE;
        let mut next_free = 0u64; // first page index a following run may start at
        for (i, run) in self.runs.iter().enumerate() {
            if run.count == 0 {
                return Err(inconsistent(format!("run {i} is empty")));
            }
            if run.first_page < next_free {
                return Err(inconsistent(format!(
                    "run {i} (page {}) overlaps or precedes the run before it",
                    run.first_page
                )));
            }
            let run_end = run
                .first_page
                .checked_add(run.count)
                .filter(|&e| e <= guest_pages)
                .ok_or_else(|| {
                    inconsistent(format!(
                        "run {i} (pages {} + {}) exceeds guest memory of {guest_pages} pages",
                        run.first_page, run.count
                    ))
                })?;
            next_free = run_end;
        }
        if let Pages::Store(hashes) = &self.pages {
            if hashes.len() as u64 != self.stored_pages() {
                return Err(inconsistent(format!(
                    "{} page hashes for {} stored pages",
                    hashes.len(),
                    self.stored_pages()
                )));
            }
        }
        if self.cpu.cpuid.len() > 1024 {
            return Err(inconsistent(format!("{} CPUID leaves (at most 1024)", self.cpu.cpuid.len())));
        }
        Ok(())
    }

    /// Bytes of data this header describes: `stored_pages() * PAGE_SIZE` for inline pages, 0
    /// for pages in a store; checked.
    pub(crate) fn data_len(&self) -> Result<u64, SnapError> {
        if let Pages::Store(_) = self.pages {
            return Ok(0);
        }
        self.runs
            .iter()
            .try_fold(0u64, |acc, r| acc.checked_add(r.count))
            .and_then(|pages| pages.checked_mul(PAGE_SIZE))
            .ok_or_else(|| inconsistent("stored page count overflows"))
    }
}

