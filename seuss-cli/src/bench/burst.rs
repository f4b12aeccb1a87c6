//! `seuss bench burst`: periodic bursts of concurrent requests, as in the paper's burst figure.
//!
//! For each function (fib: CPU-bound; sleep: waits on a timer) and each period, `bursts`
//! bursts of `size` simultaneous requests arrive `period` seconds apart. Every request gets
//! its own clone of the function snapshot on its own thread (isolation per request), so
//! waiting functions overlap freely while CPU-bound ones share the cores. Each request's
//! arrival time and latency are recorded and plotted.

use std::time::{Duration, Instant};

use anyhow::Result;
use seuss_hv::{Config, Event, Instance};
use serde_json::{json, Value};

use super::common::{dist, progress, snapshot_image, Env};

/// One request's record.
struct Sample {
    function: &'static str,
    period: f64,
    arrival_s: f64,
    latency: Duration,
    ok: bool,
}

/// Burst parameters.
pub struct Params {
    /// Requests per burst.
    pub size: usize,
    /// Bursts per (function, period).
    pub bursts: usize,
    /// Periods in seconds.
    pub periods: Vec<f64>,
    /// fib's argument.
    pub fib_n: u32,
    /// sleep's milliseconds.
    pub sleep_ms: u32,
}

/// Runs the experiment.
pub fn run(env: &Env, p: &Params) -> Result<(Value, String)> {
    let functions: [(&'static str, String); 2] =
        [("fib", format!(r#"{{"n":{}}}"#, p.fib_n)), ("sleep", format!(r#"{{"ms":{}}}"#, p.sleep_ms))];
    let total = (functions.len() * p.periods.len() * p.bursts * p.size) as u64;
    let bar = progress(total, "burst");
    let mut samples = Vec::new();
    for (name, args) in &functions {
        let snap = snapshot_image(env, name, Event::WantsInvocation, &format!("burst-{name}"))?;
        for &period in &p.periods {
            bar.set_message(format!("burst {name} every {period} s"));
            let start = Instant::now();
            let results: Vec<Sample> = std::thread::scope(|s| {
                let mut handles = Vec::new();
                for b in 0..p.bursts {
                    let at = start + Duration::from_secs_f64(period * b as f64);
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                    for _ in 0..p.size {
                        let (snap, args, bar) = (snap.clone(), args.clone(), bar.clone());
                        handles.push(s.spawn(move || {
                            let arrived = Instant::now();
                            let ok = Instance::from_snapshot(&env.kvm, &snap, &Config::default())
                                .ok()
                                .and_then(|mut i| i.invoke(&args).ok())
                                .is_some_and(|o| !o.is_error);
                            bar.inc(1);
                            Sample {
                                function: name,
                                period,
                                arrival_s: arrived.duration_since(start).as_secs_f64(),
                                latency: arrived.elapsed(),
                                ok,
                            }
                        }));
                    }
                }
                handles.into_iter().map(|h| h.join().expect("request thread")).collect()
            });
            samples.extend(results);
        }
    }
    bar.finish_and_clear();
    let mut summary = serde_json::Map::new();
    for (name, _) in &functions {
        for &period in &p.periods {
            let lat: Vec<Duration> =
                samples.iter().filter(|s| s.function == *name && s.period == period).map(|s| s.latency).collect();
            summary.insert(format!("{name}_every_{period}s_latency_us"), dist(&lat));
        }
    }
    let failed = samples.iter().filter(|s| !s.ok).count();
    let records: Vec<Value> = samples
        .iter()
        .map(|s| json!({"function": s.function, "period_s": s.period, "arrival_s": s.arrival_s, "latency_us": s.latency.as_micros() as u64, "ok": s.ok}))
        .collect();
    let svg = plot(&samples, &p.periods);
    Ok((
        json!({
            "burst_size": p.size,
            "bursts": p.bursts,
            "periods_s": p.periods,
            "fib_n": p.fib_n,
            "sleep_ms": p.sleep_ms,
            "failed_requests": failed,
            "summary": summary,
            "requests": records,
        }),
        svg,
    ))
}

/// A scatter plot per (function, period): latency (ms) over arrival time (s).
fn plot(samples: &[Sample], periods: &[f64]) -> String {
    let functions = ["fib", "sleep"];
    let (pw, ph, margin) = (420.0, 260.0, 50.0);
    let width = margin + periods.len() as f64 * (pw + margin);
    let height = margin + functions.len() as f64 * (ph + margin);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
"#
    );
    for (row, f) in functions.iter().enumerate() {
        for (col, &period) in periods.iter().enumerate() {
            let pts: Vec<&Sample> = samples.iter().filter(|s| s.function == *f && s.period == period).collect();
            let x0 = margin + col as f64 * (pw + margin);
            let y0 = margin + row as f64 * (ph + margin);
            let max_x = pts.iter().map(|s| s.arrival_s).fold(period, f64::max).max(1e-3) * 1.05;
            let max_y = pts.iter().map(|s| s.latency.as_secs_f64() * 1e3).fold(1.0, f64::max) * 1.1;
            svg.push_str(&format!(
                r#"<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="black"/>
<text x="{}" y="{}" text-anchor="middle">{f}: bursts every {period} s ({} requests)</text>
<text x="{}" y="{}" text-anchor="middle">arrival (s)</text>
<text x="{}" y="{}" text-anchor="middle" transform="rotate(-90 {} {})">latency (ms)</text>
<text x="{x0}" y="{}" text-anchor="start">0</text><text x="{}" y="{}" text-anchor="end">{:.1}</text>
<text x="{}" y="{}" text-anchor="end">{:.0}</text>
"#,
                x0 + pw / 2.0,
                y0 - 8.0,
                pts.len(),
                x0 + pw / 2.0,
                y0 + ph + 28.0,
                x0 - 32.0,
                y0 + ph / 2.0,
                x0 - 32.0,
                y0 + ph / 2.0,
                y0 + ph + 14.0,
                x0 + pw,
                y0 + ph + 14.0,
                max_x,
                x0 - 4.0,
                y0 + 10.0,
                max_y
            ));
            for s in pts {
                let cx = x0 + s.arrival_s / max_x * pw;
                let cy = y0 + ph - (s.latency.as_secs_f64() * 1e3) / max_y * ph;
                let color = if s.ok { "#1f77b4" } else { "#d62728" };
                svg.push_str(&format!(r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="2" fill="{color}" fill-opacity="0.6"/>"#));
                svg.push('\n');
            }
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// The human table.
pub fn table(r: &Value) -> String {
    let mut out = format!(
        "burst: {} requests per burst, {} bursts per period, fib n={}, sleep {} ms ({} failed)\n",
        r["burst_size"], r["bursts"], r["fib_n"], r["sleep_ms"], r["failed_requests"]
    );
    if let Some(m) = r["summary"].as_object() {
        for (k, d) in m {
            out.push_str(&format!("  {:<34} p50 {:>9} µs  p90 {:>9} µs  p99 {:>9} µs\n", k.trim_end_matches("_latency_us"), d["p50"], d["p90"], d["p99"]));
        }
    }
    out
}
