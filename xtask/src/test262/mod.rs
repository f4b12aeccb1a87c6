//! `cargo xtask test262`: the test262 sample (`../shared/test262`) inside the unikernel, on
//! the fast path, compared with the expectations file the project keeps.
//!
//! ```text
//! js-launcher-test262 image ─boot─► runtime snapshot ─warm (driver.js + assert.js + sta.js)─► driver snapshot
//!                                                   └─warm (driver.js alone)────────────────► raw driver snapshot
//! per test and strictness: reset a clone of the driver snapshot (a fresh realm) ─► invoke(args) ─► {"pass", "error"}
//!   args = { src, strict, includes: [[name, source]...], negative, async, module }
//! ```
//!
//! Two workers, each with one clone it resets between tests. `--host` runs the same driver
//! with js-launcher-test262 built for Linux (one process per run) to show that no failure is
//! unikernel-only. A test passes when every run passes; it is compared with
//! `tests/test262/expectations.toml` (known failures, each with a reason): a new failure or a
//! new pass fails the command. Tests that import `_FIXTURE` files, which the sample does not
//! carry, are skipped and counted apart.

mod meta;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use meta::Meta;

/// Per-run time limit (some tests loop over all of Unicode: seconds each on a busy machine).
const TIMEOUT: Duration = Duration::from_secs(60);
/// Tests in the CI-sized part.
const CI_TESTS: usize = 300;

/// How `cargo xtask test262` was asked to run.
pub struct Options {
    /// Run js-launcher-test262 as a Linux process instead of in the unikernel.
    pub host: bool,
    /// Only the CI-sized part (every n-th test in path order).
    pub ci: bool,
    /// Only tests whose path contains this.
    pub filter: Option<String>,
    /// Rewrite the expectations file from this run (keeps reasons of failures still failing).
    pub update: bool,
}

/// The counts of a run, for `cargo xtask test`'s summary line.
pub struct Summary {
    /// Tests whose verdict matched the expectations.
    pub as_expected: usize,
    /// New failures and new passes.
    pub regressions: usize,
}

struct Test {
    /// Path below `test/`, with `/`.
    rel: String,
    meta: Meta,
    source: String,
}

fn sample_dir() -> PathBuf {
    crate::workspace_root().join("../shared/test262")
}

/// The expectations file.
pub fn expectations_path() -> PathBuf {
    crate::workspace_root().join("tests/test262/expectations.toml")
}

fn collect(root: &Path, filter: Option<&str>) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.join("test")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "js") && !path.to_string_lossy().contains("_FIXTURE") {
                out.push(path);
            }
        }
    }
    out.sort();
    if let Some(f) = filter {
        out.retain(|p| p.to_string_lossy().contains(f));
    }
    Ok(out)
}

/// Runs the command; `Err` when it could not run or a verdict differs from the expectations.
pub fn run(opts: &Options) -> Result<Summary> {
    let started = Instant::now();
    let root = sample_dir();
    if !root.join("test").is_dir() {
        bail!("{}: the test262 sample is missing (expected test/ and harness/ there)", root.display());
    }
    let mut paths = collect(&root, opts.filter.as_deref())?;
    if opts.ci {
        let step = (paths.len() / CI_TESTS).max(1);
        paths = paths.into_iter().step_by(step).collect();
    }
    let mut tests = Vec::new();
    let mut skipped = Vec::new();
    for p in &paths {
        let source = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        let rel = p.strip_prefix(root.join("test")).expect("below test/").to_string_lossy().replace('\\', "/");
        if source.contains("_FIXTURE") {
            skipped.push(rel);
            continue;
        }
        let meta = Meta::parse(&rel, &source)?;
        tests.push(Test { rel, meta, source });
    }
    let harness = Harness::load(&root)?;
    let where_ = if opts.host { "as a Linux process" } else { "in the unikernel" };
    eprintln!("test262: {} tests ({} skipped: _FIXTURE files not in the sample), {where_}", tests.len(), skipped.len());

    let verdicts = if opts.host { run_host(&tests, &harness)? } else { run_unikernel(&tests, &harness)? };
    let expected = Expectations::load(&expectations_path())?;
    report(&tests, &verdicts, &expected, opts, skipped.len(), started.elapsed())
}

/// The harness files, by name.
struct Harness(BTreeMap<String, String>);

impl Harness {
    fn load(root: &Path) -> Result<Self> {
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(root.join("harness"))? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "js") {
                let name = path.file_name().expect("a file").to_string_lossy().into_owned();
                files.insert(name, std::fs::read_to_string(&path)?);
            }
        }
        Ok(Self(files))
    }

    fn get(&self, name: &str) -> Result<&str> {
        self.0.get(name).map(String::as_str).with_context(|| format!("harness/{name} is missing"))
    }

    /// The driver function: harness first unless raw.
    fn driver(&self, raw: bool) -> Result<String> {
        let driver = include_str!("driver.js");
        if raw {
            return Ok(driver.to_owned());
        }
        Ok(format!("{}\n{}\n{driver}", self.get("assert.js")?, self.get("sta.js")?))
    }
}

/// The args of one run.
fn args(test: &Test, strict: bool, harness: &Harness) -> Result<String> {
    let mut includes = Vec::new();
    if test.meta.has("async") && !test.meta.has("raw") {
        includes.push(("doneprintHandle.js".to_owned(), harness.get("doneprintHandle.js")?.to_owned()));
    }
    for inc in &test.meta.includes {
        includes.push((inc.clone(), harness.get(inc)?.to_owned()));
    }
    let negative = test.meta.negative.as_ref().map(|(phase, ty)| serde_json::json!({ "phase": phase, "type": ty }));
    Ok(serde_json::json!({
        "src": test.source,
        "strict": strict,
        "includes": includes,
        "negative": negative,
        "async": test.meta.has("async"),
        "module": test.meta.has("module"),
    })
    .to_string())
}

/// One test's verdict: `None` passed, `Some(reason)` failed.
type Verdict = Option<String>;

fn verdict_of(result: Option<&str>) -> Verdict {
    let Some(text) = result else { return Some("no result (the guest stopped)".into()) };
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) if v["pass"] == serde_json::Value::Bool(true) => None,
        Ok(v) if v["pass"] == serde_json::Value::Bool(false) => Some(v["error"].as_str().unwrap_or("failed").to_owned()),
        Ok(v) => Some(format!("launcher error: {}", v["error"].as_str().unwrap_or(text))),
        Err(_) => Some(format!("unreadable result: {text}")),
    }
}

/// Runs `work(i)` for every test on two workers (each with its own state from `init`).
fn parallel<S>(tests: &[Test], init: impl Fn() -> Result<S> + Sync, work: impl Fn(&mut S, &Test) -> Verdict + Sync) -> Result<Vec<Verdict>> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![None; tests.len()]);
    let failed_init = Mutex::new(None);
    let bar = indicatif::ProgressBar::new(tests.len() as u64);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut state = match init() {
                    Ok(st) => st,
                    Err(e) => {
                        *failed_init.lock().expect("lock") = Some(e);
                        return;
                    }
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(t) = tests.get(i) else { break };
                    let v = work(&mut state, t);
                    results.lock().expect("lock")[i] = Some(v);
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    eprintln!("test262: ran {} tests on 2 workers in {:.1} s", tests.len(), started.elapsed().as_secs_f64());
    if let Some(e) = failed_init.into_inner().expect("lock") {
        return Err(e);
    }
    Ok(results.into_inner().expect("lock").into_iter().map(|v| v.unwrap_or(Some("not run".into()))).collect())
}

fn each_run(t: &Test, harness: &Harness, mut one: impl FnMut(bool, &str) -> Verdict) -> Verdict {
    for strict in t.meta.runs() {
        let args = match args(t, strict, harness) {
            Ok(a) => a,
            Err(e) => return Some(e.to_string()),
        };
        if let Some(why) = one(strict, &args) {
            let mode = if t.meta.has("module") { "module" } else if strict { "strict" } else { "non-strict" };
            return Some(format!("{mode}: {why}"));
        }
    }
    None
}

fn run_unikernel(tests: &[Test], harness: &Harness) -> Result<Vec<Verdict>> {
    use seuss_hv::{capture, image_ref, warm_snapshot, Config, Event, Image, Instance, Kvm, Loaded};
    let image_path = crate::jsimage::test262_runtime_image()?;
    let dir = crate::image_dir().join("test262");
    std::fs::create_dir_all(&dir)?;
    let kvm = Kvm::new().context("opening /dev/kvm")?;
    let config = Config { timeout: TIMEOUT, ..Config::default() };
    let image = Image::from_file(&image_path).with_context(|| format!("loading {}", image_path.display()))?;
    let mut boot = Instance::boot(&kvm, &image, &config)?;
    match boot.run()? {
        Event::WantsSource => {}
        other => bail!("the test262 runtime image did not ask for its function ({other:?}): {:?}", boot.last_result()),
    }
    let runtime_snap = dir.join("runtime.snap");
    capture(&mut boot, &runtime_snap, image_ref(&image_path)?)?;
    drop(boot);
    let runtime = Loaded::open(&runtime_snap)?;
    let mut drivers = Vec::new();
    for raw in [false, true] {
        let out = dir.join(if raw { "driver-raw.snap" } else { "driver.snap" });
        drivers.push(warm_snapshot(&kvm, &runtime, &harness.driver(raw)?, &config, &out).context("importing the test262 driver")?);
    }
    let drivers = Arc::new(drivers);
    parallel(
        tests,
        || {
            let kvm = Kvm::new()?;
            let a = Instance::from_snapshot(&kvm, &drivers[0], &config)?;
            let b = Instance::from_snapshot(&kvm, &drivers[1], &config)?;
            Ok((kvm, [(a, false), (b, false)]))
        },
        |(_, clones), t| {
            let (clone, used) = &mut clones[usize::from(t.meta.has("raw"))];
            each_run(t, harness, |_, args| {
                if *used {
                    if let Err(e) = clone.reset() {
                        return Some(format!("reset failed: {e}"));
                    }
                }
                *used = true;
                match clone.invoke(args) {
                    Ok(o) => verdict_of(o.result.as_deref()),
                    Err(e) => Some(format!("{e}")),
                }
            })
        },
    )
}

fn run_host(tests: &[Test], harness: &Harness) -> Result<Vec<Verdict>> {
    crate::build_host_launcher()?;
    let exe = crate::workspace_root().join("target/release/js-launcher-test262");
    let dir = crate::workspace_root().join("target/test262-host");
    std::fs::create_dir_all(&dir)?;
    let drivers = [dir.join("driver.js"), dir.join("driver-raw.js")];
    std::fs::write(&drivers[0], harness.driver(false)?)?;
    std::fs::write(&drivers[1], harness.driver(true)?)?;
    parallel(
        tests,
        || Ok(()),
        |_, t| {
            let driver = &drivers[usize::from(t.meta.has("raw"))];
            each_run(t, harness, |_, args| match run_process(&exe, driver, args) {
                Ok(out) => verdict_of(out.lines().last()),
                Err(e) => Some(e.to_string()),
            })
        },
    )
}

/// `js-launcher-test262 DRIVER -` with the args on stdin; its stdout, within [`TIMEOUT`].
fn run_process(exe: &Path, driver: &Path, args: &str) -> Result<String> {
    use std::io::{Read, Write};
    let mut child = Command::new(exe).arg(driver).arg("-").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(args.as_bytes())?;
    drop(stdin);
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("timed out after {}s", TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(reader.join().unwrap_or_default())
}

/// `tests/test262/expectations.toml`: `[fail]` maps a test path to the reason it fails.
struct Expectations(BTreeMap<String, String>);

impl Expectations {
    fn load(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Ok(Self(BTreeMap::new()));
        }
        let text = std::fs::read_to_string(path)?;
        let doc: toml::Table = text.parse().with_context(|| format!("{}: not TOML", path.display()))?;
        let mut map = BTreeMap::new();
        if let Some(fail) = doc.get("fail") {
            let fail = fail.as_table().with_context(|| format!("{}: [fail] is not a table", path.display()))?;
            for (k, v) in fail {
                let reason = v.as_str().with_context(|| format!("{}: the reason of {k} is not a string", path.display()))?;
                map.insert(k.clone(), reason.to_owned());
            }
        }
        Ok(Self(map))
    }

    fn write(path: &Path, failures: &BTreeMap<String, String>) -> Result<()> {
        let mut text = String::from(
            "# test262 tests known to fail (cargo xtask test262), each with its reason.\n\
             # A test not listed here must pass; a listed test must fail. Rewrite with\n\
             # `cargo xtask test262 --update` after a change that fixes or breaks tests on purpose.\n\n[fail]\n",
        );
        for (k, v) in failures {
            text.push_str(&format!("{} = {}\n", toml::Value::String(k.clone()), toml::Value::String(v.clone())));
        }
        std::fs::create_dir_all(path.parent().expect("a file"))?;
        std::fs::write(path, text)?;
        Ok(())
    }
}

/// Engine features this build leaves out (boa_engine with `default-features = false`).
const NOT_BUILT: [&str; 4] = ["Temporal", "Float16Array", "Math.sumPrecise", "Intl"];

/// The reason written for a new failure by `--update`: the missing feature, or the error.
fn auto_reason(t: &Test, why: &str) -> String {
    if let Some(f) = t.meta.features.iter().find(|f| NOT_BUILT.iter().any(|n| f.starts_with(n))) {
        return format!("feature {f} is not built (boa_engine default features off)");
    }
    why.chars().take(200).collect()
}

fn top_dir(rel: &str) -> String {
    rel.split('/').take(2).collect::<Vec<_>>().join("/")
}

fn report(tests: &[Test], verdicts: &[Verdict], expected: &Expectations, opts: &Options, skipped: usize, elapsed: Duration) -> Result<Summary> {
    let mut per_dir: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut new_failures = Vec::new();
    let mut new_passes = Vec::new();
    let mut failures = BTreeMap::new();
    for (t, v) in tests.iter().zip(verdicts) {
        let e = per_dir.entry(top_dir(&t.rel)).or_default();
        e.1 += 1;
        match (v, expected.0.get(&t.rel)) {
            (None, None) => e.0 += 1,
            (None, Some(_)) => {
                e.0 += 1;
                new_passes.push(t.rel.clone());
            }
            (Some(why), known) => {
                if known.is_none() {
                    new_failures.push(format!("{}: {why}", t.rel));
                }
                let reason = known.cloned().unwrap_or_else(|| auto_reason(t, why));
                failures.insert(t.rel.clone(), reason);
            }
        }
    }
    println!("{:<40} {:>7} {:>7}", "directory", "passed", "tests");
    for (dir, (p, n)) in &per_dir {
        println!("{dir:<40} {p:>7} {n:>7}");
    }
    let passed: usize = per_dir.values().map(|v| v.0).sum();
    let total = tests.len();
    println!(
        "test262 ({}{}): {passed} of {total} passed, {} failed, {skipped} skipped (_FIXTURE), {:.1} s with the build",
        if opts.host { "Linux process" } else { "unikernel" },
        if opts.ci { ", CI part" } else { "" },
        failures.len(),
        elapsed.as_secs_f64()
    );
    if opts.update {
        // Keep the entries of tests this run did not cover.
        let mut all = expected.0.clone();
        for t in tests {
            all.remove(&t.rel);
        }
        all.extend(failures);
        Expectations::write(&expectations_path(), &all)?;
        println!("wrote {}", expectations_path().display());
        return Ok(Summary { as_expected: total, regressions: 0 });
    }
    for f in &new_failures {
        println!("NEW FAILURE {f}");
    }
    for p in &new_passes {
        println!("NEW PASS {p} (remove it from {})", expectations_path().display());
    }
    let regressions = new_failures.len() + new_passes.len();
    let summary = Summary { as_expected: total - regressions, regressions };
    if regressions > 0 {
        bail!("test262: {} new failures, {} new passes against {}", new_failures.len(), new_passes.len(), expectations_path().display());
    }
    Ok(summary)
}
