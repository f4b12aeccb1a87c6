//! `seuss bench --quick` for every experiment: the harness runs end to end, its JSON has the
//! documented shape and its figures are drawn (timings are not asserted: machines are noisy).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// A scratch directory for one test's figures.
fn plot_dir(experiment: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("seuss-bench-plots-{experiment}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn bench(experiment: &str, extra: &[&str]) -> Value {
    image_dir(); // builds the images when run on its own
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.args(["bench", experiment, "--quick", "--json", "-", "--images"]).arg(image_dir()).args(extra).current_dir(root());
    let out = run_with_timeout(&mut cmd, Duration::from_secs(300));
    assert!(out.status.success(), "{experiment}: {}", stderr(&out));
    // `--json -`: stdout is the JSON document alone (the table goes to stderr).
    let doc: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    let err = stderr(&out);
    assert!(err.contains("\n---"), "an aligned table with a rule under its header is on stderr: {err}");
    assert_eq!(doc["experiment"], experiment);
    assert_eq!(doc["quick"], true);
    for key in ["cores", "memory_bytes", "kernel", "kvm"] {
        assert!(!doc["machine"][key].is_null(), "machine.{key}");
    }
    assert!(doc["commit"].is_string());
    doc["results"].clone()
}

/// A sample summary: n, min, median, max, mean, sd always; p90 only from 10 samples, p99
/// only from 100.
fn is_summary(v: &Value) -> bool {
    let Some(n) = v["n"].as_u64() else { return false };
    n > 0
        && ["min", "median", "max", "mean", "sd"].iter().all(|k| v[*k].is_number())
        && v.get("p90").is_some() == (n >= 10)
        && v.get("p99").is_some() == (n >= 100)
}

fn positive(v: &Value) -> bool {
    v.as_f64().is_some_and(|x| x > 0.0)
}

fn svg(dir: &std::path::Path, file: &str, must_say: &[&str]) -> String {
    let text = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(text.starts_with("<svg"), "{file} is an SVG document");
    for s in must_say {
        assert!(text.contains(s), "{file} shows {s:?}");
    }
    text
}

#[test]
fn startup_reports_every_start_kind_and_baseline() {
    let dir = plot_dir("startup");
    let r = bench("startup", &["--plots", dir.to_str().unwrap()]);
    let nop = &r["functions"]["nop"];
    for key in ["cold_us", "warm_us", "hot_us", "reset_us", "hot_new_vm_us", "reuse_us", "node_process_us", "node_warm_us", "uhyve_cold_us"] {
        assert!(is_summary(&nop[key]), "{key}: {}", nop[key]);
        assert_eq!(nop[key]["n"], 3, "{key}: --quick takes 3 samples");
        assert!(nop[key].get("p90").is_none() && nop[key].get("p99").is_none(), "no percentile for n = 3: {}", nop[key]);
    }
    for key in ["hot_over_reuse", "node_process_over_hot", "cold_over_hot", "uhyve_cold_over_hot", "warm_over_hot"] {
        assert!(positive(&nop["ratios"][key]), "{key}: {}", nop["ratios"][key]);
    }
    svg(&dir, "startup.svg", &["start time, p50 (ms, log scale)", "nop.js", "Node.js process per request", "reuse (no isolation)"]);
}

#[test]
fn density_reports_tiers_dedup_codecs_and_the_corpus() {
    let r = bench("density", &["--functions", "6"]);
    let v = &r["variants"];
    assert_eq!(v["functions"], 6, "--functions N sets the count");
    // Every page of every function's diff went through the store.
    let diff_pages = (v["diff_pages_per_function"]["mean"].as_f64().unwrap() * 6.0).round();
    assert_eq!(v["store"]["pages_put"].as_f64(), Some(diff_pages), "{}", v["store"]);
    for key in ["stored_bytes_per_function", "bytes_per_cached_function", "max_cached_functions_in_budget", "dedup_ratio", "compression_ratio"] {
        assert!(positive(&v[key]), "variants.{key}: {}", v[key]);
    }
    assert!(v["known_pss_bytes_per_function"].is_number());
    assert!(v["store"]["unique_pages"].as_u64().unwrap() <= v["store"]["pages_put"].as_u64().unwrap());
    for codec in ["zstd", "lz4"] {
        let c = &v["codecs"][codec];
        assert_eq!(c["pages"], v["store"]["unique_pages"], "{codec} measured on the store's unique pages");
        assert!(positive(&c["ratio"]) && positive(&c["decompress_us_per_page"]), "{codec}: {c}");
    }
    assert!(positive(&v["mapped"]["bytes_per_function"]) && positive(&v["mapped"]["memfd_bytes"]), "{}", v["mapped"]);
    for tier in ["compressed_tier", "mapped_tier", "hot"] {
        assert!(is_summary(&v["hot_start_us"][tier]), "{tier}: {}", v["hot_start_us"][tier]);
    }
    assert!(positive(&v["ratios"]["compressed_tier_over_mapped_tier"]) && positive(&v["ratios"]["mapped_tier_over_hot"]));
    let c = &r["corpus"];
    assert_eq!(c["functions"], 12);
    let members = c["members"].as_array().expect("corpus members");
    assert_eq!(members.len(), 12);
    assert!(members.iter().any(|m| m["name"] == "hello.js"), "the examples are in the corpus");
    assert!(members.iter().any(|m| m["name"].as_str().unwrap().starts_with("generated-")), "and generated functions");
    for key in ["stored_bytes_per_function", "bytes_per_cached_function", "dedup_ratio", "compression_ratio"] {
        assert!(positive(&c[key]), "corpus.{key}: {}", c[key]);
    }
    for key in ["bytes_per_live_clone", "bytes_per_node_process", "max_node_processes_in_budget"] {
        assert!(positive(&r[key]), "{key}: {}", r[key]);
    }
}

#[test]
fn density_refuses_a_count_that_is_not_one() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.args(["bench", "density", "--quick", "--functions", "nop", "--images"]).arg(image_dir()).current_dir(root());
    let out = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(stderr(&out).contains("--functions nop"), "{}", stderr(&out));
}

#[test]
fn throughput_reports_requests_per_second() {
    let r = bench("throughput", &["--seconds", "1"]);
    assert_eq!(r["seconds_per_mode"], 1.0, "--seconds N sets the time per mode");
    for key in ["hot_rps", "reuse_rps", "new_function_rps", "node_process_rps"] {
        assert!(positive(&r[key]), "{key}: {}", r[key]);
    }
    assert!(is_summary(&r["hot"]["latency_us"]));
    for key in ["hot_over_node_process", "new_function_over_node_process", "reuse_over_hot"] {
        assert!(positive(&r["ratios"][key]), "{key}");
    }
}

#[test]
fn burst_records_every_request_of_every_series_and_plots_them() {
    let dir = plot_dir("burst");
    let r = bench("burst", &["--plots", dir.to_str().unwrap()]);
    let reqs = r["requests"].as_array().expect("requests");
    assert_eq!(reqs.len(), 2 * 3 * 2 * 4, "2 functions x 3 systems (library, HTTP node, Node.js) x 2 bursts x 4 requests");
    assert_eq!(r["failed_requests"], 0, "{}", r["series"]);
    let series = r["series"].as_array().expect("series");
    assert_eq!(series.len(), 6);
    for s in series {
        assert!(is_summary(&s["latency_us"]), "{s}");
        assert_eq!(s["latency_us"]["n"], 8);
        assert_eq!(s["failed"], 0, "{s}");
        if s["function"] == "fib" {
            assert!(positive(&s["ideal_s"]) && positive(&s["completion_over_ideal"]), "{s}");
            assert_eq!(s["completion_s"].as_array().map(Vec::len), Some(2), "one completion time per burst");
        } else {
            assert_eq!(s["function"], "fetch");
            // The server answers after 250 ms: no request can be faster.
            assert!(s["latency_us"]["min"].as_f64().unwrap() >= 250_000.0, "{s}");
        }
    }
    for key in ["fib_seuss_us", "fib_serve_us", "fib_node_us", "fetch_seuss_us", "fetch_serve_us", "fetch_node_us"] {
        assert!(is_summary(&r["solo_us"][key]), "{key}");
    }
    let plot = svg(&dir, "burst.svg", &["latency (ms, log scale)", "arrival time (s", "bursts every 1 s", "burst arrives", "fetch: Node.js, a process per request", "fib: seuss serve, HTTP blocking invoke"]);
    assert!(plot.matches("<circle").count() >= reqs.len(), "every request is a point");
}

#[test]
fn network_reports_fetch_overhead_and_clone_memory() {
    let r = bench("network", &[]);
    for key in ["fetch_hot_us", "nop_hot_us", "direct_request_us"] {
        assert!(is_summary(&r[key]), "{key}: {}", r[key]);
        assert_eq!(r[key]["n"], 5);
    }
    assert!(r["fetch_overhead_us"].is_number(), "{}", r["fetch_overhead_us"]);
    // Every hot fetch reached the server (warm-up + 5), plus the direct requests (warm-up + 5).
    assert!(r["server_requests"].as_u64().unwrap() >= 12, "{}", r["server_requests"]);
    for key in ["bytes_per_clone_without_fetch", "bytes_per_clone_after_fetch"] {
        assert!(positive(&r[key]), "{key}: {}", r[key]);
    }
    assert!(r["network_state_bytes_per_clone"].is_number());
    assert!(positive(&r["ratios"]["fetch_over_nop"]));
}

#[test]
fn serve_reports_http_throughput_and_its_baselines() {
    let dir = plot_dir("serve");
    let r = bench("serve", &["--plots", dir.to_str().unwrap()]);
    let hot = r["hot"].as_array().expect("hot runs");
    assert_eq!(hot.len(), 2, "1 worker x 2 connection counts");
    for h in hot {
        assert!(positive(&h["rps"]) && positive(&h["p50_us"]) && positive(&h["requests"]), "{h}");
        assert_eq!(h["non_2xx"], 0, "every invocation succeeded: {h}");
    }
    assert!(is_summary(&r["library_hot_us"]));
    assert!(is_summary(&r["new_action"]["latency_us"]));
    assert_eq!(r["cache"].as_array().map(Vec::len), Some(2));
    assert_eq!(r["restart"]["stored_actions"], 12, "the quick run restarts a node holding 12 actions");
    assert!(is_summary(&r["restart"]["to_first_invoke_us"]), "{}", r["restart"]);
    assert!(positive(&r["node_process_rps"]), "{}", r["node_process_rps"]);
    assert!(positive(&r["node_warm_run"]["rps"]));
    for key in ["hot_over_node_process", "low_load_p50_over_library_hot", "new_action_over_node_process"] {
        assert!(positive(&r["ratios"][key]), "{key}");
    }
    svg(&dir, "serve.svg", &["concurrent connections", "invocations/s (log scale)", "--workers 1", "Node.js process per request"]);
}
