//! `seuss bench`: the paper's experiments against baselines measured in the same run.
//!
//! Every experiment prints aligned tables (n always shown, `-` where a percentile is not
//! reported); `--json FILE|-` writes a document recording the machine, the commit, the
//! parameters and every figure (each sample as `common::summary`: n, min, median, p90/p99
//! where n supports them, max, mean, sd); `--plots DIR` writes the figures (`plot.rs`);
//! `--quick` shrinks the run to seconds (CI runs that and checks the JSON's shape, never its
//! timings).
//!
//! | module | experiment |
//! |---|---|
//! | `startup` | cold / warm / hot / reuse starts vs Node.js, stock uhyve and Boa processes |
//! | `density` | bytes per cached function per tier (page store), corpus, codecs, live clones, Node.js |
//! | `throughput` | invocations/s with concurrent clients: hot, reuse, new function, Node.js |
//! | `burst` | latency under bursts: CPU-bound fib and I/O-bound fetch, vs a Node.js process per request |
//! | `network` | a fetch's cost from a hot clone, a clone's network memory |
//! | `serve` | the node through HTTP (`seuss serve` loaded by wrk) with its baselines |
//!
//! Shared: `common` (paths, machine, statistics, processes, PSS), `table` (text tables),
//! `plot` (figures), `local_server` (the HTTP server the network experiments fetch from).

mod burst;
mod common;
mod density;
mod local_server;
mod network;
mod plot;
mod serve;
mod startup;
mod table;
mod throughput;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{json, Value};

/// Version of the JSON layout (`format`): 2 = samples as `common::summary`; documents
/// without it used percentiles of the old layout.
pub const FORMAT: u32 = 2;

/// The experiments.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Experiment {
    /// cold / warm / hot / reuse starts vs Node.js, uhyve and Boa processes.
    Startup,
    /// Bytes per cached function (page store tiers, dedup, codecs), per live clone, per
    /// Node.js process.
    Density,
    /// Invocations per second with concurrent clients.
    Throughput,
    /// Latency under periodic bursts (CPU-bound and I/O-bound, vs Node.js processes).
    Burst,
    /// A fetch from a hot clone: overhead over the server's time, memory of network state.
    Network,
    /// The node through HTTP (`seuss serve` loaded by wrk) with its baselines.
    Serve,
}

/// Draws a figure (SVG text) from an experiment's results.
type Draw = fn(&Value) -> Result<String>;

impl Experiment {
    /// The figure this experiment draws (file name in `--plots DIR`), if any.
    fn figure(self) -> Option<(&'static str, Draw)> {
        match self {
            Experiment::Startup => Some(("startup.svg", plot::startup)),
            Experiment::Burst => Some(("burst.svg", plot::burst)),
            Experiment::Serve => Some(("serve.svg", plot::serve)),
            _ => None,
        }
    }
}

/// Arguments of `seuss bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Which experiment.
    pub experiment: Experiment,
    /// Write the JSON document here (`-` for stdout).
    #[arg(long)]
    pub json: Option<String>,
    /// Write the experiment's figure (SVG) into this directory: startup.svg, burst.svg or
    /// serve.svg (other experiments draw none).
    #[arg(long, alias = "plot", value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// A CI-sized run (seconds).
    #[arg(long)]
    pub quick: bool,
    /// Samples per figure (startup: per start kind; network: per median; density: per
    /// hot-start tier).
    #[arg(long)]
    pub runs: Option<usize>,
    /// startup: the functions (default nop,hello,fib; nop with --quick). density: how many
    /// hello.js variants to cache (default 1000; 10 with --quick).
    #[arg(long, value_delimiter = ',')]
    pub functions: Option<Vec<String>>,
    /// Seconds per measured mode (throughput: default 20, 2 with --quick; serve: per wrk run).
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Workspace root (examples/ and the node scripts): default the `SEUSS_ROOT` variable, else
    /// the current directory or the nearest parent holding `examples/` and `seuss-cli/node/`.
    #[arg(long, env = "SEUSS_ROOT")]
    pub root: Option<PathBuf>,
    /// Directory with the built images (default ROOT/target/images).
    #[arg(long)]
    pub images: Option<PathBuf>,
}

/// Checks the output paths before the run: `--json`'s directory exists, `--plots` is (or can
/// be made) a directory.
fn check_outputs(a: &BenchArgs) -> Result<()> {
    if let Some(path) = a.json.as_deref().filter(|p| *p != "-").map(Path::new) {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            crate::usage!("--json {}: directory {} does not exist", path.display(), dir.display());
        }
    }
    if let Some(dir) = &a.plots {
        if dir.is_file() || std::fs::create_dir_all(dir).is_err() {
            crate::usage!("--plots {}: not a directory that can be written (give a directory, e.g. bench-results)", dir.display());
        }
    }
    Ok(())
}

/// The density experiment's `--functions N`.
fn function_count(a: &BenchArgs) -> Result<Option<usize>> {
    match a.functions.as_deref() {
        None => Ok(None),
        Some([one]) => match one.parse::<usize>() {
            Ok(n) if n > 0 => Ok(Some(n)),
            _ => crate::usage!("--functions {one}: density takes a count of functions to cache (e.g. --functions 1000)"),
        },
        Some(more) => crate::usage!("--functions {}: density takes one count (e.g. --functions 1000)", more.join(",")),
    }
}

/// Runs one experiment and reports it.
pub fn run(a: BenchArgs) -> Result<()> {
    let root = match &a.root {
        Some(r) => r.clone(),
        None => common::find_root()?,
    };
    check_outputs(&a)?;
    let count = if a.experiment == Experiment::Density { function_count(&a)? } else { None };
    if a.functions.is_some() && !matches!(a.experiment, Experiment::Startup | Experiment::Density) {
        crate::usage!("--functions applies to startup (names) and density (a count)");
    }
    let env = common::Env::new(root.clone(), a.images.clone())?;
    let q = a.quick;
    let (name, params, results, table) = match a.experiment {
        Experiment::Startup => {
            let runs = a.runs.unwrap_or(if q { 3 } else { 20 });
            let functions = a.functions.clone().unwrap_or_else(|| {
                if q { vec!["nop".into()] } else { vec!["nop".into(), "hello".into(), "fib".into()] }
            });
            let r = startup::run(&env, &functions, runs)?;
            let t = startup::table(&r);
            ("startup", json!({"runs": runs, "functions": functions}), r, t)
        }
        Experiment::Density => {
            let functions = count.unwrap_or(if q { 10 } else { 1000 });
            let p = density::Params {
                functions,
                materialised: if q { 5 } else { 100 }.min(functions),
                corpus: if q { 12 } else { 50 },
                hot_runs: a.runs.unwrap_or(if q { 3 } else { 50 }),
                clones: if q { 4 } else { 100 },
                node_processes: if q { 2 } else { 10 },
                budget: 24 << 30,
            };
            let r = density::run(&env, &p)?;
            let t = density::table(&r);
            let params = json!({"functions": p.functions, "materialised": p.materialised, "corpus": p.corpus, "hot_runs": p.hot_runs,
                                "live_clones": p.clones, "node_processes": p.node_processes, "budget_bytes": p.budget});
            ("density", params, r, t)
        }
        Experiment::Throughput => {
            let clients = if q { 8 } else { 64 };
            let secs = a.seconds.unwrap_or(if q { 2 } else { 20 });
            let r = throughput::run(&env, clients, Duration::from_secs(secs))?;
            let t = throughput::table(&r);
            ("throughput", json!({"clients": clients, "seconds": secs}), r, t)
        }
        Experiment::Burst => {
            let p = if q {
                burst::Params { size: 4, bursts: 2, periods: vec![1.0], fib_n: 22, io_delay_ms: 250, solo_runs: 2 }
            } else {
                burst::Params { size: 128, bursts: 2, periods: vec![16.0, 32.0], fib_n: 28, io_delay_ms: 250, solo_runs: 5 }
            };
            let r = burst::run(&env, &p)?;
            let t = burst::table(&r);
            let params = json!({"burst_size": p.size, "bursts": p.bursts, "periods_s": p.periods, "fib_n": p.fib_n,
                                "io_delay_ms": p.io_delay_ms, "solo_runs": p.solo_runs});
            ("burst", params, r, t)
        }
        Experiment::Network => {
            let p = network::Params { runs: a.runs.unwrap_or(if q { 5 } else { 200 }), clones: if q { 4 } else { 50 } };
            let r = network::run(&env, &p)?;
            let t = network::table(&r);
            ("network", json!({"runs": p.runs, "live_clones": p.clones}), r, t)
        }
        Experiment::Serve => {
            let secs = a.seconds.unwrap_or(if q { 1 } else { 10 });
            let p = if q {
                serve::Params {
                    workers: vec![1],
                    connections: vec![1, 4],
                    secs,
                    cache_sizes: vec![1, 4],
                    new_actions: 3,
                    library_runs: 20,
                    restart_actions: 12,
                    restarts: 2,
                }
            } else {
                serve::Params {
                    workers: vec![1, 2],
                    connections: vec![1, 2, 64],
                    secs,
                    cache_sizes: vec![1, 4, 16, 64, 256],
                    new_actions: 50,
                    library_runs: 1000,
                    restart_actions: 1000,
                    restarts: 5,
                }
            };
            let r = serve::run(&env, &p)?;
            let t = serve::table(&r);
            let params = json!({"workers": p.workers, "connections": p.connections, "seconds": p.secs, "cache_sizes": p.cache_sizes, "new_actions": p.new_actions,
                                "restart_actions": p.restart_actions, "restarts": p.restarts});
            ("serve", params, r, t)
        }
    };
    // With `--json -` stdout carries the JSON document alone (pipe it to jq); the tables then
    // go to stderr.
    if a.json.as_deref() == Some("-") {
        eprint!("{table}");
    } else {
        print!("{table}");
    }
    let doc = json!({
        "experiment": name,
        "quick": a.quick,
        // The layout of this document: 2 = samples as summaries (median, p90/p99 where n allows).
        "format": FORMAT,
        "machine": common::machine(),
        "commit": common::commit(&root),
        "parameters": params,
        "results": results,
    });
    match a.json.as_deref() {
        Some("-") => println!("{}", serde_json::to_string_pretty(&doc)?),
        Some(path) => std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n").with_context(|| format!("writing {path}"))?,
        None => {}
    }
    if let Some(dir) = &a.plots {
        match a.experiment.figure() {
            Some((file, draw)) => {
                let path = dir.join(file);
                std::fs::write(&path, draw(&doc["results"])?).with_context(|| format!("writing {}", path.display()))?;
                eprintln!("figure: {}", path.display());
            }
            None => eprintln!("note: seuss bench {name} draws no figure; nothing written to {}", dir.display()),
        }
    }
    Ok(())
}
