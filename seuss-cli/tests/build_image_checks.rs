//! `cargo xtask build-image` refuses what cannot work at build time (issue 12): an empty
//! function, one without `main`, a file that is neither a function nor a crate, and a failed
//! build leaves no `*.img.tmp` behind.

mod common;

use std::path::PathBuf;

use common::*;

fn scratch(name: &str, body: &str) -> PathBuf {
    let dir = root().join("target/build-image-checks");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn an_empty_function_is_refused_with_file_and_reason() {
    for (name, body) in [("empty.js", ""), ("comments.js", "// nothing here\n/* at all */\n")] {
        let js = scratch(name, body);
        let img = js.with_extension("img");
        let out = build_image(&js, &img);
        assert!(!out.status.success(), "{name} builds");
        let err = stderr(&out);
        assert!(err.contains(&format!("{}: the function is empty", js.display())), "{err}");
        assert!(!img.exists());
    }
}

#[test]
fn a_function_without_main_is_refused_with_file_and_reason() {
    for (name, body) in [
        ("handler.js", "function handler(params) { return params; }\n"),
        ("handler.mjs", "export function handler(params) { return params; }\n"),
    ] {
        let js = scratch(name, body);
        let img = js.with_extension("img");
        let out = build_image(&js, &img);
        assert!(!out.status.success(), "{name} builds");
        let err = stderr(&out);
        assert!(err.contains(&format!("{}: the function defines no main", js.display())), "{err}");
        assert!(!img.exists());
    }
}

#[test]
fn a_file_that_is_no_function_says_what_build_image_accepts() {
    let txt = scratch("big.txt", "not a function\n");
    let out = build_image(&txt, &txt.with_extension("img"));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("big.txt: build-image accepts a JavaScript function (.js, .mjs, .cjs) or a guest crate directory"), "{err}");
    assert!(!err.contains("no Cargo.toml"), "{err}");
}

#[test]
fn a_failed_build_leaves_no_temporary_file() {
    let js = scratch("ok.js", "function main() { return {}; }\n");
    // The output is an existing directory: writing the image fails.
    let out_dir = root().join("target/build-image-checks/out.img");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = build_image(&js, &out_dir);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is a directory"), "{}", stderr(&out));
    let leftovers: Vec<_> = std::fs::read_dir(root().join("target/build-image-checks"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".img.tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn the_launcher_still_refuses_a_function_without_main_on_the_runtime_path() {
    // `seuss run --runtime --function` hands the source over without build-image's check.
    let js = scratch("nomain-runtime.js", "const x = 1;\n");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.args(["run", "--runtime", &image("runtime").display().to_string(), "--function", &js.display().to_string()]);
    let out = run_with_timeout(&mut cmd, std::time::Duration::from_secs(60));
    assert_eq!(out.status.code(), Some(1), "an error result: {}", stderr(&out));
    assert!(stdout(&out).contains("defines no main"), "{}", stdout(&out));
}
