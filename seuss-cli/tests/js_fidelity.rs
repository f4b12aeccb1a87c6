//! JavaScript fidelity (issue 10): the engine bugs fixed by the Boa patch against Node.js,
//! the launcher's globals against their specifications (the way test262's propertyHelper.js
//! checks builtins), and functions that attack the result path. Functions run in the
//! unikernel under our hypervisor (`seuss run`).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

fn function(name: &str) -> PathBuf {
    root().join("seuss-cli/tests/js").join(name)
}

/// Builds `tests/js/NAME` and runs it with `args`; stdout and the exit status.
fn run_function(name: &str, args: &str) -> (String, Option<i32>) {
    let dir = root().join("target/js-fidelity");
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join(format!("{name}.img"));
    let built = build_image(&function(name), &img);
    assert!(built.status.success(), "build-image {name}: {}", stderr(&built));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seuss"));
    cmd.args(["run", &img.display().to_string(), "--args", args]);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(120));
    (stdout(&out).trim_end().to_owned(), out.status.code())
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[test]
fn exponentiation_is_correctly_rounded_and_agrees_with_node_where_node_is() {
    let (ours, code) = run_function("pow.js", "{}");
    assert_eq!(code, Some(0), "{ours}");
    let mut cmd = Command::new("node");
    cmd.arg(root().join("seuss-cli/node/pow_check.mjs")).stdin(std::process::Stdio::piped());
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().expect("node");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), ours.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "pow_check.mjs failed");
    let report = json_of(&stdout(&out));
    let ours = json_of(&ours);
    // `10 ** -k === 1e-k` for every k in 0..=330 where Node says so.
    assert_eq!(report["tenNegMissing"], json!([]), "{report}");
    assert!(report["oursTenNegTrue"].as_u64() >= report["nodeTenNegTrue"].as_u64(), "{report}");
    // Every result is the correctly rounded power, so it equals Node's wherever Node's is.
    assert_eq!(report["oursNotCorrect"], json!([]), "{report}");
    assert_eq!(report["differsWhereNodeCorrect"], json!([]), "{report}");
    // `**` and Math.pow agree bit for bit (as in Node).
    assert_eq!(report["opVsFn"], json!([]), "{report}");
    assert!(report["cases"].as_u64().unwrap() > 9000, "{report}");
    assert_eq!(ours["nanPow"], json!(true), "1 ** NaN is NaN");
    assert_eq!(ours["tiny"], json!(5e-324), "2 ** -1074 is the smallest subnormal");
}

#[test]
fn number_formatting_dates_and_json_parse_match_node() {
    let (ours, code) = run_function("formatting.js", "{}");
    let reference = node(&function("formatting.js"), "{}");
    assert_eq!(code, Some(0), "{ours}");
    assert_eq!(ours, last_line(&reference));
    let v = json_of(&ours);
    assert_eq!(v["toPrecision"][0], json!("1.000000000000e-300"));
    assert_eq!(v["toExponential"][0], json!("3e+1"));
    assert_eq!(v["dates"][0], json!("Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"));
}

/// What a global's specification says: data property attributes and, for functions,
/// `length`, `name` and whether it is a constructor.
fn spec(enumerable: bool, length: u64, name: &str, constructor: bool) -> Value {
    json!({ "enumerable": enumerable, "configurable": true, "writable": true, "type": "function",
            "length": length, "name": name, "constructor": constructor,
            "lengthDesc": format!(r#"{{"value":{length},"writable":false,"enumerable":false,"configurable":true}}"#),
            "nameDesc": format!(r#"{{"value":"{name}","writable":false,"enumerable":false,"configurable":true}}"#) })
}

#[test]
fn globals_have_the_attributes_length_name_and_constructor_behaviour_of_their_specs() {
    let (ours, code) = run_function("builtins.js", "{}");
    assert_eq!(code, Some(0), "{ours}");
    let v = json_of(&ours);
    // WebIDL operations of the HTML timers and WindowOrWorkerGlobalScope: enumerable methods,
    // length = required arguments, not constructors.
    let operations = [
        ("setTimeout", 1), ("setInterval", 1), ("clearTimeout", 0), ("clearInterval", 0),
        ("queueMicrotask", 1), ("structuredClone", 1), ("atob", 1), ("btoa", 1),
    ];
    for (name, length) in operations {
        assert_eq!(v[name], spec(true, length, name, false), "{name}");
    }
    // Interface objects: not enumerable; TextDecoder's arguments are optional.
    assert_eq!(v["TextEncoder"], spec(false, 0, "TextEncoder", true));
    assert_eq!(v["TextDecoder"], spec(false, 0, "TextDecoder", true));
    assert_eq!(v["Crypto"], spec(false, 0, "Crypto", true));
    assert_eq!(v["Performance"], spec(false, 0, "Performance", true));
    // `crypto` is a readonly attribute, `performance` a [Replaceable] one: accessors.
    assert_eq!(v["crypto"]["get"], json!("function"));
    assert_eq!(v["crypto"]["set"], json!("undefined"));
    assert_eq!(v["crypto"]["name"], json!("get crypto"));
    assert_eq!(v["performance"]["get"], json!("function"));
    assert_eq!(v["performance"]["set"], json!("function"));
    assert_eq!(v["crypto"]["enumerable"], json!(true));
    // Operations on the interfaces' prototypes.
    assert_eq!(v["Crypto.prototype.getRandomValues"], spec(true, 1, "getRandomValues", false));
    assert_eq!(v["Crypto.prototype.randomUUID"], spec(true, 0, "randomUUID", false));
    assert_eq!(v["Performance.prototype.now"], spec(true, 0, "now", false));
    assert_eq!(v["Performance.prototype.toJSON"], spec(true, 0, "toJSON", false));
    assert_eq!(v["Performance.prototype.timeOrigin"]["get"], json!("function"));
    assert_eq!(v["cryptoTag"], json!("[object Crypto]"));
    assert_eq!(v["perfTag"], json!("[object Performance]"));
    // ECMAScript's Math.random: not a constructor; `new Math.random()` throws a TypeError.
    assert_eq!(v["Math.random"], spec(false, 0, "random", false));
    assert_eq!(v["newRandom"], json!("TypeError"));
    // WHATWG console: Node.js implements it as specified, so Node is the reference here.
    let reference = json_of(&last_line(&node(&function("builtins.js"), "{}")));
    for key in ["console", "console.log", "console.error", "console.warn", "console.info", "console.debug", "Math.random", "newRandom"] {
        assert_eq!(v[key], reference[key], "{key} differs from Node.js");
    }
}

#[test]
fn replaced_or_deleted_builtins_cannot_forge_or_break_the_result() {
    let (ours, code) = run_function("hostile.js", "{}");
    assert_eq!(code, Some(0), "{ours}");
    assert_eq!(ours, r#"{"ok":true,"probes":{"seussGlobals":[]}}"#, "the launcher's helpers are not reachable");
    let (ours, code) = run_function("hostile.js", r#"{"mode":"delete"}"#);
    assert_eq!((ours.as_str(), code), (r#"{"ok":true,"probes":{"seussGlobals":[]}}"#, Some(0)));
    let (ours, code) = run_function("hostile.js", r#"{"mode":"throw"}"#);
    assert_eq!((ours.as_str(), code), (r#"{"error":"still reported"}"#, Some(1)));
    let (ours, code) = run_function("hostile.js", r#"{"mode":"reject"}"#);
    assert_eq!((ours.as_str(), code), (r#"{"error":"rejection reported"}"#, Some(1)));
}

#[test]
fn json_nested_deeper_than_the_parser_can_go_is_a_syntax_error_not_a_crash() {
    let (ours, code) = run_function("deep_json.js", "{}");
    assert_eq!(code, Some(0), "{ours}");
    assert_eq!(ours, r#"{"depth128":"parsed","depth5000":"SyntaxError"}"#);
}
