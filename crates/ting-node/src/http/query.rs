//! Reading the ledger: status, accounts, transactions, receipts, blocks, supply.
//!
//! Account answers reflect durable state only: the handler reads the state
//! and the height it was read at, then waits (briefly) until that height is
//! durable, so nothing a crash could undo is ever shown. Reads of the block
//! log and the index run on the blocking pool ([`off_worker`]).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use ting_core::limits::{ACCOUNT_TXS_PAGE_MAX, BLOCK_RANGE_MAX};
use ting_core::state_map::AccountRecord;
use ting_core::{merkle, AccountId, Block, BlockHeight, Hash32, Receipt, Timestamp};
use ting_store::{HistoryEntry, TxLocation};

use super::error::ApiError;
use super::proofs::{account_answer, wants_proof, ProofQuery};
use crate::landed::{LandedError, UNINDEXED_SCAN_BLOCKS_MAX};
use crate::node::Shared;
use ting_api::state::state_answer_json;
use ting_api::{header_json, parse_account, parse_hash, receipt_json, TxJson};

/// Transactions in a page of history when the client does not say.
const ACCOUNT_TXS_PAGE_DEFAULT: usize = 50;
/// Headers in a block range when the client does not say.
const BLOCK_RANGE_DEFAULT: usize = 20;
/// Longest a read waits for the state it saw to become durable.
const DURABLE_WAIT: Duration = Duration::from_secs(5);

type ApiResult = Result<Json<Value>, ApiError>;

/// Runs `read` (of the block log or the index) on the blocking pool: such a
/// read may go to the disk many times, and must not hold an async worker
/// that other requests need meanwhile.
pub(super) async fn off_worker<T, F>(s: &Arc<Shared>, read: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Shared) -> Result<T, ApiError> + Send + 'static,
{
    let s = Arc::clone(s);
    tokio::task::spawn_blocking(move || read(&s))
        .await
        .map_err(|e| ApiError::internal("read from the disk", e))?
}

/// The broker address devices are told: an embedded broker listening on
/// every interface (`0.0.0.0`, `[::]`) is named by the host the client
/// reached this node at, which is an address the client can reach.
fn advertised_broker(broker: &str, headers: &axum::http::HeaderMap) -> String {
    let Some(port) = ["mqtt://0.0.0.0:", "mqtt://[::]:", "mqtt://:::"]
        .iter()
        .find_map(|p| broker.strip_prefix(p))
    else {
        return broker.to_owned();
    };
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| match h.rsplit_once(':') {
            Some((name, p)) if p.chars().all(|c| c.is_ascii_digit()) => name,
            _ => h,
        })
        .filter(|h| !h.is_empty() && !h.contains(['/', '@', ' ']))
        .unwrap_or("127.0.0.1");
    format!("mqtt://{host}:{port}")
}

pub async fn status(State(s): State<Arc<Shared>>, headers: axum::http::HeaderMap) -> ApiResult {
    let (height, tip, accounts, supply) = {
        let st = s.state.read().expect("state lock");
        (st.height(), st.tip_hash(), st.account_count(), st.supply())
    };
    let indexed = s
        .index
        .indexed_height()
        .map_err(|e| ApiError::internal("read the index", e))?;
    Ok(Json(json!({
        "network": s.genesis.network.0,
        "name": s.genesis.name,
        "genesis_hash": s.genesis_hash.to_hex(),
        "sequencer": s.sequencer.to_did(),
        "sequencers": s.genesis.sequencers.iter().map(AccountId::to_did).collect::<Vec<_>>(),
        "height": height.0,
        "tip_hash": tip.to_hex(),
        "durable_height": s.durable.height().0,
        "indexed_height": indexed.0,
        "accounts": accounts,
        "supply": supply.base_units(),
        "faucet": s.faucet.as_ref().map(|f| f.issuer().to_did()),
        "clock": clock_json(&s.time),
        "mqtt": s.mqtt_broker.get().map(|b| json!({ "broker": advertised_broker(b, &headers) })),
        "role": role_json(&s.roles.get()),
    })))
}

/// What the node does among nodes sharing a database (docs/api.md §3):
/// `single`, `leader` with its epoch, or `follower` with the leader it knows.
fn role_json(role: &crate::lead::Role) -> Value {
    use crate::lead::Role;
    match role {
        Role::Single => json!({ "kind": "single" }),
        Role::Leading { epoch } => json!({ "kind": "leader", "epoch": epoch }),
        Role::Following { leader } => json!({
            "kind": "follower",
            "leader": leader.as_ref().map(|l| json!({
                "epoch": l.epoch,
                "id": l.holder,
                "address": l.address,
            })),
        }),
    }
}

/// The network's clock (docs/api.md §3): `real`, or `accelerated` with its
/// speed and the epoch it runs from, and the network's time now.
fn clock_json(time: &crate::clock::NetworkTime) -> Value {
    match time.clock() {
        ting_core::LedgerClock::Real => json!({ "kind": "real", "now_ms": time.now().0 }),
        ting_core::LedgerClock::Accelerated { speed } => json!({
            "kind": "accelerated",
            "speed": speed,
            "epoch_ms": time.epoch().0,
            "now_ms": time.now().0,
        }),
    }
}

/// An account's view in JSON: money, nonce, device terms (with what it has
/// spent on the UTC day of `at`) and messaging key.
fn account_json(id: &AccountId, r: &AccountRecord, at: Timestamp) -> Value {
    let device = r.device.as_ref().map(|d| {
        json!({
            "owner": d.owner.to_did(),
            "per_day": d.per_day.map(|a| a.base_units()),
            "spent_today": d.spent_on(at).base_units(),
            "frozen": d.frozen,
            "metadata_hex": hex::encode(&d.metadata),
        })
    });
    json!({
        "id": id.to_did(),
        "hex": id.to_hex(),
        "balance": r.account.balance.base_units(),
        "nonce": r.account.nonce.0,
        "device": device,
        "messaging_key": r.messaging_key.map(|k| k.to_hex()),
    })
}

/// `GET /v1/accounts/{id}`, and with `?proof=true` the account at the tip
/// block with its proof.
pub async fn account(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: Result<Query<ProofQuery>, QueryRejection>,
) -> ApiResult {
    let proof = wants_proof(query)?;
    let id = parse_account("account id", &id)?;
    let (body, height) = {
        let st = s.state.read().expect("state lock");
        if proof {
            let answer = account_answer(&st, &id)?;
            let record = match &answer.record {
                Some(bytes) => AccountRecord::from_record(bytes)
                    .map_err(|e| ApiError::internal("encode an account record", e))?,
                None => AccountRecord::default(),
            };
            let mut body = account_json(&id, &record, answer.header.timestamp);
            body["height"] = json!(answer.header.height.0);
            body["proof"] = state_answer_json(&answer);
            (body, st.height())
        } else {
            let record = AccountRecord {
                account: st.account(&id).copied().unwrap_or_default(),
                device: st.device(&id).cloned(),
                messaging_key: st.messaging_key(&id),
            };
            let mut body = account_json(&id, &record, st.last_timestamp());
            body["height"] = json!(st.height().0);
            (body, visible_height(&s, &st))
        }
    };
    wait_durable(&s, height).await?;
    Ok(Json(body))
}

/// The height that must be durable before what a state read shows may be
/// answered (shared with the MQTT book publisher).
pub(super) use crate::books::visible_height;

pub(super) async fn wait_durable(s: &Shared, height: BlockHeight) -> Result<(), ApiError> {
    tokio::time::timeout(DURABLE_WAIT, s.durable.reached(height))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the disk is behind; retry shortly",
            )
        })
}

/// A page size given as `limit`: `default` when absent, else 1 to `max`, as
/// the OpenAPI document declares; anything else is refused, not clamped.
pub(super) fn page_limit(
    limit: Option<u64>,
    default: usize,
    max: usize,
) -> Result<usize, ApiError> {
    let Some(limit) = limit else {
        return Ok(default);
    };
    match usize::try_from(limit) {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(
            "page_too_large",
            format!("limit must be 1 to {max}, not {limit}"),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    limit: Option<u64>,
    before: Option<String>,
}

pub(super) fn parse_cursor(text: &str) -> Result<TxLocation, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_query",
            "before must be HEIGHT:INDEX, as given in `next`",
        )
    };
    let (h, i) = text.split_once(':').ok_or_else(bad)?;
    Ok(TxLocation {
        height: BlockHeight(h.parse().map_err(|_| bad())?),
        index: i.parse().map_err(|_| bad())?,
    })
}

pub async fn account_txs(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let id = parse_account("account id", &id)?;
    let limit = page_limit(q.limit, ACCOUNT_TXS_PAGE_DEFAULT, ACCOUNT_TXS_PAGE_MAX)?;
    let before = q.before.as_deref().map(parse_cursor).transpose()?;
    let page = off_worker(&s, move |s| {
        s.index
            .account_history(&id, before, limit)
            .map_err(|e| ApiError::internal("read the index", e))
    })
    .await?;
    let next = (page.len() == limit).then(|| {
        page.last()
            .map(|e| format!("{}:{}", e.at.height.0, e.at.index))
    });
    let txs: Vec<Value> = page.iter().map(history_entry_json).collect();
    let indexed = s
        .index
        .indexed_height()
        .map_err(|e| ApiError::internal("read the index", e))?;
    Ok(Json(
        json!({ "transactions": txs, "next": next.flatten(), "indexed_height": indexed.0 }),
    ))
}

/// One entry of an account's history (docs/api.md §6.4): where the
/// transaction is, and the index's summary of it for that account.
fn history_entry_json(e: &HistoryEntry) -> Value {
    json!({
        "tx_hash": e.tx_hash.to_hex(),
        "height": e.at.height.0,
        "index": e.at.index,
        "timestamp_ms": e.timestamp.0,
        "kind": e.kind_name(),
        "role": e.role.name(),
        "counterparty": e.other.map(|a| a.to_did()),
        "amount": e.amount.map(|a| a.base_units()),
        "flow": e.flow.map(|f| f.name()),
    })
}

/// Finds a committed transaction: the index first, then the blocks it has not
/// reached (up to `UNINDEXED_SCAN_BLOCKS_MAX` of them: run it off the async
/// workers, [`off_worker`]).
fn locate(s: &Shared, hash: &Hash32) -> Result<Option<(Block, u32)>, ApiError> {
    s.landed(hash, UNINDEXED_SCAN_BLOCKS_MAX)
        .map_err(|e| match e {
            LandedError::IndexBehind { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "index_behind",
                "the query index is catching up after heavy load; retry shortly",
            ),
            LandedError::Log(e) => ApiError::log(&e),
            LandedError::Index(e) => ApiError::internal("read the index", e),
        })
}

fn receipt_of(block: &Block, index: u32) -> Receipt {
    let hashes = block.tx_hashes();
    let proof = merkle::prove(&hashes, index as usize).expect("index inside the block");
    Receipt {
        tx_hash: hashes[index as usize],
        proof,
        header: block.header.clone(),
    }
}

fn not_found_or_refused(s: &Shared, hash: &Hash32) -> ApiError {
    match s.refusals.get(hash) {
        Some(r) => ApiError::refused(r),
        None => ApiError::not_found(
            "unknown_transaction",
            format!("no committed or recently refused transaction has hash {hash}"),
        ),
    }
}

pub async fn transaction(State(s): State<Arc<Shared>>, Path(hash): Path<String>) -> ApiResult {
    let hash = parse_hash("hash", &hash)?;
    let Some((block, index)) = off_worker(&s, move |s| locate(s, &hash)).await? else {
        return Err(not_found_or_refused(&s, &hash));
    };
    let tx = &block.txs[index as usize];
    Ok(Json(json!({
        "tx_hash": hash.to_hex(),
        "tx": TxJson::from_tx(tx),
        "hex": hex::encode(tx.bytes()),
        "receipt": receipt_json(&receipt_of(&block, index)),
    })))
}

pub async fn receipt(State(s): State<Arc<Shared>>, Path(hash): Path<String>) -> ApiResult {
    let hash = parse_hash("hash", &hash)?;
    match off_worker(&s, move |s| locate(s, &hash)).await? {
        Some((block, index)) => Ok(Json(receipt_json(&receipt_of(&block, index)))),
        None => Err(not_found_or_refused(&s, &hash)),
    }
}

pub async fn block(
    State(s): State<Arc<Shared>>,
    height: Result<Path<u64>, axum::extract::rejection::PathRejection>,
) -> ApiResult {
    // Axum's own rejection is plain text; the API answers every error in JSON.
    let Path(height) = height.map_err(|_| {
        ApiError::bad_request(
            "invalid_field",
            "height: must be a block height, a whole number",
        )
    })?;
    let block = off_worker(&s, move |s| {
        s.log
            .block(BlockHeight(height))
            .map_err(|e| ApiError::log(&e))
    })
    .await?
    .ok_or_else(|| {
        ApiError::not_found(
            "unknown_block",
            format!("no durable block at height {height}"),
        )
    })?;
    let txs: Vec<Value> = block
        .txs
        .iter()
        .map(|t| json!({ "tx_hash": t.hash().to_hex(), "tx": TxJson::from_tx(t) }))
        .collect();
    Ok(Json(
        json!({ "header": header_json(&block.header), "txs": txs }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    from: Option<u64>,
    limit: Option<u64>,
}

pub async fn blocks(
    State(s): State<Arc<Shared>>,
    query: Result<Query<RangeQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let durable = s.log.height().0;
    let max = usize::try_from(BLOCK_RANGE_MAX).unwrap_or(usize::MAX);
    let limit = page_limit(q.limit, BLOCK_RANGE_DEFAULT, max)?;
    let span = u64::try_from(limit.saturating_sub(1)).unwrap_or(u64::MAX);
    let from = q
        .from
        .unwrap_or_else(|| durable.saturating_sub(span).max(1))
        .max(1);
    let to = from.saturating_add(span).min(durable);
    let headers = off_worker(&s, move |s| {
        let mut headers = Vec::new();
        for h in from..=to {
            if let Some(header) = s
                .log
                .header(BlockHeight(h))
                .map_err(|e| ApiError::log(&e))?
            {
                headers.push(header_json(&header));
            }
        }
        Ok(headers)
    })
    .await?;
    Ok(Json(
        json!({ "blocks": headers, "durable_height": durable }),
    ))
}

/// What was minted against where it is: balances plus what open channels
/// and open streams' deposits hold must equal it (money in a channel or a
/// deposit has left its owner's balance). The
/// ledger keeps the sums as it goes, so this reads three numbers, not every
/// account.
pub async fn supply(State(s): State<Arc<Shared>>) -> ApiResult {
    let (minted, balances, locked, held, height) = {
        let st = s.state.read().expect("state lock");
        let sums = (st.balance_sum(), st.locked_sum(), st.held_sum());
        (st.supply(), sums.0, sums.1, sums.2, visible_height(&s, &st))
    };
    wait_durable(&s, height).await?;
    Ok(Json(json!({
        "height": height.0,
        "minted": minted.base_units(),
        "balances": balances.map(|a| a.base_units()),
        "locked": locked.map(|a| a.base_units()),
        "conserved": held == Some(minted),
    })))
}

#[cfg(test)]
mod tests {
    use super::advertised_broker;
    use axum::http::{header, HeaderMap, HeaderValue};

    /// What `broker` is advertised as to a request with `host` (or none).
    fn check(broker: &str, host: Option<&str>, want: &str) {
        let mut headers = HeaderMap::new();
        if let Some(h) = host {
            headers.insert(
                header::HOST,
                HeaderValue::from_str(h).expect("a header value"),
            );
        }
        assert_eq!(
            advertised_broker(broker, &headers),
            want,
            "{broker} asked via {host:?}"
        );
    }

    #[test]
    fn a_broker_on_a_named_host_is_advertised_as_it_is() {
        check(
            "mqtt://127.0.0.1:1883",
            Some("node.example:8080"),
            "mqtt://127.0.0.1:1883",
        );
        check("mqtt://10.1.2.3:1884", None, "mqtt://10.1.2.3:1884");
        check(
            "mqtt://broker.example:1883",
            Some("node.example"),
            "mqtt://broker.example:1883",
        );
    }

    #[test]
    fn a_broker_on_every_interface_is_named_by_the_host_the_request_came_in_on() {
        for any in ["mqtt://0.0.0.0:1883", "mqtt://[::]:1883", "mqtt://:::1883"] {
            check(any, Some("node.example:8080"), "mqtt://node.example:1883");
            check(any, Some("node.example"), "mqtt://node.example:1883");
            check(any, Some("192.168.1.7:8080"), "mqtt://192.168.1.7:1883");
            check(any, Some("[2001:db8::1]:8080"), "mqtt://[2001:db8::1]:1883");
            check(any, Some("[2001:db8::1]"), "mqtt://[2001:db8::1]:1883");
        }
    }

    #[test]
    fn without_a_usable_host_a_broker_on_every_interface_is_named_as_loopback() {
        check("mqtt://0.0.0.0:1883", None, "mqtt://127.0.0.1:1883");
        check("mqtt://0.0.0.0:1883", Some(""), "mqtt://127.0.0.1:1883");
        check(
            "mqtt://0.0.0.0:1883",
            Some(":8080"),
            "mqtt://127.0.0.1:1883",
        );
        for odd in ["user@evil:8080", "a/b", "a b"] {
            check("mqtt://[::]:1883", Some(odd), "mqtt://127.0.0.1:1883");
        }
    }
}
