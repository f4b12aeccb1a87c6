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
//! | 0x2060 | [`Hypercall::Egress`] | [`EgressParams`] | before a connection or datagram leaves, the guest asks whether the host's egress policy allows it, so a refusal is an immediate, named error (`EACCES`) instead of a reset (libos queues a TCP SYN un-notified first, so this call carries it). Advisory only: the host's NAT enforces the same policy on every packet. |
//! | 0x2070 | [`Hypercall::NetSetup`] | [`NetSetupParams`] | brings the virtio-net device up in one exit: the same end state as the driver's register handshake (status 0, 1, 3, 0x0B, 0x0F with VERSION_1 and MAC, both queues at the given ring addresses), after the guest posted its RX buffers. The host writes the MAC and `status` ([`STATUS_OK`], or [`STATUS_NONE`]: no device). A device already brought up, or rings misaligned or outside RAM, stop the guest. Under stock uhyve the guest does the register handshake instead (`virtio`). |
//!
//! **TX at every call:** before serving any call of this table the host takes the virtio-net
//! TX frames the guest published without a notify, so the guest may leave frames nothing
//! waits on (a pure ACK, a FIN) for its next hypercall instead of notifying (one exit fewer).
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
/// full-size buffers (no "too small, ask again"); 3, [`Hypercall::NetSetup`].
pub const ABI_VERSION: u32 = 3;

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
    /// Permission denied (a connection the egress policy refuses).
    pub const EACCES: i32 = 13;
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
    /// May the guest open a connection to this address? ([`EgressParams`]).
    Egress = 0x2060,
    /// Bring the network device up in one exit ([`NetSetupParams`]).
    NetSetup = 0x2070,
}

impl Hypercall {
    /// Every hypercall, for tables and tests.
    pub const ALL: [Hypercall; 8] = [
        Hypercall::FunctionSource,
        Hypercall::NextInvocation,
        Hypercall::ReturnResult,
        Hypercall::Log,
        Hypercall::Wait,
        Hypercall::Mark,
        Hypercall::Egress,
        Hypercall::NetSetup,
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
            Hypercall::Egress => "Egress",
            Hypercall::NetSetup => "NetSetup",
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
            Hypercall::Egress => core::mem::size_of::<EgressParams>(),
            Hypercall::NetSetup => core::mem::size_of::<NetSetupParams>(),
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

/// An egress question: may the guest reach `addr:port` over `proto`?
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct EgressParams {
    /// in: IPv4 address in network byte order (the octets as they are written).
    pub addr: [u8; 4],
    /// in: port.
    pub port: u16,
    /// in: 6 TCP, 17 UDP.
    pub proto: u8,
    /// Padding; zero.
    pub _pad: u8,
    /// out: 1 allowed, 0 refused.
    pub allowed: u32,
    /// Padding; zero.
    pub _pad2: u32,
}

/// The rings of one virtqueue: guest-physical addresses of its descriptor table (16-byte
/// aligned), avail ring (2-byte aligned) and used ring (4-byte aligned), each of
/// [`virtio::QUEUE_ENTRIES`] entries.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueRings {
    /// Descriptor table.
    pub desc: u64,
    /// Avail (driver) ring.
    pub avail: u64,
    /// Used (device) ring.
    pub used: u64,
}

/// The network device's set-up in one call (see [`Hypercall::NetSetup`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct NetSetupParams {
    /// in: the RX queue (index [`virtio::RX`]), its buffers already posted.
    pub rx: QueueRings,
    /// in: the TX queue (index [`virtio::TX`]).
    pub tx: QueueRings,
    /// out: the device's MAC address.
    pub mac: [u8; 6],
    /// Padding; zero.
    pub _pad: u16,
    /// out: `STATUS_*`.
    pub status: i32,
    /// Padding; zero.
    pub _pad2: u32,
}

/// Networking: the virtio-net device both hypervisors expose and the addresses of our
/// user-mode network.
///
/// The device is the one stock uhyve 0.10 emulates for `--net tap:NAME`: modern virtio-net
/// (virtio 1.x) on PCI bus 0, device 0, found through the legacy configuration ports, with one
/// memory BAR at a fixed address whose register block mirrors the configuration space. Our
/// hypervisor emulates the same registers, so one guest driver serves both. The guest drives
/// it by polling (no interrupts): received frames appear in the RX used ring in guest memory;
/// the guest notifies the device by writing to the notify registers.
///
/// ```text
///  BAR0 = 0xFE00_0000 (MMIO)        offset  register
///  ┌──────────────────────────┐      0x88   device_feature_select u32 / 0x8C device_feature u32
///  │ PCI type-0 header, caps  │      0x90   driver_feature_select u32 / 0x94 driver_feature u32
///  │ 0x88 common config       │      0x9C   device_status u8
///  │ 0xC8 ISR                 │      0x9E   queue_select u16 / 0xA0 queue_size u16 (256)
///  │ 0xD0 notify RX, 0xD4 TX  │      0xA4   queue_enable u16
///  │ 0xD8 MAC, status, MTU    │      0xA8.. queue desc / driver / device addresses (lo, hi u32)
///  └──────────────────────────┘      0xD0   notify queue 0 (RX) / 0xD4 notify queue 1 (TX)
/// ```
///
/// Every access must have the width given here: uhyve 0.10 panics on others.
pub mod virtio {
    /// Legacy PCI configuration address port (32-bit writes).
    pub const PCI_CONFIG_ADDRESS: u16 = 0xCF8;
    /// Legacy PCI configuration data port (32-bit reads/writes).
    pub const PCI_CONFIG_DATA: u16 = 0xCFC;
    /// Vendor (low half) and device (high half) id of the virtio-net device.
    pub const PCI_ID: u32 = 0x1041_1AF4;
    /// The memory BAR (fixed in uhyve 0.10).
    pub const MMIO_BASE: u64 = 0xFE00_0000;
    /// Size of the register window the guest maps.
    pub const MMIO_SIZE: u64 = 0x1000;
    /// device_feature_select (u32).
    pub const DEVICE_FEATURE_SELECT: u64 = 0x88;
    /// device_feature (u32, read).
    pub const DEVICE_FEATURE: u64 = 0x8C;
    /// driver_feature_select (u32).
    pub const DRIVER_FEATURE_SELECT: u64 = 0x90;
    /// driver_feature (u32, write).
    pub const DRIVER_FEATURE: u64 = 0x94;
    /// device_status (u8).
    pub const DEVICE_STATUS: u64 = 0x9C;
    /// queue_select (u16).
    pub const QUEUE_SELECT: u64 = 0x9E;
    /// queue_size (u16, read).
    pub const QUEUE_SIZE: u64 = 0xA0;
    /// queue_enable (u16).
    pub const QUEUE_ENABLE: u64 = 0xA4;
    /// queue_desc low/high (u32 each).
    pub const QUEUE_DESC: u64 = 0xA8;
    /// queue_driver (avail ring) low/high (u32 each).
    pub const QUEUE_DRIVER: u64 = 0xB0;
    /// queue_device (used ring) low/high (u32 each).
    pub const QUEUE_DEVICE: u64 = 0xB8;
    /// Notify register of queue `q` (u16 write of the queue index): `NOTIFY + 4 * q`.
    pub const NOTIFY: u64 = 0xD0;
    /// The MAC address (6 bytes, byte reads).
    pub const MAC: u64 = 0xD8;
    /// Entries per virtqueue (the device's only size).
    pub const QUEUE_ENTRIES: u16 = 256;
    /// Queue index of RX.
    pub const RX: u16 = 0;
    /// Queue index of TX.
    pub const TX: u16 = 1;
    /// `virtio_net_hdr_v1`, before every frame.
    pub const NET_HDR_LEN: usize = 12;
    /// Largest Ethernet frame either side sends (uhyve's RX buffer holds 1500 bytes of frame).
    pub const MAX_FRAME: usize = 1500;
    /// Feature bits (low word): MAC address in config space.
    pub const F_MAC: u32 = 1 << 5;
    /// Feature bits (high word): VERSION_1.
    pub const F_VERSION_1_HIGH: u32 = 1;
    /// device_status bits.
    pub const STATUS_ACKNOWLEDGE: u8 = 1;
    /// device_status: driver present.
    pub const STATUS_DRIVER: u8 = 2;
    /// device_status: features accepted.
    pub const STATUS_FEATURES_OK: u8 = 8;
    /// device_status: live.
    pub const STATUS_DRIVER_OK: u8 = 4;
    /// Descriptor flag: the buffer continues in `next`.
    pub const DESC_F_NEXT: u16 = 1;
    /// Descriptor flag: the device writes the buffer.
    pub const DESC_F_WRITE: u16 = 2;
}

/// Addresses of the user-mode network our hypervisor gives every instance (slirp's plan):
/// the guest is [`GUEST`]`/24`; [`GATEWAY`] is the host's loopback as seen from the guest
/// (the name [`HOST_ALIAS`] resolves to it); [`DNS`] answers queries from the host's resolver.
/// The device tree's `/chosen/seuss,net` property (present under our hypervisor) says they are
/// in use; under stock uhyve with a tap the guest takes Hermit's `HERMIT_IP`, `HERMIT_GATEWAY`,
/// `HERMIT_MASK` and `HERMIT_DNS1` variables instead.
pub mod net {
    /// The guest's address.
    pub const GUEST: [u8; 4] = [10, 0, 2, 15];
    /// The gateway: connections to it reach the host's 127.0.0.1.
    pub const GATEWAY: [u8; 4] = [10, 0, 2, 2];
    /// The DNS server.
    pub const DNS: [u8; 4] = [10, 0, 2, 3];
    /// Prefix length of the guest network.
    pub const PREFIX: u8 = 24;
    /// The guest's MAC address (locally administered; every clone has its own NAT).
    pub const GUEST_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    /// The gateway's MAC address.
    pub const GATEWAY_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x02];
    /// The name that reaches the host's loopback, as `host.docker.internal` does for containers.
    pub const HOST_ALIAS: &str = "host.seuss.internal";
    /// Device-tree property in `/chosen` announcing the user-mode network.
    pub const FDT_PROPERTY: &str = "seuss,net";
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
