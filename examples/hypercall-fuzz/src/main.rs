//! `hypercall-fuzz`: a guest that attacks its hypervisor with random hypercalls.
//!
//! ```text
//! hypercall-fuzz fuzz SEED COUNT   COUNT random operations from SEED, then exit 0
//! hypercall-fuzz serve             park for invocations; each invocation's args
//!                                  {"seed":S,"count":N} run N operations, then return
//!                                  {"done":N} (clones: cargo xtask fuzz, the tests)
//! hypercall-fuzz result HEX        park for invocations and hand the bytes HEX encodes to the
//!                                  host as the raw result (the host must refuse anything but
//!                                  one JSON value); hex because arguments are split at spaces
//! ```
//!
//! An operation is one of:
//!
//! * an `out dx, al` hypercall: a port from uhyve's range (0x1000-0x1210) or ours
//!   (0x2000-0x2070), exact or not, rarely any port; `rdi` a parameter block of random words
//!   (small numbers, pointers into RAM, past its end, far outside it), an address inside RAM,
//!   at its edge or outside it;
//! * 32-bit port I/O on the PCI configuration ports (0xCF8-0xCFF) or nearby;
//! * a load or store in the virtio-net MMIO window (once the device is up).
//!
//! Before each operation one line `hcfuzz #I op=... port=0x.. rdi=0x..` goes to stderr (a
//! valid FileWrite), so the driver can count what ran before the host stopped the guest.
//! The host is expected to stop a guest that breaks the rules with a named error (exit 4 from
//! `seuss run`), to time out one that waits too long (3), or to let it go on; it must never
//! panic, hang or crash. A guest damaging itself (a random host write into its own memory)
//! may fault (139) or exit with a status of its own: also a clean end.

#[cfg(target_os = "hermit")]
use libos as _;

use std::io::Write;

/// Guest RAM starts here (uhyve's layout, which our hypervisor keeps).
const RAM_BASE: u64 = 0x1_0000_0000;
/// The virtio-net register window.
const MMIO_BASE: u64 = seuss_abi::virtio::MMIO_BASE;

/// What the operations need to know about the guest's memory.
struct Memory {
    /// A block of parameter words (hypercall structs are at most a few words).
    params: Vec<u64>,
    /// A scratch buffer big enough to be a valid buffer for every call (16 MiB + a page).
    scratch: Vec<u8>,
    /// Roughly the end of RAM (the main stack sits at its top).
    ram_end: u64,
    /// The device window is mapped (a socket call brought the device up).
    mmio: bool,
}

impl Memory {
    fn new() -> Self {
        let local = 0u64;
        let stack = &local as *const u64 as u64;
        // Text the host may read: a path, a JSON value, a line.
        let mut scratch = vec![0u8; seuss_abi::MAX_SOURCE + 4096];
        for (at, text) in [(0usize, &b"/tmp/hcfuzz\0"[..]), (64, b"{\"a\":1}\0"), (128, b"log line\n\0")] {
            scratch[at..at + text.len()].copy_from_slice(text);
        }
        Self {
            params: vec![0; 16],
            scratch,
            ram_end: (stack | 0x3f_ffff) + 1,
            mmio: false,
        }
    }

    fn scratch_addr(&self) -> u64 {
        self.scratch.as_ptr() as u64
    }

    /// An address: inside the scratch buffer, anywhere in RAM, at RAM's edges, or outside.
    fn address(&self, rng: &mut fastrand::Rng) -> u64 {
        match rng.u8(0..10) {
            0..=3 => self.scratch_addr() + rng.u64(0..self.scratch.len() as u64),
            4 => RAM_BASE + rng.u64(0..self.ram_end - RAM_BASE),
            5 => self.ram_end - rng.u64(0..4096),
            6 => RAM_BASE - rng.u64(1..4096),
            7 => rng.u64(0..RAM_BASE),
            8 => self.ram_end + rng.u64(0..1 << 30),
            _ => u64::MAX - rng.u64(0..4096),
        }
    }

    /// Word `w` of a well-formed parameter struct for `port` (a pointer into the scratch
    /// buffer where the struct has one, a small length, descriptor or value elsewhere), so
    /// calls pass decoding and reach the host's handlers; one word in forty is noise.
    fn shaped(&self, port: u16, w: usize, rng: &mut fastrand::Rng) -> u64 {
        if rng.u8(0..40) == 0 {
            return self.word(rng);
        }
        let ptr = self.scratch_addr() + rng.u64(0..64) * 8;
        let small = rng.u64(0..256);
        let fd = rng.u64(0..6);
        // Layouts of uhyve-interface 0.3's v2 structs (the ones the host decodes) and ours.
        match (port, w) {
            (0x1030, 0) => small,                     // SerialWriteBuffer { len, buf }
            (0x1030, 1) => ptr,
            (0x1100 | 0x1130, 0) => small,            // FileWrite/FileRead { len, ret, buf, fd }
            (0x1100 | 0x1130, 2) => ptr,
            (0x1100 | 0x1130, 3) => fd,
            (0x1110, 0) => ptr,                       // FileOpen { name, flags, mode, ret }
            (0x1110, 1) => rng.u64(0..0o4000) | (0o644 << 32),
            (0x1120, 0) => fd,                        // FileClose { fd, ret }
            (0x1140, 0) => rng.u64(0..4096),          // FileLseek { offset, whence, fd }
            (0x1140, 1) => rng.u64(0..4) | (fd << 32),
            (0x1150, 0) => ptr,                       // FileUnlink { name, ret }
            (0x1180, 0) => fd,                        // FileFstat { fd, attr, ret }
            (0x1180, 1) => ptr,
            // The ask calls: a buffer offer of the full size the ABI requires.
            (0x2000 | 0x2010, 0) => self.scratch_addr(),
            (0x2000, 1) => seuss_abi::MAX_SOURCE as u64,
            (0x2010, 1) => seuss_abi::MAX_PAYLOAD as u64,
            (0x2020 | 0x2030, 0) => ptr,              // ReturnResult/Log { buf, len, flag }
            (0x2020 | 0x2030, 1) => small,
            (0x2040, 0) => rng.u64(0..2_000_000),     // Wait { duration_ns }
            (0x2050, 0) => rng.u64(0..4),             // Mark { phase, guest_ns }
            // NetSetup { rx, tx: { desc, avail, used } }: ring addresses in the scratch
            // buffer, 16-byte aligned, or one byte off; the host checks alignment, bounds and
            // that the device is not already up (a second call stops the guest).
            (0x2070, 0..=5) => {
                let at = self.scratch_addr() + rng.u64(0..(self.scratch.len() as u64 - 8192) / 16) * 16;
                if rng.u8(0..8) == 0 { at + 1 } else { at }
            }
            _ => small,
        }
    }

    /// A parameter word: a small number, a size, an address, or noise.
    fn word(&self, rng: &mut fastrand::Rng) -> u64 {
        match rng.u8(0..10) {
            0..=2 => rng.u64(0..64),
            3 => [0, 1, 2, 4096, seuss_abi::MAX_PAYLOAD as u64, seuss_abi::MAX_SOURCE as u64, u32::MAX as u64, u64::MAX][rng.usize(0..8)],
            4..=6 => self.address(rng),
            7 => rng.u64(0..1 << 24),
            _ => rng.u64(..),
        }
    }
}

/// One of the hypercall ports that exist.
fn known_port(rng: &mut fastrand::Rng) -> u16 {
    const UHYVE: [u16; 10] = [0x1010, 0x1020, 0x1030, 0x1100, 0x1110, 0x1120, 0x1130, 0x1140, 0x1150, 0x1180];
    if rng.bool() {
        UHYVE[rng.usize(0..UHYVE.len())]
    } else {
        seuss_abi::Hypercall::ALL[rng.usize(0..seuss_abi::Hypercall::ALL.len())].port()
    }
}

/// The hypercall ports: uhyve's (`uhyve-interface` v2) and ours (`seuss-abi`), nearby ports
/// that do not exist, rarely any port.
fn port(rng: &mut fastrand::Rng) -> u16 {
    const UHYVE: [u16; 10] = [0x1010, 0x1020, 0x1030, 0x1100, 0x1110, 0x1120, 0x1130, 0x1140, 0x1150, 0x1180];
    match rng.u8(0..20) {
        0..=6 => UHYVE[rng.usize(0..UHYVE.len())],
        7..=13 => seuss_abi::Hypercall::ALL[rng.usize(0..seuss_abi::Hypercall::ALL.len())].port(),
        14..=16 => rng.u16(0x1000..=0x1210),
        17..=18 => rng.u16(0x2000..=0x2070),
        _ => rng.u16(..),
    }
}

/// `out dx, al` with `rdi` = `arg`: a hypercall (on kvm-pvm the CPL3 `out` traps and libos's
/// fault entry performs it at CPL0 with these registers).
fn hypercall(port: u16, arg: u64) {
    // SAFETY: the instruction transfers control to the hypervisor, which may read or write
    // any guest memory `arg` points to (that is the point: this program's memory is its own
    // to damage), hence no `nomem`.
    unsafe { core::arch::asm!("out dx, al", in("dx") port, in("al") 0u8, in("rdi") arg, options(nostack, preserves_flags)) };
}

/// 32-bit `out dx, eax`.
fn port_out32(port: u16, value: u32) {
    // SAFETY: port I/O only reaches the hypervisor's device model.
    unsafe { core::arch::asm!("out dx, eax", in("dx") port, in("eax") value, options(nostack, preserves_flags)) };
}

/// 32-bit `in eax, dx`.
fn port_in32(port: u16) -> u32 {
    let v: u32;
    // SAFETY: as above.
    unsafe { core::arch::asm!("in eax, dx", in("dx") port, out("eax") v, options(nostack, preserves_flags)) };
    v
}

/// Brings the network device up (libos does so at the first socket call), which maps its
/// register window for this program. A send the egress policy refuses is fine.
fn bring_up_device() -> bool {
    match std::net::UdpSocket::bind("0.0.0.0:0") {
        Ok(s) => {
            let _ = s.send_to(b"x", "10.0.2.2:9");
            true
        }
        Err(_) => false,
    }
}

/// Runs `count` operations from `seed`; returns how many ran (all, unless the host stops us).
fn fuzz(seed: u64, count: u64) -> u64 {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut mem = Memory::new();
    let mut err = std::io::stderr().lock();
    for i in 0..count {
        match rng.u8(0..20) {
            0..=15 => {
                // Mostly plausible calls (a known port, words that are small numbers or
                // pointers into the scratch buffer), so a run goes deep before a violation
                // stops it; the rest anything.
                // Mostly well-formed calls, so a run goes deep before a violation stops it;
                // then loosely formed ones; then anything.
                let style = rng.u8(0..20);
                let port = if style < 18 { known_port(&mut rng) } else { port(&mut rng) };
                for w in 0..mem.params.len() {
                    mem.params[w] = match style {
                        0..=15 => mem.shaped(port, w, &mut rng),
                        16..=17 => if rng.bool() { mem.scratch_addr() + rng.u64(0..4096) } else { rng.u64(0..64) },
                        _ => mem.word(&mut rng),
                    };
                }
                let mut arg = if style < 16 || rng.bool() { mem.params.as_ptr() as u64 } else { mem.address(&mut rng) };
                if port == seuss_abi::Hypercall::Wait.port() && arg == mem.params.as_ptr() as u64 && rng.u8(0..10) != 0 {
                    mem.params[0] = rng.u64(0..5_000_000); // mostly short sleeps
                }
                if port == 0x1010 {
                    if rng.u8(0..20) != 0 {
                        continue; // Exit ends the run: rare
                    }
                    arg = rng.u64(0..100); // keep clear of 101 (a host panic's status)
                }
                let _ = writeln!(err, "hcfuzz #{i} op=hypercall port={port:#x} rdi={arg:#x}");
                hypercall(port, arg);
            }
            16..=17 => {
                let port = match rng.u8(0..4) {
                    0..=2 => rng.u16(0xCF8..=0xCFF),
                    _ => rng.u16(0xCF0..=0xD07),
                };
                let value = if rng.bool() { 0x8000_0000 | rng.u32(0..0x10000) & !3 } else { rng.u32(..) };
                let write = rng.bool();
                let _ = writeln!(err, "hcfuzz #{i} op=pci-{} port={port:#x} value={value:#x}", if write { "out" } else { "in" });
                if write { port_out32(port, value) } else { let _ = port_in32(port); }
            }
            _ => {
                if !mem.mmio {
                    mem.mmio = bring_up_device();
                    if !mem.mmio {
                        continue;
                    }
                }
                let offset = match rng.u8(0..4) {
                    0..=2 => rng.u64(0..0x100),
                    _ => rng.u64(0..0x20_0000),
                } & !7;
                let addr = MMIO_BASE + offset;
                let value = mem.word(&mut rng);
                let write = rng.bool();
                let width = [1u64, 2, 4, 8][rng.usize(0..4)];
                let _ = writeln!(err, "hcfuzz #{i} op=mmio-{} addr={addr:#x} width={width}", if write { "store" } else { "load" });
                // SAFETY: the window is mapped (bring_up_device) and every access is an MMIO
                // exit to the hypervisor's device model.
                unsafe {
                    match (write, width) {
                        (true, 1) => (addr as *mut u8).write_volatile(value as u8),
                        (true, 2) => (addr as *mut u16).write_volatile(value as u16),
                        (true, 4) => (addr as *mut u32).write_volatile(value as u32),
                        (true, _) => (addr as *mut u64).write_volatile(value),
                        (false, 1) => drop((addr as *const u8).read_volatile()),
                        (false, 2) => drop((addr as *const u16).read_volatile()),
                        (false, 4) => drop((addr as *const u32).read_volatile()),
                        (false, _) => drop((addr as *const u64).read_volatile()),
                    }
                }
            }
        }
    }
    count
}

/// `{"seed":S,"count":N}` without a JSON library (the args are the driver's own).
#[cfg_attr(not(target_os = "hermit"), allow(dead_code))]
fn parse_args(args: &str) -> Option<(u64, u64)> {
    let field = |name: &str| -> Option<u64> {
        let at = args.find(&format!("\"{name}\":"))? + name.len() + 3;
        let digits: String = args[at..].chars().skip_while(|c| c.is_whitespace()).take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    Some((field("seed")?, field("count")?))
}

#[cfg(target_os = "hermit")]
fn serve() -> ! {
    loop {
        let inv = match libos::invocation::next_invocation() {
            Ok(Some(inv)) => inv,
            Ok(None) => std::process::exit(0),
            Err(e) => {
                eprintln!("hypercall-fuzz: {e}");
                std::process::exit(2);
            }
        };
        match parse_args(&inv.args) {
            Some((seed, count)) => {
                let done = fuzz(seed, count);
                libos::invocation::return_result(&format!("{{\"done\":{done}}}"), false);
            }
            None => {
                libos::invocation::return_result(r#"{"error":"args must be {\"seed\":S,\"count\":N}"}"#, true);
            }
        }
    }
}

#[cfg(target_os = "hermit")]
fn raw_result(text: &str) -> ! {
    loop {
        match libos::invocation::next_invocation() {
            Ok(Some(_)) => {
                libos::invocation::return_result(text, false);
            }
            _ => std::process::exit(0),
        }
    }
}

/// `"7b7d"` -> `"{}"`.
#[cfg_attr(not(target_os = "hermit"), allow(dead_code))]
fn decode_hex(hex: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|d| u8::from_str_radix(d, 16).ok())).collect();
    String::from_utf8(bytes?).ok()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["fuzz", seed, count] => {
            let (Ok(seed), Ok(count)) = (seed.parse(), count.parse()) else {
                eprintln!("hypercall-fuzz: SEED and COUNT are numbers");
                std::process::exit(2);
            };
            let done = fuzz(seed, count);
            eprintln!("hcfuzz done {done}");
        }
        #[cfg(target_os = "hermit")]
        ["serve"] => serve(),
        #[cfg(target_os = "hermit")]
        ["result", hex] => match decode_hex(hex) {
            Some(text) => raw_result(&text),
            None => {
                eprintln!("hypercall-fuzz: result takes the text as hex digits");
                std::process::exit(2);
            }
        },
        _ => {
            eprintln!("usage: hypercall-fuzz fuzz SEED COUNT | serve | result HEX");
            std::process::exit(2);
        }
    }
}
