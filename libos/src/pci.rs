//! PCI configuration space through the legacy ports (`0xCF8`/`0xCFC`, 32-bit accesses), enough
//! to find the virtio-net device both hypervisors put at bus 0, device 0.
//!
//! At CPL3 `out dx, eax` / `in eax, dx` raise `#GP` where the host does not honour
//! RFLAGS.IOPL = 3; the fault entry performs them at CPL0 (`faults.rs`). Either way the
//! caller sees a plain port access.

use core::arch::asm;

use seuss_abi::virtio::{PCI_CONFIG_ADDRESS, PCI_CONFIG_DATA, PCI_ID};

fn out32(port: u16, value: u32) {
    // SAFETY: a port write to the PCI configuration address port changes no memory.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags)) };
}

fn in32(port: u16) -> u32 {
    let value: u32;
    // SAFETY: a port read from the PCI configuration data port changes no memory.
    unsafe { asm!("in eax, dx", in("dx") port, out("eax") value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Reads the configuration dword at `offset` of bus 0, device `dev`, function 0.
pub fn config_read(dev: u8, offset: u8) -> u32 {
    out32(PCI_CONFIG_ADDRESS, 0x8000_0000 | (u32::from(dev) << 11) | u32::from(offset & 0xfc));
    in32(PCI_CONFIG_DATA)
}

/// Whether the virtio-net device answers at bus 0, device 0 (the exact id: without a device,
/// uhyve may return stale bytes).
pub fn virtio_net_present() -> bool {
    config_read(0, 0) == PCI_ID
}
