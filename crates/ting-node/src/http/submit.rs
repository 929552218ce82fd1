//! Submitting transactions: one or a batch, waiting for commit or not.
//!
//! `POST /v1/transactions` takes one transaction as JSON
//! (`{"hex"|"base64"|"json": ...}`) or as raw canonical bytes
//! (`Content-Type: application/octet-stream`). `POST /v1/transactions/batch`
//! takes `{"txs": [...]}`; a batch is admitted whole or not at all, in order.
//! With `?wait=true` (the default) the answer comes once the transaction's
//! block is durable, or with the refusal; with `?wait=false` it comes on
//! admission (202) and the outcome is read from `/v1/transactions/{hash}`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use ting_core::limits::SUBMIT_BATCH_TXS_MAX;
use ting_core::SignedTx;
use tokio::sync::oneshot;

use super::body::{parse_json, RawBody};
use super::error::ApiError;
use crate::admission::Source;
use crate::landed::answer_resent;
use crate::lead::peer;
use crate::node::Shared;
use crate::pipeline::Outcome;
use ting_api::{decode_tx, SubmitTx};

/// How long a waiting submission waits for its block before answering `timeout`.
const COMMIT_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    #[serde(default)]
    wait: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Batch {
    txs: Vec<SubmitTx>,
}

fn wait_flag(
    q: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<bool, ApiError> {
    match q {
        Ok(Query(q)) => Ok(q.wait.unwrap_or(true)),
        Err(e) => Err(ApiError::bad_request("invalid_query", e.body_text())),
    }
}

/// Where a request came from, for its refusal budget: the peer's address,
/// or the unspecified address when the server recorded none (a test's
/// `oneshot`), which all such requests then share.
#[derive(Debug, Clone, Copy)]
pub struct Origin(pub Source);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let ip = super::sources::peer_ip(&parts.extensions)
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        Ok(Origin(Source::Peer(ip)))
    }
}

/// A batch a follower forwarded, proved by its `Ting-Node` headers
/// (`crate::lead::peer`), is a node's; `None` for a batch without them.
fn forwarded_by(s: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<Option<Source>, ApiError> {
    let names = [peer::NODE_HEADER, peer::TIME_HEADER, peer::SIGNATURE_HEADER];
    let values = names.map(|n| headers.get(n).map(|v| v.to_str().unwrap_or("")));
    let bad = |why: String| ApiError::new(StatusCode::UNAUTHORIZED, "bad_forward", why);
    match values {
        [None, None, None] => Ok(None),
        [Some(node), Some(at), Some(signature)] => {
            let now = crate::clock::now();
            peer::check(
                &s.genesis,
                &s.genesis_hash,
                now,
                [node, at, signature],
                body,
            )
            .map(|_| Some(Source::Node))
            .map_err(bad)
        }
        _ => Err(bad(format!(
            "a forwarded batch carries all of {}, {} and {}",
            names[0], names[1], names[2]
        ))),
    }
}

fn parse_one(body: &RawBody) -> Result<SignedTx, ApiError> {
    let binary = body
        .content_type
        .as_deref()
        .is_some_and(|t| t.starts_with("application/octet-stream"));
    if binary {
        Ok(decode_tx(&body.bytes)?)
    } else {
        Ok(parse_json::<SubmitTx>(&body.bytes)?.to_tx()?)
    }
}

fn committed_json(o: &crate::pipeline::Committed) -> Value {
    let mut v = json!({
        "status": "committed",
        "tx_hash": o.tx_hash.to_hex(),
        "height": o.height.0,
        "index": o.index,
        "block_hash": o.block_hash.to_hex(),
    });
    if o.resent {
        v["resent"] = json!(true);
    }
    v
}

/// One transaction's commit, with the receipt that proves it.
fn committed_with_receipt(o: &crate::pipeline::Committed) -> Value {
    let mut v = committed_json(o);
    v["receipt"] = ting_api::receipt_json(&o.receipt());
    v
}

/// Waits for one outcome. A single submission's commit carries its receipt;
/// a batch's answers stay short (a receipt each would repeat the header
/// thousands of times): clients read receipts by hash.
/// A copy of a transaction that landed is answered with its commit
/// (`crate::landed`).
async fn outcome(
    shared: &Arc<Shared>,
    rx: oneshot::Receiver<Outcome>,
    hash: ting_core::Hash32,
    deadline: tokio::time::Instant,
    with_receipt: bool,
) -> Result<Value, ApiError> {
    let answered = match tokio::time::timeout_at(deadline, rx).await {
        Ok(Ok(o)) => Ok(Ok(answer_resent(shared, o).await)),
        other => other,
    };
    match answered {
        Ok(Ok(Outcome::Committed(c))) if with_receipt => Ok(committed_with_receipt(&c)),
        Ok(Ok(Outcome::Committed(c))) => Ok(committed_json(&c)),
        Ok(Ok(Outcome::Refused(r))) => Err(ApiError::refused(r)),
        Ok(Err(_)) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the node stopped before the transaction's block was durable",
        )),
        Err(_) => Err(ApiError {
            tx_hash: Some(hash),
            ..ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                "not committed yet; look the transaction up by its hash later",
            )
        }),
    }
}

pub async fn submit_one(
    State(shared): State<Arc<Shared>>,
    Origin(source): Origin,
    query: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
    body: RawBody,
) -> Result<Response, ApiError> {
    let wait = wait_flag(query)?;
    let tx = parse_one(&body)?;
    let hash = tx.hash();
    let mut rx = shared
        .submit_from(source, vec![tx])?
        .pop()
        .expect("one receiver");
    if !wait {
        // Refused at the door: the answer is already there.
        if let Ok(Outcome::Refused(r)) = rx.try_recv() {
            return Err(ApiError::refused(r));
        }
        let accepted = json!({ "status": "accepted", "tx_hash": hash.to_hex() });
        return Ok((StatusCode::ACCEPTED, Json(accepted)).into_response());
    }
    let deadline = tokio::time::Instant::now() + COMMIT_WAIT;
    Ok(Json(outcome(&shared, rx, hash, deadline, true).await?).into_response())
}

/// A batch item that did not commit: refused, or (timeout, shutdown) not known yet.
fn refusal_json(e: &ApiError) -> Value {
    let status = match e.code {
        "timeout" => "pending",
        "shutting_down" => "unknown",
        _ => "refused",
    };
    json!({
        "status": status,
        "code": e.code,
        "message": e.message,
        "tx_hash": e.tx_hash.map(|h| h.to_hex()),
    })
}

pub async fn submit_batch(
    State(shared): State<Arc<Shared>>,
    Origin(source): Origin,
    headers: HeaderMap,
    query: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
    body: RawBody,
) -> Result<Response, ApiError> {
    let wait = wait_flag(query)?;
    let source = forwarded_by(&shared, &headers, &body.bytes)?.unwrap_or(source);
    let batch: Batch = parse_json(&body.bytes)?;
    if batch.txs.is_empty() || batch.txs.len() > SUBMIT_BATCH_TXS_MAX {
        return Err(ApiError::bad_request(
            "invalid_batch",
            format!(
                "a batch holds 1 to {SUBMIT_BATCH_TXS_MAX} transactions, this one {}",
                batch.txs.len()
            ),
        ));
    }
    let mut txs = Vec::with_capacity(batch.txs.len());
    for (i, item) in batch.txs.iter().enumerate() {
        let tx = item
            .to_tx()
            .map_err(|e| ApiError::bad_request(e.code, format!("txs[{i}]: {}", e.message)))?;
        txs.push(tx);
    }
    let hashes: Vec<_> = txs.iter().map(SignedTx::hash).collect();
    let receivers = shared.submit_from(source, txs)?;
    let mut results = Vec::with_capacity(receivers.len());
    // One deadline for the whole batch: outcomes arrive in submission order.
    let deadline = tokio::time::Instant::now() + COMMIT_WAIT;
    for (hash, mut rx) in hashes.into_iter().zip(receivers) {
        let answer = if wait {
            outcome(&shared, rx, hash, deadline, false).await
        } else {
            match rx.try_recv() {
                Ok(Outcome::Refused(r)) => Err(ApiError::refused(r)),
                _ => Ok(json!({ "status": "accepted", "tx_hash": hash.to_hex() })),
            }
        };
        results.push(Some(answer.unwrap_or_else(|e| refusal_json(&e))));
    }
    let results: Vec<Value> = results
        .into_iter()
        .map(|r| r.expect("every slot answered"))
        .collect();
    let status = if wait {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(json!({ "results": results }))).into_response())
}
