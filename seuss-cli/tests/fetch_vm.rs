//! `fetch()` inside the unikernel on our hypervisor, through libos's network stack and the
//! user-mode NAT, against Node.js 20's fetch as the reference: the functions of
//! `tests/fetch/` run cold (`seuss run --runtime --function`) and from snapshots, eight clones
//! of one snapshot fetch at once, a refused destination explains itself, and no host socket
//! outlives its clone. The server is `node/fetch-server.mjs` on 127.0.0.1, which the guest
//! reaches as `host.seuss.internal`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::fetch_server::Server;
use common::{image, last_line, node, root, run_with_timeout, stderr};

fn fetch_fn(name: &str) -> PathBuf {
    root().join(format!("seuss-cli/tests/fetch/{name}.js"))
}

/// A port with nothing listening (bound, then released).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Args for Node (the server at 127.0.0.1) and for the guest (the same server at
/// host.seuss.internal).
fn args(server: &Server, closed: u16) -> (String, String) {
    let node = serde_json::json!({ "base": server.base(), "closedPort": closed }).to_string();
    let guest = serde_json::json!({ "base": format!("http://host.seuss.internal:{}", server.port), "closedPort": closed }).to_string();
    (node, guest)
}

/// The guest's result with its view of the host's address written as Node's.
fn normalised(guest: &str) -> String {
    guest.replace("host.seuss.internal", "127.0.0.1").replace("10.0.2.2", "127.0.0.1")
}

fn seuss(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.args(args).env("TZ", "UTC");
    run_with_timeout(&mut cmd, Duration::from_secs(90))
}

#[test]
fn every_fetch_function_matches_node_in_the_unikernel() {
    let server = Server::start();
    let runtime = image("runtime").display().to_string();
    let mut failures = Vec::new();
    for name in [
        "get_json", "post_echo", "redirects", "status", "big_body", "chunked", "abort", "errors", "concurrent", "headers", "url",
        "request_response",
    ] {
        let (node_args, guest_args) = args(&server, closed_port());
        let file = fetch_fn(name);
        let reference = last_line(&node(&file, &node_args));
        let out = seuss(&[
            "run", "--runtime", &runtime, "--function", &file.display().to_string(), "--allow-net", "host.seuss.internal",
            "--args", &guest_args,
        ]);
        let ours = normalised(&last_line(&out));
        if ours != reference {
            failures.push(format!("{name}:\n  seuss {ours}\n  node  {reference}\n  stderr {}", stderr(&out)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A runtime snapshot and a function snapshot of `source` over it (warm path), with the
/// network open to the host's loopback.
fn function_snapshot(dir: &Path, source: &str) -> Result<Arc<seuss_hv::Loaded>, seuss_hv::SnapshotError> {
    std::fs::create_dir_all(dir).unwrap();
    let kvm = seuss_hv::Kvm::new().unwrap();
    let rt = dir.join("runtime.snap");
    if !rt.exists() {
        let img = seuss_hv::Image::from_file(&image("runtime")).unwrap();
        let mut inst = seuss_hv::Instance::boot(&kvm, &img, &config()).unwrap();
        assert_eq!(inst.run().unwrap(), seuss_hv::Event::WantsSource);
        seuss_hv::capture(&mut inst, &rt, seuss_hv::image_ref(&image("runtime")).unwrap()).unwrap();
    }
    let runtime = seuss_hv::Loaded::open(&rt).unwrap();
    let out = dir.join(format!("f{:016x}.snap", xxhash(source)));
    seuss_hv::warm_snapshot(&kvm, &runtime, source, &config(), &out)
}

fn xxhash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn config() -> seuss_hv::Config {
    seuss_hv::Config {
        network: seuss_hv::NetMode::User("host.seuss.internal".parse().unwrap()),
        timeout: Duration::from_secs(30),
        ..seuss_hv::Config::default()
    }
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("seuss-fetch-vm-{}-{name}", std::process::id()))
}

#[test]
fn eight_clones_of_one_snapshot_fetch_at_once_and_match_node() {
    let server = Server::start();
    let file = fetch_fn("get_json");
    let (node_args, guest_args) = args(&server, closed_port());
    let reference = last_line(&node(&file, &node_args));
    let snap = function_snapshot(&scratch("eight"), &std::fs::read_to_string(&file).unwrap()).unwrap();
    let results: Vec<String> = (0..8)
        .map(|_| {
            let (snap, a) = (snap.clone(), guest_args.clone());
            std::thread::spawn(move || {
                let kvm = seuss_hv::Kvm::new().unwrap();
                let mut clone = seuss_hv::Instance::from_snapshot(&kvm, &snap, &config()).unwrap();
                let first = clone.invoke(&a).unwrap().result.unwrap();
                clone.reset().unwrap();
                let second = clone.invoke(&a).unwrap().result.unwrap();
                assert_eq!(first, second, "a reset clone fetches again the same way");
                first
            })
        })
        .map(|h| h.join().unwrap())
        .collect();
    for r in results {
        assert_eq!(normalised(&r), reference);
    }
}

#[test]
fn a_refused_destination_is_a_clear_error_inside_the_function() {
    let server = Server::start();
    let src = "async function main({ base }) {\n\
               try { await fetch(base + '/json'); return { fetched: true }; }\n\
               catch (e) { return { name: e.name, message: e.message, cause: e.cause && e.cause.message }; } }\n";
    let dir = scratch("refused");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("refused.js");
    std::fs::write(&file, src).unwrap();
    let (_, guest_args) = args(&server, closed_port());
    let out = seuss(&["run", "--runtime", &image("runtime").display().to_string(), "--function", &file.display().to_string(), "--args", &guest_args]);
    let v: serde_json::Value = serde_json::from_str(&last_line(&out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
    assert_eq!(v["name"], "TypeError");
    assert_eq!(v["message"], "fetch failed");
    let cause = v["cause"].as_str().unwrap_or_default();
    let want = format!("host.seuss.internal:{}", server.port);
    assert!(cause.contains("refused by the seuss egress policy") && cause.contains(&format!("--allow-net {want}")), "{cause}");
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn no_host_socket_outlives_its_clone_over_a_thousand_fetches() {
    // Other tests of this binary open and close descriptors in parallel threads: the count is
    // taken in a child process that runs this test alone.
    if std::env::var_os("SEUSS_FD_CHILD").is_none() {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "no_host_socket_outlives_its_clone_over_a_thousand_fetches", "--test-threads=1", "--nocapture"])
            .env("SEUSS_FD_CHILD", "1");
        let out = run_with_timeout(&mut cmd, Duration::from_secs(300));
        assert!(out.status.success(), "{}\n{}", common::stdout(&out), stderr(&out));
        assert!(common::stdout(&out).contains("1 passed"), "{}", common::stdout(&out));
        return;
    }
    let server = Server::start();
    let src = "async function main({ base }) { const r = await fetch(base + '/json'); return { s: r.status, j: await r.json() }; }\n";
    let (_, guest_args) = args(&server, closed_port());
    let snap = function_snapshot(&scratch("fds"), src).unwrap();
    let kvm = seuss_hv::Kvm::new().unwrap();
    let mut clone = seuss_hv::Instance::from_snapshot(&kvm, &snap, &config()).unwrap();
    let first = clone.invoke(&guest_args).unwrap().result.unwrap();
    clone.reset().unwrap();
    let baseline = open_fds();
    for i in 0..1000 {
        let o = clone.invoke(&guest_args).unwrap();
        assert_eq!(o.result.as_deref(), Some(first.as_str()), "invocation {i}");
        clone.reset().unwrap();
    }
    assert_eq!(open_fds(), baseline, "host descriptors after 1,000 fetching invocations");
}

#[test]
fn a_snapshot_cannot_carry_network_state() {
    let server = Server::start();
    let src = format!(
        "const loaded = fetch('http://host.seuss.internal:{}/json').then((r) => r.json());\n\
         async function main() {{ return await loaded; }}\n",
        server.port
    );
    let e = function_snapshot(&scratch("import"), &src).err().expect("a snapshot after a fetch at import is refused");
    assert!(e.to_string().contains("network"), "{e}");
    assert!(matches!(e.kind(), seuss_hv::ErrorKind::Usage), "{e:?}");
}
