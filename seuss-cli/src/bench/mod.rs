//! `seuss bench`: the paper's experiments against baselines measured in the same run.
//!
//! Every experiment prints a human table; `--json FILE|-` writes a document recording the
//! machine, the commit, the parameters and every figure; `--quick` shrinks it to seconds (CI
//! runs that and checks the JSON's shape, never its timings).

mod burst;
mod common;
mod density;
mod serve;
mod startup;
mod throughput;

use std::path::PathBuf;
use std::time::Duration;


use anyhow::{bail, Result};
use serde_json::json;

/// The experiments.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Experiment {
    /// cold / warm / hot / reuse starts vs Node.js, uhyve and Boa processes.
    Startup,
    /// Memory per cached function, per live clone, per Node.js process.
    Density,
    /// Invocations per second with concurrent clients.
    Throughput,
    /// Latency under periodic bursts.
    Burst,
    /// The node through HTTP (`seuss serve` loaded by wrk) with its baselines.
    Serve,
}

/// Arguments of `seuss bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Which experiment.
    pub experiment: Experiment,
    /// Write the JSON document here (`-` for stdout).
    #[arg(long)]
    pub json: Option<String>,
    /// Write the burst plot here (SVG).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// A CI-sized run (seconds).
    #[arg(long)]
    pub quick: bool,
    /// Samples per start kind (startup).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Functions for startup (default nop, hello, fib; nop with --quick).
    #[arg(long, value_delimiter = ',')]
    pub functions: Option<Vec<String>>,
    /// Workspace root (examples/ and the node scripts): default the `SEUSS_ROOT` variable, else
    /// the current directory or the nearest parent holding `examples/` and `seuss-cli/node/`.
    #[arg(long, env = "SEUSS_ROOT")]
    pub root: Option<PathBuf>,
    /// Directory with the built images (default ROOT/target/images).
    #[arg(long)]
    pub images: Option<PathBuf>,
}

/// Runs one experiment and reports it.
pub fn run(a: BenchArgs) -> Result<()> {
    if a.plot.is_some() && !matches!(a.experiment, Experiment::Burst) {
        bail!("--plot is only produced by the burst experiment");
    }
    let root = match &a.root {
        Some(r) => r.clone(),
        None => common::find_root()?,
    };
    // Output paths are checked before the run, not after it.
    for path in [a.json.as_deref().filter(|p| *p != "-").map(PathBuf::from), a.plot.clone()].into_iter().flatten() {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        if !dir.is_dir() {
            crate::usage!("{}: directory {} does not exist", path.display(), dir.display());
        }
    }
    let env = common::Env::new(root.clone(), a.images.clone())?;
    let (name, params, results, table, svg) = match a.experiment {
        Experiment::Startup => {
            let runs = a.runs.unwrap_or(if a.quick { 3 } else { 20 });
            let functions = a.functions.clone().unwrap_or_else(|| {
                if a.quick { vec!["nop".into()] } else { vec!["nop".into(), "hello".into(), "fib".into()] }
            });
            let r = startup::run(&env, &functions, runs)?;
            let t = startup::table(&r);
            ("startup", json!({"runs": runs, "functions": functions}), r, t, None)
        }
        Experiment::Density => {
            let (k, l, m) = if a.quick { (10, 4, 2) } else { (1000, 100, 10) };
            let budget = 24u64 << 30;
            let r = density::run(&env, k, l, m, budget)?;
            let t = density::table(&r);
            ("density", json!({"functions": k, "live_clones": l, "node_processes": m, "budget_bytes": budget}), r, t, None)
        }
        Experiment::Throughput => {
            let (clients, secs) = if a.quick { (8, 2) } else { (64, 20) };
            let r = throughput::run(&env, clients, Duration::from_secs(secs))?;
            let t = throughput::table(&r);
            ("throughput", json!({"clients": clients, "seconds": secs}), r, t, None)
        }
        Experiment::Burst => {
            let p = if a.quick {
                burst::Params { size: 4, bursts: 2, periods: vec![1.0], fib_n: 22, sleep_ms: 100 }
            } else {
                burst::Params { size: 128, bursts: 2, periods: vec![16.0, 32.0], fib_n: 28, sleep_ms: 250 }
            };
            let (r, svg) = burst::run(&env, &p)?;
            let t = burst::table(&r);
            (
                "burst",
                json!({"burst_size": p.size, "bursts": p.bursts, "periods_s": p.periods, "fib_n": p.fib_n, "sleep_ms": p.sleep_ms}),
                r,
                t,
                Some(svg),
            )
        }
        Experiment::Serve => {
            let p = if a.quick {
                serve::Params { workers: vec![1], connections: vec![1, 4], secs: 1, cache_sizes: vec![1, 4], new_actions: 3, library_runs: 20 }
            } else {
                serve::Params {
                    workers: vec![1, 2],
                    connections: vec![1, 2, 64],
                    secs: 10,
                    cache_sizes: vec![1, 4, 16, 64, 256],
                    new_actions: 50,
                    library_runs: 1000,
                }
            };
            let r = serve::run(&env, &p)?;
            let t = serve::table(&r);
            let params = json!({"workers": p.workers, "connections": p.connections, "seconds": p.secs, "cache_sizes": p.cache_sizes, "new_actions": p.new_actions});
            ("serve", params, r, t, None)
        }
    };
    // With `--json -` stdout carries the JSON document alone (pipe it to jq); the table then
    // goes to stderr.
    if a.json.as_deref() == Some("-") {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    let doc = json!({
        "experiment": name,
        "quick": a.quick,
        "machine": common::machine(),
        "commit": common::commit(&root),
        "parameters": params,
        "results": results,
    });
    match a.json.as_deref() {
        Some("-") => println!("{}", serde_json::to_string_pretty(&doc)?),
        Some(path) => std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")?,
        None => {}
    }
    if let (Some(path), Some(svg)) = (&a.plot, svg) {
        std::fs::write(path, svg)?;
    }
    Ok(())
}
