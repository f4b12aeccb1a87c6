//! `seuss run`: a cold start of a function image, a runtime image with a function, or a plain
//! program.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use seuss_hv::{run_cold, Config, Console, FileMapping, ImageKind};
use serde_json::json;

use crate::args::{NetArgs, image_of_kind, parse_env, parse_seconds, ArgsSource, MemoryArg};
use crate::exit::Status;
use crate::record::{error_line, OutputFormat, Record};
use crate::usage;

/// Arguments of `seuss run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The image (from `cargo xtask build-image`).
    #[arg(required_unless_present = "runtime", conflicts_with = "runtime")]
    image: Option<PathBuf>,
    /// A runtime image (`cargo xtask build-image --runtime`); use with --function.
    #[arg(long, requires = "function")]
    runtime: Option<PathBuf>,
    /// The function source handed to the runtime image through the hypercall channel.
    #[arg(long, requires = "runtime")]
    function: Option<PathBuf>,
    #[command(flatten)]
    args: ArgsSource,
    #[command(flatten)]
    memory: MemoryArg,
    #[command(flatten)]
    net: NetArgs,
    /// Wall-clock limit in seconds.
    #[arg(long, default_value = "60", value_parser = parse_seconds)]
    timeout: Duration,
    /// Make a host file or directory visible to the guest (HOST:GUEST), like uhyve's.
    #[arg(long = "file-mapping")]
    file_mappings: Vec<FileMapping>,
    /// Environment variable for the guest (KEY=VALUE).
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// `json`: one record on stdout (result, error, start kind, latency, cold-start split).
    #[arg(long, value_enum, default_value = "text")]
    output: OutputFormat,
    /// After `--`: the args JSON of a function image (as stock uhyve takes it), or a plain
    /// program's arguments.
    #[arg(last = true)]
    guest_args: Vec<String>,
}

/// Runs the command.
pub fn run(a: RunArgs) -> Result<ExitCode> {
    let (image, source) = match (&a.image, &a.runtime, &a.function) {
        (Some(path), None, None) => {
            (image_of_kind(path, &[ImageKind::Function, ImageKind::Program], "")?, None)
        }
        (None, Some(rt), Some(f)) => {
            let image = image_of_kind(rt, &[ImageKind::Runtime], "--runtime ")?;
            let src = std::fs::read_to_string(f).with_context(|| format!("--function: reading {}", f.display()))?;
            (image, Some(src))
        }
        _ => unreachable!("clap requires IMAGE or --runtime with --function"),
    };
    let js = image.kind() != ImageKind::Program;
    let (args, guest_args) = if js {
        if a.guest_args.len() > 1 {
            usage!("a function image takes one argument after `--` (its args JSON), not {}", a.guest_args.len());
        }
        (a.args.resolve(a.guest_args.first().map(String::as_str))?, Vec::new())
    } else {
        if a.args.args.is_some() || a.args.args_file.is_some() {
            usage!("--args is for JS function images; {} is a plain program (its arguments follow `--`)", image.name());
        }
        (String::new(), a.guest_args)
    };
    let config = Config {
        memory: a.memory.memory,
        timeout: a.timeout,
        file_mappings: a.file_mappings,
        args: guest_args,
        env: parse_env(&a.env)?,
        console: Console::Inherit,
        network: a.net.mode()?,
    };
    let kvm = seuss_hv::Kvm::new().context("opening /dev/kvm")?;
    let run = run_cold(&kvm, &image, &config, source.as_deref(), &args)?;
    let status = match (&run.outcome, run.exit) {
        (Some(o), _) => match &o.result {
            Some(_) if o.is_error => Status::FunctionError,
            Some(_) => Status::Ok,
            None => Status::Guest,
        },
        // A plain program: its own status.
        (None, Some(code)) if !js => return Ok(ExitCode::from(code as u8)),
        // A function image that died before its invocation (a fault, out of memory).
        (None, Some(code)) => {
            let line = error_line(&format!("the function's guest exited with status {code} before its invocation (see stderr)"));
            println!("{line}");
            return Ok(Status::Guest.into());
        }
        (None, None) => anyhow::bail!(seuss_hv::Error::Crash { what: "the guest stopped without a result or exit status".into(), rip: 0 }),
    };
    let o = run.outcome.as_ref().expect("matched above");
    let result = o.result.clone().unwrap_or_else(|| {
        let why = run.exit.map_or("no exit status".to_owned(), |c| format!("exit status {c}"));
        error_line(&format!("the function's guest stopped without a result ({why}; see stderr)"))
    });
    match a.output {
        OutputFormat::Text => println!("{result}"),
        OutputFormat::Json => {
            let t = &run.timings;
            let us = |d: Option<Duration>| d.map(|d| d.as_micros() as u64);
            let record = Record {
                result: Some(&result),
                is_error: status != Status::Ok,
                start: "cold",
                latency: t.total,
                pages: None,
                extra: json!({"timings_us": {
                    "vm_setup": t.vm_setup.as_micros() as u64,
                    "boot": us(t.boot),
                    "engine_init": us(t.engine_init),
                    "import": us(t.import),
                    "run": us(t.run),
                }}),
            };
            println!("{}", record.to_line());
        }
    }
    Ok(status.into())
}
