//! JS functions on stock uhyve (issue: js-launcher): every example gives Node.js's result and
//! exit status; syntax errors stop build-image; limits give clear errors.

mod common;

use common::*;

#[test]
fn every_example_matches_node() {
    let mut failures = Vec::new();
    for (name, args) in CASES {
        let ours = uhyve(&[], &image(name), &["--", args]);
        let reference = node(&example_source(name), args);
        let (a, b) = (last_line(&ours), last_line(&reference));
        if a != b || ours.status.code() != reference.status.code() {
            failures.push(format!(
                "{name} {args}: uhyve {a} (exit {:?}) vs node {b} (exit {:?})",
                ours.status.code(),
                reference.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "differences:\n{}", failures.join("\n"));
}

#[test]
fn console_lines_come_before_the_result() {
    let out = uhyve(&[], &image("hello"), &["--", r#"{"name":"Ada"}"#]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.last(), Some(&r#"{"greeting":"Hello, Ada!"}"#), "{text}");
    assert!(lines.contains(&"greeting Ada"), "{text}");
}

fn scratch(name: &str, body: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("seuss-js-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn syntax_error_is_reported_with_file_line_and_column() {
    let js = scratch("broken.js", "function main(params) {\n  return { a: 1 +\n}\n");
    let img = js.with_extension("img");
    let out = build_image(&js, &img);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.js:3:1: "), "{err}");
    assert!(!img.exists(), "no image is written for a broken function");
}

#[test]
fn oversized_result_is_refused() {
    let js = scratch("big.js", "function main() { return { s: 'x'.repeat(2 * 1024 * 1024) }; }\n");
    let img = js.with_extension("img");
    assert!(build_image(&js, &img).status.success());
    // Boa needs more than uhyve's default 64 MiB to build a 2 MiB string.
    let out = uhyve(&["-m", "256MiB"], &img, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(last_line(&out).contains("over the 1 MiB limit"), "{}", last_line(&out));
}

#[test]
fn invalid_json_args_give_an_error_result() {
    let out = uhyve(&[], &image("hello"), &["--", "{not json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(last_line(&out).starts_with(r#"{"error":"#), "{}", last_line(&out));
}

#[test]
fn a_runtime_image_without_function_says_so() {
    let out = uhyve(&[], &image("runtime"), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(last_line(&out).contains("runtime image with no function"), "{}", last_line(&out));
}

#[test]
fn missing_main_is_a_clear_error_at_build_time() {
    let js = scratch("nomain.js", "const x = 1;\n");
    let img = js.with_extension("img");
    let out = build_image(&js, &img);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nomain.js: the function defines no main"));
    assert!(!img.exists());
}
