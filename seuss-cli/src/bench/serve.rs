//! `seuss bench serve`: the node through HTTP (a real `seuss serve` child process on
//! 127.0.0.1, loaded by `wrk`), with its baselines in the same run.
//!
//! | figure | how |
//! |---|---|
//! | hot invocations/s and p50, per `--workers` and connection count | `wrk` on one action, blocking invokes with `result=true` |
//! | library hot start p50 | `reset` + `invoke` of the same function in this process (the p50 target's reference) |
//! | new action | sequential create (PUT) + first invoke of never-seen actions |
//! | cache experiment | sequential invokes cycling over x distinct actions: mean latency per x |
//! | restart | the first node stopped (SIGTERM) with `restart_actions` stored actions and started again: time from spawn to the first answered invoke of a stored action |
//! | Node.js process per request | `node harness.mjs` per request, one loop per core |
//! | warm Node.js `/run` server | `wrk` on `node run_server.mjs` (OpenWhisk's warm container: no isolation) |
//!
//! Bursts through HTTP are a series of `seuss bench burst` (system `serve`, using [`Node`]).
//! Not here yet: a reuse-mode node (no isolation, same engine).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::{json, Value};

use super::common::{cores, median, ratio, snapshot_image, summary, Env};
use super::table::{fixed, int, summary_cells, summary_header, times, Table};

/// What to measure.
pub struct Params {
    /// `--workers` values.
    pub workers: Vec<usize>,
    /// Connection counts for the hot mode.
    pub connections: Vec<usize>,
    /// Seconds per `wrk` run.
    pub secs: u64,
    /// Distinct actions of the cache experiment.
    pub cache_sizes: Vec<usize>,
    /// Never-seen actions created and invoked.
    pub new_actions: usize,
    /// Library hot starts sampled.
    pub library_runs: usize,
    /// Actions stored before the restart measurement (the first node is filled up to this).
    pub restart_actions: usize,
    /// Restarts timed.
    pub restarts: usize,
}

const HELLO: &str = "function main(p) { return {greeting: 'Hello, ' + (p.name || 'stranger') + '!'}; }";

/// A `seuss serve` child (also driven by `seuss bench burst`).
pub(super) struct Node {
    child: Child,
    addr: String,
    auth: String,
}

impl Node {
    /// Starts a node with `workers` and its state in `state`; `extra` are more `seuss serve` flags.
    pub(super) fn start(env: &Env, workers: usize, state: &Path, extra: &[&str]) -> Result<Node> {
        let exe = std::env::current_exe().context("locating the seuss binary")?;
        let mut child = Command::new(exe)
            .args(["serve", "--listen", "127.0.0.1:0", "--max-queue", "4096", "--workers", &workers.to_string(), "--state-dir"])
            .arg(state)
            .args(extra)
            .arg("--runtime-image")
            .arg(env.image("runtime"))
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting seuss serve")?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let (mut addr, mut key) = (String::new(), String::new());
        while key.is_empty() {
            let Some(line) = lines.next().transpose()? else { bail!("seuss serve exited before it listened") };
            if let Some(rest) = line.split("listening on http://").nth(1) {
                addr = rest.split_whitespace().next().unwrap_or_default().to_owned();
            }
            if let Some(rest) = line.strip_prefix("seuss serve: auth ") {
                key = rest.split_whitespace().next().unwrap_or_default().to_owned();
            }
        }
        // Keep reading stdout so the node never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let auth = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(&key));
        Ok(Node { child, addr, auth })
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/api/v1/namespaces/_{path}", self.addr)
    }

    fn request(&self, method: &str, path: &str, body: &str) -> Result<(u16, String)> {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let req = ureq::http::Request::builder()
            .method(method)
            .uri(self.url(path))
            .header("Authorization", &self.auth)
            .header("Content-Type", "application/json")
            .body(body.as_bytes().to_vec())?;
        let mut r = agent.run(req)?;
        let status = r.status().as_u16();
        Ok((status, r.body_mut().read_to_string()?))
    }

    /// Creates (or replaces) action `name` with `code`.
    pub(super) fn create(&self, name: &str, code: &str) -> Result<()> {
        let body = json!({"exec": {"kind": "nodejs:20", "code": code}}).to_string();
        let (status, text) = self.request("PUT", &format!("/actions/{name}?overwrite=true"), &body)?;
        if status != 200 {
            bail!("creating {name}: HTTP {status}: {text}");
        }
        Ok(())
    }

    fn invoke(&self, name: &str) -> Result<()> {
        self.invoke_with(name, r#"{"name":"Ada"}"#).map(drop)
    }

    /// A blocking invoke of `name` with `args`; the result's text.
    pub(super) fn invoke_with(&self, name: &str, args: &str) -> Result<String> {
        let (status, text) = self.request("POST", &format!("/actions/{name}?blocking=true&result=true"), args)?;
        if status != 200 {
            bail!("invoking {name}: HTTP {status}: {text}");
        }
        Ok(text)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// `wrk` against `url` (POST `body` with `headers` when given); requests/s and latency p50 (µs).
fn wrk(env: &Env, url: &str, connections: usize, secs: u64, body: &str, auth: Option<&str>) -> Result<Value> {
    let script = env.work.join(format!("post-{}.lua", connections));
    let auth_line = auth.map(|a| format!("wrk.headers[\"Authorization\"] = \"{a}\"\n")).unwrap_or_default();
    std::fs::write(
        &script,
        format!("wrk.method = \"POST\"\nwrk.body = '{body}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n{auth_line}"),
    )?;
    let threads = connections.clamp(1, 2);
    let out = Command::new("wrk")
        .args(["-t", &threads.to_string(), "-c", &connections.to_string(), "-d", &format!("{secs}s"), "--latency", "-s"])
        .arg(&script)
        .arg(url)
        .output()
        .context("running wrk (Debian package `wrk`; `cargo xtask setup` installs it)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let rps = text.lines().find_map(|l| l.strip_prefix("Requests/sec:")).and_then(|v| v.trim().parse::<f64>().ok());
    let p50 = text.lines().find_map(|l| l.trim().strip_prefix("50%")).map(|v| wrk_us(v.trim()));
    // "  12345 requests in 10.00s, 2.1MB read"
    let requests = text.lines().find_map(|l| l.trim().split_once(" requests in ")).and_then(|(n, _)| n.trim().parse::<u64>().ok());
    let non_2xx = text.lines().find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:")).and_then(|v| v.trim().parse::<u64>().ok());
    match (rps, p50) {
        (Some(rps), Some(p50)) => {
            Ok(json!({"rps": rps, "p50_us": p50, "requests": requests, "non_2xx": non_2xx.unwrap_or(0), "connections": connections}))
        }
        _ => bail!("cannot read wrk's output: {text}"),
    }
}

/// wrk's latency text (`6.29ms`, `812.00us`, `1.02s`) in µs.
fn wrk_us(v: &str) -> f64 {
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse().unwrap_or(0.0);
    match unit {
        "us" => n,
        "ms" => n * 1e3,
        "s" => n * 1e6,
        "m" => n * 6e7,
        _ => n,
    }
}

fn library_hot(env: &Env, runs: usize) -> Result<Value> {
    let snap = snapshot_image(env, "hello", seuss_hv::Event::WantsInvocation, "serve-hello")?;
    let mut inst = seuss_hv::Instance::from_snapshot(&env.kvm, &snap, &seuss_hv::Config::default())?;
    let mut samples = Vec::with_capacity(runs);
    for i in 0..runs + 1 {
        if i > 0 {
            inst.reset()?;
        }
        let t = Instant::now();
        inst.invoke(r#"{"name":"Ada"}"#)?;
        if i > 0 {
            samples.push(t.elapsed());
        }
    }
    Ok(summary(&samples))
}

fn node_process_rps(env: &Env, secs: u64) -> Result<f64> {
    let cores = cores();
    let until = Instant::now() + Duration::from_secs(secs);
    let (harness, file) = (env.node_script("harness.mjs"), env.example("hello"));
    let t0 = Instant::now();
    let counts: Vec<Result<u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cores)
            .map(|_| {
                s.spawn(|| -> Result<u64> {
                    let mut n = 0;
                    while Instant::now() < until {
                        super::common::time_process(Command::new("node").arg(&harness).arg(&file).arg(r#"{"name":"Ada"}"#))?;
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("baseline thread")).collect()
    });
    let total: u64 = counts.into_iter().sum::<Result<u64>>()?;
    Ok(total as f64 / t0.elapsed().as_secs_f64())
}

fn node_warm_run(env: &Env, secs: u64) -> Result<Value> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut child = Command::new("node")
        .arg(env.node_script("run_server.mjs"))
        .arg(env.example("hello"))
        .arg(port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting node run_server.mjs")?;
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut first = String::new();
    out.read_line(&mut first)?;
    // The function's console lines follow: keep reading so the server never blocks on them.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let r = wrk(env, &format!("http://127.0.0.1:{port}/run"), 64, secs, r#"{"value":{"name":"Ada"}}"#, None);
    let _ = child.kill();
    let _ = child.wait();
    r
}

/// Runs the experiment.
pub fn run(env: &Env, p: &Params) -> Result<Value> {
    if Command::new("wrk").arg("-v").output().is_err() {
        bail!("wrk is missing: install the Debian package `wrk` (`cargo xtask setup` does)");
    }
    let mut hot = Vec::new();
    let mut extra = json!({});
    for &w in &p.workers {
        let node = Node::start(env, w, &env.work.join(format!("serve-w{w}")), &[])?;
        node.create("hello", HELLO)?;
        node.invoke("hello")?;
        let url = node.url("/actions/hello?blocking=true&result=true");
        for &c in &p.connections {
            let mut r = wrk(env, &url, c, p.secs, r#"{"name":"Ada"}"#, Some(&node.auth))?;
            r["workers"] = json!(w);
            hot.push(r);
        }
        if w == p.workers[0] {
            // New actions and the cache experiment on the first node.
            let mut pairs = Vec::new();
            let t0 = Instant::now();
            for i in 0..p.new_actions {
                let t = Instant::now();
                node.create(&format!("new{i}"), &format!("{HELLO} // {i}"))?;
                node.invoke(&format!("new{i}"))?;
                pairs.push(t.elapsed());
            }
            extra["new_action"] = json!({"latency_us": summary(&pairs), "per_s": p.new_actions as f64 / t0.elapsed().as_secs_f64()});
            let mut cache = Vec::new();
            for &x in &p.cache_sizes {
                for j in 0..x {
                    node.create(&format!("c{x}-{j}"), &format!("{HELLO} // cache {x} {j}"))?;
                }
                let rounds = (256 / x).clamp(2, 32);
                let mut samples = Vec::new();
                for round in 0..rounds + 1 {
                    for j in 0..x {
                        let t = Instant::now();
                        node.invoke(&format!("c{x}-{j}"))?;
                        if round > 0 {
                            samples.push(t.elapsed());
                        }
                    }
                }
                let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len().max(1) as f64;
                cache.push(json!({"actions": x, "mean_us": (mean * 1e7).round() / 10.0, "latency_us": summary(&samples)}));
            }
            extra["cache"] = json!(cache);
            let stored = p.new_actions + p.cache_sizes.iter().sum::<usize>() + 1;
            extra["restart"] = restart(env, node, w, &env.work.join(format!("serve-w{w}")), stored, p)?;
        }
    }
    let library = library_hot(env, p.library_runs)?;
    let node_rps = node_process_rps(env, p.secs.max(1))?;
    let warm = node_warm_run(env, p.secs)?;
    let find = |w: usize, c: usize| hot.iter().find(|h| h["workers"] == json!(w) && h["connections"] == json!(c)).cloned();
    let (w0, wl) = (p.workers[0], *p.workers.last().unwrap_or(&p.workers[0]));
    let (c0, cl) = (p.connections[0], *p.connections.last().unwrap_or(&p.connections[0]));
    let rps = |v: Option<Value>| v.and_then(|v| v["rps"].as_f64());
    let best = rps(find(wl, cl));
    let low_p50 = find(w0, c0).and_then(|v| v["p50_us"].as_f64());
    Ok(json!({
        "hot": hot,
        "library_hot_us": library,
        "new_action": extra["new_action"],
        "cache": extra["cache"],
        "restart": extra["restart"],
        "node_process_rps": node_rps,
        "node_warm_run": warm,
        "ratios": {
            "hot_over_node_process": ratio(best, Some(node_rps)),
            "low_load_p50_over_library_hot": ratio(low_p50, median(&library)),
            // Only where the run compared two worker counts / connection counts.
            "last_workers_over_first": if wl != w0 { ratio(best, rps(find(w0, cl))) } else { Value::Null },
            "most_connections_over_one": if cl != c0 { ratio(best, rps(find(wl, c0))) } else { Value::Null },
            "new_action_over_node_process": ratio(extra["new_action"]["per_s"].as_f64(), Some(node_rps)),
            "node_warm_run_over_hot": ratio(warm["rps"].as_f64(), best),
        },
    }))
}

/// Fills `node` (holding `stored` actions, state in `state`) up to `p.restart_actions`, stops
/// it, and times `p.restarts` restarts: spawn to the first answered invoke of a stored action
/// that the new process has not loaded yet (a different one each time).
fn restart(env: &Env, node: Node, workers: usize, state: &Path, stored: usize, p: &Params) -> Result<Value> {
    let more = p.restart_actions.saturating_sub(stored);
    for i in 0..more {
        node.create(&format!("r{i}"), &format!("{HELLO} // restart {i}"))?;
    }
    let total = stored + more;
    drop(node);
    let mut samples = Vec::new();
    for k in 0..p.restarts {
        let t = Instant::now();
        let node = Node::start(env, workers, state, &[])?;
        let name = if more > 0 { format!("r{}", more - 1 - k % more) } else { "hello".to_owned() };
        node.invoke(&name)?;
        samples.push(t.elapsed());
    }
    Ok(json!({"stored_actions": total, "to_first_invoke_us": summary(&samples)}))
}

/// The human tables.
pub fn table(r: &Value) -> String {
    let mut t = Table::new("serve: seuss serve through HTTP (wrk; hot: one action, blocking invokes)", &["--workers", "connections", "requests", "invocations/s", "p50 (ms)", "non-2xx"]);
    for h in r["hot"].as_array().into_iter().flatten() {
        t.row(vec![
            h["workers"].to_string(),
            h["connections"].to_string(),
            int(h["requests"].as_f64()),
            int(h["rps"].as_f64()),
            fixed(h["p50_us"].as_f64().map(|us| us / 1e3), 2),
            h["non_2xx"].to_string(),
        ]);
    }
    let mut b = Table::new("serve: baselines and other modes (same run)", &["figure", "value"]);
    b.row(vec!["library hot start (reset + invoke), p50 (ms)".into(), fixed(median(&r["library_hot_us"]).map(|us| us / 1e3), 2)]);
    b.row(vec!["new action: create + first invoke (per s)".into(), fixed(r["new_action"]["per_s"].as_f64(), 1)]);
    b.row(vec![
        format!("restart with {} stored actions: spawn to first invoke, p50 (ms)", r["restart"]["stored_actions"]),
        fixed(median(&r["restart"]["to_first_invoke_us"]).map(|us| us / 1e3), 1),
    ]);
    b.row(vec!["Node.js process per request (per s)".into(), fixed(r["node_process_rps"].as_f64(), 1)]);
    b.row(vec![
        format!("warm Node.js /run server, no isolation (per s; {} requests)", int(r["node_warm_run"]["requests"].as_f64())),
        int(r["node_warm_run"]["rps"].as_f64()),
    ]);
    let ra = &r["ratios"];
    b.note(format!(
        "hot / Node.js process = {}, low-load p50 / library hot = {} (target <= 1.5x), last / first workers = {} (target >= 1.8x), most / one connection = {}, new action / Node.js process = {} (target >= 20x)",
        times(&ra["hot_over_node_process"]),
        times(&ra["low_load_p50_over_library_hot"]),
        times(&ra["last_workers_over_first"]),
        times(&ra["most_connections_over_one"]),
        times(&ra["new_action_over_node_process"])
    ));
    let mut header = vec!["cache cycle over x actions"];
    let h = summary_header("ms");
    header.extend(h.iter().map(String::as_str));
    header.push("mean (ms)");
    let mut c = Table::new("serve: cache experiment (sequential invokes cycling over x distinct actions)", &header);
    for x in r["cache"].as_array().into_iter().flatten() {
        let mut row = vec![x["actions"].to_string()];
        row.extend(summary_cells(&x["latency_us"], 1000.0));
        row.push(fixed(x["mean_us"].as_f64().map(|us| us / 1e3), 2));
        c.row(row);
    }
    t.render() + "\n" + &b.render() + "\n" + &c.render()
}
