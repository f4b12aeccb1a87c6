//! Networking: the smoltcp stack over the virtio-net driver, and the Hermit-ABI socket calls
//! Rust std's `std::net` links against (`sys.rs` forwards them to [`socket`] and [`dns`]).
//!
//! ```text
//!  std::net ──sys_socket/connect/send/recv/poll/getaddrinfo──► net::socket, net::dns
//!      ──► smoltcp Interface + SocketSet (this module) ──► VirtioNet (virtio_net.rs)
//!      ──► the hypervisor's device: our user-mode NAT, or uhyve's tap
//! ```
//!
//! * **Lazy.** Nothing exists until the first socket call (or name lookup): then the device's
//!   register window is mapped (`layout::map_device_window`), the driver initialised (under
//!   our hypervisor by one NetSetup hypercall; under stock uhyve after a PCI probe, `pci.rs`,
//!   by the register handshake) and the interface configured. A snapshot taken before that has no
//!   network state, and every clone starts its own with fresh randomness (RDRAND seeds
//!   smoltcp's initial sequence numbers and DNS ids, and the ephemeral port counter).
//! * **Addresses.** Under our hypervisor (`/chosen/seuss,net` in the device tree) the guest
//!   takes `seuss_abi::net`'s user-mode network; under stock uhyve it takes Hermit's variables
//!   `HERMIT_IP`, `HERMIT_GATEWAY`, `HERMIT_MASK`, `HERMIT_DNS1` (defaults 10.0.5.3,
//!   10.0.5.1, 255.255.255.0, the gateway).
//! * **Blocking without interrupts.** A blocking call polls the interface, checks its
//!   condition, and otherwise waits ([`Stack::wait`]): under our hypervisor one Wait hypercall
//!   (the host returns early when a frame for us arrives); under uhyve a `pause` loop that
//!   watches the RX ring.
//! * **Egress.** Under our hypervisor a connection or datagram to a new address is first
//!   checked with the Egress hypercall; a refusal is `EACCES` at once. The host enforces the
//!   same policy on every packet regardless.

pub mod abi;
pub mod dns;
pub mod socket;

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::dns as sdns;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};

use crate::sync::SpinLock;
use crate::virtio_net::VirtioNet;
use abi::errno;

/// The network stack of this guest (see the module docs).
pub struct Stack {
    dev: VirtioNet,
    iface: Interface,
    sockets: SocketSet<'static>,
    dns: SocketHandle,
    next_port: u16,
    on_seuss: bool,
    /// Open sockets by descriptor.
    table: BTreeMap<i32, socket::Entry>,
    /// Closed TCP sockets still finishing their close handshake.
    closing: Vec<SocketHandle>,
    next_fd: i32,
}

// One static of this type exists: the size of its largest variant costs nothing extra.
#[allow(clippy::large_enum_variant)]
enum State {
    Uninit,
    Up(Stack),
    /// Initialisation failed; every socket call reports `ENETDOWN` (the reason is printed once).
    Down,
}

static STACK: SpinLock<State> = SpinLock::new(State::Uninit);

/// Nanoseconds of libos's monotonic clock as smoltcp's time.
fn now() -> Instant {
    Instant::from_micros((crate::time::monotonic_ns() / 1000) as i64)
}

/// Runs `f` on the stack, bringing it up on first use; `Err(-ENETDOWN)` when there is none.
pub fn with<R>(f: impl FnOnce(&mut Stack) -> R) -> Result<R, i32> {
    let mut state = STACK.lock();
    if let State::Uninit = *state {
        *state = match Stack::init() {
            Ok(s) => State::Up(s),
            Err(why) => {
                let mut line = crate::console::LineBuf::new();
                let _ = core::fmt::Write::write_fmt(&mut line, format_args!("libos: no network: {why}\n"));
                crate::console::write_stderr(line.as_bytes());
                State::Down
            }
        };
    }
    match &mut *state {
        State::Up(s) => Ok(f(s)),
        _ => Err(-errno::ENETDOWN),
    }
}

/// Whether `fd` is a socket of this guest (without bringing the stack up).
pub fn is_socket(fd: i32) -> bool {
    fd >= socket::FD_BASE && matches!(&*STACK.lock(), State::Up(s) if s.table.contains_key(&fd))
}

/// The addresses the guest uses (see the module docs).
struct Addresses {
    ip: Ipv4Address,
    prefix: u8,
    gateway: Ipv4Address,
    dns: Ipv4Address,
}

fn env_ip(env: &[alloc::string::String], key: &str) -> Option<Ipv4Address> {
    let v = env.iter().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))?;
    v.parse().ok()
}

fn addresses(on_seuss_net: bool) -> Addresses {
    use seuss_abi::net;
    if on_seuss_net {
        let v4 = |a: [u8; 4]| Ipv4Address::new(a[0], a[1], a[2], a[3]);
        return Addresses { ip: v4(net::GUEST), prefix: net::PREFIX, gateway: v4(net::GATEWAY), dns: v4(net::DNS) };
    }
    crate::bootargs::with(|b| {
        let ip = env_ip(&b.env, "HERMIT_IP").unwrap_or(Ipv4Address::new(10, 0, 5, 3));
        let gateway = env_ip(&b.env, "HERMIT_GATEWAY").unwrap_or(Ipv4Address::new(10, 0, 5, 1));
        let mask = env_ip(&b.env, "HERMIT_MASK").unwrap_or(Ipv4Address::new(255, 255, 255, 0));
        let dns = env_ip(&b.env, "HERMIT_DNS1").unwrap_or(gateway);
        Addresses { ip, prefix: u32::from_be_bytes(mask.octets()).count_ones() as u8, gateway, dns }
    })
}

fn random_u64() -> u64 {
    crate::entropy::rdrand().unwrap_or_else(crate::time::monotonic_ns)
}

impl Stack {
    fn init() -> Result<Self, &'static str> {
        let on_seuss = matches!(crate::invocation::channel(), crate::invocation::Channel::Seuss(_));
        let seuss_net = crate::bootargs::with(|b| b.seuss_net);
        let mut dev = if on_seuss {
            // Our hypervisor: one hypercall, no PCI probe (it answers whether a device exists).
            crate::layout::map_device_window(seuss_abi::virtio::MMIO_BASE)?;
            VirtioNet::init_seuss(seuss_abi::virtio::MMIO_BASE)?.ok_or("the hypervisor gave this instance no network device")?
        } else {
            if !crate::pci::virtio_net_present() {
                return Err("no virtio-net device (stock uhyve needs `--net tap:NAME`)");
            }
            crate::layout::map_device_window(seuss_abi::virtio::MMIO_BASE)?;
            VirtioNet::init(seuss_abi::virtio::MMIO_BASE, true)?
        };
        let a = addresses(seuss_net);
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(dev.mac)));
        config.random_seed = random_u64();
        let mut iface = Interface::new(config, &mut dev, now());
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(a.ip), a.prefix));
        });
        iface.routes_mut().add_default_ipv4_route(a.gateway).map_err(|_| "cannot add the default route")?;
        let mut sockets = SocketSet::new(vec![]);
        let dns = sockets.add(sdns::Socket::new(&[IpAddress::Ipv4(a.dns)], vec![]));
        let next_port = 49152 + (random_u64() % 16384) as u16;
        Ok(Self { dev, iface, sockets, dns, next_port, on_seuss, table: BTreeMap::new(), closing: Vec::new(), next_fd: socket::FD_BASE })
    }

    /// Moves frames and timers along; drops closed sockets that finished closing.
    pub fn poll(&mut self) {
        self.iface.poll(now(), &mut self.dev, &mut self.sockets);
        let sockets = &mut self.sockets;
        self.closing.retain(|&h| {
            let done = matches!(
                sockets.get::<smoltcp::socket::tcp::Socket>(h).state(),
                smoltcp::socket::tcp::State::Closed | smoltcp::socket::tcp::State::TimeWait
            );
            if done {
                sockets.remove(h);
            }
            !done
        });
    }

    /// Waits until `deadline_ns` (monotonic), a frame arrives, or smoltcp's next timer, which
    /// ever comes first (see the module docs).
    pub fn wait(&mut self, deadline_ns: Option<u64>) {
        let now_ns = crate::time::monotonic_ns();
        let mut wait_ns: u64 = 50_000_000;
        if let Some(d) = self.iface.poll_delay(now(), &self.sockets) {
            wait_ns = wait_ns.min(d.total_micros().saturating_mul(1000));
        }
        if let Some(d) = deadline_ns {
            wait_ns = wait_ns.min(d.saturating_sub(now_ns));
        }
        if wait_ns == 0 || self.dev.rx_ready() {
            return;
        }
        if self.on_seuss {
            crate::invocation::sleep_ns(wait_ns);
        } else {
            let until = now_ns + wait_ns;
            while crate::time::monotonic_ns() < until && !self.dev.rx_ready() {
                core::hint::spin_loop();
            }
        }
    }

    /// Polls until `ready` gives a value or `deadline_ns` passes (`None`: timed out).
    pub fn block_until<R>(&mut self, deadline_ns: Option<u64>, mut ready: impl FnMut(&mut Self) -> Option<R>) -> Option<R> {
        loop {
            self.poll();
            if let Some(r) = ready(self) {
                return Some(r);
            }
            if deadline_ns.is_some_and(|d| crate::time::monotonic_ns() >= d) {
                return None;
            }
            self.wait(deadline_ns);
        }
    }

    /// A free ephemeral port (49152..=65535, from a random start).
    pub fn ephemeral_port(&mut self) -> u16 {
        for _ in 0..16384 {
            let p = self.next_port;
            self.next_port = if self.next_port == u16::MAX { 49152 } else { self.next_port + 1 };
            if !self.table.values().any(|e| e.local_port() == Some(p)) {
                return p;
            }
        }
        self.next_port
    }

    /// Whether the host's egress policy lets the guest reach `addr:port` over `proto`
    /// (always under stock uhyve, which has no policy).
    pub fn egress_allowed(&self, addr: Ipv4Address, port: u16, proto: u8) -> bool {
        if !self.on_seuss {
            return true;
        }
        crate::invocation::egress_allowed(addr.octets(), port, proto)
    }

    /// Time to wait for a name server's answer.
    pub const DNS_TIMEOUT: Duration = Duration::from_secs(10);
}
