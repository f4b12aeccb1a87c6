//! Serving our own hypercalls: the ask calls park the instance, the rest are answered at once.

use std::time::{Duration, Instant};

use seuss_abi::Hypercall;

use super::{Instance, State};
use crate::error::Error;
use crate::outcome::Event;
use crate::seuss_calls::SeussCall;

impl Instance {
    /// Serves a decoded call of ours (made with parameters at `params`); `Some(event)` when
    /// `run()` must return.
    pub(super) fn serve_seuss(&mut self, ours: Hypercall, params: u64, call: SeussCall, deadline: Instant) -> Result<Option<Event>, Error> {
        // Frames the guest published without a notify leave now (see `Network::drain_tx`).
        let drained = match &mut self.network {
            Some(n) => n.drain_tx(&mut self.vm.ram),
            None => Ok(()),
        };
        if let Err(e) = drained {
            return Err(Error::Hypercall { call: "virtio-net TX", detail: e.to_string(), rip: self.rip() });
        }
        match call {
            SeussCall::FunctionSource(_) => {
                self.state = State::Parked { call: ours, params };
                Ok(Some(Event::WantsSource))
            }
            SeussCall::NextInvocation(_) => {
                self.state = State::Parked { call: ours, params };
                Ok(Some(Event::WantsInvocation))
            }
            SeussCall::ReturnResult { text, is_error } => {
                self.result = Some(checked_result(text, is_error));
                self.state = State::Returned;
                Ok(Some(Event::Returned))
            }
            SeussCall::Log { text, is_error } => {
                self.output.log(text, is_error);
                Ok(None)
            }
            SeussCall::Wait(d) => {
                // Sleeping parks this thread: a waiting guest burns no host CPU. With a live
                // network device the wait ends early when a frame for the guest arrives.
                let left = deadline.saturating_duration_since(Instant::now());
                let d = d.min(left).min(Duration::from_secs(3600));
                let waited = match &mut self.network {
                    Some(n) if n.device_ref().is_live() => n.wait(&mut self.vm.ram, d),
                    _ => {
                        std::thread::sleep(d);
                        Ok(())
                    }
                };
                if let Err(e) = waited {
                    return Err(Error::Hypercall { call: "Wait (network)", detail: e.to_string(), rip: self.rip() });
                }
                Ok(None)
            }
            SeussCall::Mark(phase) => {
                self.marks.phases[phase as usize] = Some(Instant::now());
                Ok(None)
            }
            SeussCall::NetSetup { params, rings } => {
                let rip = self.rip();
                let mut out: seuss_abi::NetSetupParams =
                    self.vm.ram.read(params).map_err(|e| Error::Hypercall { call: "NetSetup", detail: e.to_string(), rip })?;
                match &mut self.network {
                    Some(n) => {
                        out.mac = n
                            .setup(&mut self.vm.ram, rings)
                            .map_err(|e| Error::Hypercall { call: "NetSetup", detail: e.to_string(), rip })?;
                        out.status = seuss_abi::STATUS_OK;
                    }
                    None => out.status = seuss_abi::STATUS_NONE,
                }
                self.vm.ram.write(params, &out).map_err(|e| Error::Hypercall { call: "NetSetup", detail: e.to_string(), rip })?;
                Ok(None)
            }
            SeussCall::Egress { params, addr, port, proto: _ } => {
                let allowed = self.network.as_ref().is_some_and(|n| n.egress_allowed(addr, port));
                if !allowed {
                    tracing::debug!(%addr, port, "egress refused");
                }
                let rip = self.rip();
                self.vm
                    .ram
                    .write(params + std::mem::offset_of!(seuss_abi::EgressParams, allowed) as u64, &u32::from(allowed))
                    .map_err(|e| Error::Hypercall { call: "Egress", detail: e.to_string(), rip })?;
                Ok(None)
            }
        }
    }
}

/// The result as the host hands it on: exactly one JSON value on one line, or an error result
/// naming why the guest's text is not that. The guest is untrusted: a function that replaced
/// `JSON.stringify` must not be able to forge several results or a non-JSON one.
pub(crate) fn checked_result(text: String, is_error: bool) -> (String, bool) {
    match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
        Ok(_) if !text.contains(['\n', '\r']) => (text, is_error),
        // One value spread over lines (pretty-printed): re-encoded compactly, so the result
        // stays one line.
        Ok(_) => match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => (v.to_string(), is_error),
            Err(e) => (not_json(&e), true),
        },
        Err(e) => (not_json(&e), true),
    }
}

fn not_json(e: &serde_json::Error) -> String {
    serde_json::json!({ "error": format!("the function's result is not JSON: {e}") }).to_string()
}

#[cfg(test)]
mod tests {
    use super::checked_result;

    #[test]
    fn only_one_json_value_passes() {
        assert_eq!(checked_result(r#"{"a":1}"#.into(), false), (r#"{"a":1}"#.into(), false));
        assert_eq!(checked_result("{\n  \"a\": 1\n}".into(), false), (r#"{"a":1}"#.into(), false));
        for forged in ["{\"id\":1}\n{\"id\":2}", "not json", "", "{\"a\":1} x"] {
            let (text, is_error) = checked_result(forged.into(), false);
            assert!(is_error, "{forged:?}");
            assert!(text.contains("the function's result is not JSON"), "{text}");
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(v["error"].is_string());
        }
        // Lone surrogates are valid JSON text (Node's JSON.stringify produces them).
        assert!(!checked_result(r#"{"a":"\ud800"}"#.into(), false).1);
    }
}
