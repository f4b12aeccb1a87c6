//! The guest/host hypercall ABI of this project: the one definition both `libos` (guest) and
//! `hypervisor-uhyve-ext` (host) compile against.
//!
//! uhyve's own hypercalls (console, exit, files) are `uhyve-interface` v2 and are re-exported
//! here as [`uhyve`]. Ours add the function launcher's phases. They use the same calling
//! convention: `out dx, al` with `dx` = port and `rdi` = guest-physical address of the
//! parameter struct. The host reads inputs from the struct and writes outputs back into it
//! before resuming the guest.
//!
//! | port | hypercall | parameter struct | semantics |
//! |---|---|---|---|
//! | 0x2000 | [`Hypercall::FunctionSource`] | [`BufferParams`] | guest asks for the function's JS source (runtime image), offering a buffer of `cap >= MAX_SOURCE` bytes. The host copies the source into `buf` and sets `len` and `status` ([`STATUS_OK`], or [`STATUS_NONE`]: no function). **Runtime snapshot point.** |
//! | 0x2010 | [`Hypercall::NextInvocation`] | [`InvocationParams`] | guest asks for the next invocation, offering an args buffer of `cap >= MAX_PAYLOAD` bytes: args JSON into `buf` (as above) plus wall-clock time, 32 bytes of fresh entropy and an invocation id. **Function snapshot point**; a clone resumes by completing this call. |
//! | 0x2020 | [`Hypercall::ReturnResult`] | [`ResultParams`] | the invocation's result JSON (`is_error` = 1 for `{"error":...}`). |
//! | 0x2030 | [`Hypercall::Log`] | [`LogParams`] | one console line of the function, kept apart from the result. |
//! | 0x2040 | [`Hypercall::Wait`] | [`WaitParams`] | sleep for `duration_ns` (timers); the host parks the vCPU thread. |
//! | 0x2050 | [`Hypercall::Mark`] | [`MarkParams`] | the guest reached a [`Phase`]; the host timestamps it (start-time splits). |
//!
//! **Buffers:** the guest offers a buffer of the ABI's full size (`MAX_SOURCE` for the source,
//! `MAX_PAYLOAD` for args) before it parks, so one exchange always suffices; the host treats a
//! smaller buffer as a violation. Untouched buffer pages cost nothing (guest RAM is lazy).
//!
//! Under stock uhyve these ports are unknown (uhyve logs a warning and ignores them), so the
//! guest only uses them when the device tree says it runs on our hypervisor: the property
//! `/chosen/seuss,abi` holds [`ABI_VERSION`].
//!
//! **Version rule:** [`ABI_VERSION`] changes whenever a port, struct layout or meaning changes.
//! The host announces its version in the device tree; a guest built for another version stops
//! with a message instead of misreading the channel. Snapshots record the version, and a host
//! refuses snapshots of another version.

#![no_std]

pub use uhyve_interface as uhyve;

/// Version of this ABI (see the version rule above). History: 1, the first; 2, ask calls offer
/// full-size buffers (no "too small, ask again").
pub const ABI_VERSION: u32 = 2;

/// Name of the device-tree property in `/chosen` that announces our hypervisor.
pub const FDT_PROPERTY: &str = "seuss,abi";

/// `status`: the call succeeded.
pub const STATUS_OK: i32 = 0;
/// `status`: the host has nothing to give (no function configured / no more invocations).
pub const STATUS_NONE: i32 = 2;

/// Largest args or result payload accepted (OpenWhisk's 1 MiB limit).
pub const MAX_PAYLOAD: usize = 1024 * 1024;
/// Largest function source accepted.
pub const MAX_SOURCE: usize = 16 * 1024 * 1024;

/// Error numbers of the Hermit ABI (the Linux values), as the guest's `sys_*` functions and
/// the host's file hypercalls return them (negated).
pub mod errno {
    /// Operation not permitted.
    pub const EPERM: i32 = 1;
    /// No such file or directory.
    pub const ENOENT: i32 = 2;
    /// I/O error.
    pub const EIO: i32 = 5;
    /// Bad file descriptor.
    pub const EBADF: i32 = 9;
    /// Try again.
    pub const EAGAIN: i32 = 11;
    /// Bad address.
    pub const EFAULT: i32 = 14;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// Too many open files.
    pub const EMFILE: i32 = 24;
    /// Function not implemented.
    pub const ENOSYS: i32 = 38;
    /// Timed out.
    pub const ETIMEDOUT: i32 = 110;
}

/// Our hypercalls and their ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Hypercall {
    /// Ask for the function source ([`BufferParams`]).
    FunctionSource = 0x2000,
    /// Ask for the next invocation ([`InvocationParams`]).
    NextInvocation = 0x2010,
    /// Return the result ([`ResultParams`]).
    ReturnResult = 0x2020,
    /// A console line ([`LogParams`]).
    Log = 0x2030,
    /// Sleep ([`WaitParams`]).
    Wait = 0x2040,
    /// Phase timestamp ([`MarkParams`]).
    Mark = 0x2050,
}

impl Hypercall {
    /// Every hypercall, for tables and tests.
    pub const ALL: [Hypercall; 6] = [
        Hypercall::FunctionSource,
        Hypercall::NextInvocation,
        Hypercall::ReturnResult,
        Hypercall::Log,
        Hypercall::Wait,
        Hypercall::Mark,
    ];

    /// The hypercall's name (for messages).
    pub const fn name(self) -> &'static str {
        match self {
            Hypercall::FunctionSource => "FunctionSource",
            Hypercall::NextInvocation => "NextInvocation",
            Hypercall::ReturnResult => "ReturnResult",
            Hypercall::Log => "Log",
            Hypercall::Wait => "Wait",
            Hypercall::Mark => "Mark",
        }
    }

    /// The I/O port.
    pub const fn port(self) -> u16 {
        self as u16
    }

    /// The hypercall on `port`, if it is one of ours.
    pub fn from_port(port: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.port() == port)
    }

    /// Size of the parameter struct the host must read at `rdi`.
    pub const fn params_size(self) -> usize {
        match self {
            Hypercall::FunctionSource => core::mem::size_of::<BufferParams>(),
            Hypercall::NextInvocation => core::mem::size_of::<InvocationParams>(),
            Hypercall::ReturnResult => core::mem::size_of::<ResultParams>(),
            Hypercall::Log => core::mem::size_of::<LogParams>(),
            Hypercall::Wait => core::mem::size_of::<WaitParams>(),
            Hypercall::Mark => core::mem::size_of::<MarkParams>(),
        }
    }
}

/// A guest buffer the host fills.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct BufferParams {
    /// in: guest-physical address of the buffer.
    pub buf: u64,
    /// in: capacity of the buffer in bytes.
    pub cap: u64,
    /// out: size of the full payload.
    pub len: u64,
    /// out: `STATUS_*`.
    pub status: i32,
    /// Padding; zero.
    pub _pad: u32,
}

/// The next invocation: args plus what must be fresh in every clone.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct InvocationParams {
    /// args JSON buffer (in: buf/cap; out: len/status).
    pub args: BufferParams,
    /// out: Unix time in ns when the host completed the call.
    pub wall_clock_ns: i64,
    /// out: invocation id (unique within the host process).
    pub invocation_id: u64,
    /// out: fresh entropy to reseed the guest's generators.
    pub entropy: [u8; 32],
}

/// The invocation's result.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ResultParams {
    /// in: guest-physical address of the result JSON (UTF-8).
    pub buf: u64,
    /// in: its length.
    pub len: u64,
    /// in: 1 when the result is an `{"error": ...}` object.
    pub is_error: u32,
    /// Padding; zero.
    pub _pad: u32,
}

/// One console line.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct LogParams {
    /// in: guest-physical address of the text (UTF-8, no trailing newline needed).
    pub buf: u64,
    /// in: its length.
    pub len: u64,
    /// in: 0 = log/info, 1 = warn/error.
    pub level: u32,
    /// Padding; zero.
    pub _pad: u32,
}

/// A sleep request.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct WaitParams {
    /// in: how long to sleep.
    pub duration_ns: u64,
}

/// Phases of a function's life, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u32)]
pub enum Phase {
    /// libos handed control to the program (`main` runs next).
    Booted = 0,
    /// The JS engine is initialised.
    EngineReady = 1,
    /// The function is imported (top level evaluated).
    Imported = 2,
}

impl Phase {
    /// Number of phases.
    pub const COUNT: usize = 3;

    /// The phase with this number.
    pub fn from_u32(v: u32) -> Option<Self> {
        [Phase::Booted, Phase::EngineReady, Phase::Imported].into_iter().find(|p| *p as u32 == v)
    }
}

/// A phase mark.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MarkParams {
    /// in: the [`Phase`] number.
    pub phase: u32,
    /// Padding; zero.
    pub _pad: u32,
    /// in: guest monotonic time in ns (informational: the host timestamps marks itself).
    pub guest_ns: u64,
}

/// The function payload region of a JS image: how `cargo xtask build-image fn.js` puts a
/// function into an already linked launcher without recompiling it.
///
/// The launcher reserves [`payload::REGION_SIZE`] bytes in its `.data` section (file-backed, so
/// the bytes are in the image file). build-image finds the region by its magic (which must
/// occur exactly once in the file) and writes the length and the source:
///
/// ```text
/// offset 0   16       24        32                       REGION_SIZE
///        ┌────────┬────────┬─────────┬─────────────────────────┐
///        │ MAGIC  │ len u64│ reserved│ source (UTF-8), len B    │
///        └────────┴────────┴─────────┴─────────────────────────┘
/// ```
/// `len == 0` means "no function": the runtime image, which asks the hypervisor instead.
pub mod payload {
    /// Marks the region (16 bytes).
    pub const MAGIC: [u8; 16] = *b"SEUSS-JS-PAYLOAD";
    /// Total size of the region.
    pub const REGION_SIZE: usize = 1024 * 1024;
    /// Bytes before the source.
    pub const HEADER_SIZE: usize = 32;
    /// Largest source that fits.
    pub const CAPACITY: usize = REGION_SIZE - HEADER_SIZE;

    /// Why a payload cannot be written.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Error {
        /// The source is larger than [`CAPACITY`] (its size).
        TooLarge(usize),
        /// The region is shorter than [`REGION_SIZE`] or lacks the magic.
        NotARegion,
    }

    /// Writes `source` into `region` (which starts at the magic).
    pub fn encode(region: &mut [u8], source: &[u8]) -> Result<(), Error> {
        if region.len() < REGION_SIZE || region[..16] != MAGIC {
            return Err(Error::NotARegion);
        }
        if source.len() > CAPACITY {
            return Err(Error::TooLarge(source.len()));
        }
        region[16..24].copy_from_slice(&(source.len() as u64).to_le_bytes());
        region[24..HEADER_SIZE].fill(0);
        region[HEADER_SIZE..HEADER_SIZE + source.len()].copy_from_slice(source);
        region[HEADER_SIZE + source.len()..REGION_SIZE].fill(0);
        Ok(())
    }

    /// The source length a region's header announces, `None` when there is no source or the
    /// header is malformed.
    pub fn source_len(header: &[u8; HEADER_SIZE]) -> Option<usize> {
        if header[..16] != MAGIC {
            return None;
        }
        let len = u64::from_le_bytes(header[16..24].try_into().ok()?) as usize;
        (len > 0 && len <= CAPACITY).then_some(len)
    }

    /// The source in `region`, `None` when empty or malformed.
    pub fn decode(region: &[u8]) -> Option<&[u8]> {
        let header: &[u8; HEADER_SIZE] = region.get(..HEADER_SIZE)?.try_into().ok()?;
        let len = source_len(header)?;
        region.get(HEADER_SIZE..HEADER_SIZE + len)
    }
}
