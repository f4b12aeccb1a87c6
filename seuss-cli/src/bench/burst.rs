//! `seuss bench burst`: periodic bursts of concurrent requests, as in the SEUSS paper's burst
//! figure, against a Node.js process per request in the same run.
//!
//! Series (function × system), each run on its own, one after the other:
//!
//! | function | work | request |
//! |---|---|---|
//! | fib | CPU-bound (`examples/fib.js`, n = 28: ~140 ms in Boa) | `{"n": 28}` |
//! | fetch | I/O-bound (`examples/fetch.js` GETs a [`LocalServer`] on 127.0.0.1 that answers after 250 ms) | `{"url": ...}` |
//!
//! | system | one request |
//! |---|---|
//! | seuss | a new clone of the function snapshot on its own thread (`Instance::from_snapshot` + `invoke`): isolation per request |
//! | serve | a blocking invoke through HTTP of a `seuss serve` node on 127.0.0.1 (one worker per request of a burst, so waiting functions do not queue) |
//! | node | `node seuss-cli/node/harness.mjs FILE ARGS` as a new process (the paper's baseline) |
//!
//! For each series and period, `bursts` bursts of `size` simultaneous requests arrive
//! `period` seconds apart. Every request's arrival and latency are recorded. For fib, each
//! burst's completion time (arrival of the burst to its last reply) is set against the ideal
//! `size × (one request alone, p50) / cores`: the work spread perfectly over the cores.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use seuss_hv::{Config, Event, Instance};
use serde_json::{json, Value};

use super::common::{cores, median, progress, ratio, snapshot_image, summary, Env};
use super::local_server::LocalServer;
use super::network::{check_fetch, net_config};
use super::serve::Node;
use super::table::{fixed, times, Table};

/// Burst parameters.
pub struct Params {
    /// Requests per burst.
    pub size: usize,
    /// Bursts per (series, period).
    pub bursts: usize,
    /// Periods in seconds.
    pub periods: Vec<f64>,
    /// fib's argument.
    pub fib_n: u32,
    /// How long the local server takes to answer the I/O-bound function.
    pub io_delay_ms: u64,
    /// Requests of each series run alone first (the CPU work of one request).
    pub solo_runs: usize,
}

/// One request's record.
struct Sample {
    function: &'static str,
    system: &'static str,
    period: f64,
    burst: usize,
    arrival_s: f64,
    latency: Duration,
    ok: bool,
}

/// One request of a series: `Ok(true)` when it succeeded.
type Request<'a> = dyn Fn() -> Result<bool> + Sync + 'a;

/// Runs `bursts` bursts of `size` concurrent `request`s, `period` seconds apart.
fn bursts(p: &Params, period: f64, function: &'static str, system: &'static str, request: &Request, bar: &indicatif::ProgressBar) -> Vec<Sample> {
    let start = Instant::now();
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for b in 0..p.bursts {
            let at = start + Duration::from_secs_f64(period * b as f64);
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            for _ in 0..p.size {
                handles.push(s.spawn(move || {
                    let arrived = Instant::now();
                    let ok = request().unwrap_or(false);
                    let latency = arrived.elapsed();
                    bar.inc(1);
                    Sample { function, system, period, burst: b, arrival_s: arrived.duration_since(start).as_secs_f64(), latency, ok }
                }));
            }
        }
        handles.into_iter().map(|h| h.join().expect("request thread")).collect()
    })
}

/// Runs `node harness.mjs FILE ARGS` and checks its last stdout line with `check`.
fn node_request(env: &Env, file: &std::path::Path, args: &str, check: fn(&str) -> bool) -> Result<bool> {
    let out = Command::new("node")
        .arg(env.node_script("harness.mjs"))
        .arg(file)
        .arg(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .context("running node (Node.js is needed for the baseline)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(out.status.success() && text.lines().last().is_some_and(check))
}

/// Runs the experiment.
pub fn run(env: &Env, p: &Params) -> Result<Value> {
    let server = LocalServer::start(Duration::from_millis(p.io_delay_ms))?;
    let net = net_config(server.port())?;
    let fib_args = format!(r#"{{"n":{}}}"#, p.fib_n);
    let guest_fetch = json!({"url": format!("http://host.seuss.internal:{}/slow", server.port())}).to_string();
    let host_fetch = json!({"url": format!("http://127.0.0.1:{}/slow", server.port())}).to_string();
    let fib_snap = snapshot_image(env, "fib", Event::WantsInvocation, "burst-fib")?;
    let fetch_snap = snapshot_image(env, "fetch", Event::WantsInvocation, "burst-fetch")?;
    let (fib_file, fetch_file) = (env.example("fib"), env.example("fetch"));
    let fib_ok: fn(&str) -> bool = |line| line.contains(r#""fib":"#);
    let fetch_ok: fn(&str) -> bool = |line| line.contains(r#""status":200"#);
    let plain = Config::default();

    let seuss_fib = || -> Result<bool> {
        let o = Instance::from_snapshot(&env.kvm, &fib_snap, &plain)?.invoke(&fib_args)?;
        Ok(!o.is_error && o.result.as_deref().is_some_and(fib_ok))
    };
    let seuss_fetch = || -> Result<bool> {
        let o = Instance::from_snapshot(&env.kvm, &fetch_snap, &net)?.invoke(&guest_fetch)?;
        Ok(check_fetch(&o).is_ok())
    };
    let node_fib = || node_request(env, &fib_file, &fib_args, fib_ok);
    let node_fetch = || node_request(env, &fetch_file, &host_fetch, fetch_ok);
    // The node: as many workers as a burst has requests (a function waiting on the network
    // holds its worker), egress to the local server only.
    let allow = format!("host.seuss.internal:{}", server.port());
    let workers = p.size.max(cores());
    let http = Node::start(env, workers, &env.work.join("burst-serve"), &["--allow-net", &allow])?;
    let source = |f: &std::path::Path| std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()));
    http.create("fib", &source(&fib_file)?)?;
    http.create("fetch", &source(&fetch_file)?)?;
    let serve_fib = || -> Result<bool> { Ok(fib_ok(&http.invoke_with("fib", &fib_args)?)) };
    let serve_fetch = || -> Result<bool> { Ok(fetch_ok(&http.invoke_with("fetch", &guest_fetch)?)) };
    let series: [(&'static str, &'static str, &Request); 6] = [
        ("fib", "seuss", &seuss_fib),
        ("fib", "serve", &serve_fib),
        ("fib", "node", &node_fib),
        ("fetch", "seuss", &seuss_fetch),
        ("fetch", "serve", &serve_fetch),
        ("fetch", "node", &node_fetch),
    ];

    let total = (series.len() * (p.periods.len() * p.bursts * p.size + p.solo_runs)) as u64;
    let bar = progress(total, "burst");
    let mut solo = serde_json::Map::new();
    let mut samples = Vec::new();
    for (function, system, request) in series {
        bar.set_message(format!("burst {function} {system}: alone"));
        let mut alone = Vec::new();
        for _ in 0..p.solo_runs {
            let t = Instant::now();
            if !request()? {
                bail!("{function} on {system} failed when run alone");
            }
            alone.push(t.elapsed());
            bar.inc(1);
        }
        solo.insert(format!("{function}_{system}_us"), summary(&alone));
        for &period in &p.periods {
            bar.set_message(format!("burst {function} {system} every {period} s"));
            samples.extend(bursts(p, period, function, system, request, &bar));
        }
    }
    bar.finish_and_clear();

    let cores = cores();
    let mut rows = Vec::new();
    for (function, system, _) in series {
        for &period in &p.periods {
            let mine: Vec<&Sample> = samples.iter().filter(|s| s.function == function && s.system == system && s.period == period).collect();
            let lat: Vec<Duration> = mine.iter().map(|s| s.latency).collect();
            let failed = mine.iter().filter(|s| !s.ok).count();
            let latency = summary(&lat);
            let mut row = json!({
                "function": function,
                "system": system,
                "period_s": period,
                "failed": failed,
                "latency_us": latency,
            });
            if function == "fib" {
                // Each burst: from its arrival to its last reply.
                let completion: Vec<f64> = (0..p.bursts)
                    .map(|b| {
                        let at = period * b as f64;
                        mine.iter().filter(|s| s.burst == b).map(|s| s.arrival_s + s.latency.as_secs_f64() - at).fold(0.0, f64::max)
                    })
                    .collect();
                let ideal = median(&solo[&format!("fib_{system}_us")]).map(|us| p.size as f64 * us / 1e6 / cores as f64);
                let worst = completion.iter().copied().fold(0.0, f64::max);
                row["completion_s"] = json!(completion);
                row["ideal_s"] = json!(ideal);
                row["completion_over_ideal"] = ratio(Some(worst), ideal);
            } else {
                row["p99_over_delay"] = ratio(latency["p99"].as_f64(), Some(p.io_delay_ms as f64 * 1e3));
                row["p50_over_delay"] = ratio(median(&latency), Some(p.io_delay_ms as f64 * 1e3));
            }
            rows.push(row);
        }
    }
    let failed = samples.iter().filter(|s| !s.ok).count();
    let records: Vec<Value> = samples
        .iter()
        .map(|s| {
            json!({"function": s.function, "system": s.system, "period_s": s.period, "burst": s.burst,
                   "arrival_s": (s.arrival_s * 1e6).round() / 1e6, "latency_us": s.latency.as_micros() as u64, "ok": s.ok})
        })
        .collect();
    Ok(json!({
        "burst_size": p.size,
        "bursts": p.bursts,
        "periods_s": p.periods,
        "fib_n": p.fib_n,
        "io_delay_ms": p.io_delay_ms,
        "cores": cores,
        "failed_requests": failed,
        "solo_us": solo,
        "series": rows,
        "requests": records,
    }))
}

/// What a series' system is, in words.
pub fn system_label(system: &Value) -> &'static str {
    match system.as_str() {
        Some("seuss") => "seuss, a clone per request",
        Some("serve") => "seuss serve, HTTP blocking invoke",
        _ => "Node.js, a process per request",
    }
}

/// The human table.
pub fn table(r: &Value) -> String {
    let mut t = Table::new(
        format!(
            "burst: {} concurrent requests per burst, {} bursts per period; fib n={} (CPU-bound), fetch from a server answering after {} ms (I/O-bound); {} failed",
            r["burst_size"], r["bursts"], r["fib_n"], r["io_delay_ms"], r["failed_requests"]
        ),
        &["function", "system", "every (s)", "n", "p50 (ms)", "p99 (ms)", "burst done (s)", "ideal (s)", "done / ideal", "p99 / delay"],
    );
    let ms = |v: &Value| v.as_f64().map(|us| us / 1e3);
    for s in r["series"].as_array().into_iter().flatten() {
        let done = s["completion_s"].as_array().map(|c| c.iter().filter_map(Value::as_f64).fold(0.0, f64::max));
        t.row(vec![
            s["function"].as_str().unwrap_or("?").to_owned(),
            system_label(&s["system"]).to_owned(),
            fixed(s["period_s"].as_f64(), 0),
            s["latency_us"]["n"].to_string(),
            fixed(ms(&s["latency_us"]["median"]), 1),
            fixed(ms(&s["latency_us"]["p99"]), 1),
            fixed(done, 2),
            fixed(s["ideal_s"].as_f64(), 2),
            times(&s["completion_over_ideal"]),
            times(&s["p99_over_delay"]),
        ]);
    }
    t.note("done / ideal: the slowest burst's completion against size x (one request alone, p50) / cores (target <= 1.15x)");
    t.note("p99 / delay: p99 latency of the I/O-bound function against the server's delay (target <= 2x)");
    t.render()
}
