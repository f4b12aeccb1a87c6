//! OpenWhisk's action entity as this node stores and returns it, and the checks of an
//! action's create/update body (`WhiskActionPut`) with OpenWhisk's messages.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::config::MAX_PARAMETERS;

/// The kind every action runs as (Boa in our unikernel, with OpenWhisk's Node.js contract).
pub const KIND: &str = "nodejs:20";
/// Kinds a create may name (`nodejs:default` resolves to [`KIND`]).
pub const KINDS: &[&str] = &["nodejs:20", "nodejs:default"];

/// A `{"key": ..., "value": ...}` pair (parameters and annotations).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// Any JSON value.
    pub value: Value,
}

/// An action's limits (OpenWhisk units: ms, MB, MB, count).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Wall-clock limit of one invocation in milliseconds (100..=300000, default 60000).
    pub timeout: u64,
    /// Guest memory in MB (128..=512, default 256): the guest gets exactly this much RAM
    /// (rounded up to 2 MiB).
    pub memory: u64,
    /// Log bytes kept per activation in MB (0..=10, default 10).
    pub logs: u64,
    /// Concurrent activations per instance (always 1: every activation gets its own clone).
    pub concurrency: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self { timeout: 60_000, memory: 256, logs: 10, concurrency: 1 }
    }
}

/// The `exec` of an action as stored (the code itself lives in its own file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecMeta {
    /// Always [`KIND`].
    pub kind: String,
    /// The entry point, if not `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main: Option<String>,
}

/// An action's metadata: OpenWhisk's entity without its code, plus what the store needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionMeta {
    /// The namespace (resolved, never `_`).
    pub namespace: String,
    /// The name.
    pub name: String,
    /// Semantic version, `0.0.1` on create, patch bumped on every update.
    pub version: String,
    /// Always false here (no sharing between namespaces).
    pub publish: bool,
    /// Kind and entry point.
    pub exec: ExecMeta,
    /// Default parameters (the invocation's parameters override them).
    pub parameters: Vec<KeyValue>,
    /// Limits.
    pub limits: Limits,
    /// Annotations.
    pub annotations: Vec<KeyValue>,
    /// Last update, epoch milliseconds.
    pub updated: u64,
    /// Hash of the guest source (code with the node's glue), hex: names the code and
    /// function-snapshot files and verifies them on load.
    pub source_hash: String,
}

impl ActionMeta {
    /// The OpenWhisk JSON of the action; `code` is included when given.
    pub fn to_json(&self, code: Option<&str>) -> Value {
        let mut exec = Map::new();
        exec.insert("kind".into(), json!(self.exec.kind));
        if let Some(code) = code {
            exec.insert("code".into(), json!(code));
        }
        if let Some(main) = &self.exec.main {
            exec.insert("main".into(), json!(main));
        }
        exec.insert("binary".into(), json!(false));
        json!({
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "exec": exec,
            "parameters": self.parameters,
            "limits": self.limits,
            "publish": self.publish,
            "annotations": self.annotations,
            "updated": self.updated,
        })
    }

    /// The summary entry of an action list (no code, no parameters).
    pub fn to_list_entry(&self) -> Value {
        json!({
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "publish": self.publish,
            "annotations": self.annotations,
            "limits": self.limits,
            "exec": {"binary": false},
            "updated": self.updated,
        })
    }

    /// Value of annotation `key`.
    pub fn annotation(&self, key: &str) -> Option<&Value> {
        self.annotations.iter().find(|a| a.key == key).map(|a| &a.value)
    }
}

/// Why a create/update body is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutError {
    /// 400, shown as `The request content was malformed:\n<detail>` (OpenWhisk's rejection).
    Malformed(String),
    /// 400 with exactly this message (e.g. `exec undefined`).
    Bad(String),
    /// 413 with this message.
    TooLarge(String),
}

/// The parsed fields of a create/update body; `None` means absent (an update keeps the old).
#[derive(Debug, Default)]
pub struct ActionPut {
    /// `exec`: code and entry point.
    pub exec: Option<ExecPut>,
    /// `parameters`.
    pub parameters: Option<Vec<KeyValue>>,
    /// `limits`, each field optional.
    pub limits: Option<LimitsPut>,
    /// `annotations`.
    pub annotations: Option<Vec<KeyValue>>,
    /// `delAnnotations`.
    pub del_annotations: Vec<String>,
    /// `version`.
    pub version: Option<String>,
}

/// The `exec` of a create/update body.
#[derive(Debug, Clone)]
pub struct ExecPut {
    /// The source.
    pub code: String,
    /// The entry point, if given and not empty.
    pub main: Option<String>,
}

/// The `limits` of a create/update body.
#[derive(Debug, Default, Clone, Copy)]
pub struct LimitsPut {
    /// ms.
    pub timeout: Option<u64>,
    /// MB.
    pub memory: Option<u64>,
    /// MB.
    pub logs: Option<u64>,
    /// count.
    pub concurrency: Option<u64>,
}

impl LimitsPut {
    /// These limits over `base` (the defaults on create, the old limits on update).
    pub fn over(&self, base: Limits) -> Limits {
        Limits {
            timeout: self.timeout.unwrap_or(base.timeout),
            memory: self.memory.unwrap_or(base.memory),
            logs: self.logs.unwrap_or(base.logs),
            concurrency: self.concurrency.unwrap_or(base.concurrency),
        }
    }
}

fn malformed(s: impl Into<String>) -> PutError {
    PutError::Malformed(s.into())
}

/// Parses and checks a create/update body (a JSON object; empty means `{}`).
pub fn parse_put(body: &[u8]) -> Result<ActionPut, PutError> {
    let v: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).map_err(|e| malformed(format!("the body is not valid JSON: {e}")))?
    };
    let Value::Object(o) = v else { return Err(malformed("the body must be a JSON object")) };
    let mut put = ActionPut::default();
    if let Some(exec) = o.get("exec").filter(|e| !e.is_null()) {
        put.exec = Some(parse_exec(exec)?);
    }
    if let Some(p) = o.get("parameters").filter(|p| !p.is_null()) {
        put.parameters = Some(key_values(p, "parameters")?);
    }
    if let Some(a) = o.get("annotations").filter(|a| !a.is_null()) {
        put.annotations = Some(key_values(a, "annotations")?);
    }
    if let Some(d) = o.get("delAnnotations").filter(|d| !d.is_null()) {
        let list = d.as_array().ok_or_else(|| malformed("'delAnnotations' must be an array of strings"))?;
        for k in list {
            put.del_annotations.push(k.as_str().ok_or_else(|| malformed("'delAnnotations' must be an array of strings"))?.to_owned());
        }
    }
    if let Some(l) = o.get("limits").filter(|l| !l.is_null()) {
        put.limits = Some(parse_limits(l)?);
    }
    if let Some(v) = o.get("version").filter(|v| !v.is_null()) {
        let s = v.as_str().ok_or_else(|| malformed("'version' must be a string such as \"0.0.1\""))?;
        parse_semver(s).ok_or_else(|| malformed(format!("'version' {s:?} is not a semantic version such as \"0.0.1\"")))?;
        put.version = Some(s.to_owned());
    }
    Ok(put)
}

fn parse_exec(exec: &Value) -> Result<ExecPut, PutError> {
    let Value::Object(e) = exec else { return Err(malformed("'exec' must be an object")) };
    let kind = e.get("kind").and_then(Value::as_str).ok_or_else(|| malformed("'kind' must be a string defined in 'exec'"))?;
    let kind = kind.trim().to_lowercase();
    if kind == "sequence" || kind == "blackbox" {
        return Err(malformed(format!(
            "'{kind}' actions are not supported by this node; supported kinds: {}",
            quoted(KINDS)
        )));
    }
    if !KINDS.contains(&kind.as_str()) {
        return Err(malformed(format!(
            "The specified runtime '{kind}' is not supported by this platform. Valid values are: {}.",
            quoted(KINDS)
        )));
    }
    let code = e
        .get("code")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed(format!("'code' must be a string defined in 'exec' for '{kind}' actions")))?;
    if is_binary_code(code) {
        return Err(malformed(
            "'code' looks like a base64 archive (zip or tar.gz): this node runs single-file JavaScript actions; send the source text",
        ));
    }
    if code.len() > seuss_hv::MAX_SOURCE {
        return Err(PutError::TooLarge(format!("exec larger than allowed: {} > {} bytes.", code.len(), seuss_hv::MAX_SOURCE)));
    }
    let main = match e.get("main") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) if m.is_empty() => None,
        Some(Value::String(m)) => Some(m.clone()),
        Some(_) => return Err(malformed("'main' must be a string in 'exec'")),
    };
    Ok(ExecPut { code: code.to_owned(), main })
}

fn quoted(list: &[&str]) -> String {
    list.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ")
}

/// OpenWhisk's test for base64 archives: non-empty after trimming, a multiple of 4 long, and
/// only base64 characters with at most two `=` at the end.
pub fn is_binary_code(code: &str) -> bool {
    let t = code.trim();
    if t.is_empty() || !t.len().is_multiple_of(4) {
        return false;
    }
    let body = t.trim_end_matches('=');
    t.len() - body.len() <= 2 && body.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

fn key_values(v: &Value, field: &str) -> Result<Vec<KeyValue>, PutError> {
    let size = v.to_string().len();
    if size > MAX_PARAMETERS {
        return Err(PutError::TooLarge(format!("{field} larger than allowed: {size} > {MAX_PARAMETERS} bytes.")));
    }
    let list = v.as_array().ok_or_else(|| malformed(format!("{field} malformed!")))?;
    let mut out: Vec<KeyValue> = Vec::with_capacity(list.len());
    for item in list {
        let key = item.get("key").and_then(Value::as_str).ok_or_else(|| malformed(format!("{field} malformed!")))?;
        let value = item.get("value").cloned().unwrap_or(Value::Null);
        // A later pair with the same key wins, as OpenWhisk's map does.
        out.retain(|kv| kv.key != key);
        out.push(KeyValue { key: key.to_owned(), value });
    }
    Ok(out)
}

fn parse_limits(v: &Value) -> Result<LimitsPut, PutError> {
    let Value::Object(l) = v else { return Err(malformed("'limits' must be an object")) };
    let num = |name: &str| -> Result<Option<u64>, PutError> {
        match l.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x.as_u64().map(Some).ok_or_else(|| malformed(format!("'limits.{name}' must be a non-negative integer"))),
        }
    };
    let put = LimitsPut { timeout: num("timeout")?, memory: num("memory")?, logs: num("logs")?, concurrency: num("concurrency")? };
    if let Some(t) = put.timeout {
        range(t, 100, 300_000, |t, lim, dir| format!("duration {t} milliseconds {dir} allowed threshold of {lim} milliseconds"))?;
    }
    if let Some(m) = put.memory {
        range(m, 128, 512, |m, lim, dir| format!("memory size {m} MB {dir} allowed threshold of {lim} MB"))?;
    }
    if let Some(g) = put.logs {
        range(g, 0, 10, |g, lim, dir| format!("log size {g} MB {dir} allowed threshold of {lim} MB"))?;
    }
    if let Some(c) = put.concurrency {
        range(c, 1, 1, |c, lim, dir| format!("concurrency {c} {dir} allowed threshold of {lim}"))?;
    }
    Ok(put)
}

fn range(v: u64, lo: u64, hi: u64, msg: impl Fn(u64, u64, &str) -> String) -> Result<(), PutError> {
    if v > hi {
        return Err(malformed(msg(v, hi, "exceeds")));
    }
    if v < lo {
        return Err(malformed(msg(v, lo, "below")));
    }
    Ok(())
}

/// `major.minor.patch`.
pub fn parse_semver(s: &str) -> Option<(u64, u64, u64)> {
    let mut it = s.split('.').map(|p| p.parse::<u64>().ok());
    let v = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(v)
}

/// The version after an update: the patch number bumped.
pub fn bump_version(s: &str) -> String {
    let (a, b, c) = parse_semver(s).unwrap_or((0, 0, 0));
    format!("{a}.{b}.{}", c + 1)
}

/// Annotations after a create or update: `old` with `new` merged over it, `del` removed, and
/// the server's own (`exec`, and on create `provide-api-key` unless given).
pub fn merge_annotations(old: &[KeyValue], new: Option<&[KeyValue]>, del: &[String], create: bool) -> Vec<KeyValue> {
    let mut out: Vec<KeyValue> = old.to_vec();
    for kv in new.unwrap_or_default() {
        out.retain(|o| o.key != kv.key);
        out.push(kv.clone());
    }
    out.retain(|o| !del.contains(&o.key));
    if create && !out.iter().any(|o| o.key == "provide-api-key") {
        out.push(KeyValue { key: "provide-api-key".into(), value: json!(false) });
    }
    out.retain(|o| o.key != "exec");
    out.push(KeyValue { key: "exec".into(), value: json!(KIND) });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_bodies_are_checked_with_openwhisk_messages() {
        let ok = parse_put(br#"{"exec":{"kind":"nodejs:default","code":"function main(){}"},"parameters":[{"key":"a","value":1}],"limits":{"timeout":3000}}"#).unwrap();
        assert_eq!(ok.exec.unwrap().code, "function main(){}");
        assert_eq!(ok.limits.unwrap().over(Limits::default()).timeout, 3000);
        let e = parse_put(br#"{"exec":{"kind":"python:3","code":"x"}}"#).unwrap_err();
        assert!(matches!(&e, PutError::Malformed(m) if m.starts_with("The specified runtime 'python:3' is not supported")), "{e:?}");
        assert_eq!(parse_put(br#"{"exec":{"code":"x"}}"#).unwrap_err(), malformed("'kind' must be a string defined in 'exec'"));
        assert_eq!(parse_put(br#"{"parameters":{"a":1}}"#).unwrap_err(), malformed("parameters malformed!"));
        let e = parse_put(br#"{"limits":{"timeout":400000}}"#).unwrap_err();
        assert_eq!(e, malformed("duration 400000 milliseconds exceeds allowed threshold of 300000 milliseconds"));
        let e = parse_put(br#"{"limits":{"memory":64}}"#).unwrap_err();
        assert_eq!(e, malformed("memory size 64 MB below allowed threshold of 128 MB"));
        assert!(matches!(parse_put(b"{bad").unwrap_err(), PutError::Malformed(_)));
        assert!(matches!(parse_put(b"[1]").unwrap_err(), PutError::Malformed(_)));
        assert!(matches!(parse_put(br#"{"exec":{"kind":"nodejs:20","code":"UEsDBA=="}}"#).unwrap_err(), PutError::Malformed(m) if m.contains("base64")));
    }

    #[test]
    fn versions_and_annotations_follow_openwhisk() {
        assert_eq!(bump_version("0.0.1"), "0.0.2");
        assert_eq!(parse_semver("1.2"), None);
        let a = merge_annotations(&[], Some(&[KeyValue { key: "web".into(), value: json!(true) }]), &[], true);
        let keys: Vec<_> = a.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, ["web", "provide-api-key", "exec"]);
        let b = merge_annotations(&a, None, &["web".into()], false);
        assert_eq!(b.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(), ["provide-api-key", "exec"]);
    }

    #[test]
    fn binary_code_is_recognised_like_openwhisk() {
        assert!(is_binary_code("UEsDBA=="));
        assert!(!is_binary_code("function main() {}"));
        assert!(!is_binary_code(""));
    }
}
