//! Operations endpoints: `GET /healthz` and `GET /metrics` (no authentication; they carry no
//! action names or results).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::common::json_response;
use crate::state::NodeState;

/// `GET /healthz`: 200 `{"status":"ok",...}` while serving, 503 `{"status":"draining"}` after
/// SIGTERM.
pub async fn healthz(State(node): State<Arc<NodeState>>) -> Response {
    if node.draining.load(Ordering::SeqCst) {
        return json_response(StatusCode::SERVICE_UNAVAILABLE, &json!({ "status": "draining" }));
    }
    json_response(
        StatusCode::OK,
        &json!({
            "status": "ok",
            "mode": if node.config.action_proxy { "action-proxy" } else { "rest" },
            "workers": node.config.workers,
            "actions": node.store.len(),
        }),
    )
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(node): State<Arc<NodeState>>) -> Response {
    let mut r = node.metrics.render().into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    r
}
