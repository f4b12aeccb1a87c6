//! An instance comes to life by a cold boot or as a clone of a snapshot, and a clone can be
//! reset to its snapshot's state.

use std::sync::Arc;

use kvm_ioctls::Kvm;

use super::{HotSet, Instance, State};
use crate::config::{check_memory, Config};
use crate::error::Error;
use crate::files::Files;
use crate::image::{self, BootParams, Image};
use crate::memory::GuestRam;
use crate::net::Network;
use crate::outcome::Marks;
use crate::output::Output;
use crate::snapshot::Loaded;
use crate::vm::{host_cpuid, Vm};

impl Instance {
    /// The pages written since the last reset, by the guest and by the host (sorted). They are
    /// kept for the next [`reset`](Self::reset), so asking does not lose them. Clones only.
    pub fn pages_written(&mut self) -> Result<usize, Error> {
        let pages = self.written_pages()?;
        self.pending_restore.extend(pages);
        self.pending_restore.sort_unstable();
        self.pending_restore.dedup();
        Ok(self.pending_restore.len())
    }

    /// Takes the dirty log and the host's writes (clones only: others have no dirty log).
    fn written_pages(&mut self) -> Result<Vec<u64>, Error> {
        if self.origin.is_none() {
            return Err(Error::State("not a clone of a snapshot: its writes are not tracked"));
        }
        let mut pages = self.vm.dirty_pages()?;
        pages.extend(self.vm.ram.take_host_written());
        Ok(pages)
    }

    /// Creates the VM, loads `image` and puts the vCPU at its entry point (nothing runs yet).
    pub fn boot(kvm: &Kvm, image: &Image, config: &Config) -> Result<Self, Error> {
        let _span = tracing::debug_span!("boot", image = image.name(), memory = config.memory).entered();
        let marks = Marks::created_now(false);
        check_memory(config.memory).map_err(Error::Config)?;
        let network = Network::new(&config.network).map_err(|e| Error::Config(e.to_string()))?;
        let ram = GuestRam::anonymous(image::RAM_BASE, config.memory).map_err(|e| Error::Memory(config.memory, e))?;
        let mut vm = Vm::new(kvm, ram, false, None)?;
        let params = BootParams {
            args: &config.args,
            env: &config.env,
            tsc_khz: vm.tsc_khz,
            seuss_channel: true,
            seuss_net: network.as_ref().is_some_and(Network::is_user_mode),
        };
        let entry = image::load(image, &mut vm.ram, &params)?;
        vm.set_entry_state(&entry)?;
        Ok(Self {
            vm,
            files: Files::new(config.file_mappings.clone()),
            output: Output::new(config.console),
            config: config.clone(),
            state: State::Ready,
            result: None,
            marks,
            origin: None,
            pending_restore: Vec::new(),
            hot_set: HotSet::default(),
            network,
        })
    }

    /// A VM running the raw machine code `code` at CPL0 (unit tests of the run loop and the
    /// hypercall rules; see `instance/tests.rs`).
    #[cfg(test)]
    pub(crate) fn boot_raw(kvm: &Kvm, code: &[u8], config: &Config) -> Result<Self, Error> {
        let ram = GuestRam::anonymous(image::RAM_BASE, config.memory).map_err(|e| Error::Memory(config.memory, e))?;
        let mut vm = Vm::new(kvm, ram, false, None)?;
        let entry = image::load_raw(code, &mut vm.ram);
        vm.set_entry_state(&entry)?;
        Ok(Self {
            vm,
            files: Files::new(Vec::new()),
            output: Output::new(config.console),
            config: config.clone(),
            state: State::Ready,
            result: None,
            marks: Marks::created_now(false),
            origin: None,
            pending_restore: Vec::new(),
            hot_set: HotSet::default(),
            network: Network::new(&config.network).map_err(|e| Error::Config(e.to_string()))?,
        })
    }

    /// Makes a clone of `snap`: guest RAM maps the snapshot chain copy-on-write, the vCPU gets
    /// the saved state, and the instance is parked in the hypercall the snapshot was taken in
    /// (complete it with [`provide_source`](Self::provide_source) or
    /// [`invoke`](Self::invoke)). `config.memory` is ignored: the snapshot fixes it.
    pub fn from_snapshot(kvm: &Kvm, snap: &Arc<Loaded>, config: &Config) -> Result<Self, Error> {
        let _span = tracing::debug_span!("clone", snapshot = %snap.path().display()).entered();
        let marks = Marks::created_now(true);
        snap.check_unchanged().map_err(|e| Error::SnapshotChanged(e.to_string()))?;
        let h = snap.header();
        let network = Network::new(&config.network).map_err(|e| Error::Config(e.to_string()))?;
        let ram = GuestRam::from_layers(h.guest_memory_base, h.guest_memory_bytes, &snap.layers())
            .map_err(|e| Error::Memory(h.guest_memory_bytes, e))?;
        let contract = &h.cpu;
        let vm = Vm::new(kvm, ram, true, (!contract.cpuid.is_empty()).then_some(&contract.cpuid[..]))?;
        crate::cpu_contract::check(contract, &host_cpuid(kvm)?, vm.tsc_khz)
            .map_err(|why| Error::Incompatible(format!("{}: {why}", snap.path().display())))?;
        snap.vcpu().restore(&vm.vcpu)?;
        Ok(Self {
            vm,
            files: Files::new(config.file_mappings.clone()),
            output: Output::new(config.console),
            config: Config { memory: h.guest_memory_bytes, ..config.clone() },
            state: State::Parked { call: snap.parked_call(), params: snap.parked_params() },
            result: None,
            marks,
            origin: Some(snap.clone()),
            pending_restore: Vec::new(),
            hot_set: HotSet::default(),
            network,
        })
    }

    /// Makes this instance a clone of `snap`, a snapshot just captured from it (while it is
    /// still parked where it was captured): its memory and vCPU are exactly the snapshot's, so
    /// from now on [`reset`](Self::reset) returns it to `snap`. The warm path uses it to run a
    /// new function's first invocation on the instance that imported it, without a new VM.
    pub(crate) fn rebase(&mut self, snap: &Arc<Loaded>) -> Result<(), Error> {
        let parked = self.parked_in(snap.parked_call()).ok_or(Error::State("not parked where the snapshot was taken"))?;
        if parked != snap.parked_params() || snap.parent().map(|p| p.id()) != self.origin.as_ref().map(|o| o.id()) {
            return Err(Error::State("not the instance this snapshot was captured from"));
        }
        // Everything written so far is now the snapshot's content: tracking starts afresh.
        let mut written = self.written_pages()?;
        written.extend(std::mem::take(&mut self.pending_restore));
        written.sort_unstable();
        written.dedup();
        self.vm.protect_pages(&written)?;
        self.hot_set = HotSet::default();
        self.origin = Some(snap.clone());
        Ok(())
    }

    /// Returns this clone to the state of the snapshot it was cloned from, as if freshly
    /// cloned, without creating a new VM: every page written since the last reset (by the
    /// guest, from KVM's dirty log; by the host, recorded by [`GuestRam`]) gets the snapshot's
    /// content back by copy, the vCPU state is reloaded, files are closed and output is
    /// cleared. No mapping changes, so pages stay mapped for the guest (no faults on the next
    /// invocation) and other VMs of the process are not disturbed. Works after success, errors
    /// and timeouts alike. The *hot* start is `reset()` then [`invoke`](Self::invoke); `invoke`
    /// alone on a used instance is *reuse*.
    pub fn reset(&mut self) -> Result<(), Error> {
        let _span = tracing::trace_span!("reset").entered();
        let snap = self.origin.clone().ok_or(Error::State("not a clone of a snapshot, so it cannot be reset"))?;
        // The copy below reads the snapshot files' pages: a truncated file would fault.
        self.check_origin()?;
        crate::cpu_state::settle(&mut self.vm.vcpu)?;
        let mut written = self.written_pages()?;
        written.extend(std::mem::take(&mut self.pending_restore));
        written.sort_unstable();
        written.dedup();
        self.vm.ram.restore_pages(&written, |page| snap.page_data(page)).map_err(|e| Error::Memory(self.vm.ram.size(), e))?;
        // The restore itself is not a write to undo next time.
        self.vm.ram.take_host_written();
        // Pages written in two invocations in a row stay writable (the *hot set*, at most
        // HOT_SET_PAGES): they are restored at every reset whether written or not, and the
        // guest's next writes to them cost no write-protection fault. The others are
        // write-protected again, so their next write shows in the dirty log.
        let (hot, protect) = self.hot_set.update(&written);
        self.vm.protect_pages(&protect)?;
        tracing::trace!(restored = written.len(), hot, protected = protect.len(), "reset");
        snap.vcpu().restore(&self.vm.vcpu)?;
        self.state = State::Parked { call: snap.parked_call(), params: snap.parked_params() };
        self.files.close_all();
        if let Some(n) = &mut self.network {
            n.reset();
        }
        self.result = None;
        self.output.clear();
        self.marks = Marks::created_now(true);
        Ok(())
    }
}
