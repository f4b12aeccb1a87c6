//! The vCPU state a snapshot carries, and moving it between KVM and [`snapfmt::VcpuState`].
//!
//! Saved: general registers, special registers (segments incl. FS/GS base, CR0/3/4, EFER,
//! GDT/IDT/TR), the XSAVE area (x87/SSE/AVX state), XCR0, pending events, and the MSRs that
//! matter for this guest: TSC (so the guest's monotonic clock continues where it was),
//! SYSCALL/SYSENTER MSRs, KERNEL_GS_BASE, PAT, MISC_ENABLE. There is no local APIC state:
//! the VM has no in-kernel irqchip and libos takes no interrupts.
//!
//! The KVM structures are stored as their raw bytes; a size mismatch on restore (a different
//! KVM ABI) is refused with [`StateError`].

use kvm_bindings::{kvm_msr_entry, kvm_regs, kvm_sregs, kvm_vcpu_events, kvm_xcrs, kvm_xsave, Msrs};
use kvm_ioctls::VcpuFd;
use snapfmt::VcpuState;

/// MSRs saved and restored.
pub const SAVED_MSRS: [u32; 11] = [
    0x10,        // IA32_TSC
    0x174,       // SYSENTER_CS
    0x175,       // SYSENTER_ESP
    0x176,       // SYSENTER_EIP
    0x1a0,       // MISC_ENABLE
    0x277,       // PAT
    0xc000_0081, // STAR
    0xc000_0082, // LSTAR
    0xc000_0083, // CSTAR
    0xc000_0084, // SFMASK
    0xc000_0102, // KERNEL_GS_BASE
];

/// Saving or restoring vCPU state failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A KVM call failed.
    #[error("KVM {what}: {source}")]
    Kvm {
        /// The operation.
        what: &'static str,
        /// KVM's error.
        source: kvm_ioctls::Error,
    },
    /// Stored bytes do not match this KVM's structure size.
    #[error("snapshot vCPU state field {field} has {found} bytes, this KVM expects {expected}")]
    Size {
        /// Which field.
        field: &'static str,
        /// Stored size.
        found: usize,
        /// Expected size.
        expected: usize,
    },
}

/// Plain-old-data KVM structures that may be copied to and from bytes.
///
/// # Safety
/// Only for `#[repr(C)]` KVM structs made of integers (every bit pattern valid).
unsafe trait Pod: Default {}
// SAFETY: these kvm-bindings structs are repr(C) integer aggregates.
unsafe impl Pod for kvm_regs {}
// SAFETY: a repr(C) kvm-bindings struct of integers and arrays of integers.
unsafe impl Pod for kvm_sregs {}
// SAFETY: a repr(C) kvm-bindings struct of integers and arrays of integers.
unsafe impl Pod for kvm_xsave {}
// SAFETY: a repr(C) kvm-bindings struct of integers and arrays of integers.
unsafe impl Pod for kvm_xcrs {}
// SAFETY: a repr(C) kvm-bindings struct of integers and arrays of integers.
unsafe impl Pod for kvm_vcpu_events {}

fn bytes_of<T: Pod>(v: &T) -> Vec<u8> {
    // SAFETY: T is Pod; reading its bytes is defined (padding bytes are zero-initialised by
    // KVM/Default for these structs).
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }.to_vec()
}

fn from_bytes<T: Pod>(field: &'static str, b: &[u8]) -> Result<T, StateError> {
    if b.len() != size_of::<T>() {
        return Err(StateError::Size { field, found: b.len(), expected: size_of::<T>() });
    }
    let mut v = T::default();
    // SAFETY: sizes match and every bit pattern is a valid T (Pod).
    unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), (&mut v as *mut T).cast::<u8>(), b.len()) };
    Ok(v)
}

fn kvm<T>(what: &'static str, r: Result<T, kvm_ioctls::Error>) -> Result<T, StateError> {
    r.map_err(|source| StateError::Kvm { what, source })
}

/// Reads the complete state of `vcpu`. The vCPU must not be in the middle of an I/O exit:
/// call [`settle`] first.
pub fn save(vcpu: &VcpuFd) -> Result<VcpuState, StateError> {
    let regs = kvm("get regs", vcpu.get_regs())?;
    let sregs = kvm("get sregs", vcpu.get_sregs())?;
    let xsave = kvm("get xsave", vcpu.get_xsave())?;
    let xcrs = kvm("get xcrs", vcpu.get_xcrs())?;
    let events = kvm("get events", vcpu.get_vcpu_events())?;
    let entries: Vec<kvm_msr_entry> = SAVED_MSRS.iter().map(|&index| kvm_msr_entry { index, ..Default::default() }).collect();
    let mut msrs = Msrs::from_entries(&entries).expect("a handful of MSRs fits");
    let n = kvm("get msrs", vcpu.get_msrs(&mut msrs))?;
    if n != SAVED_MSRS.len() {
        // KVM stops at the first MSR it cannot read: saving a prefix would silently lose the rest.
        return Err(StateError::Size { field: "msrs (read by KVM)", found: n, expected: SAVED_MSRS.len() });
    }
    Ok(VcpuState {
        regs: bytes_of(&regs),
        sregs: bytes_of(&sregs),
        xsave: bytes_of(&xsave),
        xcrs: bytes_of(&xcrs),
        events: bytes_of(&events),
        msrs: msrs.as_slice()[..n].iter().map(|e| (e.index, e.data)).collect(),
    })
}

/// Decoded state, ready to load into any vCPU quickly (decode once, restore many times).
pub struct Loadable {
    regs: kvm_regs,
    sregs: kvm_sregs,
    xsave: kvm_xsave,
    xcrs: kvm_xcrs,
    events: kvm_vcpu_events,
    msrs: Msrs,
}

impl Loadable {
    /// Decodes a stored state.
    pub fn decode(s: &VcpuState) -> Result<Self, StateError> {
        let entries: Vec<kvm_msr_entry> =
            s.msrs.iter().map(|&(index, data)| kvm_msr_entry { index, data, ..Default::default() }).collect();
        Ok(Self {
            regs: from_bytes("regs", &s.regs)?,
            sregs: from_bytes("sregs", &s.sregs)?,
            xsave: from_bytes("xsave", &s.xsave)?,
            xcrs: from_bytes("xcrs", &s.xcrs)?,
            events: from_bytes("events", &s.events)?,
            msrs: Msrs::from_entries(&entries).map_err(|_| StateError::Size {
                field: "msrs",
                found: entries.len(),
                expected: SAVED_MSRS.len(),
            })?,
        })
    }

    /// The saved instruction pointer.
    pub fn rip(&self) -> u64 {
        self.regs.rip
    }

    /// The saved `rdi`: a parked hypercall's parameter address.
    pub fn rdi(&self) -> u64 {
        self.regs.rdi
    }

    /// The saved `rdx`: a parked hypercall's port in its low 16 bits.
    pub fn rdx(&self) -> u64 {
        self.regs.rdx
    }

    /// The saved stack pointer.
    pub fn rsp(&self) -> u64 {
        self.regs.rsp
    }

    /// Loads the state into `vcpu`.
    pub fn restore(&self, vcpu: &VcpuFd) -> Result<(), StateError> {
        kvm("set sregs", vcpu.set_sregs(&self.sregs))?;
        let n = kvm("set msrs", vcpu.set_msrs(&self.msrs))?;
        if n != self.msrs.as_slice().len() {
            return Err(StateError::Size { field: "msrs (accepted by KVM)", found: n, expected: self.msrs.as_slice().len() });
        }
        // SAFETY: the xsave buffer is a full kvm_xsave (4 KiB) as KVM_GET_XSAVE returned it.
        kvm("set xsave", unsafe { vcpu.set_xsave(&self.xsave) })?;
        kvm("set xcrs", vcpu.set_xcrs(&self.xcrs))?;
        kvm("set events", vcpu.set_vcpu_events(&self.events))?;
        kvm("set regs", vcpu.set_regs(&self.regs))
    }

}

/// Completes a pending I/O exit without entering the guest (KVM's documented way to make the
/// vCPU state consistent before saving or replacing it: `immediate_exit` + `KVM_RUN`).
pub fn settle(vcpu: &mut VcpuFd) -> Result<(), StateError> {
    vcpu.set_kvm_immediate_exit(1);
    let r = vcpu.run().map(|_| ());
    vcpu.set_kvm_immediate_exit(0);
    match r {
        Err(e) if e.errno() == libc::EINTR => Ok(()),
        Err(source) => Err(StateError::Kvm { what: "settle vCPU", source }),
        Ok(()) => Ok(()),
    }
}
