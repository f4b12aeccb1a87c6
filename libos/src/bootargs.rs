//! Command-line arguments and environment from the device tree's `/chosen/bootargs`.
//!
//! uhyve writes `bootargs` as `<kernel args> env=KEY=VALUE ... -- <app args>`: the
//! `env=` words are shell-quoted (`shell_words::quote`), the kernel and app arguments are the
//! user's words joined by single spaces *without* quoting. So arguments are split on
//! whitespace (an argument that contained a space cannot be told apart, as under any Hermit
//! kernel), and [`raw_app_args`] gives the unsplit text for programs that take one free-form
//! argument (the JS launcher's JSON args).

use alloc::string::String;
use alloc::vec::Vec;

use crate::sync::SpinLock;

/// What the device tree told us, parsed once at boot.
pub struct BootArgs {
    /// argv, with a synthesised `argv[0]`.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    /// The app part of bootargs, unsplit.
    pub raw_app_args: String,
    /// `/hermit,tsc/khz` if present.
    pub tsc_khz: Option<u64>,
    /// `/chosen/seuss,abi`: set by our hypervisor (its ABI version); absent under stock uhyve.
    pub seuss_abi: Option<u32>,
    /// `/chosen/seuss,net`: our hypervisor's user-mode network is behind the NIC.
    pub seuss_net: bool,
}

static BOOT_ARGS: SpinLock<Option<BootArgs>> = SpinLock::new(None);

/// Name reported as `argv[0]`.
pub const ARGV0: &str = "libos-guest";

/// Parses the device tree at `fdt_addr` (if any) and records the result.
///
/// # Safety
/// `fdt_addr` must point at the hypervisor's flattened device tree.
pub unsafe fn init(fdt_addr: Option<u64>) {
    let mut parsed = BootArgs {
        args: alloc::vec![String::from(ARGV0)],
        env: Vec::new(),
        raw_app_args: String::new(),
        tsc_khz: None,
        seuss_abi: None,
        seuss_net: false,
    };
    // SAFETY: forwarded from the caller.
    if let Some(fdt) = fdt_addr.and_then(|a| unsafe { fdt::Fdt::from_ptr(a as *const u8) }.ok()) {
        if let Some(chosen) = fdt.find_node("/chosen") {
            if let Some(bootargs) = chosen.property("bootargs").and_then(|p| p.as_str()) {
                parse(bootargs, &mut parsed);
            }
            if let Some(v) = chosen.property(seuss_abi::FDT_PROPERTY).and_then(|p| p.as_usize()) {
                parsed.seuss_abi = Some(v as u32);
            }
            parsed.seuss_net = chosen.property(seuss_abi::net::FDT_PROPERTY).is_some();
        }
        if let Some(khz) = fdt.find_node("/hermit,tsc").and_then(|n| n.property("khz")) {
            parsed.tsc_khz = khz.as_usize().map(|k| k as u64);
        }
    }
    *BOOT_ARGS.lock() = Some(parsed);
}

fn parse(bootargs: &str, out: &mut BootArgs) {
    let (kernel, app) = match bootargs.find("-- ").filter(|&i| i == 0 || bootargs[..i].ends_with(' ')) {
        Some(i) => (&bootargs[..i], Some(&bootargs[i + 3..])),
        None if bootargs.trim_end() == "--" || bootargs.trim_end().ends_with(" --") => {
            (bootargs.trim_end().trim_end_matches("--"), Some(""))
        }
        None => (bootargs, None),
    };
    // uhyve appends `env=...` words (shell-quoted) after the raw kernel arguments.
    let env_start = kernel
        .match_indices("env=")
        .map(|(i, _)| i)
        .find(|&i| i == 0 || kernel.as_bytes()[i - 1] == b' ')
        .unwrap_or(kernel.len());
    let raw_kernel = kernel[..env_start].trim();
    for word in shell_split(&kernel[env_start..]) {
        if let Some(kv) = word.strip_prefix("env=") {
            out.env.push(kv.into());
        }
    }
    // libos has no kernel options of its own, so kernel arguments (`uhyve img -- a b`) and app
    // arguments (`uhyve img -- -- a b`) both reach the program, in that order.
    out.args.extend(raw_kernel.split_ascii_whitespace().map(String::from));
    if let Some(app) = app {
        out.args.extend(app.split_ascii_whitespace().map(String::from));
    }
    out.raw_app_args = match app {
        Some(app) if !app.trim().is_empty() => app.trim().into(),
        _ => raw_kernel.into(),
    };
}

/// POSIX-shell word splitting for the kernel part: single quotes, double quotes, backslash.
fn shell_split(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    cur.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        _ => cur.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            c if c.is_ascii_whitespace() => {
                if in_word {
                    words.push(core::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Runs `f` on the parsed boot arguments.
pub fn with<R>(f: impl FnOnce(&BootArgs) -> R) -> R {
    let guard = BOOT_ARGS.lock();
    match guard.as_ref() {
        Some(b) => f(b),
        None => f(&BootArgs {
            args: Vec::new(),
            env: Vec::new(),
            raw_app_args: String::new(),
            tsc_khz: None,
            seuss_abi: None,
            seuss_net: false,
        }),
    }
}

/// The app part of the command line, unsplit (empty when none was given).
pub fn raw_app_args() -> String {
    with(|b| b.raw_app_args.clone())
}
