//! rust-hello: a plain Rust std program that exercises libos.
//!
//! ```text
//! rust-hello [WORDS...]          print the args, env, a HashMap, clocks
//! rust-hello --read PATH         also print the file's contents (via --file-mapping)
//! rust-hello --alloc BYTES       allocate and touch a Vec of BYTES bytes
//! rust-hello --spin N            time N iterations of a tight loop, print ns/iter
//! rust-hello --fault KIND        null | ud | stack-overflow | oom | panic | exit-err |
//!                                bad-hypercall | bad-port
//! ```
//! Apart from the `use libos as _;` line this is ordinary std Rust; it also builds for the
//! host, where it is the native baseline of the spin loop.

#[cfg(target_os = "hermit")]
use libos as _;

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn main() -> Result<(), String> {
    let booted = Instant::now();
    // libos's clock starts when its CPL3 start-up begins: this is start-up-to-main.
    #[cfg(target_os = "hermit")]
    println!("rust-hello: libos start-up to main {} us", libos::monotonic_ns() / 1000);
    let args: Vec<String> = std::env::args().collect();
    println!("rust-hello: args = {:?}", &args[1..]);
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    env.sort();
    for (k, v) in &env {
        println!("rust-hello: env {k}={v}");
    }
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for a in &args[1..] {
        *counts.entry(a.as_str()).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort();
    println!("rust-hello: word counts = {counts:?}");
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?;
    println!("rust-hello: unix time = {}.{:03}", unix.as_secs(), unix.subsec_millis());

    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        let mut value = || rest.next().cloned().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--read" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
                print!("rust-hello: file {path}:\n{text}");
                if !text.ends_with('\n') {
                    println!();
                }
            }
            "--alloc" => {
                let n: usize = value()?.parse().map_err(|e| format!("--alloc: {e}"))?;
                let mut v = vec![0u8; n];
                for i in (0..n).step_by(4096) {
                    v[i] = 1;
                }
                println!("rust-hello: allocated {} bytes, touched {} pages", v.len(), v.iter().filter(|b| **b == 1).count());
            }
            "--spin" => {
                let n: u64 = value()?.parse().map_err(|e| format!("--spin: {e}"))?;
                let t = Instant::now();
                let x = spin(n);
                let ns = t.elapsed().as_nanos();
                println!("rust-hello: spin {n} iterations in {ns} ns = {:.3} ns/iter (checksum {x})", ns as f64 / n.max(1) as f64);
            }
            "--fault" => fault(&value()?),
            _ => {}
        }
    }
    println!("rust-hello: main ran for {} us", booted.elapsed().as_micros());
    Ok(())
}

/// The timed loop: a data-dependent integer recurrence the optimiser cannot fold.
#[inline(never)]
pub fn spin(n: u64) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..n {
        x = std::hint::black_box(x.rotate_left(7) ^ i).wrapping_mul(0x2545_f491_4f6c_dd1d);
    }
    x
}

fn fault(kind: &str) {
    match kind {
        "null" => {
            // SAFETY: deliberately invalid, to test the fault path.
            let v = unsafe { std::ptr::read_volatile(std::hint::black_box(std::ptr::null::<u64>())) };
            println!("unreachable {v}");
        }
        // SAFETY: deliberately invalid, to test the fault path.
        "ud" => unsafe { std::arch::asm!("ud2") },
        "stack-overflow" => {
            #[allow(unconditional_recursion)]
            fn recurse(n: u64) -> u64 {
                let buf = std::hint::black_box([n; 64]);
                recurse(buf[3] + 1) + buf[7]
            }
            println!("unreachable {}", recurse(0));
        }
        "oom" => {
            let mut blocks = Vec::new();
            loop {
                blocks.push(vec![1u8; 8 << 20]);
            }
        }
        "panic" => panic!("rust-hello was asked to panic"),
        // A hypercall whose parameter address lies outside guest RAM: the hypervisor must stop
        // the guest with an error, not crash (stock uhyve panics on this one).
        #[cfg(target_os = "hermit")]
        // SAFETY: deliberately invalid hypercall, to test the hypervisor's validation.
        "bad-hypercall" => unsafe {
            std::arch::asm!("out dx, al", in("dx") 0x1100u16, in("al") 0u8, in("rdi") 0xdead_0000_0000u64);
        },
        // A write to an I/O port no hypervisor defines.
        #[cfg(target_os = "hermit")]
        // SAFETY: deliberately invalid port, to test the hypervisor's handling.
        "bad-port" => unsafe {
            std::arch::asm!("out dx, al", in("dx") 0x3000u16, in("al") 0u8, in("rdi") 0u64);
        },
        "exit-err" => std::process::exit(3),
        other => eprintln!("unknown fault kind {other}"),
    }
}
