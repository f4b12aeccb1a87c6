//! The function contract (OpenWhisk's Node.js actions): import the source, find `main`, call
//! it with the parsed args, settle its promise, and produce the result JSON.
//!
//! Source shapes, tried in this order:
//! 1. a *script*: global `function main`, or CommonJS (`module.exports = main`,
//!    `exports.main = ...`), evaluated with Node-like `module`/`exports`/`require` globals;
//! 2. an *ES module* (`export default function`, `export function main`, `export const main`),
//!    when the source does not parse as a script.
//!
//! A bundle (a function with its `node_modules`, `bundle.rs`) is imported the same way, from
//! its entry file, with `require`/`import` resolving into the bundle; without a bundle,
//! `require` offers the Node.js built-in modules only.

use std::rc::Rc;

use boa_engine::builtins::promise::PromiseState;
use boa_engine::object::builtins::JsPromise;
use boa_engine::{js_string, Context, JsError, JsObject, JsValue, Module, Script, Source};
use seuss_abi::MAX_PAYLOAD;

use crate::helpers::Helpers;
use crate::executor::Executor;

/// The outcome of one invocation.
pub struct Outcome {
    /// The result JSON (`{"error": ...}` on failure).
    pub json: String,
    /// Whether `json` is an error object.
    pub is_error: bool,
}

fn call_helper(ctx: &mut Context, name: &str, args: &[JsValue]) -> Result<JsValue, JsError> {
    let helpers = HELPERS.with(|h| h.borrow().clone()).expect("engine::init ran");
    let f = helpers.0.get(js_string!(name), ctx)?;
    let f = f.as_callable().expect("prelude helpers are functions").clone();
    f.call(&JsValue::undefined(), args, ctx)
}

thread_local! {
    /// The prelude's helpers, set once by [`set_helpers`].
    static HELPERS: std::cell::RefCell<Option<Helpers>> = const { std::cell::RefCell::new(None) };
}

/// Hands the prelude's helpers to the contract (once, after `engine::init`).
pub fn set_helpers(helpers: Helpers) {
    crate::bundle::set_helpers(&helpers);
    HELPERS.with(|h| *h.borrow_mut() = Some(helpers));
}

/// `{"error": message-of(err)}` as Node's harness would print it.
pub fn error_json(ctx: &mut Context, err: &JsError) -> String {
    let value = opaque(ctx, err);
    error_json_value(ctx, value)
}

/// The JS value of an error. Boa's engine limits (recursion, stack size, loop iterations)
/// are not catchable JS values; they map to the message Node.js gives for the same runaway
/// program ("Maximum call stack size exceeded"), or their first line otherwise.
fn opaque(ctx: &mut Context, err: &JsError) -> JsValue {
    match err.clone().into_opaque(ctx) {
        Ok(v) => v,
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or_default();
            let msg = if first.contains("recursive calls") || first.contains("stack size") {
                "Maximum call stack size exceeded"
            } else {
                first.trim_start_matches("RuntimeLimitError: ")
            };
            JsValue::from(js_string!(msg))
        }
    }
}

fn error_json_value(ctx: &mut Context, value: JsValue) -> String {
    match call_helper(ctx, "error", &[value]) {
        Ok(v) => v.to_string(ctx).map(|s| s.to_std_string_escaped()).unwrap_or_default(),
        Err(_) => r#"{"error":"unprintable error"}"#.to_owned(),
    }
}

/// `{"error": msg}` for launcher-side errors (limits, bad args).
pub fn plain_error(msg: &str) -> String {
    let escaped: String = msg
        .chars()
        .flat_map(|c| match c {
            '"' => "\\\"".chars().collect::<Vec<_>>(),
            '\\' => "\\\\".chars().collect(),
            c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32).chars().collect(),
            c => vec![c],
        })
        .collect();
    format!("{{\"error\":\"{escaped}\"}}")
}

/// Imports `source` and returns its `main`. `Err` is a user-facing message.
pub fn import(source: &str, ctx: &mut Context, executor: &Rc<Executor>) -> Result<JsObject, String> {
    if let Some(manifest) = source.strip_prefix(crate::bundle::MARKER) {
        return import_bundle(manifest, ctx, executor);
    }
    import_source(source, None, ctx, executor)
}

/// A bundle (function + node_modules): its entry file is imported like a single-file
/// function, with `require`/`import` resolving into the bundle.
fn import_bundle(manifest: &str, ctx: &mut Context, executor: &Rc<Executor>) -> Result<JsObject, String> {
    let helpers = HELPERS.with(|h| h.borrow().clone()).expect("engine::init ran");
    let bundle = crate::bundle::install(manifest, &helpers)?;
    let entry = &bundle.modules[&bundle.entry];
    import_source(&entry.source, Some(&bundle.entry), ctx, executor)
}

fn import_source(source: &str, entry: Option<&str>, ctx: &mut Context, executor: &Rc<Executor>) -> Result<JsObject, String> {
    let path = entry.map(std::path::PathBuf::from);
    let src = || {
        let s = Source::from_bytes(source);
        match &path {
            Some(p) => s.with_path(p),
            None => s,
        }
    };
    let script_err = match Script::parse(src(), None, ctx) {
        Ok(script) => {
            let entry_arg = entry.map_or(JsValue::undefined(), |e| JsValue::from(boa_engine::JsString::from(e)));
            call_helper(ctx, "commonjs", &[entry_arg]).map_err(|e| e.to_string())?;
            script.evaluate(ctx).map_err(|e| format!("import failed: {}", message(ctx, &e)))?;
            executor.clone().run_jobs_now(ctx).map_err(|e| format!("import failed: {}", message(ctx, &e)))?;
            return find_main(ctx, JsValue::undefined());
        }
        Err(e) => e,
    };
    let module = match Module::parse(src(), None, ctx) {
        Ok(m) => m,
        // Neither shape parses: report the script error (the common case for typos).
        Err(_) => return Err(format!("syntax error: {}", message(ctx, &script_err))),
    };
    let promise = module.load_link_evaluate(ctx);
    executor.clone().run_jobs_now(ctx).map_err(|e| format!("import failed: {}", message(ctx, &e)))?;
    match promise.state() {
        PromiseState::Fulfilled(_) => {}
        PromiseState::Rejected(e) => {
            let msg = message_value(ctx, e);
            return Err(format!("import failed: {msg}"));
        }
        PromiseState::Pending => return Err("import failed: top-level await never settled".into()),
    }
    let ns = module.namespace(ctx);
    find_main(ctx, ns.into())
}

fn find_main(ctx: &mut Context, namespace: JsValue) -> Result<JsObject, String> {
    let main = call_helper(ctx, "findMain", &[namespace]).map_err(|e| message(ctx, &e))?;
    match main.as_object() {
        Some(f) if f.is_callable() => Ok(f.clone()),
        _ => Err("the function defines no main: use `function main(params)`, `module.exports = main`, \
                  `exports.main = ...` or `export default function main(params)`"
            .into()),
    }
}

fn message(ctx: &mut Context, err: &JsError) -> String {
    let v = opaque(ctx, err);
    message_value(ctx, v)
}

fn message_value(ctx: &mut Context, v: JsValue) -> String {
    let json = error_json_value(ctx, v);
    // {"error":"..."} -> the message, via the engine's own JSON.parse.
    ctx.eval(Source::from_bytes(&format!("({json}).error")))
        .ok()
        .and_then(|v| v.to_string(ctx).ok())
        .map(|s| s.to_std_string_escaped())
        .unwrap_or(json)
}

/// Runs one invocation of `main` with `args` (JSON text; empty means `{}`).
pub fn invoke(main: &JsObject, args: &str, ctx: &mut Context, executor: &Rc<Executor>) -> Outcome {
    if args.len() > MAX_PAYLOAD {
        return failed(plain_error(&format!(
            "args are {} bytes, over the 1 MiB limit ({MAX_PAYLOAD} bytes)",
            args.len()
        )));
    }
    let outcome = run(main, args, ctx, executor);
    if outcome.is_error {
        executor.clear();
    }
    // [fetch] nothing network-related outlives an invocation (not even a request started by a
    // `toJSON` of the result).
    crate::fetch::clear();
    if outcome.json.len() > MAX_PAYLOAD {
        return failed(plain_error(&format!(
            "result is {} bytes, over the 1 MiB limit ({MAX_PAYLOAD} bytes)",
            outcome.json.len()
        )));
    }
    outcome
}

fn failed(json: String) -> Outcome {
    Outcome { json, is_error: true }
}

fn run(main: &JsObject, args: &str, ctx: &mut Context, executor: &Rc<Executor>) -> Outcome {
    let args_value = JsValue::from(js_string!(args));
    let value = match call_helper(ctx, "call", &[main.clone().into(), args_value]) {
        Ok(v) => v,
        Err(e) => return failed(error_json(ctx, &e)),
    };
    let value = match value.as_promise() {
        Some(promise) => match settle(&promise, ctx, executor) {
            Ok(v) => v,
            Err(json) => return failed(json),
        },
        None => {
            // Drain timers/microtasks the function scheduled even when it returned a value.
            if let Err(e) = executor.clone().run_jobs_now(ctx) {
                return failed(error_json(ctx, &e));
            }
            value
        }
    };
    match call_helper(ctx, "finish", &[value]) {
        Ok(v) => match v.to_string(ctx) {
            Ok(s) => Outcome { json: s.to_std_string_escaped(), is_error: false },
            Err(e) => failed(error_json(ctx, &e)),
        },
        Err(e) => failed(error_json(ctx, &e)),
    }
}

fn settle(promise: &JsPromise, ctx: &mut Context, executor: &Rc<Executor>) -> Result<JsValue, String> {
    if let Err(e) = executor.clone().run_jobs_now(ctx) {
        return Err(error_json(ctx, &e));
    }
    match promise.state() {
        PromiseState::Fulfilled(v) => Ok(v),
        PromiseState::Rejected(e) => Err(error_json_value(ctx, e)),
        PromiseState::Pending => Err(plain_error("main's promise never settled (no pending timers or jobs left)")),
    }
}
