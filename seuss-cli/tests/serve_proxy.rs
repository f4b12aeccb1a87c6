//! `seuss serve --action-proxy`: OpenWhisk's action-runtime protocol, with the inputs and
//! expectations of openwhisk-runtime-nodejs's container tests (BasicActionRunnerTests B*,
//! NodeJsActionContainerTests N*); each test is its own "container" (a node process), and
//! stdout/stderr are checked as OpenWhisk's `checkStreams` does (sentinels counted, then
//! removed and the rest trimmed). Differences by design are noted where they apply.

mod serve_support;

use serde_json::{json, Value};
use serve_support::*;

fn init(s: &Server, code: &str, main: &str, env: Value) -> Reply {
    let body = json!({"value": {"code": code, "main": main, "binary": false, "env": env}});
    call("POST", &s.url("/init"), None, Some(&body.to_string()))
}

fn run(s: &Server, body: Value) -> Reply {
    call("POST", &s.url("/run"), None, Some(&body.to_string()))
}

fn container(tag: &str) -> Server {
    Server::proxy(&scratch(tag), &[])
}

#[test]
fn init_refusals_b1_b2_b4_and_run_before_init() {
    let s = container("b1");
    let r = run(&s, json!({"value": {}}));
    assert_eq!((r.status, r.json()), (403, json!({"error": "System not initialized."})));
    let r = call("POST", &s.url("/init"), None, Some(r#"{"value":{"code":"","main":"","binary":false,"env":null}}"#));
    assert_eq!((r.status, r.json()), (403, json!({"error": "Missing main/no code to execute."})));
    let r = call("POST", &s.url("/init"), None, Some("{}"));
    assert_eq!((r.status, r.json()), (403, json!({"error": "Missing main/no code to execute."})));
    // B4: a second init fails, no sentinel.
    assert_eq!(init(&s, "function main(args) { return args; }", "main", Value::Null).status, 200);
    let r = init(&s, "function main(args) { return args; }", "main", Value::Null);
    assert_eq!((r.status, r.json()), (403, json!({"error": "Cannot initialize the action more than once."})));
    wait_for(std::time::Duration::from_secs(10), || {
        let (o, e) = s.streams();
        format!("{o}{e}").contains("Cannot initialize the action more than once.").then_some(())
    });
    assert_eq!(s.sentinels(), (0, 0));
    // Bad requests: the Node.js runtime's 500.
    let r = call("POST", &s.url("/run"), None, Some("{not json"));
    assert_eq!((r.status, r.json()), (500, json!({"error": "Bad request."})));
    let r = call("GET", &s.url("/nothing"), None, None);
    assert_eq!((r.status, r.json()), (500, json!({"error": "Bad request."})));
    let r = run(&s, json!({"value": 5}));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "Internal system error: the argument must be a dictionary but has type 'number'.");
    assert_eq!(s.sentinels(), (0, 0));
}

#[test]
fn echo_runs_with_logs_and_sentinels_b6_b7() {
    let s = container("b6");
    let code = "function main(args) { console.log('hello stdout'); console.error('hello stderr'); return args; }";
    assert_eq!(init(&s, code, "main", Value::Null).json(), json!({"OK": true}));
    let values = [json!({"string": "hello"}), json!({"string": "❄ ☃ ❄"}), json!({"numbers": [42, 1]}), json!({"object": {"a": "A"}})];
    for v in &values {
        let r = run(&s, json!({ "value": v }));
        assert_eq!((r.status, r.json()), (200, v.clone()));
    }
    assert_eq!(s.wait_sentinels(4), (4, 4));
    let (o, e) = s.streams();
    assert_eq!(o.lines().filter(|l| *l == "hello stdout").count(), 4, "{o}");
    assert_eq!(e.lines().filter(|l| *l == "hello stderr").count(), 4, "{e}");

    let u = container("b7");
    let code = "function main(args) { var str = args.delimiter + ' ☃ ' + args.delimiter; console.log(str); return {winter: str}; }";
    assert_eq!(init(&u, code, "main", Value::Null).status, 200);
    let r = run(&u, json!({"value": {"delimiter": "❄"}}));
    assert_eq!(r.json(), json!({"winter": "❄ ☃ ❄"}));
    assert_eq!(u.wait_sentinels(1), (1, 1));
    assert_eq!(u.streams().0, "❄ ☃ ❄");
}

#[test]
fn entry_points_b5_n8_n9_n10() {
    for (tag, code, main) in [
        ("b5", "function niam(args) { return args; }", "niam"),
        ("n8", "function foo(args) { return args; } global.main = foo;", "main"),
        ("n9", "exports.main = function (args) { return args; }", "main"),
        ("n10", "module.exports.main = function (args) { return args; }", "main"),
    ] {
        let s = container(tag);
        assert_eq!(init(&s, code, main, Value::Null).status, 200, "{tag}");
        let r = run(&s, json!({"value": {"string": "hello"}}));
        assert_eq!((r.status, r.json()), (200, json!({"string": "hello"})), "{tag}");
        assert_eq!(s.wait_sentinels(1), (1, 1), "{tag}");
        assert_eq!(s.streams(), (String::new(), String::new()), "{tag}");
    }
}

#[test]
fn environment_b8_b9() {
    let s = container("b8");
    let code = "const someVar = process.env.SOME_VAR; const anotherVar = process.env.ANOTHER_VAR;\n\
                function main(args) { return {SOME_VAR: someVar, ANOTHER_VAR: anotherVar}; }";
    assert_eq!(init(&s, code, "main", json!({"SOME_VAR": "xyz", "ANOTHER_VAR": ""})).status, 200);
    let r = run(&s, json!({"value": {}}));
    assert_eq!((r.status, r.json()), (200, json!({"SOME_VAR": "xyz", "ANOTHER_VAR": ""})));

    let t = Server::proxy(&scratch("b9"), &[("__OW_API_HOST", "xyz")]);
    let code = "function main(args) { var env = process.env; return {api_host: env.__OW_API_HOST, api_key: env.__OW_API_KEY, \
                namespace: env.__OW_NAMESPACE, action_name: env.__OW_ACTION_NAME, action_version: env.__OW_ACTION_VERSION, \
                activation_id: env.__OW_ACTIVATION_ID, deadline: env.__OW_DEADLINE}; }";
    assert_eq!(init(&t, code, "main", Value::Null).status, 200);
    let far = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 60_000).to_string();
    let r = run(&t, json!({"value": {}, "api_key": "abc", "namespace": "zzz", "action_name": "xxx", "action_version": "0.0.1", "activation_id": "iii", "deadline": far}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"api_host": "xyz", "api_key": "abc", "namespace": "zzz", "action_name": "xxx", "action_version": "0.0.1", "activation_id": "iii", "deadline": far}));
    // Per run only: a run without the fields does not see the last run's values.
    let r = run(&t, json!({"value": {}}));
    assert_eq!(r.json(), json!({"api_host": "xyz"}));
    assert_eq!(t.wait_sentinels(2), (2, 2));
    assert_eq!(t.streams(), (String::new(), String::new()));
}

#[test]
fn results_and_errors_b3_n3_n4_n5_n14() {
    let s = container("b3");
    assert_eq!(init(&s, "function main(args) { return 'not a json object'; }", "main", Value::Null).status, 200);
    let r = run(&s, json!({}));
    assert_eq!((r.status, r.json()), (502, json!({"error": "The action did not return a dictionary."})));
    assert_eq!(s.wait_sentinels(1), (1, 1));
    assert_eq!(s.streams().0, "");
    assert!(s.streams().1.contains("Result must be of type object but has type \"string\""), "{:?}", s.streams());
    // The container stays usable.
    assert_eq!(run(&s, json!({})).status, 502);

    // N3: a thrown error. Node.js answers 502 and stops; every run here is a fresh clone, so
    // the error is an application error (200 with `error`) and the container goes on.
    let t = container("n3");
    assert_eq!(init(&t, "function main(args) { throw 'nooooo'; }", "main", Value::Null).status, 200);
    let r = run(&t, json!({}));
    assert!(r.json()["error"].as_str().unwrap().contains("nooooo"), "{r:?}");
    assert_eq!(run(&t, json!({})).json(), r.json());

    // N4, N5: application errors and the documentation examples.
    let u = container("n5");
    let code = "function main(args) { if (args.payload == 0) { return; } else if (args.payload == 1) { return {payload: 'Hello, World!'}; } else if (args.payload == 2) { return {error: 'payload must be 0 or 1'}; } }";
    assert_eq!(init(&u, code, "main", Value::Null).status, 200);
    assert_eq!(run(&u, json!({"value": {"payload": 0}})).json(), json!({}));
    assert_eq!(run(&u, json!({"value": {"payload": 1}})).json(), json!({"payload": "Hello, World!"}));
    let r = run(&u, json!({"value": {"payload": 2}}));
    assert_eq!((r.status, r.json()), (200, json!({"error": "payload must be 0 or 1"})));
    assert_eq!(u.wait_sentinels(3), (3, 3));
    assert_eq!(u.streams(), (String::new(), String::new()));

    // N6, N13, N14: promises.
    let p = container("n14");
    let code = "function main(args) { if (args.reject) { return new Promise((_, reject) => setTimeout(() => reject({done: true}), 100)); } \
                if (args.payload) { return new Promise(resolve => setTimeout(() => resolve({done: true}), 100)); } return {done: true}; }";
    assert_eq!(init(&p, code, "main", Value::Null).status, 200);
    assert_eq!(run(&p, json!({"value": {}})).json(), json!({"done": true}));
    assert_eq!(run(&p, json!({"value": {"payload": true}})).json(), json!({"done": true}));
    let r = run(&p, json!({"value": {"reject": true}}));
    assert_eq!(r.status, 200);
    assert!(r.json().get("error").is_some(), "{r:?}");
    assert_eq!(p.wait_sentinels(3), (3, 3));
}

#[test]
fn failed_init_n1_and_unsupported_archives() {
    let s = container("n1");
    let r = init(&s, "10 PRINT \"Hello world!\"\n20 GOTO 10", "main", Value::Null);
    assert_eq!(r.status, 502, "{r:?}");
    assert!(r.json()["error"].as_str().unwrap().starts_with("Initialization has failed due to: "), "{r:?}");
    assert_eq!(s.wait_sentinels(1), (1, 1));
    let (o, e) = s.streams();
    let logs = format!("{o}\n{e}").to_lowercase();
    assert!(logs.contains("error") && logs.contains("syntax"), "{logs}");
    // Stopped: later requests are refused without sentinels.
    let r = init(&s, "function main() { return {}; }", "main", Value::Null);
    assert_eq!((r.status, r.json()), (403, json!({"error": "System not ready, status is stopped."})));
    assert_eq!(run(&s, json!({})).status, 403);
    assert_eq!(s.sentinels(), (1, 1));

    // An import failure (the entry point is missing) and a base64 archive (N22) fail the same way.
    let t = container("entry");
    let r = init(&t, "function main() { return {}; }", "missing", Value::Null);
    assert_eq!(r.status, 502);
    assert!(r.json()["error"].as_str().unwrap().contains("Action entrypoint 'missing' is not a function."), "{r:?}");
    let z = container("n22");
    let r = call("POST", &z.url("/init"), None, Some(r#"{"value":{"code":"Q2VjaSBuJ2VzdCBwYXMgdW4gemlwLgo=","main":"main","binary":true}}"#));
    assert_eq!(r.status, 502);
    assert_eq!(z.wait_sentinels(1), (1, 1));
    assert!(z.streams().1.to_lowercase().contains("error"));
}

#[test]
fn every_run_is_a_fresh_clone_and_large_input_echoes_b10() {
    let s = container("fresh");
    let code = "let count = 0; function main(args) { count += 1; globalThis.leak = (globalThis.leak || 0) + 1; \
                process.env.MINE = 'set'; return {count, leak: globalThis.leak, arg: args.arg, mine: process.env.MINE === undefined}; }";
    assert_eq!(init(&s, code, "main", Value::Null).status, 200);
    for _ in 0..5 {
        let r = run(&s, json!({"value": {}}));
        assert_eq!(r.json(), json!({"count": 1, "leak": 1, "mine": false}));
    }
    // B10 asks for 1,048,561 characters; the guest's args limit (1 MiB, with the run's
    // __OW_* values) leaves a little less room.
    let big = "a".repeat(1_000_000);
    let r = run(&s, json!({"value": {"arg": big}}));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["arg"].as_str().map(str::len), Some(1_000_000));
    let too_big = "a".repeat(1_100_000);
    assert_eq!(run(&s, json!({"value": {"arg": too_big}})).status, 413);
    assert_eq!(s.wait_sentinels(7), (7, 7));
}
