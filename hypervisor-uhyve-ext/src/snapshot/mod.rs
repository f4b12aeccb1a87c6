//! Snapshots: load a snapshot chain ([`Loaded`]), make clones of it, and capture a parked
//! instance ([`capture`]). The file format itself is `snapfmt`'s.
//!
//! * **Load** ([`Loaded::open`], `loaded.rs`) validates the file with `snapfmt`, then every
//!   header field against the limits a cold boot enforces (memory size and base, the saved
//!   `rip` and the parked call's parameters inside RAM, the kind naming an ask call), opens and
//!   checks the parent chain (ids, equal memory, at most [`MAX_CHAIN_DEPTH`] links, no file
//!   twice) and decodes the vCPU state once. Nothing here depends on an instance.
//! * **Clone**: [`crate::Instance::from_snapshot`] maps the chain's pages copy-on-write
//!   ([`crate::memory::GuestRam::from_layers`]) and loads the vCPU state; the guest resumes
//!   when the host completes its pending hypercall. [`crate::Instance::reset`] returns a used
//!   clone to the snapshot state without a new VM.
//! * **Capture** ([`capture`], `capture.rs`) happens while the guest is parked in one of the
//!   two "ask" hypercalls. The vCPU is settled first (KVM completes the pending `out`, so `rip`
//!   points after it) and saved with [`crate::cpu_state`]. A *root* snapshot (cold-booted
//!   instance) stores every page the guest touched that is not all zero. A *diff* snapshot (an
//!   instance cloned from a parent snapshot) stores only the pages that now differ from the
//!   parent: candidates are the pages private to the clone's copy-on-write mapping
//!   (`/proc/self/pagemap`), which include the host's own writes into guest memory (source,
//!   args, clock) that the KVM dirty log would miss; each candidate is compared with the
//!   parent's content and dropped if equal. Runs of stored pages separated by small gaps are
//!   merged (the gap pages are stored too) so that a clone needs few `mmap` calls.
//! * **Warm path** ([`warm_snapshot`]): clone a runtime snapshot, hand it a function's source,
//!   let it import, capture the function snapshot as a diff.

mod capture;
mod loaded;

pub use capture::{capture, capture_in, image_ref, warm_snapshot, warm_snapshot_and_clone, warm_snapshot_in, Captured, SnapshotError};
pub use loaded::{LoadError, Loaded, Storage, MAX_CHAIN_DEPTH};
