//! The egress policy: which destinations a function may reach, deny by default.
//!
//! `--allow-net` takes a comma-separated list in Deno's spirit:
//!
//! | entry | allows |
//! |---|---|
//! | `*` | everything |
//! | `example.com` / `example.com:443` | the addresses the name resolved to (through our DNS), any port / that port |
//! | `93.184.215.14` / `93.184.215.14:80` | that address |
//! | `host.seuss.internal:8080` (also `localhost`, `127.0.0.1`) | the host's loopback on that port, which the guest reaches as `host.seuss.internal` |
//!
//! A name allows exactly the addresses our DNS responder answered for it to this instance, so a
//! function cannot reach an allowed name's port on some other address.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// Where an entry points.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Host {
    /// Any destination.
    Any,
    /// The host's loopback (the guest's `host.seuss.internal`).
    Loopback,
    /// One IPv4 address.
    Ip(Ipv4Addr),
    /// A DNS name (lower case).
    Name(String),
}

/// One `HOST[:PORT]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    host: Host,
    port: Option<u16>,
}

/// A parsed `--allow-net` value (see the module docs). The default allows nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    entries: Vec<Entry>,
}

/// An `--allow-net` entry that cannot be parsed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("--allow-net entry {entry:?}: {why}")]
pub struct PolicyError {
    /// The entry as given.
    pub entry: String,
    /// What is wrong with it.
    pub why: String,
}

impl EgressPolicy {
    /// Allows everything (`--allow-net '*'`).
    pub fn allow_all() -> Self {
        Self { entries: vec![Entry { host: Host::Any, port: None }] }
    }

    /// Whether nothing is allowed.
    pub fn is_deny_all(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds the entries of `other`.
    pub fn extend(&mut self, other: &EgressPolicy) {
        self.entries.extend(other.entries.iter().cloned());
    }

    /// Whether the guest may reach `port` on the host's loopback (through the gateway address).
    pub fn allows_host(&self, port: u16) -> bool {
        self.entries.iter().any(|e| matches!(e.host, Host::Any | Host::Loopback) && e.port.is_none_or(|p| p == port))
    }

    /// Whether the guest may reach `ip:port`; `names` are the names our DNS answered with `ip`.
    pub fn allows(&self, ip: Ipv4Addr, port: u16, names: &[String]) -> bool {
        self.entries.iter().any(|e| {
            let host = match &e.host {
                Host::Any => true,
                Host::Loopback => false,
                Host::Ip(a) => *a == ip,
                Host::Name(n) => names.iter().any(|m| m == n),
            };
            host && e.port.is_none_or(|p| p == port)
        })
    }
}

impl FromStr for EgressPolicy {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, PolicyError> {
        let mut entries = Vec::new();
        for raw in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = |why: &str| PolicyError { entry: raw.to_owned(), why: why.to_owned() };
            if raw == "*" {
                entries.push(Entry { host: Host::Any, port: None });
                continue;
            }
            let (host, port) = match raw.rsplit_once(':') {
                Some((h, p)) => (h, Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("the port is not a number from 1 to 65535"))?)),
                None => (raw, None),
            };
            let lower = host.to_ascii_lowercase();
            let host = if lower == seuss_abi::net::HOST_ALIAS || lower == "localhost" || lower == "127.0.0.1" {
                Host::Loopback
            } else if let Ok(ip) = lower.parse::<Ipv4Addr>() {
                Host::Ip(ip)
            } else if lower.contains('[') || lower.contains(']') || lower.parse::<std::net::Ipv6Addr>().is_ok() {
                return Err(bad("IPv6 is not supported"));
            } else if is_dns_name(&lower) {
                Host::Name(lower)
            } else {
                return Err(bad("not a host name, an IPv4 address, or *"));
            };
            entries.push(Entry { host, port });
        }
        Ok(Self { entries })
    }
}

fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !l.starts_with('-')
        })
}

impl fmt::Display for EgressPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.entries.is_empty() {
            return write!(f, "(nothing)");
        }
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|e| {
                let h = match &e.host {
                    Host::Any => "*".to_owned(),
                    Host::Loopback => seuss_abi::net::HOST_ALIAS.to_owned(),
                    Host::Ip(ip) => ip.to_string(),
                    Host::Name(n) => n.clone(),
                };
                e.port.map_or(h.clone(), |p| format!("{h}:{p}"))
            })
            .collect();
        write!(f, "{}", parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_and_match() {
        let p: EgressPolicy = "example.com:443, 10.1.2.3, host.seuss.internal:8080".parse().unwrap();
        let names = vec!["example.com".to_owned()];
        assert!(p.allows(Ipv4Addr::new(93, 1, 1, 1), 443, &names));
        assert!(!p.allows(Ipv4Addr::new(93, 1, 1, 1), 80, &names), "the name allows one port");
        assert!(!p.allows(Ipv4Addr::new(93, 1, 1, 1), 443, &[]), "an address nobody resolved");
        assert!(p.allows(Ipv4Addr::new(10, 1, 2, 3), 9, &[]));
        assert!(p.allows_host(8080) && !p.allows_host(8081));
        assert!(EgressPolicy::default().is_deny_all());
        assert!(!EgressPolicy::default().allows(Ipv4Addr::new(1, 1, 1, 1), 80, &[]));
        let all: EgressPolicy = "*".parse().unwrap();
        assert!(all.allows(Ipv4Addr::new(1, 1, 1, 1), 80, &[]) && all.allows_host(1));
        assert_eq!(p.to_string(), "example.com:443,10.1.2.3,host.seuss.internal:8080");
    }

    #[test]
    fn bad_entries_are_named() {
        for bad in ["a:b", "host:0", "host:70000", "[::1]:80", "bad_name!"] {
            let e = bad.parse::<EgressPolicy>().unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
