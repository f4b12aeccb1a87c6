//! Completing the two "ask" hypercalls: the runtime's FunctionSource and the launcher's
//! NextInvocation.
//!
//! One rule for both buffers: the guest offers a buffer of the ABI's full size before it
//! parks (checked when the call is decoded), so the host always copies the whole payload at
//! once; there is no "too small, grow and ask again" round trip.

use std::time::Instant;

use seuss_abi::{BufferParams, Hypercall, InvocationParams, STATUS_NONE, STATUS_OK};

use super::{Instance, State};
use crate::config::check_args;
use crate::error::Error;
use crate::freshness;
use crate::outcome::{Event, Outcome};
use crate::seuss_calls::{GuestBuffer, SeussCall};

impl Instance {
    /// Completes a pending FunctionSource with `source` (`None`: the host has none); the
    /// guest imports it at the next [`run`](Self::run).
    pub fn provide_source(&mut self, source: Option<&str>) -> Result<(), Error> {
        self.state_check()?;
        let params = self.parked_in(Hypercall::FunctionSource).ok_or(Error::State("not waiting for a function source"))?;
        self.check_origin()?;
        if let Some(src) = source.filter(|s| s.len() > seuss_abi::MAX_SOURCE) {
            return Err(Error::Config(format!(
                "function source is {} bytes, over the {} byte limit",
                src.len(),
                seuss_abi::MAX_SOURCE
            )));
        }
        let r = self.fill(Hypercall::FunctionSource, params, source.map(str::as_bytes));
        self.settle_fill(r)
    }

    /// Runs one invocation: completes the pending NextInvocation with `args` (JSON text; empty
    /// means `{}`), fresh wall-clock time, entropy and an id, and runs until the guest returns
    /// its result, exits or fails.
    ///
    /// On a clone fresh from [`from_snapshot`](Self::from_snapshot) or
    /// [`reset`](Self::reset) this is a *hot* start. On an instance that already returned a
    /// result it first lets the guest park again: that is *reuse* (no isolation between the
    /// two invocations).
    pub fn invoke(&mut self, args: &str) -> Result<Outcome, Error> {
        self.state_check()?;
        check_args(args).map_err(Error::Config)?;
        let _span = tracing::debug_span!("invoke", args_len = args.len()).entered();
        let deadline = self.deadline();
        if self.state == State::Returned {
            match self.run_until(deadline)? {
                Event::WantsInvocation => {}
                other => {
                    self.state = State::Failed;
                    let what = match other {
                        Event::Exited(code) => format!("guest exited with status {code} after its result"),
                        other => format!("guest did not park for the next invocation ({other:?})"),
                    };
                    return Err(Error::Crash { what, rip: self.rip() });
                }
            }
        }
        let params = self.parked_in(Hypercall::NextInvocation).ok_or(Error::State("not waiting for an invocation"))?;
        self.check_origin()?;
        self.result = None;
        self.output.begin_invocation();
        let start = Instant::now();
        let r = self.fill(Hypercall::NextInvocation, params, Some(args.as_bytes()));
        self.settle_fill(r)?;
        let event = self.run_until(deadline)?;
        let (result, is_error) = match self.result.take() {
            Some((r, e)) => (Some(r), e),
            None => (None, true),
        };
        Ok(Outcome { result, is_error, logs: self.output.take_logs(), event, run_time: start.elapsed() })
    }

    /// After a fill: the guest may run on; a failed fill fails the instance.
    fn settle_fill(&mut self, r: Result<(), Error>) -> Result<(), Error> {
        self.state = if r.is_ok() { State::Ready } else { State::Failed };
        r
    }

    /// Writes `payload` into the guest buffer of the ask call parked at `params` and its
    /// outputs into the parameter struct (one write of the struct; for NextInvocation also the
    /// wall clock, entropy and invocation id).
    fn fill(&mut self, call: Hypercall, params: u64, payload: Option<&[u8]>) -> Result<(), Error> {
        let rip = self.rip();
        let bad = |detail: String| Error::Hypercall { call: call.name(), detail, rip };
        // Decoded again from guest memory: a clone's buffer comes from the snapshot.
        let buffer = match SeussCall::decode(call, params, &self.vm.ram).map_err(|v| bad(v.detail))? {
            SeussCall::FunctionSource(b) | SeussCall::NextInvocation(b) => b,
            _ => unreachable!("decoding an ask call yields an ask call"),
        };
        let GuestBuffer { buf, cap, .. } = buffer;
        let out = match payload {
            None => BufferParams { buf, cap, len: 0, status: STATUS_NONE, _pad: 0 },
            Some(bytes) => {
                // Decoding guaranteed cap >= the ABI's limit, and callers checked the payload
                // against it; the check stays as the last guard.
                if bytes.len() as u64 > cap {
                    return Err(bad(format!("buffer of {cap} bytes cannot hold {} bytes", bytes.len())));
                }
                self.vm.ram.slice_mut(buf, bytes.len() as u64).map_err(|e| bad(e.to_string()))?.copy_from_slice(bytes);
                BufferParams { buf, cap, len: bytes.len() as u64, status: STATUS_OK, _pad: 0 }
            }
        };
        let written = if call == Hypercall::NextInvocation {
            let p = InvocationParams {
                args: out,
                wall_clock_ns: freshness::unix_now_ns(),
                invocation_id: freshness::next_invocation_id(),
                entropy: freshness::entropy(),
            };
            self.vm.ram.write(params, &p)
        } else {
            self.vm.ram.write(params, &out)
        };
        written.map_err(|e| bad(e.to_string()))
    }
}
