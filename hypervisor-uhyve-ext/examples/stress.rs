//! Stress drivers of `cargo xtask fuzz` that need the library rather than the CLI; each prints
//! one JSON summary line and exits 1 when anything was lost, wrong or crashed the host.
//!
//! ```sh
//! # T threads, each with its own clone of hello.img's function snapshot, share N invocations;
//! # every invocation's args name it, and its result must greet exactly that name.
//! cargo run --release -p hypervisor-uhyve-ext --example stress -- concurrency hello.img 64 10000
//! # N invocations of a reset clone of the hypercall-fuzz guest (`serve`), each issuing OPS
//! # random hypercalls from seed S+i: every one must end as a result, a named violation, a
//! # timeout or an exit, never a host error.
//! cargo run --release -p hypervisor-uhyve-ext --example stress -- clone-fuzz hypercall-fuzz.img 1 1000 50 60
//! ```

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seuss_hv::{capture, image_ref, Config, ErrorKind, Event, Image, Instance, Kvm, Loaded};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Boots `image` with `args`, runs it to its invocation point and snapshots it.
fn function_snapshot(kvm: &Kvm, image: &Path, args: &[&str]) -> Res<Arc<Loaded>> {
    let config = Config { args: args.iter().map(|s| s.to_string()).collect(), ..Config::default() };
    let mut boot = Instance::boot(kvm, &Image::from_file(image)?, &config)?;
    if boot.run()? != Event::WantsInvocation {
        return Err(format!("{} did not park for an invocation", image.display()).into());
    }
    let path = std::env::temp_dir().join(format!("stress-{}-{}.snap", std::process::id(), image.file_stem().unwrap_or_default().to_string_lossy()));
    capture(&mut boot, &path, image_ref(image)?)?;
    let snap = Loaded::open(&path)?;
    std::fs::remove_file(&path)?; // the open files stay valid
    Ok(snap)
}

fn concurrency(image: &Path, threads: u64, total: u64) -> Res<bool> {
    let kvm = Kvm::new()?;
    let snap = function_snapshot(&kvm, image, &[])?;
    let next = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (snap, next) = (snap.clone(), next.clone());
            std::thread::spawn(move || -> (u64, u64, u64, Vec<String>) {
                let (mut correct, mut wrong, mut errors, mut notes) = (0, 0, 0, Vec::new());
                let kvm = match Kvm::new() {
                    Ok(k) => k,
                    Err(e) => return (0, 0, 1, vec![format!("thread {t}: /dev/kvm: {e}")]),
                };
                let mut clone = match Instance::from_snapshot(&kvm, &snap, &Config::default()) {
                    Ok(c) => c,
                    Err(e) => return (0, 0, 1, vec![format!("thread {t}: clone: {e}")]),
                };
                let mut first = true;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    if !first {
                        if let Err(e) = clone.reset() {
                            errors += 1;
                            notes.push(format!("invocation {i}: reset: {e}"));
                            continue;
                        }
                    }
                    first = false;
                    let name = format!("t{t}-i{i}");
                    match clone.invoke(&format!(r#"{{"name":"{name}"}}"#)) {
                        Ok(o) if o.result.as_deref() == Some(&format!(r#"{{"greeting":"Hello, {name}!"}}"#)) && !o.is_error => correct += 1,
                        Ok(o) => {
                            wrong += 1;
                            notes.push(format!("invocation {i}: {:?}", o.result));
                        }
                        Err(e) => {
                            errors += 1;
                            notes.push(format!("invocation {i}: {e}"));
                        }
                    }
                }
                (correct, wrong, errors, notes)
            })
        })
        .collect();
    let (mut correct, mut wrong, mut errors, mut notes) = (0, 0, 0, Vec::new());
    for h in handles {
        let (c, w, e, n) = h.join().map_err(|_| "a worker thread panicked")?;
        correct += c;
        wrong += w;
        errors += e;
        notes.extend(n);
    }
    let lost = total - correct - wrong - errors;
    println!(
        "{}",
        serde_json::json!({
            "mode": "concurrency", "threads": threads, "invocations": total, "results": correct + wrong,
            "correct": correct, "wrong": wrong, "errors": errors, "lost": lost,
            "seconds": t0.elapsed().as_secs_f64(), "notes": notes.iter().take(5).collect::<Vec<_>>(),
        })
    );
    Ok(correct == total)
}

fn clone_fuzz(image: &Path, seed0: u64, invocations: u64, ops: u64, budget: Duration) -> Res<bool> {
    let kvm = Kvm::new()?;
    let snap = function_snapshot(&kvm, image, &["serve"])?;
    let config = Config { timeout: Duration::from_secs(2), ..Config::default() };
    let mut clone = Instance::from_snapshot(&kvm, &snap, &config)?;
    let (mut results, mut violations, mut timeouts, mut exits, mut hypercalls) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut failures = Vec::new();
    let t0 = Instant::now();
    let mut done = 0;
    for i in 0..invocations {
        if t0.elapsed() > budget {
            break;
        }
        done += 1;
        if i > 0 {
            if let Err(e) = clone.reset() {
                failures.push(format!("seed {}: reset: {e}", seed0 + i));
                break;
            }
        }
        let r = clone.invoke(&format!(r#"{{"seed":{},"count":{ops}}}"#, seed0 + i));
        let (_, err) = clone.take_output();
        hypercalls += String::from_utf8_lossy(&err).matches("hcfuzz #").count() as u64;
        match r {
            Ok(o) if o.event == Event::Returned => results += 1,
            Ok(_) => exits += 1,
            Err(e) => match e.kind() {
                ErrorKind::Guest => violations += 1,
                ErrorKind::Timeout => timeouts += 1,
                _ => failures.push(format!("seed {}: host error: {e}", seed0 + i)),
            },
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "mode": "clone-fuzz", "invocations": done, "operations": hypercalls,
            "results": results, "violations": violations, "timeouts": timeouts, "exits": exits,
            "failures": failures.len(), "notes": failures.iter().take(5).collect::<Vec<_>>(),
            "seconds": t0.elapsed().as_secs_f64(),
        })
    );
    Ok(failures.is_empty())
}

fn main() -> Res<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| -> Res<u64> { Ok(argv.get(i).ok_or("missing argument")?.parse()?) };
    let ok = match argv.first().map(String::as_str) {
        Some("concurrency") => concurrency(Path::new(argv.get(1).ok_or("IMAGE")?), num(2)?, num(3)?)?,
        Some("clone-fuzz") => {
            let budget = Duration::from_secs(if argv.len() > 5 { num(5)? } else { u64::MAX / 4 });
            clone_fuzz(Path::new(argv.get(1).ok_or("IMAGE")?), num(2)?, num(3)?, num(4)?, budget)?
        }
        _ => return Err("usage: stress concurrency IMAGE THREADS TOTAL | clone-fuzz IMAGE SEED INVOCATIONS OPS [SECONDS]".into()),
    };
    if !ok {
        std::process::exit(1);
    }
    Ok(())
}
