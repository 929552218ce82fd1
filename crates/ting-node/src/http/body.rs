//! Bounded request bodies and strict JSON parsing with clear errors.
//!
//! Axum's own extractors answer with plain-text errors; these answer in the
//! API's JSON error form, name the offending field, and refuse bodies over
//! `HTTP_BODY_BYTES_MAX` before reading them whole.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use ting_core::limits::{BODY_READ_TIMEOUT, HTTP_BODY_BYTES_MAX};

use super::error::ApiError;

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

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > HTTP_BODY_BYTES_MAX) {
            return Err(too_large());
        }
        let body: Body = req.into_body();
        let read = axum::body::to_bytes(body, HTTP_BODY_BYTES_MAX);
        let bytes = tokio::time::timeout(BODY_READ_TIMEOUT, read)
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
            })?;
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
