//! `seuss bench throughput`: C concurrent clients send NOP invocations for a fixed time.
//!
//! Requests go into one queue served by one worker thread per core:
//! * hot: each worker owns a clone of nop.js's function snapshot; it answers, then resets the
//!   clone (after replying: a ready shell for the next request);
//! * reuse: the same without the reset (every request runs in the same used instance: no
//!   isolation; what per-request isolation is compared with);
//! * new_function: every request is a function never seen before (a distinct nop variant):
//!   the warm path including the function snapshot capture, then the invocation on a clone;
//! * node_process: every request runs `node harness.mjs nop.js` as a new process.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use seuss_hv::{Config, Event, Instance, Loaded};
use serde_json::{json, Value};

use super::common::{cores, median, progress, ratio, snapshot_image, summary, time_process, Env};
use super::table::{fixed, int, times, Table};

type Job = (Instant, Sender<Duration>);

#[derive(Clone, Copy)]
enum Mode {
    Hot,
    Reuse,
    NewFunction,
    NodeProcess,
}

fn serve(env: &Env, mode: Mode, rx: Arc<Mutex<Receiver<Job>>>, worker: usize, snaps: &(Arc<Loaded>, Arc<Loaded>)) -> Result<()> {
    let cfg = Config::default();
    let (runtime, nop) = snaps;
    let mut hot = match mode {
        Mode::Hot | Mode::Reuse => Some(Instance::from_snapshot(&env.kvm, nop, &cfg)?),
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
            Mode::Reuse => {
                let o = hot.as_mut().expect("reused instance").invoke("{}")?;
                if o.is_error {
                    bail!("reused invocation failed: {:?}", o.result);
                }
                let _ = reply.send(arrived.elapsed());
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
    let workers = cores();
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
        "latency_us": summary(&latencies),
    }))
}

/// Runs the four modes, `duration` each.
pub fn run(env: &Env, clients: usize, duration: Duration) -> Result<Value> {
    let snaps = (
        snapshot_image(env, "runtime", Event::WantsSource, "tp-runtime")?,
        snapshot_image(env, "nop", Event::WantsInvocation, "tp-nop")?,
    );
    let modes = [("hot", Mode::Hot), ("reuse", Mode::Reuse), ("new_function", Mode::NewFunction), ("node_process", Mode::NodeProcess)];
    let bar = progress(modes.len() as u64, "throughput");
    let mut out = serde_json::Map::new();
    for (name, mode) in modes {
        bar.set_message(format!("throughput: {name}"));
        out.insert(name.to_owned(), measure(env, mode, clients, duration, &snaps)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let rps = |k: &str| out[k]["rps"].as_f64();
    let doc = json!({
        "clients": clients,
        "seconds_per_mode": duration.as_secs_f64(),
        "workers": cores(),
        "hot_rps": rps("hot"),
        "reuse_rps": rps("reuse"),
        "new_function_rps": rps("new_function"),
        "node_process_rps": rps("node_process"),
        "ratios": {
            "hot_over_node_process": ratio(rps("hot"), rps("node_process")),
            "new_function_over_node_process": ratio(rps("new_function"), rps("node_process")),
            "reuse_over_hot": ratio(rps("reuse"), rps("hot")),
        },
    });
    let mut doc = doc.as_object().cloned().unwrap_or_default();
    doc.extend(out);
    Ok(Value::Object(doc))
}

/// The human table.
pub fn table(r: &Value) -> String {
    let mut t = Table::new(
        format!("throughput: {} clients, {} workers, {} s per mode", r["clients"], r["workers"], r["seconds_per_mode"]),
        &["mode", "requests", "req/s", "p50 (ms)", "p90 (ms)", "p99 (ms)"],
    );
    let ms = |v: &Value| v.as_f64().map(|us| us / 1e3);
    for (key, label) in [
        ("hot", "hot (clone per request)"),
        ("reuse", "reuse (no isolation)"),
        ("new_function", "new function per request"),
        ("node_process", "Node.js process per request"),
    ] {
        let m = &r[key];
        t.row(vec![
            label.into(),
            int(m["requests"].as_f64()),
            fixed(m["rps"].as_f64(), 1),
            fixed(median(&m["latency_us"]).map(|us| us / 1e3), 2),
            fixed(ms(&m["latency_us"]["p90"]), 2),
            fixed(ms(&m["latency_us"]["p99"]), 2),
        ]);
    }
    let ra = &r["ratios"];
    t.note(format!(
        "hot / node process = {}, new function / node process = {}, reuse / hot = {}",
        times(&ra["hot_over_node_process"]),
        times(&ra["new_function_over_node_process"]),
        times(&ra["reuse_over_hot"])
    ));
    t.render()
}
