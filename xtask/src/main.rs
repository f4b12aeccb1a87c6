//! `cargo xtask`: the project's own commands.
//!
//! | command | what it does |
//! |---|---|
//! | `setup` | installs what the project needs and is missing: the pinned nightly with `rust-src` and `llvm-tools`, stock uhyve 0.10.0, Node.js, the OpenWhisk JS client (npm, into target/npm), wrk |
//! | `build-image <CRATE_DIR \| FN.js \| --runtime> -o IMG` | builds a bootable unikernel image |
//! | `bundle FN.js -o OUT` | the function with what it imports from `node_modules`, as one payload for the runtime path |
//! | `demo` | set-up, build the examples, run them on stock uhyve (the README's first command) |
//! | `test` | set-up, build the test images, run the whole test suite, the CI part of test262 and a short run of every fuzzer (the README's second command, `.ci/run`) |
//! | `test262 [--host] [--ci] [--filter TEXT] [--update]` | the test262 sample in the unikernel (or as a Linux process), against `tests/test262/expectations.toml` |
//! | `fuzz [--seconds N] [--iterations N] [FUZZER...]` | every fuzzer for a budget, with counts (`fuzz.rs`) |
//! | `bench [--quick] [--out DIR]` | every `seuss bench` experiment: JSON and figures into bench-results/ |
//! | `bench-report [--from DIR] [--output FILE]` | BENCHMARKS.md's generated figures section from bench-results/*.json |

mod bench_cold;
mod bench_report;
mod boa_patch;
mod fuzz;
mod guest;
mod jsimage;
mod setup;
mod test262;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Project tasks (set-up, images, tests)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install the pinned nightly (+rust-src, llvm-tools), stock uhyve 0.10.0, Node.js and the
    /// OpenWhisk JS client (npm, into target/npm) and wrk if missing.
    Setup,
    /// Build a bootable image: from a guest crate directory (examples/rust-hello), from a JS
    /// function (examples/hello.js), or the JS runtime image with no function (--runtime).
    BuildImage {
        /// A guest crate directory or a `.js` function.
        #[arg(required_unless_present = "runtime")]
        input: Option<PathBuf>,
        /// Build the JS runtime image (the launcher with no function).
        #[arg(long, conflicts_with = "input")]
        runtime: bool,
        /// Where to write the image.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write a function's payload (the function, bundled with what it imports from
    /// node_modules) for the runtime path: `seuss run --runtime IMG --function OUT`.
    Bundle {
        /// The function (`.js`, `.mjs`, `.cjs`).
        input: PathBuf,
        /// Where to write the payload.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Set up, build the examples and run them on stock uhyve.
    Demo,
    /// Build every image the test suite uses into target/images (tests call this themselves
    /// when run without `cargo xtask test`).
    BuildTestImages,
    /// Full benchmark run: every `seuss bench` experiment, its JSON and figures (SVG) into
    /// bench-results/ (what `cargo xtask bench-report` puts into BENCHMARKS.md).
    Bench {
        /// CI-sized instead of full.
        #[arg(long)]
        quick: bool,
        /// Where the JSON documents and figures go.
        #[arg(long, default_value = "bench-results")]
        out: PathBuf,
        /// Only these experiments (comma-separated; default all).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Rewrite BENCHMARKS.md's generated section (between its marker lines) from
    /// bench-results/*.json; the prose outside the markers is kept.
    BenchReport {
        /// Directory of the JSON documents and figures.
        #[arg(long, default_value = "bench-results")]
        from: PathBuf,
        /// The Markdown file to update.
        #[arg(long, default_value = "BENCHMARKS.md")]
        output: PathBuf,
        /// Render documents of `--quick` runs too (marked as such).
        #[arg(long)]
        allow_quick: bool,
    },
    /// Cold-start figures on stock uhyve and `seuss run` (boot, spin ratio, largest
    /// allocation, JS start-up split, build-image time); writes target/bench-cold.json.
    BenchCold {
        /// Samples per figure (medians are reported).
        #[arg(short, default_value_t = 20)]
        n: usize,
    },
    /// Run the test262 sample (../shared/test262) inside the unikernel and compare with
    /// tests/test262/expectations.toml: a new failure or a new pass fails the command.
    Test262 {
        /// Run js-launcher-test262 as a Linux process instead (the "Boa as a process" baseline).
        #[arg(long)]
        host: bool,
        /// Only the CI-sized part (a few hundred tests, chosen by path order).
        #[arg(long)]
        ci: bool,
        /// Only tests whose path contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Rewrite the expectations file from this run.
        #[arg(long)]
        update: bool,
    },
    /// Run the fuzzers (snapfmt's libFuzzer targets, snapshot corruption and forging, image
    /// mutation, random hypercalls cold and on clones, 64-way concurrency) and print counts.
    Fuzz {
        /// Wall-clock budget per fuzzer, in seconds.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Most runs per fuzzer (default: only the time bounds them).
        #[arg(long)]
        iterations: Option<u64>,
        /// Seed of every random choice (runs are reproducible from it).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Threads of the concurrency run.
        #[arg(long, default_value_t = 64)]
        threads: u64,
        /// Invocations of the concurrency run.
        #[arg(long, default_value_t = 10_000)]
        invocations: u64,
        /// Only these fuzzers (snapfmt, snapshots, forged, images, hypercalls, clones, concurrency).
        only: Vec<String>,
    },
    /// Set up, build the test images and run the whole test suite.
    Test {
        /// Extra arguments for the test runner (e.g. a test name filter).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Setup => setup::ensure_all(),
        Cmd::BuildImage { input, runtime, output } => {
            setup::ensure_nightly()?;
            match input {
                _ if runtime => guest::copy_image(&jsimage::runtime_image()?, &output),
                Some(js) if js.extension().is_some_and(|e| e == "js" || e == "mjs" || e == "cjs") => {
                    jsimage::build_function_image(&js, &output)
                }
                Some(file) if file.is_file() => bail!(
                    "{}: build-image accepts a JavaScript function (.js, .mjs, .cjs) or a guest crate directory \
                     (with a Cargo.toml), or --runtime",
                    file.display()
                ),
                Some(dir) => guest::build_crate_image(&dir, &output),
                None => unreachable!("clap requires INPUT unless --runtime"),
            }
        }
        Cmd::Bundle { input, output } => jsimage::write_bundle(&input, &output),
        Cmd::Demo => demo(),
        Cmd::BuildTestImages => {
            setup::ensure_nightly()?;
            build_test_images()
        }
        Cmd::Test { args } => test(&args),
        Cmd::Test262 { host, ci, filter, update } => {
            setup::ensure_nightly()?;
            test262::run(&test262::Options { host, ci, filter, update }).map(|_| ())
        }
        Cmd::Fuzz { seconds, iterations, seed, threads, invocations, only } => {
            setup::ensure_nightly()?;
            fuzz::run(&fuzz::Budget { seconds, iterations, seed, threads, invocations }, &only, false)
        }
        Cmd::BenchCold { n } => bench_cold::run(n),
        Cmd::Bench { quick, out, only } => bench_all(quick, &in_root(out), &only),
        Cmd::BenchReport { from, output, allow_quick } => {
            bench_report::run(&bench_report::Options { from: in_root(from), output: in_root(output), allow_quick })
        }
    }
}

/// Root of the workspace (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// `$CARGO_HOME`, or `~/.cargo`.
pub fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"))
}

/// Where test and demo images are built.
pub fn image_dir() -> PathBuf {
    workspace_root().join("target/images")
}

/// `cargo build --release --quiet ARGS` for the host, in the workspace.
fn build_host(args: &[&str], what: &str) -> Result<()> {
    let ok = Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args(["build", "--release", "--quiet"])
        .args(args)
        .status()?
        .success();
    if !ok {
        bail!("building {what} failed");
    }
    Ok(())
}

/// Builds js-launcher for the host (its own workspace, with the Boa patch) into
/// `target/release/`.
pub fn build_host_launcher() -> Result<()> {
    boa_patch::ensure()?;
    let manifest = workspace_root().join("js-launcher/Cargo.toml");
    build_host(&["--manifest-path", manifest.to_str().context("workspace path is not UTF-8")?], "js-launcher for the host")
}

/// Builds the `seuss` CLI (release) and returns its path.
pub fn build_seuss() -> Result<PathBuf> {
    build_host(&["-p", "seuss-cli", "--bin", "seuss"], "seuss")?;
    Ok(workspace_root().join("target/release/seuss"))
}

/// A relative path taken from the workspace root (xtask runs from anywhere in it).
fn in_root(p: PathBuf) -> PathBuf {
    if p.is_absolute() { p } else { workspace_root().join(p) }
}

/// The experiments of `seuss bench`, in the order `cargo xtask bench` runs them.
const EXPERIMENTS: [&str; 6] = ["startup", "density", "throughput", "burst", "network", "serve"];

fn bench_all(quick: bool, out: &std::path::Path, only: &[String]) -> Result<()> {
    if let Some(bad) = only.iter().find(|e| !EXPERIMENTS.contains(&e.as_str())) {
        bail!("--only {bad}: not an experiment (one of {})", EXPERIMENTS.join(", "));
    }
    setup::ensure_all()?;
    build_test_images()?;
    let root = workspace_root();
    let seuss = build_seuss()?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for e in EXPERIMENTS.iter().filter(|e| only.is_empty() || only.iter().any(|o| o == *e)) {
        let mut cmd = Command::new(&seuss);
        cmd.current_dir(&root).args(["bench", e, "--json"]).arg(out.join(format!("{e}.json"))).arg("--plots").arg(out);
        if quick {
            cmd.arg("--quick");
        }
        println!("\n$ seuss bench {e}{} --json {}/{e}.json --plots {}", if quick { " --quick" } else { "" }, out.display(), out.display());
        if !cmd.status()?.success() {
            bail!("seuss bench {e} failed");
        }
    }
    println!("\nNext: `cargo xtask bench-report` writes BENCHMARKS.md's figures from {}.", out.display());
    Ok(())
}

fn demo() -> Result<()> {
    setup::ensure_all()?;
    let root = workspace_root();
    let dir = image_dir();
    let img = dir.join("hello.img");
    jsimage::build_function_image(&root.join("examples/hello.js"), &img)?;
    let args = r#"{"name":"Ada"}"#;
    println!("\n$ uhyve {} -- '{args}'", img.display());
    let status = Command::new(setup::uhyve_bin()).arg(&img).args(["--", args]).status()?;
    if !status.success() {
        bail!("uhyve exited with {status}");
    }
    let seuss = build_seuss()?;
    let snap = dir.join("hello.snap");
    for step in [
        vec!["snapshot".to_owned(), img.display().to_string(), "-o".into(), snap.display().to_string()],
        vec!["invoke".to_owned(), snap.display().to_string(), "--args".into(), args.into(), "-n".into(), "3".into(), "--output".into(), "json".into()],
    ] {
        println!("\n$ seuss {}", step.join(" "));
        if !Command::new(&seuss).args(&step).status()?.success() {
            bail!("seuss {} failed", step[0]);
        }
    }
    Ok(())
}

/// `cargo test --release --no-fail-fast ARGS -- EXTRA` with the test environment, echoing the
/// runner's output; returns (passed, failed, the runner's success).
fn cargo_test(args: &[&str], extra: &[String]) -> Result<(u64, u64, bool)> {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(workspace_root())
        .args(["test", "--release", "--no-fail-fast"])
        .args(args)
        .args(extra)
        .env("SEUSS_IMAGE_DIR", image_dir())
        .env("SEUSS_UHYVE", setup::uhyve_bin())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().context("running cargo test")?;
    let (mut passed, mut failed) = (0u64, 0u64);
    let stdout = child.stdout.take().expect("piped");
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok) {
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            for part in rest.split(';') {
                let mut words = part.split_whitespace().rev();
                let (Some(label), Some(n)) = (words.next(), words.next()) else { continue };
                let n: u64 = n.trim_start_matches(|c: char| !c.is_ascii_digit()).parse().unwrap_or(0);
                match label {
                    "passed" => passed += n,
                    "failed" => failed += n,
                    _ => {}
                }
            }
        }
    }
    Ok((passed, failed, child.wait()?.success()))
}

/// Builds every image the tests use into [`image_dir`].
pub fn build_test_images() -> Result<()> {
    let root = workspace_root();
    let dir = image_dir();
    guest::build_crate_image(&root.join("examples/rust-hello"), &dir.join("rust-hello.img"))?;
    guest::build_crate_image(&root.join("examples/rust-http-get"), &dir.join("rust-http-get.img"))?;
    guest::build_crate_image(&root.join("examples/hypercall-fuzz"), &dir.join("hypercall-fuzz.img"))?;
    let runtime = jsimage::runtime_image()?;
    guest::copy_image(&runtime, &dir.join("runtime.img"))?;
    for entry in std::fs::read_dir(root.join("examples"))? {
        let path = entry?.path();
        let is_js = path.extension().is_some_and(|e| e == "js" || e == "mjs");
        if is_js {
            let stem = path.file_stem().expect("file name").to_string_lossy().into_owned();
            let source = std::fs::read_to_string(&path)?;
            jsimage::check_syntax(&path, &source)?;
            jsimage::write_function_image(&runtime, source.as_bytes(), &dir.join(format!("{stem}.img")))?;
        }
    }
    // The same rust-hello built for the host: the native baseline of the spin-loop test; and
    // js-launcher built for the host: the "Boa as a Linux process" baseline of the benchmarks.
    build_host(&["-p", "rust-hello"], "rust-hello for the host")?;
    build_host_launcher()?;
    std::fs::copy(root.join("target/release/rust-hello"), dir.join("rust-hello-native"))?;
    Ok(())
}

fn test(extra: &[String]) -> Result<()> {
    if !std::path::Path::new("/dev/kvm").exists() {
        bail!("/dev/kvm is missing: the test suite boots real VMs and cannot run on this machine");
    }
    setup::ensure_all()?;
    build_test_images()?;
    // The CI-sized part of test262 in the unikernel; its counts join the closing line.
    println!("\n$ cargo xtask test262 --ci");
    let t262 = test262::run(&test262::Options { host: false, ci: true, filter: None, update: false });
    let (t262_passed, t262_failed) = match &t262 {
        Ok(s) => (s.as_expected as u64, s.regressions as u64),
        Err(e) => {
            println!("test262 CI part FAILED: {e:#}");
            (0, 1)
        }
    };
    // Every crate of the root workspace that builds for the host (libos builds only for the
    // guest), then js-launcher's own workspace (its unit tests: fetch's HTTP framing, ...).
    let root = cargo_test(&["--workspace", "--exclude", "libos"], extra)?;
    let launcher_manifest = workspace_root().join("js-launcher/Cargo.toml");
    let launcher = cargo_test(&["--manifest-path", &launcher_manifest.display().to_string()], &[])?;
    let passed = t262_passed + root.0 + launcher.0;
    let failed = t262_failed + root.1 + launcher.1;
    // A short run of every fuzzer but snapfmt's libFuzzer targets (their properties run in
    // snapfmt/tests/fuzz_smoke.rs above): a few runs each, well under a minute in all.
    println!("\n$ cargo xtask fuzz --iterations 12 --threads 8 --invocations 400 (CI-sized)");
    let budget = fuzz::Budget { seconds: 60, iterations: Some(12), seed: 1, threads: 8, invocations: 400 };
    let only: Vec<String> = fuzz::ALL.iter().filter(|n| **n != "snapfmt").map(|n| n.to_string()).collect();
    let fuzzed = fuzz::run(&budget, &only, true);
    let failed = failed + u64::from(fuzzed.is_err());
    println!("\n{passed} passed, {failed} failed");
    if !root.2 || !launcher.2 {
        bail!("test suite failed");
    }
    if t262.is_err() {
        bail!("test262 CI part failed");
    }
    fuzzed.context("the short fuzz run found failures")
}
