//! Functions with npm dependencies (issue 10): real packages installed from the npm registry
//! (lodash, mustache, uuid, dayjs, pinned), bundled by `cargo xtask build-image`, run by our
//! hypervisor, and compared with Node.js running the same function file with the same
//! node_modules.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;

/// The packages, pinned so that results do not move under the test.
const PACKAGES: &[&str] = &["lodash@4.17.21", "mustache@4.2.0", "uuid@9.0.1", "dayjs@1.11.13"];

/// `target/npm-fixture/`: the functions of `tests/js/npm/` and their node_modules (git-ignored).
fn fixture() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = root().join("target/npm-fixture");
        let src = root().join("seuss-cli/tests/js/npm");
        copy_dir(&src, &dir);
        std::fs::write(dir.join("package.json"), r#"{"name":"seuss-npm-fixture","private":true}"#).unwrap();
        let installed = PACKAGES.iter().all(|p| {
            let (name, version) = p.split_once('@').unwrap();
            std::fs::read_to_string(dir.join(format!("node_modules/{name}/package.json")))
                .is_ok_and(|t| t.contains(&format!("\"version\": \"{version}\"")))
        });
        if !installed {
            let mut cmd = Command::new("npm");
            cmd.current_dir(&dir).args(["install", "--no-audit", "--no-fund", "--no-save", "--silent"]).args(PACKAGES);
            let out = run_with_timeout(&mut cmd, Duration::from_secs(300));
            assert!(out.status.success(), "npm install failed: {}", stderr(&out));
        }
        // A local package with conditional exports (import vs require).
        let dual = dir.join("node_modules/dual");
        std::fs::create_dir_all(&dual).unwrap();
        std::fs::write(
            dual.join("package.json"),
            r#"{"name":"dual","version":"1.0.0","main":"./cjs.js","exports":{".":{"import":"./esm.mjs","require":"./cjs.js"}}}"#,
        )
        .unwrap();
        std::fs::write(dual.join("cjs.js"), "module.exports = { kind: 'cjs', sub: require('./package.json').name };\n").unwrap();
        std::fs::write(dual.join("esm.mjs"), "export default { kind: 'esm', sub: 'dual' };\n").unwrap();
        dir
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

fn seuss(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.args(args);
    run_with_timeout(&mut cmd, Duration::from_secs(120))
}

/// Builds `name`'s image, runs it with `args` on our hypervisor and in Node.js; both results.
fn ours_and_node(name: &str, args: &str) -> (String, String) {
    let dir = fixture();
    let js = dir.join(name);
    let img = dir.join(format!("{name}.img"));
    let built = build_image(&js, &img);
    assert!(built.status.success(), "build-image {name}: {}", stderr(&built));
    let ours = seuss(&["run", &img.display().to_string(), "--args", args]);
    let reference = node(&js, args);
    assert!(reference.status.success(), "node {name}: {} {}", stdout(&reference), stderr(&reference));
    (stdout(&ours).trim_end().to_owned(), last_line(&reference))
}

#[test]
fn lodash_mustache_uuid_and_dayjs_through_require_match_node() {
    let (ours, node) = ours_and_node("deps.js", r#"{"name":"Ada"}"#);
    assert_eq!(ours, node);
    assert!(ours.contains(r#""v4ok":true"#) && ours.contains("Hello Ada! <1><2>"), "{ours}");
}

#[test]
fn the_same_packages_through_es_module_imports_match_node() {
    let (ours, node) = ours_and_node("esm.mjs", "{}");
    assert_eq!(ours, node);
    assert!(ours.contains(r#""got":42"#), "{ours}");
}

#[test]
fn commonjs_cycles_json_and_builtin_modules_match_node() {
    let (ours, node) = ours_and_node("builtins.js", "{}");
    assert_eq!(ours, node);
    assert!(ours.contains("a.late=undefined"), "a cycle sees the partial exports: {ours}");
}

#[test]
fn package_exports_conditions_match_node() {
    let (ours, node) = ours_and_node("conditions.mjs", "{}");
    assert_eq!(ours, node);
    assert_eq!(ours, r#"{"esm":"esm","cjs":"cjs","sub":"dual"}"#);
}

#[test]
fn a_builtin_module_that_is_not_offered_is_refused_by_name() {
    let dir = fixture();
    let img = dir.join("refused.img");
    let built = build_image(&dir.join("refused.js"), &img);
    assert!(built.status.success(), "{}", stderr(&built));
    let out = seuss(&["run", &img.display().to_string()]);
    let text = stdout(&out);
    assert!(text.contains("Node.js built-in module 'fs' is not available"), "{text}");
    assert!(text.contains("path") && text.contains("crypto"), "the message lists what is available: {text}");
}

#[test]
fn a_bundle_over_the_image_payload_goes_through_the_runtime_path() {
    let dir = fixture();
    // 1.5 MB of module source: more than an image's payload region (1 MiB).
    let filler = format!("module.exports = {{ size: {0}, text: '{1}' }};\n", 1_500_000, "x".repeat(1_500_000));
    std::fs::write(dir.join("lib/filler.js"), filler).unwrap();
    std::fs::write(dir.join("big.js"), "const f = require('./lib/filler');\nexports.main = () => ({ size: f.text.length });\n").unwrap();
    let img = dir.join("big.img");
    let _ = std::fs::remove_file(&img);
    let built = build_image(&dir.join("big.js"), &img);
    assert!(!built.status.success(), "an image cannot hold it");
    let err = stderr(&built);
    assert!(err.contains("more than a function image holds") && err.contains("seuss run --runtime"), "{err}");
    assert!(!img.exists() && !dir.join("big.img.tmp").exists(), "no image and no temporary file are left");
    let bundle = dir.join("big.bundle.js");
    assert!(bundle.is_file(), "the bundle for the runtime path is written: {err}");
    let out = seuss(&["run", "--runtime", &image("runtime").display().to_string(), "--function", &bundle.display().to_string()]);
    assert_eq!(stdout(&out).trim_end(), r#"{"size":1500000}"#, "{}", stderr(&out));
}
