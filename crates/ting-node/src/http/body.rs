//! Bounded request bodies and strict JSON parsing with clear errors.
//!
//! Axum's own extractors answer with plain-text errors; these answer in the
//! API's JSON error form, name the offending field, and refuse bodies over
//! `HTTP_BODY_BYTES_MAX` before reading them whole. The edge reads every body
//! ([`buffered`]) before the request may take a handler's permit.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::{Body, Bytes, HttpBody as _};
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use ting_core::limits::{BODY_READ_TIMEOUT, HTTP_BODIES_READING_MAX, HTTP_BODY_BYTES_MAX};

use super::error::ApiError;
use crate::node::Shared;

/// The raw body, at most `HTTP_BODY_BYTES_MAX` bytes, with its content type.
#[derive(Debug)]
pub struct RawBody {
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the request body is over {HTTP_BODY_BYTES_MAX} bytes; split the batch"),
    )
}

/// The length a request declares in `Content-Length`, if it does.
fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Reads `body` whole: at most `HTTP_BODY_BYTES_MAX` bytes, within
/// `BODY_READ_TIMEOUT` in all (however slowly it trickles in).
async fn read_bounded(body: Body) -> Result<Bytes, ApiError> {
    let read = axum::body::to_bytes(body, HTTP_BODY_BYTES_MAX);
    tokio::time::timeout(BODY_READ_TIMEOUT, read)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the request body did not arrive within {} s",
                    BODY_READ_TIMEOUT.as_secs()
                ),
            )
        })?
        .map_err(|e| {
            let over_limit = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if over_limit {
                too_large()
            } else {
                ApiError::bad_request(
                    "bad_body",
                    format!("the request body could not be read: {e}"),
                )
            }
        })
}

/// `req` with its body read whole into memory, before the request takes one
/// of the `HTTP_REQUESTS_MAX` permits: a client sending its body slowly then
/// holds only one of the `HTTP_BODIES_READING_MAX` reading places (and one of
/// its source's requests), never a place a handler needs. A request without a
/// body passes as it is.
pub(super) async fn buffered(s: &Shared, req: Request) -> Result<Request, ApiError> {
    if req.body().is_end_stream() {
        return Ok(req);
    }
    if declared_length(req.headers()).is_some_and(|n| n > HTTP_BODY_BYTES_MAX) {
        return Err(too_large());
    }
    let Ok(_reading) = Arc::clone(&s.http_sources.bodies_reading).try_acquire_owned() else {
        s.metrics.busy.fetch_add(1, Ordering::Relaxed);
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!(
                "the node is reading {HTTP_BODIES_READING_MAX} request bodies, as many as it \
                 allows at once; retry shortly"
            ),
        ));
    };
    let (parts, body) = req.into_parts();
    let bytes = read_bounded(body).await?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    /// The body is in memory already when the edge read it ([`buffered`]);
    /// the same bounds apply either way.
    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if declared_length(req.headers()).is_some_and(|n| n > HTTP_BODY_BYTES_MAX) {
            return Err(too_large());
        }
        let bytes = read_bounded(req.into_body()).await?;
        Ok(RawBody {
            content_type,
            bytes,
        })
    }
}

/// Parses JSON strictly; syntax errors and shape errors get distinct codes.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
            }
            Category::Data => {
                ApiError::bad_request("invalid_field", format!("the JSON does not fit: {e}"))
            }
        }
    })
}
