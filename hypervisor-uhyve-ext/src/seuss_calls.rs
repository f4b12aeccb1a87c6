//! Our own hypercalls (`seuss-abi`), decoded once into [`SeussCall`].
//!
//! [`SeussCall::decode`] reads the parameter struct through the bounds-checked [`GuestRam`]
//! accessors and applies every rule of the ABI that does not depend on the instance's state:
//! buffers lie in RAM; an "ask" call offers a buffer of the ABI's full size (so the host never
//! has to ask the guest to grow it); results and log lines are at most [`MAX_PAYLOAD`] bytes;
//! results are UTF-8; phases are known. A violation is a [`Violation`], which stops the guest.

use std::time::Duration;

use seuss_abi::{
    BufferParams, EgressParams, Hypercall, InvocationParams, LogParams, MarkParams, NetSetupParams, Phase, QueueRings, ResultParams,
    WaitParams, MAX_PAYLOAD, MAX_SOURCE,
};

use crate::memory::GuestRam;

/// A guest buffer the host fills: where it is and how much it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestBuffer {
    /// Guest-physical address of the [`BufferParams`] (outputs go there).
    pub params: u64,
    /// Guest-physical address of the buffer.
    pub buf: u64,
    /// Its capacity in bytes.
    pub cap: u64,
}

/// A decoded hypercall of ours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeussCall {
    /// The runtime asks for its function source (runtime snapshot point).
    FunctionSource(GuestBuffer),
    /// The guest asks for the next invocation (function snapshot point). `params` is the
    /// [`InvocationParams`], whose first field is the args buffer.
    NextInvocation(GuestBuffer),
    /// The invocation's result (UTF-8, at most [`MAX_PAYLOAD`] bytes; not yet checked to be
    /// JSON).
    ReturnResult {
        /// The text.
        text: String,
        /// Whether the guest says it is an error object.
        is_error: bool,
    },
    /// One console line (invalid UTF-8 replaced).
    Log {
        /// The text.
        text: String,
        /// warn/error rather than log/info.
        is_error: bool,
    },
    /// Sleep this long (bounded by the invocation's deadline).
    Wait(Duration),
    /// The guest reached a phase.
    Mark(Phase),
    /// May the guest reach `addr:port` over `proto`? The answer goes to `params`.
    Egress {
        /// The parameter struct.
        params: u64,
        /// IPv4 address.
        addr: std::net::Ipv4Addr,
        /// Port.
        port: u16,
        /// 6 TCP, 17 UDP.
        proto: u8,
    },
    /// Bring the network device up with these rings (RX, TX); the answer goes to `params`.
    NetSetup {
        /// The parameter struct.
        params: u64,
        /// The RX and TX queues' rings.
        rings: [QueueRings; 2],
    },
}

/// A hypercall of ours broke the ABI's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Violation {
    /// The call's name.
    pub call: &'static str,
    /// What was wrong.
    pub detail: String,
}

impl SeussCall {
    /// Decodes `call` with its parameter struct at `arg`.
    pub fn decode(call: Hypercall, arg: u64, ram: &GuestRam) -> Result<Self, Violation> {
        let name = call.name();
        let bad = |detail: String| Violation { call: name, detail };
        let mem = |e: crate::memory::MemError| bad(e.to_string());
        // Every parameter struct must lie inside RAM, whatever the call.
        ram.slice(arg, call.params_size() as u64).map_err(mem)?;
        let buffer = |min: usize| -> Result<GuestBuffer, Violation> {
            let p: BufferParams = ram.read(arg).map_err(mem)?;
            if p.cap < min as u64 {
                return Err(bad(format!("the guest offered a buffer of {} bytes; the ABI requires {min}", p.cap)));
            }
            ram.slice(p.buf, p.cap).map_err(mem)?;
            Ok(GuestBuffer { params: arg, buf: p.buf, cap: p.cap })
        };
        Ok(match call {
            Hypercall::FunctionSource => SeussCall::FunctionSource(buffer(MAX_SOURCE)?),
            Hypercall::NextInvocation => {
                // The args buffer is the first field of InvocationParams.
                const _: () = assert!(std::mem::offset_of!(InvocationParams, args) == 0);
                SeussCall::NextInvocation(buffer(MAX_PAYLOAD)?)
            }
            Hypercall::ReturnResult => {
                let p: ResultParams = ram.read(arg).map_err(mem)?;
                if p.len > MAX_PAYLOAD as u64 {
                    return Err(bad(format!("result of {} bytes exceeds the 1 MiB limit", p.len)));
                }
                let bytes = ram.slice(p.buf, p.len).map_err(mem)?;
                let text = std::str::from_utf8(bytes).map_err(|_| bad("result is not UTF-8".into()))?;
                SeussCall::ReturnResult { text: text.to_owned(), is_error: p.is_error != 0 }
            }
            Hypercall::Log => {
                let p: LogParams = ram.read(arg).map_err(mem)?;
                if p.len > MAX_PAYLOAD as u64 {
                    return Err(bad(format!("log line of {} bytes exceeds 1 MiB", p.len)));
                }
                let text = String::from_utf8_lossy(ram.slice(p.buf, p.len).map_err(mem)?).into_owned();
                SeussCall::Log { text, is_error: p.level != 0 }
            }
            Hypercall::Wait => {
                let p: WaitParams = ram.read(arg).map_err(mem)?;
                SeussCall::Wait(Duration::from_nanos(p.duration_ns))
            }
            Hypercall::Egress => {
                let p: EgressParams = ram.read(arg).map_err(mem)?;
                SeussCall::Egress { params: arg, addr: p.addr.into(), port: p.port, proto: p.proto }
            }
            Hypercall::NetSetup => {
                let p: NetSetupParams = ram.read(arg).map_err(mem)?;
                SeussCall::NetSetup { params: arg, rings: [p.rx, p.tx] }
            }
            Hypercall::Mark => {
                let p: MarkParams = ram.read(arg).map_err(mem)?;
                SeussCall::Mark(Phase::from_u32(p.phase).ok_or_else(|| bad(format!("unknown phase {}", p.phase)))?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0x1000_0000;

    #[test]
    fn ask_calls_must_offer_the_full_buffer_inside_ram() {
        let mut ram = GuestRam::anonymous(BASE, 32 << 20).unwrap();
        let p = BASE + 0x100;
        let small = BufferParams { buf: BASE + 0x1000, cap: 4096, ..Default::default() };
        ram.write(p, &small).unwrap();
        let e = SeussCall::decode(Hypercall::NextInvocation, p, &ram).unwrap_err();
        assert!(e.detail.contains("requires"), "{e}");
        let full = BufferParams { buf: BASE + 0x1000, cap: MAX_PAYLOAD as u64, ..Default::default() };
        ram.write(p, &full).unwrap();
        assert_eq!(
            SeussCall::decode(Hypercall::NextInvocation, p, &ram).unwrap(),
            SeussCall::NextInvocation(GuestBuffer { params: p, buf: BASE + 0x1000, cap: MAX_PAYLOAD as u64 })
        );
        let outside = BufferParams { buf: BASE + (32 << 20) - 4096, cap: MAX_PAYLOAD as u64, ..Default::default() };
        ram.write(p, &outside).unwrap();
        assert!(SeussCall::decode(Hypercall::NextInvocation, p, &ram).is_err());
    }

    #[test]
    fn results_are_bounded_utf8_and_phases_known() {
        let mut ram = GuestRam::anonymous(BASE, 4 << 20).unwrap();
        let p = BASE + 0x100;
        ram.slice_mut(BASE + 0x1000, 2).unwrap().copy_from_slice(b"{}");
        ram.write(p, &ResultParams { buf: BASE + 0x1000, len: 2, is_error: 0, _pad: 0 }).unwrap();
        assert_eq!(
            SeussCall::decode(Hypercall::ReturnResult, p, &ram).unwrap(),
            SeussCall::ReturnResult { text: "{}".into(), is_error: false }
        );
        ram.write(p, &ResultParams { buf: BASE + 0x1000, len: MAX_PAYLOAD as u64 + 1, is_error: 0, _pad: 0 }).unwrap();
        assert!(SeussCall::decode(Hypercall::ReturnResult, p, &ram).is_err());
        ram.slice_mut(BASE + 0x1000, 2).unwrap().copy_from_slice(b"\xff{");
        ram.write(p, &ResultParams { buf: BASE + 0x1000, len: 2, is_error: 0, _pad: 0 }).unwrap();
        assert!(SeussCall::decode(Hypercall::ReturnResult, p, &ram).unwrap_err().detail.contains("UTF-8"));
        ram.write(p, &MarkParams { phase: 99, _pad: 0, guest_ns: 0 }).unwrap();
        assert!(SeussCall::decode(Hypercall::Mark, p, &ram).is_err());
        // A parameter struct straddling the end of RAM.
        assert!(SeussCall::decode(Hypercall::Wait, BASE + (4 << 20) - 4, &ram).is_err());
    }
}
