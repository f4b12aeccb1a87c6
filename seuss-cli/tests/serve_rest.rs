//! `seuss serve`'s OpenWhisk REST API with a plain HTTP client: every answer's status and
//! shape, errors included, against a real node on 127.0.0.1.

mod serve_support;

use std::time::Duration;

use serde_json::json;
use serve_support::*;

const ECHO: &str = "function main(p) { console.log('got', JSON.stringify(p)); console.error('to stderr'); return {p, env: {id: process.env.__OW_ACTIVATION_ID, name: process.env.__OW_ACTION_NAME, ns: process.env.__OW_NAMESPACE, deadline: process.env.__OW_DEADLINE, key: process.env.__OW_API_KEY === undefined ? null : 'given'}}; }";

#[test]
fn actions_can_be_created_read_listed_updated_invoked_and_deleted() {
    let dir = scratch("crud");
    let s = Server::start(&dir, &[]);
    let r = s.create("echo", ECHO, json!({"parameters": [{"key": "a", "value": 1}, {"key": "b", "value": 2}], "limits": {"timeout": 5000}}));
    assert_eq!(r.status, 200, "{r:?}");
    let a = r.json();
    assert_eq!((a["namespace"].as_str(), a["name"].as_str(), a["version"].as_str()), (Some("guest"), Some("echo"), Some("0.0.1")));
    assert_eq!(a["exec"], json!({"kind": "nodejs:20", "code": ECHO, "binary": false}));
    assert_eq!(a["limits"], json!({"timeout": 5000, "memory": 256, "logs": 10, "concurrency": 1}));
    assert!(a["annotations"].as_array().unwrap().contains(&json!({"key": "exec", "value": "nodejs:20"})));
    assert!(r.header("content-type").unwrap().starts_with("application/json"));

    // A blocking invoke: the record, default parameters under the payload, __OW_* env.
    let r = s.invoke("echo", "blocking=true", r#"{"b": 3}"#);
    assert_eq!(r.status, 200, "{r:?}");
    let rec = r.json();
    let id = rec["activationId"].as_str().unwrap().to_owned();
    assert_eq!(r.header("x-openwhisk-activation-id"), Some(id.as_str()));
    assert_eq!(rec["response"]["status"], "success");
    assert_eq!(rec["response"]["success"], true);
    let result = &rec["response"]["result"];
    assert_eq!(result["p"], json!({"a": 1, "b": 3}), "__ow_env must not reach main's params");
    assert_eq!(result["env"]["id"], json!(id));
    assert_eq!(result["env"]["name"], "/guest/echo");
    assert_eq!(result["env"]["ns"], "guest");
    assert_eq!(result["env"]["key"], json!(null), "provide-api-key is false by default");
    let deadline: u64 = result["env"]["deadline"].as_str().unwrap().parse().unwrap();
    assert!(deadline >= rec["start"].as_u64().unwrap(), "{rec}");
    assert_eq!(rec["logs"], json!([]), "a blocking invoke answers without logs, as OpenWhisk");
    assert_eq!(rec["duration"].as_u64().unwrap(), rec["end"].as_u64().unwrap() - rec["start"].as_u64().unwrap());

    // The activation, its result and its logs.
    let got = call("GET", &s.api(&format!("/activations/{id}")), Some(&s.key), None);
    assert_eq!(got.status, 200);
    let logs = got.json()["logs"].as_array().unwrap().clone();
    assert_eq!(logs.len(), 2, "{logs:?}");
    assert!(logs[0].as_str().unwrap().ends_with(r#"stdout: got {"a":1,"b":3}"#), "{logs:?}");
    assert!(logs[1].as_str().unwrap().ends_with("stderr: to stderr"), "{logs:?}");
    let l = call("GET", &s.api(&format!("/activations/{id}/logs")), Some(&s.key), None).json();
    assert_eq!(l["logs"].as_array().unwrap(), &logs);
    let res = call("GET", &s.api(&format!("/activations/{id}/result")), Some(&s.key), None).json();
    assert_eq!((res["status"].as_str(), res["success"].as_bool()), (Some("success"), Some(true)));
    assert_eq!(res["result"]["p"], json!({"a": 1, "b": 3}));

    // Result only; non-blocking.
    let r = s.invoke("echo", "blocking=true&result=true", r#"{"a": "x"}"#);
    assert_eq!((r.status, r.json()["p"].clone()), (200, json!({"a": "x", "b": 2})));
    let r = s.invoke("echo", "", "{}");
    assert_eq!(r.status, 202);
    let nb = r.json()["activationId"].as_str().unwrap().to_owned();
    assert_eq!(nb.len(), 32);
    let rec = wait_for(Duration::from_secs(30), || {
        let r = call("GET", &s.api(&format!("/activations/{nb}")), Some(&s.key), None);
        (r.status == 200).then(|| r.json())
    });
    assert_eq!(rec["response"]["result"]["env"]["id"], json!(nb));

    // Lists: newest first, paging, counts, name filter.
    let r = s.create("second", "function main() { return {two: 2}; }", json!({}));
    assert_eq!(r.status, 200, "{r:?}");
    let list = call("GET", &s.api("/actions?"), Some(&s.key), None).json();
    let names: Vec<_> = list.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["second", "echo"]);
    assert!(list[0].get("parameters").is_none() && list[0]["exec"] == json!({"binary": false}));
    let page = call("GET", &s.api("/actions?skip=1&limit=1"), Some(&s.key), None).json();
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["name"], "echo");
    assert_eq!(call("GET", &s.api("/actions?count=true"), Some(&s.key), None).json(), json!({"actions": 2}));
    let acts = call("GET", &s.api("/activations?name=echo&limit=2"), Some(&s.key), None).json();
    assert_eq!(acts.as_array().unwrap().len(), 2);
    assert_eq!(acts[0]["activationId"], json!(nb), "newest first");
    assert!(acts[0].get("response").is_none(), "summaries without docs=true");
    let docs = call("GET", &s.api("/activations?docs=true&limit=1"), Some(&s.key), None).json();
    assert!(docs[0]["response"].is_object());
    assert_eq!(call("GET", &s.url("/api/v1/namespaces"), Some(&s.key), None).json(), json!(["guest"]));

    // Get without code; update bumps the version and keeps what the body does not give.
    let g = call("GET", &s.api("/actions/echo?code=false"), Some(&s.key), None).json();
    assert_eq!(g["exec"], json!({"kind": "nodejs:20", "binary": false}));
    let r = call("PUT", &s.api("/actions/echo?overwrite=true"), Some(&s.key), Some(r#"{"parameters":[{"key":"a","value":"new"}]}"#));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["version"], "0.0.2");
    assert_eq!(r.json()["exec"]["code"], ECHO);
    assert_eq!(r.json()["limits"]["timeout"], 5000);
    let r = s.invoke("echo", "blocking=true&result=true", "{}");
    assert_eq!(r.json()["p"], json!({"a": "new"}));

    // Delete answers the entity; then it is gone.
    let d = call("DELETE", &s.api("/actions/echo"), Some(&s.key), None);
    assert_eq!((d.status, d.json()["name"].as_str()), (200, Some("echo")));
    call("GET", &s.api("/actions/echo"), Some(&s.key), None).assert_error(404, "The requested resource does not exist.");
    s.invoke("echo", "blocking=true", "{}").assert_error(404, "The requested resource does not exist.");
    call("DELETE", &s.api("/actions/echo"), Some(&s.key), None).assert_error(404, "does not exist");
}

#[test]
fn bad_requests_get_openwhisk_errors() {
    let dir = scratch("errors");
    let s = Server::start(&dir, &[]);
    let k = Some(s.key.as_str());
    // Authentication.
    let r = call("GET", &s.api("/actions"), None, None);
    r.assert_error(401, "The resource requires authentication, which was not supplied with the request");
    assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"OpenWhisk secure realm\""));
    let wrong = format!("{}x", s.key);
    call("GET", &s.api("/actions"), Some(&wrong), None).assert_error(401, "The supplied authentication is invalid");
    let r = call_bytes("GET", &s.api("/actions"), None, None);
    assert_eq!(r.status, 401);
    // Hostile Authorization headers are refused, not crashed on.
    let mut req = ureq::http::Request::builder().method("GET").uri(s.api("/actions"));
    req = req.header("Authorization", "Basic %%%not-base64");
    let resp = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent().run(req.body(Vec::new()).unwrap()).unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // Namespaces, names, routes.
    call("GET", &s.url("/api/v1/namespaces/someone/actions/x"), k, None)
        .assert_error(403, "The supplied authentication is not authorized to access 'someone/x'.");
    call("GET", &s.api("/actions/bad%3Fname"), k, None).assert_error(400, "The name of the entity contains illegal characters.");
    call("GET", &s.api(&format!("/actions/{}", "a".repeat(300))), k, None).assert_error(400, "Name segement longer than allowed: 300 > 256.");
    call("GET", &s.api("/actions/pkg/x"), k, None).assert_error(400, "this node has no packages");
    call("GET", &s.url("/api/v1/nothing"), k, None).assert_error(404, "The requested resource could not be found.");
    call("GET", &s.api("/activations/abc"), k, None).assert_error(400, "Activation id length is 3 but must be 32.");
    call("GET", &s.api(&format!("/activations/{}", "z".repeat(32))), k, None).assert_error(400, "The activation id is not valid.");
    call("GET", &s.api(&format!("/activations/{}", "a".repeat(32))), k, None).assert_error(404, "does not exist");
    call("GET", &s.api("/actions?limit=500"), k, None).assert_error(400, "The value '500' is not in the range of 0 to 200 for actions.");
    call("GET", &s.api("/activations?docs=true&count=true"), k, None).assert_error(400, "The parameter 'docs' is not permitted with 'count'.");
    // Bodies.
    let put = |name: &str, body: &str| call("PUT", &s.api(&format!("/actions/{name}")), k, Some(body));
    put("a", "{not json").assert_error(400, "The request content was malformed:");
    put("a", "[1,2]").assert_error(400, "must be a JSON object");
    put("a", "{}").assert_error(400, "exec undefined");
    put("a", r#"{"exec":{"kind":"python:3","code":"x"}}"#)
        .assert_error(400, "The specified runtime 'python:3' is not supported by this platform. Valid values are: 'nodejs:20', 'nodejs:default'.");
    put("a", r#"{"exec":{"kind":"nodejs:20"}}"#).assert_error(400, "'code' must be a string defined in 'exec' for 'nodejs:20' actions");
    put("a", r#"{"exec":{"kind":"nodejs:20","code":"UEsDBAoAAAAAAA=="}}"#).assert_error(400, "base64 archive");
    put("a", r#"{"exec":{"kind":"nodejs:20","code":"function main(){}"},"parameters":{"a":1}}"#).assert_error(400, "parameters malformed!");
    put("a", r#"{"exec":{"kind":"nodejs:20","code":"function main(){}"},"limits":{"timeout":400000}}"#)
        .assert_error(400, "duration 400000 milliseconds exceeds allowed threshold of 300000 milliseconds");
    put("a", r#"{"exec":{"kind":"nodejs:20","code":"function main(){}"},"limits":{"memory":1024}}"#)
        .assert_error(400, "memory size 1024 MB exceeds allowed threshold of 512 MB");
    // A syntax error names the line and column.
    let r = put("syn", &json!({"exec": {"kind": "nodejs:20", "code": "function main() {\n  return {;\n}\n"}}).to_string());
    r.assert_error(400, "syn:2:");
    // The entry point must exist and be a function; an import failure fails the create.
    let r = put("m", &json!({"exec": {"kind": "nodejs:20", "code": "function main(){}", "main": "nope"}}).to_string());
    r.assert_error(400, "Action entrypoint 'nope' is not a function.");
    put("m", &json!({"exec": {"kind": "nodejs:20", "code": "function main(){}", "main": "a.b"}}).to_string()).assert_error(400, "'main' must name");
    put("t", &json!({"exec": {"kind": "nodejs:20", "code": "throw new Error('at import'); function main(){}"}}).to_string())
        .assert_error(400, "The action failed during initialization: ");
    call("GET", &s.api("/actions/t"), k, None).assert_error(404, "does not exist");
    // 409 and overwrite.
    assert_eq!(s.create("ok", "function main(){ return {ok: true}; }", json!({})).status, 200);
    s.create("ok", "function main(){ return {}; }", json!({})).assert_error(409, "resource already exists");
    // Invoke bodies and queries.
    s.invoke("ok", "blocking=true", "{nope").assert_error(400, "The request content was malformed:");
    s.invoke("ok", "blocking=true", "42").assert_error(400, "must be a JSON object");
    s.invoke("ok", "blocking=maybe", "{}").assert_error(400, "The query parameter 'blocking' was malformed:");
    s.invoke("ok", "blocking=true&timeout=0", "{}").assert_error(400, "Timeout must be number of milliseconds up to 60000.");
    let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(1024 * 1024));
    s.invoke("ok", "blocking=true", &big).assert_error(413, &format!("Request larger than allowed: {} > 1048576 bytes.", big.len()));
    let huge = format!(r#"{{"exec":{{"kind":"nodejs:20","code":"{}"}}}}"#, "a".repeat(20 * 1024 * 1024));
    let r = put("huge", &huge);
    r.assert_error(413, &format!("Request larger than allowed: {} > ", huge.len()));
    // The node still serves after all of that.
    let r = s.invoke("ok", "blocking=true&result=true", "{}");
    assert_eq!((r.status, r.json()), (200, json!({"ok": true})));
}

#[test]
fn failures_map_to_openwhisk_statuses() {
    let dir = scratch("statuses");
    let s = Server::start(&dir, &[]);
    let k = Some(s.key.as_str());
    let ok = |name: &str, code: &str, extra| assert_eq!(s.create(name, code, extra).status, 200, "{name}");
    ok("throws", "function main() { throw new Error('boom'); }", json!({}));
    ok("apperr", "function main() { return {error: 'sorry', other: 1}; }", json!({}));
    ok("text", "function main() { return 'not a json object'; }", json!({}));
    ok("array", "function main() { return [1, 2]; }", json!({}));
    ok("spin", "function main() { for (;;) {} }", json!({"limits": {"timeout": 300}}));
    ok("slow", "function main() { return new Promise(r => setTimeout(() => r({late: true}), 1500)); }", json!({}));
    ok("niam", "function niam(p) { return {entry: 'niam', p}; }", json!({"exec": {"main": "niam"}}));
    ok("keyed", "function main() { return {key: process.env.__OW_API_KEY}; }", json!({"annotations": [{"key": "provide-api-key", "value": true}]}));

    // 502 with the activation record for an application error; result=true gives the error alone.
    let r = s.invoke("throws", "blocking=true", "{}");
    assert_eq!(r.status, 502, "{r:?}");
    let rec = r.json();
    assert_eq!(rec["response"]["status"], "application error");
    assert_eq!(rec["response"]["success"], false);
    assert_eq!(rec["response"]["result"], json!({"error": "boom"}));
    let r = s.invoke("throws", "blocking=true&result=true", "{}");
    assert_eq!((r.status, r.json()), (502, json!({"error": "boom"})));
    let r = s.invoke("apperr", "blocking=true&result=true", "{}");
    assert_eq!((r.status, r.json()), (502, json!({"error": "sorry"})));
    // Not a dictionary: a developer error; an array passes as it is.
    let r = s.invoke("text", "blocking=true", "{}");
    assert_eq!(r.status, 502);
    assert_eq!(r.json()["response"]["status"], "action developer error");
    assert_eq!(r.json()["response"]["result"], json!({"error": "The action did not return a dictionary."}));
    let r = s.invoke("array", "blocking=true", "{}");
    assert_eq!((r.status, r.json()), (200, json!([1, 2])));
    // The time limit.
    let r = s.invoke("spin", "blocking=true", "{}");
    assert_eq!(r.status, 502);
    let rec = r.json();
    assert_eq!(rec["response"]["result"], json!({"error": "The action exceeded its time limits of 300 milliseconds."}));
    assert!(rec["annotations"].as_array().unwrap().contains(&json!({"key": "timeout", "value": true})), "{rec}");
    // The spinning clone was reset: the next call runs normally too.
    assert_eq!(s.invoke("spin", "blocking=true", "{}").status, 502);
    // limits.memory is the guest's memory: going over it ends the activation.
    ok("hungry", "function main(p) { const a = []; for (let i = 0; i < p.n; i++) a.push('x'.repeat(1000) + i); return {len: a.length}; }", json!({"limits": {"memory": 128}}));
    let r = s.invoke("hungry", "blocking=true&result=true", r#"{"n": 1000}"#);
    assert_eq!((r.status, r.json()), (200, json!({"len": 1000})));
    let r = s.invoke("hungry", "blocking=true&result=true", r#"{"n": 300000}"#);
    assert_eq!((r.status, r.json()), (502, json!({"error": "The action exhausted its memory and was aborted."})));
    // A blocking call that outlives its wait: 202, and the record comes later.
    let r = s.invoke("slow", "blocking=true&timeout=200", "{}");
    assert_eq!(r.status, 202, "{r:?}");
    let id = r.json()["activationId"].as_str().unwrap().to_owned();
    let rec = wait_for(Duration::from_secs(30), || {
        let r = call("GET", &s.api(&format!("/activations/{id}")), k, None);
        (r.status == 200).then(|| r.json())
    });
    assert_eq!(rec["response"]["result"], json!({"late": true}));
    // exec.main names the entry point; provide-api-key passes the caller's key.
    let r = s.invoke("niam", "blocking=true&result=true", r#"{"x":1}"#);
    assert_eq!(r.json(), json!({"entry": "niam", "p": {"x": 1}}));
    let r = s.invoke("keyed", "blocking=true&result=true", "{}");
    assert_eq!(r.json(), json!({"key": s.key}));
    // Every invocation is a fresh clone: module state does not carry over.
    ok("counter", "let n = 0; function main() { n += 1; globalThis.seen = (globalThis.seen || 0) + 1; return {n, seen: globalThis.seen}; }", json!({}));
    for _ in 0..4 {
        let r = s.invoke("counter", "blocking=true&result=true", "{}");
        assert_eq!(r.json(), json!({"n": 1, "seen": 1}));
    }
}

#[test]
fn namespaces_from_a_keys_file_are_isolated() {
    let dir = scratch("keys");
    let alice = "9a1b6c1e-2a37-4d7a-8b1c-0d1b2c3d4e5f:alicealicealicealicealicealicealicealicealicealicealicealice1234";
    std::fs::write(dir.join("keys"), format!("# other teams\nalice {alice}\n")).unwrap();
    let s = Server::start(&dir, &[]);
    assert_eq!(s.create("mine", "function main() { return {who: 'guest'}; }", json!({})).status, 200);
    let a = Some(alice);
    assert_eq!(call("GET", &s.url("/api/v1/namespaces"), a, None).json(), json!(["alice"]));
    assert_eq!(call("GET", &s.api("/actions"), a, None).json(), json!([]));
    call("GET", &s.api("/actions/mine"), a, None).assert_error(404, "does not exist");
    call("GET", &s.url("/api/v1/namespaces/guest/actions/mine"), a, None)
        .assert_error(403, "not authorized to access 'guest/mine'");
    let r = call("PUT", &s.url("/api/v1/namespaces/alice/actions/mine"), a, Some(r#"{"exec":{"kind":"nodejs:20","code":"function main(){ return {who: 'alice'}; }"}}"#));
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["namespace"], "alice");
    let r = call("POST", &s.api("/actions/mine?blocking=true&result=true"), a, Some("{}"));
    assert_eq!(r.json(), json!({"who": "alice"}));
    let r = s.invoke("mine", "blocking=true&result=true", "{}");
    assert_eq!(r.json(), json!({"who": "guest"}));
    let id = s.invoke("mine", "blocking=true", "{}").json()["activationId"].as_str().unwrap().to_owned();
    call("GET", &s.api(&format!("/activations/{id}")), a, None).assert_error(404, "does not exist");
}
