//! Network access of functions in `seuss serve`: deny by default, the node's `--allow-net`,
//! an action's `allow-net` annotation, and function snapshots kept in the node's page store.

mod serve_support;

use serde_json::json;
use serve_support::common;
use serve_support::*;

const FETCH: &str = "async function main({ url }) {\n\
    try { const r = await fetch(url); return { status: r.status, body: await r.json() }; }\n\
    catch (e) { return { refused: e.cause && e.cause.message }; } }";

#[test]
fn functions_reach_only_what_the_node_or_their_annotation_allows() {
    let http = common::fetch_server::Server::start();
    let url = format!("http://host.seuss.internal:{}/json", http.port);
    let dir = scratch("net");
    let s = Server::start(&dir, &[]);
    assert_eq!(s.create("denied", FETCH, json!({})).status, 200);
    let allow = format!("host.seuss.internal:{}", http.port);
    let r = s.create("allowed", FETCH, json!({"annotations": [{"key": "allow-net", "value": allow}]}));
    assert_eq!(r.status, 200, "{r:?}");
    let params = json!({ "url": url }).to_string();
    let r = s.invoke("denied", "blocking=true&result=true", &params).json();
    assert!(r["refused"].as_str().unwrap_or_default().contains("refused by the seuss egress policy"), "{r}");
    let r = s.invoke("allowed", "blocking=true&result=true", &params).json();
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(r["body"]["hello"], "world", "{r}");
    // A malformed annotation is refused when the action is created.
    let bad = s.create("bad", FETCH, json!({"annotations": [{"key": "allow-net", "value": "host:99999"}]}));
    bad.assert_error(400, "allow-net");
    // Function snapshots keep their pages in the node's page store.
    let pack = dir.join("pages/pages.pack");
    assert!(std::fs::metadata(&pack).map(|m| m.len() > 0).unwrap_or(false), "{} is empty", pack.display());
}

#[test]
fn the_nodes_allow_net_applies_to_every_function() {
    let http = common::fetch_server::Server::start();
    let dir = scratch("netall");
    let allow = format!("host.seuss.internal:{}", http.port);
    let s = Server::start(&dir, &["--allow-net", &allow]);
    assert_eq!(s.create("f", FETCH, json!({})).status, 200);
    let params = json!({ "url": format!("http://host.seuss.internal:{}/json", http.port) }).to_string();
    let r = s.invoke("f", "blocking=true&result=true", &params).json();
    assert_eq!(r["status"], 200, "{r}");
}
