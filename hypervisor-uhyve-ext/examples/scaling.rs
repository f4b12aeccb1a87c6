//! In-process scaling: T threads, each with its own clone of one function snapshot, run
//! `reset` + `invoke` in a loop for S seconds; prints invocations/s in total and the median
//! latency. Compare T = 1, 2, 64 (and two processes of T = 1) to see what threads share.
//!
//! ```sh
//! cargo run --release -p hypervisor-uhyve-ext --example scaling -- nop.img 2 5
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use seuss_hv::{capture, image_ref, Config, Event, Image, Instance, Kvm, Loaded, Summary};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut argv = std::env::args().skip(1);
    let image_path = PathBuf::from(argv.next().ok_or("usage: scaling IMAGE [THREADS] [SECONDS]")?);
    let threads: usize = argv.next().map(|s| s.parse()).transpose()?.unwrap_or(1);
    let secs: u64 = argv.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let kvm = Kvm::new()?;
    let mut boot = Instance::boot(&kvm, &Image::from_file(&image_path)?, &Config::default())?;
    if boot.run()? != Event::WantsInvocation {
        return Err("not a function image".into());
    }
    let snap_path = std::env::temp_dir().join(format!("scaling-{}.snap", std::process::id()));
    capture(&mut boot, &snap_path, image_ref(&image_path)?)?;
    drop(boot);
    let snap: Arc<Loaded> = Loaded::open(&snap_path)?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let snap = snap.clone();
            std::thread::spawn(move || -> Vec<Duration> {
                let kvm = Kvm::new().expect("kvm");
                let mut clone = Instance::from_snapshot(&kvm, &snap, &Config::default()).expect("clone");
                let mut lat = Vec::new();
                let mut first = true;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    if !first {
                        clone.reset().expect("reset");
                    }
                    first = false;
                    clone.invoke("{}").expect("invoke");
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    let all: Vec<Duration> = handles.into_iter().flat_map(|h| h.join().expect("thread")).collect();
    std::fs::remove_file(&snap_path)?;
    let s = Summary::of(&all).ok_or("no samples")?;
    println!("threads={threads} invocations/s={:.0} reset+invoke p50={:.0}us", all.len() as f64 / secs as f64, s.median);
    Ok(())
}
