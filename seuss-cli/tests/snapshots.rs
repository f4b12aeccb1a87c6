//! Snapshots and clones on real KVM: invoke = run = Node.js, warm diffs are small, clones are
//! isolated and fresh (randomness, clock), snapshot files are validated and never modified.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

fn seuss(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.args(args);
    run_with_timeout(&mut cmd, Duration::from_secs(120))
}

fn scratch() -> PathBuf {
    let d = std::env::temp_dir().join(format!("seuss-snap-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn snapshot_of(image_name: &str, dir: &Path) -> String {
    let out = dir.join(format!("{image_name}.snap"));
    let o = seuss(&["snapshot", &image(image_name).display().to_string(), "-o", &out.display().to_string()]);
    assert!(o.status.success(), "snapshot {image_name}: {}", stderr(&o));
    out.display().to_string()
}

fn runtime_snapshot(dir: &Path) -> String {
    let out = dir.join("runtime.snap");
    let o = seuss(&["snapshot", "--runtime", &image("runtime").display().to_string(), "-o", &out.display().to_string()]);
    assert!(o.status.success(), "runtime snapshot: {}", stderr(&o));
    out.display().to_string()
}

fn inspect(snap: &str) -> serde_json::Value {
    let o = seuss(&["inspect", snap]);
    serde_json::from_slice(&o.stdout).expect("inspect prints JSON")
}

/// Builds `js` into an image and snapshots it at its invocation point: `dir/NAME.snap`.
fn function_snapshot(dir: &Path, name: &str, js: &str) -> PathBuf {
    let img = js_image(dir, name, js);
    let snap = dir.join(format!("{name}.snap"));
    let o = seuss(&["snapshot", &img.display().to_string(), "-o", &snap.display().to_string()]);
    assert!(o.status.success(), "snapshot {name}: {}", stderr(&o));
    snap
}

fn scratch_js(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn invoke_on_a_clone_matches_node_for_every_example() {
    let dir = scratch();
    let mut failures = Vec::new();
    let mut snaps = std::collections::HashMap::new();
    for (name, args) in CASES {
        let snap = snaps.entry(*name).or_insert_with(|| snapshot_of(name, &dir)).clone();
        let ours = seuss(&["invoke", &snap, "--args", args]);
        let reference = node(&example_source(name), args);
        if stdout(&ours) != last_line(&reference) + "\n" || ours.status.code() != reference.status.code() {
            failures.push(format!("{name} {args}: {:?} (exit {:?}) vs node {:?}", stdout(&ours), ours.status.code(), last_line(&reference)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn warm_path_diff_snapshot_is_small_and_correct() {
    let dir = scratch();
    let runtime = runtime_snapshot(&dir);
    let hello = dir.join("hello-warm.snap");
    let o = seuss(&["snapshot", "--from", &runtime, "--function", &example_source("hello").display().to_string(), "-o", &hello.display().to_string()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (r, f) = (inspect(&runtime), inspect(&hello.display().to_string()));
    assert_eq!(r["parent"], serde_json::Value::Null);
    assert_eq!(f["ok"], true, "the snapshot and its parent chain load");
    assert_eq!(f["checksum_ok"], true);
    for key in ["format_version", "parent", "image", "guest_memory_bytes", "stored_pages", "stored_bytes", "checksum_ok"] {
        assert!(!f[key].is_null(), "inspect lacks {key}: {f}");
    }
    assert_eq!(f["stored_bytes"].as_u64().unwrap(), f["stored_pages"].as_u64().unwrap() * 4096);
    let (rp, fp) = (r["stored_pages"].as_u64().unwrap(), f["stored_pages"].as_u64().unwrap());
    assert!(fp * 5 < rp, "diff stores {fp} pages, parent {rp}");
    let out = seuss(&["invoke", &hello.display().to_string(), "--args", r#"{"name":"warm"}"#]);
    assert_eq!(stdout(&out), "{\"greeting\":\"Hello, warm!\"}\n", "{}", stderr(&out));
    // Every example through the warm path equals Node.js too.
    for (name, args) in [("esm", r#"{"name":"x"}"#), ("commonjs", "{}"), ("async", r#"{"delay":5}"#)] {
        let snap = dir.join(format!("{name}-warm.snap"));
        let src = example_source(name).display().to_string();
        assert!(seuss(&["snapshot", "--from", &runtime, "--function", &src, "-o", &snap.display().to_string()]).status.success());
        let ours = seuss(&["invoke", &snap.display().to_string(), "--args", args]);
        assert_eq!(stdout(&ours).trim_end(), last_line(&node(&example_source(name), args)), "{name}");
    }
}

#[test]
fn a_broken_function_on_the_warm_path_is_reported() {
    let dir = scratch();
    let runtime = runtime_snapshot(&dir);
    let js = scratch_js(&dir, "throws-at-import.js", "throw new Error('no import for you');\nfunction main() {}\n");
    let o = seuss(&["snapshot", "--from", &runtime, "--function", &js.display().to_string(), "-o", &dir.join("x.snap").display().to_string()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no import for you"), "{}", stderr(&o));
}

#[test]
fn clones_never_share_random_values() {
    let dir = scratch();
    let snap = function_snapshot(
        &dir,
        "rand",
        "function main() { return { r: Math.random(), b: Array.from(crypto.getRandomValues(new Uint8Array(8))), u: crypto.randomUUID() }; }\n",
    );
    let a = seuss(&["invoke", &snap.display().to_string(), "-n", "3"]);
    let b = seuss(&["invoke", &snap.display().to_string()]);
    let mut lines: Vec<String> = stdout(&a).lines().map(String::from).collect();
    lines.extend(stdout(&b).lines().map(String::from));
    assert_eq!(lines.len(), 4);
    let values: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
    for i in 0..values.len() {
        for j in i + 1..values.len() {
            for key in ["r", "b", "u"] {
                assert_ne!(values[i][key], values[j][key], "clones {i} and {j} share {key}");
            }
        }
    }
}

#[test]
fn no_state_leaks_between_invocations_and_the_file_never_changes() {
    let dir = scratch();
    let snap = function_snapshot(&dir, "counter", "let count = 0;\nfunction main() { count += 1; return { count }; }\n");
    let before = std::fs::read(&snap).unwrap();
    let out = seuss(&["invoke", &snap.display().to_string(), "-n", "4"]);
    assert_eq!(stdout(&out), "{\"count\":1}\n".repeat(4), "each invocation starts from the snapshot");
    assert_eq!(std::fs::read(&snap).unwrap(), before, "clones never write the snapshot file");
    // In-process: two live clones of one snapshot do not see each other's writes.
    let kvm = kvm_ioctls::Kvm::new().unwrap();
    let loaded = seuss_hv::Loaded::open(&snap).unwrap();
    let mut a = seuss_hv::Instance::from_snapshot(&kvm, &loaded, &seuss_hv::Config::default()).unwrap();
    let mut b = seuss_hv::Instance::from_snapshot(&kvm, &loaded, &seuss_hv::Config::default()).unwrap();
    a.invoke("{}").unwrap();
    assert_eq!(a.invoke("{}").unwrap().result.unwrap(), r#"{"count":2}"#, "reuse keeps state in one clone");
    assert_eq!(b.invoke("{}").unwrap().result.unwrap(), r#"{"count":1}"#, "the other clone is untouched");
    a.reset().unwrap();
    assert_eq!(a.invoke("{}").unwrap().result.unwrap(), r#"{"count":1}"#, "reset = fresh clone");
}

#[test]
fn a_reset_clone_forgets_big_heaps_new_pages_timeouts_and_crashes() {
    let dir = scratch();
    // Invocation 1 grows a large global (pages the snapshot never had); later ones must see
    // the snapshot's state again, whatever happened before the reset.
    let snap = function_snapshot(
        &dir,
        "grow",
        "let count = 0; let big = null;\n\
         function main(p) { count++; if (p.grow) { big = new Array(300000).fill(count); }\n\
           if (p.spin) { for (;;) {} }\n\
           return { count, len: big ? big.length : 0, first: big ? big[0] : null }; }\n",
    );
    let kvm = kvm_ioctls::Kvm::new().unwrap();
    let loaded = seuss_hv::Loaded::open(&snap).unwrap();
    let cfg = seuss_hv::Config { timeout: Duration::from_secs(2), ..seuss_hv::Config::default() };
    let mut inst = seuss_hv::Instance::from_snapshot(&kvm, &loaded, &cfg).unwrap();
    let fresh = r#"{"count":1,"len":0,"first":null}"#;
    assert_eq!(inst.invoke(r#"{"grow":true}"#).unwrap().result.unwrap(), r#"{"count":1,"len":300000,"first":1}"#);
    assert!(inst.pages_written().unwrap() > 100, "growing a 300k array writes many pages");
    inst.reset().unwrap();
    assert_eq!(inst.invoke("{}").unwrap().result.unwrap(), fresh, "reset after growth");
    inst.reset().unwrap();
    assert!(matches!(inst.invoke(r#"{"spin":true}"#), Err(seuss_hv::Error::Timeout(_))));
    inst.reset().unwrap();
    assert_eq!(inst.invoke("{}").unwrap().result.unwrap(), fresh, "reset after a timeout");
    for _ in 0..3 {
        inst.reset().unwrap();
        assert_eq!(inst.invoke(r#"{"grow":true}"#).unwrap().result.unwrap(), r#"{"count":1,"len":300000,"first":1}"#);
    }
}

#[test]
fn the_warm_path_can_keep_its_instance_as_the_first_clone() {
    let dir = scratch();
    let runtime = seuss_hv::Loaded::open(Path::new(&runtime_snapshot(&dir))).unwrap();
    let kvm = kvm_ioctls::Kvm::new().unwrap();
    let src = "let count = 0; const big = new Array(20000).fill(7);\nfunction main(p) { count += 1; return { count, n: p.n, s: big.length }; }\n";
    let cfg = seuss_hv::Config::default();
    let (snap, mut first) = seuss_hv::warm_snapshot_and_clone(&kvm, &runtime, src, &cfg, &dir.join("kept.snap"), seuss_hv::Storage::default()).unwrap();
    let want = r#"{"count":1,"n":1,"s":20000}"#;
    assert_eq!(first.invoke(r#"{"n":1}"#).unwrap().result.unwrap(), want);
    for _ in 0..3 {
        first.reset().unwrap();
        assert_eq!(first.invoke(r#"{"n":1}"#).unwrap().result.unwrap(), want, "reset returns to the new function snapshot");
    }
    let mut other = seuss_hv::Instance::from_snapshot(&kvm, &snap, &cfg).unwrap();
    assert_eq!(other.invoke(r#"{"n":1}"#).unwrap().result.unwrap(), want, "a fresh clone agrees");
}

#[test]
fn wall_clock_is_current_after_restoring_an_old_snapshot() {
    let dir = scratch();
    let snap = function_snapshot(&dir, "now", "function main() { return { now: Date.now() }; }\n");
    // Age the snapshot: move its TSC forward by ~10 minutes' worth of ticks, so a guest that did
    // not re-base its wall clock on the host's time would be minutes off.
    let old = snapfmt::Snapshot::open(&snap).unwrap();
    let mut header = old.header().clone();
    let mut data = vec![0u8; old.data_len() as usize];
    for i in 0..header.stored_pages() {
        old.read_page(i, &mut data[(i * 4096) as usize..((i + 1) * 4096) as usize]).unwrap();
    }
    for (index, value) in header.vcpu.msrs.iter_mut() {
        if *index == 0x10 {
            *value += 600 * 3_000_000_000;
        }
    }
    header.created_unix_ns -= 600 * 1_000_000_000;
    let aged = dir.join("aged.snap");
    snapfmt::write(&aged, &header, &data).unwrap();
    let out = seuss(&["invoke", &aged.display().to_string()]);
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap_or_else(|_| panic!("{}", stderr(&out)));
    let guest = v["now"].as_f64().unwrap();
    let host = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as f64;
    assert!((host - guest).abs() < 2000.0, "guest Date.now {guest} vs host {host}");
}

#[test]
fn corrupt_snapshot_files_are_refused_with_the_reason() {
    let dir = scratch();
    let good = snapshot_of("nop", &dir);
    let bytes = std::fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", bytes[..bytes.len() - 4096].to_vec(), "truncated"),
        ("foreign", b"\x7fELF this is not a snapshot at all, just some bytes............................".to_vec(), "not a snapshot"),
        ("tampered-data", { let mut b = bytes.clone(); let n = b.len(); b[n - 100] ^= 0xff; b }, "checksum"),
        ("tampered-header", { let mut b = bytes.clone(); b[100] ^= 0x01; b }, "checksum"),
    ];
    for (name, content, needle) in cases {
        let p = dir.join(format!("{name}.snap"));
        std::fs::write(&p, content).unwrap();
        let out = seuss(&["invoke", &p.display().to_string()]);
        assert_eq!(out.status.code(), Some(5), "{name}: a corrupt file is a host-side format error");
        assert!(stderr(&out).contains(needle), "{name}: {}", stderr(&out));
        let i = inspect(&p.display().to_string());
        assert_eq!(i["checksum_ok"], false, "{name}");
    }
}

#[test]
fn a_diff_snapshot_refuses_a_different_parent() {
    let dir = scratch();
    let runtime = runtime_snapshot(&dir);
    let f = dir.join("f.snap");
    assert!(seuss(&["snapshot", "--from", &runtime, "--function", &example_source("nop").display().to_string(), "-o", &f.display().to_string()]).status.success());
    // Replace the parent by another valid snapshot (a function snapshot of another image).
    let other = snapshot_of("hello", &dir);
    std::fs::copy(&other, &runtime).unwrap();
    let out = seuss(&["invoke", &f.display().to_string()]);
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("was taken from parent"), "{}", stderr(&out));
}

#[test]
fn the_cache_counts_hits_misses_and_evicts_over_budget() {
    let dir = scratch();
    let runtime = seuss_hv::Loaded::open(Path::new(&runtime_snapshot(&dir))).unwrap();
    let kvm = kvm_ioctls::Kvm::new().unwrap();
    let mut cache = seuss_hv::SnapshotCache::new(dir.join("cache"), 1).unwrap();
    let cfg = seuss_hv::Config::default();
    let a = "function main() { return { v: 'a' }; }";
    let b = "function main() { return { v: 'b' }; }";
    let snap_a = cache.get_or_create(&kvm, &runtime, a, &cfg).unwrap();
    cache.get_or_create(&kvm, &runtime, a, &cfg).unwrap();
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.entries), (1, 1, 1));
    assert!(s.resident_bytes > 0);
    let mut inst = seuss_hv::Instance::from_snapshot(&kvm, &snap_a, &cfg).unwrap();
    assert_eq!(inst.invoke("{}").unwrap().result.unwrap(), r#"{"v":"a"}"#);
    cache.get_or_create(&kvm, &runtime, b, &cfg).unwrap();
    let s = cache.stats();
    assert_eq!((s.misses, s.evictions, s.entries), (2, 1, 1), "budget of 1 byte keeps only the newest");
}

#[test]
fn snapshot_flags_say_which_step_comes_first() {
    let dir = scratch();
    let out_path = dir.join("x.snap").display().to_string();
    let js = scratch_js(&dir, "f", "function main() { return {}; }").display().to_string();
    // A runtime image given where a function image goes: the two steps are named.
    let out = seuss(&["snapshot", &image("runtime").display().to_string(), "-o", &out_path]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("seuss snapshot --runtime") && stderr(&out).contains("--from runtime.snap"), "{}", stderr(&out));
    // --function goes with a runtime *snapshot* (--from), not with the runtime image.
    let out = seuss(&["snapshot", "--runtime", &image("runtime").display().to_string(), "--function", &js, "-o", &out_path]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--function"), "{}", stderr(&out));
    assert!(!Path::new(&out_path).exists(), "nothing written");
}
