//! Networking for guests: the virtio-net device (`device.rs`) and what is behind it, either
//! user-mode networking with an egress policy (`nat.rs`, `policy.rs`; the default) or a tap
//! interface (`tap.rs`, as stock uhyve's `--net tap:NAME`).
//!
//! ```text
//!  guest socket ─► libos smoltcp ─► virtio-net (TX ring) ─► VirtioNetDevice ─► Backend
//!                                                                     User: UserNat ─► host sockets
//!                                                                     Tap:  tap fd ─► host bridge
//!  host sockets / tap ─► Backend ─► VirtioNetDevice (RX ring) ─► libos smoltcp ─► guest socket
//! ```
//!
//! The instance drives it: a TX notify moves the guest's frames out at once; frames for the
//! guest are moved in whenever the guest waits (the Wait hypercall returns early when one
//! arrives) or notifies. Nothing network-related survives a reset, and a snapshot cannot be
//! taken once the guest has touched the device.

pub mod device;
pub mod nat;
pub mod policy;
pub mod tap;

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

pub use device::{DeviceError, Effect, VirtioNetDevice};
pub use policy::{EgressPolicy, PolicyError};

use crate::memory::GuestRam;

/// How an instance is networked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetMode {
    /// No network device at all.
    None,
    /// User-mode networking (the default) under this egress policy.
    User(EgressPolicy),
    /// A host tap interface (`--net tap:NAME`): no policy, no NAT; the host's network decides.
    Tap(String),
}

impl Default for NetMode {
    fn default() -> Self {
        NetMode::User(EgressPolicy::default())
    }
}

enum Backend {
    User(Box<nat::UserNat>),
    Tap(tap::Tap),
}

/// One instance's network (see the module docs).
pub struct Network {
    device: VirtioNetDevice,
    backend: Backend,
    mode: NetMode,
    /// Frames from a tap waiting for RX buffers.
    pending: VecDeque<Vec<u8>>,
    /// The user-mode network announced its addresses to the live device.
    announced: bool,
}

impl Network {
    /// The network for `mode` (`None` for [`NetMode::None`]); a tap that cannot be opened is an
    /// error naming it.
    pub fn new(mode: &NetMode) -> std::io::Result<Option<Self>> {
        let backend = match mode {
            NetMode::None => return Ok(None),
            NetMode::User(p) => Backend::User(Box::new(nat::UserNat::new(p.clone()))),
            NetMode::Tap(name) => Backend::Tap(tap::Tap::open(name).map_err(|e| {
                std::io::Error::new(e.kind(), format!("tap interface {name}: {e}"))
            })?),
        };
        Ok(Some(Self { device: VirtioNetDevice::new(seuss_abi::net::GUEST_MAC), backend, mode: mode.clone(), pending: VecDeque::new(), announced: false }))
    }

    /// The device model (register writes from the run loop).
    pub fn device_mut(&mut self) -> &mut VirtioNetDevice {
        &mut self.device
    }

    /// The device model (register reads from the run loop).
    pub fn device_ref(&self) -> &VirtioNetDevice {
        &self.device
    }

    /// Whether this is the user-mode network (the guest is told so in the device tree).
    pub fn is_user_mode(&self) -> bool {
        matches!(self.backend, Backend::User(_))
    }

    /// Why a snapshot cannot be taken now, if it cannot.
    pub fn snapshot_obstacle(&self) -> Option<String> {
        let flows = match &self.backend {
            Backend::User(n) => n.open_flows(),
            Backend::Tap(_) => 0,
        };
        if flows > 0 {
            return Some(format!("the guest has {flows} open network connection(s), which a snapshot cannot carry"));
        }
        self.device.in_use().then(|| {
            "the guest initialised its network device (a network call before the snapshot point, e.g. at import); \
             snapshots cannot carry network state"
                .to_owned()
        })
    }

    /// The egress policy's answer (Egress hypercall); a tap allows everything.
    pub fn egress_allowed(&self, ip: Ipv4Addr, port: u16) -> bool {
        match &self.backend {
            Backend::User(n) => n.allowed(ip, port),
            Backend::Tap(_) => true,
        }
    }

    /// The NetSetup hypercall: brings the device up with `rings` (see
    /// [`VirtioNetDevice::configure`]) and moves what already waits for the guest into its
    /// posted RX buffers (the user-mode network's address announcements, so the guest's first
    /// packets need no address resolution round trip). Returns the device's MAC.
    pub fn setup(&mut self, ram: &mut GuestRam, rings: [seuss_abi::QueueRings; 2]) -> Result<[u8; 6], DeviceError> {
        self.device.configure(ram, rings)?;
        self.pump(ram, Duration::ZERO)?;
        Ok(self.device.mac())
    }

    /// After an RX notify: moves waiting input in (the register handshake ends with one, right
    /// after the device went live).
    pub fn on_rx(&mut self, ram: &mut GuestRam) -> Result<(), DeviceError> {
        self.pump(ram, Duration::ZERO)?;
        Ok(())
    }

    /// After a TX notify: sends the guest's frames and moves any waiting input in.
    pub fn on_tx(&mut self, ram: &mut GuestRam) -> Result<(), DeviceError> {
        self.send_tx(ram)?;
        self.pump(ram, Duration::ZERO)?;
        Ok(())
    }

    /// At any hypercall of ours: sends the TX frames the guest published without a notify
    /// (libos leaves pure ACKs and FINs for the next exit), and moves any input in if there
    /// were some. Nothing (one read of the avail index) when there are none.
    pub fn drain_tx(&mut self, ram: &mut GuestRam) -> Result<(), DeviceError> {
        if self.device.is_live() && self.send_tx(ram)? {
            self.pump(ram, Duration::ZERO)?;
        }
        Ok(())
    }

    /// Takes the guest's TX frames to the backend; whether there were any.
    fn send_tx(&mut self, ram: &mut GuestRam) -> Result<bool, DeviceError> {
        let frames = self.device.pop_tx(ram)?;
        let any = !frames.is_empty();
        for frame in frames {
            match &mut self.backend {
                Backend::User(n) => n.from_guest(frame),
                Backend::Tap(t) => t.send(&frame),
            }
        }
        Ok(any)
    }

    /// Moves frames for the guest into its RX ring, waiting up to `timeout` for the first;
    /// returns whether any arrived.
    pub fn pump(&mut self, ram: &mut GuestRam, timeout: Duration) -> Result<bool, DeviceError> {
        let mut moved = false;
        match &mut self.backend {
            Backend::User(n) => {
                if !self.announced && self.device.is_live() {
                    self.announced = true;
                    n.announce();
                }
                if !n.poll(timeout) {
                    return Ok(false);
                }
                while let Some(f) = n.next_for_guest() {
                    if !self.device.push_rx(ram, &f)? {
                        n.unpop_for_guest(f);
                        break;
                    }
                    moved = true;
                }
            }
            Backend::Tap(t) => {
                if self.pending.is_empty() {
                    if let Some(f) = t.recv(timeout) {
                        self.pending.push_back(f);
                    }
                }
                while let Some(f) = t.recv(Duration::ZERO) {
                    if self.pending.len() >= nat::MAX_QUEUED_FRAMES {
                        break;
                    }
                    self.pending.push_back(f);
                }
                while let Some(f) = self.pending.pop_front() {
                    if !self.device.push_rx(ram, &f)? {
                        self.pending.push_front(f);
                        break;
                    }
                    moved = true;
                }
            }
        }
        Ok(moved)
    }

    /// The Wait hypercall with a live device: up to `d`, returning early when frames for the
    /// guest arrived.
    pub fn wait(&mut self, ram: &mut GuestRam, d: Duration) -> Result<(), DeviceError> {
        let until = Instant::now() + d;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if self.pump(ram, left.min(Duration::from_millis(50)))? || left.is_zero() {
                return Ok(());
            }
        }
    }

    /// Back to power-on (a reset clone): a fresh device, every flow and host socket closed
    /// (a tap stays open: it is the host's interface, not a flow).
    pub fn reset(&mut self) {
        self.device = VirtioNetDevice::new(seuss_abi::net::GUEST_MAC);
        self.pending.clear();
        self.announced = false;
        if let (Backend::User(n), NetMode::User(p)) = (&mut self.backend, &self.mode) {
            **n = nat::UserNat::new(p.clone());
        }
    }
}
