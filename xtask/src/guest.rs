//! Building guest crates for `x86_64-unknown-hermit` with the pinned nightly.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};

use crate::setup::NIGHTLY;

/// The guest target.
pub const TARGET: &str = "x86_64-unknown-hermit";

/// Builds the binary of the guest crate in `dir` and copies it to `output`.
pub fn build_crate_image(dir: &Path, output: &Path) -> Result<()> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("{}: not a guest crate directory (no Cargo.toml)", dir.display());
    }
    let exe = cargo_build_guest(&manifest, &[])?;
    copy_image(&exe, output)
}

/// Copies a built executable to `output`, creating its directory. The copy goes to a
/// temporary file renamed over `output`, so a VM reading the old image (a test running while
/// another rebuilds the images) never sees a half-written one.
pub fn copy_image(exe: &Path, output: &Path) -> Result<()> {
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let tmp = output.with_extension(format!("img.tmp{}", std::process::id()));
    let copied = std::fs::copy(exe, &tmp)
        .map(drop)
        .and_then(|()| std::fs::rename(&tmp, output))
        .with_context(|| format!("writing {}", output.display()));
    if copied.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    copied?;
    eprintln!("image: {} ({} bytes)", output.display(), std::fs::metadata(output)?.len());
    Ok(())
}

/// Runs the nightly cargo build for the guest crate at `manifest` and returns its executable.
/// A spinner shows what is compiling (the first build compiles std and may take minutes).
pub fn cargo_build_guest(manifest: &Path, extra: &[&str]) -> Result<PathBuf> {
    let mut child = Command::new("cargo")
        .arg(format!("+{NIGHTLY}"))
        .args(["build", "--release", "--target", TARGET])
        .args(["-Zbuild-std=std,panic_abort", "-Zbuild-std-features=compiler-builtins-mem"])
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--message-format", "json-render-diagnostics"])
        .args(extra)
        .current_dir(crate::workspace_root())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("CARGO")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting cargo (is rustup installed?)")?;

    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} [{elapsed}] {msg}").expect("valid template"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(format!("building {} for {TARGET}", manifest.display()));

    let stderr = child.stderr.take().expect("piped");
    let bar2 = bar.clone();
    let err_thread = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let trimmed = line.trim_start();
            if trimmed.starts_with("Compiling") || trimmed.starts_with("Finished") {
                bar2.set_message(trimmed.to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });

    let stdout = child.stdout.take().expect("piped");
    let mut executable = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if msg["reason"] == "compiler-artifact" {
            if let Some(exe) = msg["executable"].as_str() {
                executable = Some(PathBuf::from(exe));
            }
        }
    }
    let status = child.wait()?;
    let log = err_thread.join().unwrap_or_default();
    bar.finish_and_clear();
    if !status.success() {
        eprint!("{log}");
        bail!("guest build of {} failed", manifest.display());
    }
    executable.context("cargo built no executable")
}
