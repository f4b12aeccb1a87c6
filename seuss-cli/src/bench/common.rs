//! What every experiment shares: paths, the machine record, sample statistics, child
//! processes, memory readings and the progress bar.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

/// Paths and switches of one benchmark run.
pub struct Env {
    /// Workspace root (examples/, node scripts).
    pub root: PathBuf,
    /// Built images (`cargo xtask build-test-images`).
    pub images: PathBuf,
    /// Scratch directory for snapshots.
    pub work: PathBuf,
    /// KVM.
    pub kvm: kvm_ioctls::Kvm,
}

impl Env {
    /// Sets up paths; fails with a hint when the images are missing.
    pub fn new(root: PathBuf, images: Option<PathBuf>) -> Result<Self> {
        let images = images.unwrap_or_else(|| root.join("target/images"));
        for needed in ["runtime.img", "nop.img", "hello.img", "fib.img", "fetch.img"] {
            if !images.join(needed).is_file() {
                bail!("{} is missing: build the images first with `cargo xtask build-test-images`", images.join(needed).display());
            }
        }
        let work = std::env::temp_dir().join(format!("seuss-bench-{}", std::process::id()));
        std::fs::create_dir_all(&work)?;
        Ok(Self { root, images, work, kvm: kvm_ioctls::Kvm::new().context("opening /dev/kvm")? })
    }

    /// An image by example name.
    pub fn image(&self, name: &str) -> PathBuf {
        self.images.join(format!("{name}.img"))
    }

    /// An example's source file.
    pub fn example(&self, name: &str) -> PathBuf {
        self.root.join(format!("examples/{name}.js"))
    }

    /// A node script of ours.
    pub fn node_script(&self, name: &str) -> PathBuf {
        self.root.join(format!("seuss-cli/node/{name}"))
    }

    /// The js-launcher built for the host, if present.
    pub fn host_launcher(&self) -> Option<PathBuf> {
        let p = self.root.join("target/release/js-launcher");
        p.is_file().then_some(p)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// The workspace root: the current directory or the nearest parent that holds `examples/`
/// and `seuss-cli/node/` (so an installed `seuss` works from any checkout).
pub fn find_root() -> Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    for dir in cwd.ancestors() {
        if dir.join("examples").is_dir() && dir.join("seuss-cli/node").is_dir() {
            return Ok(dir.to_path_buf());
        }
    }
    bail!(crate::exit::UsageError(format!(
        "no seuss workspace at or above {}: run from the checkout, or pass --root DIR (or set SEUSS_ROOT)",
        cwd.display()
    )))
}

/// Boots image `name` until it asks for a function (`Event::WantsSource`: a runtime snapshot)
/// or for an invocation (`Event::WantsInvocation`: a function snapshot), captures it into the
/// scratch directory as `FILE.snap` and loads it.
pub fn snapshot_image(env: &Env, name: &str, want: seuss_hv::Event, file: &str) -> Result<std::sync::Arc<seuss_hv::Loaded>> {
    let path = env.image(name);
    let mut inst = seuss_hv::Instance::boot(&env.kvm, &seuss_hv::Image::from_file(&path)?, &seuss_hv::Config::default())?;
    let got = inst.run()?;
    if got != want {
        bail!("{name} image stopped at {got:?}, not {want:?}");
    }
    let out = env.work.join(format!("{file}.snap"));
    seuss_hv::capture(&mut inst, &out, seuss_hv::image_ref(&path)?)?;
    Ok(seuss_hv::Loaded::open(&out)?)
}

/// A sample's statistics as JSON, in microseconds: `n`, `min`, `median`, `p90` (n >= 10) and
/// `p99` (n >= 100) only where the sample supports them, `max`, `mean`, `sd`
/// ([`seuss_hv::Summary`]). An empty sample is `{"n": 0}`.
pub fn summary(samples: &[Duration]) -> Value {
    summary_json(seuss_hv::Summary::of(samples))
}

/// As [`summary`] for plain values (the unit is the caller's).
pub fn summary_values(values: &[f64]) -> Value {
    summary_json(seuss_hv::Summary::of_values(values))
}

fn summary_json(s: Option<seuss_hv::Summary>) -> Value {
    let Some(s) = s else { return json!({"n": 0}) };
    let mut v = serde_json::to_value(&s).expect("a Summary serialises");
    if let Some(m) = v.as_object_mut() {
        m.retain(|_, x| !x.is_null());
        for (k, x) in m.iter_mut() {
            if let (false, Some(f)) = (k == "n", x.as_f64()) {
                *x = json!((f * 100.0).round() / 100.0);
            }
        }
    }
    v
}

/// The median of a [`summary`] (`None` for an empty sample).
pub fn median(v: &Value) -> Option<f64> {
    v["median"].as_f64()
}

/// `a / b` when both are known and `b > 0`, rounded to 3 decimals (JSON `null` otherwise).
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Value {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => json!((a / b * 1000.0).round() / 1000.0),
        _ => Value::Null,
    }
}

/// Cores of this machine.
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// What this machine is (cores, memory, kernel, KVM flavour).
pub fn machine() -> Value {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let kvm = ["kvm_pvm", "kvm_intel", "kvm_amd"]
        .into_iter()
        .find(|m| Path::new(&format!("/sys/module/{m}")).exists())
        .unwrap_or("unknown");
    json!({
        "cores": cores(),
        "memory_bytes": mem_kib * 1024,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "kvm": kvm,
    })
}

/// The git commit of the workspace, if known.
pub fn commit(root: &Path) -> String {
    Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// Runs a command to completion (output discarded), returning its wall time.
pub fn time_process(cmd: &mut Command) -> Result<Duration> {
    let t = Instant::now();
    let st = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).status().with_context(|| format!("running {cmd:?}"))?;
    let took = t.elapsed();
    if !st.success() {
        bail!("{cmd:?} failed ({st})");
    }
    Ok(took)
}

/// Proportional set size of a process in bytes (`/proc/PID/smaps_rollup`).
pub fn pss(pid: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with("Pss:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// A progress bar for `total` steps.
pub fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<28} [{bar:30}] {pos}/{len} [{elapsed}]")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}
