//! The loop a benchmark author copies: snapshot a function image once, then N hot starts,
//! each on a clone returned to the snapshot by `reset()`, with their statistics.
//!
//! ```sh
//! cargo xtask build-image examples/hello.js -o hello.img
//! cargo run --release -p hypervisor-uhyve-ext --example hot_loop -- hello.img 1000
//! ```

use std::path::PathBuf;
use std::time::Instant;

use seuss_hv::{capture, image_ref, Config, Event, Image, Instance, Kvm, Loaded, Summary};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut argv = std::env::args().skip(1);
    let image_path = PathBuf::from(argv.next().ok_or("usage: hot_loop IMAGE [N] [ARGS_JSON]")?);
    let n: usize = argv.next().map(|s| s.parse()).transpose()?.unwrap_or(100);
    let args = argv.next().unwrap_or_else(|| "{}".to_owned());
    let kvm = Kvm::new()?;

    // Once: cold-boot the image until it asks for its first invocation, and capture it.
    let mut boot = Instance::boot(&kvm, &Image::from_file(&image_path)?, &Config::default())?;
    if boot.run()? != Event::WantsInvocation {
        return Err(format!("{} did not park for an invocation (a runtime image?)", image_path.display()).into());
    }
    let snap_path = std::env::temp_dir().join(format!("hot_loop-{}.snap", std::process::id()));
    capture(&mut boot, &snap_path, image_ref(&image_path)?)?;
    drop(boot);
    let snap = Loaded::open(&snap_path)?;

    // N hot starts: reset (off the measured path, as a node does after replying), then invoke.
    let mut clone = Instance::from_snapshot(&kvm, &snap, &Config::default())?;
    let (mut hot, mut resets) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut last = None;
    for i in 0..n {
        if i > 0 {
            let t = Instant::now();
            clone.reset()?;
            resets.push(t.elapsed());
        }
        let t = Instant::now();
        let outcome = clone.invoke(&args)?;
        hot.push(t.elapsed());
        last = outcome.result;
    }
    std::fs::remove_file(&snap_path)?;
    println!("result: {}", last.unwrap_or_default());
    println!("hot start (µs): {:?}", Summary::of(&hot));
    println!("reset (µs):     {:?}", Summary::of(&resets));
    Ok(())
}
