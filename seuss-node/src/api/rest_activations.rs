//! OpenWhisk's activations collection and the namespaces list.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::common::{authenticate, json_response, resolve_namespace, ApiError, Query};
use crate::activations::{Activation, ListFilter};
use crate::names::{check_activation_id, is_entity_name};
use crate::state::NodeState;

type Node = State<Arc<NodeState>>;

/// `GET /api/v1/namespaces`
pub async fn namespaces(State(node): Node, headers: HeaderMap) -> Result<Response, ApiError> {
    let id = authenticate(&node, &headers)?;
    Ok(json_response(StatusCode::OK, &json!([id.namespace])))
}

fn epoch(q: &Query, name: &str) -> Result<Option<u64>, ApiError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ApiError::bad_query(name, format!("Parameter is not a valid value for epoch seconds: {v}"))),
    }
}

/// `GET /api/v1/namespaces/{ns}/activations?name=&skip=&limit=&since=&upto=&docs=&count=`
pub async fn list(State(node): Node, Path(ns): Path<String>, RawQuery(q): RawQuery, headers: HeaderMap) -> Result<Response, ApiError> {
    let id = authenticate(&node, &headers)?;
    let ns = resolve_namespace(&id, &ns, None)?;
    let q = Query::parse(q.as_deref())?;
    let name = match q.get("name") {
        None => None,
        Some(n) if n.split('/').count() > 2 => {
            return Err(ApiError::bad_query("name", format!("Parameter may be a 'simple' name or 'package-name/simple' name: {n}")))
        }
        Some(n) if !n.split('/').all(is_entity_name) => {
            return Err(ApiError::bad_query("name", "The name of the entity contains illegal characters."))
        }
        Some(n) => Some(n.to_owned()),
    };
    let filter = ListFilter { name, since: epoch(&q, "since")?, upto: epoch(&q, "upto")? };
    let (docs, count) = (q.flag("docs")?, q.flag("count")?);
    if count && docs {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "The parameter 'docs' is not permitted with 'count'."));
    }
    if count {
        return Ok(json_response(StatusCode::OK, &json!({ "activations": node.activations.count(&ns, &filter) })));
    }
    let (skip, limit) = q.paging("activations")?;
    let v: Vec<Value> = node
        .activations
        .list(&ns, &filter, skip, limit)
        .iter()
        .map(|a| if docs { a.to_json(true) } else { a.to_list_entry() })
        .collect();
    Ok(json_response(StatusCode::OK, &Value::Array(v)))
}

fn find(node: &NodeState, headers: &HeaderMap, ns: &str, id: &str) -> Result<Arc<Activation>, ApiError> {
    let who = authenticate(node, headers)?;
    let ns = resolve_namespace(&who, ns, Some(id))?;
    check_activation_id(id).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))?;
    node.activations.get(&ns, id).ok_or_else(ApiError::not_found)
}

/// `GET /api/v1/namespaces/{ns}/activations/{id}`
pub async fn get(State(node): Node, Path((ns, id)): Path<(String, String)>, headers: HeaderMap) -> Result<Response, ApiError> {
    let a = find(&node, &headers, &ns, &id)?;
    Ok(json_response(StatusCode::OK, &a.to_json(true)))
}

/// `GET /api/v1/namespaces/{ns}/activations/{id}/result`
pub async fn result(State(node): Node, Path((ns, id)): Path<(String, String)>, headers: HeaderMap) -> Result<Response, ApiError> {
    let a = find(&node, &headers, &ns, &id)?;
    Ok(json_response(StatusCode::OK, &a.response_json()))
}

/// `GET /api/v1/namespaces/{ns}/activations/{id}/logs`
pub async fn logs(State(node): Node, Path((ns, id)): Path<(String, String)>, headers: HeaderMap) -> Result<Response, ApiError> {
    let a = find(&node, &headers, &ns, &id)?;
    Ok(json_response(StatusCode::OK, &json!({ "logs": a.logs })))
}
