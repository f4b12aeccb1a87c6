//! JS function images: host-side syntax check, then the function is written into a copy of
//! the prebuilt runtime image's payload region (`seuss_abi::payload`). No Rust is compiled
//! or linked per function; the runtime image is built once (cargo keeps it incremental).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use seuss_abi::payload;

use crate::guest;

/// Builds (or reuses) the runtime image: js-launcher with an empty payload.
pub fn runtime_image() -> Result<PathBuf> {
    crate::boa_patch::ensure()?;
    let manifest = crate::workspace_root().join("js-launcher/Cargo.toml");
    guest::cargo_build_guest(&manifest, &["--bin", "js-launcher"])
}

/// Builds (or reuses) the test262 runtime image: js-launcher-test262 (the launcher plus the
/// `$262` host hooks), used only by `cargo xtask test262`.
pub fn test262_runtime_image() -> Result<PathBuf> {
    crate::boa_patch::ensure()?;
    let manifest = crate::workspace_root().join("js-launcher/Cargo.toml");
    guest::cargo_build_guest(&manifest, &["--bin", "js-launcher-test262"])
}

/// `fn.js:LINE:COL: message` for the first syntax error (see `js_source::check`).
pub fn check_syntax(path: &Path, source: &str) -> Result<()> {
    Ok(js_source::check(&path.display().to_string(), source)?)
}

/// Writes `source` into a copy of `runtime` at `output`.
pub fn write_function_image(runtime: &Path, source: &[u8], output: &Path) -> Result<()> {
    let mut image = std::fs::read(runtime).with_context(|| format!("reading {}", runtime.display()))?;
    let offsets: Vec<usize> = image.windows(payload::MAGIC.len()).enumerate().filter(|(_, w)| *w == payload::MAGIC).map(|(i, _)| i).collect();
    let [offset] = offsets[..] else {
        bail!("{}: expected one payload region, found {}", runtime.display(), offsets.len());
    };
    match payload::encode(&mut image[offset..], source) {
        Ok(()) => {}
        Err(payload::Error::TooLarge(n)) => bail!(
            "function source is {n} bytes, larger than an image holds ({} bytes); run it on a runtime \
             image instead: seuss run --runtime runtime.img --function fn.js",
            payload::CAPACITY
        ),
        Err(payload::Error::NotARegion) => bail!("{}: payload region is truncated", runtime.display()),
    }
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    if output.is_dir() {
        bail!("{}: is a directory; -o names the image file to write", output.display());
    }
    let tmp = output.with_extension("img.tmp");
    let written = std::fs::write(&tmp, &image)
        .with_context(|| format!("writing {}", tmp.display()))
        .and_then(|()| std::fs::rename(&tmp, output).with_context(|| format!("writing {}", output.display())));
    if written.is_err() {
        // A failed build leaves nothing behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    eprintln!("image: {} ({} bytes, function {} bytes)", output.display(), image.len(), source.len());
    Ok(())
}

/// The payload of the function at `js`: its source, or a bundle with what it imports from
/// `node_modules` (`js_source::bundle`) when it imports packages.
pub fn function_payload(js: &Path) -> Result<String> {
    let source = std::fs::read_to_string(js).with_context(|| format!("reading {}", js.display()))?;
    check_syntax(js, &source)?;
    let name = js.display().to_string();
    if !js_source::bundle::needs_bundle(&name, &source)? {
        return Ok(source);
    }
    let bundle = js_source::bundle::bundle(js)?;
    for w in &bundle.warnings {
        eprintln!("warning: {w} (requiring it will throw, as in Node.js)");
    }
    eprintln!("bundle: {} files, {} bytes", bundle.files, bundle.payload.len());
    Ok(bundle.payload)
}

/// `build-image fn.js -o fn.img`.
pub fn build_function_image(js: &Path, output: &Path) -> Result<()> {
    let payload = function_payload(js)?;
    if payload.len() > payload::CAPACITY {
        let bundle = output.with_extension("bundle.js");
        std::fs::write(&bundle, &payload).with_context(|| format!("writing {}", bundle.display()))?;
        bail!(
            "{}: the function with its dependencies is {} bytes, more than a function image holds ({} bytes); \
             no image written. Wrote the bundle to {} for the runtime path (up to {} bytes): \
             `seuss run --runtime runtime.img --function {}` or \
             `seuss snapshot --from runtime.snap --function {} -o fn.snap`",
            js.display(),
            payload.len(),
            payload::CAPACITY,
            bundle.display(),
            seuss_abi::MAX_SOURCE,
            bundle.display(),
            bundle.display()
        );
    }
    let runtime = runtime_image()?;
    write_function_image(&runtime, payload.as_bytes(), output)
}

/// `bundle fn.js -o fn.bundle.js`: the payload alone, for `seuss run --runtime --function` and
/// `seuss snapshot --from --function`.
pub fn write_bundle(js: &Path, output: &Path) -> Result<()> {
    let payload = function_payload(js)?;
    if payload.len() > seuss_abi::MAX_SOURCE {
        bail!("{}: the function with its dependencies is {} bytes, over the {} byte limit of a function source", js.display(), payload.len(), seuss_abi::MAX_SOURCE);
    }
    std::fs::write(output, &payload).with_context(|| format!("writing {}", output.display()))?;
    eprintln!("wrote {} ({} bytes)", output.display(), payload.len());
    Ok(())
}
