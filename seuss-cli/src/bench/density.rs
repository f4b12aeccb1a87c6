//! `seuss bench density`: memory per cached function snapshot, per live clone, and per warm
//! Node.js process.
//!
//! * cached functions: K generated variants of hello.js (distinct code, state built at import)
//!   become function snapshots over one runtime snapshot through [`SnapshotCache`]. Per
//!   function: the cache's stored bytes (page data that must stay resident or in the page
//!   cache) plus this process's PSS growth (cache bookkeeping).
//! * live clones: L clones of one function snapshot, each having served one invocation and
//!   kept alive (PSS growth of this process / L; KVM's kernel-side memory is not in PSS).
//! * Node.js: M long-lived `node warm.mjs` processes that served one request (their PSS).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use seuss_hv::{Config, Event, Instance, SnapshotCache};
use serde_json::{json, Value};

use super::common::{progress, pss, snapshot_image, Env};

fn variant(i: usize) -> String {
    format!(
        "// generated variant {i} of hello.js\n\
         const table = Array.from({{ length: 64 }}, (_, j) => 'entry-{i}-' + j);\n\
         const created = {{ id: {i}, at: Date.now() }};\n\
         function main(params) {{\n  const name = params.name || 'stranger';\n  \
         return {{ greeting: `Hello, ${{name}} from {i}!`, entries: table.length, id: created.id }};\n}}\n"
    )
}

/// Runs the experiment; `budget` is the memory the largest-K figure is computed for.
pub fn run(env: &Env, functions: usize, clones: usize, node_processes: usize, budget: u64) -> Result<Value> {
    let cfg = Config::default();
    let runtime = snapshot_image(env, "runtime", Event::WantsSource, "density-runtime")?;
    let me = std::process::id().to_string();

    let bar = progress((functions + clones + node_processes) as u64, "density: functions");
    let pss0 = pss(&me);
    let mut cache = SnapshotCache::new(env.work.join("cache"), u64::MAX)?;
    let mut first = None;
    for i in 0..functions {
        let snap = cache.get_or_create(&env.kvm, &runtime, &variant(i), &cfg)?;
        first.get_or_insert(snap);
        bar.inc(1);
    }
    let pss_functions = pss(&me).saturating_sub(pss0);
    let stats = cache.stats();
    let per_function = stats.resident_bytes as f64 / functions as f64 + pss_functions as f64 / functions as f64;

    bar.set_message("density: live clones");
    let snap = first.context("no function cached")?;
    let pss1 = pss(&me);
    let mut live = Vec::new();
    for _ in 0..clones {
        let mut inst = Instance::from_snapshot(&env.kvm, &snap, &cfg)?;
        let o = inst.invoke(r#"{"name":"density"}"#)?;
        if o.is_error {
            bail!("clone failed: {:?}", o.result);
        }
        live.push(inst);
        bar.inc(1);
    }
    let per_clone = pss(&me).saturating_sub(pss1) as f64 / clones.max(1) as f64;
    drop(live);

    bar.set_message("density: node processes");
    let mut children = Vec::new();
    for _ in 0..node_processes {
        let mut child = Command::new("node")
            .arg(env.node_script("warm.mjs"))
            .arg(env.example("hello"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting node")?;
        let mut stdin = child.stdin.take().expect("piped");
        writeln!(stdin, r#"{{"name":"density"}}"#)?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
        children.push((child, stdin));
        bar.inc(1);
    }
    let node_pss: u64 = children.iter().map(|(c, _)| pss(&c.id().to_string())).sum();
    let per_node = node_pss as f64 / node_processes.max(1) as f64;
    for (mut c, stdin) in children {
        drop(stdin);
        let _ = c.wait();
    }
    bar.finish_and_clear();

    Ok(json!({
        "functions": functions,
        "live_clones": clones,
        "node_processes": node_processes,
        "runtime_snapshot_stored_bytes": runtime.stored_bytes(),
        "cache": {"resident_bytes": stats.resident_bytes, "entries": stats.entries, "misses": stats.misses},
        "process_pss_growth_for_functions": pss_functions,
        "bytes_per_cached_function": per_function.round(),
        "bytes_per_live_clone": per_clone.round(),
        "bytes_per_node_process": per_node.round(),
        "budget_bytes": budget,
        "max_cached_functions_in_budget": ((budget.saturating_sub(runtime.stored_bytes())) as f64 / per_function.max(1.0)).floor(),
        "max_node_processes_in_budget": (budget as f64 / per_node.max(1.0)).floor(),
    }))
}

/// The human table.
pub fn table(r: &Value) -> String {
    format!(
        "density: {} cached functions over one runtime snapshot ({} bytes)\n\
         \x20 bytes per cached function   {:>12}  (fits {} in {} bytes)\n\
         \x20 bytes per live clone        {:>12}\n\
         \x20 bytes per warm Node process {:>12}  (fits {} in the same budget)\n",
        r["functions"],
        r["runtime_snapshot_stored_bytes"],
        r["bytes_per_cached_function"],
        r["max_cached_functions_in_budget"],
        r["budget_bytes"],
        r["bytes_per_live_clone"],
        r["bytes_per_node_process"],
        r["max_node_processes_in_budget"]
    )
}
