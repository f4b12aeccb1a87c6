//! `fetch()` and the WHATWG types around it: `Headers`, `Request`, `Response`, `URL`,
//! `URLSearchParams`, `AbortController`/`AbortSignal`, `DOMException`, `Event`/`EventTarget`.
//!
//! Layout:
//!
//! ```text
//!  fetch.js (JS classes, the fetch algorithm: redirects, abort, bodies, Node's error shapes)
//!     │ natives (an object handed to fetch.js once, never a global)
//!     ▼
//!  mod.rs ── http start/body/abort ──► client.rs (I/O tasks + keep-alive pool)
//!     │                                    │ http.rs (request head, httparse, body framing)
//!     │                                    ▼
//!     │                               platform::net (non-blocking connect, poll)
//!     ├── URL, form encoding, UTF-8 ──► url.rs (`url` crate)
//!     └── unref'd timers (AbortSignal.timeout)
//! ```
//!
//! **Asynchrony.** The launcher is single-threaded. `fetch` starts an I/O task and returns a
//! promise; the job executor (`executor.rs`) calls [`wait`] whenever it has no job ready: it
//! advances every task whose socket is ready and waits (in `poll(2)` on the host, `sys_poll`
//! in the guest) for the first of: a socket becoming ready, the next JS timer, the next
//! unref'd timer. Finished steps settle their promises (head: the `Response`; body: its bytes).
//! So many fetches run at once under `Promise.all`, timers fire while a fetch waits, and
//! `AbortSignal.timeout` cuts a slow response (the JS side rejects, then drops the task, which
//! closes its socket).
//!
//! **Unref'd timers.** `AbortSignal.timeout(ms)` must not keep an invocation alive (Node's
//! timer for it is unref'd): its timers live here and fire only while other work (a task, a JS
//! timer) is pending; [`release`] drops them when the executor runs out of work.
//!
//! **Per-invocation state.** Nothing is created at engine initialisation beyond the JS
//! classes; tasks, idle connections and unref'd timers exist only while a function runs.
//! [`release`] (the executor has no work left: the end of an import or an invocation) drops
//! idle connections, unclaimed bodies and timers; [`clear`] (an invocation failed) also drops
//! tasks in flight. So a snapshot, and each clone, starts with no socket open.

mod client;
mod http;
mod url;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use boa_engine::builtins::promise::ResolvingFunctions;
use boa_engine::object::builtins::{AlignedVec, JsArray, JsArrayBuffer, JsFunction, JsPromise};
use boa_engine::object::ObjectInitializer;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsArgs, JsNativeError, JsObject, JsResult, JsString, JsValue, NativeFunction, Source};

use self::client::{Client, Completion, NetError, Request};
use self::url::string_arg;

/// The JS side: a function expression taking the natives object and installing the globals.
const FETCH_JS: &str = include_str!("fetch.js");

thread_local! {
    static CLIENT: RefCell<Client<ResolvingFunctions>> = RefCell::new(Client::default());
    static TIMERS: RefCell<UnrefTimers> = RefCell::new(UnrefTimers::default());
}

/// Timers that do not keep the executor alive (see the module docs).
#[derive(Default)]
struct UnrefTimers {
    next_id: u64,
    /// By (due time in platform monotonic ns, id).
    due: BTreeMap<(u64, u64), JsFunction>,
}

/// Installs the globals. Creates no socket, task or timer.
pub fn register(ctx: &mut Context) -> Result<(), String> {
    let natives: [(&str, usize, NativeFunction); 10] = [
        ("httpStart", 7, NativeFunction::from_fn_ptr(http_start)),
        ("httpBody", 1, NativeFunction::from_fn_ptr(http_body)),
        ("httpAbort", 1, NativeFunction::from_fn_ptr(http_abort)),
        ("timerUnref", 2, NativeFunction::from_fn_ptr(timer_unref)),
        ("timerClear", 1, NativeFunction::from_fn_ptr(timer_clear)),
        ("urlParse", 2, NativeFunction::from_fn_ptr(url::parse)),
        ("urlSet", 3, NativeFunction::from_fn_ptr(url::set)),
        ("formParse", 1, NativeFunction::from_fn_ptr(url::form_parse)),
        ("formSerialize", 1, NativeFunction::from_fn_ptr(url::form_serialize)),
        ("utf8Decode", 1, NativeFunction::from_fn_ptr(url::utf8_decode)),
    ];
    let mut init = ObjectInitializer::new(ctx);
    for (name, len, f) in natives {
        init.function(f, js_string!(name), len);
    }
    let components: Vec<JsValue> = url::COMPONENTS.iter().map(|c| JsValue::from(JsString::from(*c))).collect();
    let native = init.build();
    let components = JsArray::from_iter(components, ctx);
    native
        .set(js_string!("urlComponents"), components, true, ctx)
        .map_err(|e| e.to_string())?;
    let install = ctx.eval(Source::from_bytes(FETCH_JS)).map_err(|e| format!("fetch.js failed: {e}"))?;
    let install = install.as_callable().ok_or("fetch.js must evaluate to a function")?.clone();
    install
        .call(&JsValue::undefined(), &[native.into()], ctx)
        .map_err(|e| format!("fetch.js failed: {e}"))?;
    Ok(())
}

/// Whether network work is pending (a request in flight).
pub fn busy() -> bool {
    CLIENT.with(|c| c.borrow().busy())
}

/// Advances network tasks and unref'd timers, waiting at most `timeout` (`None`: no limit)
/// for a socket or an unref'd timer when nothing can move at once; settles what finished.
/// Without network work it only sleeps (the executor's timer wait).
pub fn wait(ctx: &mut Context, timeout: Option<Duration>) -> JsResult<()> {
    let now = crate::platform::monotonic_ns();
    let unref = TIMERS.with(|t| t.borrow().due.keys().next().map(|(due, _)| Duration::from_nanos(due.saturating_sub(now))));
    let limit = match (timeout, unref) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if busy() {
        let done = CLIENT.with(|c| c.borrow_mut().poll(limit));
        let done = done.map_err(|e| JsNativeError::error().with_message(format!("fetch: waiting for sockets failed: {e}")))?;
        for completion in done {
            settle(completion, ctx)?;
        }
    } else if let Some(limit) = limit {
        crate::platform::invocation::sleep_ns(u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX));
    }
    fire_unref_timers(ctx)
}

/// The executor ran out of work: drops idle connections, unclaimed bodies and unref'd timers.
pub fn release() {
    CLIENT.with(|c| c.borrow_mut().release());
    TIMERS.with(|t| t.borrow_mut().due.clear());
}

/// An invocation failed: drops everything, requests in flight included.
pub fn clear() {
    CLIENT.with(|c| c.borrow_mut().clear());
    TIMERS.with(|t| t.borrow_mut().due.clear());
}

fn fire_unref_timers(ctx: &mut Context) -> JsResult<()> {
    loop {
        let now = crate::platform::monotonic_ns();
        let due = TIMERS.with(|t| {
            let mut t = t.borrow_mut();
            let key = *t.due.keys().next().filter(|(due, _)| *due <= now)?;
            t.due.remove(&key)
        });
        let Some(f) = due else { return Ok(()) };
        f.call(&JsValue::undefined(), &[], ctx)?;
    }
}

fn settle(completion: Completion<ResolvingFunctions>, ctx: &mut Context) -> JsResult<()> {
    let (waiter, result) = match completion {
        Completion::Head(w, Ok(head)) => {
            let mut flat = Vec::with_capacity(head.headers.len() * 2);
            for (n, v) in &head.headers {
                flat.push(JsValue::from(JsString::from(n.as_str())));
                flat.push(JsValue::from(JsString::from(v.as_str())));
            }
            let headers = JsArray::from_iter(flat, ctx);
            let obj = ObjectInitializer::new(ctx)
                .property(js_string!("status"), head.status, Attribute::all())
                .property(js_string!("statusText"), JsString::from(head.reason.as_str()), Attribute::all())
                .property(js_string!("headers"), headers, Attribute::all())
                .build();
            (w, Ok(JsValue::from(obj)))
        }
        Completion::Body(w, Ok(bytes)) => {
            let block = AlignedVec::from_slice(64, &bytes);
            drop(bytes);
            (w, Ok(JsArrayBuffer::from_byte_block(block, ctx)?.into()))
        }
        Completion::Head(w, Err(e)) | Completion::Body(w, Err(e)) => (w, Err(error_object(&e, ctx))),
    };
    match result {
        Ok(v) => waiter.resolve.call(&JsValue::undefined(), &[v], ctx)?,
        Err(v) => waiter.reject.call(&JsValue::undefined(), &[v.into()], ctx)?,
    };
    Ok(())
}

/// Node's `code` and (negative) `errno` for an I/O error, by kind (portable between the host
/// and the guest, whose errno numbers are Linux's too).
fn node_code(e: &std::io::Error) -> Option<(&'static str, i32)> {
    use std::io::ErrorKind as K;
    Some(match e.kind() {
        K::ConnectionRefused => ("ECONNREFUSED", -111),
        K::ConnectionReset => ("ECONNRESET", -104),
        K::ConnectionAborted => ("ECONNABORTED", -103),
        K::TimedOut => ("ETIMEDOUT", -110),
        K::HostUnreachable => ("EHOSTUNREACH", -113),
        K::NetworkUnreachable => ("ENETUNREACH", -101),
        K::NetworkDown => ("ENETDOWN", -100),
        K::AddrNotAvailable => ("EADDRNOTAVAIL", -99),
        K::BrokenPipe => ("EPIPE", -32),
        K::PermissionDenied => ("EACCES", -13),
        _ => return None,
    })
}

/// The `cause` of `TypeError: fetch failed` as Node.js builds it, as a plain object that
/// fetch.js turns into an `Error`. An I/O error that carries its own text (not a bare OS error
/// number: e.g. the guest's egress policy refusing a connection) keeps that text verbatim.
fn error_object(e: &NetError, ctx: &mut Context) -> JsObject {
    let mut fields: Vec<(&str, JsValue)> = Vec::new();
    let s = |t: &str| JsValue::from(JsString::from(t));
    match e {
        NetError::Dns { host, detail } => {
            let (code, errno) =
                if detail.contains("Temporary failure") { ("EAI_AGAIN", -3001) } else { ("ENOTFOUND", -3008) };
            fields.push(("message", s(&format!("getaddrinfo {code} {host}"))));
            fields.push(("code", s(code)));
            fields.push(("errno", JsValue::from(errno)));
            fields.push(("syscall", s("getaddrinfo")));
            fields.push(("hostname", s(host)));
        }
        NetError::Connect { addr, err } => {
            let ip = addr.ip().to_string();
            let message = match node_code(err) {
                _ if err.get_ref().is_some() => err.to_string(),
                Some((code, _)) => format!("connect {code} {ip}:{}", addr.port()),
                None => format!("connect {err} {ip}:{}", addr.port()),
            };
            fields.push(("message", s(&message)));
            if let Some((code, errno)) = node_code(err) {
                fields.push(("code", s(code)));
                fields.push(("errno", JsValue::from(errno)));
            }
            fields.push(("syscall", s("connect")));
            fields.push(("address", s(&ip)));
            fields.push(("port", JsValue::from(addr.port())));
        }
        NetError::Io { syscall, err } => {
            let message = match node_code(err) {
                _ if err.get_ref().is_some() => err.to_string(),
                Some((code, _)) => format!("{syscall} {code}"),
                None => format!("{syscall} {err}"),
            };
            fields.push(("message", s(&message)));
            if let Some((code, errno)) = node_code(err) {
                fields.push(("code", s(code)));
                fields.push(("errno", JsValue::from(errno)));
            }
            fields.push(("syscall", s(syscall)));
        }
        NetError::Closed => {
            fields.push(("name", s("SocketError")));
            fields.push(("message", s("other side closed")));
            fields.push(("code", s("UND_ERR_SOCKET")));
        }
        NetError::Http(h) => {
            fields.push(("message", s(&h.to_string())));
        }
    }
    let mut init = ObjectInitializer::new(ctx);
    for (k, v) in fields {
        init.property(JsString::from(k), v, Attribute::all());
    }
    init.build()
}

fn u16_arg(args: &[JsValue], i: usize, ctx: &mut Context) -> JsResult<u16> {
    let n = args.get_or_undefined(i).to_number(ctx)?;
    if n.fract() != 0.0 || !(0.0..=65535.0).contains(&n) {
        return Err(JsNativeError::range().with_message(format!("invalid port {n}")).into());
    }
    Ok(n as u16)
}

fn string_array(v: &JsValue, ctx: &mut Context) -> JsResult<Vec<String>> {
    let Some(obj) = v.as_object() else { return Ok(Vec::new()) };
    let arr = JsArray::from_object(obj.clone())?;
    let len = arr.length(ctx)?;
    (0..len).map(|i| Ok(arr.get(i, ctx)?.to_string(ctx)?.to_std_string_lossy())).collect()
}

fn bytes_arg(v: &JsValue) -> JsResult<Option<Vec<u8>>> {
    let Some(obj) = v.as_object() else { return Ok(None) };
    let buf = JsArrayBuffer::from_object(obj.clone())?;
    Ok(Some(buf.data().map(|d| d.to_vec()).unwrap_or_default()))
}

/// `httpStart(method, host, port, authority, target, headersFlat, body?)` → `[id, headPromise]`.
fn http_start(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let method = string_arg(args, 0, ctx)?;
    let host = string_arg(args, 1, ctx)?;
    let port = u16_arg(args, 2, ctx)?;
    let authority = string_arg(args, 3, ctx)?;
    let target = string_arg(args, 4, ctx)?;
    let flat = string_array(args.get_or_undefined(5), ctx)?;
    let headers = flat.chunks_exact(2).map(|p| (p[0].clone(), p[1].clone())).collect();
    let body = bytes_arg(args.get_or_undefined(6))?;
    let request = Request { method, host, port, authority, target, headers, body };
    let (promise, resolvers) = JsPromise::new_pending(ctx);
    let id = CLIENT.with(|c| c.borrow_mut().start(request, resolvers));
    Ok(JsArray::from_iter([JsValue::from(id as f64), promise.into()], ctx).into())
}

/// `httpBody(id)` → a promise of the body's `ArrayBuffer`.
fn http_body(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let id = args.get_or_undefined(0).to_number(ctx)? as u64;
    let (promise, resolvers) = JsPromise::new_pending(ctx);
    let claimed = CLIENT.with(|c| c.borrow_mut().claim_body(id, resolvers));
    match claimed {
        Ok(None) => {}
        Ok(Some(done)) => settle(done, ctx)?,
        Err(resolvers) => {
            let err = JsNativeError::typ()
                .with_message("the response body is no longer available (it belonged to an earlier invocation)")
                .into_opaque(ctx);
            resolvers.reject.call(&JsValue::undefined(), &[err.into()], ctx)?;
        }
    }
    Ok(promise.into())
}

/// `httpAbort(id)`: drops the task and closes its connection.
fn http_abort(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let id = args.get_or_undefined(0).to_number(ctx)? as u64;
    CLIENT.with(|c| c.borrow_mut().abort(id));
    Ok(JsValue::undefined())
}

/// `timerUnref(ms, fn)` → id: calls `fn` after `ms` unless nothing else keeps the invocation
/// alive (see the module docs).
fn timer_unref(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let ms = args.get_or_undefined(0).to_number(ctx)?;
    let ms = if ms.is_finite() && ms > 0.0 { ms } else { 0.0 };
    let Some(f) = args.get_or_undefined(1).as_object().and_then(|o| JsFunction::from_object(o.clone())) else {
        return Err(JsNativeError::typ().with_message("timerUnref expects a function").into());
    };
    let due = crate::platform::monotonic_ns().saturating_add((ms * 1e6) as u64);
    let id = TIMERS.with(|t| {
        let mut t = t.borrow_mut();
        t.next_id += 1;
        let id = t.next_id;
        t.due.insert((due, id), f);
        id
    });
    Ok(JsValue::from(id as f64))
}

/// `timerClear(id)`.
fn timer_clear(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let id = args.get_or_undefined(0).to_number(ctx)? as u64;
    TIMERS.with(|t| t.borrow_mut().due.retain(|(_, i), _| *i != id));
    Ok(JsValue::undefined())
}
