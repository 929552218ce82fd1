//! A small HTTP client for the node's JSON API, used by every CLI command that talks to a node.
//!
//! Plain HTTP/1.1 over hyper (already in the build through axum); answers
//! are bounded in size, and the node's error envelope becomes a typed error
//! whose message tells the user what to do.

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// Largest answer the CLI reads.
const RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Longest the CLI waits for one answer (a waiting submission takes at most 30 s at the node).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);

/// Why a request to the node failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the node at {url}: {reason}. Is a node running there? Start one with `ting node --dev`, or pass --node URL")]
    Unreachable { url: String, reason: String },
    #[error("the node refused ({status}): {code}: {message}")]
    Api {
        status: StatusCode,
        code: String,
        message: String,
    },
    #[error("the node's answer is not what this CLI expects: {0}")]
    BadResponse(String),
}

/// A client for one node.
#[derive(Clone, Debug)]
pub struct Client {
    base: String,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Client {
    pub fn new(base: &str) -> anyhow::Result<Client> {
        let base = base.trim_end_matches('/').to_owned();
        if !base.starts_with("http://") {
            anyhow::bail!(
                "--node must be an http:// URL such as http://127.0.0.1:8080, not {base:?}"
            );
        }
        let http = HyperClient::builder(TokioExecutor::new()).build_http();
        Ok(Client { base, http })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let url = format!("{}{}", self.base, path);
        let mut req = Request::builder().method(method).uri(&url);
        let payload = match body {
            Some((bytes, content_type)) => {
                req = req.header("content-type", content_type);
                Bytes::from(bytes)
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(payload))
            .map_err(|e| ClientError::BadResponse(e.to_string()))?;
        let unreachable = |reason: String| ClientError::Unreachable {
            url: self.base.clone(),
            reason,
        };
        let response = tokio::time::timeout(REQUEST_TIMEOUT, self.http.request(req))
            .await
            .map_err(|_| unreachable("no answer within 40 s".into()))?
            .map_err(|e| unreachable(e.to_string()))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), RESPONSE_BYTES_MAX)
            .collect()
            .await
            .map_err(|e| ClientError::BadResponse(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }

    fn decode(status: StatusCode, body: &[u8]) -> Result<Value, ClientError> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ClientError::BadResponse(format!("{status}: {e}")))?;
        if status.is_success() {
            return Ok(value);
        }
        let error = &value["error"];
        Err(ClientError::Api {
            status,
            code: error["code"].as_str().unwrap_or("unknown").to_owned(),
            message: error["message"].as_str().unwrap_or("").to_owned(),
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        let (status, body) = self.send(Method::GET, path, None).await?;
        Client::decode(status, &body)
    }

    /// POSTs an already-encoded body (the benchmark builds its JSON up front).
    pub async fn post_raw(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<Value, ClientError> {
        let (status, body) = self
            .send(Method::POST, path, Some((body, content_type)))
            .await?;
        Client::decode(status, &body)
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let bytes = serde_json::to_vec(body).expect("JSON serializes");
        let (status, body) = self
            .send(Method::POST, path, Some((bytes, "application/json")))
            .await?;
        Client::decode(status, &body)
    }
}
