//! What every handler shares: OpenWhisk's error body, the transaction id, bodies with size
//! limits, query flags, authentication and namespace resolution.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::auth::{AuthError, Identity};
use crate::names::{check_entity_name, is_entity_name, new_transaction_id};
use crate::state::NodeState;

tokio::task_local! {
    /// The transaction id of the request being handled (`X-Request-ID`, the `code` of errors).
    pub static TID: String;
}

/// The current transaction id (a fresh one outside a request).
pub fn tid() -> String {
    TID.try_with(Clone::clone).unwrap_or_else(|_| new_transaction_id())
}

/// An error answered as OpenWhisk does: `{"error": message, "code": transaction id}`.
#[derive(Debug)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// The message.
    pub message: String,
    /// Extra headers.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), headers: Vec::new() }
    }

    /// 400 with OpenWhisk's rejection prefix.
    pub fn malformed(detail: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, format!("The request content was malformed:\n{detail}"))
    }

    /// 400 for a bad query parameter.
    pub fn bad_query(name: &str, detail: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, format!("The query parameter '{name}' was malformed:\n{detail}"))
    }

    /// 404 of a missing entity.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "The requested resource does not exist.")
    }

    /// 500.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("There was an internal server error: {detail}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = json_response(self.status, &json!({ "error": self.message, "code": tid() }));
        for (k, v) in self.headers {
            r.headers_mut().insert(k, v);
        }
        r
    }
}

/// A JSON response (`Content-Type: application/json`, with a `Content-Length`).
pub fn json_response(status: StatusCode, v: &Value) -> Response {
    let body = serde_json::to_vec(v).expect("a JSON value serialises");
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// How far past its limit a body is still read (and thrown away) before the 413 is sent, so
/// that a client that writes its whole request before reading gets the answer instead of a
/// broken pipe. Larger bodies are refused at once.
const DRAIN_BEYOND_LIMIT: u64 = 16 * 1024 * 1024;

/// Reads a body of at most `limit` bytes; beyond it, 413 `"<what> larger than allowed: X > limit bytes."`.
pub async fn read_body(headers: &HeaderMap, body: Body, limit: usize, what: &str) -> Result<axum::body::Bytes, ApiError> {
    use http_body_util::BodyExt;
    let too_large = |n: String| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("{what} larger than allowed: {n} > {limit} bytes."));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > limit as u64 + DRAIN_BEYOND_LIMIT) {
        return Err(too_large(n.to_string()));
    }
    let mut body = body;
    let mut buf = Vec::with_capacity(declared.unwrap_or(0).min(limit as u64) as usize);
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("The request body could not be read: {e}")))?;
        let Ok(data) = frame.into_data() else { continue };
        total += data.len() as u64;
        if total <= limit as u64 {
            buf.extend_from_slice(&data);
        } else if total > limit as u64 + DRAIN_BEYOND_LIMIT {
            return Err(too_large(format!("more than {total}")));
        }
    }
    if total > limit as u64 {
        return Err(too_large(total.to_string()));
    }
    Ok(buf.into())
}

/// Parsed query parameters (a bare `?` is an empty query).
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Parses a raw query string.
    pub fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let raw = raw.unwrap_or("");
        serde_urlencoded::from_str::<Vec<(String, String)>>(raw)
            .map(Query)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("The query string is malformed: {e}")))
    }

    /// The last value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`true`/`false`, default false).
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.get(name) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") || v.is_empty() => Ok(false),
            Some(v) => Err(ApiError::bad_query(name, format!("'{v}' is not a valid Boolean value"))),
        }
    }

    /// An integer parameter in `lo..=hi`.
    pub fn int(&self, name: &str, lo: u64, hi: u64, what: &str) -> Result<Option<u64>, ApiError> {
        let Some(v) = self.get(name) else { return Ok(None) };
        let n: i128 = v.parse().map_err(|_| ApiError::bad_query(name, format!("The value '{v}' is not an integer for {what}.")))?;
        if n < lo as i128 {
            return Err(ApiError::bad_query(name, format!("The value '{v}' is not greater than or equal to {lo} for {what}.")));
        }
        if n > hi as i128 {
            return Err(ApiError::bad_query(name, format!("The value '{v}' is not in the range of {lo} to {hi} for {what}.")));
        }
        Ok(Some(n as u64))
    }

    /// `skip` and `limit` of a list (limit: default 30, at most 200, 0 meaning 200).
    pub fn paging(&self, what: &str) -> Result<(usize, usize), ApiError> {
        let skip = self.int("skip", 0, u32::MAX as u64, what)?.unwrap_or(0) as usize;
        let limit = match self.int("limit", 0, 200, what)?.unwrap_or(30) {
            0 => 200,
            n => n,
        };
        Ok((skip, limit as usize))
    }
}

/// Authenticates the request's `Authorization` header.
pub fn authenticate(node: &NodeState, headers: &HeaderMap) -> Result<Identity, ApiError> {
    node.keys.check(headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes)).map_err(|e| {
        let msg = match e {
            AuthError::Missing => "The resource requires authentication, which was not supplied with the request",
            AuthError::Invalid => "The supplied authentication is invalid",
        };
        let mut err = ApiError::new(StatusCode::UNAUTHORIZED, msg);
        err.headers.push((header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"OpenWhisk secure realm\"")));
        err
    })
}

/// The namespace `ns` of a URL resolved for `id` (`_` is the caller's own); `what` names the
/// resource in the 403 message.
pub fn resolve_namespace(id: &Identity, ns: &str, what: Option<&str>) -> Result<String, ApiError> {
    if ns == "_" || ns == id.namespace {
        return Ok(id.namespace.clone());
    }
    if !is_entity_name(ns) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "The namespace contains illegal characters."));
    }
    let res = match what {
        Some(name) => format!("{ns}/{name}"),
        None => ns.to_owned(),
    };
    Err(ApiError::new(StatusCode::FORBIDDEN, format!("The supplied authentication is not authorized to access '{res}'.")))
}

/// Checks an action name from the URL (one segment: this node has no packages).
pub fn action_name(name: &str) -> Result<(), ApiError> {
    if name.contains('/') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("'{name}' names an action in a package; this node has no packages: use a plain action name"),
        ));
    }
    check_entity_name(name).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m))
}
