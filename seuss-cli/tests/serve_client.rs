//! The official OpenWhisk JS client (npm `openwhisk`, unmodified) against a real `seuss serve`:
//! create, update, list, get, invoke (blocking, non-blocking, result only), activations and
//! their logs, delete, and a wrong key refused. The client is installed with npm into
//! `target/npm/` (by `cargo xtask setup`, or here on first use).

mod serve_support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use serve_support::common::{root, run_with_timeout};
use serve_support::*;

/// The client version the REST research was checked against.
const CLIENT: &str = "openwhisk@3.21.9";

/// `target/npm` with the client installed (installed now if it is missing).
fn client_dir() -> PathBuf {
    let dir = root().join("target/npm");
    if !dir.join("node_modules/openwhisk/package.json").is_file() {
        std::fs::create_dir_all(&dir).unwrap();
        let o = run_with_timeout(
            Command::new("npm").args(["install", "--no-audit", "--no-fund", "--prefix"]).arg(&dir).arg(CLIENT),
            Duration::from_secs(300),
        );
        assert!(
            o.status.success(),
            "npm install {CLIENT} into {} failed (the test needs the npm registry once; `cargo xtask setup` does the same): {}",
            dir.display(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    dir
}

#[test]
fn the_official_openwhisk_client_works_unmodified() {
    let npm = client_dir();
    let dir = scratch("client");
    let s = Server::start(&dir, &[]);
    let o = run_with_timeout(
        Command::new("node")
            .arg(root().join("seuss-cli/node/ow_client_test.mjs"))
            .env("OW_CLIENT_DIR", &npm)
            .env("OW_APIHOST", format!("http://{}", s.addr))
            .env("OW_KEY", &s.key),
        Duration::from_secs(120),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "client script failed: {text}\n{}", String::from_utf8_lossy(&o.stderr));
    let out: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"));

    assert_eq!(out["create"]["name"], "hello", "{}", out["create"]);
    assert_eq!(out["create"]["version"], "0.0.1");
    assert_eq!(out["createAgain"]["statusCode"], 409);
    assert!(out["createAgain"]["message"].as_str().unwrap().ends_with("Returned HTTP 409 (Conflict) --> \"resource already exists\""), "{}", out["createAgain"]);
    assert_eq!(out["update"]["version"], "0.0.2");
    let names: Vec<&str> = out["list"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fails", "hello"]);
    assert!(out["get"]["exec"]["code"].as_str().unwrap().contains("console.log"));

    let rec = &out["blocking"];
    assert_eq!(rec["response"]["result"], json!({"greeting": "Hi, Ada!"}), "{rec}");
    assert_eq!(rec["response"]["success"], true);
    assert_eq!(rec["activationId"].as_str().unwrap().len(), 32);
    assert_eq!(out["result"], json!({"greeting": "Hi, Grace!"}));
    assert_eq!(out["nonBlocking"]["activationId"].as_str().unwrap().len(), 32);
    assert_eq!(out["activation"]["activationId"], out["nonBlocking"]["activationId"], "{}", out["activation"]);
    assert_eq!(out["activation"]["response"]["result"], json!({"greeting": "Hi, Bob!"}));
    let logs: Vec<&str> = out["logs"]["logs"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(logs[0].ends_with(" stdout: hello from Bob"), "{logs:?}");
    assert!(logs[1].ends_with(" stderr: warning for Bob"), "{logs:?}");
    assert_eq!(out["activationResult"]["result"], json!({"greeting": "Hi, Bob!"}));
    let listed = out["activations"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(listed[0]["activationId"], out["nonBlocking"]["activationId"], "newest first");

    assert_eq!(out["appError"]["statusCode"], 502);
    assert!(out["appError"]["message"].as_str().unwrap().ends_with("Returned HTTP 502 (Bad Gateway) --> \"boom\""), "{}", out["appError"]);
    assert_eq!(out["appError"]["error"]["response"]["status"], "application error");
    assert_eq!(out["appErrorResult"]["statusCode"], 502);
    assert_eq!(out["namespaces"], json!(["guest"]));
    assert_eq!(out["missing"]["statusCode"], 404);
    assert!(out["missing"]["message"].as_str().unwrap().ends_with("--> \"The requested resource does not exist.\""));
    assert_eq!(out["wrongKey"]["statusCode"], 401, "{}", out["wrongKey"]);
    assert_eq!(out["delete"]["name"], "hello");
    assert_eq!(out["afterDelete"]["statusCode"], 404);
}
