//! libos under stock uhyve 0.10 (issue: libos): rust-hello boots, sees its args, env and
//! mapped files, faults and OOM end it cleanly, and it runs at native speed (CPL3).

mod common;

use common::*;

fn hello() -> std::path::PathBuf {
    image("rust-hello")
}

#[test]
fn args_reach_main_and_exit_status_is_zero() {
    let out = uhyve(&[], &hello(), &["--", "alpha", "beta", "alpha"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(r#"args = ["alpha", "beta", "alpha"]"#), "{text}");
    assert!(text.contains(r#"word counts = [("alpha", 2), ("beta", 1)]"#), "{text}");
}

#[test]
fn app_args_after_a_second_separator_also_arrive() {
    let out = uhyve(&[], &hello(), &["--", "--", "one", "two"]);
    assert!(stdout(&out).contains(r#"args = ["one", "two"]"#), "{}", stdout(&out));
}

#[test]
fn environment_variables_arrive() {
    let out = uhyve(&["-e", "GREETING=hi there", "-e", "N=1"], &hello(), &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("env GREETING=hi there"), "{text}");
    assert!(text.contains("env N=1"), "{text}");
}

#[test]
fn wall_clock_is_current() {
    let out = uhyve(&[], &hello(), &[]);
    let line = stdout(&out).lines().find(|l| l.contains("unix time = ")).expect("time line").to_owned();
    let secs: f64 = line.rsplit("= ").next().unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - secs).abs() < 30.0, "guest time {secs} vs host {now}");
}

#[test]
fn reads_a_file_through_file_mapping() {
    let dir = tempdir();
    let host = dir.join("input.txt");
    std::fs::write(&host, "line one\nline two\n").unwrap();
    let mapping = format!("{}:/data/input.txt", host.display());
    let out = uhyve(&["--file-mapping", &mapping], &hello(), &["--", "--read", "/data/input.txt"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("file /data/input.txt:\nline one\nline two\n"), "{}", stdout(&out));
}

#[test]
fn an_unmapped_file_is_not_found() {
    let out = uhyve(&[], &hello(), &["--", "--read", "/etc/hostname"]);
    assert_eq!(out.status.code(), Some(1), "main returned Err -> exit 1");
    let all = stdout(&out) + &stderr(&out);
    assert!(all.contains("read /etc/hostname") && all.contains("No such file"), "{all}");
}

fn expect_fault(kind: &str, code: i32, needle: &str) {
    let out = uhyve(&[], &hello(), &["--", "--fault", kind]);
    let all = stdout(&out) + &stderr(&out);
    assert_eq!(out.status.code(), Some(code), "{kind}: {all}");
    assert!(all.contains(needle), "{kind}: expected {needle:?} in {all}");
}

#[test]
fn null_dereference_reports_a_page_fault() {
    expect_fault("null", 139, "fatal CPU exception: null pointer dereference (vector 14");
}

#[test]
fn invalid_opcode_reports_vector_6_with_rip() {
    expect_fault("ud", 139, "invalid opcode (vector 6, error code 0x0) at rip=0x");
}

#[test]
fn stack_overflow_hits_the_guard_page() {
    expect_fault("stack-overflow", 139, "stack overflow (hit the guard page below the main stack)");
}

#[test]
fn out_of_memory_fails_the_allocation_cleanly() {
    expect_fault("oom", 134, "memory allocation of 8388608 bytes failed");
}

#[test]
fn panic_reaches_the_exit_status() {
    expect_fault("panic", 134, "rust-hello was asked to panic");
}

#[test]
fn process_exit_code_reaches_the_host() {
    let out = uhyve(&[], &hello(), &["--", "--fault", "exit-err"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn ninety_percent_of_guest_ram_can_be_allocated() {
    let bytes = 64 * 1024 * 1024 * 9 / 10;
    let out = uhyve(&["-m", "64MiB"], &hello(), &["--", "--alloc", &bytes.to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains(&format!("allocated {bytes} bytes")), "{}", stdout(&out));
}

fn ns_per_iter(text: &str) -> f64 {
    let line = text.lines().find(|l| l.contains("ns/iter")).expect("spin line");
    line.split(" = ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap()
}

/// The program runs at CPL3 natively: emulated CPL0 code would be ~4000x slower. The bound
/// is loose on purpose (noisy machines); `cargo xtask bench-libos` reports the real ratio.
#[test]
fn spin_loop_runs_at_native_speed() {
    let n = "50000000";
    let guest = uhyve(&[], &hello(), &["--", "--spin", n]);
    let native = std::process::Command::new(image_dir().join("rust-hello-native")).args(["--spin", n]).output().unwrap();
    let (g, h) = (ns_per_iter(&stdout(&guest)), ns_per_iter(&String::from_utf8_lossy(&native.stdout)));
    assert!(g < h * 10.0, "guest {g} ns/iter vs native {h} ns/iter");
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("seuss-test-{}-{:?}", std::process::id(), std::thread::current().id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
