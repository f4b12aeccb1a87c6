//! `seuss snapshot`: runtime and function snapshots, cold or over a runtime snapshot (warm).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use seuss_hv::{Config, Console, Event, Hypercall, ImageKind, Instance, Loaded};

use crate::args::{NetArgs, image_of_kind, parse_seconds, MemoryArg};
use crate::usage;

/// Arguments of `seuss snapshot`.
#[derive(clap::Args)]
pub struct SnapshotArgs {
    /// A function image (from `cargo xtask build-image fn.js`).
    #[arg(required_unless_present_any = ["runtime", "from"], conflicts_with_all = ["runtime", "from"])]
    image: Option<PathBuf>,
    /// A runtime image (`cargo xtask build-image --runtime`): capture a runtime snapshot (a
    /// function snapshot is then taken from it with --from and --function).
    #[arg(long, conflicts_with_all = ["from", "function"])]
    runtime: Option<PathBuf>,
    /// A runtime snapshot to take a function snapshot from (with --function).
    #[arg(long, requires = "function")]
    from: Option<PathBuf>,
    /// The function source for --from (a runtime *snapshot*, made with --runtime).
    #[arg(long, requires = "from")]
    function: Option<PathBuf>,
    /// Where to write the snapshot (not one of the inputs).
    #[arg(short, long)]
    output: PathBuf,
    /// With --from: keep the function snapshot's pages in the page store in DIR (deduplicated
    /// and compressed; the output file then holds the header alone).
    #[arg(long, value_name = "DIR", requires = "from")]
    store: Option<PathBuf>,
    #[command(flatten)]
    memory: MemoryArg,
    #[command(flatten)]
    net: NetArgs,
    /// Wall-clock limit in seconds for booting/importing.
    #[arg(long, default_value = "60", value_parser = parse_seconds)]
    timeout: Duration,
}

/// Whether two paths name the same file (the second may not exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// Runs the command.
pub fn snapshot(a: SnapshotArgs) -> Result<ExitCode> {
    for input in [&a.image, &a.runtime, &a.from, &a.function].into_iter().flatten() {
        if same_file(input, &a.output) {
            usage!("-o {} is also an input: write the snapshot to another file", a.output.display());
        }
    }
    let kvm = seuss_hv::Kvm::new().context("opening /dev/kvm")?;
    let config = Config { memory: a.memory.memory, timeout: a.timeout, console: Console::Inherit, network: a.net.mode()?, ..Config::default() };
    let t0 = Instant::now();
    if let (Some(from), Some(function)) = (&a.from, &a.function) {
        let runtime = Loaded::open(from)?;
        if runtime.parked_call() != Hypercall::FunctionSource {
            usage!("--from {} is a function snapshot; the warm path needs a runtime snapshot (`seuss snapshot --runtime runtime.img`)", from.display());
        }
        if runtime.chain_contains(&a.output) {
            usage!("-o {} is a parent of --from {}: write the snapshot to another file", a.output.display(), from.display());
        }
        let source = std::fs::read_to_string(function).with_context(|| format!("--function: reading {}", function.display()))?;
        let snap = match &a.store {
            Some(dir) => {
                let store = std::sync::Arc::new(seuss_hv::PageStore::open(dir, seuss_hv::Codec::Zstd)?);
                let snap = seuss_hv::warm_snapshot_in(&kvm, &runtime, &source, &config, &a.output, seuss_hv::Storage { pages: Some(&store), key: None })?;
                store.sync()?;
                snap
            }
            None => seuss_hv::warm_snapshot(&kvm, &runtime, &source, &config, &a.output)?,
        };
        report(&snap, t0.elapsed());
        return Ok(ExitCode::SUCCESS);
    }
    let (path, image, want) = match (&a.image, &a.runtime) {
        (Some(p), _) => (p, image_of_kind(p, &[ImageKind::Function], "")?, Event::WantsInvocation),
        (None, Some(p)) => (p, image_of_kind(p, &[ImageKind::Runtime], "--runtime ")?, Event::WantsSource),
        _ => unreachable!("clap requires one"),
    };
    let mut inst = Instance::boot(&kvm, &image, &config)?;
    let event = inst.run()?;
    if event != want {
        let p = path.display();
        match event {
            Event::Returned => anyhow::bail!(seuss_hv::SnapshotError::Import(
                inst.last_result().unwrap_or("no message").to_owned()
            )),
            Event::Exited(code) => anyhow::bail!(seuss_hv::Error::Crash {
                what: format!(
                    "{p} exited with status {code} before it could be snapshotted{}",
                    inst.last_result().map(|r| format!(": {r}")).unwrap_or_default()
                ),
                rip: 0,
            }),
            other => anyhow::bail!(seuss_hv::Error::Crash { what: format!("{p} stopped at {other:?}, not {want:?}"), rip: 0 }),
        }
    }
    seuss_hv::capture(&mut inst, &a.output, seuss_hv::image_ref(path)?)?;
    let snap = Loaded::open(&a.output)?;
    report(&snap, t0.elapsed());
    Ok(ExitCode::SUCCESS)
}

fn report(snap: &Loaded, took: Duration) {
    eprintln!(
        "snapshot {} ({:?}, {} pages, {} bytes stored{}) in {} ms",
        snap.path().display(),
        snap.header().kind,
        snap.header().stored_pages(),
        snap.stored_bytes(),
        snap.parent().map(|p| format!(", diff over {}", p.path().display())).unwrap_or_default(),
        took.as_millis()
    );
}
