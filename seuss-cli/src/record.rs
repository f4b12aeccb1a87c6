//! Machine-readable records: `--output json` prints one JSON object per invocation on stdout,
//! never mixed with the guest's console (which goes to stderr).

use std::time::Duration;

use serde_json::{json, Value};

/// How results are printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// The result JSON alone, one line per invocation.
    #[default]
    Text,
    /// One JSON record per invocation: result, error flag, start kind, latency, pages.
    Json,
}

/// One invocation, as `--output json` prints it.
pub struct Record<'a> {
    /// The result text (one JSON value), if any.
    pub result: Option<&'a str>,
    /// Whether it is an error result.
    pub is_error: bool,
    /// cold / hot.
    pub start: &'static str,
    /// From the start of the invocation (or the boot, when cold) to the result.
    pub latency: Duration,
    /// Pages the instance touched and wrote during it (hot starts; `None` if not measured).
    pub pages: Option<(u64, u64)>,
    /// Extra fields (timings of a cold start).
    pub extra: Value,
}

impl Record<'_> {
    /// The record as one line of JSON.
    pub fn to_line(&self) -> String {
        let result: Value = self.result.and_then(|r| serde_json::from_str(r).ok()).unwrap_or(Value::Null);
        let mut v = json!({
            "result": result,
            "error": self.is_error,
            "start": self.start,
            "latency_us": self.latency.as_micros() as u64,
        });
        if let Some((touched, written)) = self.pages {
            v["pages_touched"] = json!(touched);
            v["pages_written"] = json!(written);
        }
        if let (Value::Object(m), Value::Object(extra)) = (&mut v, &self.extra) {
            m.extend(extra.clone());
        }
        v.to_string()
    }
}

/// `{"error": msg}`: the line printed for an invocation that produced no result.
pub fn error_line(msg: &str) -> String {
    json!({ "error": msg }).to_string()
}
