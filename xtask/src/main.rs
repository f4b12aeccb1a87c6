//! `cargo xtask`: the project's own commands.
//!
//! | command | what it does |
//! |---|---|
//! | `setup` | installs what the project needs and is missing: the pinned nightly with `rust-src` and `llvm-tools`, stock uhyve 0.10.0, Node.js |
//! | `build-image <CRATE_DIR \| FN.js \| --runtime> -o IMG` | builds a bootable unikernel image |
//! | `demo` | set-up, build the examples, run them on stock uhyve (the README's first command) |
//! | `test` | set-up, build the test images, run the whole test suite (the README's second command, `.ci/run`) |

mod guest;
mod jsimage;
mod setup;

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
    /// Install the pinned nightly (+rust-src, llvm-tools), stock uhyve 0.10.0 and Node.js if missing.
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
    /// Set up, build the examples and run them on stock uhyve.
    Demo,
    /// Set up, build the test images and run the whole test suite.
    Test {
        /// Extra arguments for the test runner (e.g. a test name filter).
        #[arg(trailing_var_arg = true)]
        args: Vec<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Setup => setup::ensure_all(),
        Cmd::BuildImage { input, runtime, output } => {
            setup::ensure_nightly()?;
            match input {
                _ if runtime => guest::copy_image(&jsimage::runtime_image()?, &output),
                Some(js) if js.extension().is_some_and(|e| e == "js" || e == "mjs" || e == "cjs") => {
                    jsimage::build_function_image(&js, &output)
                }
                Some(dir) => guest::build_crate_image(&dir, &output),
                None => unreachable!("clap requires INPUT unless --runtime"),
            }
        }
        Cmd::Demo => demo(),
        Cmd::Test { args } => test(&args),
    }
}

/// Root of the workspace (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Where test and demo images are built.
pub fn image_dir() -> PathBuf {
    workspace_root().join("target/images")
}

fn demo() -> Result<()> {
    setup::ensure_all()?;
    let img = image_dir().join("rust-hello.img");
    guest::build_crate_image(&workspace_root().join("examples/rust-hello"), &img)?;
    println!("\n$ uhyve {} -- alpha beta", img.display());
    let status = Command::new(setup::uhyve_bin()).arg(&img).args(["--", "alpha", "beta"]).status()?;
    if !status.success() {
        bail!("uhyve exited with {status}");
    }
    Ok(())
}

/// Builds every image the tests use into [`image_dir`].
fn build_test_images() -> Result<()> {
    guest::build_crate_image(&workspace_root().join("examples/rust-hello"), &image_dir().join("rust-hello.img"))?;
    Ok(())
}

fn test(extra: &[String]) -> Result<()> {
    if !std::path::Path::new("/dev/kvm").exists() {
        bail!("/dev/kvm is missing: the test suite boots real VMs and cannot run on this machine");
    }
    setup::ensure_all()?;
    build_test_images()?;
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(workspace_root())
        .args(["test", "--release"])
        .args(extra)
        .env("SEUSS_IMAGE_DIR", image_dir())
        .env("SEUSS_UHYVE", setup::uhyve_bin());
    let status = cmd.status().context("running cargo test")?;
    if !status.success() {
        bail!("test suite failed ({status})");
    }
    Ok(())
}
