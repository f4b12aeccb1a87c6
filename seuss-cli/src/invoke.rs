//! `seuss invoke`: N hot starts from a function snapshot, one line per invocation whatever
//! happens to it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use seuss_hv::{Config, Console, ErrorKind, Hypercall, Instance, Loaded, Summary};
use serde_json::json;

use crate::args::{NetArgs, parse_seconds, ArgsSource};
use crate::exit::Status;
use crate::record::{error_line, OutputFormat, Record};
use crate::usage;

/// Arguments of `seuss invoke`.
#[derive(clap::Args)]
pub struct InvokeArgs {
    /// A function snapshot.
    snapshot: PathBuf,
    #[command(flatten)]
    args: ArgsSource,
    #[command(flatten)]
    net: NetArgs,
    /// Number of invocations (each on a fresh clone).
    #[arg(short = 'n', long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Wall-clock limit per invocation in seconds.
    #[arg(long, default_value = "60", value_parser = parse_seconds)]
    timeout: Duration,
    /// `json`: one record per invocation (result, error, start kind, latency, pages touched and
    /// written).
    #[arg(long, value_enum, default_value = "text")]
    output: OutputFormat,
    /// Write latency statistics (JSON) to this file.
    #[arg(long, value_name = "FILE")]
    stats: Option<PathBuf>,
    /// The page store holding the snapshot's pages (`seuss snapshot --store DIR`).
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,
}

/// Prints one invocation's line in the chosen format.
fn print_line(format: OutputFormat, line: &str, status: Status, latency: Duration, pages: Option<(u64, u64)>) {
    match format {
        OutputFormat::Text => println!("{line}"),
        OutputFormat::Json => {
            let record = Record { result: Some(line), is_error: status != Status::Ok, start: "hot", latency, pages, extra: json!({}) };
            println!("{}", record.to_line());
        }
    }
}

/// Runs the command.
pub fn invoke(a: InvokeArgs) -> Result<ExitCode> {
    let args = a.args.resolve(None)?;
    if let Some(parent) = a.stats.as_ref().and_then(|p| p.parent()).filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            usage!("--stats {}: directory {} does not exist", a.stats.as_ref().unwrap().display(), parent.display());
        }
    }
    let snap = match &a.store {
        Some(dir) => {
            let store = std::sync::Arc::new(seuss_hv::PageStore::open(dir, seuss_hv::Codec::Zstd)?);
            Loaded::open_in(&a.snapshot, seuss_hv::Storage { pages: Some(&store), key: None })?
        },
        None => Loaded::open(&a.snapshot)?,
    };
    if snap.parked_call() != Hypercall::NextInvocation {
        let s = a.snapshot.display();
        usage!("{s} is a runtime snapshot: make a function snapshot with `seuss snapshot --from {s} --function fn.js -o fn.snap`");
    }
    let kvm = seuss_hv::Kvm::new().context("opening /dev/kvm")?;
    let config = Config { timeout: a.timeout, console: Console::Inherit, network: a.net.mode()?, ..Config::default() };
    let t0 = Instant::now();
    let mut inst = Instance::from_snapshot(&kvm, &snap, &config)?;
    let clone_time = t0.elapsed();
    let (mut latencies, mut resets) = (Vec::new(), Vec::new());
    let (mut touched, mut written) = (Vec::new(), Vec::new());
    let mut worst = Status::Ok;
    // A host-side failure (a snapshot file changed, KVM) ends the batch: its invocation and
    // every later one still get their line, then the error is reported with status 5.
    let mut fatal: Option<seuss_hv::Error> = None;
    for i in 0..a.count {
        if let Some(e) = &fatal {
            print_line(a.output, &error_line(&format!("not run: an earlier invocation failed on the host: {e}")), Status::Host, Duration::ZERO, None);
            continue;
        }
        if i > 0 {
            let t = Instant::now();
            if let Err(e) = inst.reset() {
                print_line(a.output, &error_line(&e.to_string()), Status::Host, Duration::ZERO, None);
                fatal = Some(e);
                continue;
            }
            resets.push(t.elapsed());
        }
        let t = Instant::now();
        let outcome = inst.invoke(&args);
        let latency = t.elapsed();
        let (line, status) = match outcome {
            Ok(o) => match o.result {
                Some(r) => (r, if o.is_error { Status::FunctionError } else { Status::Ok }),
                None => {
                    let why = inst.exit_status().map_or("no exit status".to_owned(), |c| format!("exit status {c}"));
                    (error_line(&format!("the function's guest stopped without a result ({why})")), Status::Guest)
                }
            },
            // A timeout or a crash is this invocation's outcome; the next one gets a reset clone.
            Err(e) if matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Guest) => {
                (error_line(&e.to_string()), Status::of_kind(e.kind()))
            }
            Err(e) => {
                print_line(a.output, &error_line(&e.to_string()), Status::of_kind(e.kind()), latency, None);
                fatal = Some(e);
                continue;
            }
        };
        worst = worst.max(status);
        latencies.push(latency);
        let pages = if a.output == OutputFormat::Json || a.stats.is_some() {
            let p = (inst.ram().present_pages()?.len() as u64, inst.pages_written()? as u64);
            touched.push(p.0 as f64);
            written.push(p.1 as f64);
            Some(p)
        } else {
            None
        };
        print_line(a.output, &line, status, latency, pages);
    }
    if let Some(e) = fatal {
        return Err(e.into());
    }
    if let Some(path) = &a.stats {
        let stats = json!({
            "invocations": a.count,
            "clone_us": clone_time.as_micros() as u64,
            "invoke_us": Summary::of(&latencies),
            "reset_us": Summary::of(&resets),
            "pages_touched": Summary::of_values(&touched),
            "pages_written": Summary::of_values(&written),
        });
        std::fs::write(path, format!("{stats:#}\n")).with_context(|| format!("--stats: writing {}", path.display()))?;
    }
    Ok(worst.into())
}
