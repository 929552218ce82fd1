//! `GET /v1/events`: a server-sent event stream of durable blocks and receipts.
//!
//! Each durable block yields one `block` event, then one `receipt` event per
//! transaction (only those touching `?account=ID` when given: sent by it,
//! naming it, or acting on a channel it is a party to). A subscriber
//! that falls more than `EVENTS_BUFFER_MAX` blocks behind gets a `lagged`
//! event saying how many it missed, and the stream goes on.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::json;
use ting_core::limits::EVENT_SUBSCRIBERS_MAX;
use ting_core::{AccountId, ChannelId, SignedTx};
use tokio::sync::broadcast::error::RecvError;

use super::error::ApiError;
use ting_api::parse_account;
use crate::node::Shared;
use crate::pipeline::CommittedBlock;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    account: Option<String>,
}

/// The channel a transaction opens or acts on.
fn channel_of(tx: &SignedTx) -> Option<ChannelId> {
    tx.opened_channel().or_else(|| tx.kind().channel())
}

/// Payer and payee of each channel the block's transactions act on, read under
/// one short state lock, and only for a filtered stream of a block that has
/// channel transactions. The ledger keeps settled channels, and its state is
/// at or past every durable block, so each channel is found.
fn channel_parties(s: &Shared, b: &CommittedBlock) -> HashMap<ChannelId, [AccountId; 2]> {
    let mut ids = b
        .block
        .txs
        .iter()
        .filter_map(|tx| tx.kind().channel())
        .peekable();
    if ids.peek().is_none() {
        return HashMap::new();
    }
    let st = s.state.read().expect("state lock");
    ids.filter_map(|id| st.channel(&id).map(|c| (id, [c.payer, c.payee])))
        .collect()
}

/// Whether `tx` touches `account`: it sent it, names it, or acts on its channel.
fn touches(
    tx: &SignedTx,
    account: &AccountId,
    parties: &HashMap<ChannelId, [AccountId; 2]>,
) -> bool {
    let on_channel = || {
        tx.kind()
            .channel()
            .and_then(|c| parties.get(&c))
            .is_some_and(|p| p.contains(account))
    };
    *account == tx.sender() || tx.kind().counterparty() == Some(*account) || on_channel()
}

fn block_events(s: &Shared, b: &CommittedBlock, account: Option<&AccountId>) -> Vec<Event> {
    let parties = match account {
        Some(_) => channel_parties(s, b),
        None => HashMap::new(),
    };
    let h = &b.block.header;
    let mut out = vec![Event::default()
        .event("block")
        .id(h.height.0.to_string())
        .data(
            json!({
                "height": h.height.0,
                "hash": b.block_hash.to_hex(),
                "timestamp_ms": h.timestamp.0,
                "tx_count": h.tx_count,
            })
            .to_string(),
        )];
    for (i, tx) in b.block.txs.iter().enumerate() {
        let counterparty = tx.kind().counterparty();
        if account.is_some_and(|a| !touches(tx, a, &parties)) {
            continue;
        }
        out.push(
            Event::default().event("receipt").data(
                json!({
                    "tx_hash": tx.hash().to_hex(),
                    "height": h.height.0,
                    "index": i,
                    "kind": tx.kind().name(),
                    "sender": tx.sender().to_did(),
                    "counterparty": counterparty.map(|c| c.to_did()),
                    "channel": channel_of(tx).map(|c| c.to_hex()),
                })
                .to_string(),
            ),
        );
    }
    out
}

pub async fn events(
    State(s): State<Arc<Shared>>,
    query: Result<Query<EventQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let account = q
        .account
        .as_deref()
        .map(|a| parse_account("account", a))
        .transpose()?;
    let Ok(permit) = Arc::clone(&s.event_permits).try_acquire_owned() else {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            format!("{EVENT_SUBSCRIBERS_MAX} event streams are open already; retry later"),
        ));
    };
    let rx = s.events.subscribe();
    let closing = s.closing.subscribe();
    // The permit lives in the stream's state: it is given back when the stream ends.
    let stream = stream::unfold(
        (rx, account, closing, permit, s),
        |(mut rx, account, mut closing, permit, s)| async move {
            let received = tokio::select! {
                r = rx.recv() => r,
                _ = closing.wait_for(|c| *c) => return None,
            };
            let batch = match received {
                Ok(block) => block_events(&s, &block, account.as_ref()),
                Err(RecvError::Lagged(n)) => {
                    vec![Event::default()
                        .event("lagged")
                        .data(json!({ "missed_blocks": n }).to_string())]
                }
                Err(RecvError::Closed) => return None,
            };
            Some((
                stream::iter(batch.into_iter().map(Ok)),
                (rx, account, closing, permit, s),
            ))
        },
    );
    let flat = futures_util::StreamExt::flatten(stream);
    Ok(Sse::new(flat).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
