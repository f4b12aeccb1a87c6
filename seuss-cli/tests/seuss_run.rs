//! Our hypervisor (`seuss run` and the library API) on real KVM: same results as Node.js and
//! stock uhyve, and a host that survives bad guests (garbage hypercalls, endless loops, OOM,
//! faults, files outside the mapping).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn seuss(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.arg("run").args(args);
    run_with_timeout(&mut cmd, Duration::from_secs(90))
}

fn img(name: &str) -> String {
    image(name).display().to_string()
}

#[test]
fn every_example_matches_node() {
    let mut failures = Vec::new();
    for (name, args) in CASES {
        let ours = seuss(&[&img(name), "--args", args]);
        let reference = node(&example_source(name), args);
        let (a, b) = (stdout(&ours), last_line(&reference) + "\n");
        if a != b || ours.status.code() != reference.status.code() {
            failures.push(format!(
                "{name} {args}: seuss {a:?} (exit {:?}, stderr {}) vs node {b:?} (exit {:?})",
                ours.status.code(),
                stderr(&ours),
                reference.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "differences:\n{}", failures.join("\n"));
}

#[test]
fn console_lines_go_to_stderr_and_only_the_result_to_stdout() {
    let out = seuss(&[&img("hello"), "--args", r#"{"name":"Ada"}"#]);
    assert_eq!(stdout(&out), "{\"greeting\":\"Hello, Ada!\"}\n");
    assert!(stderr(&out).contains("greeting Ada"), "{}", stderr(&out));
}

#[test]
fn runtime_image_gets_its_function_through_the_channel() {
    let js = example_source("esm");
    let out = seuss(&["--runtime", &img("runtime"), "--function", &js.display().to_string(), "--args", r#"{"name":"rt"}"#]);
    assert_eq!(last_line(&out), last_line(&node(&js, r#"{"name":"rt"}"#)));
    assert_eq!(out.status.code(), Some(0));
}

/// Output of rust-hello without the lines that legitimately differ between runs.
fn stable_lines(text: &str) -> Vec<String> {
    text.lines().filter(|l| !l.contains("unix time") && !l.contains("main ran for") && !l.contains("start-up to main")).map(String::from).collect()
}

#[test]
fn plain_programs_behave_as_on_stock_uhyve() {
    for args in [&["alpha", "beta"][..], &["--fault", "exit-err"], &["--fault", "panic"], &["--fault", "null"]] {
        let mut seuss_args = vec![img("rust-hello"), "-m".into(), "64MiB".into(), "--".into()];
        seuss_args.extend(args.iter().map(|s| s.to_string()));
        let ours = seuss(&seuss_args.iter().map(String::as_str).collect::<Vec<_>>());
        let mut uhyve_args = vec!["--"];
        uhyve_args.extend(args.iter());
        let theirs = uhyve(&[], &image("rust-hello"), &uhyve_args);
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        // uhyve merges stderr into stdout; compare the union.
        let ours_all = stable_lines(&(stdout(&ours) + &stderr(&ours)));
        let theirs_all = stable_lines(&stdout(&theirs));
        for line in &theirs_all {
            if line.contains("rip=") || line.contains("thread 'main'") {
                continue; // addresses differ (ASLR under uhyve)
            }
            assert!(ours_all.contains(line), "{args:?}: {line:?} missing from {ours_all:?}");
        }
    }
}

#[test]
fn garbage_hypercall_arguments_stop_the_guest_with_a_named_error() {
    let out = seuss(&[&img("rust-hello"), "--", "--fault", "bad-hypercall"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("invalid arguments to hypercall FileWrite"), "{err}");
    assert!(err.contains("outside guest RAM"), "{err}");
}

#[test]
fn an_unknown_port_ends_the_instance_with_rip() {
    let out = seuss(&[&img("rust-hello"), "--", "--fault", "bad-port"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("guest crashed: write to unknown I/O port 0x3000 (rip 0x"), "{err}");
}

fn scratch_image(name: &str, js: &str) -> String {
    js_image(&std::env::temp_dir().join(format!("seuss-run-{}", std::process::id())), name, js).display().to_string()
}

#[test]
fn an_endless_loop_times_out_on_time() {
    let image = scratch_image("forever", "function main() { for (;;) {} }\n");
    let t = Instant::now();
    let out = seuss(&[&image, "--timeout", "1"]);
    let took = t.elapsed();
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("timed out after 1s"), "{}", stderr(&out));
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn guest_out_of_memory_is_an_error_result() {
    let image = scratch_image("hog", "function main() { const a = []; for (;;) a.push(new Array(100000).fill(1)); }\n");
    let out = seuss(&[&image, "-m", "64MiB"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stdout(&out).starts_with(r#"{"error":"#), "{}", stdout(&out));
    assert!(stderr(&out).contains("memory allocation of"), "{}", stderr(&out));
}

#[test]
fn cpu_faults_keep_their_status_and_message() {
    let out = seuss(&[&img("rust-hello"), "--", "--fault", "stack-overflow"]);
    assert_eq!(out.status.code(), Some(139));
    assert!(stderr(&out).contains("stack overflow"), "{}", stderr(&out));
}

#[test]
fn files_outside_the_mapping_are_unreachable() {
    let dir = std::env::temp_dir().join(format!("seuss-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ok.txt"), "visible\n").unwrap();
    let mapping = format!("{}:/data", dir.display());
    let ok = seuss(&[&img("rust-hello"), "--file-mapping", &mapping, "--", "--read", "/data/ok.txt"]);
    assert!(stdout(&ok).contains("visible"), "{}", stdout(&ok));
    for path in ["/etc/hostname", "/data/../etc/hostname", "/data/../../etc/hostname"] {
        let out = seuss(&[&img("rust-hello"), "--file-mapping", &mapping, "--", "--read", path]);
        assert_eq!(out.status.code(), Some(1), "{path}");
        assert!(stderr(&out).contains("No such file"), "{path}: {}", stderr(&out));
    }
}

#[test]
fn args_over_one_mebibyte_are_refused() {
    let dir = std::env::temp_dir().join(format!("seuss-args-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("args.json");
    std::fs::write(&f, format!("{{\"s\":\"{}\"}}", "x".repeat(1024 * 1024))).unwrap();
    let out = seuss(&[&img("hello"), "--args-file", &f.display().to_string()]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("over the 1 MiB limit"), "{}", stderr(&out));
    // Just under the limit is accepted.
    std::fs::write(&f, format!("{{\"name\":\"{}\"}}", "y".repeat(1000 * 1000))).unwrap();
    let out = seuss(&[&img("hello"), "--args-file", &f.display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).len() > 1_000_000);
}

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[test]
fn a_waiting_guest_parks_its_thread() {
    let kvm = kvm_ioctls::Kvm::new().unwrap();
    let image = seuss_hv::Image::from_file(Path::new(&img("sleep"))).unwrap();
    let cpu0 = thread_cpu_time();
    let t0 = Instant::now();
    let run = seuss_hv::run_cold(&kvm, &image, &seuss_hv::Config::default(), None, r#"{"ms":600}"#).unwrap();
    let (wall, cpu) = (t0.elapsed(), thread_cpu_time() - cpu0);
    assert_eq!(run.outcome.unwrap().result.as_deref(), Some(r#"{"waitedAtLeast":true}"#));
    assert!(wall >= Duration::from_millis(600));
    assert!(cpu < Duration::from_millis(300), "vCPU thread used {cpu:?} of CPU in {wall:?}");
}

#[test]
fn an_instance_serves_several_invocations() {
    let kvm = kvm_ioctls::Kvm::new().unwrap();
    let image = seuss_hv::Image::from_file(Path::new(&img("hello"))).unwrap();
    let mut inst = seuss_hv::Instance::boot(&kvm, &image, &seuss_hv::Config::default()).unwrap();
    assert_eq!(inst.run().unwrap(), seuss_hv::Event::WantsInvocation);
    for name in ["A", "B", "C"] {
        let o = inst.invoke(&format!(r#"{{"name":"{name}"}}"#)).unwrap();
        assert_eq!(o.result.unwrap(), format!(r#"{{"greeting":"Hello, {name}!"}}"#));
        assert_eq!(o.event, seuss_hv::Event::Returned);
        assert_eq!(o.logs[0].text, format!("greeting {name}"));
    }
}

#[test]
fn a_corrupt_image_is_refused_with_a_message() {
    let dir = std::env::temp_dir().join(format!("seuss-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.img");
    let mut bytes = std::fs::read(image("hello")).unwrap();
    bytes.truncate(1000);
    std::fs::write(&f, bytes).unwrap();
    let out = seuss(&[&f.display().to_string()]);
    // A corrupt image is a format error (5); a file that is not ELF at all is a usage error (2).
    assert_eq!(out.status.code(), Some(5));
    assert!(stderr(&out).contains("is not a bootable Hermit image"), "{}", stderr(&out));
    std::fs::write(&f, b"#!/bin/sh\necho not an image\n").unwrap();
    let out = seuss(&[&f.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not an ELF file"), "{}", stderr(&out));
}

#[test]
fn log_floods_are_truncated_not_hoarded() {
    let image = scratch_image(
        "chatty",
        "function main() { const s = 'x'.repeat(1000); for (let i = 0; i < 12000; i++) console.log(s); return { done: true }; }\n",
    );
    let kvm = kvm_ioctls::Kvm::new().unwrap();
    let image = seuss_hv::Image::from_file(Path::new(&image)).unwrap();
    let run = seuss_hv::run_cold(&kvm, &image, &seuss_hv::Config::default(), None, "{}").unwrap();
    let o = run.outcome.unwrap();
    assert_eq!(o.result.as_deref(), Some(r#"{"done":true}"#));
    let kept: usize = o.logs.iter().map(|l| l.text.len()).sum();
    assert!(kept <= seuss_hv::MAX_CAPTURED_OUTPUT + 100, "{kept} bytes of logs kept");
    assert!(o.logs.last().unwrap().text.contains("truncated"), "a truncation note ends the log");
}

// ---- The newcomer's transcript (issue 12): each of these gave a wrong answer or a late error
// before; now the CLI answers at once and right.

#[test]
fn a_function_image_takes_its_args_after_dashes_like_stock_uhyve() {
    let out = seuss(&[&img("hello"), "--", r#"{"name":"Ada"}"#]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "{\"greeting\":\"Hello, Ada!\"}\n");
    let out = seuss(&[&img("hello"), "--args", "{}", "--", r#"{"name":"Ada"}"#]);
    assert_eq!(out.status.code(), Some(2), "args given twice is a usage error");
}

#[test]
fn runtime_and_function_images_are_checked_against_the_flags() {
    let fib = example_source("fib").display().to_string();
    let out = seuss(&["--runtime", &img("hello"), "--function", &fib]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already holds a function"), "{}", stderr(&out));
    let out = seuss(&[&img("runtime")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is a runtime image"), "{}", stderr(&out));
    let out = seuss(&[&img("rust-hello"), "--args", "{}"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("plain program"), "{}", stderr(&out));
}

#[test]
fn bad_args_are_refused_before_any_vm_naming_the_flag() {
    let t = Instant::now();
    let out = seuss(&[&img("hello"), "--args", "{bad"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--args: args are not one JSON value"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "no result line: the function never ran");
    assert!(t.elapsed() < Duration::from_secs(10));
    // Lone surrogates are JSON (Node accepts them); the host passes them on.
    let out = seuss(&[&img("hello"), "--args", r#"{"name":"\ud800"}"#]);
    assert_ne!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn memory_sizes_in_uhyves_syntax_from_the_flag_or_the_environment() {
    let out = seuss(&[&img("hello"), "--memory-size", "128MiB", "--args", "{}"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = seuss(&[&img("hello"), "-m", "256M", "--args", "{}"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean 256MiB"), "{}", stderr(&out));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.args(["run", &img("hello"), "--args", "{}"]).env("HERMIT_MEMORY_SIZE", "8MiB");
    let out = run_with_timeout(&mut cmd, Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(2), "HERMIT_MEMORY_SIZE is read: 8 MiB is below the minimum");
    assert!(stderr(&out).contains("at least 16 MiB"), "{}", stderr(&out));
}

#[test]
fn json_records_go_to_stdout_and_the_console_to_stderr() {
    let out = seuss(&[&img("hello"), "--args", r#"{"name":"Ada"}"#, "--output", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "one record: {lines:?}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["result"]["greeting"], "Hello, Ada!");
    assert_eq!((v["error"].as_bool(), v["start"].as_str()), (Some(false), Some("cold")));
    assert!(v["latency_us"].as_u64().unwrap() > 0 && v["timings_us"]["import"].is_u64(), "{v}");
    assert!(stderr(&out).contains("greeting Ada"), "the console line is on stderr");
}
