//! The patched boa_engine that the js-launcher workspace builds against
//! (`[patch.crates-io]` in `js-launcher/Cargo.toml`, ARCHITECTURE.md "The Boa patch").
//!
//! ```text
//! crates.io boa_engine-0.22.0.crate ──(sha256 checked)──► unpacked ──► + patches/boa_engine-0.22.0.patch
//!   (cargo's own cache; `cargo fetch` of a                               ──► js-launcher/vendor/boa_engine
//!    throw-away manifest when it is missing)                                 (git-ignored, stamped)
//! ```
//!
//! [`ensure`] runs before every cargo command of the js-launcher workspace. It does nothing
//! when the stamp in the directory names the current patch. It runs under the host
//! workspace, which never sees the `[patch]`, so a fresh clone bootstraps itself.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

/// The crate and version the patch is written against.
const CRATE: &str = "boa_engine";
const VERSION: &str = "0.22.0";
/// sha256 of `boa_engine-0.22.0.crate` (crates.io's index and the host Cargo.lock).
const CRATE_SHA256: &str = "5d6aaf7fdc4299df68adb67e1a5440a51d34630a1f5271b9698fd74bc97b60d9";
/// Written into the patched directory: the sha256 of the patch that made it.
const STAMP: &str = ".seuss-patch-sha256";

fn launcher_dir() -> PathBuf {
    crate::workspace_root().join("js-launcher")
}

/// The committed patch file.
pub fn patch_file() -> PathBuf {
    launcher_dir().join(format!("patches/{CRATE}-{VERSION}.patch"))
}

/// Where the patched crate goes (the `[patch]` path).
pub fn vendor_dir() -> PathBuf {
    launcher_dir().join(format!("vendor/{CRATE}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Makes sure `js-launcher/vendor/boa_engine` is boa_engine 0.22.0 with the current patch.
pub fn ensure() -> Result<()> {
    let patch_path = patch_file();
    let patch = std::fs::read_to_string(&patch_path).with_context(|| format!("reading {}", patch_path.display()))?;
    let want = hex(&Sha256::digest(patch.as_bytes()));
    let dir = vendor_dir();
    if std::fs::read_to_string(dir.join(STAMP)).is_ok_and(|s| s.trim() == want) {
        return Ok(());
    }
    eprintln!("boa patch: preparing {} from {CRATE}-{VERSION} and {}", dir.display(), patch_path.display());
    let crate_file = pristine_crate()?;
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    }
    unpack(&crate_file, &tmp)?;
    apply(&patch, &patch_path, &tmp)?;
    std::fs::write(tmp.join(STAMP), format!("{want}\n"))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::rename(&tmp, &dir).with_context(|| format!("moving {} to {}", tmp.display(), dir.display()))?;
    Ok(())
}

/// The `.crate` file in cargo's cache, fetched through cargo when it is not there yet, with
/// its sha256 checked.
fn pristine_crate() -> Result<PathBuf> {
    let name = format!("{CRATE}-{VERSION}.crate");
    let find = || -> Option<PathBuf> {
        let cache = crate::cargo_home().join("registry/cache");
        std::fs::read_dir(cache).ok()?.filter_map(|e| e.ok()).map(|e| e.path().join(&name)).find(|p| p.is_file())
    };
    let path = match find() {
        Some(p) => p,
        None => {
            // A throw-away manifest that only depends on the crate: `cargo fetch` downloads it
            // into the cache through the ordinary client.
            let dir = crate::workspace_root().join("target/boa-fetch");
            std::fs::create_dir_all(dir.join("src"))?;
            std::fs::write(
                dir.join("Cargo.toml"),
                format!(
                    "[package]\nname = \"boa-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\n\
                     {CRATE} = {{ version = \"={VERSION}\", default-features = false }}\n\n[workspace]\n"
                ),
            )?;
            std::fs::write(dir.join("src/lib.rs"), "")?;
            let ok = Command::new(env!("CARGO"))
                .args(["fetch", "--manifest-path"])
                .arg(dir.join("Cargo.toml"))
                .status()
                .context("running cargo fetch")?
                .success();
            if !ok {
                bail!("cargo could not download {name} (needed to build js-launcher)");
            }
            find().with_context(|| format!("cargo fetch succeeded but {name} is not in cargo's cache"))?
        }
    };
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let got = hex(&Sha256::digest(&bytes));
    if got != CRATE_SHA256 {
        bail!("{}: sha256 is {got}, expected {CRATE_SHA256}", path.display());
    }
    Ok(path)
}

/// Unpacks a `.crate` (gzip'ed tar whose entries start with `NAME-VERSION/`) into `dest`.
fn unpack(crate_file: &Path, dest: &Path) -> Result<()> {
    let file = std::fs::File::open(crate_file)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let prefix = format!("{CRATE}-{VERSION}");
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let rel = path.strip_prefix(&prefix).with_context(|| format!("{}: entry {} outside {prefix}/", crate_file.display(), path.display()))?;
        if rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            bail!("{}: unexpected entry {}", crate_file.display(), path.display());
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let out = dest.join(rel);
        std::fs::create_dir_all(out.parent().expect("a file has a parent"))?;
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        std::fs::write(&out, data).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

/// Applies the unified diff `patch` (paths `a/…` and `b/…` relative to the crate root).
fn apply(patch: &str, patch_path: &Path, root: &Path) -> Result<()> {
    use diffy::patch_set::{FileOperation, ParseOptions, PatchSet};
    for file in PatchSet::parse(patch, ParseOptions::unidiff()) {
        let file = file.with_context(|| format!("{}: not a unified diff", patch_path.display()))?;
        let FileOperation::Modify { original, .. } = file.operation() else {
            bail!("{}: only modifications of existing files are supported", patch_path.display());
        };
        let rel = original.strip_prefix("a/").unwrap_or(original);
        let text_patch = file.patch().as_text().with_context(|| format!("{}: binary patch for {rel}", patch_path.display()))?;
        let target = root.join(rel);
        let before = std::fs::read_to_string(&target).with_context(|| format!("{}: patched file {rel} is missing", patch_path.display()))?;
        let after = diffy::apply(&before, text_patch).with_context(|| format!("{}: does not apply to {rel}", patch_path.display()))?;
        std::fs::write(&target, after)?;
    }
    Ok(())
}
