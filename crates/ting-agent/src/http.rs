//! A small HTTP client for the node's JSON API: what a device needs of it.
//!
//! Plain HTTP/1.1 over hyper; answers are bounded in size and time, and the
//! node's error envelope (`{"error": {"code", "message"}}`) becomes
//! [`HttpError::Api`] with the node's stable code.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use thiserror::Error;

/// Largest answer read from the node: an account or a transaction, never a block range.
const RESPONSE_BYTES_MAX: usize = 1024 * 1024;
/// Longest wait for one answer; a waiting submission takes at most 30 s at the node.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);

/// Why a request to the node failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HttpError {
    #[error("cannot reach the node at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the node answered {status}: {code}: {message}")]
    Api {
        status: StatusCode,
        code: String,
        message: String,
    },
    #[error("the node's answer is not what this device expects: {0}")]
    BadResponse(String),
    #[error("the node URL must start with http://, not {0:?}")]
    BadUrl(String),
}

impl HttpError {
    pub fn code(&self) -> &str {
        match self {
            HttpError::Unreachable { .. } => "node_unreachable",
            HttpError::Api { code, .. } => code,
            HttpError::BadResponse(_) => "bad_response",
            HttpError::BadUrl(_) => "bad_url",
        }
    }

    /// Whether asking again later may succeed: the node was away, busy or slow.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Unreachable { .. } => true,
            HttpError::Api { status, .. } => status.is_server_error(),
            _ => false,
        }
    }
}

/// A client for one node's HTTP API.
#[derive(Clone, Debug)]
pub struct NodeHttp {
    base: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl NodeHttp {
    pub fn new(base: &str) -> Result<NodeHttp, HttpError> {
        let base = base.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") {
            return Err(HttpError::BadUrl(base));
        }
        let http = Client::builder(TokioExecutor::new()).build_http();
        Ok(NodeHttp { base, http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn get(&self, path: &str) -> Result<Value, HttpError> {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, HttpError> {
        let bytes = serde_json::to_vec(body).expect("JSON values serialize");
        self.send(Method::POST, path, Some(bytes)).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Value, HttpError> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| HttpError::BadUrl(e.to_string()))?;
        let unreachable = |reason: String| HttpError::Unreachable {
            url: self.base.clone(),
            reason,
        };
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.http.request(req))
            .await
            .map_err(|_| unreachable("no answer in time".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), RESPONSE_BYTES_MAX)
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        decode(status, &bytes)
    }
}

fn decode(status: StatusCode, body: &[u8]) -> Result<Value, HttpError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| HttpError::BadResponse(format!("{status}: {e}")))?;
    if status.is_success() {
        return Ok(value);
    }
    let error = &value["error"];
    Err(HttpError::Api {
        status,
        code: error["code"].as_str().unwrap_or("unknown").to_owned(),
        message: error["message"].as_str().unwrap_or("").to_owned(),
    })
}
