//! Engine initialisation: a Boa context with the web APIs functions expect.
//!
//! From `boa_runtime`: console (routed by [`crate::console`]), `setTimeout`/`setInterval`/
//! `clear*`, `queueMicrotask`, `TextEncoder`/`TextDecoder`, `structuredClone`, `atob`/`btoa`.
//! Added here, because Boa lacks them or because they must be fresh in every clone:
//! `crypto.getRandomValues` / `crypto.randomUUID` (RDRAND on every call), `performance.now`,
//! `fetch` and the WHATWG types around it ([`crate::fetch`]),
//! and `Math.random` from a generator that is re-seeded from the hypervisor's entropy at every
//! invocation (Boa's own would replay the snapshot's state in every clone); the Node.js
//! built-in modules (`node_builtins.js`) with the hashes of `crypto.createHash`.
//!
//! The natives are handed to the prelude as arguments, never as globals, and the prelude
//! returns its helpers to Rust ([`Helpers`]): user code cannot reach or replace either.

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::object::builtins::{JsArray, JsArrayBuffer};
use boa_engine::object::{FunctionObjectBuilder, ObjectInitializer};
use boa_engine::{js_string, Context, JsNativeError, JsResult, JsValue, NativeFunction, Source};
use boa_runtime::extensions::ConsoleExtension;

use crate::console::LineLogger;
use crate::helpers::Helpers;
use crate::executor::Executor;

/// The JS side of the launcher: web API shims and the invocation helpers used by
/// `function.rs`. Evaluated once at engine initialisation (so it is in the runtime snapshot).
const PRELUDE: &str = include_str!("prelude.js");
/// The Node.js built-in modules, spliced into the prelude.
const NODE_BUILTINS: &str = include_str!("node_builtins.js");

thread_local! {
    static RNG: RefCell<Xoshiro> = RefCell::new(Xoshiro::from_entropy());
}

/// xoshiro256** (Blackman & Vigna): small, fast, good enough for `Math.random`.
struct Xoshiro([u64; 4]);

impl Xoshiro {
    fn from_seed(seed: [u8; 32]) -> Self {
        let mut s = [0u64; 4];
        for (i, w) in s.iter_mut().enumerate() {
            *w = u64::from_le_bytes(seed[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        }
        if s == [0; 4] {
            s[0] = 0x9e37_79b9_7f4a_7c15;
        }
        Self(s)
    }

    fn from_entropy() -> Self {
        let mut seed = [0u8; 32];
        libos_entropy(&mut seed);
        Self::from_seed(seed)
    }

    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
}

/// Fresh random bytes from the CPU (libos's RDRAND); aborts the guest if the CPU fails.
fn libos_entropy(buf: &mut [u8]) {
    if !crate::platform::fill_random(buf) {
        crate::platform::write_stderr(b"js-launcher: the CPU's random number generator failed\n");
        std::process::exit(134);
    }
}

/// Re-seeds `Math.random` (called with the hypervisor's per-invocation entropy).
pub fn reseed(seed: [u8; 32]) {
    RNG.with(|r| *r.borrow_mut() = Xoshiro::from_seed(seed));
}

fn math_random(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    let bits = RNG.with(|r| r.borrow_mut().next()) >> 11;
    Ok(JsValue::from(bits as f64 / (1u64 << 53) as f64))
}

/// `randomBytes(n)`: an array of `n` fresh random bytes (n <= 65536).
fn random_bytes(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    let n = args.first().cloned().unwrap_or_default().to_length(ctx)? as usize;
    if n > 65536 {
        return Err(JsNativeError::range().with_message("at most 65536 random bytes per call").into());
    }
    let mut buf = vec![0u8; n];
    libos_entropy(&mut buf);
    let values: Vec<JsValue> = buf.into_iter().map(JsValue::from).collect();
    Ok(JsArray::from_iter(values, ctx).into())
}

/// `nowMs()`: monotonic milliseconds (for `performance.now`).
fn now_ms(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(JsValue::from(crate::platform::monotonic_ns() as f64 / 1e6))
}

/// `hash(algorithm, arrayBuffer)`: the digest as an array of bytes (`crypto.createHash`).
fn hash(_: &JsValue, args: &[JsValue], ctx: &mut Context) -> JsResult<JsValue> {
    use sha2::Digest;
    let algorithm = args.first().cloned().unwrap_or_default().to_string(ctx)?.to_std_string_escaped();
    let buffer = args.get(1).and_then(JsValue::as_object).map(|o| JsArrayBuffer::from_object(o.clone())).transpose()?;
    let data = buffer.and_then(|b| b.to_vec()).unwrap_or_default();
    let digest: Vec<u8> = match algorithm.as_str() {
        "sha256" => sha2::Sha256::digest(&data).to_vec(),
        "sha1" => sha1::Sha1::digest(&data).to_vec(),
        "md5" => md5::Md5::digest(&data).to_vec(),
        other => return Err(JsNativeError::error().with_message(format!("Digest method not supported: {other}")).into()),
    };
    let values: Vec<JsValue> = digest.into_iter().map(JsValue::from).collect();
    Ok(JsArray::from_iter(values, ctx).into())
}

/// A function object for a native (not a constructor, not a global).
fn native(ctx: &Context, name: &str, length: usize, f: NativeFunction) -> JsValue {
    FunctionObjectBuilder::new(ctx.realm(), f).name(js_string!(name)).length(length).constructor(false).build().into()
}

/// Extra set-up a launcher binary adds after the prelude (the test262 host's `$262`).
pub type Extension = fn(&mut Context) -> Result<(), String>;

/// Builds the context and runs the prelude. `Err` carries a message for the user.
pub fn init(executor: Rc<Executor>, extension: Option<Extension>) -> Result<(Context, Helpers), String> {
    let loader = Rc::new(crate::bundle::BundleLoader);
    let mut ctx = Context::builder().job_executor(executor).module_loader(loader).build().map_err(|e| e.to_string())?;
    boa_runtime::register(ConsoleExtension(LineLogger), None, &mut ctx).map_err(|e| e.to_string())?;
    let natives = ObjectInitializer::new(&mut ctx).build();
    let fns: [(&str, usize, NativeFunction); 7] = [
        ("randomBytes", 1, NativeFunction::from_fn_ptr(random_bytes)),
        ("nowMs", 0, NativeFunction::from_fn_ptr(now_ms)),
        ("mathRandom", 0, NativeFunction::from_fn_ptr(math_random)),
        ("hash", 2, NativeFunction::from_fn_ptr(hash)),
        ("compileCommonJs", 1, NativeFunction::from_fn_ptr(crate::bundle::compile_commonjs)),
        ("bundleResolve", 2, NativeFunction::from_fn_ptr(crate::bundle::resolve)),
        ("bundleKind", 1, NativeFunction::from_fn_ptr(crate::bundle::kind)),
    ];
    for (name, len, f) in fns {
        let f = native(&ctx, name, len, f);
        natives.set(js_string!(name), f, true, &mut ctx).map_err(|e| e.to_string())?;
    }
    let origin = JsValue::from(crate::platform::realtime_ns() as f64 / 1e6);
    natives.set(js_string!("timeOrigin"), origin, true, &mut ctx).map_err(|e| e.to_string())?;
    let prelude = PRELUDE.replace("/*@NODE_BUILTINS@*/", NODE_BUILTINS);
    let setup = ctx.eval(Source::from_bytes(&prelude)).map_err(|e| format!("launcher prelude failed: {e}"))?;
    let helpers = setup
        .as_callable()
        .ok_or("launcher prelude is not a function")?
        .call(&JsValue::undefined(), &[natives.into()], &mut ctx)
        .map_err(|e| format!("launcher prelude failed: {e}"))?;
    let helpers = helpers.as_object().ok_or("launcher prelude returned no helpers")?.clone();
    // [fetch] fetch, Headers, Request, Response, URL, URLSearchParams, AbortController...
    crate::fetch::register(&mut ctx)?;
    if let Some(extend) = extension {
        extend(&mut ctx)?;
    }
    Ok((ctx, Helpers(helpers)))
}
