//! Name resolution for `sys_getaddrinfo`: `localhost`, IPv4 literals and (on our user-mode
//! network) `host.seuss.internal` locally, everything else
//! through smoltcp's DNS client against the configured name server (under our hypervisor, the
//! host's resolver behind the NAT, which also knows `host.seuss.internal`).
//!
//! The result is a list of `addrinfo` (one per IPv4 address) allocated here, each with its
//! `sockaddr_in` in the same allocation, and freed by [`free`].

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use alloc::vec::Vec;

use smoltcp::socket::dns::{self as sdns, GetQueryResultError};
use smoltcp::wire::{DnsQueryType, IpAddress, Ipv4Address};

use super::abi::{self, Addrinfo, SockaddrIn};
use super::Stack;

/// One allocation: the entry and its address.
#[repr(C)]
struct Node {
    info: Addrinfo,
    addr: SockaddrIn,
}

fn layout() -> Layout {
    Layout::new::<Node>()
}

/// The IPv4 addresses for `name`, or an `EAI_*` code.
pub fn resolve(name: &str) -> Result<Vec<Ipv4Address>, i32> {
    if name.eq_ignore_ascii_case("localhost") {
        return Ok(alloc::vec![Ipv4Address::new(127, 0, 0, 1)]);
    }
    if let Ok(ip) = name.parse::<Ipv4Address>() {
        return Ok(alloc::vec![ip]);
    }
    // Our user-mode network's fixed name for the host: its gateway, as the NAT's DNS would
    // answer, without the query's round trip.
    if name.eq_ignore_ascii_case(seuss_abi::net::HOST_ALIAS) && crate::bootargs::with(|b| b.seuss_net) {
        let [a, b, c, d] = seuss_abi::net::GATEWAY;
        return Ok(alloc::vec![Ipv4Address::new(a, b, c, d)]);
    }
    if name.is_empty() || name.len() > 253 {
        return Err(abi::EAI_NONAME);
    }
    super::with(|s| query(s, name)).unwrap_or(Err(abi::EAI_FAIL))
}

fn query(s: &mut Stack, name: &str) -> Result<Vec<Ipv4Address>, i32> {
    let dns = s.dns;
    let handle = s.sockets.get_mut::<sdns::Socket>(dns).start_query(s.iface.context(), name, DnsQueryType::A).map_err(|_| abi::EAI_NONAME)?;
    let deadline = crate::time::monotonic_ns().saturating_add(Stack::DNS_TIMEOUT.total_micros() * 1000);
    let r = s.block_until(Some(deadline), |s| match s.sockets.get_mut::<sdns::Socket>(dns).get_query_result(handle) {
        Err(GetQueryResultError::Pending) => None,
        Err(GetQueryResultError::Failed) => Some(Err(abi::EAI_NONAME)),
        Ok(addrs) => Some(Ok(addrs.iter().filter_map(|a| match a {
            IpAddress::Ipv4(v4) => Some(*v4),
            #[allow(unreachable_patterns)]
            _ => None,
        }).collect::<Vec<_>>())),
    });
    match r {
        Some(r) => r,
        None => {
            s.sockets.get_mut::<sdns::Socket>(dns).cancel_query(handle);
            Err(abi::EAI_AGAIN)
        }
    }
}

/// Builds the `addrinfo` list for `addrs` (`socktype` as the hints asked); null when empty.
pub fn to_list(addrs: &[Ipv4Address], socktype: i32) -> Result<*mut Addrinfo, i32> {
    let mut head: *mut Addrinfo = core::ptr::null_mut();
    for ip in addrs.iter().rev() {
        // SAFETY: Node has a non-zero size.
        let node = unsafe { alloc_zeroed(layout()) } as *mut Node;
        if node.is_null() {
            // SAFETY: `head` is the list built so far by this function (or null).
            unsafe { free(head) };
            return Err(abi::EAI_MEMORY);
        }
        // SAFETY: a fresh, zeroed, correctly aligned Node.
        unsafe {
            (*node).addr = SockaddrIn {
                sin_len: 16,
                sin_family: abi::AF_INET as u8,
                sin_port: 0,
                sin_addr: abi::InAddr { s_addr: u32::from_ne_bytes(ip.octets()) },
                sin_zero: [0; 8],
            };
            (*node).info = Addrinfo {
                ai_flags: 0,
                ai_family: abi::AF_INET,
                ai_socktype: socktype,
                ai_protocol: 0,
                ai_addrlen: 16,
                ai_canonname: core::ptr::null_mut(),
                ai_addr: core::ptr::addr_of_mut!((*node).addr),
                ai_next: head,
            };
        }
        head = node as *mut Addrinfo;
    }
    Ok(head)
}

/// Frees a list from [`to_list`].
///
/// # Safety
/// `p` is null or the head of a list [`to_list`] returned, not freed before.
pub unsafe fn free(mut p: *mut Addrinfo) {
    while !p.is_null() {
        // SAFETY: every element was allocated by `to_list` as a Node whose first field is the
        // Addrinfo (repr(C)), so the pointer is the Node's.
        unsafe {
            let next = (*p).ai_next;
            dealloc(p as *mut u8, layout());
            p = next;
        }
    }
}
