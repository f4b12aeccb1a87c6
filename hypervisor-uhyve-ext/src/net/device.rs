//! The virtio-net device model: uhyve 0.10's register layout (`seuss_abi::virtio`), so the
//! guest driver that runs on stock uhyve with `--net tap:NAME` runs here unchanged.
//!
//! ```text
//!  port 0xCF8/0xCFC ──► PCI configuration space of bus 0, device 0 (id 1AF4:1041, caps)
//!  MMIO 0xFE00_0000 ──► the same 256 bytes; from 0x88 the common configuration registers
//!  NetSetup hypercall ──► the register handshake's end state in one exit ([`VirtioNetDevice::configure`])
//!  write to +0xD4 (notify TX) ──► frames out of the TX ring ([`VirtioNetDevice::pop_tx`])
//!  host frames ──► into posted RX buffers ([`VirtioNetDevice::push_rx`]), guest polls used.idx
//! ```
//!
//! The queues live in guest memory and are read and written through the bounds-checked
//! [`GuestRam`]; a guest that points them at garbage gets a [`DeviceError`], never a host fault.
//! The device keeps no state the guest could make unbounded: two queues of 256 entries, frames
//! of at most [`MAX_CHAIN`] bytes.

use seuss_abi::virtio::*;
use seuss_abi::QueueRings;

use crate::memory::{GuestRam, MemError};

/// Largest descriptor chain accepted for one TX frame (header included).
pub const MAX_CHAIN: usize = 64 * 1024;

/// The guest broke the device's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("virtio-net: {0}")]
pub struct DeviceError(pub String);

impl From<MemError> for DeviceError {
    fn from(e: MemError) -> Self {
        DeviceError(format!("queue memory {e}"))
    }
}

/// What a register write asks of the hypervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Nothing more.
    None,
    /// The guest queued frames on TX.
    NotifyTx,
    /// The guest posted RX buffers.
    NotifyRx,
}

#[derive(Clone, Copy, Debug, Default)]
struct QueueRegs {
    desc: u64,
    driver: u64,
    device: u64,
    enabled: bool,
    /// Next avail ring slot the device consumes.
    next_avail: u16,
    /// The used index the device publishes next.
    used_idx: u16,
}

/// One device (see the module docs).
#[derive(Clone, Debug)]
pub struct VirtioNetDevice {
    config: [u8; 256],
    pci_address: u32,
    device_feature_select: u32,
    driver_feature_select: u32,
    driver_features: [u32; 2],
    status: u8,
    queue_select: u16,
    queues: [QueueRegs; 2],
}

impl VirtioNetDevice {
    /// A device with MAC address `mac`, as at power-on.
    pub fn new(mac: [u8; 6]) -> Self {
        let mut c = [0u8; 256];
        let mut put = |off: usize, bytes: &[u8]| c[off..off + bytes.len()].copy_from_slice(bytes);
        put(0x00, &PCI_ID.to_le_bytes());
        put(0x06, &0x0010u16.to_le_bytes()); // status: capabilities list
        put(0x08, &[0, 0, 0x00, 0x02]); // revision, prog-if, subclass 0 (ethernet), class 2 (network)
        put(0x10, &((MMIO_BASE as u32) | 0xC).to_le_bytes()); // 64-bit prefetchable memory BAR
        put(0x2C, &0x0001_1AF4u32.to_le_bytes());
        put(0x34, &[0x40]);
        put(0x3C, &[11, 1]);
        // Vendor capabilities: cap id 9, next, length, cfg type, bar, padding, offset, length.
        let cap = |next: u8, len: u8, ty: u8, off: u32, length: u32| {
            let mut v = vec![0x09, next, len, ty, 0, 0, 0, 0];
            v.extend_from_slice(&off.to_le_bytes());
            v.extend_from_slice(&length.to_le_bytes());
            v
        };
        put(0x40, &cap(0x50, 16, 1, DEVICE_FEATURE_SELECT as u32, 0x40));
        put(0x50, &cap(0x60, 16, 3, 0xC8, 1));
        let mut notify = cap(0x78, 20, 2, NOTIFY as u32, 8);
        notify.extend_from_slice(&4u32.to_le_bytes());
        put(0x60, &notify);
        put(0x78, &cap(0, 16, 4, MAC as u32, 0x18));
        put(MAC as usize, &mac);
        put(MAC as usize + 6, &1u16.to_le_bytes()); // link up
        put(MAC as usize + 10, &(MAX_FRAME as u16).to_le_bytes()); // mtu
        Self {
            config: c,
            pci_address: 0,
            device_feature_select: 0,
            driver_feature_select: 0,
            driver_features: [0; 2],
            status: 0,
            queue_select: 0,
            queues: [QueueRegs::default(); 2],
        }
    }

    /// Whether the guest ever touched the device (a snapshot cannot carry a live device).
    pub fn in_use(&self) -> bool {
        self.status != 0 || self.queues.iter().any(|q| q.enabled)
    }

    /// Whether the driver finished initialisation.
    pub fn is_live(&self) -> bool {
        self.status & STATUS_DRIVER_OK != 0
    }

    /// Brings the device up as the register handshake would (status 0x0F with VERSION_1 and
    /// MAC, both queues enabled at `rings`), for the NetSetup hypercall: one exit instead of
    /// the handshake's forty. The rings must be aligned as virtio requires and lie in `ram`;
    /// a device already touched is an error (it is brought up once per clone).
    pub fn configure(&mut self, ram: &GuestRam, rings: [QueueRings; 2]) -> Result<(), DeviceError> {
        if self.in_use() {
            return Err(DeviceError("NetSetup on a device that is already initialised".into()));
        }
        let n = u64::from(QUEUE_ENTRIES);
        for (q, r) in rings.iter().enumerate() {
            for (what, addr, align, len) in
                [("descriptor table", r.desc, 16, 16 * n), ("avail ring", r.avail, 2, 6 + 2 * n), ("used ring", r.used, 4, 6 + 8 * n)]
            {
                if addr % align != 0 {
                    return Err(DeviceError(format!("queue {q}: the {what} at {addr:#x} is not {align}-byte aligned")));
                }
                ram.slice(addr, len).map_err(|e| DeviceError(format!("queue {q}: the {what} {e}")))?;
            }
        }
        for (q, r) in self.queues.iter_mut().zip(rings) {
            *q = QueueRegs { desc: r.desc, driver: r.avail, device: r.used, enabled: true, next_avail: 0, used_idx: 0 };
        }
        self.driver_features = [F_MAC, F_VERSION_1_HIGH];
        self.status = STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK;
        Ok(())
    }

    /// The MAC address the device reports.
    pub fn mac(&self) -> [u8; 6] {
        self.config[MAC as usize..MAC as usize + 6].try_into().expect("6 bytes")
    }

    /// A port write (`out`) to the PCI configuration ports.
    pub fn pci_write(&mut self, port: u16, data: &[u8]) {
        if port == PCI_CONFIG_ADDRESS && data.len() == 4 {
            self.pci_address = u32::from_le_bytes(data.try_into().expect("4 bytes"));
        }
        // Writes to configuration data (BAR sizing, command) change nothing: the BAR is fixed.
    }

    /// A port read (`in`) from the PCI configuration ports.
    pub fn pci_read(&self, port: u16, data: &mut [u8]) {
        let value = match port {
            PCI_CONFIG_ADDRESS => self.pci_address,
            PCI_CONFIG_DATA if self.pci_address & 0x00ff_f800 == 0 => {
                let off = (self.pci_address & 0xfc) as usize;
                u32::from_le_bytes(self.config[off..off + 4].try_into().expect("4 bytes"))
            }
            _ => u32::MAX,
        };
        let bytes = value.to_le_bytes();
        let n = data.len().min(4);
        data[..n].copy_from_slice(&bytes[..n]);
    }

    /// A load from the register window at `offset`.
    pub fn mmio_read(&self, offset: u64, data: &mut [u8]) {
        let q = &self.queues[usize::from(self.queue_select.min(1))];
        let value: u64 = match offset {
            DEVICE_FEATURE => match self.device_feature_select {
                0 => u64::from(F_MAC),
                1 => u64::from(F_VERSION_1_HIGH),
                _ => 0,
            },
            DEVICE_FEATURE_SELECT => u64::from(self.device_feature_select),
            DRIVER_FEATURE_SELECT => u64::from(self.driver_feature_select),
            DRIVER_FEATURE => u64::from(self.driver_features[usize::from(self.driver_feature_select == 1)]),
            0x9A => 2, // num_queues
            DEVICE_STATUS => u64::from(self.status),
            0x9D => 0, // config_generation
            QUEUE_SELECT => u64::from(self.queue_select),
            QUEUE_SIZE if self.queue_select < 2 => u64::from(QUEUE_ENTRIES),
            QUEUE_SIZE => 0,
            QUEUE_ENABLE => u64::from(q.enabled),
            0xA6 => u64::from(self.queue_select), // queue_notify_off
            0xA8 => q.desc & 0xffff_ffff,
            0xAC => q.desc >> 32,
            0xB0 => q.driver & 0xffff_ffff,
            0xB4 => q.driver >> 32,
            0xB8 => q.device & 0xffff_ffff,
            0xBC => q.device >> 32,
            0xC8 => 0, // ISR: the guest polls, nothing to report
            o if (o as usize) < self.config.len() => {
                let o = o as usize;
                let mut v = [0u8; 8];
                let n = data.len().min(8).min(self.config.len() - o);
                v[..n].copy_from_slice(&self.config[o..o + n]);
                u64::from_le_bytes(v)
            }
            _ => 0,
        };
        let bytes = value.to_le_bytes();
        let n = data.len().min(8);
        data[..n].copy_from_slice(&bytes[..n]);
    }

    /// A store to the register window at `offset`.
    pub fn mmio_write(&mut self, offset: u64, data: &[u8]) -> Effect {
        let mut v = [0u8; 8];
        let n = data.len().min(8);
        v[..n].copy_from_slice(&data[..n]);
        let value = u64::from_le_bytes(v);
        let q = usize::from(self.queue_select.min(1));
        let set_lo = |r: &mut u64| *r = (*r & !0xffff_ffff) | (value & 0xffff_ffff);
        let set_hi = |r: &mut u64| *r = (*r & 0xffff_ffff) | (value << 32);
        match offset {
            DEVICE_FEATURE_SELECT => self.device_feature_select = value as u32,
            DRIVER_FEATURE_SELECT => self.driver_feature_select = value as u32,
            DRIVER_FEATURE => {
                let sel = usize::from(self.driver_feature_select == 1);
                let offered = if sel == 0 { F_MAC } else { F_VERSION_1_HIGH };
                self.driver_features[sel] = value as u32 & offered;
            }
            DEVICE_STATUS => {
                self.status = value as u8;
                if self.status == 0 {
                    self.queues = [QueueRegs::default(); 2];
                }
            }
            QUEUE_SELECT => self.queue_select = value as u16,
            QUEUE_ENABLE if self.queue_select < 2 => self.queues[q].enabled = value & 1 == 1,
            0xA8 if self.queue_select < 2 => set_lo(&mut self.queues[q].desc),
            0xAC if self.queue_select < 2 => set_hi(&mut self.queues[q].desc),
            0xB0 if self.queue_select < 2 => set_lo(&mut self.queues[q].driver),
            0xB4 if self.queue_select < 2 => set_hi(&mut self.queues[q].driver),
            0xB8 if self.queue_select < 2 => set_lo(&mut self.queues[q].device),
            0xBC if self.queue_select < 2 => set_hi(&mut self.queues[q].device),
            o if o == NOTIFY + 4 * u64::from(TX) => return Effect::NotifyTx,
            o if o == NOTIFY + 4 * u64::from(RX) => return Effect::NotifyRx,
            _ => {}
        }
        Effect::None
    }

    /// The frames the guest queued on TX (virtio header removed), returning the buffers.
    pub fn pop_tx(&mut self, ram: &mut GuestRam) -> Result<Vec<Vec<u8>>, DeviceError> {
        let mut frames = Vec::new();
        if !self.is_live() || !self.queues[1].enabled {
            return Ok(frames);
        }
        let q = self.queues[1];
        let avail: u16 = ram.read::<u16>(q.driver + 2)?;
        let mut next = q.next_avail;
        let mut used = q.used_idx;
        let mut budget = usize::from(QUEUE_ENTRIES);
        while next != avail {
            budget = budget.checked_sub(1).ok_or_else(|| DeviceError("TX avail index runs ahead of the ring".into()))?;
            let head = ram.read::<u16>(q.driver + 4 + 2 * u64::from(next % QUEUE_ENTRIES))?;
            let bytes = read_chain(ram, q.desc, head)?;
            if bytes.len() > NET_HDR_LEN {
                frames.push(bytes[NET_HDR_LEN..].to_vec());
            }
            let slot = q.device + 4 + 8 * u64::from(used % QUEUE_ENTRIES);
            ram.write(slot, &u32::from(head))?;
            ram.write(slot + 4, &(bytes.len() as u32))?;
            used = used.wrapping_add(1);
            next = next.wrapping_add(1);
        }
        ram.write(q.device + 2, &used)?;
        self.queues[1].next_avail = next;
        self.queues[1].used_idx = used;
        Ok(frames)
    }

    /// Puts `frame` into the next RX buffer the guest posted; `Ok(false)` when none is free.
    pub fn push_rx(&mut self, ram: &mut GuestRam, frame: &[u8]) -> Result<bool, DeviceError> {
        if !self.is_live() || !self.queues[0].enabled {
            return Ok(false);
        }
        let q = self.queues[0];
        let avail: u16 = ram.read::<u16>(q.driver + 2)?;
        if avail == q.next_avail {
            return Ok(false);
        }
        let head = ram.read::<u16>(q.driver + 4 + 2 * u64::from(q.next_avail % QUEUE_ENTRIES))?;
        let d = read_desc(ram, q.desc, head)?;
        if d.flags & DESC_F_WRITE == 0 {
            return Err(DeviceError("an RX buffer is not device-writable".into()));
        }
        let total = NET_HDR_LEN + frame.len();
        if (d.len as usize) < total {
            return Err(DeviceError(format!("an RX buffer of {} bytes cannot hold a {total}-byte frame", d.len)));
        }
        let mut hdr = [0u8; NET_HDR_LEN];
        hdr[10] = 1; // num_buffers
        let dst = ram.slice_mut(d.addr, total as u64)?;
        dst[..NET_HDR_LEN].copy_from_slice(&hdr);
        dst[NET_HDR_LEN..].copy_from_slice(frame);
        let slot = q.device + 4 + 8 * u64::from(q.used_idx % QUEUE_ENTRIES);
        ram.write(slot, &u32::from(head))?;
        ram.write(slot + 4, &(total as u32))?;
        let used = q.used_idx.wrapping_add(1);
        std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
        ram.write(q.device + 2, &used)?;
        self.queues[0].next_avail = q.next_avail.wrapping_add(1);
        self.queues[0].used_idx = used;
        Ok(true)
    }
}

#[derive(Clone, Copy)]
struct Desc {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

fn read_desc(ram: &GuestRam, table: u64, id: u16) -> Result<Desc, DeviceError> {
    let at = table + 16 * u64::from(id % QUEUE_ENTRIES);
    Ok(Desc {
        addr: ram.read::<u64>(at)?,
        len: ram.read::<u32>(at + 8)?,
        flags: ram.read::<u32>(at + 12)? as u16,
        next: (ram.read::<u32>(at + 12)? >> 16) as u16,
    })
}

/// The bytes of the descriptor chain starting at `head` (at most [`MAX_CHAIN`]).
fn read_chain(ram: &GuestRam, table: u64, head: u16) -> Result<Vec<u8>, DeviceError> {
    let mut out = Vec::new();
    let mut id = head;
    for _ in 0..QUEUE_ENTRIES {
        let d = read_desc(ram, table, id)?;
        if out.len() + d.len as usize > MAX_CHAIN {
            return Err(DeviceError(format!("a TX chain is longer than {MAX_CHAIN} bytes")));
        }
        out.extend_from_slice(ram.slice(d.addr, u64::from(d.len))?);
        if d.flags & DESC_F_NEXT == 0 {
            return Ok(out);
        }
        id = d.next;
    }
    Err(DeviceError("a TX descriptor chain loops".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_identity_and_caps_are_uhyves() {
        let mut d = VirtioNetDevice::new([2, 0, 0, 0, 0, 1]);
        let mut v = [0u8; 4];
        d.pci_write(PCI_CONFIG_ADDRESS, &0x8000_0000u32.to_le_bytes());
        d.pci_read(PCI_CONFIG_DATA, &mut v);
        assert_eq!(u32::from_le_bytes(v), PCI_ID);
        d.pci_write(PCI_CONFIG_ADDRESS, &(0x8000_0000u32 | (1 << 11)).to_le_bytes());
        d.pci_read(PCI_CONFIG_DATA, &mut v);
        assert_eq!(u32::from_le_bytes(v), u32::MAX, "only device 0 exists");
        let mut b = [0u8; 1];
        d.mmio_read(MAC + 5, &mut b);
        assert_eq!(b[0], 1);
    }

    #[test]
    fn tx_and_rx_move_frames_through_guest_memory() {
        let base = 0x1_0000_0000;
        let mut ram = GuestRam::anonymous(base, 1 << 20).unwrap();
        let mut d = VirtioNetDevice::new([0; 6]);
        for (q, area) in [(RX, 0x1000u64), (TX, 0x4000)] {
            d.mmio_write(QUEUE_SELECT, &q.to_le_bytes());
            for (reg, off) in [(QUEUE_DESC, 0u64), (QUEUE_DRIVER, 0x1000), (QUEUE_DEVICE, 0x2000)] {
                let a = base + area * 4 + off;
                d.mmio_write(reg, &(a as u32).to_le_bytes());
                d.mmio_write(reg + 4, &((a >> 32) as u32).to_le_bytes());
            }
            d.mmio_write(QUEUE_ENABLE, &1u16.to_le_bytes());
        }
        d.mmio_write(DEVICE_STATUS, &[0x0F]);
        // TX: one descriptor with a header and a 3-byte frame.
        let (tdesc, tavail, buf) = (base + 0x10000, base + 0x11000, base + 0x20000);
        ram.slice_mut(buf + NET_HDR_LEN as u64, 3).unwrap().copy_from_slice(b"abc");
        ram.write(tdesc, &buf).unwrap();
        ram.write(tdesc + 8, &((NET_HDR_LEN + 3) as u32)).unwrap();
        ram.write(tavail + 4, &0u32).unwrap();
        ram.write(tavail + 2, &1u32).unwrap();
        assert_eq!(d.mmio_write(NOTIFY + 4, &1u16.to_le_bytes()), Effect::NotifyTx);
        assert_eq!(d.pop_tx(&mut ram).unwrap(), vec![b"abc".to_vec()]);
        assert_eq!(ram.read::<u16>(base + 0x12002).unwrap(), 1, "used index published");
        // RX: no buffer posted yet, then one.
        assert!(!d.push_rx(&mut ram, b"xyz").unwrap());
        let (rdesc, ravail, rbuf) = (base + 0x4000, base + 0x5000, base + 0x30000);
        ram.write(rdesc, &rbuf).unwrap();
        ram.write(rdesc + 8, &2048u32).unwrap();
        ram.write(rdesc + 12, &u32::from(DESC_F_WRITE)).unwrap();
        ram.write(ravail + 2, &1u32).unwrap();
        assert!(d.push_rx(&mut ram, b"xyz").unwrap());
        assert_eq!(ram.slice(rbuf + NET_HDR_LEN as u64, 3).unwrap(), b"xyz");
        assert_eq!(ram.read::<u16>(base + 0x6002).unwrap(), 1);
        // A chain pointing outside RAM is a device error, not a host fault.
        ram.write(tdesc, &(base + (1 << 20))).unwrap();
        ram.write(tavail + 6, &0u32).unwrap();
        ram.write(tavail + 2, &2u32).unwrap();
        assert!(d.pop_tx(&mut ram).is_err());
    }

    #[test]
    fn net_setup_checks_rings_and_goes_live_once() {
        let base = 0x1_0000_0000;
        let ram = GuestRam::anonymous(base, 1 << 20).unwrap();
        let rings = |at: u64| QueueRings { desc: base + at, avail: base + at + 0x1000, used: base + at + 0x2000 };
        let err = |d: &mut VirtioNetDevice, r: [QueueRings; 2]| d.configure(&ram, r).unwrap_err().to_string();
        let mut d = VirtioNetDevice::new([2, 0, 0, 0, 0, 7]);
        let mut bad = rings(0);
        bad.desc += 8;
        assert!(err(&mut d, [bad, rings(0x4000)]).contains("queue 0: the descriptor table at 0x100000008 is not 16-byte aligned"));
        let mut bad = rings(0x4000);
        bad.used += 2;
        assert!(err(&mut d, [rings(0), bad]).contains("queue 1: the used ring"));
        let outside = QueueRings { desc: base + (1 << 20) - 16, ..rings(0) };
        assert!(err(&mut d, [outside, rings(0x4000)]).contains("queue 0: the descriptor table"));
        assert!(!d.in_use(), "a refused set-up leaves the device untouched");
        d.configure(&ram, [rings(0), rings(0x4000)]).unwrap();
        assert!(d.is_live());
        assert_eq!(d.mac(), [2, 0, 0, 0, 0, 7]);
        let mut v = [0u8; 1];
        d.mmio_read(DEVICE_STATUS, &mut v);
        assert_eq!(v[0], 0x0F, "the handshake's end state");
        assert!(err(&mut d, [rings(0), rings(0x4000)]).contains("already initialised"));
        // A device the guest touched through its registers is not set up a second way.
        let mut d = VirtioNetDevice::new([0; 6]);
        d.mmio_write(DEVICE_STATUS, &[1]);
        assert!(err(&mut d, [rings(0), rings(0x4000)]).contains("already initialised"));
    }
}
