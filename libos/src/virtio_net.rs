//! A polling driver for the virtio-net device (`seuss_abi::virtio`): two split virtqueues, one
//! buffer per frame, no interrupts, no offloads.
//!
//! ```text
//!  guest (this driver)                         device (uhyve's threads / our hypervisor)
//!  RX: post buffers ──avail ring──►  fills one with [virtio_net_hdr | frame] ──used ring──► poll
//!  TX: [hdr | frame] ──avail ring──► notify (MMIO write) ──► device sends ──used ring──► reclaim
//! ```
//!
//! Under our hypervisor the device comes up by the NetSetup hypercall ([`VirtioNet::init_seuss`])
//! and TX is lazy: a frame nothing waits on (`deferrable`: a TCP segment without data, SYN or
//! RST), or any frame while [`VirtioNet::hold`] is on, is published without the notify; the
//! host takes published frames at every hypercall, and the next notify carries them too.
//! Under stock uhyve, whose device only looks at TX after a notify, every frame is notified.
//!
//! Ring memory and buffers are heap allocations of libos (identity-mapped, so their addresses
//! are guest-physical). Register accesses are single volatile loads/stores of the width the
//! ABI gives (uhyve 0.10 panics on others). The device is initialised once per VM, lazily, by
//! the network stack's first use (`net/mod.rs`): never before a snapshot point, because a
//! clone must start with a fresh device and fresh random state.

use alloc::alloc::{alloc_zeroed, Layout};
use alloc::vec::Vec;
use core::marker::PhantomData;
use core::sync::atomic::{fence, Ordering};

use seuss_abi::virtio::*;
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Size of each frame buffer (header + the largest frame, rounded up).
const BUF_SIZE: usize = 2048;
/// RX buffers kept posted.
const RX_BUFFERS: u16 = 64;
/// TX buffers in flight at most.
const TX_BUFFERS: u16 = 32;

/// A split-ring descriptor.
#[repr(C)]
#[derive(Clone, Copy)]
struct Desc {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

/// One split virtqueue: descriptor table, avail ring and used ring in one zeroed allocation.
struct Queue {
    index: u16,
    base: *mut u8,
    /// Next avail slot the driver fills.
    avail_idx: u16,
    /// Next used entry the driver reads.
    last_used: u16,
}

const DESC_OFF: usize = 0;
const AVAIL_OFF: usize = 16 * QUEUE_ENTRIES as usize;
const USED_OFF: usize = AVAIL_OFF + 1024;
const QUEUE_BYTES: usize = USED_OFF + 4 + 8 * QUEUE_ENTRIES as usize + 2;

impl Queue {
    fn new(index: u16) -> Option<Self> {
        let layout = Layout::from_size_align(QUEUE_BYTES.next_multiple_of(4096), 4096).ok()?;
        // SAFETY: a non-zero-sized layout; the allocation is leaked on purpose (the device
        // keeps the rings' addresses for the VM's life).
        let base = unsafe { alloc_zeroed(layout) };
        (!base.is_null()).then_some(Self { index, base, avail_idx: 0, last_used: 0 })
    }

    fn addr(&self, off: usize) -> u64 {
        self.base as u64 + off as u64
    }

    fn set_desc(&mut self, i: u16, d: Desc) {
        // SAFETY: i < QUEUE_ENTRIES, inside the descriptor table of our allocation.
        unsafe { (self.base.add(DESC_OFF) as *mut Desc).add(i as usize).write_volatile(d) };
    }

    /// Offers descriptor `id` to the device.
    fn push_avail(&mut self, id: u16) {
        let slot = self.avail_idx % QUEUE_ENTRIES;
        // SAFETY: avail ring = flags u16, idx u16, ring[QUEUE_ENTRIES] u16, inside our allocation.
        unsafe { (self.base.add(AVAIL_OFF + 4) as *mut u16).add(slot as usize).write_volatile(id) };
        self.avail_idx = self.avail_idx.wrapping_add(1);
    }

    /// Publishes the avail index (after the ring entries).
    fn publish(&mut self) {
        fence(Ordering::Release);
        // SAFETY: the avail ring's idx field.
        unsafe { (self.base.add(AVAIL_OFF + 2) as *mut u16).write_volatile(self.avail_idx) };
        fence(Ordering::SeqCst);
    }

    /// The next used entry (descriptor id, bytes written), if the device returned one.
    fn pop_used(&mut self) -> Option<(u16, u32)> {
        // SAFETY: the used ring's idx field.
        let idx = unsafe { (self.base.add(USED_OFF + 2) as *const u16).read_volatile() };
        if idx == self.last_used {
            return None;
        }
        fence(Ordering::Acquire);
        let slot = (self.last_used % QUEUE_ENTRIES) as usize;
        // SAFETY: used ring = flags u16, idx u16, ring[QUEUE_ENTRIES] {id u32, len u32}.
        let (id, len) = unsafe {
            let e = self.base.add(USED_OFF + 4 + 8 * slot) as *const u32;
            (e.read_volatile(), e.add(1).read_volatile())
        };
        self.last_used = self.last_used.wrapping_add(1);
        Some(((id % u32::from(QUEUE_ENTRIES)) as u16, len))
    }
}

/// The device's register window (mapped by `layout::map_device_window`).
#[derive(Clone, Copy)]
struct Regs(u64);

impl Regs {
    fn r8(self, off: u64) -> u8 {
        // SAFETY: a register of the mapped device window; MMIO loads have no side effect on
        // our memory.
        unsafe { ((self.0 + off) as *const u8).read_volatile() }
    }
    fn w8(self, off: u64, v: u8) {
        // SAFETY: as r8.
        unsafe { ((self.0 + off) as *mut u8).write_volatile(v) }
    }
    fn r16(self, off: u64) -> u16 {
        // SAFETY: as r8.
        unsafe { ((self.0 + off) as *const u16).read_volatile() }
    }
    fn w16(self, off: u64, v: u16) {
        // SAFETY: as r8.
        unsafe { ((self.0 + off) as *mut u16).write_volatile(v) }
    }
    fn r32(self, off: u64) -> u32 {
        // SAFETY: as r8.
        unsafe { ((self.0 + off) as *const u32).read_volatile() }
    }
    fn w32(self, off: u64, v: u32) {
        // SAFETY: as r8.
        unsafe { ((self.0 + off) as *mut u32).write_volatile(v) }
    }
    fn notify(self, queue: u16) {
        self.w16(NOTIFY + 4 * u64::from(queue), queue);
    }
}

/// The device and its two queues (see the module docs).
pub struct VirtioNet {
    regs: Regs,
    rx: Queue,
    tx: Queue,
    rx_bufs: Vec<*mut u8>,
    tx_bufs: Vec<*mut u8>,
    tx_free: Vec<u16>,
    /// Notify the device after re-posting RX buffers (uhyve's RX thread sleeps on an empty
    /// ring until notified; our hypervisor looks at the ring itself).
    notify_rx: bool,
    /// The device also takes TX frames at every hypercall (our hypervisor): frames nobody
    /// waits on ([`deferrable`]) go out with the next notify or hypercall instead of an exit
    /// of their own.
    lazy_tx: bool,
    /// TX frames published but not yet notified.
    unnotified: bool,
    /// Every TX frame waits for the next notify or hypercall ([`VirtioNet::hold`]).
    held: bool,
    /// The device's MAC address.
    pub mac: [u8; 6],
}

// SAFETY: the raw pointers are libos heap memory owned by this value; libos runs one thread.
unsafe impl Send for VirtioNet {}

fn buffer() -> Result<*mut u8, &'static str> {
    let layout = Layout::from_size_align(BUF_SIZE, 64).expect("valid layout");
    // SAFETY: a non-zero-sized layout; buffers live as long as the device.
    let p = unsafe { alloc_zeroed(layout) };
    (!p.is_null()).then_some(p).ok_or("out of memory for network buffers")
}

impl VirtioNet {
    /// Allocates the rings and buffers and posts the RX buffers: everything but the device.
    fn allocate(mmio: u64, notify_rx: bool) -> Result<Self, &'static str> {
        let mut rx = Queue::new(RX).ok_or("out of memory for the RX ring")?;
        let tx = Queue::new(TX).ok_or("out of memory for the TX ring")?;
        let rx_bufs = (0..RX_BUFFERS).map(|_| buffer()).collect::<Result<Vec<_>, _>>()?;
        let tx_bufs = (0..TX_BUFFERS).map(|_| buffer()).collect::<Result<Vec<_>, _>>()?;
        for (id, &b) in rx_bufs.iter().enumerate() {
            rx.set_desc(id as u16, Desc { addr: b as u64, len: BUF_SIZE as u32, flags: DESC_F_WRITE, next: 0 });
            rx.push_avail(id as u16);
        }
        rx.publish();
        Ok(Self {
            regs: Regs(mmio),
            rx,
            tx,
            rx_bufs,
            tx_bufs,
            tx_free: (0..TX_BUFFERS).rev().collect(),
            notify_rx,
            lazy_tx: false,
            unnotified: false,
            held: false,
            mac: [0; 6],
        })
    }

    /// Initialises the device whose registers are mapped at `mmio` through its registers (the
    /// status sequence 0, 1, 3, 0x0B, 0x0F: uhyve accepts no other), with the RX buffers
    /// posted, and goes live. About forty register accesses, each a VM exit.
    pub fn init(mmio: u64, notify_rx: bool) -> Result<Self, &'static str> {
        let dev = Self::allocate(mmio, notify_rx)?;
        let regs = dev.regs;
        regs.w8(DEVICE_STATUS, 0);
        regs.w8(DEVICE_STATUS, STATUS_ACKNOWLEDGE);
        regs.w8(DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        regs.w32(DEVICE_FEATURE_SELECT, 0);
        let low = regs.r32(DEVICE_FEATURE);
        regs.w32(DEVICE_FEATURE_SELECT, 1);
        let high = regs.r32(DEVICE_FEATURE);
        if high & F_VERSION_1_HIGH == 0 || low & F_MAC == 0 {
            return Err("the network device lacks VERSION_1 or MAC");
        }
        regs.w32(DRIVER_FEATURE_SELECT, 0);
        regs.w32(DRIVER_FEATURE, F_MAC);
        regs.w32(DRIVER_FEATURE_SELECT, 1);
        regs.w32(DRIVER_FEATURE, F_VERSION_1_HIGH);
        regs.w8(DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        if regs.r8(DEVICE_STATUS) & STATUS_FEATURES_OK == 0 {
            return Err("the network device refused our features");
        }
        for q in [&dev.rx, &dev.tx] {
            regs.w16(QUEUE_SELECT, q.index);
            if regs.r16(QUEUE_SIZE) != QUEUE_ENTRIES {
                return Err("unexpected virtqueue size");
            }
            for (reg, off) in [(QUEUE_DESC, DESC_OFF), (QUEUE_DRIVER, AVAIL_OFF), (QUEUE_DEVICE, USED_OFF)] {
                let a = q.addr(off);
                regs.w32(reg, a as u32);
                regs.w32(reg + 4, (a >> 32) as u32);
            }
            regs.w16(QUEUE_ENABLE, 1);
        }
        let mut mac = [0u8; 6];
        for (i, m) in mac.iter_mut().enumerate() {
            *m = regs.r8(MAC + i as u64);
        }
        regs.w8(DEVICE_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
        regs.notify(RX);
        Ok(Self { mac, ..dev })
    }

    /// Initialises the device under our hypervisor: the NetSetup hypercall does the register
    /// handshake's work in one exit. `Ok(None)`: the hypervisor has no network device.
    pub fn init_seuss(mmio: u64) -> Result<Option<Self>, &'static str> {
        let dev = Self::allocate(mmio, false)?;
        let rings = |q: &Queue| seuss_abi::QueueRings { desc: q.addr(DESC_OFF), avail: q.addr(AVAIL_OFF), used: q.addr(USED_OFF) };
        match crate::invocation::net_setup(rings(&dev.rx), rings(&dev.tx)) {
            Some(mac) => Ok(Some(Self { mac, lazy_tx: true, ..dev })),
            None => Ok(None),
        }
    }

    /// Whether a received frame is waiting (no exit: the used ring is guest memory).
    pub fn rx_ready(&self) -> bool {
        // SAFETY: the RX used ring's idx field.
        let idx = unsafe { (self.rx.base.add(USED_OFF + 2) as *const u16).read_volatile() };
        idx != self.rx.last_used
    }

    /// Reclaims TX buffers the device finished with.
    fn reclaim_tx(&mut self) {
        while let Some((id, _)) = self.tx.pop_used() {
            if (id as usize) < self.tx_bufs.len() {
                self.tx_free.push(id);
            }
        }
    }

    /// Publishes TX buffer `id` holding a `len`-byte frame; notifies the device unless the
    /// frame may wait ([`deferrable`], with a lazy device and TX buffers to spare).
    fn send(&mut self, id: u16, len: usize, deferrable: bool) {
        self.tx.set_desc(id, Desc { addr: self.tx_bufs[id as usize] as u64, len: (NET_HDR_LEN + len) as u32, flags: 0, next: 0 });
        self.tx.push_avail(id);
        self.tx.publish();
        if self.lazy_tx && (deferrable || self.held) && self.tx_free.len() >= usize::from(TX_BUFFERS / 2) {
            self.unnotified = true;
        } else {
            self.unnotified = false;
            self.regs.notify(TX);
        }
    }

    /// While `on`, frames wait for the next notify or hypercall whatever they carry (a lazy
    /// device only: the caller makes a hypercall next, which takes them).
    pub fn hold(&mut self, on: bool) {
        self.held = on;
    }

    /// Notifies the device of TX frames that were left waiting, if any.
    pub fn flush(&mut self) {
        if self.unnotified {
            self.unnotified = false;
            self.regs.notify(TX);
        }
    }

    fn repost_rx(&mut self, id: u16) {
        self.rx.push_avail(id);
        self.rx.publish();
        if self.notify_rx {
            self.regs.notify(RX);
        }
    }
}

/// A received frame: its descriptor is re-posted when the token is consumed (or dropped).
pub struct RxToken<'a> {
    dev: *mut VirtioNet,
    id: u16,
    len: usize,
    _dev: PhantomData<&'a mut VirtioNet>,
}

/// A reserved TX buffer: sent when consumed, returned to the free list when dropped unused.
pub struct TxToken<'a> {
    dev: *mut VirtioNet,
    id: Option<u16>,
    _dev: PhantomData<&'a mut VirtioNet>,
}

// The two tokens of one `receive` point at the same device: they use disjoint buffers (one RX,
// one TX descriptor), and smoltcp consumes them one after the other on libos's one thread, so
// each `&mut *dev` below is the only live reference while it exists.

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        // SAFETY: see the note above the impls; the buffer is BUF_SIZE bytes and the device
        // wrote `len` (clamped) into it.
        unsafe {
            let dev = &*self.dev;
            let buf = dev.rx_bufs[self.id as usize];
            let len = self.len.clamp(NET_HDR_LEN, BUF_SIZE);
            f(core::slice::from_raw_parts(buf.add(NET_HDR_LEN), len - NET_HDR_LEN))
        }
    }
}

impl Drop for RxToken<'_> {
    fn drop(&mut self) {
        // SAFETY: see the note above the impls.
        unsafe { (*self.dev).repost_rx(self.id) };
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, len: usize, f: F) -> R {
        let id = self.id.take().expect("a token is consumed once");
        let len = len.min(MAX_FRAME);
        // SAFETY: see the note above the impls; the buffer is ours while its id is off the
        // free list.
        unsafe {
            let dev = &mut *self.dev;
            let all = core::slice::from_raw_parts_mut(dev.tx_bufs[id as usize], NET_HDR_LEN + len);
            all[..NET_HDR_LEN].fill(0);
            let r = f(&mut all[NET_HDR_LEN..]);
            let lazy = deferrable(&all[NET_HDR_LEN..]);
            dev.send(id, len, lazy);
            r
        }
    }
}

/// Whether a frame is a TCP segment without data, SYN or RST (a pure ACK, or a FIN): nothing
/// the guest then waits for depends on it leaving at once, so under our hypervisor it rides
/// along with the next notify or hypercall (the host drains TX at every hypercall, the Wait
/// that a blocking call ends in included). That saves the exit of the ACK that completes a
/// handshake (the request follows) and of the FIN of a closed connection.
fn deferrable(frame: &[u8]) -> bool {
    use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, TcpPacket};
    let Ok(eth) = EthernetFrame::new_checked(frame) else { return false };
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return false;
    }
    let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else { return false };
    if ip.next_header() != IpProtocol::Tcp {
        return false;
    }
    let Ok(tcp) = TcpPacket::new_checked(ip.payload()) else { return false };
    !tcp.syn() && !tcp.rst() && tcp.payload().is_empty()
}

impl Drop for TxToken<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            // SAFETY: see the note above the impls.
            unsafe { (*self.dev).tx_free.push(id) };
        }
    }
}

impl Device for VirtioNet {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        if self.tx_free.is_empty() {
            self.flush();
        }
        self.reclaim_tx();
        if self.tx_free.is_empty() || !self.rx_ready() {
            return None;
        }
        let (id, len) = self.rx.pop_used()?;
        let tx = self.tx_free.pop().expect("checked non-empty");
        let dev: *mut Self = self;
        Some((
            RxToken { dev, id: id.min(RX_BUFFERS - 1), len: len as usize, _dev: PhantomData },
            TxToken { dev, id: Some(tx), _dev: PhantomData },
        ))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_>> {
        if self.tx_free.is_empty() {
            self.flush();
        }
        self.reclaim_tx();
        let id = self.tx_free.pop()?;
        Some(TxToken { dev: self, id: Some(id), _dev: PhantomData })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(usize::from(TX_BUFFERS));
        caps
    }
}
