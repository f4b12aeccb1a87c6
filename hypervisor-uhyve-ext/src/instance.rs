//! One guest instance: its VM, its files, and the state machine of its life.
//!
//! ```text
//!            boot()                run()                         run()
//!  Image ──────────► Ready ───────────────► Parked(FunctionSource) ─────┐
//!                                   │        provide_source()           │
//!                                   ├──────► Parked(NextInvocation) ◄───┘
//!                                   │        invoke(args) ─► runs main ─► result ─► Parked again
//!                                   └──────► Exited(status)  |  Failed(error)
//! ```
//!
//! `run()` executes the vCPU until the guest parks in one of our "ask" hypercalls, exits, or
//! fails. Console, file, log, wait and mark hypercalls are served inside `run()`. Every
//! hypercall argument is validated against guest RAM; a guest that passes garbage is stopped
//! with an error naming the hypercall. A wall-clock deadline bounds every `run()`.

use std::io::Write;
use std::time::{Duration, Instant};

use kvm_ioctls::{Kvm, VcpuExit};
use seuss_abi::{
    BufferParams, Hypercall as Ours, InvocationParams, LogParams, MarkParams, Phase, ResultParams, WaitParams,
    MAX_PAYLOAD, STATUS_NONE, STATUS_OK, STATUS_TOO_SMALL,
};
use uhyve_interface::v2::HypercallAddress as Uhyve;

use crate::files::{errno, FileMapping, Files};
use crate::image::{self, BootParams, Image, ImageError};
use crate::memory::{GuestRam, MemError};
use crate::vm::{KvmError, Vm};
use crate::snapshot::{Loaded, SnapshotError};
use crate::watchdog::Watchdog;
use std::sync::Arc;

/// Default guest memory: enough for the JS runtime with room for the heap. RAM is allocated
/// lazily, so untouched memory costs nothing.
pub const DEFAULT_MEMORY: u64 = 256 * 1024 * 1024;
/// Most console output kept per instance (captured stdout/stderr and log lines, each): like
/// OpenWhisk's 10 MB log limit. Beyond it output is dropped and one truncation note is kept.
pub const MAX_CAPTURED_OUTPUT: usize = 10 * 1024 * 1024;

/// Default per-invocation timeout (OpenWhisk's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How an instance is configured.
#[derive(Clone, Debug)]
pub struct Config {
    /// Guest RAM in bytes (multiple of 2 MiB, at least 16 MiB).
    pub memory: u64,
    /// Wall-clock limit of each `run()`/`invoke()`.
    pub timeout: Duration,
    /// Files the guest may open.
    pub file_mappings: Vec<FileMapping>,
    /// Command-line arguments (what follows `--` for uhyve).
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Where the guest's stdout/stderr (FileWrite to fd 1/2) and `console.*` lines go.
    pub console: Console,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            memory: DEFAULT_MEMORY,
            timeout: DEFAULT_TIMEOUT,
            file_mappings: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            console: Console::Capture,
        }
    }
}

/// Destination of guest console output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Guest stdout → our stdout, guest stderr and `console.*` lines → our stderr.
    Inherit,
    /// Kept in the instance ([`Instance::take_output`]).
    Capture,
}

/// Why an instance could not go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image cannot be loaded.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// KVM refused an operation.
    #[error(transparent)]
    Kvm(#[from] KvmError),
    /// Guest memory could not be mapped.
    #[error("cannot map {0} bytes of guest memory: {1}")]
    Memory(u64, std::io::Error),
    /// Bad configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The deadline passed; the vCPU was stopped.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// A hypercall carried invalid arguments; the guest was stopped.
    #[error("guest passed invalid arguments to hypercall {call}: {detail} (rip {rip:#x})")]
    Hypercall {
        /// The hypercall's name.
        call: &'static str,
        /// What was wrong.
        detail: String,
        /// Guest instruction pointer.
        rip: u64,
    },
    /// The guest did something a unikernel must not (unknown port, MMIO, triple fault, ...).
    #[error("guest crashed: {what} (rip {rip:#x})")]
    Crash {
        /// What happened.
        what: String,
        /// Guest instruction pointer.
        rip: u64,
    },
    /// The caller used the instance in the wrong state.
    #[error("instance is {0}, which does not allow this operation")]
    State(&'static str),
}

/// What made `run()` return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The guest asks for its function source (runtime snapshot point).
    WantsSource,
    /// The guest asks for the next invocation (function snapshot point).
    WantsInvocation,
    /// The guest exited with this status.
    Exited(i32),
    /// The guest returned an invocation's result; it is stopped right there (the hot path
    /// needs nothing after the result). Running it again lets it park for the next
    /// invocation (reuse).
    Returned,
}

/// A console line the function logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// `true` for warn/error.
    pub is_error: bool,
    /// The text.
    pub text: String,
}

/// What one invocation produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The result JSON (`None` when the guest exited or failed without one).
    pub result: Option<String>,
    /// Whether the result is an error object.
    pub is_error: bool,
    /// Console lines logged during the invocation.
    pub logs: Vec<LogLine>,
    /// How the invocation ended: [`Event::Returned`] normally, [`Event::Exited`] if the
    /// guest stopped.
    pub event: Event,
    /// Wall time from completing the NextInvocation hypercall to the result.
    pub run_time: Duration,
}

/// Host-side timestamps of the guest's phases (see [`Phase`]).
#[derive(Clone, Debug, Default)]
pub struct Marks {
    /// When the VM was created and loaded.
    pub created: Option<Instant>,
    /// When the vCPU first ran.
    pub started: Option<Instant>,
    /// When each phase was last reached, indexed by [`Phase`].
    pub phases: [Option<Instant>; Phase::COUNT],
}

impl Marks {
    /// When `phase` was reached (the last time).
    pub fn at(&self, phase: Phase) -> Option<Instant> {
        self.phases[phase as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    call: Ours,
    params: u64,
}

/// Where an instance is in its life (the module docs draw the transitions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The vCPU may run: just booted, or a parked hypercall was completed.
    Ready,
    /// Parked in an ask hypercall that the host must complete first.
    Parked(Pending),
    /// Stopped right after ReturnResult (see [`Event::Returned`]).
    Returned,
    /// The guest exited with this status.
    Exited(i32),
    /// Stopped by an error (timeout, crash, bad hypercall); only [`Instance::reset`] revives
    /// a clone.
    Failed,
}

/// See the module docs.
pub struct Instance {
    vm: Vm,
    files: Files,
    config: Config,
    state: State,
    result: Option<(String, bool)>,
    logs: Vec<LogLine>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    marks: Marks,
    /// The snapshot this instance is a clone of.
    origin: Option<Arc<Loaded>>,
    /// Bytes of log lines this invocation (bounded by [`MAX_CAPTURED_OUTPUT`]).
    log_bytes: usize,
}

fn mem_err(call: &'static str, rip: u64) -> impl Fn(MemError) -> Error {
    move |e| Error::Hypercall { call, detail: e.to_string(), rip }
}

impl Instance {
    /// Creates the VM, loads `image` and puts the vCPU at its entry point (nothing runs yet).
    pub fn boot(kvm: &Kvm, image: &Image, config: &Config) -> Result<Self, Error> {
        let created = Instant::now();
        if !config.memory.is_multiple_of(2 * 1024 * 1024) || config.memory < image::MIN_MEMORY {
            return Err(Error::Config(format!(
                "memory must be a multiple of 2 MiB and at least 16 MiB, not {} bytes",
                config.memory
            )));
        }
        if config.memory > 64 * 1024 * 1024 * 1024 {
            return Err(Error::Config("memory above 64 GiB is not supported".into()));
        }
        let ram = GuestRam::anonymous(image::RAM_BASE, config.memory).map_err(|e| Error::Memory(config.memory, e))?;
        let mut vm = Vm::new(kvm, ram)?;
        let params = BootParams { args: &config.args, env: &config.env, tsc_khz: vm.tsc_khz, seuss_channel: true };
        let entry = image::load(image, &mut vm.ram, &params)?;
        vm.set_entry_state(&entry)?;
        Ok(Self {
            vm,
            files: Files::new(config.file_mappings.clone()),
            config: config.clone(),
            state: State::Ready,
            result: None,
            logs: Vec::new(),
            stdout: Vec::new(),
            stderr: Vec::new(),
            marks: Marks { created: Some(created), ..Default::default() },
            origin: None,
            log_bytes: 0,
        })
    }

    /// Makes a clone of `snap`: guest RAM maps the snapshot chain copy-on-write, the vCPU gets
    /// the saved state, and the instance is parked in the hypercall the snapshot was taken in
    /// (complete it with [`provide_source`](Self::provide_source) or
    /// [`invoke`](Self::invoke)). `config.memory` is ignored: the snapshot fixes it.
    pub fn from_snapshot(kvm: &Kvm, snap: &Arc<Loaded>, config: &Config) -> Result<Self, SnapshotError> {
        let created = Instant::now();
        let h = snap.header();
        let ram = GuestRam::from_layers(h.guest_memory_base, h.guest_memory_bytes, &snap.layers())?;
        let vm = Vm::new(kvm, ram).map_err(|e| SnapshotError::Instance(e.into()))?;
        snap.vcpu().restore(&vm.vcpu)?;
        let call = Ours::from_port(h.pending_port).ok_or(SnapshotError::NotParked("snapshot is not parked in an ask hypercall"))?;
        Ok(Self {
            vm,
            files: Files::new(config.file_mappings.clone()),
            config: Config { memory: h.guest_memory_bytes, ..config.clone() },
            state: State::Parked(Pending { call, params: h.pending_params_gpa }),
            result: None,
            logs: Vec::new(),
            stdout: Vec::new(),
            stderr: Vec::new(),
            marks: Marks { created: Some(created), started: Some(created), ..Default::default() },
            origin: Some(snap.clone()),
            log_bytes: 0,
        })
    }

    /// Returns this clone to the state of the snapshot it was cloned from, as if freshly
    /// cloned, without creating a new VM: written pages are dropped (`MADV_DONTNEED`) and the
    /// vCPU state is reloaded. Works after success, errors and timeouts alike.
    pub fn reset(&mut self) -> Result<(), SnapshotError> {
        let snap = self.origin.clone().ok_or(SnapshotError::NotParked("only clones of a snapshot can be reset"))?;
        crate::cpu_state::settle(&mut self.vm.vcpu)?;
        // Only pages written since the clone was made are dropped: pages it merely read stay
        // mapped (they still hold the snapshot's content), so the next invocation does not
        // fault them in again.
        let written = self.vm.ram.private_pages()?;
        self.vm.ram.discard_pages(&written)?;
        snap.vcpu().restore(&self.vm.vcpu)?;
        let h = snap.header();
        let call = Ours::from_port(h.pending_port).ok_or(SnapshotError::NotParked("snapshot is not parked in an ask hypercall"))?;
        self.state = State::Parked(Pending { call, params: h.pending_params_gpa });
        self.files.close_all();
        self.result = None;
        self.logs.clear();
        self.log_bytes = 0;
        self.stdout.clear();
        self.stderr.clear();
        self.marks = Marks { created: Some(Instant::now()), started: Some(Instant::now()), ..Default::default() };
        Ok(())
    }

    /// The last result the guest returned (e.g. its import error before exiting).
    pub fn last_result(&self) -> Option<&str> {
        self.result.as_ref().map(|(r, _)| r.as_str())
    }

    /// The snapshot this instance was cloned from.
    pub fn origin(&self) -> Option<&Arc<Loaded>> {
        self.origin.as_ref()
    }

    /// Whether the guest has files open (a snapshot cannot carry host descriptors).
    pub fn has_open_files(&self) -> bool {
        self.files.any_open()
    }

    /// The pending ask hypercall: (port, parameter address).
    pub fn pending_call(&self) -> Option<(u16, u64)> {
        match self.state {
            State::Parked(p) => Some((p.call.port(), p.params)),
            _ => None,
        }
    }

    pub(crate) fn vcpu_mut(&mut self) -> &mut kvm_ioctls::VcpuFd {
        &mut self.vm.vcpu
    }

    /// Phase timestamps so far.
    pub fn marks(&self) -> &Marks {
        &self.marks
    }

    /// Captured stdout and stderr (with [`Console::Capture`]), emptied.
    pub fn take_output(&mut self) -> (Vec<u8>, Vec<u8>) {
        (std::mem::take(&mut self.stdout), std::mem::take(&mut self.stderr))
    }

    /// Guest RAM (read-only view, for tests and snapshots).
    pub fn ram(&self) -> &GuestRam {
        &self.vm.ram
    }

    /// The guest's exit status, once it exited.
    pub fn exit_status(&self) -> Option<i32> {
        match self.state {
            State::Exited(code) => Some(code),
            _ => None,
        }
    }

    fn state_check(&self) -> Result<(), Error> {
        match self.state {
            State::Failed => Err(Error::State("failed")),
            State::Exited(_) => Err(Error::State("exited")),
            _ => Ok(()),
        }
    }

    fn parked(&self, call: Ours) -> Option<Pending> {
        match self.state {
            State::Parked(p) if p.call == call => Some(p),
            _ => None,
        }
    }

    /// Runs the vCPU until the guest parks, exits or fails (bounded by the timeout).
    pub fn run(&mut self) -> Result<Event, Error> {
        let deadline = self.deadline();
        self.run_until(deadline)
    }

    /// Now plus the configured timeout (a timeout too large to represent means no deadline).
    fn deadline(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.config.timeout).unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
    }

    fn run_until(&mut self, deadline: Instant) -> Result<Event, Error> {
        self.state_check()?;
        if let State::Parked(_) = self.state {
            return Err(Error::State("parked in a hypercall that must be completed first"));
        }
        self.state = State::Ready;
        let watchdog = Watchdog::arm(deadline);
        let r = self.run_loop(deadline);
        drop(watchdog);
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn rip(&self) -> u64 {
        self.vm.vcpu.get_regs().map(|r| r.rip).unwrap_or(0)
    }

    fn run_loop(&mut self, deadline: Instant) -> Result<Event, Error> {
        if self.marks.started.is_none() {
            self.marks.started = Some(Instant::now());
        }
        loop {
            if Instant::now() >= deadline {
                return Err(Error::Timeout(self.config.timeout));
            }
            let exit = match self.vm.vcpu.run() {
                Ok(exit) => exit,
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => continue,
                Err(e) => return Err(KvmError { what: "run vCPU", source: e }.into()),
            };
            let (port, what) = match exit {
                VcpuExit::IoOut(port, _) => (port, None),
                VcpuExit::IoIn(port, _) => (0, Some(format!("read from unknown I/O port {port:#x}"))),
                VcpuExit::MmioRead(addr, _) => (0, Some(format!("read from unbacked guest address {addr:#x}"))),
                VcpuExit::MmioWrite(addr, _) => (0, Some(format!("write to unbacked guest address {addr:#x}"))),
                VcpuExit::Hlt => (0, Some("halted with interrupts off (it would never wake)".into())),
                VcpuExit::Shutdown => (0, Some("triple fault (CPU shutdown)".into())),
                VcpuExit::InternalError => (0, Some("KVM internal error (an instruction KVM cannot emulate)".into())),
                VcpuExit::FailEntry(reason, _) => (0, Some(format!("VM entry failed (reason {reason:#x})"))),
                other => (0, Some(format!("unexpected VM exit {other:?}"))),
            };
            if let Some(what) = what {
                let rip = self.rip();
                return Err(Error::Crash { what, rip });
            }
            let regs = self.vm.vcpu.get_regs().map_err(|source| KvmError { what: "get regs", source })?;
            tracing::trace!(port = format_args!("{port:#x}"), rip = format_args!("{:#x}", regs.rip), "hypercall exit");
            if let Some(event) = self.hypercall(port, regs.rdi, regs.rip, deadline)? {
                return Ok(event);
            }
        }
    }

    /// Serves one hypercall; `Some(event)` when `run()` must return.
    fn hypercall(&mut self, port: u16, arg: u64, rip: u64, deadline: Instant) -> Result<Option<Event>, Error> {
        if let Some(ours) = Ours::from_port(port) {
            return self.our_hypercall(ours, arg, rip, deadline);
        }
        let Ok(call) = Uhyve::try_from(u64::from(port)) else {
            return Err(Error::Crash { what: format!("write to unknown I/O port {port:#x}"), rip });
        };
        let ram = &mut self.vm.ram;
        match call {
            Uhyve::Exit => {
                let code = arg as i32;
                self.state = State::Exited(code);
                return Ok(Some(Event::Exited(code)));
            }
            Uhyve::SerialWriteByte => console(self.config.console, &mut self.stdout, &mut self.stderr, 1, &[arg as u8]),
            Uhyve::SerialWriteBuffer => {
                let e = mem_err("SerialWriteBuffer", rip);
                let len: u64 = ram.read(arg).map_err(&e)?;
                let buf: u64 = ram.read(arg + 8).map_err(&e)?;
                let bytes = ram.slice(buf, len).map_err(&e)?;
                console(self.config.console, &mut self.stdout, &mut self.stderr, 1, bytes);
            }
            Uhyve::FileWrite | Uhyve::FileRead => {
                let name = if call == Uhyve::FileWrite { "FileWrite" } else { "FileRead" };
                let e = mem_err(name, rip);
                // WriteParams/ReadParams: len u64 @0, ret i64 @8, buf u64 @16, fd i32 @24.
                let len: u64 = ram.read(arg).map_err(&e)?;
                let buf: u64 = ram.read(arg + 16).map_err(&e)?;
                let fd: i32 = ram.read(arg + 24).map_err(&e)?;
                let ret = if call == Uhyve::FileWrite {
                    let bytes = ram.slice(buf, len).map_err(&e)?;
                    match fd {
                        1 | 2 => {
                            console(self.config.console, &mut self.stdout, &mut self.stderr, fd, bytes);
                            len as i64
                        }
                        _ => self.files.write(fd, bytes),
                    }
                } else {
                    let dst = ram.slice_mut(buf, len).map_err(&e)?;
                    if fd == 0 { 0 } else { self.files.read(fd, dst) }
                };
                self.vm.ram.write(arg + 8, &ret).map_err(&e)?;
            }
            Uhyve::FileOpen => {
                let e = mem_err("FileOpen", rip);
                // OpenParams (packed): name u64 @0, flags i32 @8, mode i32 @12, ret i32 @16.
                let name: u64 = ram.read(arg).map_err(&e)?;
                let flags: i32 = ram.read(arg + 8).map_err(&e)?;
                let mode: i32 = ram.read(arg + 12).map_err(&e)?;
                let ret = match guest_path(ram, name).map_err(&e)? {
                    Some(path) => self.files.open(&path, flags, mode),
                    None => -errno::EINVAL,
                };
                self.vm.ram.write(arg + 16, &ret).map_err(&e)?;
            }
            Uhyve::FileClose => {
                let e = mem_err("FileClose", rip);
                let fd: i32 = ram.read(arg).map_err(&e)?;
                let ret = self.files.close(fd);
                self.vm.ram.write(arg + 4, &ret).map_err(&e)?;
            }
            Uhyve::FileLseek => {
                let e = mem_err("FileLseek", rip);
                // LseekParams: offset i64 @0 (result written back), whence u32 @8, fd i32 @12.
                let offset: u64 = ram.read(arg).map_err(&e)?;
                let whence: i32 = ram.read(arg + 8).map_err(&e)?;
                let fd: i32 = ram.read(arg + 12).map_err(&e)?;
                let ret = self.files.lseek(fd, offset as i64, whence as u32);
                self.vm.ram.write(arg, &ret).map_err(&e)?;
            }
            Uhyve::FileUnlink => {
                let e = mem_err("FileUnlink", rip);
                let name: u64 = ram.read(arg).map_err(&e)?;
                let ret = match guest_path(ram, name).map_err(&e)? {
                    Some(path) => self.files.unlink(&path),
                    None => -errno::EINVAL,
                };
                self.vm.ram.write(arg + 8, &ret).map_err(&e)?;
            }
            Uhyve::FileFstat => {
                let e = mem_err("FileFstat", rip);
                // FstatParams: fd i32 @0, attr u64 @8, ret StatResult @16 (u32 tag, i32 errno).
                let fd: i32 = ram.read(arg).map_err(&e)?;
                let attr: u64 = ram.read(arg + 8).map_err(&e)?;
                let (tag, err) = match self.files.fstat(fd) {
                    Ok((mode, size, mtime, ino)) => {
                        self.vm.ram.slice_mut(attr, FILE_ATTR_SIZE).map_err(&e)?.copy_from_slice(&file_attr_bytes(mode, size, mtime, ino));
                        (1u32, 0i32)
                    }
                    Err(code) => (2, code),
                };
                self.vm.ram.write(arg + 16, &tag).map_err(&e)?;
                self.vm.ram.write(arg + 20, &err).map_err(&e)?;
            }
            other => {
                return Err(Error::Hypercall {
                    call: "uhyve",
                    detail: format!("hypercall {other:?} is not supported by this hypervisor"),
                    rip,
                })
            }
        }
        Ok(None)
    }

    fn our_hypercall(&mut self, call: Ours, arg: u64, rip: u64, deadline: Instant) -> Result<Option<Event>, Error> {
        let name = call.name();
        let e = mem_err(name, rip);
        let bad = |detail: &str| Error::Hypercall { call: name, detail: detail.into(), rip };
        // Every parameter struct must lie inside RAM, whatever the call.
        self.vm.ram.slice(arg, call.params_size() as u64).map_err(&e)?;
        match call {
            Ours::FunctionSource => {
                self.state = State::Parked(Pending { call, params: arg });
                Ok(Some(Event::WantsSource))
            }
            Ours::NextInvocation => {
                self.state = State::Parked(Pending { call, params: arg });
                Ok(Some(Event::WantsInvocation))
            }
            Ours::ReturnResult => {
                let p: ResultParams = self.vm.ram.read(arg).map_err(&e)?;
                if p.len > MAX_PAYLOAD as u64 {
                    return Err(bad(&format!("result of {} bytes exceeds the 1 MiB limit", p.len)));
                }
                let bytes = self.vm.ram.slice(p.buf, p.len).map_err(&e)?;
                let text = std::str::from_utf8(bytes).map_err(|_| bad("result is not UTF-8"))?;
                self.result = Some((text.to_owned(), p.is_error != 0));
                self.state = State::Returned;
                Ok(Some(Event::Returned))
            }
            Ours::Log => {
                let p: LogParams = self.vm.ram.read(arg).map_err(&e)?;
                if p.len > MAX_PAYLOAD as u64 {
                    return Err(bad(&format!("log line of {} bytes exceeds 1 MiB", p.len)));
                }
                let text = String::from_utf8_lossy(self.vm.ram.slice(p.buf, p.len).map_err(&e)?).into_owned();
                if self.config.console == Console::Inherit {
                    eprintln!("{text}");
                }
                // Charge the line's bookkeeping too, so empty lines cannot grow memory forever.
                self.log_bytes += text.len() + size_of::<LogLine>();
                if self.log_bytes <= MAX_CAPTURED_OUTPUT {
                    self.logs.push(LogLine { is_error: p.level != 0, text });
                } else if !self.logs.last().is_some_and(|l| l.text == LOG_TRUNCATED) {
                    self.logs.push(LogLine { is_error: true, text: LOG_TRUNCATED.into() });
                }
                Ok(None)
            }
            Ours::Wait => {
                let p: WaitParams = self.vm.ram.read(arg).map_err(&e)?;
                let left = deadline.saturating_duration_since(Instant::now());
                // Sleeping parks this thread: a waiting guest burns no host CPU.
                std::thread::sleep(Duration::from_nanos(p.duration_ns).min(left));
                Ok(None)
            }
            Ours::Mark => {
                let p: MarkParams = self.vm.ram.read(arg).map_err(&e)?;
                let phase = Phase::from_u32(p.phase).ok_or_else(|| bad(&format!("unknown phase {}", p.phase)))?;
                self.marks.phases[phase as usize] = Some(Instant::now());
                Ok(None)
            }
        }
    }

    /// Completes a pending `FunctionSource` with `source` (`None`: the host has none).
    pub fn provide_source(&mut self, source: Option<&str>) -> Result<(), Error> {
        self.state_check()?;
        let pending = self.parked(Ours::FunctionSource).ok_or(Error::State("not waiting for a function source"))?;
        if let Some(src) = source.filter(|s| s.len() > seuss_abi::MAX_SOURCE) {
            return Err(Error::Config(format!(
                "function source is {} bytes, over the {} byte limit",
                src.len(),
                seuss_abi::MAX_SOURCE
            )));
        }
        // When the buffer is too small the guest grows it and parks again at once: the caller
        // sees WantsSource again from run() and calls this again.
        self.fill_buffer(pending.params, "FunctionSource", source.map(str::as_bytes))?;
        self.state = State::Ready;
        Ok(())
    }

    /// Writes `payload` into the guest buffer described by the `BufferParams` at `gpa` and
    /// returns the status written. A buffer outside RAM fails (and stops) the instance.
    fn fill_buffer(&mut self, gpa: u64, call: &'static str, payload: Option<&[u8]>) -> Result<i32, Error> {
        let r = self.fill_buffer_inner(gpa, call, payload);
        if r.is_err() {
            self.state = State::Failed;
        }
        r
    }

    fn fill_buffer_inner(&mut self, gpa: u64, call: &'static str, payload: Option<&[u8]>) -> Result<i32, Error> {
        let e = mem_err(call, self.rip());
        let mut p: BufferParams = self.vm.ram.read(gpa).map_err(&e)?;
        match payload {
            None => {
                p.status = STATUS_NONE;
                p.len = 0;
            }
            Some(bytes) if bytes.len() as u64 > p.cap => {
                p.status = STATUS_TOO_SMALL;
                p.len = bytes.len() as u64;
            }
            Some(bytes) => {
                self.vm.ram.slice_mut(p.buf, bytes.len() as u64).map_err(&e)?.copy_from_slice(bytes);
                p.status = STATUS_OK;
                p.len = bytes.len() as u64;
            }
        }
        self.vm.ram.write(gpa, &p).map_err(&e)?;
        Ok(p.status)
    }

    /// Runs one invocation: completes the pending `NextInvocation` with `args` (JSON text),
    /// fresh wall-clock time and entropy, and runs until the guest parks again or exits.
    pub fn invoke(&mut self, args: &str) -> Result<Outcome, Error> {
        self.state_check()?;
        if args.len() > MAX_PAYLOAD {
            return Err(Error::Config(format!("args are {} bytes, over the 1 MiB limit", args.len())));
        }
        let deadline = self.deadline();
        if self.state == State::Returned {
            // Reuse: let the guest finish the previous invocation and park again.
            match self.run_until(deadline)? {
                Event::WantsInvocation => {}
                Event::Exited(code) => return Err(Error::Crash { what: format!("guest exited with status {code} after its result"), rip: 0 }),
                other => return Err(Error::Crash { what: format!("guest did not park for the next invocation ({other:?})"), rip: 0 }),
            }
        }
        let mut pending = self.parked(Ours::NextInvocation).ok_or(Error::State("not waiting for an invocation"))?;
        self.result = None;
        self.logs.clear();
        self.log_bytes = 0;
        let start = Instant::now();
        let id = NEXT_INVOCATION_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut retried = false;
        let event = loop {
            let e = mem_err("NextInvocation", 0);
            let mut params: InvocationParams = self.vm.ram.read(pending.params).map_err(&e)?;
            params.wall_clock_ns = unix_now_ns();
            params.invocation_id = id;
            fill_entropy(&mut params.entropy);
            self.vm.ram.write(pending.params, &params).map_err(&e)?;
            // The args buffer sits at the start of InvocationParams.
            let status = self.fill_buffer(pending.params, "NextInvocation", Some(args.as_bytes()))?;
            self.state = State::Ready;
            let event = self.run_until(deadline)?;
            match (status, event, self.state) {
                // Buffer too small: the guest grew it and asked again; hand the args over again
                // (once: a guest that keeps asking with a small buffer is broken).
                (STATUS_TOO_SMALL, Event::WantsInvocation, State::Parked(p)) if !retried => {
                    retried = true;
                    pending = p;
                }
                (STATUS_TOO_SMALL, Event::WantsInvocation, State::Parked(_)) => {
                    self.state = State::Failed;
                    return Err(Error::Hypercall {
                        call: "NextInvocation",
                        detail: "the guest asked again with a buffer still too small for the args".into(),
                        rip: self.rip(),
                    });
                }
                _ => break event,
            }
        };
        let (result, is_error) = match self.result.take() {
            Some((r, e)) => (Some(r), e),
            None => (None, true),
        };
        Ok(Outcome { result, is_error, logs: std::mem::take(&mut self.logs), event, run_time: start.elapsed() })
    }
}

/// Invocation ids: unique within this process.
static NEXT_INVOCATION_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Unix time in nanoseconds.
pub(crate) fn unix_now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

const LOG_TRUNCATED: &str = "[seuss: log output over 10 MiB truncated]";

/// Sends guest console output where the configuration says (capture is bounded).
fn console(dest: Console, stdout: &mut Vec<u8>, stderr: &mut Vec<u8>, fd: i32, bytes: &[u8]) {
    match (dest, fd) {
        (Console::Inherit, 1) => {
            let _ = std::io::stdout().write_all(bytes);
            let _ = std::io::stdout().flush();
        }
        (Console::Inherit, _) => {
            let _ = std::io::stderr().write_all(bytes);
        }
        (Console::Capture, 1) => capped_append(stdout, bytes),
        (Console::Capture, _) => capped_append(stderr, bytes),
    }
}

/// Appends `bytes` unless `buf` would exceed [`MAX_CAPTURED_OUTPUT`] (then a note, once).
fn capped_append(buf: &mut Vec<u8>, bytes: &[u8]) {
    const NOTE: &[u8] = b"\n[seuss: output over 10 MiB truncated]\n";
    if buf.len() + bytes.len() <= MAX_CAPTURED_OUTPUT {
        buf.extend_from_slice(bytes);
    } else if !buf.ends_with(NOTE) {
        buf.extend_from_slice(NOTE);
    }
}

/// Size of uhyve's `FileAttr` (the Hermit ABI's `struct stat`).
const FILE_ATTR_SIZE: u64 = size_of::<uhyve_interface::v2::parameters::FileAttr>() as u64;

/// `FileAttr` as bytes, field by field, so no uninitialised padding leaves the host:
/// st_ino @8, st_nlink @16, st_mode @24, st_size @48, st_blksize @56, st_blocks @64,
/// st_mtim.tv_sec @88 (everything else zero).
fn file_attr_bytes(mode: u32, size: i64, mtime: i64, ino: u64) -> [u8; FILE_ATTR_SIZE as usize] {
    use std::mem::offset_of;
    use uhyve_interface::v2::parameters::{FileAttr, Timespec};
    let mut b = [0u8; FILE_ATTR_SIZE as usize];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    put(offset_of!(FileAttr, st_ino), &ino.to_le_bytes());
    put(offset_of!(FileAttr, st_nlink), &1u64.to_le_bytes());
    put(offset_of!(FileAttr, st_mode), &mode.to_le_bytes());
    put(offset_of!(FileAttr, st_size), &size.to_le_bytes());
    put(offset_of!(FileAttr, st_blksize), &4096i64.to_le_bytes());
    put(offset_of!(FileAttr, st_blocks), &((size + 511) / 512).to_le_bytes());
    put(offset_of!(FileAttr, st_mtim) + offset_of!(Timespec, tv_sec), &mtime.to_le_bytes());
    b
}

// The parameter offsets read by hand above, checked against uhyve-interface's definitions.
const _: () = {
    use std::mem::offset_of;
    use uhyve_interface::v2::parameters as v2;
    assert!(offset_of!(v2::WriteParams, len) == 0 && offset_of!(v2::WriteParams, ret) == 8);
    assert!(offset_of!(v2::WriteParams, buf) == 16 && offset_of!(v2::WriteParams, fd) == 24);
    assert!(offset_of!(v2::ReadParams, len) == 0 && offset_of!(v2::ReadParams, ret) == 8);
    assert!(offset_of!(v2::ReadParams, buf) == 16 && offset_of!(v2::ReadParams, fd) == 24);
    assert!(offset_of!(v2::SerialWriteBufferParams, len) == 0 && offset_of!(v2::SerialWriteBufferParams, buf) == 8);
    assert!(offset_of!(v2::OpenParams, name) == 0 && offset_of!(v2::OpenParams, flags) == 8);
    assert!(offset_of!(v2::OpenParams, mode) == 12 && offset_of!(v2::OpenParams, ret) == 16);
    assert!(offset_of!(v2::CloseParams, fd) == 0 && offset_of!(v2::CloseParams, ret) == 4);
    assert!(offset_of!(v2::LseekParams, offset) == 0 && offset_of!(v2::LseekParams, whence) == 8);
    assert!(offset_of!(v2::LseekParams, fd) == 12);
    assert!(offset_of!(v2::UnlinkParams, name) == 0 && offset_of!(v2::UnlinkParams, ret) == 8);
    assert!(offset_of!(v2::FstatParams, fd) == 0 && offset_of!(v2::FstatParams, attr) == 8);
    assert!(offset_of!(v2::FstatParams, ret) == 16);
};

/// A path argument: NUL-terminated UTF-8 of at most 4 KiB (`None` when it is not).
fn guest_path(ram: &GuestRam, gpa: u64) -> Result<Option<String>, MemError> {
    Ok(ram.c_str(gpa, 4096)?.ok().map(str::to_owned))
}

/// 32 bytes from the host kernel's CSPRNG.
fn fill_entropy(buf: &mut [u8; 32]) {
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    assert_eq!(n, buf.len() as isize, "getrandom failed");
}
