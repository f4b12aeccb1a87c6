//! Activation records: what an invocation returned, its logs and timings, kept in memory with
//! bounded retention (a count and a byte budget; the oldest go first) and persisted to
//! `STATE/activations.jsonl` when the node drains (reloaded, within the same bounds, at start).

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::metrics::Metrics;
use crate::model::KeyValue;

/// OpenWhisk's activation statuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// 0.
    #[serde(rename = "success")]
    Success,
    /// 1: the function returned or threw an error.
    #[serde(rename = "application error")]
    ApplicationError,
    /// 2: timeout, crash, no valid result, import failure.
    #[serde(rename = "action developer error")]
    DeveloperError,
    /// 3: the node failed.
    #[serde(rename = "whisk internal error")]
    InternalError,
}

impl Status {
    /// `response.statusCode`.
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::ApplicationError => 1,
            Status::DeveloperError => 2,
            Status::InternalError => 3,
        }
    }

    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::ApplicationError => "application_error",
            Status::DeveloperError => "developer_error",
            Status::InternalError => "internal_error",
        }
    }
}

/// An activation's response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Status.
    pub status: Status,
    /// The result (a dictionary or an array; `{"error": ...}` for errors).
    pub result: Value,
}

/// One activation record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Activation {
    /// The invoker's namespace.
    pub namespace: String,
    /// The action's name.
    pub name: String,
    /// The action's version.
    pub version: String,
    /// The caller.
    pub subject: String,
    /// 32 hex digits.
    pub activation_id: String,
    /// Epoch ms.
    pub start: u64,
    /// Epoch ms.
    pub end: u64,
    /// Response.
    pub response: Response,
    /// `TIMESTAMP STREAM: LINE`.
    pub logs: Vec<String>,
    /// limits, path, kind, timeout, initTime, waitTime, startKind.
    pub annotations: Vec<KeyValue>,
}

impl Activation {
    /// OpenWhisk's `response` object.
    pub fn response_json(&self) -> Value {
        let size = self.response.result.to_string().chars().count();
        json!({
            "status": self.response.status,
            "statusCode": self.response.status.code(),
            "success": self.response.status == Status::Success,
            "result": self.response.result,
            "size": size,
        })
    }

    /// The full record; `logs` only when `with_logs` (a blocking invoke answers without them).
    pub fn to_json(&self, with_logs: bool) -> Value {
        json!({
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "subject": self.subject,
            "activationId": self.activation_id,
            "start": self.start,
            "end": self.end,
            "duration": self.end.saturating_sub(self.start),
            "statusCode": self.response.status.code(),
            "response": self.response_json(),
            "logs": if with_logs { json!(self.logs) } else { json!([]) },
            "annotations": self.annotations,
            "publish": false,
        })
    }

    /// The summary entry of an activation list.
    pub fn to_list_entry(&self) -> Value {
        json!({
            "namespace": self.namespace,
            "name": self.name,
            "version": self.version,
            "publish": false,
            "annotations": self.annotations,
            "activationId": self.activation_id,
            "start": self.start,
            "end": self.end,
            "duration": self.end.saturating_sub(self.start),
            "statusCode": self.response.status.code(),
        })
    }

    /// The `path` annotation (`namespace/name`).
    pub fn path(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn bytes(&self) -> usize {
        self.logs.iter().map(|l| l.len() + 16).sum::<usize>() + self.response.result.to_string().len() + 512
    }
}

/// Filters of an activation list.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    /// Action name.
    pub name: Option<String>,
    /// `start >= since`.
    pub since: Option<u64>,
    /// `start <= upto`.
    pub upto: Option<u64>,
}

struct Inner {
    by_id: HashMap<String, Arc<Activation>>,
    order: VecDeque<String>,
    bytes: usize,
}

/// See the module docs.
pub struct ActivationStore {
    inner: Mutex<Inner>,
    max_count: usize,
    max_bytes: usize,
    metrics: Arc<Metrics>,
}

impl ActivationStore {
    /// An empty store keeping at most `max_count` records and `max_bytes` of results and logs.
    pub fn new(max_count: usize, max_bytes: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            inner: Mutex::new(Inner { by_id: HashMap::new(), order: VecDeque::new(), bytes: 0 }),
            max_count: max_count.max(1),
            max_bytes,
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps `a`, dropping the oldest records beyond the bounds.
    pub fn insert(&self, a: Activation) {
        let mut inner = self.lock();
        inner.bytes += a.bytes();
        inner.order.push_back(a.activation_id.clone());
        inner.by_id.insert(a.activation_id.clone(), Arc::new(a));
        while inner.order.len() > self.max_count || (inner.bytes > self.max_bytes && inner.order.len() > 1) {
            let Some(old) = inner.order.pop_front() else { break };
            if let Some(gone) = inner.by_id.remove(&old) {
                inner.bytes -= gone.bytes();
            }
        }
        self.metrics.activations_stored.set(inner.order.len() as i64);
    }

    /// The record `id` of `namespace`.
    pub fn get(&self, namespace: &str, id: &str) -> Option<Arc<Activation>> {
        self.lock().by_id.get(id).filter(|a| a.namespace == namespace).cloned()
    }

    /// Records of `namespace`, newest first, after `skip`, at most `limit`.
    pub fn list(&self, namespace: &str, filter: &ListFilter, skip: usize, limit: usize) -> Vec<Arc<Activation>> {
        self.matching(namespace, filter).skip(skip).take(limit).collect()
    }

    /// How many records of `namespace` match.
    pub fn count(&self, namespace: &str, filter: &ListFilter) -> usize {
        self.matching(namespace, filter).count()
    }

    fn matching(&self, namespace: &str, f: &ListFilter) -> std::vec::IntoIter<Arc<Activation>> {
        let inner = self.lock();
        let v: Vec<Arc<Activation>> = inner
            .order
            .iter()
            .rev()
            .filter_map(|id| inner.by_id.get(id))
            .filter(|a| a.namespace == namespace)
            .filter(|a| f.name.as_deref().is_none_or(|n| a.name == n))
            .filter(|a| f.since.is_none_or(|s| a.start >= s))
            .filter(|a| f.upto.is_none_or(|u| a.start <= u))
            .cloned()
            .collect();
        v.into_iter()
    }

    /// Writes every record, oldest first, as JSON lines to `path` (atomically).
    pub fn persist(&self, path: &Path) -> std::io::Result<usize> {
        let records: Vec<Arc<Activation>> = {
            let inner = self.lock();
            inner.order.iter().filter_map(|id| inner.by_id.get(id).cloned()).collect()
        };
        let tmp = path.with_extension("jsonl.tmp");
        let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        for a in &records {
            serde_json::to_writer(&mut w, a.as_ref())?;
            w.write_all(b"\n")?;
        }
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(records.len())
    }

    /// Reads records persisted by [`persist`](Self::persist); lines that do not parse are
    /// skipped (and counted in the returned pair: loaded, skipped).
    pub fn load(&self, path: &Path) -> std::io::Result<(usize, usize)> {
        let f = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(e) => return Err(e),
        };
        let (mut ok, mut bad) = (0, 0);
        for line in std::io::BufReader::new(f).lines() {
            match serde_json::from_str::<Activation>(&line?) {
                Ok(a) => {
                    self.insert(a);
                    ok += 1;
                }
                Err(_) => bad += 1,
            }
        }
        Ok((ok, bad))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(ns: &str, i: u64, log: &str) -> Activation {
        Activation {
            namespace: ns.into(),
            name: format!("a{}", i % 2),
            version: "0.0.1".into(),
            subject: ns.into(),
            activation_id: format!("{i:032x}"),
            start: i,
            end: i + 1,
            response: Response { status: Status::Success, result: json!({"i": i}) },
            logs: vec![log.into()],
            annotations: vec![],
        }
    }

    #[test]
    fn retention_is_bounded_and_lists_are_newest_first_per_namespace() {
        let s = ActivationStore::new(3, usize::MAX, Arc::new(Metrics::default()));
        for i in 0..5 {
            s.insert(record("guest", i, "x"));
        }
        s.insert(record("other", 9, "x"));
        let l = s.list("guest", &ListFilter::default(), 0, 10);
        assert_eq!(l.iter().map(|a| a.start).collect::<Vec<_>>(), [4, 3]);
        assert!(s.get("guest", &format!("{:032x}", 0)).is_none());
        assert!(s.get("guest", &format!("{:032x}", 9)).is_none(), "other namespaces' records are invisible");
        let by_bytes = ActivationStore::new(100, 3000, Arc::new(Metrics::default()));
        for i in 0..10 {
            by_bytes.insert(record("guest", i, &"y".repeat(1000)));
        }
        assert!(by_bytes.count("guest", &ListFilter::default()) <= 2);
        let f = ListFilter { name: Some("a1".into()), ..Default::default() };
        assert!(by_bytes.list("guest", &f, 0, 10).iter().all(|a| a.name == "a1"));
    }

    #[test]
    fn records_survive_persist_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let s = ActivationStore::new(10, usize::MAX, Arc::new(Metrics::default()));
        s.insert(record("guest", 1, "hello"));
        let p = dir.path().join("activations.jsonl");
        assert_eq!(s.persist(&p).unwrap(), 1);
        let t = ActivationStore::new(10, usize::MAX, Arc::new(Metrics::default()));
        assert_eq!(t.load(&p).unwrap(), (1, 0));
        assert_eq!(*t.get("guest", &format!("{:032x}", 1)).unwrap(), record("guest", 1, "hello"));
    }
}
