//! The HTTP transport under [`super::NodeClient`]: HTTP/1.1 over hyper, plain
//! for `http://` and over rustls for `https://` (trusting what a
//! [`TlsTrust`] says), answers bounded in size and time, and the node's error
//! envelope (`{"error": {"code", "message"}}`) turned into [`HttpError::Api`]
//! with the node's stable code. A certificate that is not the trusted one is
//! [`HttpError::TlsUntrusted`], which names the pin or the CAs it was checked
//! against, never a bare "connection failed".

use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::{Client, ResponseFuture};
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use thiserror::Error;

use crate::tls::{tls_failure, TlsSetupError, TlsTrust};

/// Largest answer read unless the client is told otherwise: an account, a
/// transaction or a page of history, never a long block range.
pub const RESPONSE_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Longest wait for one answer; a waiting submission takes at most 30 s at the node.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);
/// Longest wait for the TCP connection to the node (the TLS handshake
/// after it counts against [`REQUEST_TIMEOUT`]).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request to the node failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HttpError {
    #[error("cannot reach the node at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{}", api_text(*status, code, message))]
    Api {
        status: StatusCode,
        code: String,
        message: String,
        /// The transaction the error is about, when the node names one.
        tx_hash: Option<String>,
    },
    #[error("the node's answer is not what this client expects: {0}")]
    BadResponse(String),
    #[error("the node URL must look like http://HOST:PORT or https://HOST:PORT, not {0:?}")]
    BadUrl(String),
    /// The node's certificate is not the one trusted: a wrong pin, a CA that
    /// did not issue it, a name it does not hold. Asking again will not help.
    #[error("the node at {url} is not trusted over TLS: {reason}")]
    TlsUntrusted { url: String, reason: String },
    /// The TLS handshake failed for another reason than trust (most often an
    /// `https://` URL for a node that serves plain HTTP on that port).
    #[error("no TLS connection to the node at {url}: {reason}")]
    TlsHandshake { url: String, reason: String },
    /// The client could not be configured for TLS (no system roots).
    #[error(transparent)]
    TlsSetup(#[from] TlsSetupError),
    /// The answer does not prove what it says (a receipt or a state proof
    /// that does not check against the trusted network). Nothing was acted on.
    #[error(transparent)]
    Unproven(#[from] crate::verify::Unproven),
}

/// A refusal reads as one (`refused: insufficient_funds: ...`); anything
/// else names the HTTP status too.
fn api_text(status: StatusCode, code: &str, message: &str) -> String {
    let transient = status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::CONFLICT;
    if status.is_client_error() && !transient {
        format!("refused: {code}: {message}")
    } else {
        format!("the node answered {status}: {code}: {message}")
    }
}

impl HttpError {
    /// A stable machine-readable code: the node's own for [`HttpError::Api`].
    pub fn code(&self) -> &str {
        match self {
            HttpError::Unreachable { .. } => "node_unreachable",
            HttpError::Api { code, .. } => code,
            HttpError::BadResponse(_) => "bad_response",
            HttpError::BadUrl(_) => "bad_url",
            HttpError::TlsUntrusted { .. } => "tls_untrusted",
            HttpError::TlsHandshake { .. } => "tls_handshake",
            HttpError::TlsSetup(e) => e.code(),
            HttpError::Unproven(e) => e.code,
        }
    }

    /// Whether asking again later may succeed: the node was away, busy or
    /// slow, this client's address or the sender used up its share for now
    /// (429 `source_busy`, `refusal_budget`), or the same transaction is
    /// still in the pipeline (409 `already_pending`).
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Unreachable { .. } => true,
            HttpError::Api { status, .. } => {
                status.is_server_error()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || *status == StatusCode::CONFLICT
            }
            _ => false,
        }
    }

    /// Whether the node answered no for good: the request or the transaction
    /// is refused (a 4xx answer other than the transient 409 and 429).
    pub fn is_refusal(&self) -> bool {
        matches!(self, HttpError::Api { status, .. } if status.is_client_error())
            && !self.is_transient()
    }
}

/// One node's HTTP API as raw JSON.
#[derive(Clone, Debug)]
pub(crate) struct Transport {
    base: String,
    http: Http,
    response_bytes_max: usize,
}

/// The client under the transport: an `https://` node is never spoken to in
/// plain text, and an `http://` one needs no TLS configuration at all.
#[derive(Clone, Debug)]
enum Http {
    Plain(Client<HttpConnector, Full<Bytes>>),
    Tls {
        client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
        /// What the certificate is checked against, to say so when it fails.
        trust: TlsTrust,
    },
}

impl Http {
    fn request(&self, req: Request<Full<Bytes>>) -> ResponseFuture {
        match self {
            Http::Plain(client) => client.request(req),
            Http::Tls { client, .. } => client.request(req),
        }
    }
}

impl Transport {
    /// A transport to `base` (`http://HOST[:PORT]` or `https://HOST[:PORT]`);
    /// `trust` applies to `https://` only.
    pub(crate) fn new(base: &str, trust: &TlsTrust) -> Result<Transport, HttpError> {
        let base = base.trim().trim_end_matches('/').to_owned();
        let (tls, host) = match base.strip_prefix("https://") {
            Some(host) => (true, host),
            None => (false, base.strip_prefix("http://").unwrap_or("")),
        };
        if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
            return Err(HttpError::BadUrl(base));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let builder = Client::builder(TokioExecutor::new());
        let http = if tls {
            // The TLS connector hands the plain one `https://` URIs.
            connector.enforce_http(false);
            let https = HttpsConnectorBuilder::new()
                .with_tls_config(trust.client_config()?)
                .https_only()
                .enable_http1()
                .wrap_connector(connector);
            Http::Tls {
                client: builder.build(https),
                trust: trust.clone(),
            }
        } else {
            Http::Plain(builder.build(connector))
        };
        Ok(Transport {
            base,
            http,
            response_bytes_max: RESPONSE_BYTES_MAX,
        })
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn set_response_bytes_max(&mut self, max: usize) {
        self.response_bytes_max = max;
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<Value, HttpError> {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        let payload = match body {
            Some((bytes, content_type)) => {
                req = req.header("content-type", content_type);
                Bytes::from(bytes)
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(payload))
            .map_err(|e| HttpError::BadUrl(format!("{}{path}: {e}", self.base)))?;
        // One deadline for the whole exchange: a node that sends its headers
        // and then trickles (or stalls) its body must not hold the client.
        let exchange = async {
            let response = self.http.request(req).await.map_err(|e| self.failed(&e))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), self.response_bytes_max)
                .collect()
                .await
                .map_err(|e| HttpError::BadResponse(format!("reading the answer: {e}")))?
                .to_bytes();
            decode(status, &bytes)
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                self.unreachable(format!(
                    "no whole answer within {} s",
                    REQUEST_TIMEOUT.as_secs()
                ))
            })?
    }

    fn unreachable(&self, reason: String) -> HttpError {
        HttpError::Unreachable {
            url: self.base.clone(),
            reason,
        }
    }

    /// A request that got no answer: a TLS failure when TLS is why, else unreachable.
    fn failed(&self, e: &hyper_util::client::legacy::Error) -> HttpError {
        let url = self.base.clone();
        let tls = match &self.http {
            Http::Tls { trust, .. } => tls_failure(e, trust),
            Http::Plain(_) => None,
        };
        match tls {
            Some(f) if f.untrusted => HttpError::TlsUntrusted {
                url,
                reason: f.reason,
            },
            Some(f) => HttpError::TlsHandshake {
                url,
                reason: f.reason,
            },
            None => self.unreachable(connect_reason(e)),
        }
    }
}

/// The innermost cause of a failed request (hyper's own message is generic).
fn connect_reason(e: &hyper_util::client::legacy::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

fn decode(status: StatusCode, body: &[u8]) -> Result<Value, HttpError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        HttpError::BadResponse(format!(
            "{status}: not JSON ({e}); is this a Ting node's address?"
        ))
    })?;
    if status.is_success() {
        return Ok(value);
    }
    let error = &value["error"];
    let text = |field: &str, max: usize| error[field].as_str().map(|t| printable(t, max));
    Err(HttpError::Api {
        status,
        code: text("code", API_CODE_CHARS_MAX).unwrap_or_else(|| "unknown".into()),
        message: text("message", API_MESSAGE_CHARS_MAX).unwrap_or_default(),
        tx_hash: text("tx_hash", 64),
    })
}

/// The longest error code and message kept from a node's answer.
const API_CODE_CHARS_MAX: usize = 64;
const API_MESSAGE_CHARS_MAX: usize = 1024;

/// A node's text, fit to print: at most `max` characters, control characters
/// (a terminal's escape sequences among them) replaced, so a hostile node
/// cannot write to the user's terminal through an error message.
fn printable(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_and_https_urls_with_a_host_are_taken() {
        let pin = TlsTrust::Pin([7; 32]);
        assert!(Transport::new("http://127.0.0.1:8080/", &pin).is_ok());
        assert!(Transport::new("http://node.local", &pin).is_ok());
        assert!(Transport::new("https://node.local:8443/", &pin).is_ok());
        assert!(Transport::new("https://[::1]:8443", &pin).is_ok());
        for bad in [
            "127.0.0.1:8080",
            "http://",
            "https://",
            "http://h/v1",
            "https://h/v1",
            "ftp://h",
            "HTTPS://h",
        ] {
            assert!(
                matches!(Transport::new(bad, &pin), Err(HttpError::BadUrl(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn tls_failures_have_their_own_codes_and_are_not_transient() {
        let untrusted = HttpError::TlsUntrusted {
            url: "https://h".into(),
            reason: "r".into(),
        };
        assert_eq!(untrusted.code(), "tls_untrusted");
        assert!(!untrusted.is_transient() && !untrusted.is_refusal());
        assert!(untrusted.to_string().contains("TLS"), "{untrusted}");
        let handshake = HttpError::TlsHandshake {
            url: "https://h".into(),
            reason: "r".into(),
        };
        assert_eq!(handshake.code(), "tls_handshake");
        assert!(!handshake.is_transient());
    }

    #[test]
    fn an_error_envelope_keeps_the_nodes_code_and_transaction() {
        let body = br#"{"error":{"code":"bad_nonce","message":"m","tx_hash":"ab"}}"#;
        let err = decode(StatusCode::UNPROCESSABLE_ENTITY, body).expect_err("an error");
        assert_eq!(err.code(), "bad_nonce");
        assert!(err.is_refusal());
        assert!(matches!(err, HttpError::Api { tx_hash: Some(ref h), .. } if h == "ab"));
        for (status, code) in [
            (StatusCode::TOO_MANY_REQUESTS, "refusal_budget"),
            (StatusCode::TOO_MANY_REQUESTS, "source_busy"),
            (StatusCode::CONFLICT, "already_pending"),
        ] {
            let body = format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#);
            let err = decode(status, body.as_bytes()).expect_err("an error");
            assert!(
                err.is_transient() && !err.is_refusal(),
                "{code} is worth asking again"
            );
        }
        let err = decode(StatusCode::OK, b"<html>").expect_err("not JSON");
        assert_eq!(err.code(), "bad_response");
        let hostile = br#"{"error":{"code":"x","message":"a[2Jb"}}"#;
        let err = decode(StatusCode::BAD_REQUEST, hostile).expect_err("an error");
        assert!(!err.to_string().contains('\u{1b}'), "{err}");
    }
}
