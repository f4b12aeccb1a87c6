//! `seuss`: run functions and images on our hypervisor, snapshot and invoke them, benchmark
//! them, and serve them as a node.
//!
//! | module | command |
//! |---|---|
//! | `run` | `seuss run`: a cold start (or a plain program) |
//! | `snapshot` | `seuss snapshot`: runtime, function and warm-path snapshots |
//! | `invoke` | `seuss invoke`: hot starts from a function snapshot |
//! | `inspect` | `seuss inspect`: a snapshot's metadata |
//! | `bench` | `seuss bench`: the experiments |
//! | `serve` | `seuss serve`: the serverless node (crate `seuss-node`) |
//! | `args`, `exit`, `record` | shared flags, the exit-status table, machine-readable records |

mod args;
mod bench;
mod exit;
mod inspect;
mod invoke;
mod record;
mod run;
mod serve;
mod snapshot;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use exit::Status;

#[derive(Parser)]
#[command(
    name = "seuss",
    version,
    about = "Serverless functions as unikernels on KVM (uhyve-compatible images, snapshots, clones)",
    after_help = "Logs: RUST_LOG=seuss_hv=debug (or trace) shows boots, clones, invocations and resets on stderr."
)]
struct Cli {
    /// Log format on stderr (RUST_LOG selects what is logged; nothing by default).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::ValueEnum, Clone, Copy, PartialEq, Eq)]
enum LogFormat {
    /// Human-readable lines (coloured only on a terminal).
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Subcommand)]
enum Cmd {
    /// Cold-boot an image and run one invocation (JS images) or the program (plain images).
    ///
    /// The result JSON alone goes to stdout (or one JSON record with --output json), console
    /// lines to stderr. A plain program keeps its own exit status.
    #[command(after_help = exit::TABLE)]
    Run(run::RunArgs),
    /// Capture a snapshot: a function snapshot from a function image (cold path), a runtime
    /// snapshot from a runtime image (--runtime), or a function snapshot as a diff over a
    /// runtime snapshot (--from runtime.snap --function fn.js: the warm path).
    #[command(after_help = exit::TABLE)]
    Snapshot(snapshot::SnapshotArgs),
    /// Run N invocations, each on a fresh clone of a function snapshot (hot starts). One line
    /// per invocation on stdout, whatever happens to it; the exit status is the worst one.
    #[command(after_help = exit::TABLE)]
    Invoke(invoke::InvokeArgs),
    /// Print a snapshot's metadata as one JSON object (and whether it and its parents are valid).
    Inspect {
        /// The snapshot file.
        snapshot: std::path::PathBuf,
    },
    /// Benchmarks: startup, density, throughput, burst, serve (needs `cargo xtask build-test-images`;
    /// serve also needs wrk).
    Bench(bench::BenchArgs),
    /// The serverless node: OpenWhisk's REST API (actions, invocations, activations) on
    /// 127.0.0.1:3233, or with --action-proxy OpenWhisk's /init + /run protocol. Runs until
    /// SIGTERM or SIGINT, then drains (running activations finish) and exits 0.
    #[command(after_help = "Logs: seuss_node=info by default (start-up, drain); RUST_LOG=seuss_node=debug adds one \
line per activation with its span (id, action, start kind, timings). With --action-proxy nothing is logged \
unless RUST_LOG asks: stdout and stderr carry the action's logs.")]
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_log = match &cli.cmd {
        Cmd::Serve(a) if !a.action_proxy => "seuss_node=info",
        _ => "error",
    };
    init_logging(cli.log_format, default_log);
    let r = match cli.cmd {
        Cmd::Run(a) => run::run(a),
        Cmd::Snapshot(a) => snapshot::snapshot(a),
        Cmd::Invoke(a) => invoke::invoke(a),
        Cmd::Inspect { snapshot } => inspect::inspect(&snapshot),
        Cmd::Bench(a) => bench::run(a).map(|()| ExitCode::SUCCESS),
        Cmd::Serve(a) => serve::serve(a),
    };
    r.unwrap_or_else(|e| {
        eprintln!("seuss: error: {}", chain_message(&e));
        Status::of_error(&e).into()
    })
}

/// Logs on stderr: what RUST_LOG selects, or `default` without it.
fn init_logging(format: LogFormat, default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
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
