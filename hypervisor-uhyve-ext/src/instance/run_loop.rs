//! The vCPU loop: run until the guest parks, exits or fails, serving hypercalls on the way.

use std::time::{Duration, Instant};

use kvm_ioctls::VcpuExit;
use seuss_abi::Hypercall;

use super::{Instance, State};
use crate::error::Error;
use crate::net::Effect;
use crate::outcome::Event;
use crate::seuss_calls::SeussCall;
use crate::uhyve_calls::{DecodeError, UhyveCall};
use crate::vm::KvmError;
use crate::watchdog::Watchdog;

/// The legacy PCI configuration ports (address and data).
const PCI_PORTS: std::ops::RangeInclusive<u16> = 0xCF8..=0xCFF;
/// The device's register window (uhyve decodes 16 MiB there).
const MMIO_WINDOW: std::ops::Range<u64> = seuss_abi::virtio::MMIO_BASE..seuss_abi::virtio::MMIO_BASE + 0x100_0000;
/// Registers repeat every page of the window.
const MMIO_SIZE: u64 = seuss_abi::virtio::MMIO_SIZE;

impl Instance {
    /// Runs the vCPU until the guest parks, exits or fails (bounded by the timeout).
    pub fn run(&mut self) -> Result<Event, Error> {
        let deadline = self.deadline();
        self.run_until(deadline)
    }

    /// Now plus the configured timeout (a timeout too large to represent means no deadline).
    pub(super) fn deadline(&self) -> Instant {
        let now = Instant::now();
        now.checked_add(self.config.timeout).unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
    }

    /// Runs until `deadline`; any error leaves the instance [`State::Failed`].
    pub(super) fn run_until(&mut self, deadline: Instant) -> Result<Event, Error> {
        self.state_check()?;
        if let State::Parked { .. } = self.state {
            return Err(Error::State("parked in a hypercall that must be completed first"));
        }
        self.state = State::Ready;
        let watchdog = Watchdog::arm(deadline);
        let r = self.run_loop(deadline);
        drop(watchdog);
        if r.is_err() {
            self.state = State::Failed;
        }
        r.map_err(|e| self.blame_origin(e))
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
            let port = match exit {
                VcpuExit::IoOut(port, data) if PCI_PORTS.contains(&port) => {
                    if let Some(n) = &mut self.network {
                        n.device_mut().pci_write(port, data);
                    }
                    continue;
                }
                VcpuExit::IoIn(port, data) if PCI_PORTS.contains(&port) => {
                    match &self.network {
                        Some(n) => n.device_ref().pci_read(port, data),
                        // No device: every configuration read is all ones.
                        None => data.fill(0xff),
                    }
                    continue;
                }
                VcpuExit::MmioRead(addr, data) if MMIO_WINDOW.contains(&addr) && self.network.is_some() => {
                    let n = self.network.as_ref().expect("checked");
                    n.device_ref().mmio_read(addr & (MMIO_SIZE - 1), data);
                    continue;
                }
                VcpuExit::MmioWrite(addr, data) if MMIO_WINDOW.contains(&addr) && self.network.is_some() => {
                    let n = self.network.as_mut().expect("checked");
                    let moved = match n.device_mut().mmio_write(addr & (MMIO_SIZE - 1), data) {
                        Effect::NotifyTx => n.on_tx(&mut self.vm.ram).map_err(|e| ("virtio-net TX", e)),
                        Effect::NotifyRx => n.on_rx(&mut self.vm.ram).map_err(|e| ("virtio-net RX", e)),
                        Effect::None => Ok(()),
                    };
                    if let Err((call, e)) = moved {
                        let rip = self.vm.vcpu.get_regs().map(|r| r.rip).unwrap_or(0);
                        return Err(Error::Hypercall { call, detail: e.to_string(), rip });
                    }
                    continue;
                }
                VcpuExit::IoOut(port, _) => port,
                other => {
                    let what = match other {
                        VcpuExit::IoIn(port, _) => format!("read from unknown I/O port {port:#x}"),
                        VcpuExit::MmioRead(addr, _) => format!("read from unbacked guest address {addr:#x}"),
                        VcpuExit::MmioWrite(addr, _) => format!("write to unbacked guest address {addr:#x}"),
                        VcpuExit::Hlt => "halted with interrupts off (it would never wake)".into(),
                        VcpuExit::Shutdown => "triple fault (CPU shutdown)".into(),
                        VcpuExit::InternalError => "KVM internal error (an instruction KVM cannot emulate)".into(),
                        VcpuExit::FailEntry(reason, _) => format!("VM entry failed (reason {reason:#x})"),
                        other => format!("unexpected VM exit {other:?}"),
                    };
                    return Err(Error::Crash { what, rip: self.rip() });
                }
            };
            let regs = self.vm.vcpu.get_regs().map_err(|source| KvmError { what: "get regs", source })?;
            tracing::trace!(port = format_args!("{port:#x}"), rip = format_args!("{:#x}", regs.rip), "hypercall exit");
            if let Some(event) = self.hypercall(port, regs.rdi, regs.rip, deadline)? {
                return Ok(event);
            }
        }
    }

    /// Decodes and serves one hypercall; `Some(event)` when `run()` must return.
    fn hypercall(&mut self, port: u16, arg: u64, rip: u64, deadline: Instant) -> Result<Option<Event>, Error> {
        if let Some(ours) = Hypercall::from_port(port) {
            let call = SeussCall::decode(ours, arg, &self.vm.ram)
                .map_err(|v| Error::Hypercall { call: v.call, detail: v.detail, rip })?;
            return self.serve_seuss(ours, arg, call, deadline);
        }
        let call = UhyveCall::decode(port, arg, &self.vm.ram).map_err(|e| match e {
            DecodeError::UnknownPort(_) => Error::Crash { what: e.to_string(), rip },
            DecodeError::Unsupported(call) => {
                Error::Hypercall { call, detail: "not supported by this hypervisor".into(), rip }
            }
            DecodeError::Memory { call, source } => Error::Hypercall { call, detail: source.to_string(), rip },
        })?;
        self.serve_uhyve(call, rip)
    }
}
