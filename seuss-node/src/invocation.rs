//! From an invocation request to a guest's args, and from an [`Execution`] to OpenWhisk's
//! response: parameter merging, the `__OW_*` environment, result classification and logs.
//!
//! | what the guest did | status | result |
//! |---|---|---|
//! | returned a dictionary or an array | success | the value |
//! | returned a dictionary with `error` | application error | `{"error": <its error>}` |
//! | threw, or its promise rejected | application error | `{"error": "<message>"}` |
//! | returned anything else | developer error | `{"error": "The action did not return a dictionary."}` |
//! | ran past its time limit | developer error | `{"error": "The action exceeded its time limits of N milliseconds."}` |
//! | ran out of guest memory (`limits.memory`) | developer error | `{"error": "The action exhausted its memory and was aborted."}` |
//! | crashed or stopped without a result | developer error | `{"error": "The action did not produce a valid response and exited unexpectedly."}` (the cause is logged) |
//! | did not import | developer error | `{"error": "The action failed during initialization: <message>"}` |
//! | the node failed | whisk internal error | `{"error": "<what failed>"}` |

use std::time::SystemTime;

use serde_json::{json, Map, Value};

use crate::activations::Status;
use crate::model::KeyValue;
use crate::scheduler::{ExecError, Execution};

/// Where a log line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// `console.log`/`info`/`debug`, guest stdout.
    Stdout,
    /// `console.warn`/`error`, guest stderr, and the node's notes about the activation.
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// The action's default parameters under the invocation's (an object payload); an array
/// payload passes unchanged, as in OpenWhisk.
pub fn merge_params(defaults: &[KeyValue], payload: Value) -> Value {
    match payload {
        Value::Object(given) => {
            let mut out: Map<String, Value> = defaults.iter().map(|kv| (kv.key.clone(), kv.value.clone())).collect();
            out.extend(given);
            Value::Object(out)
        }
        other => other,
    }
}

/// `params` with the `__OW_*` values the guest's prelude turns into `process.env` (only a
/// dictionary can carry them; any `__ow_env` the caller sent is replaced).
pub fn with_ow_env(params: Value, env: &[(String, String)]) -> Value {
    match params {
        Value::Object(mut o) => {
            let env: Map<String, Value> = env.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
            o.insert("__ow_env".into(), Value::Object(env));
            Value::Object(o)
        }
        other => other,
    }
}

/// How an execution is reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    /// OpenWhisk's status.
    pub status: Status,
    /// The result to report.
    pub result: Value,
    /// Whether the result was a JSON value other than a dictionary or an array.
    pub not_a_dictionary: Option<Value>,
    /// Whether the time limit was hit.
    pub timed_out: bool,
    /// A note for the logs (why it failed), if any.
    pub note: Option<String>,
}

fn err(status: Status, msg: impl Into<String>) -> Classified {
    Classified { status, result: json!({ "error": msg.into() }), not_a_dictionary: None, timed_out: false, note: None }
}

/// Classifies an execution (see the module docs); `timeout_ms` names the limit in messages.
pub fn classify(exec: &Execution, timeout_ms: u64) -> Classified {
    match &exec.result {
        Ok(outcome) => {
            let Some(text) = &outcome.result else {
                let oom = outcome.event == seuss_hv::Event::Exited(134)
                    && String::from_utf8_lossy(&exec.output.1).contains("memory allocation of");
                if oom {
                    let mut c = err(Status::DeveloperError, "The action exhausted its memory and was aborted.");
                    c.note = Some("the guest ran out of memory (limits.memory)".into());
                    return c;
                }
                let mut c = err(Status::DeveloperError, "The action did not produce a valid response and exited unexpectedly.");
                c.note = Some(format!("the guest stopped without a result ({:?})", outcome.event));
                return c;
            };
            let value: Value = match serde_json::from_str(text) {
                Ok(v) => v,
                Err(e) => {
                    let mut c = err(Status::DeveloperError, "The action did not produce a valid JSON or JSON Array response.");
                    c.note = Some(format!("result is not JSON: {e}"));
                    return c;
                }
            };
            if outcome.is_error {
                let result = match value {
                    Value::Object(o) if o.contains_key("error") => Value::Object(o),
                    other => json!({ "error": other }),
                };
                return Classified { status: Status::ApplicationError, result, not_a_dictionary: None, timed_out: false, note: None };
            }
            match value {
                Value::Object(o) if o.contains_key("error") => Classified {
                    status: Status::ApplicationError,
                    result: json!({ "error": o["error"] }),
                    not_a_dictionary: None,
                    timed_out: false,
                    note: None,
                },
                v @ (Value::Object(_) | Value::Array(_)) => {
                    Classified { status: Status::Success, result: v, not_a_dictionary: None, timed_out: false, note: None }
                }
                other => {
                    let mut c = err(Status::DeveloperError, "The action did not return a dictionary.");
                    c.note = Some(format!("Result must be of type object but has type \"{}\": {other}", js_type(&other)));
                    c.not_a_dictionary = Some(other);
                    c
                }
            }
        }
        Err(ExecError::Run(seuss_hv::Error::Timeout(_))) => {
            let mut c = err(Status::DeveloperError, format!("The action exceeded its time limits of {timeout_ms} milliseconds."));
            c.timed_out = true;
            c
        }
        Err(ExecError::Run(e)) if e.kind() == seuss_hv::ErrorKind::Guest => {
            let mut c = err(Status::DeveloperError, "The action did not produce a valid response and exited unexpectedly.");
            c.note = Some(e.to_string());
            c
        }
        Err(ExecError::Import(msg)) => err(Status::DeveloperError, format!("The action failed during initialization: {msg}")),
        Err(e @ (ExecError::Run(_) | ExecError::Node(_) | ExecError::Cancelled)) => {
            err(Status::InternalError, format!("The node could not run the action: {e}"))
        }
    }
}

/// JavaScript's `typeof` of a JSON value.
pub fn js_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        _ => "object",
    }
}

/// The execution's log lines in order: console lines, then raw guest output, then the
/// node's note about a failure.
pub fn log_lines(exec: &Execution, note: Option<&str>) -> Vec<(Stream, String)> {
    let mut out = Vec::new();
    if let Ok(o) = &exec.result {
        for l in &o.logs {
            out.push((if l.is_error { Stream::Stderr } else { Stream::Stdout }, l.text.clone()));
        }
    }
    for (bytes, stream) in [(&exec.output.0, Stream::Stdout), (&exec.output.1, Stream::Stderr)] {
        for line in String::from_utf8_lossy(bytes).lines() {
            out.push((stream, line.to_owned()));
        }
    }
    if let Some(n) = note {
        out.push((Stream::Stderr, n.to_owned()));
    }
    out
}

/// OpenWhisk's log format (`2024-05-29T10:00:00.123456789Z stdout: text`), cut at
/// `limit_bytes` with OpenWhisk's truncation note.
pub fn format_logs(lines: &[(Stream, String)], at: SystemTime, limit_bytes: usize) -> Vec<String> {
    let ts = humantime::format_rfc3339_nanos(at).to_string();
    let mut out = Vec::with_capacity(lines.len());
    let mut used = 0;
    for (stream, text) in lines {
        let line = format!("{ts} {}: {text}", stream.as_str());
        if used + text.len() > limit_bytes {
            out.push(format!(
                "{ts} stderr: Logs were truncated because the total bytes size exceeds the limit of {limit_bytes} bytes."
            ));
            break;
        }
        used += text.len();
        out.push(line);
    }
    out
}

/// Milliseconds since the epoch.
pub fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::StartKind;
    use seuss_hv::{Event, LogLine, Outcome};
    use std::time::Duration;

    fn exec(result: Option<&str>, is_error: bool) -> Execution {
        Execution {
            result: Ok(Outcome {
                result: result.map(str::to_owned),
                is_error,
                logs: vec![LogLine { is_error: false, text: "hi".into() }],
                event: Event::Returned,
                run_time: Duration::ZERO,
            }),
            output: (Vec::new(), b"raw\n".to_vec()),
            start: StartKind::Hot,
            wait: Duration::ZERO,
            init: Duration::ZERO,
            started: SystemTime::UNIX_EPOCH,
            ended: SystemTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn results_are_classified_like_openwhisk() {
        assert_eq!(classify(&exec(Some(r#"{"a":1}"#), false), 1).status, Status::Success);
        assert_eq!(classify(&exec(Some("[1]"), false), 1).status, Status::Success);
        let app = classify(&exec(Some(r#"{"error":"sorry","x":1}"#), false), 1);
        assert_eq!((app.status, app.result), (Status::ApplicationError, json!({"error":"sorry"})));
        assert_eq!(classify(&exec(Some(r#"{"error":"boom"}"#), true), 1).status, Status::ApplicationError);
        let s = classify(&exec(Some(r#""text""#), false), 1);
        assert_eq!(s.status, Status::DeveloperError);
        assert_eq!(s.result, json!({"error": "The action did not return a dictionary."}));
        assert_eq!(classify(&exec(None, true), 1).status, Status::DeveloperError);
        let mut t = exec(None, false);
        t.result = Err(ExecError::Run(seuss_hv::Error::Timeout(Duration::from_millis(5))));
        let c = classify(&t, 5);
        assert!(c.timed_out);
        assert_eq!(c.result, json!({"error": "The action exceeded its time limits of 5 milliseconds."}));
    }

    #[test]
    fn params_merge_under_the_payload_and_env_rides_along() {
        let d = [KeyValue { key: "a".into(), value: json!(1) }, KeyValue { key: "b".into(), value: json!(2) }];
        assert_eq!(merge_params(&d, json!({"b": 3})), json!({"a":1,"b":3}));
        assert_eq!(merge_params(&d, json!([1])), json!([1]));
        let e = with_ow_env(json!({"__ow_env": "mine"}), &[("__OW_X".into(), "y".into())]);
        assert_eq!(e, json!({"__ow_env": {"__OW_X": "y"}}));
    }

    #[test]
    fn logs_are_formatted_and_bounded() {
        let lines = log_lines(&exec(Some("{}"), false), Some("note"));
        assert_eq!(lines, vec![(Stream::Stdout, "hi".into()), (Stream::Stderr, "raw".into()), (Stream::Stderr, "note".into())]);
        let f = format_logs(&lines, SystemTime::UNIX_EPOCH, 4);
        assert_eq!(f[0], "1970-01-01T00:00:00.000000000Z stdout: hi");
        assert!(f[1].ends_with("exceeds the limit of 4 bytes."), "{f:?}");
    }
}
