//! The guest source of an action: the user's code plus the node's glue, checked on the host.
//!
//! ```text
//! [init env prefix;] <code> [\n<entry point glue>]
//! ```
//!
//! * **Init env** (action-proxy `/init` `env`): `Object.assign(process.env, {...});` is put in
//!   front of the code *on its first line*, so line numbers in errors stay the user's and
//!   module-level code sees the values (OpenWhisk exports them before loading the code). A
//!   leading `"use strict"` directive is repeated in front, so the code stays strict.
//! * **Entry point** (`exec.main` other than `main`): a line after the code stores the named
//!   function in `globalThis.__seuss_main`, which the launcher's prelude prefers over its
//!   usual search. The name is resolved as OpenWhisk's Node.js runtime does: a binding of that
//!   name, else `module.exports[name]`, else `exports[name]`; anything else fails the import
//!   with OpenWhisk's message `Action entrypoint 'NAME' is not a function.`

use serde_json::Value;

/// Why a source is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The entry point name is not a JavaScript identifier.
    #[error("'main' must name a JavaScript function (an identifier such as \"main\" or \"handler\"), not {0:?}")]
    BadMain(String),
    /// A syntax error (line and column of the user's code).
    #[error("{0}")]
    Syntax(#[from] js_source::SourceError),
    /// Code and glue together are over the guest's source limit.
    #[error("the action's source is {0} bytes with the node's glue, over the {max} byte limit", max = seuss_hv::MAX_SOURCE)]
    TooLarge(usize),
}

/// Words that cannot name a binding.
const RESERVED: &[&str] = &[
    "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else",
    "enum", "export", "extends", "false", "finally", "for", "function", "if", "import", "in", "instanceof", "let",
    "new", "null", "return", "static", "super", "switch", "this", "throw", "true", "try", "typeof", "var", "void",
    "while", "with", "yield", "implements", "interface", "package", "private", "protected", "public", "arguments",
    "eval",
];

fn is_identifier(s: &str) -> bool {
    if RESERVED.contains(&s) {
        return false;
    }
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_' || f == '$')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == '$')
}

/// The guest source for `code` (named `name` in syntax errors) with entry point `main` and the
/// init `env`. The code is checked first, so errors name the user's own line and column.
pub fn guest_source(name: &str, code: &str, main: Option<&str>, env: &[(String, String)]) -> Result<String, SourceError> {
    if let Some(m) = main {
        if !is_identifier(m) {
            return Err(SourceError::BadMain(m.to_owned()));
        }
    }
    // A named entry point other than `main` is found by the glue below, not by the launcher's
    // usual search: only the syntax is the user's to get right.
    match main {
        Some(m) if m != "main" => js_source::check_syntax(name, code)?,
        _ => js_source::check(name, code)?,
    }
    let out = assemble(code, main, env);
    if out.len() > seuss_hv::MAX_SOURCE {
        return Err(SourceError::TooLarge(out.len()));
    }
    // The glue is ours; a failure here would be our bug, reported as a syntax error all the same.
    if out.len() != code.len() {
        js_source::check_syntax(name, &out)?;
    }
    Ok(out)
}

/// Code and glue put together, without checks: for code that [`guest_source`] accepted
/// before (the store recomputes the hash and the warm path's input with it).
pub fn assemble(code: &str, main: Option<&str>, env: &[(String, String)]) -> String {
    let mut out = String::with_capacity(code.len() + 256);
    if !env.is_empty() {
        let t = code.trim_start();
        if t.starts_with("'use strict'") || t.starts_with("\"use strict\"") {
            out.push_str("\"use strict\";");
        }
        let obj: serde_json::Map<String, Value> = env.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        out.push_str(&format!("Object.assign(process.env, {});", Value::Object(obj)));
    }
    out.push_str(code);
    if let Some(m) = main.filter(|m| *m != "main") {
        out.push_str(&format!(
            "\n;globalThis.__seuss_main = (typeof {m} === 'function') ? {m} \
             : (typeof module !== 'undefined' && module.exports && typeof module.exports.{m} === 'function') ? module.exports.{m} \
             : (typeof exports !== 'undefined' && exports && typeof exports.{m} === 'function') ? exports.{m} \
             : (() => {{ throw new Error(\"Action entrypoint '{m}' is not a function.\"); }})();\n"
        ));
    }
    out
}

/// Hash naming a guest source's files: 32 hex digits of xxh3-128.
pub fn source_hash(guest: &str) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(guest.as_bytes()))
}

/// OpenWhisk's conversion of an init `env` value to text: strings as they are, other falsy
/// values (`null`, `0`, `false`) as `""`, other scalars as their text, objects and arrays as JSON.
pub fn env_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null | Value::Bool(false) => String::new(),
        Value::Number(n) if n.as_f64() == Some(0.0) => String::new(),
        Value::Bool(true) => "true".into(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glue_keeps_the_users_lines_and_checks_names() {
        let g = guest_source("a", "function niam(p) { return p }", Some("niam"), &[]).unwrap();
        assert!(g.starts_with("function niam(p) { return p }\n;globalThis.__seuss_main"));
        assert_eq!(guest_source("a", "function main() {}", Some("main"), &[]).unwrap(), "function main() {}");
        assert!(matches!(guest_source("a", "x", Some("a.b"), &[]), Err(SourceError::BadMain(_))));
        // Without a named entry point the code must define `main` itself.
        assert!(matches!(
            guest_source("a", "x", None, &[]),
            Err(SourceError::Syntax(js_source::SourceError::NoMain { .. }))
        ));
        let e = guest_source("act", "function main() {\n  return {;\n}", None, &[]).unwrap_err();
        assert!(e.to_string().starts_with("act:2:"), "{e}");
        let env = [("K".to_owned(), "v\"".to_owned())];
        let g = guest_source("a", "'use strict'; const k = process.env.K; function main() { return {k} }", None, &env).unwrap();
        assert!(g.starts_with(r#""use strict";Object.assign(process.env, {"K":"v\""});'use strict';"#), "{g}");
        assert!(!g.contains('\n'));
    }

    #[test]
    fn env_values_convert_like_openwhisk() {
        assert_eq!(env_text(&serde_json::json!("x")), "x");
        assert_eq!(env_text(&serde_json::json!(0)), "");
        assert_eq!(env_text(&serde_json::json!(false)), "");
        assert_eq!(env_text(&serde_json::json!(null)), "");
        assert_eq!(env_text(&serde_json::json!(5)), "5");
        assert_eq!(env_text(&serde_json::json!({"a":1})), r#"{"a":1}"#);
    }
}
