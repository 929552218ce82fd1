//! The API's one error type and its JSON form.
//!
//! Every failure becomes `{"error": {"code": ..., "message": ...}}` with a
//! stable code and a 4xx (the client's input) or 5xx (the node's state)
//! status, in this one place; internals never leak into messages.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use ting_core::Hash32;

use crate::pipeline::{Refusal, SubmitError};

/// An error answer: status, stable code, a message a person can act on.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub tx_hash: Option<Hash32>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            tx_hash: None,
        }
    }

    /// The client's input is malformed.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// The node could not do its part (storage); logged, not detailed to the client.
    pub fn internal(what: &str, error: impl std::fmt::Display) -> ApiError {
        tracing::error!(%error, "{what}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("the node failed to {what}; see its log"),
        )
    }

    /// A failed read of the block log: `410 archived_block` when the block's
    /// segment was moved to an archive (docs/operations.md), else `internal`.
    pub fn log(error: &ting_store::LogError) -> ApiError {
        if error.code() == "log_archived" {
            return ApiError::new(StatusCode::GONE, "archived_block", error.to_string());
        }
        ApiError::internal("read the block log", error)
    }

    /// A transaction the pipeline refused: well formed, but not valid now.
    /// A refusal's answer: 429 for a spent budget (come back later), 409 for
    /// a transaction already in the pipeline, 503 for a node (here or, on a
    /// follower, the leader) that cannot take it now, else 422.
    pub fn refused(r: Refusal) -> ApiError {
        let status = match r.code {
            "refusal_budget" | "source_busy" => StatusCode::TOO_MANY_REQUESTS,
            "already_pending" => StatusCode::CONFLICT,
            "busy" | "shutting_down" | "no_leader" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError {
            status,
            code: r.code,
            message: r.message,
            tx_hash: Some(r.tx_hash),
        }
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.code(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(hash) = self.tx_hash {
            error["tx_hash"] = json!(hash.to_hex());
        }
        let mut response = (self.status, Json(json!({ "error": error }))).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE
            || self.status == StatusCode::TOO_MANY_REQUESTS
        {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<ting_api::FormError> for ApiError {
    fn from(e: ting_api::FormError) -> ApiError {
        ApiError::bad_request(e.code, e.message)
    }
}
