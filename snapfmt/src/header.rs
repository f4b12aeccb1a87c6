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
        Ok(())
    }

    /// Bytes of data this header describes: `stored_pages() * PAGE_SIZE`, checked.
    pub(crate) fn data_len(&self) -> Result<u64, SnapError> {
        self.runs
            .iter()
            .try_fold(0u64, |acc, r| acc.checked_add(r.count))
            .and_then(|pages| pages.checked_mul(PAGE_SIZE))
            .ok_or_else(|| inconsistent("stored page count overflows"))
    }
}

