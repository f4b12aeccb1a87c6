//! A KVM VM with one vCPU over a [`GuestRam`], in uhyve's initial machine state.

use std::os::fd::AsRawFd;

use kvm_bindings::{
    kvm_clear_dirty_log, kvm_clear_dirty_log__bindgen_ty_1, kvm_cpuid_entry2, kvm_enable_cap, kvm_segment,
    kvm_userspace_memory_region, CpuId, KVM_MAX_CPUID_ENTRIES,
};
use snapfmt::CpuidLeaf;
use kvm_ioctls::{Kvm, VcpuFd, VmFd};

use crate::image::EntryState;
use crate::memory::GuestRam;

/// `KVM_CLEAR_DIRTY_LOG` = `_IOWR(KVMIO, 0xc0, struct kvm_clear_dirty_log)`.
const KVM_CLEAR_DIRTY_LOG: libc::c_ulong = 0xc018_aec0;
const _: () = assert!(size_of::<kvm_clear_dirty_log>() == 24);

/// KVM refused an operation.
#[derive(Debug, thiserror::Error)]
#[error("KVM: {what}: {source}")]
pub struct KvmError {
    /// What was attempted.
    pub what: &'static str,
    /// The error KVM returned.
    pub source: kvm_ioctls::Error,
}

fn kvm<T>(what: &'static str, r: Result<T, kvm_ioctls::Error>) -> Result<T, KvmError> {
    r.map_err(|source| KvmError { what, source })
}

/// The VM, its vCPU and its RAM.
pub struct Vm {
    /// The VM file descriptor (dirty log); it must stay open as long as the vCPU runs.
    vm: VmFd,
    /// The only vCPU.
    pub(crate) vcpu: VcpuFd,
    /// Guest RAM: KVM's memory slot 0 points into it, so it must not be replaced while the VM
    /// lives (hence crate-private).
    pub(crate) ram: GuestRam,
    /// TSC frequency of the vCPU in kHz, if KVM reports one.
    pub(crate) tsc_khz: Option<u32>,
    /// The CPUID leaves the vCPU was given.
    pub(crate) cpuid: Vec<CpuidLeaf>,
}

/// The CPUID this host offers a guest: KVM's supported leaves with the hypervisor and MSR
/// bits set, as uhyve does.
pub fn host_cpuid(kvm_sys: &Kvm) -> Result<Vec<CpuidLeaf>, KvmError> {
    Ok(supported_cpuid(kvm_sys)?
        .as_slice()
        .iter()
        .map(|e| CpuidLeaf { function: e.function, index: e.index, eax: e.eax, ebx: e.ebx, ecx: e.ecx, edx: e.edx })
        .collect())
}

fn supported_cpuid(kvm_sys: &Kvm) -> Result<CpuId, KvmError> {
    let mut cpuid = kvm("get supported CPUID", kvm_sys.get_supported_cpuid(KVM_MAX_CPUID_ENTRIES))?;
    for e in cpuid.as_mut_slice() {
        if e.function == 1 {
            e.ecx |= 1 << 31; // hypervisor present, as uhyve
            e.edx |= 1 << 5; // MSR
        }
    }
    Ok(cpuid)
}

impl Vm {
    /// Creates a VM with `ram` as memory slot 0 and one vCPU with the CPUID `cpuid` (a
    /// snapshot's, for a clone) or this host's ([`host_cpuid`]). With `dirty_log`, KVM records
    /// which pages the guest writes ([`Vm::take_dirty_pages`]): clones use it to reset.
    pub fn new(kvm_sys: &Kvm, ram: GuestRam, dirty_log: bool, cpuid: Option<&[CpuidLeaf]>) -> Result<Self, KvmError> {
        let vm = kvm("create VM", kvm_sys.create_vm())?;
        if dirty_log {
            // Manual protection: reading the dirty log does not write-protect the pages again;
            // `protect_pages` does, for the pages the caller chooses (see `Instance::reset`).
            let cap = kvm_enable_cap {
                cap: kvm_bindings::KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
                args: [u64::from(kvm_bindings::KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE), 0, 0, 0],
                ..Default::default()
            };
            kvm("enable manual dirty-log protection", vm.enable_cap(&cap))?;
        }
        let region = kvm_userspace_memory_region {
            slot: 0,
            guest_phys_addr: ram.base(),
            memory_size: ram.size(),
            userspace_addr: ram.host_addr(),
            flags: if dirty_log { kvm_bindings::KVM_MEM_LOG_DIRTY_PAGES } else { 0 },
        };
        // SAFETY: the region is a live mapping owned by `ram`, which this Vm owns and drops
        // after the VM fd (fields drop in declaration order: vm, vcpu, ram).
        kvm("set memory region", unsafe { vm.set_user_memory_region(region) })?;
        let vcpu = kvm("create vCPU", vm.create_vcpu(0))?;
        let supported = supported_cpuid(kvm_sys)?;
        let leaves: Vec<CpuidLeaf> = match cpuid {
            Some(l) => l.to_vec(),
            None => supported
                .as_slice()
                .iter()
                .map(|e| CpuidLeaf { function: e.function, index: e.index, eax: e.eax, ebx: e.ebx, ecx: e.ecx, edx: e.edx })
                .collect(),
        };
        // KVM's flags (which leaves take a sub-leaf index) come from its own list.
        let flags = |f: u32, i: u32| supported.as_slice().iter().find(|e| e.function == f && e.index == i).map_or(0, |e| e.flags);
        let entries: Vec<kvm_cpuid_entry2> = leaves
            .iter()
            .map(|l| kvm_cpuid_entry2 {
                function: l.function,
                index: l.index,
                eax: l.eax,
                ebx: l.ebx,
                ecx: l.ecx,
                edx: l.edx,
                flags: flags(l.function, l.index),
                ..Default::default()
            })
            .collect();
        let cpuid2 = CpuId::from_entries(&entries).map_err(|_| KvmError { what: "build CPUID", source: kvm_ioctls::Error::new(libc::E2BIG) })?;
        kvm("set CPUID", vcpu.set_cpuid2(&cpuid2))?;
        let tsc_khz = vcpu.get_tsc_khz().ok().filter(|k| *k > 0);
        Ok(Self { vm, vcpu, ram, tsc_khz, cpuid: leaves })
    }

    /// The guest pages whose dirty bit is set: written since [`Vm::protect_pages`] last cleared
    /// them (or since the VM was made), as page numbers relative to RAM's base, in order. The
    /// bits stay set and the pages writable until they are protected again. Only for VMs made
    /// with `dirty_log`.
    pub fn dirty_pages(&self) -> Result<Vec<u64>, KvmError> {
        let bitmap = kvm("get dirty log", self.vm.get_dirty_log(0, self.ram.size() as usize))?;
        let mut pages = Vec::new();
        for (i, mut word) in bitmap.into_iter().enumerate() {
            while word != 0 {
                let bit = word.trailing_zeros() as u64;
                pages.push(i as u64 * 64 + bit);
                word &= word - 1;
            }
        }
        Ok(pages)
    }

    /// Clears the dirty bits of `pages` (sorted) and write-protects them again, so the next
    /// guest write to each is seen (one `KVM_CLEAR_DIRTY_LOG` per 64-page window touched).
    pub fn protect_pages(&self, pages: &[u64]) -> Result<(), KvmError> {
        let total = self.ram.size() / 4096;
        let mut i = 0;
        while i < pages.len() {
            let first = pages[i] & !63;
            let mut bits = 0u64;
            while i < pages.len() && pages[i] < first + 64 {
                bits |= 1 << (pages[i] - first);
                i += 1;
            }
            let num = (total - first).min(64) as u32;
            let clear = kvm_clear_dirty_log {
                slot: 0,
                num_pages: num,
                first_page: first,
                __bindgen_anon_1: kvm_clear_dirty_log__bindgen_ty_1 { dirty_bitmap: (&mut bits as *mut u64).cast() },
            };
            // SAFETY: KVM_CLEAR_DIRTY_LOG reads one kvm_clear_dirty_log and the 64-bit bitmap
            // it points to (`bits`, alive for the call); `first` is 64-aligned and `num` ends at
            // or before the slot's end, as KVM requires.
            let r = unsafe { libc::ioctl(self.vm.as_raw_fd(), KVM_CLEAR_DIRTY_LOG, &clear) };
            if r < 0 {
                return Err(KvmError { what: "clear dirty log", source: kvm_ioctls::Error::last() });
            }
        }
        Ok(())
    }

    /// Puts the vCPU in uhyve's entry state: long mode, paging on the boot page tables,
    /// flat segments, SSE disabled, interrupts off, `rdi` = boot info.
    pub fn set_entry_state(&mut self, e: &EntryState) -> Result<(), KvmError> {
        let mut sregs = kvm("get sregs", self.vcpu.get_sregs())?;
        sregs.cr0 = 0x8000_0031; // PE | ET | NE | PG
        sregs.cr3 = e.cr3;
        sregs.cr4 = 0x20; // PAE
        sregs.efer = 0xd00; // LME | LMA | NXE
        let code = kvm_segment {
            base: 0,
            limit: 0xffff_ffff,
            selector: 1 << 3,
            type_: 11,
            present: 1,
            dpl: 0,
            db: 0,
            s: 1,
            l: 1,
            g: 1,
            avl: 0,
            unusable: 0,
            padding: 0,
        };
        let data = kvm_segment { selector: 2 << 3, type_: 3, l: 0, ..code };
        sregs.cs = code;
        sregs.ds = data;
        sregs.es = data;
        sregs.ss = data;
        sregs.gdt.base = e.gdt;
        sregs.gdt.limit = 23;
        kvm("set sregs", self.vcpu.set_sregs(&sregs))?;
        let regs = kvm_bindings::kvm_regs { rflags: 2, rip: e.rip, rdi: e.boot_info, rsi: 0, rsp: e.rsp, ..Default::default() };
        kvm("set regs", self.vcpu.set_regs(&regs))
    }
}
