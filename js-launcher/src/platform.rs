//! What the launcher needs from its platform: libos inside the unikernel, or plain std when
//! the same launcher is built for the host (Linux) as the "Boa as a process" baseline of the
//! benchmarks (`js-launcher FN.js [ARGS_JSON]`).

// [fetch] non-blocking connect and poll, for the host and the guest.
pub mod net;

#[cfg(target_os = "hermit")]
pub use libos::{fill_random, invocation, monotonic_ns, raw_app_args, realtime_ns, write_stderr, write_stdout};

#[cfg(not(target_os = "hermit"))]
pub use host::*;

#[cfg(not(target_os = "hermit"))]
mod host {
    use std::io::{Read, Write};
    use std::sync::OnceLock;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};

    fn start() -> Instant {
        static START: OnceLock<Instant> = OnceLock::new();
        *START.get_or_init(Instant::now)
    }

    /// Nanoseconds since the process started.
    pub fn monotonic_ns() -> u64 {
        start().elapsed().as_nanos() as u64
    }

    /// Unix time in nanoseconds.
    pub fn realtime_ns() -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
    }

    /// Random bytes from the kernel.
    pub fn fill_random(buf: &mut [u8]) -> bool {
        std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf)).is_ok()
    }

    /// The args JSON: the second command-line argument, or standard input when it is `-`
    /// (args can be larger than one command-line argument may be).
    pub fn raw_app_args() -> String {
        match std::env::args().nth(2) {
            Some(a) if a == "-" => {
                let mut s = String::new();
                let _ = std::io::stdin().read_to_string(&mut s);
                s
            }
            a => a.unwrap_or_default(),
        }
    }

    /// Writes to stdout.
    pub fn write_stdout(b: &[u8]) {
        let _ = std::io::stdout().write_all(b);
    }

    /// Writes to stderr.
    pub fn write_stderr(b: &[u8]) {
        let _ = std::io::stderr().write_all(b);
    }

    /// The invocation calls, standalone: the function comes from the file named by the first
    /// command-line argument. Mirrors `libos::invocation`, so some items go unused here.
    #[allow(dead_code)]
    pub mod invocation {
        /// Always [`Channel::Standalone`] on the host.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Channel {
            /// Never on the host.
            Seuss(u32),
            /// A plain process.
            Standalone,
        }

        /// One invocation (never produced on the host).
        pub struct Invocation {
            /// Args JSON.
            pub args: String,
            /// Id.
            pub id: u64,
            /// Entropy.
            pub entropy: [u8; 32],
        }

        /// The platform's channel.
        pub fn channel() -> Channel {
            Channel::Standalone
        }

        /// Reads the function from the file named by the first argument.
        pub fn ask_function_source() -> Result<Option<String>, &'static str> {
            let Some(path) = std::env::args().nth(1) else { return Ok(None) };
            std::fs::read_to_string(path).map(Some).map_err(|_| "cannot read the function file")
        }

        /// No invocations beyond the command line.
        pub fn next_invocation() -> Result<Option<Invocation>, &'static str> {
            Ok(None)
        }

        /// Not handled: the caller prints the result.
        pub fn return_result(_: &str, _: bool) -> bool {
            false
        }

        /// Not handled: the caller prints the line.
        pub fn log_line(_: &str, _: bool) -> bool {
            false
        }

        /// Sleeps the thread.
        pub fn sleep_ns(ns: u64) {
            std::thread::sleep(std::time::Duration::from_nanos(ns));
        }

        /// No-op.
        pub fn mark(_: seuss_abi::Phase) {}
    }
}
