//! `seuss bench --quick` for every experiment: the harness runs end to end and its JSON has
//! the documented shape (timings are not asserted: machines are noisy).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn bench(experiment: &str, extra: &[&str]) -> Value {
    image_dir(); // builds the images when run on its own
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.args(["bench", experiment, "--quick", "--json", "-", "--images"]).arg(image_dir()).args(extra);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(300));
    assert!(out.status.success(), "{experiment}: {}", stderr(&out));
    // `--json -`: stdout is the JSON document alone (the table goes to stderr).
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert!(stderr(&out).contains('\n'), "the human table is on stderr");
    assert_eq!(doc["experiment"], experiment);
    assert_eq!(doc["quick"], true);
    for key in ["cores", "memory_bytes", "kernel", "kvm"] {
        assert!(!doc["machine"][key].is_null(), "machine.{key}");
    }
    assert!(doc["commit"].is_string());
    doc["results"].clone()
}

fn is_dist(v: &Value) -> bool {
    ["p50", "p90", "p99", "n"].iter().all(|k| v[k].is_u64())
}

#[test]
fn startup_reports_every_start_kind_and_baseline() {
    let r = bench("startup", &[]);
    let nop = &r["functions"]["nop"];
    for key in ["cold_us", "warm_us", "hot_us", "reuse_us", "node_process_us", "node_warm_us", "uhyve_cold_us", "boa_process_us"] {
        assert!(is_dist(&nop[key]), "{key}: {}", nop[key]);
    }
    assert!(nop["hot_us"]["n"].as_u64().unwrap() > 0);
    assert!(nop["ratios"]["node_process_over_hot"].as_f64().unwrap() > 0.0);
}

#[test]
fn density_reports_bytes_per_function_clone_and_node_process() {
    let r = bench("density", &[]);
    for key in ["bytes_per_cached_function", "bytes_per_live_clone", "bytes_per_node_process", "max_cached_functions_in_budget"] {
        assert!(r[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {}", r[key]);
    }
    assert_eq!(r["cache"]["entries"], 10);
}

#[test]
fn throughput_reports_requests_per_second() {
    let r = bench("throughput", &[]);
    for key in ["hot_rps", "new_function_rps", "node_process_rps"] {
        assert!(r[key].as_f64().is_some_and(|v| v > 0.0), "{key}: {}", r[key]);
    }
    assert!(is_dist(&r["hot"]["latency_us"]));
}

#[test]
fn burst_records_every_request_and_plots_them() {
    let svg = std::env::temp_dir().join(format!("seuss-burst-{}.svg", std::process::id()));
    let r = bench("burst", &["--plot", &svg.display().to_string()]);
    let reqs = r["requests"].as_array().expect("requests");
    assert_eq!(reqs.len(), 2 * 4 * 2, "2 functions x 2 bursts x 4 requests");
    assert_eq!(r["failed_requests"], 0);
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.matches("<circle").count() == reqs.len());
}

#[test]
fn serve_reports_http_throughput_and_its_baselines() {
    let r = bench("serve", &[]);
    let hot = r["hot"].as_array().expect("hot runs");
    assert_eq!(hot.len(), 2, "1 worker x 2 connection counts");
    for h in hot {
        assert!(h["rps"].as_f64().is_some_and(|v| v > 0.0) && h["p50_us"].as_f64().is_some_and(|v| v > 0.0), "{h}");
        assert_eq!(h["non_2xx"], 0, "every invocation succeeded: {h}");
    }
    assert!(is_dist(&r["library_hot_us"]));
    assert!(is_dist(&r["new_action"]["latency_us"]));
    assert_eq!(r["cache"].as_array().map(Vec::len), Some(2));
    assert!(r["node_process_rps"].as_f64().is_some_and(|v| v > 0.0), "{}", r["node_process_rps"]);
    assert!(r["node_warm_run"]["rps"].as_f64().is_some_and(|v| v > 0.0));
    for key in ["hot_over_node_process", "low_load_p50_over_library_hot", "new_action_over_node_process"] {
        assert!(r["ratios"][key].as_f64().is_some_and(|v| v > 0.0), "{key}");
    }
}
