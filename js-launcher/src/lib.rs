//! js-launcher: the guest program that hosts one JavaScript function (Boa on libos).
//!
//! Its life is a sequence of phases; the two *asks* are single libos calls, where our
//! hypervisor takes snapshots (ARCHITECTURE.md, "Data flow of one function"):
//!
//! ```text
//! engine init ─► [ask for the function source] ─► import ─► loop { [ask for the next
//!                 runtime snapshot point                        invocation] ─► run ─► result }
//!                                                               function snapshot point
//! ```
//!
//! Under stock uhyve there is no channel: the function is the one `cargo xtask build-image`
//! wrote into [`payload`], the args are the command line (`uhyve fn.img -- '<json>'`), console
//! lines go to stdout and the result is the last stdout line; exit status 0, or 1 for an
//! error result. A runtime image (no payload) run this way exits 2 with an error result.
//!
//! Built for the host instead (`cargo build --manifest-path js-launcher/Cargo.toml`), it is a
//! plain Linux process, `js-launcher FN.js [ARGS_JSON | -]` (`-`: the args JSON on stdin), with
//! the same engine set-up and function contract: the benchmarks' "Boa as a process" baseline.
//!
//! Two binaries share this library: `js-launcher` (the runtime of every function image) and
//! `js-launcher-test262` (the same plus the test262 host hooks `$262`, [`test262_host`]; the
//! image `cargo xtask test262` runs the conformance suite in).

mod bundle;
mod console;
mod engine;
mod executor;
mod fetch;
mod function;
mod helpers;
mod payload;
mod platform;
pub mod test262_host;

pub use engine::Extension;

use std::rc::Rc;

use platform::invocation::{self, Channel};
use seuss_abi::Phase;

#[cfg(target_os = "hermit")]
use libos as _;

/// Exit status for an error result.
const EXIT_FUNCTION_ERROR: i32 = 1;
/// Exit status when no function could be obtained or imported.
const EXIT_NO_FUNCTION: i32 = 2;

/// Guest-side phase timestamps, printed to stderr as `seuss-timings: ...` when the
/// environment variable `SEUSS_TIMINGS` is set (e.g. `uhyve -e SEUSS_TIMINGS=1 fn.img`), so
/// cold starts can be split on stock uhyve too.
struct Timings {
    /// From libos's CPL3 start-up (its clock's zero) to `main`.
    startup_us: u64,
    start_ns: u64,
    engine_ns: u64,
    import_ns: u64,
}

impl Timings {
    fn print(&self, run_done_ns: u64) {
        if std::env::var_os("SEUSS_TIMINGS").is_some() {
            let us = |a: u64, b: u64| b.saturating_sub(a) / 1000;
            eprintln!(
                "seuss-timings: startup_us={} engine_us={} import_us={} run_us={}",
                self.startup_us,
                us(self.start_ns, self.engine_ns),
                us(self.engine_ns, self.import_ns),
                us(self.import_ns, run_done_ns)
            );
        }
    }
}

/// The launcher's life (see the crate docs); `extension` adds globals after the prelude.
pub fn run(extension: Option<Extension>) -> ! {
    let mut timings = Timings {
        startup_us: platform::monotonic_ns() / 1000,
        start_ns: platform::monotonic_ns(),
        engine_ns: 0,
        import_ns: 0,
    };
    let executor = Rc::new(executor::Executor::default());
    let mut ctx = match engine::init(executor.clone(), extension) {
        Ok((ctx, helpers)) => {
            function::set_helpers(helpers);
            ctx
        }
        Err(e) => fail(&format!("engine initialisation failed: {e}"), EXIT_NO_FUNCTION),
    };
    invocation::mark(Phase::EngineReady);
    timings.engine_ns = platform::monotonic_ns();

    // Runtime snapshot point: a runtime image asks the hypervisor for its function.
    let source = match payload::embedded_source() {
        Some(src) => src,
        None => {
            boa_gc::force_collect();
            match invocation::ask_function_source() {
                Ok(Some(src)) => src,
                Ok(None) => fail(
                    "this is a runtime image with no function: build one with `cargo xtask build-image fn.js`, \
                     or run it with `seuss run --runtime IMG --function fn.js`",
                    EXIT_NO_FUNCTION,
                ),
                Err(e) => fail(e, EXIT_NO_FUNCTION),
            }
        }
    };
    let main_fn = match function::import(&source, &mut ctx, &executor) {
        Ok(f) => f,
        Err(e) => fail(&e, EXIT_NO_FUNCTION),
    };
    // Clear the source before freeing it: freed memory keeps its bytes, and a function snapshot
    // stores every page that differs from the runtime snapshot (Boa keeps its own copy for
    // `Function.prototype.toString`).
    let mut source = source.into_bytes();
    source.fill(0);
    drop(std::hint::black_box(source));
    invocation::mark(Phase::Imported);
    timings.import_ns = platform::monotonic_ns();

    match invocation::channel() {
        Channel::Standalone => {
            let args = crate::platform::raw_app_args();
            let out = function::invoke(&main_fn, &args, &mut ctx, &executor);
            timings.print(platform::monotonic_ns());
            let mut line = out.json.into_bytes();
            line.push(b'\n');
            crate::platform::write_stdout(&line);
            std::process::exit(if out.is_error { EXIT_FUNCTION_ERROR } else { 0 });
        }
        Channel::Seuss(_) => loop {
            // Collect garbage before parking: the function snapshot then holds no garbage
            // and a short invocation triggers no sweep over the imported heap.
            boa_gc::force_collect();
            // Function snapshot point: a clone resumes here with fresh args, time, entropy.
            let inv = match invocation::next_invocation() {
                Ok(Some(inv)) => inv,
                Ok(None) => std::process::exit(0),
                Err(e) => fail(e, EXIT_NO_FUNCTION),
            };
            engine::reseed(inv.entropy);
            let out = function::invoke(&main_fn, &inv.args, &mut ctx, &executor);
            // The host usually stops the guest right at the result (hot path), so nothing
            // after this call is on an invocation's critical path.
            invocation::return_result(&out.json, out.is_error);
        },
    }
}

/// Reports a launcher-level failure as an error result and exits with `code`.
fn fail(msg: &str, code: i32) -> ! {
    let json = function::plain_error(msg);
    if !invocation::return_result(&json, true) {
        crate::platform::write_stdout(format!("{json}\n").as_bytes());
    }
    std::process::exit(code)
}
