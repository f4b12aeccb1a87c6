//! Guest console output: where it goes ([`Console`]) and how much of it is kept.
//!
//! Three streams per instance: stdout and stderr (uhyve's FileWrite to fd 1 / 2 and the serial
//! port) and the function's `console.*` lines (our Log hypercall). Each is bounded by
//! [`MAX_CAPTURED_OUTPUT`] bytes per invocation, whether it is captured or passed through to
//! the host's own stdout/stderr: beyond the bound output is dropped and one marker line says
//! so. A guest that floods its console costs the host a bounded amount of memory and output.

use std::io::Write;

use crate::config::{Console, MAX_CAPTURED_OUTPUT};
use crate::outcome::LogLine;

/// The marker written once when a stream is cut.
pub const TRUNCATED_NOTE: &str = "[seuss: output over 10 MiB truncated]";

/// One bounded byte stream.
#[derive(Default)]
struct Stream {
    /// Captured bytes (capture mode only).
    bytes: Vec<u8>,
    /// Bytes accepted this invocation (both modes).
    written: usize,
    /// The marker was emitted.
    cut: bool,
}

impl Stream {
    /// How much of `len` more bytes may pass; emits nothing.
    fn admit(&mut self, len: usize) -> usize {
        let n = len.min(MAX_CAPTURED_OUTPUT.saturating_sub(self.written));
        self.written += n;
        n
    }
}

/// An instance's console state (see the module docs).
pub(crate) struct Output {
    console: Console,
    stdout: Stream,
    stderr: Stream,
    logs: Vec<LogLine>,
    log_bytes: usize,
}

impl Output {
    /// Output routed as `console` says.
    pub(crate) fn new(console: Console) -> Self {
        Self { console, stdout: Stream::default(), stderr: Stream::default(), logs: Vec::new(), log_bytes: 0 }
    }

    /// Guest bytes written to `fd` (1 = stdout, anything else = stderr).
    pub(crate) fn write(&mut self, fd: i32, bytes: &[u8]) {
        let console = self.console;
        let stream = if fd == 1 { &mut self.stdout } else { &mut self.stderr };
        let n = stream.admit(bytes.len());
        let note = n < bytes.len() && !std::mem::replace(&mut stream.cut, true);
        let mut pass = |b: &[u8]| match (console, fd) {
            (Console::Inherit, 1) => {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(b);
                let _ = out.flush();
            }
            (Console::Inherit, _) => {
                let _ = std::io::stderr().lock().write_all(b);
            }
            (Console::Capture, _) => stream.bytes.extend_from_slice(b),
        };
        pass(&bytes[..n]);
        if note {
            pass(format!("\n{TRUNCATED_NOTE}\n").as_bytes());
        }
    }

    /// One `console.*` line of the function.
    pub(crate) fn log(&mut self, text: String, is_error: bool) {
        // Charge the line's bookkeeping too, so empty lines cannot grow memory forever.
        let cost = text.len() + size_of::<LogLine>();
        if self.log_bytes + cost <= MAX_CAPTURED_OUTPUT {
            self.log_bytes += cost;
            if self.console == Console::Inherit {
                eprintln!("{text}");
            }
            self.logs.push(LogLine { is_error, text });
        } else if self.logs.last().is_none_or(|l| l.text != TRUNCATED_NOTE) {
            self.log_bytes = MAX_CAPTURED_OUTPUT;
            if self.console == Console::Inherit {
                eprintln!("{TRUNCATED_NOTE}");
            }
            self.logs.push(LogLine { is_error: true, text: TRUNCATED_NOTE.into() });
        }
    }

    /// Starts a new invocation: its log lines and its output budget start from zero.
    pub(crate) fn begin_invocation(&mut self) {
        self.logs.clear();
        self.log_bytes = 0;
        for s in [&mut self.stdout, &mut self.stderr] {
            s.written = s.bytes.len();
            s.cut = false;
        }
    }

    /// The log lines so far, emptied.
    pub(crate) fn take_logs(&mut self) -> Vec<LogLine> {
        self.log_bytes = 0;
        std::mem::take(&mut self.logs)
    }

    /// Captured stdout and stderr, emptied.
    pub(crate) fn take_captured(&mut self) -> (Vec<u8>, Vec<u8>) {
        let out = std::mem::take(&mut self.stdout.bytes);
        let err = std::mem::take(&mut self.stderr.bytes);
        self.stdout = Stream::default();
        self.stderr = Stream::default();
        (out, err)
    }

    /// Everything dropped (a reset clone starts empty).
    pub(crate) fn clear(&mut self) {
        *self = Self::new(self.console);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_streams_are_cut_once_with_a_note() {
        let mut o = Output::new(Console::Capture);
        let chunk = vec![b'x'; 4 << 20];
        for _ in 0..4 {
            o.write(2, &chunk);
        }
        let (out, err) = o.take_captured();
        assert!(out.is_empty());
        assert!(err.len() < MAX_CAPTURED_OUTPUT + 100, "{}", err.len());
        assert_eq!(String::from_utf8_lossy(&err).matches(TRUNCATED_NOTE).count(), 1);
    }

    #[test]
    fn log_lines_are_bounded_and_budgets_reset_per_invocation() {
        let mut o = Output::new(Console::Capture);
        let line = "y".repeat(1 << 20);
        for _ in 0..20 {
            o.log(line.clone(), false);
        }
        let logs = o.take_logs();
        assert!(logs.len() < 11, "{}", logs.len());
        assert_eq!(logs.last().unwrap().text, TRUNCATED_NOTE);
        o.begin_invocation();
        o.log("again".into(), false);
        assert_eq!(o.take_logs().len(), 1);
    }
}
