//! Shared helpers of the end-to-end tests: images, stock uhyve, the Node.js reference.
//!
//! Images come from `SEUSS_IMAGE_DIR` (set by `cargo xtask test`); when a test binary runs on
//! its own, it builds them once through `cargo xtask build-test-images`.
#![allow(dead_code)]

pub mod fetch_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

/// Directory holding the test images (built on first use).
pub fn image_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("SEUSS_IMAGE_DIR") {
            return PathBuf::from(dir);
        }
        let status = Command::new(env!("CARGO"))
            .current_dir(root())
            .args(["run", "--quiet", "-p", "xtask", "--", "build-test-images"])
            .status()
            .expect("running cargo xtask build-test-images");
        assert!(status.success(), "building the test images failed");
        root().join("target/images")
    })
}

/// Path of a test image by name (`rust-hello`, `hello`, `runtime`, ...).
pub fn image(name: &str) -> PathBuf {
    let p = image_dir().join(format!("{name}.img"));
    assert!(p.is_file(), "missing test image {}", p.display());
    p
}

/// The stock uhyve binary (installed by `cargo xtask setup`).
pub fn uhyve_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SEUSS_UHYVE") {
        return PathBuf::from(p);
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cargo"));
    home.join("bin/uhyve")
}

/// Runs `cmd` with a wall-clock limit; a hang fails the test instead of the suite.
pub fn run_with_timeout(cmd: &mut Command, limit: Duration) -> Output {
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("command {cmd:?} did not finish within {limit:?}");
        }
    }
}

/// Boots `image` on stock uhyve with `uhyve_args` before the image and `args` after it.
pub fn uhyve(uhyve_args: &[&str], image: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(uhyve_bin());
    cmd.args(uhyve_args).arg(image).args(args);
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

/// Runs `cargo xtask build-image SRC -o OUT` and returns its output.
pub fn build_image(src: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO"))
        .current_dir(root())
        .args(["run", "--quiet", "-p", "xtask", "--", "build-image"])
        .arg(src)
        .arg("-o")
        .arg(out)
        .output()
        .expect("running cargo xtask build-image")
}

/// Writes `js` to `dir/NAME.js`, builds it into `dir/NAME.img` and returns the image path.
pub fn js_image(dir: &Path, name: &str, js: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let src = dir.join(format!("{name}.js"));
    std::fs::write(&src, js).unwrap();
    let out = dir.join(format!("{name}.img"));
    let o = build_image(&src, &out);
    assert!(o.status.success(), "build-image {name}: {}", String::from_utf8_lossy(&o.stderr));
    out
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The last non-empty stdout line.
pub fn last_line(o: &Output) -> String {
    stdout(o).lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().to_owned()
}

/// Runs the Node.js reference harness on `file` with `args`.
pub fn node(file: &Path, args: &str) -> Output {
    let mut cmd = Command::new("node");
    cmd.arg(root().join("seuss-cli/node/harness.mjs")).arg(file).arg(args).env("TZ", "UTC");
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

/// The example source for an image name.
pub fn example_source(name: &str) -> PathBuf {
    let js = root().join(format!("examples/{name}.js"));
    if js.is_file() { js } else { root().join(format!("examples/{name}.mjs")) }
}

/// Every (example, args) pair of the differential tests.
pub const CASES: &[(&str, &str)] = &[
    ("hello", r#"{"name":"Ada"}"#),
    ("hello", ""),
    ("nop", ""),
    ("fib", r#"{"n":20}"#),
    ("async", r#"{"delay":30}"#),
    ("throws", "{}"),
    ("throws", r#"{"mode":"reject"}"#),
    ("throws", r#"{"mode":"value"}"#),
    ("throws", r#"{"mode":"recursion"}"#),
    ("esm", r#"{"name":"esm"}"#),
    ("commonjs", r#"{"k":[1,2]}"#),
    ("webapis", ""),
];
