//! The calls a function launcher makes to the hypervisor (the launcher's phases).
//!
//! Under our hypervisor (`/chosen/seuss,abi` present) each is one hypercall of `seuss-abi`;
//! the two "ask" calls are where snapshots are taken, and a clone resumes by the host
//! completing them. Under stock uhyve there is no channel: the source is the one built into
//! the image, args come from the command line and results go to stdout, as `js-launcher`
//! arranges; the calls here then report [`Channel::Standalone`].

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use seuss_abi::{
    BufferParams, EgressParams, Hypercall, InvocationParams, LogParams, MarkParams, NetSetupParams, Phase, QueueRings, ResultParams,
    WaitParams, MAX_PAYLOAD, MAX_SOURCE, STATUS_NONE, STATUS_OK,
};

use crate::hypercall::seuss;
use crate::sync::SpinLock;

/// Whether the hypervisor speaks our ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// Our hypervisor (`hypervisor-uhyve-ext`), ABI version as announced.
    Seuss(u32),
    /// Stock uhyve or another Hermit hypervisor: no invocation channel.
    Standalone,
}

static CHANNEL: SpinLock<Option<Channel>> = SpinLock::new(None);

/// Whether the guest has parked for an invocation before.
static PARKED_BEFORE: AtomicBool = AtomicBool::new(false);

/// Which hypervisor we run on (read from the device tree once). A hypervisor announcing
/// another ABI version stops the guest with a message: misreading the channel is worse.
pub fn channel() -> Channel {
    let mut cached = CHANNEL.lock();
    *cached.get_or_insert_with(|| match crate::bootargs::with(|b| b.seuss_abi) {
        Some(v) if v == seuss_abi::ABI_VERSION => Channel::Seuss(v),
        Some(_) => {
            crate::console::fatal(b"libos: the hypervisor speaks another seuss ABI version than this image\n");
        }
        None => Channel::Standalone,
    })
}

fn on_seuss() -> bool {
    matches!(channel(), Channel::Seuss(_))
}

/// A buffer of `cap` bytes offered through a [`BufferParams`] hypercall, as the ABI requires
/// (full size, so one exchange suffices); `None` when the host has nothing.
fn exchange(cap: usize, call: impl FnOnce(&mut BufferParams)) -> Result<Option<Vec<u8>>, &'static str> {
    let mut buf: Vec<u8> = Vec::with_capacity(cap);
    let mut p = BufferParams { buf: buf.as_mut_ptr() as u64, cap: buf.capacity() as u64, ..Default::default() };
    call(&mut p);
    match p.status {
        STATUS_OK if p.len <= buf.capacity() as u64 => {
            // SAFETY: the host wrote `len` <= capacity bytes into the buffer.
            unsafe { buf.set_len(p.len as usize) };
            Ok(Some(buf))
        }
        STATUS_NONE => Ok(None),
        _ => Err("hypervisor returned an invalid status or length for a buffer hypercall"),
    }
}

/// Asks the hypervisor for the function source (runtime images). `Ok(None)` under stock uhyve
/// or when the host has no function for us.
pub fn ask_function_source() -> Result<Option<String>, &'static str> {
    if !on_seuss() {
        return Ok(None);
    }
    // The runtime snapshot point: what the function allocates from here on goes to a fresh
    // arena, so its import state is not spread over the runtime's free holes.
    crate::heap::start_function_arena();
    let bytes = exchange(MAX_SOURCE, |p| {
        crate::stack_scrub::scrub_dead_stack();
        seuss(Hypercall::FunctionSource, p)
    })?;
    bytes.map(|b| String::from_utf8(b).map_err(|_| "function source is not UTF-8")).transpose()
}

/// One invocation handed over by the hypervisor.
pub struct Invocation {
    /// The args JSON text.
    pub args: String,
    /// Invocation id.
    pub id: u64,
    /// Fresh entropy for this invocation.
    pub entropy: [u8; 32],
}

/// Asks for the next invocation. Re-bases the wall clock on the host's time, so a clone of an
/// old snapshot sees the current time. `Ok(None)` under stock uhyve or when there is none.
pub fn next_invocation() -> Result<Option<Invocation>, &'static str> {
    if !on_seuss() {
        return Ok(None);
    }
    let mut inv = InvocationParams::default();
    let bytes = exchange(MAX_PAYLOAD, |args| {
        inv.args = *args;
        // The first park is the function snapshot point: dead stack zeroed, so it is not
        // stored (see stack_scrub). Later parks skip it: they are on the reuse path.
        if !PARKED_BEFORE.swap(true, Ordering::Relaxed) {
            crate::stack_scrub::scrub_dead_stack();
        }
        seuss(Hypercall::NextInvocation, &mut inv);
        *args = inv.args;
    })?;
    let Some(bytes) = bytes else { return Ok(None) };
    crate::time::set_realtime_ns(inv.wall_clock_ns);
    let args = String::from_utf8(bytes).map_err(|_| "invocation args are not UTF-8")?;
    Ok(Some(Invocation { args, id: inv.invocation_id, entropy: inv.entropy }))
}

/// Hands the result JSON to the hypervisor. Returns `false` under stock uhyve (the caller
/// prints it instead).
pub fn return_result(json: &str, is_error: bool) -> bool {
    if !on_seuss() {
        return false;
    }
    let mut p = ResultParams { buf: json.as_ptr() as u64, len: json.len() as u64, is_error: is_error as u32, _pad: 0 };
    seuss(Hypercall::ReturnResult, &mut p);
    true
}

/// Sends one console line. Returns `false` under stock uhyve (the caller prints it instead).
pub fn log_line(line: &str, is_error: bool) -> bool {
    if !on_seuss() {
        return false;
    }
    let mut p = LogParams { buf: line.as_ptr() as u64, len: line.len() as u64, level: is_error as u32, _pad: 0 };
    seuss(Hypercall::Log, &mut p);
    true
}

/// Sleeps for `ns` nanoseconds: a hypercall that parks the host thread under our hypervisor;
/// under stock uhyve, which has no such call, a `pause` loop on the TSC clock.
pub fn sleep_ns(ns: u64) {
    if ns == 0 {
        return;
    }
    if on_seuss() {
        let mut p = WaitParams { duration_ns: ns };
        seuss(Hypercall::Wait, &mut p);
    } else {
        let deadline = crate::time::monotonic_ns().saturating_add(ns);
        while crate::time::monotonic_ns() < deadline {
            core::hint::spin_loop();
        }
    }
}

/// Asks the host's egress policy whether the guest may reach `addr:port` over `proto` (6 TCP,
/// 17 UDP). Only meaningful under our hypervisor; `true` elsewhere.
pub fn egress_allowed(addr: [u8; 4], port: u16, proto: u8) -> bool {
    if !on_seuss() {
        return true;
    }
    let mut p = EgressParams { addr, port, proto, _pad: 0, allowed: 0, _pad2: 0 };
    seuss(Hypercall::Egress, &mut p);
    p.allowed == 1
}

/// Brings the network device up with these rings (RX buffers posted) in one hypercall; the
/// device's MAC, or `None` when the hypervisor has none. Only under our hypervisor (the caller
/// checks [`channel`]).
pub fn net_setup(rx: QueueRings, tx: QueueRings) -> Option<[u8; 6]> {
    let mut p = NetSetupParams { rx, tx, status: STATUS_NONE, ..Default::default() };
    seuss(Hypercall::NetSetup, &mut p);
    (p.status == STATUS_OK).then_some(p.mac)
}

/// Records that the guest reached `phase` (our hypervisor timestamps it; no-op elsewhere).
pub fn mark(phase: Phase) {
    if on_seuss() {
        let mut p = MarkParams { phase: phase as u32, _pad: 0, guest_ns: crate::time::monotonic_ns() };
        seuss(Hypercall::Mark, &mut p);
    }
}
