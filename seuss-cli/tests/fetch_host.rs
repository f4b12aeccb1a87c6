//! `fetch()` in the host build of js-launcher (`target/release/js-launcher FN.js ARGS`),
//! against Node.js 20's fetch as the reference: every function in `tests/fetch/` runs under
//! both against one local server (`node/fetch-server.mjs`, 127.0.0.1 only, stops by itself)
//! and must give the same result line.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::fetch_server::Server;
use common::{last_line, node, root, run_with_timeout, stderr};

/// The host js-launcher (built by `cargo xtask build-test-images`).
fn launcher() -> PathBuf {
    common::image_dir();
    let p = root().join("target/release/js-launcher");
    assert!(p.is_file(), "missing {}", p.display());
    p
}

fn ours(file: &Path, args: &str, limit: Duration) -> Output {
    let mut cmd = Command::new(launcher());
    cmd.arg(file).arg(args).env("TZ", "UTC");
    run_with_timeout(&mut cmd, limit)
}

/// A port with nothing listening (bound, then released).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn fetch_fn(name: &str) -> PathBuf {
    root().join(format!("seuss-cli/tests/fetch/{name}.js"))
}

fn args(server: &Server) -> String {
    serde_json::json!({ "base": server.base(), "closedPort": closed_port() }).to_string()
}

fn same_as_node(name: &str) {
    let server = Server::start();
    let file = fetch_fn(name);
    let a = args(&server);
    let reference = node(&file, &a);
    // The functions finish in well under a second each; the limit catches a launcher that
    // waits for an unref'd timer (abort.js leaves a 30 s one behind) or hangs on a socket.
    let got = ours(&file, &a, Duration::from_secs(20));
    assert_eq!(
        last_line(&got),
        last_line(&reference),
        "{name}: js-launcher (exit {:?}, stderr {}) vs node (exit {:?}, stderr {})",
        got.status.code(),
        stderr(&got),
        reference.status.code(),
        stderr(&reference)
    );
    assert_eq!(got.status.code(), reference.status.code(), "{name}: exit status");
    assert!(!last_line(&got).starts_with("{\"error\":"), "{name}: the function itself failed: {}", last_line(&got));
}

#[test]
fn get_json() {
    same_as_node("get_json");
}

#[test]
fn post_bodies_of_every_kind() {
    same_as_node("post_echo");
}

#[test]
fn redirects_follow_error_manual_and_limits() {
    same_as_node("redirects");
}

#[test]
fn statuses_and_empty_bodies() {
    same_as_node("status");
}

#[test]
fn one_mib_body() {
    same_as_node("big_body");
}

#[test]
fn chunked_and_close_delimited_bodies() {
    same_as_node("chunked");
}

#[test]
fn abort_signals_and_timeouts() {
    same_as_node("abort");
}

#[test]
fn network_errors_as_node_reports_them() {
    same_as_node("errors");
}

#[test]
fn concurrent_fetches() {
    same_as_node("concurrent");
}

#[test]
fn headers_semantics() {
    same_as_node("headers");
}

#[test]
fn url_and_search_params() {
    same_as_node("url");
}

#[test]
fn request_and_response_objects() {
    same_as_node("request_response");
}

#[test]
fn keep_alive_reuses_the_connection() {
    // Which connection serves which request differs between undici and us, so this compares
    // properties, not lines: sequential requests share a connection (we reuse one, in order),
    // and a connection the server closed is not reused.
    let server = Server::start();
    let file = fetch_fn("keepalive");
    let a = args(&server);
    let got: serde_json::Value = serde_json::from_str(&last_line(&ours(&file, &a, Duration::from_secs(20)))).unwrap();
    assert_eq!(got["counts"], serde_json::json!([1, 2, 3, 4, 1]), "{got}");
    let reference: serde_json::Value = serde_json::from_str(&last_line(&node(&file, &a))).unwrap();
    let counts: Vec<u64> = reference["counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).collect();
    assert!(counts.iter().any(|&c| c > 1), "node reuses connections too: {reference}");
}

#[test]
fn fetch_at_import_time() {
    // A function's top-level code may fetch; the result is there for main.
    let server = Server::start();
    let dir = root().join("target/fetch-host-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("import_time.js");
    std::fs::write(
        &file,
        format!(
            "const loading = fetch('{}/json').then((r) => r.json());\n\
             async function main() {{ return {{ loaded: await loading, again: (await (await fetch('{}/count')).json()) }}; }}\n",
            server.base(),
            server.base()
        ),
    )
    .unwrap();
    let got = ours(&file, "{}", Duration::from_secs(20));
    assert_eq!(last_line(&got), last_line(&node(&file, "{}")), "{}", stderr(&got));
    assert!(last_line(&got).contains("\"hello\":\"world\""));
}

#[test]
fn the_fetch_example() {
    let server = Server::start();
    let file = root().join("examples/fetch.js");
    for a in [
        serde_json::json!({ "url": format!("{}/json", server.base()) }),
        serde_json::json!({ "url": format!("{}/echo", server.base()), "method": "POST", "body": { "k": 1 } }),
        serde_json::json!({ "url": format!("{}/redirect?code=302&to=/text", server.base()) }),
        serde_json::json!({}),
    ] {
        let a = a.to_string();
        let got = ours(&file, &a, Duration::from_secs(20));
        assert_eq!(last_line(&got), last_line(&node(&file, &a)), "examples/fetch.js {a}");
    }
}

#[test]
fn https_is_refused_with_a_clear_cause() {
    let dir = root().join("target/fetch-host-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("https.js");
    std::fs::write(
        &file,
        "async function main({ port }) { try { await fetch(`https://127.0.0.1:${port}/`); return 'fetched'; } \
         catch (e) { return { message: e.message, cause: e.cause.message }; } }\n",
    )
    .unwrap();
    let got = ours(&file, &serde_json::json!({ "port": closed_port() }).to_string(), Duration::from_secs(20));
    let v: serde_json::Value = serde_json::from_str(&last_line(&got)).unwrap();
    assert_eq!(v["message"], "fetch failed", "{v}");
    assert!(v["cause"].as_str().unwrap().starts_with("HTTPS is not supported in this runtime yet"), "{v}");
}

#[test]
fn bodies_over_the_limit_fail_clearly() {
    let server = Server::start();
    let dir = root().join("target/fetch-host-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("limit.js");
    std::fs::write(
        &file,
        "async function main({ base }) { try { await fetch(base + '/big?size=67108865'); return 'fetched'; } \
         catch (e) { return { message: e.message, cause: e.cause.message }; } }\n",
    )
    .unwrap();
    let got = ours(&file, &serde_json::json!({ "base": server.base() }).to_string(), Duration::from_secs(30));
    let v: serde_json::Value = serde_json::from_str(&last_line(&got)).unwrap();
    assert_eq!(v["message"], "fetch failed", "{v}");
    assert!(v["cause"].as_str().unwrap().contains("exceeds the 64 MiB limit"), "{v}");
}
