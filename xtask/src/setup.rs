//! Installs what the project needs, only when it is missing (idempotent, quick when done).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// The pinned nightly for guest crates (`x86_64-unknown-hermit`, `-Zbuild-std`).
pub const NIGHTLY: &str = "nightly-2026-05-20";
/// The stock uhyve version this project is compatible with.
pub const UHYVE_VERSION: &str = "0.10.0";


/// Path of the stock uhyve binary installed by [`ensure_uhyve`].
pub fn uhyve_bin() -> PathBuf {
    crate::cargo_home().join("bin/uhyve")
}

fn quiet_ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().map(|s| s.success()).unwrap_or(false)
}

/// Everything: nightly, uhyve, Node.js, the OpenWhisk JS client, wrk.
pub fn ensure_all() -> Result<()> {
    crate::boa_patch::ensure()?;
    ensure_nightly()?;
    ensure_uhyve()?;
    ensure_node()?;
    ensure_openwhisk_client()?;
    ensure_wrk()
}

/// `wrk`, the HTTP load generator of `seuss bench serve` (Debian package).
pub fn ensure_wrk() -> Result<()> {
    if Command::new("wrk").arg("-v").output().is_ok() {
        return Ok(());
    }
    apt_install("wrk", "wrk")
}

/// The official OpenWhisk JS client the `seuss serve` tests drive the node with (the version
/// the REST API was checked against), installed with npm into `target/npm/` (git-ignored).
pub const OPENWHISK_CLIENT: &str = "openwhisk@3.21.9";

/// [`OPENWHISK_CLIENT`] in `target/npm/node_modules`.
pub fn ensure_openwhisk_client() -> Result<()> {
    let dir = crate::workspace_root().join("target/npm");
    if dir.join("node_modules/openwhisk/package.json").is_file() {
        return Ok(());
    }
    if !quiet_ok(Command::new("npm").arg("--version")) {
        // Debian packages npm apart from nodejs.
        apt_install("npm", "npm")?;
    }
    eprintln!("setup: installing the OpenWhisk JS client ({OPENWHISK_CLIENT}) into {} (npm)", dir.display());
    std::fs::create_dir_all(&dir)?;
    let ok = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .arg(OPENWHISK_CLIENT)
        .status()
        .context("running npm (it comes with Node.js)")?
        .success();
    if !ok {
        bail!("npm install {OPENWHISK_CLIENT} failed: the serve tests need the npm registry once");
    }
    Ok(())
}

/// The pinned nightly with `rust-src` and `llvm-tools`.
pub fn ensure_nightly() -> Result<()> {
    let has_src = Command::new("rustup")
        .args(["component", "list", "--installed", "--toolchain", NIGHTLY])
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).contains("rust-src"))
        .unwrap_or(false);
    if has_src {
        return Ok(());
    }
    eprintln!("setup: installing Rust {NIGHTLY} with rust-src and llvm-tools (rustup)");
    let ok = Command::new("rustup")
        .args(["toolchain", "install", NIGHTLY, "--profile", "minimal", "--component", "rust-src,llvm-tools"])
        .status()
        .context("running rustup")?
        .success();
    if !ok {
        bail!("rustup could not install {NIGHTLY}");
    }
    Ok(())
}

/// Stock uhyve 0.10.0 in `~/.cargo/bin`.
pub fn ensure_uhyve() -> Result<()> {
    let installed = Command::new(uhyve_bin())
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(UHYVE_VERSION))
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    eprintln!("setup: installing stock uhyve {UHYVE_VERSION} (cargo install, a few minutes)");
    let ok = Command::new(env!("CARGO"))
        .args(["install", "uhyve", "--version", UHYVE_VERSION, "--locked"])
        .status()
        .context("running cargo install uhyve")?
        .success();
    if !ok {
        bail!("cargo install uhyve {UHYVE_VERSION} failed");
    }
    Ok(())
}

/// Node.js (the reference for JS semantics in differential tests).
pub fn ensure_node() -> Result<()> {
    if quiet_ok(Command::new("node").arg("--version")) {
        return Ok(());
    }
    apt_install("nodejs", "Node.js")
}

/// `cargo-fuzz` (for `cargo xtask fuzz`'s libFuzzer targets), installed from crates.io when
/// missing.
pub fn ensure_cargo_fuzz() -> Result<()> {
    if quiet_ok(Command::new("cargo").args(["fuzz", "--version"])) {
        return Ok(());
    }
    eprintln!("setup: installing cargo-fuzz (cargo install)");
    let ok = Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]).status().context("running cargo install")?.success();
    if !ok {
        bail!("cargo install cargo-fuzz failed");
    }
    Ok(())
}

/// Installs the Debian package `package` (`what` names it in messages).
fn apt_install(package: &str, what: &str) -> Result<()> {
    eprintln!("setup: installing {what} (apt-get)");
    let ok = quiet_ok(Command::new("apt-get").arg("update"))
        && Command::new("apt-get").args(["install", "-y", package]).status().map(|s| s.success()).unwrap_or(false);
    if !ok {
        bail!("{what} is missing and apt-get could not install it");
    }
    Ok(())
}
