//! `seuss bench throughput`: C concurrent clients send NOP invocations for a fixed time.
//!
//! Requests go into one queue served by one worker thread per core:
//! * hot: each worker owns a clone of nop.js's function snapshot; it answers, then resets the
//!   clone (after replying: a ready shell for the next request);
//! * new_function: every request is a function never seen before (a distinct nop variant):
//!   the warm path including the function snapshot capture, then the invocation on a clone;
//! * node_process: every request runs `node harness.mjs nop.js` as a new process.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use seuss_hv::{Config, Event, Instance, Loaded};
use serde_json::{json, Value};

use super::common::{dist, progress, snapshot_image, time_process, Env};

type Job = (Instant, Sender<Duration>);

#[derive(Clone, Copy)]
enum Mode {
    Hot,
    NewFunction,
    NodeProcess,
}

fn serve(env: &Env, mode: Mode, rx: Arc<Mutex<Receiver<Job>>>, worker: usize, snaps: &(Arc<Loaded>, Arc<Loaded>)) -> Result<()> {
    let cfg = Config::default();
    let (runtime, nop) = snaps;
    let mut hot = match mode {
        Mode::Hot => Some(Instance::from_snapshot(&env.kvm, nop, &cfg)?),
        _ => None,
    };
    let mut n = 0u64;
    loop {
        let job = rx.lock().expect("queue lock").recv();
        let Ok((arrived, reply)) = job else { return Ok(()) };
        match mode {
            Mode::Hot => {
                let inst = hot.as_mut().expect("hot instance");
                let o = inst.invoke("{}")?;
                if o.is_error {
                    bail!("hot invocation failed: {:?}", o.result);
                }
                let _ = reply.send(arrived.elapsed());
                inst.reset()?;
            }
            Mode::NewFunction => {
                n += 1;
                let src = format!("// new function {worker}-{n}\nfunction main() {{ return {{ w: {worker}, n: {n} }}; }}\n");
                let path = env.work.join(format!("new-{worker}-{n}.snap"));
                let snap = seuss_hv::warm_snapshot(&env.kvm, runtime, &src, &cfg, &path)?;
                let mut inst = Instance::from_snapshot(&env.kvm, &snap, &cfg)?;
                let o = inst.invoke("{}")?;
                if o.is_error {
                    bail!("new-function invocation failed: {:?}", o.result);
                }
                let _ = reply.send(arrived.elapsed());
                let _ = std::fs::remove_file(&path);
            }
            Mode::NodeProcess => {
                time_process(
                    std::process::Command::new("node").arg(env.node_script("harness.mjs")).arg(env.example("nop")).arg("{}"),
                )?;
                let _ = reply.send(arrived.elapsed());
            }
        }
    }
}

fn measure(env: &Env, mode: Mode, clients: usize, duration: Duration, snaps: &(Arc<Loaded>, Arc<Loaded>)) -> Result<Value> {
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let (tx, rx) = channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let latencies = std::thread::scope(|s| -> Result<Vec<Duration>> {
        let mut servers = Vec::new();
        for w in 0..workers {
            let rx = rx.clone();
            servers.push(s.spawn(move || serve(env, mode, rx, w, snaps)));
        }
        let mut client_threads = Vec::new();
        for _ in 0..clients {
            let tx = tx.clone();
            client_threads.push(s.spawn(move || {
                let mut lat = Vec::new();
                while Instant::now() < deadline {
                    let (rtx, rrx) = channel();
                    if tx.send((Instant::now(), rtx)).is_err() {
                        break;
                    }
                    match rrx.recv() {
                        Ok(d) => lat.push(d),
                        Err(_) => break,
                    }
                }
                lat
            }));
        }
        drop(tx);
        let mut all = Vec::new();
        for c in client_threads {
            all.extend(c.join().expect("client thread"));
        }
        for w in servers {
            w.join().expect("worker thread")?;
        }
        Ok(all)
    })?;
    let elapsed = started.elapsed();
    Ok(json!({
        "requests": latencies.len(),
        "seconds": elapsed.as_secs_f64(),
        "rps": latencies.len() as f64 / elapsed.as_secs_f64(),
        "latency_us": dist(&latencies),
    }))
}

/// Runs the three modes.
pub fn run(env: &Env, clients: usize, duration: Duration) -> Result<Value> {
    let snaps = (
        snapshot_image(env, "runtime", Event::WantsSource, "tp-runtime")?,
        snapshot_image(env, "nop", Event::WantsInvocation, "tp-nop")?,
    );
    let bar = progress(3, "throughput");
    bar.set_message("throughput: hot");
    let hot = measure(env, Mode::Hot, clients, duration, &snaps)?;
    bar.inc(1);
    bar.set_message("throughput: new function");
    let new_function = measure(env, Mode::NewFunction, clients, duration, &snaps)?;
    bar.inc(1);
    bar.set_message("throughput: node process");
    let node = measure(env, Mode::NodeProcess, clients, duration, &snaps)?;
    bar.finish_and_clear();
    let rps = |v: &Value| v["rps"].as_f64().unwrap_or(0.0);
    Ok(json!({
        "clients": clients,
        "seconds_per_mode": duration.as_secs_f64(),
        "workers": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        "hot_rps": rps(&hot),
        "new_function_rps": rps(&new_function),
        "node_process_rps": rps(&node),
        "hot": hot,
        "new_function": new_function,
        "node_process": node,
        "ratios": {
            "hot_over_node_process": rps(&hot) / rps(&node).max(1e-9),
            "new_function_over_node_process": rps(&new_function) / rps(&node).max(1e-9),
        },
    }))
}

/// The human table.
pub fn table(r: &Value) -> String {
    let row = |name: &str, v: &Value| {
        format!(
            "  {:<14} {:>10.1} req/s   p50 {:>8} µs  p99 {:>8} µs  ({} requests)\n",
            name,
            v["rps"].as_f64().unwrap_or(0.0),
            v["latency_us"]["p50"],
            v["latency_us"]["p99"],
            v["requests"]
        )
    };
    format!(
        "throughput: {} clients, {} workers, {} s per mode\n{}{}{}  hot / node process = {:.1}x, new function / node process = {:.1}x\n",
        r["clients"],
        r["workers"],
        r["seconds_per_mode"],
        row("hot", &r["hot"]),
        row("new function", &r["new_function"]),
        row("node process", &r["node_process"]),
        r["ratios"]["hot_over_node_process"].as_f64().unwrap_or(0.0),
        r["ratios"]["new_function_over_node_process"].as_f64().unwrap_or(0.0)
    )
}
