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
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use ting_core::limits::SUBMIT_BATCH_TXS_MAX;
use ting_core::{SignedTx, Timestamp};
use tokio::sync::oneshot;

use super::body::{parse_json, RawBody};
use super::error::ApiError;
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

/// Stateless checks every node does before spending a signature check, given
/// the last block's time (read once per request, not per transaction). Its
/// refusals are not remembered: they need no signature, so anyone could use
/// them to flush the memory of real refusals.
fn precheck(shared: &Shared, last: Timestamp, tx: &SignedTx) -> Result<(), ApiError> {
    let refuse = |code, message| ApiError {
        tx_hash: Some(tx.hash()),
        ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    };
    if tx.genesis() != shared.genesis_hash {
        return Err(refuse(
            "wrong_network",
            format!(
                "the transaction is for the network of genesis {}, this node serves {} (genesis {})",
                tx.genesis(),
                shared.genesis.name,
                shared.genesis_hash
            ),
        ));
    }
    // Block time never goes back, so a transaction already past it never applies.
    if tx.valid_until() < last {
        return Err(refuse(
            "tx_expired",
            format!(
                "the transaction was valid until {}, and the last block is at {last}: it can never apply; sign it again with a later valid_until",
                tx.valid_until()
            ),
        ));
    }
    Ok(())
}

/// The newest block's timestamp: ledger time as the node has it.
fn last_block_time(shared: &Shared) -> Timestamp {
    shared.state.read().expect("state lock").last_timestamp()
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
    json!({
        "status": "committed",
        "tx_hash": o.tx_hash.to_hex(),
        "height": o.height.0,
        "index": o.index,
        "block_hash": o.block_hash.to_hex(),
    })
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
async fn outcome(
    rx: oneshot::Receiver<Outcome>,
    hash: ting_core::Hash32,
    deadline: tokio::time::Instant,
    with_receipt: bool,
) -> Result<Value, ApiError> {
    match tokio::time::timeout_at(deadline, rx).await {
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
    query: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
    body: RawBody,
) -> Result<Response, ApiError> {
    let wait = wait_flag(query)?;
    let tx = parse_one(&body)?;
    precheck(&shared, last_block_time(&shared), &tx)?;
    let hash = tx.hash();
    if !wait {
        shared.submit_with(vec![tx], vec![None])?;
        let accepted = json!({ "status": "accepted", "tx_hash": hash.to_hex() });
        return Ok((StatusCode::ACCEPTED, Json(accepted)).into_response());
    }
    let rx = shared.submit(vec![tx])?.pop().expect("one receiver");
    let deadline = tokio::time::Instant::now() + COMMIT_WAIT;
    Ok(Json(outcome(rx, hash, deadline, true).await?).into_response())
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
    query: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
    body: RawBody,
) -> Result<Response, ApiError> {
    let wait = wait_flag(query)?;
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
    let mut results: Vec<Option<Value>> = vec![None; txs.len()];
    let mut admit = Vec::with_capacity(txs.len());
    let mut places = Vec::with_capacity(txs.len());
    let last = last_block_time(&shared);
    for (i, tx) in txs.into_iter().enumerate() {
        match precheck(&shared, last, &tx) {
            Ok(()) => {
                places.push((i, tx.hash()));
                admit.push(tx);
            }
            Err(e) => results[i] = Some(refusal_json(&e)),
        }
    }
    if wait {
        let receivers = shared.submit(admit)?;
        // One deadline for the whole batch: outcomes arrive in submission order.
        let deadline = tokio::time::Instant::now() + COMMIT_WAIT;
        for ((i, hash), rx) in places.into_iter().zip(receivers) {
            let answer = outcome(rx, hash, deadline, false).await;
            results[i] = Some(answer.unwrap_or_else(|e| refusal_json(&e)));
        }
    } else {
        let n = admit.len();
        shared.submit_with(admit, (0..n).map(|_| None).collect())?;
        for (i, hash) in places {
            results[i] = Some(json!({ "status": "accepted", "tx_hash": hash.to_hex() }));
        }
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
