//! `seuss bench startup`: cold, warm, hot and reuse starts against baselines measured in the
//! same run (Node.js process, warm Node.js, stock uhyve cold boot, Boa as a Linux process).
//!
//! Every figure is the wall time from "request arrives" to "result in hand":
//! * cold: new VM, boot the function image, initialise, import, run (`run_cold`);
//! * warm: clone the runtime snapshot, hand over the source, import, run;
//! * hot: run on a ready clone of the function snapshot (clones are reset off the request
//!   path, as a pool of VM shells does); `hot_new_vm` also creates the clone's VM per request;
//! * reuse: run again in the same live instance (not isolated; for comparison);
//! * reset: the time `Instance::reset` takes before each hot start (off the request path, so
//!   not part of the hot figure).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use seuss_hv::{run_cold, Config, Event, Image, Instance};
use serde_json::{json, Value};

use super::common::{median, progress, ratio, snapshot_image, summary, time_process, Env};
use super::table::{int, summary_cells, summary_header, times, Table};

fn args_for(function: &str) -> &'static str {
    match function {
        "hello" => r#"{"name":"bench"}"#,
        _ => "{}",
    }
}

fn expect_ok(o: &seuss_hv::Outcome, what: &str) -> Result<()> {
    if o.is_error || o.result.is_none() {
        bail!("{what}: the function failed: {:?}", o.result);
    }
    Ok(())
}

/// `runs` samples of `one`, which returns the time of one start (its set-up excluded).
fn sample(runs: usize, bar: &indicatif::ProgressBar, mut one: impl FnMut() -> Result<Duration>) -> Result<Vec<Duration>> {
    let mut v = Vec::with_capacity(runs);
    for _ in 0..runs {
        v.push(one()?);
        bar.inc(1);
    }
    Ok(v)
}

/// Times `f`, which must produce a successful outcome.
fn timed(what: &str, f: impl FnOnce() -> Result<seuss_hv::Outcome>) -> Result<Duration> {
    let t = Instant::now();
    let o = f()?;
    let took = t.elapsed();
    expect_ok(&o, what)?;
    Ok(took)
}

/// Runs the experiment for `functions`, `runs` samples each.
pub fn run(env: &Env, functions: &[String], runs: usize) -> Result<Value> {
    let cfg = Config::default();
    let runtime = snapshot_image(env, "runtime", Event::WantsSource, "runtime")?;
    let mut per_function = serde_json::Map::new();
    let kinds = 9;
    let bar = progress((functions.len() * runs * kinds) as u64, "startup");
    for f in functions {
        bar.set_message(format!("startup {f}"));
        let args = args_for(f);
        let src_path = env.example(f);
        let source = std::fs::read_to_string(&src_path).with_context(|| format!("reading {}", src_path.display()))?;
        let image_path = env.image(f);
        let image = Image::from_file(&image_path)?;
        let mut samples: Vec<(&str, Vec<Duration>)> = Vec::new();

        let cold = sample(runs, &bar, || {
            timed("cold", || run_cold(&env.kvm, &image, &cfg, None, args)?.outcome.context("cold run returned no outcome"))
        })?;
        samples.push(("cold_us", cold));

        let warm = sample(runs, &bar, || {
            timed("warm", || {
                let mut inst = Instance::from_snapshot(&env.kvm, &runtime, &cfg)?;
                inst.provide_source(Some(&source))?;
                if inst.run()? != Event::WantsInvocation {
                    bail!("warm start of {f}: the function did not import");
                }
                Ok(inst.invoke(args)?)
            })
        })?;
        samples.push(("warm_us", warm));

        // hot: function snapshot, ready clone reset off the request path
        let snap = snapshot_image(env, f, Event::WantsInvocation, f)?;
        let mut inst = Instance::from_snapshot(&env.kvm, &snap, &cfg)?;
        expect_ok(&inst.invoke(args)?, "hot warm-up")?;
        let mut resets = Vec::with_capacity(runs);
        let hot = sample(runs, &bar, || {
            let t = Instant::now();
            inst.reset()?;
            resets.push(t.elapsed());
            timed("hot", || Ok(inst.invoke(args)?))
        })?;
        samples.push(("hot_us", hot));
        samples.push(("reset_us", resets));

        // hot, creating the clone's VM per request
        let new_vm = sample(runs, &bar, || {
            timed("hot (new VM)", || Ok(Instance::from_snapshot(&env.kvm, &snap, &cfg)?.invoke(args)?))
        })?;
        samples.push(("hot_new_vm_us", new_vm));

        // reuse: same instance, no reset
        let reuse = sample(runs, &bar, || timed("reuse", || Ok(inst.invoke(args)?)))?;
        samples.push(("reuse_us", reuse));

        // Node.js as a process per request
        let harness = env.node_script("harness.mjs");
        let node = sample(runs, &bar, || time_process(Command::new("node").arg(&harness).arg(&src_path).arg(args)))?;
        samples.push(("node_process_us", node));

        // Node.js warm: one long-lived process, one request per line
        let mut child = Command::new("node")
            .arg(env.node_script("warm.mjs"))
            .arg(&src_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting node warm.mjs")?;
        let mut stdin = child.stdin.take().expect("piped");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut v = Vec::new();
        for i in 0..=runs {
            let t = Instant::now();
            writeln!(stdin, "{args}")?;
            lines.next().context("node warm.mjs ended")??;
            if i > 0 {
                v.push(t.elapsed()); // the first request pays the import: not a warm start
                bar.inc(1);
            }
        }
        drop(stdin);
        let _ = child.wait();
        samples.push(("node_warm_us", v));

        // stock uhyve cold boot of the same image
        let uhyve = sample(runs, &bar, || time_process(Command::new(uhyve_bin()).arg(&image_path).arg("--").arg(args)))?;
        samples.push(("uhyve_cold_us", uhyve));

        // Boa as a Linux process (js-launcher built for the host)
        let boa = match env.host_launcher() {
            Some(launcher) => sample(runs, &bar, || time_process(Command::new(&launcher).arg(&src_path).arg(args)))?,
            None => {
                bar.inc(runs as u64);
                Vec::new()
            }
        };
        samples.push(("boa_process_us", boa));

        let mut obj = serde_json::Map::new();
        for (k, v) in &samples {
            obj.insert((*k).to_owned(), summary(v));
        }
        let m = |k: &str| median(&obj[k]);
        obj.insert(
            "ratios".into(),
            json!({
                "hot_over_reuse": ratio(m("hot_us"), m("reuse_us")),
                "node_process_over_hot": ratio(m("node_process_us"), m("hot_us")),
                "cold_over_hot": ratio(m("cold_us"), m("hot_us")),
                "uhyve_cold_over_hot": ratio(m("uhyve_cold_us"), m("hot_us")),
                "warm_over_hot": ratio(m("warm_us"), m("hot_us")),
                "hot_new_vm_over_hot": ratio(m("hot_new_vm_us"), m("hot_us")),
            }),
        );
        obj.insert("function_snapshot_stored_bytes".into(), json!(snap.stored_bytes()));
        per_function.insert(f.clone(), Value::Object(obj));
    }
    bar.finish_and_clear();
    Ok(json!({
        "runtime_snapshot_stored_bytes": runtime.stored_bytes(),
        "functions": per_function,
    }))
}

/// Stock uhyve from the project's set-up.
pub fn uhyve_bin() -> std::path::PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"));
    home.join("bin/uhyve")
}

/// Row labels of the table, in order (JSON key, label).
const ROWS: [(&str, &str); 10] = [
    ("hot_us", "hot"),
    ("reset_us", "reset (after a reply)"),
    ("hot_new_vm_us", "hot (new VM)"),
    ("reuse_us", "reuse (no isolation)"),
    ("warm_us", "warm"),
    ("cold_us", "cold (seuss run)"),
    ("uhyve_cold_us", "stock uhyve cold (process)"),
    ("boa_process_us", "Boa as a Linux process"),
    ("node_warm_us", "Node.js warm process"),
    ("node_process_us", "Node.js process per request"),
];

/// The human table.
pub fn table(results: &Value) -> String {
    let mut out = String::new();
    for (f, r) in results["functions"].as_object().into_iter().flatten() {
        let mut header = vec!["start"];
        let h = summary_header("µs");
        header.extend(h.iter().map(String::as_str));
        let mut t = Table::new(format!("startup: {f}.js (function snapshot {} bytes stored)", int(r["function_snapshot_stored_bytes"].as_f64())), &header);
        for (key, label) in ROWS {
            let mut row = vec![label.to_owned()];
            row.extend(summary_cells(&r[key], 1.0));
            t.row(row);
        }
        let ra = &r["ratios"];
        t.note(format!(
            "p50 ratios: hot / reuse = {}, node process / hot = {}, cold / hot = {}, stock uhyve cold / hot = {}, warm / hot = {}",
            times(&ra["hot_over_reuse"]),
            times(&ra["node_process_over_hot"]),
            times(&ra["cold_over_hot"]),
            times(&ra["uhyve_cold_over_hot"]),
            times(&ra["warm_over_hot"])
        ));
        if r["boa_process_us"]["n"] == 0 {
            t.note("Boa as a Linux process: not measured (target/release/js-launcher is missing: `cargo xtask bench` builds it)");
        }
        out += &t.render();
        out.push('\n');
    }
    out
}
