//! Networking on real KVM: a plain Rust program doing an HTTP GET with `std::net` through
//! libos's smoltcp, the virtio-net device and our user-mode NAT, under the egress policy; and
//! the same image on stock uhyve and on ours with a tap device, inside a network namespace
//! the test creates. Servers are started by the tests on 127.0.0.1 (or inside the namespace)
//! and stop by themselves.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use common::*;

/// An HTTP server on 127.0.0.1 answering `requests` requests with `body`, then stopping (or
/// after 60 s, whatever comes first). Returns its port.
fn serve(requests: usize, body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut served = 0;
        while served < requests && std::time::Instant::now() < deadline {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let mut s = stream;
            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            served += 1;
        }
    });
    port
}

fn seuss_run(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.arg("run").args(args);
    run_with_timeout(&mut cmd, Duration::from_secs(60))
}

fn get_img() -> String {
    image("rust-http-get").display().to_string()
}

#[test]
fn an_allowed_get_reaches_the_hosts_loopback_through_the_nat() {
    let port = serve(2, "hello from the host");
    let url = format!("http://host.seuss.internal:{port}/x");
    let allow = format!("host.seuss.internal:{port}");
    let out = seuss_run(&[&get_img(), "--allow-net", &allow, "--", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "HTTP/1.1 200 OK\nhello from the host");
    // 127.0.0.1 names the same place in a policy; the gateway address reaches it too.
    let allow = format!("127.0.0.1:{port}");
    let out = seuss_run(&[&get_img(), "--allow-net", &allow, "--", &format!("http://10.0.2.2:{port}/")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn egress_is_denied_by_default_and_the_refusal_is_named() {
    let port = serve(1, "never");
    let url = format!("http://host.seuss.internal:{port}/");
    let out = seuss_run(&[&get_img(), "--", &url]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("refused by the egress policy"), "{}", stderr(&out));
    // Another port than the allowed one is refused too.
    let allow = format!("host.seuss.internal:{}", port.wrapping_add(1));
    let out = seuss_run(&[&get_img(), "--allow-net", &allow, "--", &url]);
    assert!(stderr(&out).contains("refused by the egress policy"), "{}", stderr(&out));
}

#[test]
fn a_closed_port_is_connection_refused_not_a_hang() {
    let unused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let t = std::time::Instant::now();
    let out = seuss_run(&[&get_img(), "--allow-net", "*", "--", &format!("http://host.seuss.internal:{unused}/")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("Connection refused"), "{}", stderr(&out));
    assert!(t.elapsed() < Duration::from_secs(20));
}

#[test]
fn bad_allow_net_entries_are_usage_errors() {
    let out = seuss_run(&[&get_img(), "--allow-net", "host:99999", "--", "http://x/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--allow-net entry \"host:99999\""), "{}", stderr(&out));
}

/// A network namespace with a tap interface at 10.0.5.1/24 (the guest takes 10.0.5.3, Hermit's
/// default), deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        assert!(
            euid == 0,
            "the tap tests need root (ip netns, ip tuntap); CI runs as root"
        );
        let name = format!("seuss-t{}", std::process::id());
        let ip = |args: &[&str]| {
            let o = Command::new("ip").args(args).output().expect("iproute2 `ip` is needed for the tap tests");
            assert!(o.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        ip(&["netns", "add", &name]);
        let ns = Netns(name.clone());
        ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        ip(&["netns", "exec", &name, "ip", "tuntap", "add", "tap10", "mode", "tap"]);
        ip(&["netns", "exec", &name, "ip", "addr", "add", "10.0.5.1/24", "dev", "tap10"]);
        ip(&["netns", "exec", &name, "ip", "link", "set", "tap10", "up"]);
        ns
    }

    /// An HTTP server at 10.0.5.1:8099 inside the namespace (a thread that entered it).
    fn serve(&self, requests: usize, body: &'static str) {
        let path = format!("/var/run/netns/{}", self.0);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let f = std::fs::File::open(&path).expect("netns file");
            // SAFETY: setns on this thread only, with a namespace file descriptor we own.
            let r = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns");
            let listener = TcpListener::bind("10.0.5.1:8099").expect("bind in the namespace");
            listener.set_nonblocking(true).unwrap();
            tx.send(()).unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            let mut served = 0;
            while served < requests && std::time::Instant::now() < deadline {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let mut s = stream;
                let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                served += 1;
            }
        });
        rx.recv_timeout(Duration::from_secs(10)).expect("server in the namespace");
    }

    fn exec(&self, program: &std::path::Path, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0]).arg(program).args(args);
        run_with_timeout(&mut cmd, Duration::from_secs(60))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn the_same_image_runs_on_stock_uhyve_and_on_ours_with_a_tap() {
    let ns = Netns::new();
    ns.serve(2, "hello over the tap");
    let url = "http://10.0.5.1:8099/tap";
    let out = ns.exec(&uhyve_bin(), &["--net", "tap:tap10", &get_img(), "--", url]);
    assert!(stdout(&out).contains("hello over the tap"), "uhyve: {} {}", stdout(&out), stderr(&out));
    let out = ns.exec(std::path::Path::new(env!("CARGO_BIN_EXE_seuss")), &["run", "--net", "tap:tap10", &get_img(), "--", url]);
    assert_eq!(out.status.code(), Some(0), "seuss: {}", stderr(&out));
    assert_eq!(stdout(&out), "HTTP/1.1 200 OK\nhello over the tap");
}
