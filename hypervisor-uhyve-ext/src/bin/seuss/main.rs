//! `seuss`: run functions and images on our hypervisor.

mod bench;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use seuss_hv::{run_cold, Config, Console, Error, Event, FileMapping, Image, Instance, Loaded, SnapshotError};

/// Exit status for a timeout.
const EXIT_TIMEOUT: u8 = 3;
/// Exit status when the guest crashed or broke the hypercall rules.
const EXIT_CRASH: u8 = 4;

#[derive(Parser)]
#[command(name = "seuss", version, about = "Serverless functions as unikernels on KVM (uhyve-compatible)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Cold-boot an image and run one invocation (JS images) or the program (plain images).
    ///
    /// The result JSON alone goes to stdout, console lines to stderr. Exit status: 0 success,
    /// 1 error result, 3 timeout, 4 guest crash; a plain program's own exit status otherwise.
    Run(RunArgs),
    /// Capture a snapshot: a function snapshot from a function image (cold path), a runtime
    /// snapshot from a runtime image (--runtime), or a function snapshot as a diff over a
    /// runtime snapshot (--from runtime.snap --function fn.js: the warm path).
    Snapshot(SnapshotArgs),
    /// Run N invocations, each on a fresh clone of a function snapshot (hot start). One result
    /// JSON line per invocation on stdout; --stats prints latency percentiles to stderr.
    Invoke(InvokeArgs),
    /// Print a snapshot's metadata as one JSON object (and whether its checksums hold).
    Inspect {
        /// The snapshot file.
        snapshot: PathBuf,
    },
    /// Benchmarks: startup, density, throughput, burst (needs `cargo xtask build-test-images`).
    Bench(bench::BenchArgs),
}

#[derive(clap::Args)]
struct SnapshotArgs {
    /// A function image (from `cargo xtask build-image fn.js`).
    #[arg(required_unless_present_any = ["runtime", "from"], conflicts_with_all = ["runtime", "from"])]
    image: Option<PathBuf>,
    /// A runtime image (`cargo xtask build-image --runtime`): capture a runtime snapshot.
    #[arg(long, conflicts_with = "from")]
    runtime: Option<PathBuf>,
    /// A runtime snapshot to take a function snapshot from (with --function).
    #[arg(long, requires = "function")]
    from: Option<PathBuf>,
    /// The function source for --from.
    #[arg(long, requires = "from")]
    function: Option<PathBuf>,
    /// Where to write the snapshot.
    #[arg(short, long)]
    output: PathBuf,
    /// Guest memory for image boots, e.g. 256MiB.
    #[arg(short, long, default_value = "256MiB", value_parser = parse_size)]
    memory: u64,
    /// Wall-clock limit in seconds for booting/importing.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
}

#[derive(clap::Args)]
struct InvokeArgs {
    /// A function snapshot.
    snapshot: PathBuf,
    /// Invocation args (JSON).
    #[arg(long, default_value = "{}", conflicts_with = "args_file")]
    args: String,
    /// Read the args from a file.
    #[arg(long)]
    args_file: Option<PathBuf>,
    /// Number of invocations (each on a fresh clone).
    #[arg(short = 'n', long, default_value_t = 1)]
    count: u32,
    /// Wall-clock limit per invocation in seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Print latency percentiles to stderr as JSON.
    #[arg(long)]
    stats: bool,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The image (from `cargo xtask build-image`).
    #[arg(required_unless_present = "runtime", conflicts_with = "runtime")]
    image: Option<PathBuf>,
    /// A runtime image (`cargo xtask build-image --runtime`); use with --function.
    #[arg(long, requires = "function")]
    runtime: Option<PathBuf>,
    /// The function source handed to the runtime image through the hypercall channel.
    #[arg(long, requires = "runtime")]
    function: Option<PathBuf>,
    /// Invocation args (JSON).
    #[arg(long, default_value = "{}", conflicts_with = "args_file")]
    args: String,
    /// Read the args from a file (for payloads beyond the command-line limit).
    #[arg(long)]
    args_file: Option<PathBuf>,
    /// Guest memory, e.g. 64MiB, 1GiB, or bytes.
    #[arg(short, long, default_value = "256MiB", value_parser = parse_size)]
    memory: u64,
    /// Wall-clock limit in seconds.
    #[arg(long, default_value_t = 60.0)]
    timeout: f64,
    /// Make a host file or directory visible to the guest (HOST:GUEST), like uhyve's.
    #[arg(long = "file-mapping")]
    file_mappings: Vec<FileMapping>,
    /// Environment variable for the guest (KEY=VALUE).
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Print the cold-start time split to stderr as JSON.
    #[arg(long)]
    timings: bool,
    /// Arguments for a plain program.
    #[arg(last = true)]
    guest_args: Vec<String>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = if let Some(n) = s.strip_suffix("GiB") {
        (n, 1u64 << 30)
    } else if let Some(n) = s.strip_suffix("MiB") {
        (n, 1 << 20)
    } else if let Some(n) = s.strip_suffix("KiB") {
        (n, 1 << 10)
    } else {
        (s, 1)
    };
    let n: u64 = num.trim().parse().map_err(|_| format!("{s:?} is not a size (e.g. 256MiB, 1GiB)"))?;
    n.checked_mul(mult).ok_or_else(|| format!("{s:?} is too large"))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match dispatch(cli.cmd) {
        Ok(code) => code,
        Err(e) => {
            let inner = e.downcast_ref::<Error>().or_else(|| match e.downcast_ref::<SnapshotError>() {
                Some(SnapshotError::Instance(i)) => Some(i),
                _ => None,
            });
            let code = match inner {
                Some(Error::Timeout(_)) => EXIT_TIMEOUT,
                Some(Error::Crash { .. } | Error::Hypercall { .. }) => EXIT_CRASH,
                _ => 2,
            };
            eprintln!("seuss: error: {}", chain_message(&e));
            ExitCode::from(code)
        }
    }
}

/// The error and its causes, each cause once (messages that already include their source are
/// not repeated).
fn chain_message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let m = cause.to_string();
        if !out.contains(&m) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&m);
        }
    }
    out
}

fn dispatch(cmd: Cmd) -> Result<ExitCode> {
    match cmd {
        Cmd::Run(a) => run(a),
        Cmd::Snapshot(a) => snapshot(a),
        Cmd::Invoke(a) => invoke(a),
        Cmd::Inspect { snapshot } => inspect(&snapshot),
        Cmd::Bench(a) => bench::run(a).map(|()| ExitCode::SUCCESS),
    }
}

fn seconds(t: f64, flag: &str) -> Result<Duration> {
    match Duration::try_from_secs_f64(t) {
        Ok(d) if t > 0.0 => Ok(d),
        _ => bail!("{flag} must be a positive number of seconds, not {t}"),
    }
}

fn snapshot(a: SnapshotArgs) -> Result<ExitCode> {
    let kvm = kvm_ioctls::Kvm::new().context("opening /dev/kvm")?;
    let config = Config { memory: a.memory, timeout: seconds(a.timeout, "--timeout")?, console: Console::Inherit, ..Config::default() };
    let t0 = std::time::Instant::now();
    if let (Some(from), Some(function)) = (&a.from, &a.function) {
        let runtime = Loaded::open(from)?;
        let source = std::fs::read_to_string(function).with_context(|| format!("reading {}", function.display()))?;
        let snap = seuss_hv::cache::warm_snapshot(&kvm, &runtime, &source, &config, &a.output)?;
        report_snapshot(&snap, t0.elapsed());
        return Ok(ExitCode::SUCCESS);
    }
    let (path, want) = match (&a.image, &a.runtime) {
        (Some(p), _) => (p, Event::WantsInvocation),
        (None, Some(p)) => (p, Event::WantsSource),
        _ => unreachable!("clap requires one"),
    };
    let image = Image::from_file(path)?;
    let mut inst = Instance::boot(&kvm, &image, &config)?;
    let event = inst.run()?;
    if event != want {
        match (event, want) {
            (Event::WantsSource, _) => bail!("{} is a runtime image: use --runtime", path.display()),
            (Event::WantsInvocation, _) => bail!("{} already holds a function: snapshot it without --runtime", path.display()),
            (Event::Returned, _) => bail!(
                "{} could not start its function: {}",
                path.display(),
                inst.last_result().unwrap_or("no message")
            ),
            (Event::Exited(code), _) => bail!(
                "{} exited with status {code} before it could be snapshotted{}",
                path.display(),
                inst.last_result().map(|r| format!(": {r}")).unwrap_or_default()
            ),
        }
    }
    seuss_hv::capture(&mut inst, &a.output, seuss_hv::snapshot::image_ref(path)?)?;
    let snap = Loaded::open(&a.output)?;
    report_snapshot(&snap, t0.elapsed());
    Ok(ExitCode::SUCCESS)
}

fn report_snapshot(snap: &Loaded, took: Duration) {
    eprintln!(
        "snapshot {} ({:?}, {} pages, {} bytes stored{}) in {} ms",
        snap.path().display(),
        snap.header().kind,
        snap.header().stored_pages(),
        snap.stored_bytes(),
        snap.parent().map(|p| format!(", diff over {}", p.path().display())).unwrap_or_default(),
        took.as_millis()
    );
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

fn invoke(a: InvokeArgs) -> Result<ExitCode> {
    let kvm = kvm_ioctls::Kvm::new().context("opening /dev/kvm")?;
    let snap = Loaded::open(&a.snapshot)?;
    if snap.header().pending_port != seuss_abi::Hypercall::NextInvocation.port() {
        bail!(
            "{} is a runtime snapshot: make a function snapshot with `seuss snapshot --from {} --function fn.js -o fn.snap`",
            a.snapshot.display(),
            a.snapshot.display()
        );
    }
    let args = match &a.args_file {
        Some(f) => std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
        None => a.args.clone(),
    };
    let config = Config { timeout: seconds(a.timeout, "--timeout")?, console: Console::Inherit, ..Config::default() };
    let t0 = std::time::Instant::now();
    let mut inst = Instance::from_snapshot(&kvm, &snap, &config)?;
    let clone_time = t0.elapsed();
    let (mut latencies, mut resets) = (Vec::new(), Vec::new());
    let (mut touched, mut written) = (Vec::new(), Vec::new());
    let mut any_error = false;
    for i in 0..a.count {
        if i > 0 {
            let t = std::time::Instant::now();
            inst.reset()?;
            resets.push(t.elapsed());
        }
        let t = std::time::Instant::now();
        let outcome = inst.invoke(&args)?;
        latencies.push(t.elapsed());
        if a.stats {
            touched.push(inst.ram().present_pages()?.len() as u64);
            written.push(inst.ram().private_pages()?.len() as u64);
        }
        match &outcome.result {
            Some(r) => println!("{r}"),
            None => println!(
                "{}",
                serde_json::json!({"error": format!("the function's guest stopped without a result (exit status {:?})", inst.exit_status())})
            ),
        }
        any_error |= outcome.is_error;
    }
    if a.stats {
        eprintln!(
            "{}",
            serde_json::json!({
                "invocations": a.count,
                "clone_us": clone_time.as_micros() as u64,
                "invoke_us": bench::dist(&latencies),
                "reset_us": bench::dist(&resets),
                "pages_touched": median(&mut touched),
                "pages_written": median(&mut written),
            })
        );
    }
    Ok(if any_error { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn inspect(path: &std::path::Path) -> Result<ExitCode> {
    match snapfmt::Snapshot::open(path) {
        Ok(s) => {
            let h = s.header();
            let parent_ok = h.parent.as_ref().map(|_| Loaded::open(path).map(|_| true).unwrap_or(false));
            let pending = seuss_abi::Hypercall::from_port(h.pending_port).map(|c| format!("{c:?}"));
            println!(
                "{}",
                serde_json::json!({
                    "path": path.display().to_string(),
                    "format_version": snapfmt::FORMAT_VERSION,
                    "id": s.id().to_string(),
                    "kind": format!("{:?}", h.kind),
                    "parent": h.parent.as_ref().map(|p| serde_json::json!({"id": p.id.to_string(), "path": p.path, "ok": parent_ok})),
                    "image": {"name": h.image.name, "hash": format!("{:016x}", h.image.hash)},
                    "abi_version": h.abi_version,
                    "guest_memory_bytes": h.guest_memory_bytes,
                    "stored_pages": h.stored_pages(),
                    "stored_bytes": s.data_len(),
                    "runs": h.runs.len(),
                    "pending": pending,
                    "created_unix_ns": h.created_unix_ns,
                    "checksum_ok": true,
                })
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("{}", serde_json::json!({"path": path.display().to_string(), "checksum_ok": false, "error": e.to_string()}));
            Ok(ExitCode::from(1))
        }
    }
}

fn run(a: RunArgs) -> Result<ExitCode> {
    let image_path = a.image.as_ref().or(a.runtime.as_ref()).expect("clap requires one");
    let image = Image::from_file(image_path)?;
    let source = match &a.function {
        Some(f) => Some(std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?),
        None => None,
    };
    let args = match &a.args_file {
        Some(f) => std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?,
        None => a.args.clone(),
    };
    let mut env = Vec::new();
    for kv in &a.env {
        let (k, v) = kv.split_once('=').with_context(|| format!("-e {kv:?} is not KEY=VALUE"))?;
        env.push((k.to_owned(), v.to_owned()));
    }
    let config = Config {
        memory: a.memory,
        timeout: seconds(a.timeout, "--timeout")?,
        file_mappings: a.file_mappings,
        args: a.guest_args,
        env,
        console: Console::Inherit,
    };
    let kvm = kvm_ioctls::Kvm::new().context("opening /dev/kvm")?;
    let run = run_cold(&kvm, &image, &config, source.as_deref(), &args)?;
    if a.timings {
        let t = &run.timings;
        let us = |d: Option<Duration>| d.map(|d| d.as_micros() as u64);
        eprintln!(
            "{}",
            serde_json::json!({
                "vm_setup_us": t.vm_setup.as_micros() as u64,
                "boot_us": us(t.boot),
                "engine_init_us": us(t.engine_init),
                "import_us": us(t.import),
                "run_us": us(t.run),
                "total_us": t.total.as_micros() as u64,
            })
        );
    }
    match (&run.outcome, run.exit) {
        (Some(o), _) => match &o.result {
            Some(r) => {
                println!("{r}");
                Ok(ExitCode::from(if o.is_error { 1 } else { 0 }))
            }
            None => {
                // The guest died mid-invocation (out of memory, a fault): still an error result.
                let status = run.exit.map_or("no exit status".to_owned(), |c| format!("exit status {c}"));
                println!("{}", serde_json::json!({ "error": format!("the function's guest stopped without a result ({status}; see stderr)") }));
                Ok(ExitCode::from(EXIT_CRASH))
            }
        },
        (None, Some(code)) => Ok(ExitCode::from(code as u8)),
        (None, None) => bail!("the guest stopped without a result or exit status"),
    }
}
