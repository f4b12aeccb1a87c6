//! `cargo xtask bench-cold`: the cold-start figures of the libos, js-launcher and hypervisor
//! issues, all measured in one run (medians of N process runs):
//!
//! * rust-hello on stock uhyve: image size, vCPU run time (`uhyve --stats`: boot + main +
//!   exit), process wall time, libos's CPL3 start-up to `main` (guest clock);
//! * the spin loop in the guest vs the same program built for the host (ns/iteration);
//! * the largest allocation that succeeds for a given `-m` (binary search, 256 KiB steps);
//! * JS functions on stock uhyve, split by the launcher's own timestamps (`SEUSS_TIMINGS`);
//! * the same functions through `seuss run --output json` (host-side split), and process wall;
//! * `build-image` of a never-seen function after the first build.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::{image_dir, setup, workspace_root};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn output(cmd: &mut Command) -> Result<(std::process::Output, f64)> {
    let t = Instant::now();
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    Ok((out, t.elapsed().as_secs_f64() * 1e6))
}

fn field(text: &str, key: &str) -> Option<f64> {
    let i = text.find(key)? + key.len();
    let rest = &text[i..];
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn uhyve(args: &[&str]) -> Command {
    let mut c = Command::new(setup::uhyve_bin());
    c.args(args);
    c
}

fn cpu_runtime_us(stats: &str) -> Option<f64> {
    // "  cpu 0: 1.456092ms" (Duration's Debug format)
    let line = stats.lines().find(|l| l.trim_start().starts_with("cpu 0:"))?;
    let v = line.split(':').nth(1)?.trim();
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic() || c == 'µ')?);
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "ns" => n / 1000.0,
        "µs" | "us" => n,
        "ms" => n * 1000.0,
        "s" => n * 1e6,
        _ => return None,
    })
}

fn largest_alloc(img: &Path, memory: &str) -> Result<u64> {
    let ok = |bytes: u64| -> Result<bool> {
        let out = uhyve(&["-m", memory]).arg(img).args(["--", "--alloc", &bytes.to_string()]).output()?;
        Ok(out.status.success())
    };
    let step = 256 * 1024;
    let (mut lo, mut hi) = (0u64, parse_mib(memory)? / step);
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if ok(mid * step)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo * step)
}

fn parse_mib(m: &str) -> Result<u64> {
    Ok(m.trim_end_matches("MiB").parse::<u64>().context("memory in MiB")? * 1024 * 1024)
}

/// Runs everything with `n` samples per figure.
pub fn run(n: usize) -> Result<()> {
    setup::ensure_all()?;
    crate::build_test_images()?;
    let dir = image_dir();
    let seuss = crate::build_seuss()?;
    let hello = dir.join("rust-hello.img");
    let mut report = serde_json::Map::new();

    // libos on stock uhyve
    let (mut vcpu, mut wall, mut startup) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let (out, w) = output(uhyve(&["--stats"]).arg(&hello))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        vcpu.push(cpu_runtime_us(&text).context("uhyve --stats printed no cpu 0 runtime")?);
        startup.push(field(&text, "libos start-up to main ").unwrap_or(0.0));
        wall.push(w);
    }
    let spin_n = "200000000";
    let (mut guest, mut native) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let (o, _) = output(uhyve(&[]).arg(&hello).args(["--", "--spin", spin_n]))?;
        guest.push(field(&String::from_utf8_lossy(&o.stdout), " ns = ").context("spin line")?);
        let (o, _) = output(Command::new(dir.join("rust-hello-native")).args(["--spin", spin_n]))?;
        native.push(field(&String::from_utf8_lossy(&o.stdout), " ns = ").context("native spin line")?);
    }
    let (g, h) = (median(guest), median(native));
    let mut allocs = serde_json::Map::new();
    for m in ["64MiB", "256MiB"] {
        let bytes = largest_alloc(&hello, m)?;
        allocs.insert(m.into(), json!({"bytes": bytes, "fraction": bytes as f64 / parse_mib(m)? as f64}));
    }
    report.insert(
        "libos".into(),
        json!({
            "rust_hello_image_bytes": std::fs::metadata(&hello)?.len(),
            "uhyve_vcpu_runtime_us_median": median(vcpu),
            "uhyve_process_wall_us_median": median(wall),
            "libos_startup_to_main_us_median": median(startup),
            "spin_ns_per_iter": {"guest": g, "native": h, "ratio": g / h},
            "largest_allocation": allocs,
        }),
    );

    // JS on stock uhyve and on seuss
    let mut js = serde_json::Map::new();
    for (f, args) in [("nop", "{}"), ("hello", r#"{"name":"bench"}"#), ("fib", "{}")] {
        let img = dir.join(format!("{f}.img"));
        let mut split: [Vec<f64>; 4] = Default::default();
        let mut uw = Vec::new();
        let mut ours: [Vec<f64>; 6] = Default::default();
        let mut sw = Vec::new();
        for _ in 0..n {
            let (o, w) = output(uhyve(&["-e", "SEUSS_TIMINGS=1"]).arg(&img).args(["--", args]))?;
            let text = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
            for (i, k) in ["startup_us=", "engine_us=", "import_us=", "run_us="].iter().enumerate() {
                split[i].push(field(&text, k).context("seuss-timings line")?);
            }
            uw.push(w);
            let (o, w) = output(Command::new(&seuss).args(["run"]).arg(&img).args(["--args", args, "--output", "json"]))?;
            let record: serde_json::Value =
                serde_json::from_slice(&o.stdout).context("seuss run --output json printed no record")?;
            let t = &record["timings_us"];
            for (i, v) in [&t["vm_setup"], &t["boot"], &t["engine_init"], &t["import"], &t["run"], &record["latency_us"]]
                .into_iter()
                .enumerate()
            {
                ours[i].push(v.as_f64().context("seuss run --output json: a timing is missing")?);
            }
            sw.push(w);
        }
        let [s0, s1, s2, s3] = split;
        let [o0, o1, o2, o3, o4, o5] = ours;
        js.insert(
            f.into(),
            json!({
                "image_bytes": std::fs::metadata(&img)?.len(),
                "uhyve": {"startup_us": median(s0), "engine_init_us": median(s1), "import_us": median(s2), "run_us": median(s3), "process_wall_us": median(uw)},
                "seuss_run": {"vm_setup_us": median(o0), "boot_us": median(o1), "engine_init_us": median(o2), "import_us": median(o3), "run_us": median(o4), "in_process_total_us": median(o5), "process_wall_us": median(sw)},
            }),
        );
    }
    report.insert("js_cold".into(), Value::Object(js));

    // build-image of a never-seen function
    let mut bi = Vec::new();
    let tmp = std::env::temp_dir().join(format!("seuss-bi-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    for i in 0..5 {
        let src = tmp.join(format!("f{i}.js"));
        std::fs::write(&src, format!("function main() {{ return {{ i: {i}, t: {} }}; }}\n", std::process::id()))?;
        let (o, w) = output(
            Command::new(env!("CARGO")).current_dir(workspace_root()).args(["xtask", "build-image"]).arg(&src).arg("-o").arg(tmp.join(format!("f{i}.img"))),
        )?;
        if !o.status.success() {
            bail!("build-image failed: {}", String::from_utf8_lossy(&o.stderr));
        }
        bi.push(w);
    }
    let _ = std::fs::remove_dir_all(&tmp);
    report.insert("build_image_new_function_us_median".into(), json!(median(bi)));

    let doc = json!({"samples": n, "report": report});
    let text = serde_json::to_string_pretty(&doc)?;
    println!("{text}");
    std::fs::write(workspace_root().join("target/bench-cold.json"), text + "\n")?;
    Ok(())
}
