//! User-mode networking for one instance (the slirp/passt model): the guest's TCP connections
//! and UDP datagrams are terminated here and carried on ordinary host sockets, deny by default.
//!
//! ```text
//!  guest frame ──► ARP, TCP ──► host smoltcp interface (gateway MAC, any address) ──► flow
//!                  UDP :53 to the DNS address ──► DNS responder (host resolver)
//!                  UDP elsewhere ──► one host UDP socket per (guest port, destination)
//!  TCP SYN to D:P ── policy? ──no──► RST
//!                          └─yes─► host connect(D:P) (non-blocking) ── ok ──► listen on D:P in
//!                                  smoltcp and replay the SYN ── then relay bytes both ways
//!                                                                └ fail ──► RST
//! ```
//!
//! The gateway address (`seuss_abi::net::GATEWAY`, the guest's `host.seuss.internal`) maps to
//! the host's 127.0.0.1. Every flow belongs to this instance only; dropping the [`UserNat`]
//! closes every host socket (a reset clone carries nothing of its previous flows). Limits:
//! [`MAX_FLOWS`] flows, [`CONNECT_TIMEOUT`] for a host connect, [`MAX_QUEUED_FRAMES`] frames
//! waiting for guest RX buffers.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant as StdInstant};

use seuss_abi::net::{DNS, GATEWAY, GATEWAY_MAC, GUEST, GUEST_MAC, HOST_ALIAS, PREFIX};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, ChecksumCapabilities, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, HardwareAddress, IpAddress, IpCidr, IpListenEndpoint,
    IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, TcpPacket, UdpPacket, UdpRepr,
};

use super::policy::EgressPolicy;

/// Most flows (TCP and UDP) an instance may have open.
pub const MAX_FLOWS: usize = 256;
/// How long a host connect may take before the guest gets a reset.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most frames kept for the guest while its RX ring is full.
pub const MAX_QUEUED_FRAMES: usize = 512;
const TCP_BUFFER: usize = 64 * 1024;
const MTU: usize = seuss_abi::virtio::MAX_FRAME;

fn v4(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

/// smoltcp's side of the queues between the guest and the host interface.
#[derive(Default)]
struct Queues {
    from_guest: VecDeque<Vec<u8>>,
    to_guest: VecDeque<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        if self.0.len() < MAX_QUEUED_FRAMES {
            self.0.push_back(buf);
        }
        r
    }
}

impl Device for Queues {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let frame = self.from_guest.pop_front()?;
        Some((Rx(frame), Tx(&mut self.to_guest)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.to_guest))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = MTU;
        c
    }
}

/// Where a TCP flow is.
enum TcpState {
    /// The host connect is under way; the guest's SYN waits for its outcome.
    Connecting { syn: Vec<u8>, since: StdInstant },
    /// Relaying.
    Open { handle: SocketHandle, host_eof: bool, guest_eof: bool },
}

struct TcpFlow {
    /// The guest's endpoint.
    guest: SocketAddrV4,
    /// The destination as the guest addressed it.
    dst: SocketAddrV4,
    host: socket2::Socket,
    state: TcpState,
}

struct UdpFlow {
    guest_port: u16,
    dst: SocketAddrV4,
    host: UdpSocket,
    last_used: StdInstant,
}

/// One instance's user-mode network (see the module docs).
pub struct UserNat {
    iface: Interface,
    queues: Queues,
    sockets: SocketSet<'static>,
    tcp: Vec<TcpFlow>,
    udp: Vec<UdpFlow>,
    policy: EgressPolicy,
    /// Names the DNS responder answered, by address (for name entries of the policy).
    names: HashMap<Ipv4Addr, Vec<String>>,
    start: StdInstant,
}

impl UserNat {
    /// A network with nothing open, under `policy`.
    pub fn new(policy: EgressPolicy) -> Self {
        let mut queues = Queues::default();
        let start = StdInstant::now();
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(GATEWAY_MAC)));
        config.random_seed = u64::from_le_bytes(crate::freshness::entropy()[..8].try_into().expect("8 bytes"));
        let mut iface = Interface::new(config, &mut queues, Instant::ZERO);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(Ipv4Address::from(GATEWAY)), PREFIX));
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(Ipv4Address::from(DNS)), PREFIX));
        });
        // Any address: the interface answers for every destination the guest connects to.
        iface.set_any_ip(true);
        let _ = iface.routes_mut().add_default_ipv4_route(Ipv4Address::from(GATEWAY));
        Self { iface, queues, sockets: SocketSet::new(vec![]), tcp: Vec::new(), udp: Vec::new(), policy, names: HashMap::new(), start }
    }

    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as i64)
    }

    /// The policy's answer for `ip:port` (what the Egress hypercall asks).
    pub fn allowed(&self, ip: Ipv4Addr, port: u16) -> bool {
        if ip == v4(GATEWAY) {
            return self.policy.allows_host(port);
        }
        if ip.is_loopback() || ip.is_unspecified() || ip.is_broadcast() || in_guest_net(ip) {
            return false;
        }
        let names = self.names.get(&ip).map(Vec::as_slice).unwrap_or(&[]);
        self.policy.allows(ip, port, names)
    }

    /// Open flows (TCP connections and UDP associations).
    pub fn open_flows(&self) -> usize {
        self.tcp.len() + self.udp.len()
    }

    /// Host descriptors the flows hold (for waiting on them).
    fn poll_fds(&self) -> Vec<libc::pollfd> {
        let mut fds = Vec::new();
        for f in &self.tcp {
            let events = match f.state {
                TcpState::Connecting { .. } => libc::POLLOUT,
                TcpState::Open { host_eof: false, .. } => libc::POLLIN,
                TcpState::Open { .. } => 0,
            };
            if events != 0 {
                fds.push(libc::pollfd { fd: f.host.as_raw_fd(), events, revents: 0 });
            }
        }
        for u in &self.udp {
            fds.push(libc::pollfd { fd: u.host.as_raw_fd(), events: libc::POLLIN, revents: 0 });
        }
        fds
    }

    /// A frame the guest sent.
    pub fn from_guest(&mut self, frame: Vec<u8>) {
        let Ok(eth) = EthernetFrame::new_checked(&frame[..]) else { return };
        if eth.ethertype() == EthernetProtocol::Ipv4 {
            let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else { return };
            match ip.next_header() {
                IpProtocol::Tcp => {
                    if let Ok(tcp) = TcpPacket::new_checked(ip.payload()) {
                        let guest = SocketAddrV4::new(v4(ip.src_addr().octets()), tcp.src_port());
                        let dst = SocketAddrV4::new(v4(ip.dst_addr().octets()), tcp.dst_port());
                        if tcp.syn() && !tcp.ack() && !self.tcp.iter().any(|f| f.guest == guest && f.dst == dst) {
                            self.new_tcp_flow(guest, dst, frame);
                            return;
                        }
                        if self.tcp.iter().any(|f| f.guest == guest && f.dst == dst && matches!(f.state, TcpState::Connecting { .. })) {
                            return; // a retransmitted SYN; the first one waits for the host connect
                        }
                    }
                }
                IpProtocol::Udp => {
                    if let Ok(udp) = UdpPacket::new_checked(ip.payload()) {
                        let guest_port = udp.src_port();
                        let dst = SocketAddrV4::new(v4(ip.dst_addr().octets()), udp.dst_port());
                        let payload = udp.payload().to_vec();
                        self.udp_from_guest(guest_port, dst, &payload);
                    }
                    return;
                }
                _ => return,
            }
        }
        self.queues.from_guest.push_back(frame);
    }

    fn new_tcp_flow(&mut self, guest: SocketAddrV4, dst: SocketAddrV4, syn: Vec<u8>) {
        let target = if *dst.ip() == v4(GATEWAY) { SocketAddrV4::new(Ipv4Addr::LOCALHOST, dst.port()) } else { dst };
        if !self.allowed(*dst.ip(), dst.port()) || self.open_flows() >= MAX_FLOWS {
            tracing::debug!(%dst, "egress refused");
            self.queues.from_guest.push_back(syn); // no listener: smoltcp answers with a reset
            return;
        }
        let host = match socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, Some(socket2::Protocol::TCP)) {
            Ok(s) => s,
            Err(_) => {
                self.queues.from_guest.push_back(syn);
                return;
            }
        };
        let _ = host.set_nonblocking(true);
        let _ = host.set_tcp_nodelay(true);
        match host.connect(&SocketAddr::V4(target).into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(_) => {
                self.queues.from_guest.push_back(syn);
                return;
            }
        }
        tracing::debug!(%guest, %dst, %target, "tcp flow");
        self.tcp.push(TcpFlow { guest, dst, host, state: TcpState::Connecting { syn, since: StdInstant::now() } });
    }

    fn udp_from_guest(&mut self, guest_port: u16, dst: SocketAddrV4, payload: &[u8]) {
        if *dst.ip() == v4(DNS) && dst.port() == 53 {
            if let Some(reply) = self.answer_dns(payload) {
                let frame = udp_frame(dst, SocketAddrV4::new(v4(GUEST), guest_port), &reply);
                self.push_to_guest(frame);
            }
            return;
        }
        if !self.allowed(*dst.ip(), dst.port()) {
            return;
        }
        let target = if *dst.ip() == v4(GATEWAY) { SocketAddrV4::new(Ipv4Addr::LOCALHOST, dst.port()) } else { dst };
        if !self.udp.iter().any(|u| u.guest_port == guest_port && u.dst == dst) {
            if self.open_flows() >= MAX_FLOWS {
                return;
            }
            let Ok(sock) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) else { return };
            if sock.connect(target).is_err() || sock.set_nonblocking(true).is_err() {
                return;
            }
            self.udp.push(UdpFlow { guest_port, dst, host: sock, last_used: StdInstant::now() });
        }
        if let Some(u) = self.udp.iter_mut().find(|u| u.guest_port == guest_port && u.dst == dst) {
            let _ = u.host.send(payload);
            u.last_used = StdInstant::now();
        }
    }

    /// Answers an A query from the host's resolver (`host.seuss.internal`: the gateway).
    fn answer_dns(&mut self, query: &[u8]) -> Option<Vec<u8>> {
        use simple_dns::{rdata::RData, Packet, ResourceRecord, CLASS, QTYPE, RCODE, TYPE};
        let q = Packet::parse(query).ok()?;
        let question = q.questions.first()?.clone();
        let name = question.qname.to_string().trim_end_matches('.').to_ascii_lowercase();
        let mut reply = Packet::new_reply(q.id());
        reply.questions.push(question.clone());
        let addrs: Vec<Ipv4Addr> = if question.qtype != QTYPE::TYPE(TYPE::A) {
            Vec::new()
        } else if name == HOST_ALIAS {
            vec![v4(GATEWAY)]
        } else {
            (name.as_str(), 0u16)
                .to_socket_addrs()
                .map(|it| {
                    it.filter_map(|a| match a {
                        SocketAddr::V4(v) => Some(*v.ip()),
                        SocketAddr::V6(_) => None,
                    })
                    .take(4)
                    .collect()
                })
                .unwrap_or_default()
        };
        if addrs.is_empty() && question.qtype == QTYPE::TYPE(TYPE::A) {
            *reply.rcode_mut() = RCODE::NameError;
        }
        for a in &addrs {
            let names = self.names.entry(*a).or_default();
            if !names.contains(&name) && names.len() < 16 {
                names.push(name.clone());
            }
            reply.answers.push(ResourceRecord::new(
                question.qname.clone(),
                CLASS::IN,
                60,
                RData::A(simple_dns::rdata::A { address: u32::from(*a) }),
            ));
        }
        reply.build_bytes_vec().ok()
    }

    /// Tells the guest where the gateway and the DNS server are (ARP replies aimed at it), so
    /// its first packets do not wait for address resolution (smoltcp would drop them and retry
    /// only after its timers, a second for DNS); and teaches this side's interface the guest's
    /// MAC (as if the guest had answered an ARP request), so the first SYN-ACK does not wait
    /// for a round trip either.
    pub fn announce(&mut self) {
        for ip in [GATEWAY, DNS] {
            let frame = arp_reply((GATEWAY_MAC, ip), (GUEST_MAC, GUEST));
            self.push_to_guest(frame);
        }
        self.queues.from_guest.push_back(arp_reply((GUEST_MAC, GUEST), (GATEWAY_MAC, GATEWAY)));
        self.iface.poll(self.now(), &mut self.queues, &mut self.sockets);
    }

    fn push_to_guest(&mut self, frame: Vec<u8>) {
        if self.queues.to_guest.len() < MAX_QUEUED_FRAMES {
            self.queues.to_guest.push_back(frame);
        }
    }

    /// Waits up to `timeout` for host sockets, moves data both ways, and returns whether any
    /// frame for the guest is waiting.
    pub fn poll(&mut self, timeout: Duration) -> bool {
        self.iface.poll(self.now(), &mut self.queues, &mut self.sockets);
        self.relay();
        if !self.queues.to_guest.is_empty() {
            return true;
        }
        let mut fds = self.poll_fds();
        let mut wait = timeout;
        if let Some(d) = self.iface.poll_delay(self.now(), &self.sockets) {
            wait = wait.min(Duration::from_micros(d.total_micros()));
        }
        if fds.is_empty() {
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        } else {
            // ppoll, not poll: a wait shorter than a millisecond (smoltcp's next timer) is not
            // truncated to a busy zero.
            let ts = libc::timespec {
                tv_sec: wait.as_secs().min(i32::MAX as u64) as libc::time_t,
                tv_nsec: wait.subsec_nanos() as libc::c_long,
            };
            // SAFETY: fds is a valid array of pollfd of the given length; ts is a valid
            // timespec; a null signal mask keeps the current one.
            unsafe { libc::ppoll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, &ts, std::ptr::null()) };
        }
        self.relay();
        self.iface.poll(self.now(), &mut self.queues, &mut self.sockets);
        !self.queues.to_guest.is_empty()
    }

    /// The next frame for the guest.
    pub fn next_for_guest(&mut self) -> Option<Vec<u8>> {
        self.queues.to_guest.pop_front()
    }

    /// Gives a frame back (the guest had no RX buffer for it).
    pub fn unpop_for_guest(&mut self, frame: Vec<u8>) {
        self.queues.to_guest.push_front(frame);
    }

    /// Advances connects and copies bytes between smoltcp sockets and host sockets.
    fn relay(&mut self) {
        let mut buf = vec![0u8; 16 * 1024];
        let mut i = 0;
        while i < self.tcp.len() {
            let keep = self.relay_tcp(i, &mut buf);
            if keep {
                i += 1;
            } else {
                let f = self.tcp.swap_remove(i);
                if let TcpState::Open { handle, .. } = f.state {
                    self.sockets.remove(handle);
                }
            }
        }
        let guest_ip = v4(GUEST);
        let mut frames = Vec::new();
        self.udp.retain(|u| {
            while let Ok(n) = u.host.recv(&mut buf) {
                frames.push(udp_frame(u.dst, SocketAddrV4::new(guest_ip, u.guest_port), &buf[..n]));
            }
            u.last_used.elapsed() < Duration::from_secs(60)
        });
        for f in frames {
            self.push_to_guest(f);
        }
    }

    /// One TCP flow's step; `false` when it is finished.
    fn relay_tcp(&mut self, i: usize, buf: &mut [u8]) -> bool {
        let f = &mut self.tcp[i];
        if let TcpState::Connecting { syn, since } = &mut f.state {
            match f.host.take_error() {
                Ok(None) if f.host.peer_addr().is_ok() => {
                    let mut s = tcp::Socket::new(tcp::SocketBuffer::new(vec![0; TCP_BUFFER]), tcp::SocketBuffer::new(vec![0; TCP_BUFFER]));
                    s.set_nagle_enabled(false);
                    let ep = IpListenEndpoint { addr: Some(IpAddress::Ipv4(Ipv4Address::from(f.dst.ip().octets()))), port: f.dst.port() };
                    if s.listen(ep).is_err() {
                        return false;
                    }
                    let handle = self.sockets.add(s);
                    let syn = std::mem::take(syn);
                    f.state = TcpState::Open { handle, host_eof: false, guest_eof: false };
                    self.queues.from_guest.push_back(syn);
                    self.iface.poll(self.now(), &mut self.queues, &mut self.sockets);
                    return true;
                }
                Ok(None) if since.elapsed() < CONNECT_TIMEOUT => return true,
                _ => {
                    // Refused, unreachable or too slow: the guest gets a reset.
                    let syn = std::mem::take(syn);
                    self.queues.from_guest.push_back(syn);
                    return false;
                }
            }
        }
        let TcpState::Open { handle, host_eof, guest_eof } = &mut f.state else { return true };
        let s = self.sockets.get_mut::<tcp::Socket>(*handle);
        // guest -> host
        while s.can_recv() {
            let host = &mut f.host;
            let r = s.recv(|data| match (&*host).write(data) {
                Ok(n) => (n, n),
                Err(_) => (0, 0),
            });
            if !matches!(r, Ok(n) if n > 0) {
                break;
            }
        }
        if !s.may_recv() && !*guest_eof && s.state() != tcp::State::Listen && s.state() != tcp::State::SynReceived {
            *guest_eof = true;
            let _ = f.host.shutdown(std::net::Shutdown::Write);
        }
        // host -> guest
        while !*host_eof && s.can_send() {
            let room = (s.send_capacity() - s.send_queue()).min(buf.len());
            if room == 0 {
                break;
            }
            match (&f.host).read(&mut buf[..room]) {
                Ok(0) => {
                    *host_eof = true;
                    s.close();
                }
                Ok(n) => {
                    let _ = s.send_slice(&buf[..n]);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    // A reset from the host's peer (it closed with our request unread: an
                    // HTTP server refusing a request does). What the host socket received
                    // before the reset still reaches the guest, then a FIN, as the host's own
                    // reader saw it; with nothing pending the guest gets the reset.
                    *host_eof = true;
                    if s.send_queue() > 0 {
                        s.close();
                    } else {
                        s.abort();
                    }
                }
            }
        }
        !matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait)
    }
}

fn in_guest_net(ip: Ipv4Addr) -> bool {
    let mask = u32::MAX << (32 - PREFIX);
    u32::from(ip) & mask == u32::from(v4(GUEST)) & mask && ip != v4(GATEWAY) && ip != v4(DNS)
}

/// An Ethernet frame with the ARP reply "`from`'s address is at `from`'s MAC", sent to `to`.
fn arp_reply(from: ([u8; 6], [u8; 4]), to: ([u8; 6], [u8; 4])) -> Vec<u8> {
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Reply,
        source_hardware_addr: EthernetAddress(from.0),
        source_protocol_addr: Ipv4Address::from(from.1),
        target_hardware_addr: EthernetAddress(to.0),
        target_protocol_addr: Ipv4Address::from(to.1),
    };
    let mut buf = vec![0u8; 14 + arp.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.set_src_addr(EthernetAddress(from.0));
    eth.set_dst_addr(EthernetAddress(to.0));
    eth.set_ethertype(EthernetProtocol::Arp);
    arp.emit(&mut ArpPacket::new_unchecked(&mut buf[14..]));
    buf
}

/// An Ethernet/IPv4/UDP frame from `src` to `dst` (the guest) carrying `payload`.
fn udp_frame(src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let caps = ChecksumCapabilities::default();
    let udp_len = 8 + payload.len();
    let mut buf = vec![0u8; 14 + 20 + udp_len];
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.set_src_addr(EthernetAddress(GATEWAY_MAC));
    eth.set_dst_addr(EthernetAddress(GUEST_MAC));
    eth.set_ethertype(EthernetProtocol::Ipv4);
    let (s, d) = (Ipv4Address::from(src.ip().octets()), Ipv4Address::from(dst.ip().octets()));
    let ip_repr = Ipv4Repr { src_addr: s, dst_addr: d, next_header: IpProtocol::Udp, payload_len: udp_len, hop_limit: 64 };
    let mut ip = Ipv4Packet::new_unchecked(&mut buf[14..]);
    ip_repr.emit(&mut ip, &caps);
    let mut udp = UdpPacket::new_unchecked(&mut buf[34..]);
    UdpRepr { src_port: src.port(), dst_port: dst.port() }.emit(
        &mut udp,
        &IpAddress::Ipv4(s),
        &IpAddress::Ipv4(d),
        payload.len(),
        |b| b.copy_from_slice(payload),
        &caps,
    );
    buf
}
