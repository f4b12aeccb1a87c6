//! Regression tests of issue 11 (hardening), on real KVM: parent cycles, hostile functions
//! against the result framing, forged snapshot headers, the exit-status table for `run`,
//! `snapshot` and `invoke`, console bounds in the CLI, FIFOs, lone surrogates, clone rips,
//! corrupt images, snapshot files truncated while in use.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::*;

fn seuss(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.args(args);
    run_with_timeout(&mut cmd, Duration::from_secs(120))
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("seuss-hard-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn runtime_snapshot(dir: &Path) -> PathBuf {
    let out = dir.join("rt.snap");
    let o = seuss(&["snapshot", "--runtime", &s(&image("runtime")), "-o", &s(&out)]);
    assert!(o.status.success(), "runtime snapshot: {}", stderr(&o));
    out
}

/// A function snapshot of `js` over the runtime snapshot `rt` (the warm path): `dir/NAME.snap`.
fn warm(dir: &Path, rt: &Path, name: &str, js: &str) -> PathBuf {
    let src = dir.join(format!("{name}.js"));
    std::fs::write(&src, js).unwrap();
    let out = dir.join(format!("{name}.snap"));
    let o = seuss(&["snapshot", "--from", &s(rt), "--function", &s(&src), "-o", &s(&out)]);
    assert!(o.status.success(), "snapshot {name}: {}", stderr(&o));
    out
}

/// Every stdout line is one JSON value; returns them.
fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?} is not JSON ({e}); stderr: {}", stderr(o))))
        .collect()
}

/// The header and page data of a snapshot file, for forging.
fn read_snapshot(path: &Path) -> (snapfmt::Header, Vec<u8>) {
    let snap = snapfmt::Snapshot::open(path).unwrap();
    let mut data = vec![0u8; snap.data_len() as usize];
    for (i, page) in data.chunks_mut(4096).enumerate() {
        snap.read_page(i as u64, page).unwrap();
    }
    (snap.header().clone(), data)
}

/// Offsets in `kvm_regs` (16 general-purpose registers, then rip and rflags, 8 bytes each).
const RDX: usize = 3 * 8;
const RDI: usize = 5 * 8;
const RIP: usize = 16 * 8;

fn reg(h: &snapfmt::Header, off: usize) -> u64 {
    u64::from_le_bytes(h.vcpu.regs[off..off + 8].try_into().unwrap())
}

fn set_reg(h: &mut snapfmt::Header, off: usize, v: u64) {
    h.vcpu.regs[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

// ---- item 1: parent cycles -------------------------------------------------------------

#[test]
fn output_equal_to_an_input_or_a_parent_is_refused() {
    let dir = scratch("out-input");
    let rt = runtime_snapshot(&dir);
    let before = std::fs::read(&rt).unwrap();
    let hello = s(&example_source("hello"));
    let o = seuss(&["snapshot", "--from", &s(&rt), "--function", &hello, "-o", &s(&rt)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is also an input"), "{}", stderr(&o));
    // The same file under another name: a symlink and a path through `..`.
    std::os::unix::fs::symlink(&rt, dir.join("alias.snap")).unwrap();
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for out in [dir.join("alias.snap"), dir.join("sub/../rt.snap")] {
        let o = seuss(&["snapshot", "--from", &s(&rt), "--function", &hello, "-o", &s(&out)]);
        assert_eq!(o.status.code(), Some(2), "{}: {}", out.display(), stderr(&o));
    }
    assert_eq!(std::fs::read(&rt).unwrap(), before, "the parent was not overwritten");
}

#[test]
fn parent_loops_are_errors_not_stack_overflows() {
    let dir = scratch("loops");
    let rt = runtime_snapshot(&dir);
    let f = warm(&dir, &rt, "hello", &std::fs::read_to_string(example_source("hello")).unwrap());
    // What the old `-o rt.snap` left behind: a child sitting at its own parent's path.
    std::fs::rename(&f, &rt).unwrap();
    // The same file copied into another directory, and a chain through a symlink loop.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(&rt, other.join("rt.snap")).unwrap();
    std::os::unix::fs::symlink("loop-b.snap", dir.join("loop-a.snap")).unwrap();
    std::os::unix::fs::symlink("loop-a.snap", dir.join("loop-b.snap")).unwrap();
    let (mut h, data) = read_snapshot(&rt);
    h.parent.as_mut().unwrap().path = "loop-a.snap".into();
    snapfmt::write(&dir.join("via-loop.snap"), &h, &data).unwrap();
    for (file, needle) in [
        (rt.clone(), "was taken from parent"),
        (other.join("rt.snap"), "was taken from parent"),
        (dir.join("loop-a.snap"), "symbolic links"),
        (dir.join("via-loop.snap"), "symbolic links"),
    ] {
        let o = seuss(&["invoke", &s(&file)]);
        assert_eq!(o.status.code(), Some(5), "{}: {}", file.display(), stderr(&o));
        assert!(stderr(&o).contains(needle), "{}: {}", file.display(), stderr(&o));
        let i = seuss(&["inspect", &s(&file)]);
        assert_eq!(i.status.code(), Some(5), "inspect {}: {}", file.display(), stderr(&i));
        let v: serde_json::Value = serde_json::from_slice(&i.stdout).expect("inspect prints one JSON object");
        assert_eq!(v["ok"], false);
        assert!(v["error"].as_str().unwrap().contains(needle), "{v}");
    }
}

#[test]
fn parent_chains_longer_than_the_limit_are_refused() {
    let dir = scratch("depth");
    let rt = runtime_snapshot(&dir);
    // Runtime-kind links without pages of their own, each naming the one before by its real
    // id: every link is valid, only the length is wrong.
    let (h, _) = read_snapshot(&rt);
    let mut parent = (snapfmt::Snapshot::open(&rt).unwrap().id(), "rt.snap".to_string());
    for i in 1..=9 {
        let mut link = h.clone();
        link.parent = Some(snapfmt::ParentRef { id: parent.0, path: parent.1.clone() });
        link.runs.clear();
        let name = format!("link{i}.snap");
        let id = snapfmt::write(&dir.join(&name), &link, &[]).unwrap();
        parent = (id, name);
    }
    let ok = seuss(&["inspect", &s(&dir.join("link7.snap"))]);
    assert_eq!(ok.status.code(), Some(0), "8 links are allowed: {}", stdout(&ok));
    let o = seuss(&["inspect", &s(&dir.join("link9.snap"))]);
    assert_eq!(o.status.code(), Some(5));
    assert!(stdout(&o).contains("longer than 8 snapshots"), "{}", stdout(&o));
}

// ---- item 2: result framing against hostile functions ------------------------------------

#[test]
fn hostile_functions_cannot_forge_or_break_result_lines() {
    let dir = scratch("hostile");
    let rt = runtime_snapshot(&dir);
    let cases = [
        ("two-lines", "function main() { JSON.stringify = () => '{\"id\":1}\\n{\"id\":2}'; return {}; }"),
        ("not-json", "function main() { JSON.stringify = () => 'not json'; return {}; }"),
        ("finish-forged", "function main() { __seuss.finish = () => '{\"id\":1}\\n{\"id\":2}'; return {}; }"),
        ("finish-not-json", "function main() { __seuss.finish = () => 'not json'; return {}; }"),
        ("no-json", "function main() { delete globalThis.JSON; return { a: 1 }; }"),
    ];
    for (name, js) in cases {
        let snap = warm(&dir, &rt, name, &format!("{js}\n"));
        let o = seuss(&["invoke", &s(&snap), "-n", "2"]);
        let lines = json_lines(&o);
        assert_eq!(lines.len(), 2, "{name}: one line per invocation: {}", stdout(&o));
        for v in &lines {
            assert!(v.is_object(), "{name}: {v}");
            assert!(v.get("id").is_none(), "{name}: a forged result got through: {v}");
        }
        // An error result (the host's "not JSON", or the launcher's own) is exit 1, a clean
        // result exit 0; nothing else.
        let errors = lines.iter().any(|v| v.get("error").is_some());
        assert_eq!(o.status.code(), Some(if errors { 1 } else { 0 }), "{name}: {}", stdout(&o));
        if let Some(e) = lines[0].get("error").and_then(|e| e.as_str()) {
            if e.contains("not JSON") {
                assert!(e.starts_with("the function's result is not JSON"), "{name}: {e}");
            }
        }
    }
}

#[test]
fn the_host_refuses_a_raw_result_that_is_not_one_json_value() {
    // A guest that hands the host raw text, whatever a launcher would do.
    for (text, ok) in [("{\"id\":1}\n{\"id\":2}", false), ("not json", false), ("{\"a\":1} {\"b\":2}", false), ("{\"a\":[1,2]}", true)] {
        let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
        let o = seuss(&["run", &s(&image("hypercall-fuzz")), "--", "result", &hex]);
        let lines = json_lines(&o);
        assert_eq!(lines.len(), 1, "{text:?}: {}", stdout(&o));
        if ok {
            assert_eq!(o.status.code(), Some(0), "{text:?}");
            assert_eq!(lines[0], serde_json::json!({"a": [1, 2]}));
        } else {
            assert_eq!(o.status.code(), Some(1), "{text:?}: {}", stderr(&o));
            assert!(lines[0]["error"].as_str().unwrap().starts_with("the function's result is not JSON"), "{}", lines[0]);
        }
    }
}

// ---- item 3: header fields ---------------------------------------------------------------

#[test]
fn forged_header_fields_are_refused_naming_the_field() {
    let dir = scratch("forged");
    let rt = runtime_snapshot(&dir);
    let snap = warm(&dir, &rt, "hello", &std::fs::read_to_string(example_source("hello")).unwrap());
    let (h, data) = read_snapshot(&snap);
    let base = h.guest_memory_base;
    type Forge = Box<dyn Fn(&mut snapfmt::Header)>;
    let cases: Vec<(&str, Forge, &str)> = vec![
        ("2tib", Box::new(|h| h.guest_memory_bytes = 2 << 40), "above the 64 GiB limit"),
        ("odd-size", Box::new(|h| h.guest_memory_bytes += 4096), "multiple of 2 MiB"),
        ("base", Box::new(|h| h.guest_memory_base = 0x2_0000_0000), "guest memory starts at"),
        ("rdi-outside", Box::new(move |h| set_reg(h, RDI, base - 0x1000)), "outside guest memory"),
        ("rdi-moved", Box::new(|h| { let v = reg(h, RDI) - 0x1000; set_reg(h, RDI, v) }), "saved rdi"),
        ("rip-outside", Box::new(|h| set_reg(h, RIP, 0x1000)), "instruction pointer"),
        ("rip-moved", Box::new(|h| { let v = reg(h, RIP) + 3; set_reg(h, RIP, v) }), "instruction pointer"),
        ("rdx", Box::new(|h| set_reg(h, RDX, 0x2020)), "saved rdx"),
        ("abi", Box::new(|h| h.abi_version += 1), "guest ABI"),
    ];
    for (name, forge, needle) in cases {
        let mut forged = h.clone();
        forge(&mut forged);
        let p = dir.join(format!("{name}.snap"));
        snapfmt::write(&p, &forged, &data).unwrap();
        let o = seuss(&["invoke", &s(&p), "--args", r#"{"name":"Ada"}"#]);
        assert_eq!(o.status.code(), Some(5), "{name}: {} {}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(needle), "{name}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{name}: no result from a refused snapshot: {}", stdout(&o));
    }
    // The untouched header still works (the forging itself is sound).
    let p = dir.join("same.snap");
    snapfmt::write(&p, &h, &data).unwrap();
    assert_eq!(stdout(&seuss(&["invoke", &s(&p), "--args", r#"{"name":"Ada"}"#])), "{\"greeting\":\"Hello, Ada!\"}\n");
}

// ---- item 4: one exit-status table ---------------------------------------------------------

#[test]
fn run_exit_statuses_follow_the_table() {
    let dir = scratch("run-exit");
    let crash_at_import = js_image(&dir, "import-oom", "const a = []; for (;;) a.push(new Array(100000).fill(1));\nfunction main() { return {}; }\n");
    let truncated = dir.join("truncated.img");
    std::fs::write(&truncated, &std::fs::read(image("hello")).unwrap()[..20_000]).unwrap();
    let cases: Vec<(Vec<String>, i32)> = vec![
        (vec![s(&image("hello"))], 0),
        (vec![s(&image("throws")), "--args".into(), "{}".into()], 1),
        (vec![s(&image("hello")), "--args".into(), "{".into()], 2),
        (vec![s(&crash_at_import), "-m".into(), "32MiB".into()], 4),
        (vec![s(&truncated)], 5),
    ];
    for (args, want) in cases {
        let mut all = vec!["run".to_string()];
        all.extend(args.iter().cloned());
        let o = seuss(&all.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(o.status.code(), Some(want), "{args:?}: {}", stderr(&o));
        if want == 4 {
            let lines = json_lines(&o);
            assert_eq!(lines.len(), 1, "a JS image that died still prints one line");
            assert!(lines[0]["error"].as_str().unwrap().contains("before its invocation"), "{}", lines[0]);
        }
    }
}

#[test]
fn snapshot_exit_statuses_follow_the_table() {
    let dir = scratch("snap-exit");
    let rt = runtime_snapshot(&dir);
    let o = |args: &[&str]| seuss(&[&["snapshot"], args].concat());
    let out = s(&dir.join("x.snap"));
    let js = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        s(&p)
    };
    let throws = js("throws.js", "throw new Error('import fails');\nfunction main() {}\n");
    let loops = js("loops.js", "for (;;) {}\nfunction main() {}\n");
    let oom = js_image(&dir, "import-oom", "const a = []; for (;;) a.push(new Array(100000).fill(1));\nfunction main() { return {}; }\n");
    let truncated = dir.join("truncated.img");
    std::fs::write(&truncated, &std::fs::read(image("hello")).unwrap()[..20_000]).unwrap();
    let hello = s(&example_source("hello"));
    for (args, want) in [
        (vec!["--from", &s(&rt), "--function", &hello, "-o", &out], 0),
        (vec!["--from", &s(&rt), "--function", &throws, "-o", &out], 1),
        (vec!["--from", &s(&rt), "--function", &hello, "-o", &s(&rt)], 2),
        (vec!["--from", &s(&rt), "--function", &loops, "-o", &out, "--timeout", "1"], 3),
        (vec![&s(&oom), "-m", "32MiB", "-o", &out], 4),
        (vec![&s(&truncated), "-o", &out], 5),
    ] {
        let r = o(&args);
        assert_eq!(r.status.code(), Some(want), "{args:?}: {}", stderr(&r));
    }
}

#[test]
fn invoke_exit_statuses_follow_the_table_with_one_line_each() {
    let dir = scratch("invoke-exit");
    let rt = runtime_snapshot(&dir);
    let hello = warm(&dir, &rt, "hello", &std::fs::read_to_string(example_source("hello")).unwrap());
    let throws = warm(&dir, &rt, "throws", "function main() { throw new Error('nope'); }\n");
    let spin = warm(&dir, &rt, "spin", "function main() { for (;;) {} }\n");
    let hog = warm(&dir, &rt, "hog", "function main() { const a = []; for (;;) a.push(new Array(100000).fill(1)); }\n");
    let check = |args: &[&str], want: i32, lines: usize| {
        let o = seuss(&[&["invoke"], args].concat());
        assert_eq!(o.status.code(), Some(want), "{args:?}: {}", stderr(&o));
        let v = json_lines(&o);
        assert_eq!(v.len(), lines, "{args:?}: {}", stdout(&o));
        v
    };
    check(&[&s(&hello)], 0, 1);
    check(&[&s(&throws), "-n", "2"], 1, 2);
    check(&[&s(&rt)], 2, 0);
    check(&[&s(&hello), "--args", "[1,"], 2, 0);
    for v in check(&[&s(&spin), "-n", "3", "--timeout", "1"], 3, 3) {
        assert!(v["error"].as_str().unwrap().contains("timed out"), "{v}");
    }
    // The guest dies mid-invocation (out of memory: the allocator aborts); the next
    // invocation runs on a reset clone and dies the same way.
    for v in check(&[&s(&hog), "-n", "2"], 4, 2) {
        assert!(v["error"].as_str().unwrap().contains("exit status 134"), "{v}");
    }
    let corrupt = dir.join("corrupt.snap");
    let mut bytes = std::fs::read(&hello).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 1;
    std::fs::write(&corrupt, bytes).unwrap();
    check(&[&s(&corrupt)], 5, 0);
}

// ---- item 5: console bounds in the CLI -----------------------------------------------------

#[test]
fn console_floods_are_cut_at_ten_mebibytes_per_invocation() {
    let dir = scratch("flood");
    let js = "function main() { const s = 'x'.repeat(2 * 1024 * 1024); for (let i = 0; i < 20; i++) console.log(s); return { done: true }; }\n";
    let img = js_image(&dir, "flood", js);
    let o = seuss(&["run", &s(&img)]);
    assert_eq!(stdout(&o), "{\"done\":true}\n");
    let err = stderr(&o);
    assert!(err.len() < 11 * 1024 * 1024, "{} bytes on stderr", err.len());
    assert!(err.len() > 5 * 1024 * 1024, "the bound is not a silence: {} bytes", err.len());
    assert!(err.contains(seuss_hv::TRUNCATED_NOTE), "a marker line notes the cut");
    let rt = runtime_snapshot(&dir);
    let snap = warm(&dir, &rt, "flood-warm", js);
    let o = seuss(&["invoke", &s(&snap), "-n", "3"]);
    assert_eq!(stdout(&o), "{\"done\":true}\n".repeat(3));
    assert!(o.stderr.len() < 33 * 1024 * 1024, "{} bytes on stderr", o.stderr.len());
    assert_eq!(stderr(&o).matches(seuss_hv::TRUNCATED_NOTE).count(), 3, "one cut per invocation");
}

// ---- item 6 --------------------------------------------------------------------------------

#[test]
fn a_fifo_as_snapshot_path_is_refused_without_blocking() {
    let dir = scratch("fifo");
    let fifo = dir.join("x.snap");
    let ok = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(ok.success());
    // run_with_timeout fails the test if either command blocks.
    for cmd in ["invoke", "inspect"] {
        let mut c = Command::new(env!("CARGO_BIN_EXE_seuss"));
        c.args([cmd, &s(&fifo)]);
        let o = run_with_timeout(&mut c, Duration::from_secs(20));
        assert_eq!(o.status.code(), Some(5), "{cmd}");
        assert!((stderr(&o) + &stdout(&o)).contains("not a regular file"), "{cmd}: {}", stderr(&o));
    }
    let mut c = Command::new(env!("CARGO_BIN_EXE_seuss"));
    c.args(["snapshot", "--from", &s(&fifo), "--function", &s(&example_source("hello")), "-o", &s(&dir.join("y.snap"))]);
    let o = run_with_timeout(&mut c, Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
}

#[test]
fn lone_surrogates_in_args_pass_the_host() {
    let dir = scratch("surrogates");
    let args = r#"{"name":"\ud800"}"#;
    let o = seuss(&["run", &s(&image("hello")), "--args", args]);
    assert_ne!(o.status.code(), Some(2), "the host accepts what Node accepts: {}", stderr(&o));
    assert!(!stderr(&o).contains("args are not"), "{}", stderr(&o));
    // What Node prints for `JSON.stringify({greeting: "Hello, \ud800!"})`: well-formed
    // JSON.stringify escapes the lone surrogate (serde_json cannot parse it, so compare text).
    let node = r#"{"greeting":"Hello, \ud800!"}"#;
    assert_eq!(stdout(&o).lines().collect::<Vec<_>>(), [node], "{}", stderr(&o));
    let rt = runtime_snapshot(&dir);
    let snap = warm(&dir, &rt, "hello", &std::fs::read_to_string(example_source("hello")).unwrap());
    let o = seuss(&["invoke", &s(&snap), "--args", args, "-n", "2"]);
    assert_ne!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().collect::<Vec<_>>(), [node, node], "{}", stderr(&o));
}

/// A snapshot of the hypercall-fuzz guest parked for invocations (`serve`).
fn fuzz_clone_snapshot(dir: &Path) -> std::sync::Arc<seuss_hv::Loaded> {
    let kvm = seuss_hv::Kvm::new().unwrap();
    let img = image("hypercall-fuzz");
    let config = seuss_hv::Config { args: vec!["serve".into()], ..seuss_hv::Config::default() };
    let mut inst = seuss_hv::Instance::boot(&kvm, &seuss_hv::Image::from_file(&img).unwrap(), &config).unwrap();
    assert_eq!(inst.run().unwrap(), seuss_hv::Event::WantsInvocation);
    let p = dir.join("fuzz.snap");
    seuss_hv::capture(&mut inst, &p, seuss_hv::image_ref(&img).unwrap()).unwrap();
    seuss_hv::Loaded::open(&p).unwrap()
}

#[test]
fn hypercall_errors_on_a_clone_name_the_real_rip() {
    let dir = scratch("clone-rip");
    let snap = fuzz_clone_snapshot(&dir);
    let kvm = seuss_hv::Kvm::new().unwrap();
    let mut clone = seuss_hv::Instance::from_snapshot(&kvm, &snap, &seuss_hv::Config::default()).unwrap();
    let (base, end) = (snap.header().guest_memory_base, snap.header().guest_memory_base + snap.header().guest_memory_bytes);
    let mut violations = 0;
    for seed in 0..20 {
        if seed > 0 {
            clone.reset().unwrap();
        }
        match clone.invoke(&format!(r#"{{"seed":{seed},"count":50}}"#)) {
            Err(seuss_hv::Error::Hypercall { rip, .. }) | Err(seuss_hv::Error::Crash { rip, .. }) => {
                assert!((base..end).contains(&rip), "seed {seed}: rip {rip:#x} outside guest RAM");
                violations += 1;
            }
            Err(e) => assert!(matches!(e.kind(), seuss_hv::ErrorKind::Timeout), "seed {seed}: {e}"),
            Ok(_) => {}
        }
    }
    assert!(violations > 0, "random hypercalls broke no rule in 20 invocations");
}

#[test]
fn corrupt_images_are_refused_with_a_reason_not_loader_internals() {
    let dir = scratch("images");
    let good = std::fs::read(image("hello")).unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = [64usize, 100, 2014, 14_100, 20_000, good.len() / 2, good.len() - 1]
        .iter()
        .map(|&n| (format!("truncated-{n}"), good[..n].to_vec()))
        .collect();
    let mut put = |name: &str, off: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[off..off + bytes.len()].copy_from_slice(bytes);
        cases.push((name.into(), b));
    };
    put("phoff-huge", 32, &u64::MAX.to_le_bytes());
    put("phoff-odd", 32, &0x41u64.to_le_bytes());
    put("phnum-huge", 56, &0xffffu16.to_le_bytes());
    put("shoff-huge", 40, &(1u64 << 40).to_le_bytes());
    put("machine", 18, &3u16.to_le_bytes());
    // The first loadable segment's file offset and size.
    let phoff = u64::from_le_bytes(good[32..40].try_into().unwrap()) as usize;
    let phoff = (0..16).map(|i| phoff + i * 56).find(|&at| good[at..at + 4] == 1u32.to_le_bytes()).expect("a PT_LOAD");
    put("segment-offset", phoff + 8, &(1u64 << 33).to_le_bytes());
    put("segment-size", phoff + 32, &(1u64 << 33).to_le_bytes());
    for (name, bytes) in cases {
        let p = dir.join(format!("{name}.img"));
        std::fs::write(&p, bytes).unwrap();
        let o = seuss(&["run", &s(&p)]);
        let err = stderr(&o);
        assert!(matches!(o.status.code(), Some(2) | Some(5)), "{name}: exit {:?}: {err}", o.status.code());
        assert!(err.contains("is not a bootable Hermit image: "), "{name}: {err}");
        for internal in ["out of range", "unwrap", "panicked", "index", "assertion"] {
            assert!(!err.contains(internal), "{name}: loader internals leak: {err}");
        }
    }
}

#[test]
fn a_parent_truncated_while_in_use_is_a_host_error_not_a_guest_crash() {
    let dir = scratch("truncate");
    let rt = runtime_snapshot(&dir);
    let snap = warm(&dir, &rt, "touch", "function main() { const a = []; for (let i = 0; i < 3000; i++) a.push({ i, s: 'x' + i }); return { n: a.length }; }\n");
    let kvm = seuss_hv::Kvm::new().unwrap();
    let loaded = seuss_hv::Loaded::open(&snap).unwrap();
    let mut clone = seuss_hv::Instance::from_snapshot(&kvm, &loaded, &seuss_hv::Config::default()).unwrap();
    assert_eq!(clone.invoke("{}").unwrap().result.unwrap(), r#"{"n":3000}"#);
    // Cut the parent in place (what `truncate -s` does), while the clone maps it.
    let f = std::fs::OpenOptions::new().write(true).open(&rt).unwrap();
    f.set_len(std::fs::metadata(&rt).unwrap().len() / 3).unwrap();
    for e in [clone.reset().unwrap_err(), seuss_hv::Instance::from_snapshot(&kvm, &loaded, &seuss_hv::Config::default()).err().unwrap()] {
        assert_eq!(e.kind(), seuss_hv::ErrorKind::Host, "{e}");
        assert!(e.to_string().contains("changed while in use"), "{e}");
    }
    // The CLI: a batch whose parent is cut between invocations ends with status 5.
    let rt2 = runtime_snapshot(&scratch("truncate-cli"));
    let slow = warm(&dir, &rt2, "slow", "async function main() { await new Promise(r => setTimeout(r, 300)); return { ok: true }; }\n");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.args(["invoke", &s(&slow), "-n", "20"]);
    let cutter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        let f = std::fs::OpenOptions::new().write(true).open(&rt2).unwrap();
        f.set_len(4096 * 1000).unwrap();
    });
    let o = run_with_timeout(&mut cmd, Duration::from_secs(60));
    cutter.join().unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("changed while in use"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("triple fault"), "{}", stderr(&o));
    assert_eq!(json_lines(&o).len(), 20, "one line per invocation: {}", stdout(&o));
}

// ---- authentication: a store's own snapshots only ------------------------------------------

/// Snapshot files authenticated by `key`, pages inline.
fn keyed(key: &seuss_hv::StoreKey) -> seuss_hv::Storage<'_> {
    seuss_hv::Storage { pages: None, key: Some(key) }
}

#[test]
fn a_store_writes_authenticated_snapshots_and_refuses_forged_ones() {
    let dir = scratch("store");
    let kvm = seuss_hv::Kvm::new().unwrap();
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let key = seuss_hv::StoreKey::load_or_create(&store).unwrap();
    // The store's runtime snapshot, written and loaded with its key.
    let img = image("runtime");
    let mut boot = seuss_hv::Instance::boot(&kvm, &seuss_hv::Image::from_file(&img).unwrap(), &seuss_hv::Config::default()).unwrap();
    assert_eq!(boot.run().unwrap(), seuss_hv::Event::WantsSource);
    let rt = store.join("rt.snap");
    seuss_hv::capture_in(&mut boot, &rt, seuss_hv::image_ref(&img).unwrap(), keyed(&key)).unwrap();
    let runtime = seuss_hv::Loaded::open_in(&rt, keyed(&key)).unwrap();
    // The cache (what `seuss serve` keeps its functions in) authenticates with the same key,
    // created once per store directory.
    let mut cache = seuss_hv::SnapshotCache::new(store.clone(), u64::MAX).unwrap();
    assert_eq!(cache.store_key(), &key);
    let f = cache.get_or_create(&kvm, &runtime, "function main() { return { v: 1 }; }", &seuss_hv::Config::default()).unwrap();
    for p in [&rt, &f.path().to_path_buf()] {
        let i: serde_json::Value = serde_json::from_slice(&seuss(&["inspect", &s(p)]).stdout).unwrap();
        assert_eq!(i["authenticated"], true, "{i}");
    }
    // The whole chain loads with the key, and runs.
    let chain = seuss_hv::Loaded::open_in(f.path(), keyed(&key)).unwrap();
    let mut clone = seuss_hv::Instance::from_snapshot(&kvm, &chain, &seuss_hv::Config::default()).unwrap();
    assert_eq!(clone.invoke("{}").unwrap().result.as_deref(), Some(r#"{"v":1}"#));
    // A forger without the key: a harmless-looking change, every checksum recomputed.
    let (mut h, data) = read_snapshot(f.path());
    h.created_unix_ns += 1;
    let forged = store.join("forged.snap");
    snapfmt::write(&forged, &h, &data).unwrap();
    let e = seuss_hv::Loaded::open_in(&forged, keyed(&key)).err().expect("refused");
    assert!(e.to_string().contains("not authenticated"), "{e}");
    assert!(seuss_hv::Loaded::open(&forged).is_ok(), "only a reader with the key can tell");
    // Another store's key refuses this store's files, parents included.
    let other = seuss_hv::StoreKey::load_or_create(&scratch("store-other")).unwrap();
    assert!(seuss_hv::Loaded::open_in(f.path(), keyed(&other)).is_err());
    // An unkeyed parent under a keyed child is refused too.
    let plain_rt = runtime_snapshot(&dir);
    let plain = seuss_hv::Loaded::open(&plain_rt).unwrap();
    let f2 = seuss_hv::warm_snapshot_in(&kvm, &plain, "function main() { return {}; }", &seuss_hv::Config::default(), &dir.join("f2.snap"), keyed(&key)).unwrap();
    let e = seuss_hv::Loaded::open_in(f2.path(), keyed(&key)).err().expect("the parent has no tag");
    assert!(e.to_string().contains("not authenticated"), "{e}");
}
