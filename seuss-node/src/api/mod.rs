//! The HTTP API: OpenWhisk's REST subset (`/api/v1/...`) or, in action-proxy mode, OpenWhisk's
//! action-runtime protocol (`/init`, `/run`); `/healthz` and `/metrics` in both.
//!
//! | file | concern |
//! |---|---|
//! | `common.rs` | error bodies, transaction ids, body limits, queries, auth, namespaces |
//! | `rest_actions.rs` | actions: create/update, get, list, delete, invoke |
//! | `rest_activations.rs` | activations (list, get, result, logs) and namespaces |
//! | `action_proxy.rs` | `/init` and `/run` |
//! | `ops.rs` | `/healthz`, `/metrics` |

mod action_proxy;
mod common;
mod ops;
mod rest_actions;
mod rest_activations;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use crate::names::new_transaction_id;
use crate::state::NodeState;

pub use action_proxy::SENTINEL;

/// Gives every request a transaction id (`X-Request-ID`, the `code` of error bodies).
async fn transaction(req: Request, next: Next) -> Response {
    let tid = new_transaction_id();
    let mut r = common::TID.scope(tid.clone(), next.run(req)).await;
    if let Ok(v) = HeaderValue::from_str(&tid) {
        r.headers_mut().insert("x-request-id", v);
    }
    r
}

async fn not_found() -> Response {
    common::ApiError::new(StatusCode::NOT_FOUND, "The requested resource could not be found.").into_response()
}

async fn method_not_allowed() -> Response {
    common::ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "HTTP method not allowed for this resource.").into_response()
}

async fn api_info() -> Response {
    common::json_response(
        StatusCode::OK,
        &json!({
            "description": "seuss serve: the OpenWhisk REST API subset of a SEUSS node",
            "api_paths": ["/api/v1"],
            "runtimes": {"nodejs": [{"kind": crate::model::KIND, "default": true}]},
        }),
    )
}

/// The router of the mode the node was configured for.
pub fn router(node: Arc<NodeState>) -> Router {
    let ops = Router::new().route("/healthz", get(ops::healthz)).route("/metrics", get(ops::metrics));
    let app = if node.config.action_proxy {
        ops.route("/init", post(action_proxy::init)).route("/run", post(action_proxy::run)).fallback(action_proxy::other)
    } else {
        let ns = "/api/v1/namespaces/{ns}";
        ops.route("/api/v1", get(api_info))
            .route("/api/v1/", get(api_info))
            .route("/api/v1/namespaces", get(rest_activations::namespaces))
            .route(&format!("{ns}/actions"), get(rest_actions::list))
            .route(&format!("{ns}/actions/"), get(rest_actions::list))
            .route(
                &format!("{ns}/actions/{{*name}}"),
                get(rest_actions::get).put(rest_actions::put).delete(rest_actions::delete).post(rest_actions::invoke),
            )
            .route(&format!("{ns}/activations"), get(rest_activations::list))
            .route(&format!("{ns}/activations/"), get(rest_activations::list))
            .route(&format!("{ns}/activations/{{id}}"), get(rest_activations::get))
            .route(&format!("{ns}/activations/{{id}}/result"), get(rest_activations::result))
            .route(&format!("{ns}/activations/{{id}}/logs"), get(rest_activations::logs))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
    };
    app.layer(axum::middleware::from_fn(transaction)).with_state(node)
}
