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
    guest::cargo_build_guest(&manifest, &[])
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
    let tmp = output.with_extension("img.tmp");
    std::fs::write(&tmp, &image).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, output).with_context(|| format!("writing {}", output.display()))?;
    eprintln!("image: {} ({} bytes, function {} bytes)", output.display(), image.len(), source.len());
    Ok(())
}

/// `build-image fn.js -o fn.img`.
pub fn build_function_image(js: &Path, output: &Path) -> Result<()> {
    let source = std::fs::read_to_string(js).with_context(|| format!("reading {}", js.display()))?;
    check_syntax(js, &source)?;
    let runtime = runtime_image()?;
    write_function_image(&runtime, source.as_bytes(), output)
}
