//! Engine initialisation: a Boa context with the web APIs functions expect.
//!
//! From `boa_runtime`: console (routed by [`crate::console`]), `setTimeout`/`setInterval`/
//! `clear*`, `queueMicrotask`, `TextEncoder`/`TextDecoder`, `structuredClone`, `atob`/`btoa`.
//! Added here, because Boa lacks them or because they must be fresh in every clone:
//! `crypto.getRandomValues` / `crypto.randomUUID` (RDRAND on every call), `performance.now`,
//! `fetch` and the WHATWG types around it ([`crate::fetch`]),
//! and `Math.random` from a generator that is re-seeded from the hypervisor's entropy at every
//! invocation (Boa's own would replay the snapshot's state in every clone).

use std::cell::RefCell;
use std::rc::Rc;

use boa_engine::object::builtins::JsArray;
use boa_engine::property::Attribute;
use boa_engine::{js_string, Context, JsNativeError, JsResult, JsValue, NativeFunction, Source};
use boa_runtime::extensions::ConsoleExtension;

use crate::console::LineLogger;
use crate::executor::Executor;

/// The JS side of the launcher: web API shims and the invocation helpers used by
/// `function.rs`. Evaluated once at engine initialisation (so it is in the runtime snapshot).
const PRELUDE: &str = include_str!("prelude.js");

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

/// `__seuss_random_bytes(n)`: an array of `n` fresh random bytes (n <= 65536).
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

/// `__seuss_now_ms()`: monotonic milliseconds (for `performance.now`).
fn now_ms(_: &JsValue, _: &[JsValue], _: &mut Context) -> JsResult<JsValue> {
    Ok(JsValue::from(crate::platform::monotonic_ns() as f64 / 1e6))
}

/// Builds the context. `Err` carries a message for the user.
pub fn init(executor: Rc<Executor>) -> Result<Context, String> {
    let mut ctx = Context::builder().job_executor(executor).build().map_err(|e| e.to_string())?;
    boa_runtime::register(ConsoleExtension(LineLogger), None, &mut ctx).map_err(|e| e.to_string())?;
    let natives: [(&str, usize, NativeFunction); 3] = [
        ("__seuss_random_bytes", 1, NativeFunction::from_fn_ptr(random_bytes)),
        ("__seuss_now_ms", 0, NativeFunction::from_fn_ptr(now_ms)),
        ("__seuss_math_random", 0, NativeFunction::from_fn_ptr(math_random)),
    ];
    for (name, len, f) in natives {
        ctx.register_global_builtin_callable(js_string!(name), len, f).map_err(|e| e.to_string())?;
    }
    ctx.register_global_property(js_string!("__seuss_time_origin"), JsValue::from(crate::platform::realtime_ns() as f64 / 1e6), Attribute::all())
        .map_err(|e| e.to_string())?;
    ctx.eval(Source::from_bytes(PRELUDE)).map_err(|e| format!("launcher prelude failed: {e}"))?;
    // [fetch] fetch, Headers, Request, Response, URL, URLSearchParams, AbortController...
    crate::fetch::register(&mut ctx)?;
    Ok(ctx)
}
