//! OpenWhisk's action-runtime protocol (`POST /init`, `POST /run`), as the Node.js runtime
//! (`openwhisk-runtime-nodejs`) answers it, for running *inside* OpenWhisk: the invoker starts
//! `seuss serve --action-proxy` as the action's container, `/init` makes the function snapshot,
//! and every `/run` runs on a fresh clone of it.
//!
//! | request | answer |
//! |---|---|
//! | `/init` with `value.code` and `value.main` | 200 `{"OK":true}`; the `value.env` entries are in `process.env` from the first line of the code on |
//! | `/init` without code or main | 403 `{"error":"Missing main/no code to execute."}` |
//! | a second `/init` | 403 `{"error":"Cannot initialize the action more than once."}` |
//! | `/init` whose code does not parse or import | 502 `{"error":"Initialization has failed due to: ..."}`, then every request 403 |
//! | `/init` of a base64 archive (`binary`) | 502 as above: zip and tar.gz actions are not supported |
//! | `/run` before `/init` | 403 `{"error":"System not initialized."}` |
//! | `/run` with a `value` that is not a dictionary | 403 `{"error":"Internal system error: the argument must be a dictionary but has type 'T'."}` |
//! | `/run`: a dictionary or array result | 200 with it (`null` too); `undefined` gives `{}` |
//! | `/run`: a thrown error or rejected promise | 200 `{"error": "<message>"}` (an application error) |
//! | `/run`: another result | 502 `{"error":"The action did not return a dictionary."}` |
//! | `/run`: time limit (the run's `deadline`), crash | 502 `{"error": ...}` |
//! | bad JSON, unknown path | 500 `{"error":"Bad request."}` |
//!
//! After every `/run` that passed the checks and after a failed `/init`, the function's console
//! lines go to this process's stdout (log/info/debug) and stderr (warn/error), then the
//! sentinel line `XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX` is written to stdout and to stderr,
//! all before the response, so the invoker finds every line of the activation before the
//! markers. The top-level `/run` fields other than `value` that are strings become
//! `__OW_<FIELD>` in `process.env` (for that run only); `__OW_API_HOST` comes from this
//! process's environment, as the invoker sets it on the container.
//!
//! Differences from the Node.js runtime, by design: runs may overlap (each has its own clone,
//! so `__OW_ALLOW_CONCURRENT` is not needed), and a thrown error does not stop the container
//! (the next run gets a fresh clone anyway).

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::common::{json_response, read_body};
use crate::activations::Status;
use crate::config::MAX_PROXY_BODY;
use crate::function::{Function, GuestSource};
use crate::invocation::{classify, js_type, log_lines, with_ow_env, Stream};
use crate::metrics::{InvocationLabels, StartLabels};
use crate::model::is_binary_code;
use crate::scheduler::{ExecError, Execution, InvokeJob, Job, Rejected};
use crate::source::{env_text, guest_source, source_hash};
use crate::state::{NodeState, ProxyPhase};

/// OpenWhisk's log sentinel.
pub const SENTINEL: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";
/// Guest memory of the proxied action (the runtime snapshot's default).
const PROXY_MEMORY_MB: u64 = 256;
/// Time limit of a `/run` without a `deadline`, and of `/init`'s import.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest time limit a `deadline` may give (OpenWhisk's largest action timeout).
const MAX_TIMEOUT: Duration = Duration::from_secs(300);

type Node = State<Arc<NodeState>>;

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    json_response(status, &json!({ "error": msg.into() }))
}

fn bad_request() -> Response {
    error(StatusCode::INTERNAL_SERVER_ERROR, "Bad request.")
}

/// Writes `lines` to stdout/stderr and then one sentinel on each (stdout first).
pub fn write_activation_logs(lines: &[(Stream, String)]) {
    let (out, err) = (std::io::stdout(), std::io::stderr());
    let (mut out, mut err) = (out.lock(), err.lock());
    for (stream, text) in lines {
        let _ = match stream {
            Stream::Stdout => writeln!(out, "{text}"),
            Stream::Stderr => writeln!(err, "{text}"),
        };
    }
    let _ = writeln!(out, "{SENTINEL}");
    let _ = out.flush();
    let _ = writeln!(err, "{SENTINEL}");
    let _ = err.flush();
}

fn system_error(status: StatusCode, msg: &str) -> Response {
    eprintln!("Internal system error: {msg}");
    error(status, msg)
}

async fn body_json(headers: &HeaderMap, body: Body) -> Option<Value> {
    let bytes = read_body(headers, body, MAX_PROXY_BODY, "Request").await.ok()?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Some(json!({}));
    }
    serde_json::from_slice::<Value>(&bytes).ok().filter(|v| v.is_object() || v.is_array())
}

fn set_phase(node: &NodeState, p: ProxyPhase) {
    *node.proxy.lock().unwrap_or_else(|e| e.into_inner()) = p;
}

/// `POST /init`
pub async fn init(State(node): Node, headers: HeaderMap, body: Body) -> Response {
    let Some(body) = body_json(&headers, body).await else { return bad_request() };
    let value = body.get("value").cloned().unwrap_or(Value::Null);
    let text = |k: &str| value.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    {
        let mut phase = node.proxy.lock().unwrap_or_else(|e| e.into_inner());
        match &*phase {
            ProxyPhase::Initialized(_) => {
                return system_error(StatusCode::FORBIDDEN, "Cannot initialize the action more than once.");
            }
            ProxyPhase::Ready => {}
            other => {
                return system_error(StatusCode::FORBIDDEN, &format!("System not ready, status is {}.", other.word()));
            }
        }
        if text("main").is_none() || text("code").is_none() {
            return error(StatusCode::FORBIDDEN, "Missing main/no code to execute.");
        }
        *phase = ProxyPhase::Starting;
    }
    let (main, code) = (text("main").unwrap_or_default(), text("code").unwrap_or_default());
    let name = value.get("name").and_then(Value::as_str).unwrap_or("action").to_owned();
    let fail = |node: &NodeState, msg: String| {
        set_phase(node, ProxyPhase::Stopped);
        write_activation_logs(&[(Stream::Stderr, format!("Error during initialization: {msg}"))]);
        error(StatusCode::BAD_GATEWAY, format!("Initialization has failed due to: {msg}"))
    };
    if value.get("binary").and_then(Value::as_bool).unwrap_or(false) || is_binary_code(&code) {
        return fail(
            &node,
            "There was an error uncompressing the action archive: zip and tar.gz actions are not supported by seuss; send the source text as code.".into(),
        );
    }
    let env: Vec<(String, String)> = match value.get("env") {
        Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.clone(), env_text(v))).collect(),
        _ => Vec::new(),
    };
    let checked = {
        let name = name.clone();
        tokio::task::spawn_blocking(move || guest_source(&name, &code, Some(&main), &env)).await
    };
    let guest = match checked {
        Ok(Ok(g)) => g,
        Ok(Err(crate::source::SourceError::Syntax(e))) => return fail(&node, format!("SyntaxError: {e}")),
        Ok(Err(e)) => return fail(&node, e.to_string()),
        Err(e) => return fail(&node, e.to_string()),
    };
    let hash = source_hash(&guest);
    let function = Arc::new(Function::new(
        format!("action-proxy/{name}"),
        GuestSource::Memory(guest.into()),
        hash,
        node.config.state_dir.join("proxy"),
        PROXY_MEMORY_MB,
        DEFAULT_TIMEOUT,
    ));
    if let Err(e) = std::fs::create_dir_all(&function.dir) {
        return fail(&node, format!("{}: {e}", function.dir.display()));
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let submitted = node.scheduler.submit(Job::Prepare {
        function: function.clone(),
        done: Box::new(move |r| {
            let _ = tx.send(r);
        }),
    });
    if let Err(r) = submitted {
        set_phase(&node, ProxyPhase::Ready);
        return error(StatusCode::SERVICE_UNAVAILABLE, rejected_text(&r));
    }
    match rx.await.unwrap_or(Err(ExecError::Cancelled)) {
        Ok(_) => {
            set_phase(&node, ProxyPhase::Initialized(function));
            json_response(StatusCode::OK, &json!({ "OK": true }))
        }
        Err(ExecError::Import(msg)) => fail(&node, msg),
        Err(e) => fail(&node, e.to_string()),
    }
}

fn rejected_text(r: &Rejected) -> String {
    match r {
        Rejected::QueueFull { max } => format!("Too many requests in flight: the queue holds its limit of {max}."),
        Rejected::Namespace { count, allowed } => format!("Too many concurrent requests in flight (count: {count}, allowed: {allowed})."),
        Rejected::ShuttingDown => "The node is shutting down.".into(),
    }
}

/// The time limit a `/run`'s `deadline` (epoch ms, a string or a number) leaves, rounded up to
/// whole seconds so that the clones of runs with the same limit are pooled together.
fn timeout_of(deadline: Option<&Value>) -> Duration {
    let ms = match deadline {
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    let Some(ms) = ms else { return DEFAULT_TIMEOUT };
    let now = crate::invocation::epoch_ms(SystemTime::now());
    let left = ms.saturating_sub(now).max(1);
    Duration::from_secs(left.div_ceil(1000)).min(MAX_TIMEOUT)
}

/// `POST /run`
pub async fn run(State(node): Node, headers: HeaderMap, body: Body) -> Response {
    let Some(body) = body_json(&headers, body).await else { return bad_request() };
    let function = match &*node.proxy.lock().unwrap_or_else(|e| e.into_inner()) {
        ProxyPhase::Initialized(f) => f.clone(),
        _ => return system_error(StatusCode::FORBIDDEN, "System not initialized."),
    };
    let value = match body.get("value") {
        None | Some(Value::Null) => json!({}),
        Some(v @ (Value::Object(_) | Value::Array(_))) => v.clone(),
        Some(other) => {
            return system_error(
                StatusCode::FORBIDDEN,
                &format!("Internal system error: the argument must be a dictionary but has type '{}'.", js_type(other)),
            )
        }
    };
    let mut env: Vec<(String, String)> = Vec::new();
    if let Value::Object(o) = &body {
        for (k, v) in o.iter().filter(|(k, _)| *k != "value") {
            if let Value::String(s) = v {
                env.push((format!("__OW_{}", k.to_uppercase()), s.clone()));
            }
        }
    }
    if !env.iter().any(|(k, _)| k == "__OW_API_HOST") {
        if let Ok(h) = std::env::var("__OW_API_HOST") {
            env.push(("__OW_API_HOST".into(), h));
        }
    }
    let timeout = timeout_of(body.get("deadline"));
    let args = with_ow_env(value, &env).to_string();
    if args.len() > seuss_hv::MAX_PAYLOAD {
        let msg = format!("The action's arguments are {} bytes, over the limit of {} bytes.", args.len(), seuss_hv::MAX_PAYLOAD);
        write_activation_logs(&[(Stream::Stderr, msg.clone())]);
        return error(StatusCode::PAYLOAD_TOO_LARGE, msg);
    }
    let accepted = std::time::Instant::now();
    let (tx, rx) = tokio::sync::oneshot::channel::<(StatusCode, Value)>();
    let done = {
        let node = node.clone();
        Box::new(move |exec: Execution| {
            let c = classify(&exec, timeout.as_millis() as u64);
            write_activation_logs(&log_lines(&exec, c.note.as_deref()));
            let start = exec.start.as_str();
            node.metrics.invocations.get_or_create(&InvocationLabels { start, status: c.status.label() }).inc();
            node.metrics.latency.get_or_create(&StartLabels { start }).observe(accepted.elapsed().as_secs_f64());
            let reply = match (c.status, &c.not_a_dictionary) {
                // The Node.js runtime answers a `null` result as it is.
                (_, Some(Value::Null)) => (StatusCode::OK, Value::Null),
                (Status::Success | Status::ApplicationError, _) => (StatusCode::OK, c.result),
                (_, _) => (StatusCode::BAD_GATEWAY, c.result),
            };
            let _ = tx.send(reply);
        })
    };
    let span = tracing::debug_span!("activation", action = %function.label, start = tracing::field::Empty);
    let job = InvokeJob { function, args, timeout, span, done, permit: None };
    if let Err(r) = node.scheduler.submit(Job::Invoke(Box::new(job))) {
        return error(StatusCode::SERVICE_UNAVAILABLE, rejected_text(&r));
    }
    match rx.await {
        Ok((status, v)) => json_response(status, &v),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error."),
    }
}

/// Any other path or method: 500 `{"error":"Bad request."}`, as the Node.js runtime answers.
pub async fn other() -> Response {
    bad_request()
}
