//! OpenWhisk's actions collection: create/update, get, list, delete, invoke.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::common::{action_name, authenticate, json_response, read_body, resolve_namespace, ApiError, Query};
use crate::activations::{Activation, Response as ActivationResponse, Status};
use crate::auth::Identity;
use crate::config::{MAX_BLOCKING_WAIT, MAX_INVOKE_BODY, MAX_PUT_BODY};
use crate::invocation::{classify, epoch_ms, format_logs, log_lines, merge_params, with_ow_env};
use crate::metrics::{InvocationLabels, StartLabels};
use crate::model::{bump_version, merge_annotations, parse_put, ActionMeta, ExecMeta, KeyValue, PutError, KIND};
use crate::names::new_activation_id;
use crate::scheduler::{Execution, ExecError, InvokeJob, Job, Rejected};
use crate::source::{guest_source, source_hash};
use crate::state::NodeState;
use crate::store::{function_of, StoredAction};

type Node = State<Arc<NodeState>>;

/// The 429/503 of a rejected job.
pub fn rejected(r: Rejected) -> ApiError {
    match r {
        Rejected::QueueFull { max } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many requests in flight: the node's queue holds its limit of {max} invocations (--max-queue)."),
        ),
        Rejected::Namespace { count, allowed } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many concurrent requests in flight (count: {count}, allowed: {allowed})."),
        ),
        Rejected::ShuttingDown => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "The node is shutting down."),
    }
}

fn lookup(node: &NodeState, headers: &HeaderMap, ns: &str, name: &str) -> Result<(Identity, String), ApiError> {
    let id = authenticate(node, headers)?;
    let ns = resolve_namespace(&id, ns, Some(name))?;
    action_name(name)?;
    Ok((id, ns))
}

async fn code_of(a: &Arc<StoredAction>) -> Result<String, ApiError> {
    let a = a.clone();
    tokio::task::spawn_blocking(move || a.code()).await.map_err(ApiError::internal)?.map_err(ApiError::internal)
}

/// `PUT /api/v1/namespaces/{ns}/actions/{name}?overwrite=`
pub async fn put(
    State(node): Node,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (_, ns) = lookup(&node, &headers, &ns, &name)?;
    let overwrite = Query::parse(q.as_deref())?.flag("overwrite")?;
    let body = read_body(&headers, body, MAX_PUT_BODY, "Request").await?;
    let put = parse_put(&body).map_err(|e| match e {
        PutError::Malformed(m) => ApiError::malformed(m),
        PutError::Bad(m) => ApiError::new(StatusCode::BAD_REQUEST, m),
        PutError::TooLarge(m) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, m),
    })?;
    let claim = node
        .store
        .claim(&ns, &name)
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "Concurrent modification to resource detected."))?;
    let old = node.store.get(&ns, &name);
    if old.is_some() && !overwrite {
        return Err(ApiError::new(StatusCode::CONFLICT, "resource already exists"));
    }
    let (code, main) = match (&put.exec, &old) {
        (Some(e), _) => (e.code.clone(), e.main.clone()),
        (None, Some(o)) => (code_of(o).await?, o.meta.exec.main.clone()),
        (None, None) => return Err(ApiError::new(StatusCode::BAD_REQUEST, "exec undefined")),
    };
    let checked = {
        let (name, code, main) = (name.clone(), code.clone(), main.clone());
        tokio::task::spawn_blocking(move || guest_source(&name, &code, main.as_deref(), &[])).await.map_err(ApiError::internal)?
    };
    let guest = checked.map_err(|e| match e {
        crate::source::SourceError::TooLarge(_) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
        crate::source::SourceError::Syntax(s @ js_source::SourceError::Syntax { .. }) => {
            ApiError::malformed(format!("the action's code has a syntax error: {s}"))
        }
        crate::source::SourceError::Syntax(s) => ApiError::malformed(s.to_string()),
        other => ApiError::malformed(other.to_string()),
    })?;
    let hash = source_hash(&guest);
    let base_limits = old.as_ref().map(|o| o.meta.limits).unwrap_or_default();
    let meta = ActionMeta {
        namespace: ns.clone(),
        name: name.clone(),
        version: match (&put.version, &old) {
            (Some(v), _) => v.clone(),
            (None, Some(o)) => bump_version(&o.meta.version),
            (None, None) => "0.0.1".into(),
        },
        publish: false,
        exec: ExecMeta { kind: KIND.into(), main },
        parameters: match (put.parameters, &old) {
            (Some(p), _) => p,
            (None, Some(o)) => o.meta.parameters.clone(),
            (None, None) => Vec::new(),
        },
        limits: put.limits.map(|l| l.over(base_limits)).unwrap_or(base_limits),
        annotations: merge_annotations(
            old.as_ref().map(|o| o.meta.annotations.as_slice()).unwrap_or_default(),
            put.annotations.as_deref(),
            &put.del_annotations,
            old.is_none(),
        ),
        updated: epoch_ms(SystemTime::now()),
        source_hash: hash.clone(),
    };
    crate::store::allow_net_of(&meta).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e))?;
    let dir = node.store.dir_of(&ns, &name);
    let old_hash = old.as_ref().map(|o| o.meta.source_hash.clone());
    {
        let (node, dir, hash, code) = (node.clone(), dir.clone(), hash.clone(), code.clone());
        tokio::task::spawn_blocking(move || node.store.write_code(&dir, &hash, &code))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    }
    let function = Arc::new(function_of(&meta, &dir));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let prepared = node.scheduler.submit(Job::Prepare {
        function: function.clone(),
        done: Box::new(move |r| {
            let _ = tx.send(r);
        }),
    });
    let outcome = match prepared {
        Ok(()) => rx.await.unwrap_or(Err(ExecError::Cancelled)),
        Err(r) => {
            node.store.discard(&dir, &hash, old_hash.as_deref());
            return Err(rejected(r));
        }
    };
    if let Err(e) = outcome {
        node.store.discard(&dir, &hash, old_hash.as_deref());
        return Err(match e {
            ExecError::Import(msg) => {
                ApiError::new(StatusCode::BAD_REQUEST, format!("The action failed during initialization: {msg}"))
            }
            other => ApiError::internal(other),
        });
    }
    let committed = {
        let node2 = node.clone();
        let f = function.clone();
        tokio::task::spawn_blocking(move || {
            let claim = claim;
            node2.store.commit(&claim, meta, f)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?
    };
    if let Some(o) = &old {
        if o.meta.source_hash != hash {
            if let Some(id) = o.function.current() {
                node.scheduler.shared().cache.remove(&id);
            }
        }
    }
    node.metrics.actions.set(node.store.len() as i64);
    Ok(json_response(StatusCode::OK, &committed.meta.to_json(Some(&code))))
}

/// `GET /api/v1/namespaces/{ns}/actions/{name}?code=`
pub async fn get(
    State(node): Node,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, ns) = lookup(&node, &headers, &ns, &name)?;
    let q = Query::parse(q.as_deref())?;
    let with_code = q.get("code").is_none() || q.flag("code")?;
    let a = node.store.get(&ns, &name).ok_or_else(ApiError::not_found)?;
    let code = if with_code { Some(code_of(&a).await?) } else { None };
    Ok(json_response(StatusCode::OK, &a.meta.to_json(code.as_deref())))
}

/// `DELETE /api/v1/namespaces/{ns}/actions/{name}`
pub async fn delete(State(node): Node, Path((ns, name)): Path<(String, String)>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (_, ns) = lookup(&node, &headers, &ns, &name)?;
    let a = node.store.get(&ns, &name).ok_or_else(ApiError::not_found)?;
    let code = code_of(&a).await?;
    let node2 = node.clone();
    let gone = tokio::task::spawn_blocking(move || {
        let claim = node2
            .store
            .claim(&ns, &name)
            .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "Concurrent modification to resource detected."))?;
        node2.store.delete(&claim, &ns, &name).map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)??;
    let a = gone.ok_or_else(ApiError::not_found)?;
    if let Some(id) = a.function.current() {
        node.scheduler.shared().cache.remove(&id);
    }
    node.metrics.actions.set(node.store.len() as i64);
    Ok(json_response(StatusCode::OK, &a.meta.to_json(Some(&code))))
}

/// `GET /api/v1/namespaces/{ns}/actions?skip=&limit=&count=`
pub async fn list(State(node): Node, Path(ns): Path<String>, RawQuery(q): RawQuery, headers: HeaderMap) -> Result<Response, ApiError> {
    let id = authenticate(&node, &headers)?;
    let ns = resolve_namespace(&id, &ns, None)?;
    let q = Query::parse(q.as_deref())?;
    let all = node.store.list(&ns);
    if q.flag("count")? {
        return Ok(json_response(StatusCode::OK, &json!({ "actions": all.len() })));
    }
    let (skip, limit) = q.paging("actions")?;
    let v: Vec<Value> = all.iter().skip(skip).take(limit).map(|a| a.meta.to_list_entry()).collect();
    Ok(json_response(StatusCode::OK, &Value::Array(v)))
}

/// Builds the activation record of an execution.
fn record(meta: &ActionMeta, id: &Identity, activation_id: &str, exec: &Execution) -> Activation {
    let c = classify(exec, meta.limits.timeout);
    let lines = log_lines(exec, c.note.as_deref());
    let logs = format_logs(&lines, exec.ended, (meta.limits.logs * 1024 * 1024) as usize);
    let mut annotations = vec![
        KeyValue { key: "limits".into(), value: json!(meta.limits) },
        KeyValue { key: "path".into(), value: json!(format!("{}/{}", meta.namespace, meta.name)) },
        KeyValue { key: "kind".into(), value: json!(meta.exec.kind) },
        KeyValue { key: "timeout".into(), value: json!(c.timed_out) },
        KeyValue { key: "waitTime".into(), value: json!(exec.wait.as_millis() as u64) },
        KeyValue { key: "startKind".into(), value: json!(exec.start.as_str()) },
    ];
    if !matches!(exec.start, crate::scheduler::StartKind::Hot | crate::scheduler::StartKind::None) {
        annotations.push(KeyValue { key: "initTime".into(), value: json!(exec.init.as_millis() as u64) });
    }
    Activation {
        namespace: meta.namespace.clone(),
        name: meta.name.clone(),
        version: meta.version.clone(),
        subject: id.namespace.clone(),
        activation_id: activation_id.to_owned(),
        start: epoch_ms(exec.started),
        end: epoch_ms(exec.ended),
        response: ActivationResponse { status: c.status, result: c.result },
        logs,
        annotations,
    }
}

/// The HTTP status of a finished blocking invoke.
fn status_of(s: Status) -> StatusCode {
    match s {
        Status::Success => StatusCode::OK,
        Status::ApplicationError | Status::DeveloperError => StatusCode::BAD_GATEWAY,
        Status::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn with_activation_header(mut r: Response, id: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(id) {
        r.headers_mut().insert("x-openwhisk-activation-id", v);
    }
    r
}

/// `POST /api/v1/namespaces/{ns}/actions/{name}?blocking=&result=&timeout=`
pub async fn invoke(
    State(node): Node,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let accepted = Instant::now();
    let (id, ns) = lookup(&node, &headers, &ns, &name)?;
    let action = node.store.get(&ns, &name).ok_or_else(ApiError::not_found)?;
    let q = Query::parse(q.as_deref())?;
    let blocking = q.flag("blocking")?;
    let result_only = q.flag("result")?;
    let wait = match q.get("timeout") {
        None => MAX_BLOCKING_WAIT,
        Some(v) => match v.parse::<u64>() {
            Ok(ms) if ms > 0 && ms <= MAX_BLOCKING_WAIT.as_millis() as u64 => Duration::from_millis(ms),
            _ => return Err(ApiError::bad_query("timeout", "Timeout must be number of milliseconds up to 60000.")),
        },
    };
    let body = read_body(&headers, body, MAX_INVOKE_BODY, "Request").await?;
    let payload: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::malformed(format!("the parameters are not valid JSON: {e}")))?
    };
    if !payload.is_object() && !payload.is_array() {
        return Err(ApiError::malformed("the parameters must be a JSON object (or an array)"));
    }
    let meta = action.meta.clone();
    let activation_id = new_activation_id();
    let deadline = epoch_ms(SystemTime::now()) + meta.limits.timeout;
    let mut env = vec![
        ("__OW_ACTIVATION_ID".to_owned(), activation_id.clone()),
        ("__OW_ACTION_NAME".to_owned(), format!("/{}/{}", meta.namespace, meta.name)),
        ("__OW_ACTION_VERSION".to_owned(), meta.version.clone()),
        ("__OW_NAMESPACE".to_owned(), meta.namespace.clone()),
        ("__OW_DEADLINE".to_owned(), deadline.to_string()),
        ("__OW_API_HOST".to_owned(), node.api_host.clone()),
        ("__OW_TRANSACTION_ID".to_owned(), super::common::tid()),
    ];
    if meta.annotation("provide-api-key") == Some(&json!(true)) {
        env.push(("__OW_API_KEY".to_owned(), id.api_key.clone()));
    }
    let args = with_ow_env(merge_params(&meta.parameters, payload), &env).to_string();
    if args.len() > seuss_hv::MAX_PAYLOAD {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request larger than allowed: {} > {} bytes.", args.len(), seuss_hv::MAX_PAYLOAD),
        ));
    }
    let permit = node.scheduler.permit(&ns).map_err(rejected)?;
    let (tx, rx) = tokio::sync::oneshot::channel::<Arc<Activation>>();
    let span = tracing::debug_span!("activation", id = %activation_id, action = %format!("{ns}/{name}"), start = tracing::field::Empty);
    let done = {
        let (node, meta, id, activation_id) = (node.clone(), meta.clone(), id.clone(), activation_id.clone());
        Box::new(move |exec: Execution| {
            let rec = Arc::new(record(&meta, &id, &activation_id, &exec));
            let start = exec.start.as_str();
            node.metrics.invocations.get_or_create(&InvocationLabels { start, status: rec.response.status.label() }).inc();
            node.metrics.latency.get_or_create(&StartLabels { start }).observe(accepted.elapsed().as_secs_f64());
            node.activations.insert((*rec).clone());
            let _ = tx.send(rec);
        })
    };
    let job = InvokeJob {
        function: action.function.clone(),
        args,
        timeout: Duration::from_millis(meta.limits.timeout),
        span,
        done,
        permit: Some(permit),
    };
    node.scheduler.submit(Job::Invoke(Box::new(job))).map_err(rejected)?;
    let accepted_body = || json_response(StatusCode::ACCEPTED, &json!({ "activationId": activation_id }));
    if !blocking {
        return Ok(with_activation_header(accepted_body(), &activation_id));
    }
    let rec = match tokio::time::timeout(wait, rx).await {
        Ok(Ok(rec)) => rec,
        Ok(Err(_)) => return Err(ApiError::internal("the worker dropped the activation")),
        Err(_) => return Ok(with_activation_header(accepted_body(), &activation_id)),
    };
    let status = status_of(rec.response.status);
    let body = if result_only || rec.response.result.is_array() { rec.response.result.clone() } else { rec.to_json(false) };
    Ok(with_activation_header(json_response(status, &body), &activation_id))
}
