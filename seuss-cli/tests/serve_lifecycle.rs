//! `seuss serve` over its life: actions survive a restart without a new import, SIGTERM
//! drains, and overload is refused with 429.

mod serve_support;

use std::time::{Duration, Instant};

use serde_json::json;
use serve_support::*;

#[test]
fn actions_survive_a_restart_without_reimport() {
    let dir = scratch("restart");
    let mut s = Server::start(&dir, &[]);
    let key = s.key.clone();
    assert_eq!(s.create("one", "function main(p) { return {one: p.x}; }", json!({})).status, 200);
    let r = s.create("two", "function niam() { return {two: 2}; }", json!({"exec": {"main": "niam"}, "parameters": [{"key": "d", "value": 1}]}));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(s.metric("seuss_warm_snapshots_total", ""), 2.0);
    let id = s.invoke("one", "blocking=true", r#"{"x": 1}"#).json()["activationId"].as_str().unwrap().to_owned();
    assert!(s.terminate(Duration::from_secs(30)).success());

    let mut t = Server::start(&dir, &[]);
    assert_eq!(t.key, key, "the generated key is kept in the state dir");
    assert!(t.stdout.lock().unwrap().contains("(2 actions)"));
    let r = t.invoke("one", "blocking=true&result=true", r#"{"x": 5}"#);
    assert_eq!((r.status, r.json()), (200, json!({"one": 5})));
    let r = t.invoke("two", "blocking=true&result=true", "{}");
    assert_eq!((r.status, r.json()), (200, json!({"two": 2})));
    assert_eq!(t.metric("seuss_warm_snapshots_total", ""), 0.0, "a restart must not import again");
    assert_eq!(t.metric("seuss_snapshot_loads_total", ""), 2.0, "both snapshots come from the state dir");
    assert_eq!(t.metric("seuss_invocations_total", "start=\"load\""), 2.0);
    let g = call("GET", &t.api("/actions/two"), Some(&t.key), None).json();
    assert_eq!((g["exec"]["main"].as_str(), g["parameters"].clone()), (Some("niam"), json!([{"key": "d", "value": 1}])));
    // The activation records were persisted at the drain.
    let old = call("GET", &t.api(&format!("/activations/{id}")), Some(&t.key), None);
    assert_eq!(old.status, 200);
    assert_eq!(old.json()["response"]["result"], json!({"one": 1}));
    assert!(t.terminate(Duration::from_secs(30)).success());

    // A damaged snapshot file is made again (warm path), not trusted.
    let snap = std::fs::read_dir(dir.join("actions/guest/one")).unwrap().flatten().map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "snap")).expect("the function snapshot is stored beside the action");
    let mut bytes = std::fs::read(&snap).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&snap, bytes).unwrap();
    // Damaged code is refused at start with a warning naming the file.
    let code = std::fs::read_dir(dir.join("actions/guest/two")).unwrap().flatten().map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "js")).unwrap();
    std::fs::write(&code, "function niam() { return {tampered: true}; }").unwrap();
    let u = Server::start(&dir, &[]);
    let r = u.invoke("one", "blocking=true&result=true", r#"{"x": 7}"#);
    assert_eq!((r.status, r.json()), (200, json!({"one": 7})));
    assert_eq!(u.metric("seuss_warm_snapshots_total", ""), 1.0);
    assert!(u.stdout.lock().unwrap().contains("does not match the checksum"), "{}", u.stdout.lock().unwrap());
    u.invoke("two", "blocking=true", "{}").assert_error(404, "does not exist");
}

#[test]
fn sigterm_drains_an_inflight_invocation() {
    let dir = scratch("drain");
    let mut s = Server::start(&dir, &[]);
    let code = "function main() { return new Promise(r => setTimeout(() => r({slept: true}), 1500)); }";
    assert_eq!(s.create("slow", code, json!({})).status, 200);
    let url = s.api("/actions/slow?blocking=true&result=true");
    let key = s.key.clone();
    let inflight = std::thread::spawn(move || call("POST", &url, Some(&key), Some("{}")));
    // Let it start running on a worker before the signal: one clone is busy (alive, not idle;
    // the clone the warm path left may wait in another worker's pool).
    wait_for(Duration::from_secs(10), || {
        (s.metric("seuss_live_clones", "") - s.metric("seuss_idle_clones", "") >= 1.0).then_some(())
    });
    let t0 = Instant::now();
    let status = s.terminate(Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");
    let r = inflight.join().unwrap();
    assert_eq!((r.status, r.json()), (200, json!({"slept": true})), "the in-flight invocation finishes");
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert!(try_call("GET", &s.url("/healthz")).is_none(), "no new connections after the drain");
    let persisted = std::fs::read_to_string(dir.join("activations.jsonl")).unwrap();
    assert!(persisted.contains("slept"), "{persisted}");
}

#[test]
fn overload_is_refused_with_429() {
    let dir = scratch("overload");
    let s = Server::start(&dir, &["--workers", "1", "--max-queue", "1"]);
    let code = "function main() { return new Promise(r => setTimeout(() => r({done: true}), 1000)); }";
    assert_eq!(s.create("busy", code, json!({})).status, 200);
    assert_eq!(s.invoke("busy", "", "{}").status, 202);
    // The first is running on the only worker; the second waits in the queue; the third is refused.
    wait_for(Duration::from_secs(10), || (s.metric("seuss_queue_depth", "") == 0.0 && s.metric("seuss_live_clones", "") >= 1.0).then_some(()));
    assert_eq!(s.invoke("busy", "", "{}").status, 202);
    s.invoke("busy", "blocking=true", "{}").assert_error(429, "Too many requests in flight");
    assert_eq!(s.metric("seuss_rejected_total", "reason=\"queue\""), 1.0);

    let dir = scratch("nslimit");
    let n = Server::start(&dir, &["--namespace-concurrency", "1"]);
    assert_eq!(n.create("busy", code, json!({})).status, 200);
    assert_eq!(n.invoke("busy", "", "{}").status, 202);
    n.invoke("busy", "", "{}").assert_error(429, "Too many concurrent requests in flight (count: 1, allowed: 1).");
    // Once it finished, the namespace may invoke again.
    wait_for(Duration::from_secs(10), || (n.invoke("busy", "", "{}").status == 202).then_some(()));
}

#[test]
fn the_snapshot_cache_stays_under_its_budget() {
    let dir = scratch("budget");
    // A budget smaller than one function snapshot: the cache keeps only the last one loaded.
    let s = Server::start(&dir, &["--memory-budget", "1KiB", "--workers", "1"]);
    for name in ["a", "b", "c"] {
        let code = format!("function main() {{ return {{name: '{name}'}}; }}");
        assert_eq!(s.create(name, &code, json!({})).status, 200);
    }
    assert_eq!(s.metric("seuss_cache_entries", ""), 1.0);
    assert_eq!(s.metric("seuss_cache_evictions_total", ""), 2.0);
    assert!(s.metric("seuss_cache_bytes", "") > 1024.0, "the last snapshot stays even over the budget");
    for name in ["a", "b", "c", "a"] {
        let r = s.invoke(name, "blocking=true&result=true", "{}");
        assert_eq!((r.status, r.json()), (200, json!({ "name": name })));
    }
    // Evicted snapshots are served by the idle clones the warm path left, or come back from the
    // state dir (verified), never from a new import.
    assert_eq!(s.metric("seuss_warm_snapshots_total", ""), 3.0);
    assert_eq!(s.metric("seuss_cache_entries", ""), 1.0);
}
