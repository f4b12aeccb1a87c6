//! `seuss`: run functions and images on our hypervisor.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use seuss_hv::{run_cold, Config, Console, Error, FileMapping, Image};

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
    match cli.cmd {
        Cmd::Run(args) => match run(args) {
            Ok(code) => code,
            Err(e) => {
                let code = match e.downcast_ref::<Error>() {
                    Some(Error::Timeout(_)) => EXIT_TIMEOUT,
                    Some(Error::Crash { .. } | Error::Hypercall { .. }) => EXIT_CRASH,
                    _ => 2,
                };
                eprintln!("seuss: error: {e:#}");
                ExitCode::from(code)
            }
        },
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
    if !(a.timeout > 0.0 && a.timeout.is_finite()) {
        bail!("--timeout must be a positive number of seconds");
    }
    let mut env = Vec::new();
    for kv in &a.env {
        let (k, v) = kv.split_once('=').with_context(|| format!("-e {kv:?} is not KEY=VALUE"))?;
        env.push((k.to_owned(), v.to_owned()));
    }
    let config = Config {
        memory: a.memory,
        timeout: Duration::from_secs_f64(a.timeout),
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
