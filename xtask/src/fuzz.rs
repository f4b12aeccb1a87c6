//! `cargo xtask fuzz`: every fuzzer of the project, each for a budget, with counts.
//!
//! | fuzzer | what it does | a failure is |
//! |---|---|---|
//! | `snapfmt` | the libFuzzer targets `header` and `reader` of `snapfmt/fuzz` (cargo-fuzz, pinned nightly) | a crash or a leak libFuzzer reports |
//! | `snapshots` | byte corruptions (flips, truncation, extension) of a function snapshot and of its parent, then `seuss invoke` | exit 0 (a corrupt file was used), a host crash, a panic, a hang |
//! | `forged` | header fields changed and the file re-checksummed with `snapfmt::write` (memory size and base, kind, ABI, parent, vCPU registers, page runs, ...), then `seuss invoke` | a wrong result with exit 0, a host crash, a panic, a hang |
//! | `images` | the built images with bytes flipped, truncated or extended, then `seuss run` | a host crash, a panic (exit 101 or loader text), a hang |
//! | `hypercalls` | the `hypercall-fuzz` guest under `seuss run`, one seed per run (random hypercalls, PCI port I/O, device MMIO) | a host crash, a panic, a hang |
//! | `clones` | the same guest as reset clones through the library (`examples/stress.rs clone-fuzz`) | a host-side error, a crash, a panic |
//! | `concurrency` | 64 threads of clones sharing invocations through the library (`examples/stress.rs concurrency`) | a lost or wrong result |
//!
//! Everything is deterministic from the run's seed (`--seed`); each fuzzer stops at its time
//! budget (`--seconds`) or its iteration count (`--iterations`), whichever comes first. The
//! report gives runs, outcomes by exit status, and failures (with what reproduces them).
//! `cargo xtask test` ends with a short run of every fuzzer but `snapfmt` (whose properties
//! `snapfmt/tests/fuzz_smoke.rs` checks in the ordinary suite).

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::setup::NIGHTLY;

/// The fuzzers, in the order they run.
pub const ALL: [&str; 7] = ["snapfmt", "snapshots", "forged", "images", "hypercalls", "clones", "concurrency"];

/// How long and how much each fuzzer runs.
#[derive(Clone, Debug)]
pub struct Budget {
    /// Wall-clock budget per fuzzer.
    pub seconds: u64,
    /// Most runs per fuzzer (`None`: only the time bounds them).
    pub iterations: Option<u64>,
    /// Seed of every random choice.
    pub seed: u64,
    /// Threads and invocations of the concurrency run.
    pub threads: u64,
    /// Invocations of the concurrency run.
    pub invocations: u64,
}

/// What one fuzzer saw.
#[derive(Default)]
struct Tally {
    runs: u64,
    outcomes: BTreeMap<String, u64>,
    failures: Vec<String>,
    /// Extra counts (hypercalls issued, ...).
    extra: BTreeMap<String, u64>,
}

impl Tally {
    fn record(&mut self, outcome: &str) {
        self.runs += 1;
        *self.outcomes.entry(outcome.to_owned()).or_default() += 1;
    }

    fn report(&self, name: &str, took: Duration) -> String {
        let outcomes: Vec<String> = self.outcomes.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let extra: Vec<String> = self.extra.iter().map(|(k, v)| format!(", {k} {v}")).collect();
        format!(
            "fuzz {name}: {} runs in {:.0} s{} [{}], {} failures",
            self.runs,
            took.as_secs_f64(),
            extra.concat(),
            outcomes.join(", "),
            self.failures.len()
        )
    }
}

/// A finished (or stopped) child process.
struct Ran {
    code: Option<i32>,
    signal: Option<i32>,
    hung: bool,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// "exit N", "signal N" or "hang".
    fn outcome(&self) -> String {
        match (self.hung, self.code, self.signal) {
            (true, _, _) => "hang".into(),
            (_, Some(c), _) => format!("exit {c}"),
            (_, _, Some(s)) => format!("signal {s}"),
            _ => "unknown".into(),
        }
    }

    /// Why this run shows a host failure, if it does: a hang, death by a signal, a Rust panic
    /// of the host (status 101, or its message), or the image loader's internal text.
    fn host_failure(&self) -> Option<String> {
        if self.hung {
            return Some("the host hung".into());
        }
        if let Some(s) = self.signal {
            return Some(format!("the host died of signal {s}"));
        }
        if self.code == Some(101) {
            return Some(format!("the host panicked: {}", tail(&self.stderr)));
        }
        // The guest's console shares stderr, and a mutated guest may panic (its std, Boa, the
        // fdt crate in libos): that is the guest's business. Ours is a panic located in a host
        // crate, or internal panic text inside one of the host's own messages (`seuss: ...`).
        let host_panic = self.stderr.lines().any(|l| {
            let located_in_host = l.split_once("panicked at ").is_some_and(|(_, at)| is_host_location(at));
            let host_message = l.starts_with("seuss: ") || l.starts_with("error: ");
            located_in_host
                || host_message
                    && ["panicked", "range start index", "called `Result::unwrap()`", "called `Option::unwrap()`"]
                        .iter()
                        .any(|t| l.contains(t))
        });
        if host_panic {
            return Some(format!("host panic text: {}", tail(&self.stderr)));
        }
        None
    }
}

/// Whether a panic location (`FILE:LINE:COL`) is in a crate the host runs: ours or the image
/// loader the host calls (a guest's panics are located in its std, Boa, libos or its crates).
fn is_host_location(at: &str) -> bool {
    ["hypervisor-uhyve-ext/", "seuss-cli/", "seuss-node/", "snapfmt/", "xtask/"].iter().any(|h| at.starts_with(h))
        || at.contains("/hermit-entry-")
        || at.contains("/kvm-ioctls-")
}

fn tail(s: &str) -> String {
    let t: String = s.chars().rev().take(300).collect::<Vec<_>>().into_iter().rev().collect();
    t.replace('\n', " | ")
}

/// Runs `cmd` with a wall-clock `limit`, capturing its output (both pipes drained in threads).
fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<Ran> {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().context("spawning")?;
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            String::from_utf8_lossy(&v).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let t0 = Instant::now();
    let (status, hung) = loop {
        if let Some(s) = child.try_wait()? {
            break (Some(s), false);
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            break (child.wait().ok(), true);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Ok(Ran {
        code: status.and_then(|s| s.code()),
        signal: status.and_then(|s| s.signal()),
        hung,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// Shared state of the CLI-driven fuzzers.
struct Env {
    seuss: PathBuf,
    images: PathBuf,
    work: PathBuf,
}

impl Env {
    fn seuss(&self, args: &[&str], limit: Duration) -> Result<Ran> {
        run_bounded(Command::new(&self.seuss).args(args), limit)
    }
}

/// Runs the fuzzers named in `only` (all when empty); fails if any reports a failure.
/// `images_built`: the test images are fresh already (`cargo xtask test` built them).
pub fn run(budget: &Budget, only: &[String], images_built: bool) -> Result<()> {
    for name in only {
        if !ALL.contains(&name.as_str()) {
            bail!("unknown fuzzer {name}; the fuzzers are {}", ALL.join(", "));
        }
    }
    let selected: Vec<&str> = ALL.iter().copied().filter(|n| only.is_empty() || only.iter().any(|o| o == n)).collect();
    let root = crate::workspace_root();
    let needs_images = selected.iter().any(|n| *n != "snapfmt");
    if needs_images && !images_built {
        crate::build_test_images()?;
    }
    let env = Env {
        seuss: crate::build_seuss()?,
        images: crate::image_dir(),
        work: root.join("target/fuzz-work"),
    };
    let _ = std::fs::remove_dir_all(&env.work);
    std::fs::create_dir_all(&env.work)?;
    let mut lines = Vec::new();
    let mut failed = 0;
    for name in selected {
        let t0 = Instant::now();
        let tally = match name {
            "snapfmt" => snapfmt(budget)?,
            "snapshots" => snapshots(&env, budget)?,
            "forged" => forged(&env, budget)?,
            "images" => images(&env, budget)?,
            "hypercalls" => hypercalls(&env, budget)?,
            "clones" => stress(&env, budget, "clones")?,
            "concurrency" => stress(&env, budget, "concurrency")?,
            _ => unreachable!("checked above"),
        };
        let line = tally.report(name, t0.elapsed());
        println!("{line}");
        for f in tally.failures.iter().take(10) {
            println!("  FAILURE {f}");
        }
        failed += tally.failures.len();
        lines.push(line);
    }
    println!("\nfuzz summary (seed {}):", budget.seed);
    for l in &lines {
        println!("  {l}");
    }
    if failed > 0 {
        bail!("{failed} fuzz failures");
    }
    Ok(())
}

/// Whether the next run fits the budget.
fn more(t0: Instant, budget: &Budget, runs: u64) -> bool {
    t0.elapsed() < Duration::from_secs(budget.seconds) && budget.iterations.is_none_or(|n| runs < n)
}

// ---- snapfmt: the libFuzzer targets -------------------------------------------------------

fn snapfmt(budget: &Budget) -> Result<Tally> {
    crate::setup::ensure_cargo_fuzz()?;
    let mut t = Tally::default();
    let per_target = (budget.seconds / 2).max(1);
    for target in ["header", "reader"] {
        let mut cmd = Command::new("cargo");
        cmd.current_dir(crate::workspace_root().join("snapfmt"))
            .arg(format!("+{NIGHTLY}"))
            .args(["fuzz", "run", target, "--"])
            .arg(format!("-max_total_time={per_target}"))
            .arg(format!("-seed={}", budget.seed))
            .args(["-rss_limit_mb=2048", "-timeout=10"])
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("CARGO");
        if let Some(n) = budget.iterations {
            cmd.arg(format!("-runs={n}"));
        }
        // The first run builds the target (sanitizers, std): allow for it.
        let ran = run_bounded(&mut cmd, Duration::from_secs(per_target + 1800))?;
        // libFuzzer ends with "Done N runs in S second(s)".
        let runs = ran.stderr.lines().rev().find_map(|l| l.strip_prefix("Done ")?.split_whitespace().next()?.parse::<u64>().ok());
        t.extra.insert(format!("{target} executions"), runs.unwrap_or(0));
        t.record(&format!("{target} {}", ran.outcome()));
        if ran.code != Some(0) || runs.is_none() {
            t.failures.push(format!("cargo fuzz run {target}: {} {}", ran.outcome(), tail(&ran.stderr)));
        }
    }
    Ok(t)
}

// ---- snapshots: byte corruptions and forged headers ----------------------------------------

/// A runtime snapshot and a hello function snapshot over it, in `dir`; returns the function
/// snapshot's path.
fn hello_chain(env: &Env, dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let rt = dir.join("rt.snap");
    let f = dir.join("hello.snap");
    let hello = crate::workspace_root().join("examples/hello.js");
    for args in [
        vec!["snapshot".into(), "--runtime".into(), env.images.join("runtime.img").display().to_string(), "-o".into(), rt.display().to_string()],
        vec!["snapshot".into(), "--from".into(), rt.display().to_string(), "--function".into(), hello.display().to_string(), "-o".into(), f.display().to_string()],
    ] {
        let r = env.seuss(&args.iter().map(String::as_str).collect::<Vec<_>>(), Duration::from_secs(120))?;
        if r.code != Some(0) {
            bail!("seuss {}: {}", args.join(" "), r.stderr);
        }
    }
    Ok(f)
}

const ARGS: &str = r#"{"name":"Ada"}"#;
const EXPECTED: &str = "{\"greeting\":\"Hello, Ada!\"}\n";

fn corrupt(rng: &mut fastrand::Rng, bytes: &mut Vec<u8>) -> String {
    match rng.u8(0..8) {
        0..=4 => {
            let n = rng.usize(1..5);
            let mut at = Vec::new();
            for _ in 0..n {
                // Half of the flips in the preamble and header, where the structure is.
                let i = if rng.bool() { rng.usize(0..bytes.len().min(8192)) } else { rng.usize(0..bytes.len()) };
                bytes[i] ^= 1 << rng.u8(0..8);
                at.push(i);
            }
            format!("flipped bits at {at:?}")
        }
        5..=6 => {
            let n = rng.usize(0..bytes.len());
            bytes.truncate(n);
            format!("truncated to {n}")
        }
        _ => {
            let n = rng.usize(1..8192);
            bytes.extend((0..n).map(|_| rng.u8(..)));
            format!("extended by {n}")
        }
    }
}

fn snapshots(env: &Env, budget: &Budget) -> Result<Tally> {
    let dir = env.work.join("snapshots");
    let f = hello_chain(env, &dir)?;
    let (child, parent) = (std::fs::read(&f)?, std::fs::read(dir.join("rt.snap"))?);
    let mut rng = fastrand::Rng::with_seed(budget.seed);
    let mut t = Tally::default();
    let t0 = Instant::now();
    let case = dir.join("case");
    while more(t0, budget, t.runs) {
        std::fs::create_dir_all(&case)?;
        let (mut c, mut p) = (child.clone(), parent.clone());
        let which = if rng.u8(0..3) == 0 { "parent" } else { "child" };
        let what = corrupt(&mut rng, if which == "parent" { &mut p } else { &mut c });
        std::fs::write(case.join("hello.snap"), &c)?;
        std::fs::write(case.join("rt.snap"), &p)?;
        let path = case.join("hello.snap").display().to_string();
        let r = env.seuss(&["invoke", &path, "--args", ARGS], Duration::from_secs(60))?;
        t.record(&r.outcome());
        let inspect = env.seuss(&["inspect", &path], Duration::from_secs(60))?;
        let failure = r
            .host_failure()
            .or_else(|| inspect.host_failure().map(|f| format!("inspect: {f}")))
            .or_else(|| (r.code == Some(0)).then(|| format!("a corrupt file was used: {}", r.stdout.trim())));
        if let Some(why) = failure {
            t.failures.push(format!("run {} ({which} {what}): {why}", t.runs));
        }
    }
    Ok(t)
}

/// Offsets in `kvm_regs` of the registers a forger would move (rdx, rsi, rdi, rsp, rip).
const REGS: [(&str, usize); 6] = [("rax", 0), ("rdx", 24), ("rdi", 40), ("rsp", 48), ("rip", 128), ("rflags", 136)];

/// Changes one header field (the ones the loader must bounds-check, and the vCPU state) and
/// says which.
fn forge(rng: &mut fastrand::Rng, h: &mut snapfmt::Header) -> String {
    let big = |rng: &mut fastrand::Rng| [0, 1, 4096, 1 << 21, 1 << 30, 1 << 36, 1 << 41, u64::MAX / 2, u64::MAX][rng.usize(0..9)].wrapping_add(rng.u64(0..3) * 4096);
    match rng.u8(0..14) {
        0 => {
            h.guest_memory_bytes = big(rng);
            format!("guest_memory_bytes = {:#x}", h.guest_memory_bytes)
        }
        1 => {
            h.guest_memory_base = big(rng);
            format!("guest_memory_base = {:#x}", h.guest_memory_base)
        }
        2 => {
            h.kind = match h.kind {
                snapfmt::Kind::Runtime => snapfmt::Kind::Function,
                snapfmt::Kind::Function => snapfmt::Kind::Runtime,
            };
            "kind swapped".into()
        }
        3 => {
            h.abi_version = rng.u32(..);
            format!("abi_version = {}", h.abi_version)
        }
        4 => {
            if let Some(p) = &mut h.parent {
                p.id.0[rng.usize(0..16)] ^= 1 << rng.u8(0..8);
            }
            "parent id changed".into()
        }
        5 => {
            h.parent = None;
            "parent removed".into()
        }
        6..=8 => {
            let (name, off) = REGS[rng.usize(0..REGS.len())];
            let old = u64::from_le_bytes(h.vcpu.regs[off..off + 8].try_into().expect("8 bytes"));
            let new = match rng.u8(0..4) {
                0 => old.wrapping_add(rng.u64(1..16)),
                1 => old.wrapping_sub(rng.u64(1..0x10000)) & !7,
                2 => big(rng),
                _ => old ^ (1 << rng.u8(0..64)),
            };
            h.vcpu.regs[off..off + 8].copy_from_slice(&new.to_le_bytes());
            format!("{name} {old:#x} -> {new:#x}")
        }
        9 => {
            let i = rng.usize(0..h.vcpu.sregs.len());
            h.vcpu.sregs[i] ^= 1 << rng.u8(0..8);
            format!("sregs byte {i} flipped")
        }
        10 => {
            let which = rng.u8(0..3);
            let v = match which {
                0 => &mut h.vcpu.xsave,
                1 => &mut h.vcpu.events,
                _ => &mut h.vcpu.regs,
            };
            if rng.bool() && !v.is_empty() {
                v.truncate(rng.usize(0..v.len()));
                format!("vcpu field {which} truncated")
            } else {
                v.push(0);
                format!("vcpu field {which} extended")
            }
        }
        11 => {
            if h.vcpu.msrs.is_empty() {
                return "no msrs".into();
            }
            let i = rng.usize(0..h.vcpu.msrs.len());
            h.vcpu.msrs[i].1 = big(rng);
            format!("msr {:#x} = {:#x}", h.vcpu.msrs[i].0, h.vcpu.msrs[i].1)
        }
        12 => {
            // Move a run of pages elsewhere (the data stays, the addresses change).
            if h.runs.is_empty() {
                return "no runs".into();
            }
            let i = rng.usize(0..h.runs.len());
            let r = &mut h.runs[i];
            r.first_page = r.first_page.wrapping_add(rng.u64(1..64));
            format!("run {i} moved to page {}", r.first_page)
        }
        _ => {
            h.image.name = "other.img".into();
            h.created_unix_ns = rng.i64(..);
            "image name and creation time".into()
        }
    }
}

fn forged(env: &Env, budget: &Budget) -> Result<Tally> {
    let dir = env.work.join("forged");
    let f = hello_chain(env, &dir)?;
    let snap = snapfmt::Snapshot::open(&f)?;
    let header = snap.header().clone();
    let mut data = vec![0u8; snap.data_len() as usize];
    for (i, page) in data.chunks_mut(snapfmt::PAGE_SIZE as usize).enumerate() {
        snap.read_page(i as u64, page)?;
    }
    let mut rng = fastrand::Rng::with_seed(budget.seed ^ 0xf0f0);
    let mut t = Tally::default();
    let t0 = Instant::now();
    let path = dir.join("forged.snap");
    let shown = path.display().to_string();
    while more(t0, budget, t.runs) {
        let mut h = header.clone();
        let what = forge(&mut rng, &mut h);
        if h == header {
            continue;
        }
        // The writer validates too: a header it refuses cannot be forged this way.
        if snapfmt::write(&path, &h, &data).is_err() {
            *t.extra.entry("refused by the writer".into()).or_default() += 1;
            continue;
        }
        let r = env.seuss(&["invoke", &shown, "--args", ARGS, "--timeout", "10"], Duration::from_secs(60))?;
        t.record(&r.outcome());
        let failure = r.host_failure().or_else(|| {
            (r.code == Some(0) && r.stdout != EXPECTED).then(|| format!("silently wrong result {:?}", r.stdout.trim()))
        });
        if let Some(why) = failure {
            t.failures.push(format!("run {} ({what}): {why}", t.runs));
        }
    }
    Ok(t)
}

// ---- images ---------------------------------------------------------------------------------

fn images(env: &Env, budget: &Budget) -> Result<Tally> {
    let bases: Vec<(String, Vec<u8>)> = ["hello", "rust-hello", "hypercall-fuzz"]
        .iter()
        .map(|n| Ok((n.to_string(), std::fs::read(env.images.join(format!("{n}.img")))?)))
        .collect::<Result<_>>()?;
    let mut rng = fastrand::Rng::with_seed(budget.seed ^ 0x1111);
    let mut t = Tally::default();
    let t0 = Instant::now();
    let path = env.work.join("mutated.img");
    let shown = path.display().to_string();
    while more(t0, budget, t.runs) {
        let (name, base) = &bases[rng.usize(0..bases.len())];
        let mut bytes = base.clone();
        let what = corrupt(&mut rng, &mut bytes);
        std::fs::write(&path, &bytes)?;
        let r = env.seuss(&["run", &shown, "--timeout", "3", "-m", "64MiB"], Duration::from_secs(40))?;
        t.record(&r.outcome());
        if let Some(why) = r.host_failure() {
            t.failures.push(format!("run {} ({name} {what}): {why}", t.runs));
        }
    }
    Ok(t)
}

// ---- hypercalls -----------------------------------------------------------------------------

fn hypercalls(env: &Env, budget: &Budget) -> Result<Tally> {
    let image = env.images.join("hypercall-fuzz.img").display().to_string();
    let mut t = Tally::default();
    let t0 = Instant::now();
    let mut issued = 0;
    while more(t0, budget, t.runs) {
        let seed = (budget.seed << 20) + t.runs;
        let r = env.seuss(&["run", &image, "--timeout", "3", "--", "fuzz", &seed.to_string(), "200"], Duration::from_secs(40))?;
        issued += r.stderr.matches("hcfuzz #").count() as u64;
        t.record(&r.outcome());
        // The guest may end itself with any status of its own (Exit); only the host's
        // failures count.
        if let Some(why) = r.host_failure() {
            t.failures.push(format!("seed {seed}: {why}"));
        }
    }
    t.extra.insert("hypercalls".into(), issued);
    Ok(t)
}

// ---- the library drivers ----------------------------------------------------------------------

fn stress(env: &Env, budget: &Budget, which: &str) -> Result<Tally> {
    let root = crate::workspace_root();
    let ok = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args(["build", "--release", "--quiet", "-p", "hypervisor-uhyve-ext", "--example", "stress"])
        .status()?
        .success();
    if !ok {
        bail!("building examples/stress.rs failed");
    }
    let exe = root.join("target/release/examples/stress");
    let mut cmd = Command::new(exe);
    match which {
        "clones" => {
            // About 2 ms an invocation: fill the budget, bounded by --iterations.
            let n = budget.iterations.unwrap_or(budget.seconds * 200).max(1);
            cmd.arg("clone-fuzz")
                .arg(env.images.join("hypercall-fuzz.img"))
                .arg((budget.seed << 20).to_string())
                .arg(n.to_string())
                .arg("50")
                .arg(budget.seconds.to_string());
        }
        _ => {
            cmd.arg("concurrency")
                .arg(env.images.join("hello.img"))
                .arg(budget.threads.to_string())
                .arg(budget.invocations.to_string());
        }
    }
    let r = run_bounded(&mut cmd, Duration::from_secs(budget.seconds.max(60) * 10))?;
    let mut t = Tally::default();
    let summary: serde_json::Value = r.stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or_default();
    for key in ["invocations", "operations", "results", "violations", "timeouts", "exits", "correct", "wrong", "errors", "lost", "threads"] {
        if let Some(v) = summary[key].as_u64() {
            t.extra.insert(key.into(), v);
        }
    }
    t.record(&r.outcome());
    if r.code != Some(0) || summary.is_null() {
        t.failures.push(format!("stress {which}: {} {} {}", r.outcome(), r.stdout.trim(), tail(&r.stderr)));
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ran(code: i32, stderr: &str) -> Ran {
        Ran { code: Some(code), signal: None, hung: false, stdout: String::new(), stderr: stderr.into() }
    }

    #[test]
    fn a_guest_panic_is_not_a_host_failure_but_a_host_panic_is() {
        let guest = "thread 'main' (1) panicked at /root/.rustup/toolchains/nightly-2026-05-20-x86_64-unknown-linux-gnu/lib/rustlib/src/rust/library/std/src/env.rs:876:51:\ncalled `Result::unwrap()` on an `Err` value";
        assert_eq!(ran(134, guest).host_failure(), None);
        assert_eq!(ran(134, "thread 'main' panicked at libos/src/heap.rs:10:5:\nboom").host_failure(), None);
        assert_eq!(ran(134, "thread 'main' (1) panicked at :0:0:\nBuiltin must be a function object").host_failure(), None);
        let fdt = "thread '<unnamed>' (1) panicked at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/fdt-0.1.5/src/lib.rs:401:52:\nno null terminating string on C str?";
        assert_eq!(ran(134, fdt).host_failure(), None);
        let host = "thread 'main' panicked at seuss-cli/src/run.rs:12:9:\ncalled `Result::unwrap()` on an `Err` value";
        assert!(ran(134, host).host_failure().is_some());
        let loader = "thread 'main' panicked at /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/hermit-entry-0.10.11/src/elf.rs:99:5:\nrange start index 14100480 out of range";
        assert!(ran(2, loader).host_failure().is_some());
        let message = "seuss: error: hello.img is not a bootable Hermit image: range start index 14100480 out of range for slice of length 2014";
        assert!(ran(5, message).host_failure().is_some());
    }
}
