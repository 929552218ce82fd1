//! Reading payment channels: one channel's state, and an account's channels.
//!
//! A channel's state comes from the ledger, under the same rule as account
//! reads: the handler notes the height its read shows and waits until that
//! height is durable, so a claim a crash could undo is never shown. Which
//! channels an account has comes from the query index (filled from durable
//! blocks, so it may lag; the answer says how far it has got), and each one's
//! state then from the ledger.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use ting_core::ChannelId;
use ting_ledger::{Channel, ChannelTerms, HashChainState};
use ting_store::index::{AccountChannel, ChannelRole, ACCOUNT_CHANNELS_PAGE_MAX};
use ting_store::TxLocation;

use axum::extract::rejection::QueryRejection;

use super::error::ApiError;
use super::proofs::{channel_answer, wants_proof, ProofQuery};
use super::query::{page_limit, parse_cursor, visible_height, wait_durable};
use crate::node::Shared;
use ting_api::channel::segment_json;
use ting_api::parse_account;
use ting_api::state::state_answer_json;

/// Channels in a page when the client does not say.
const CHANNELS_PAGE_DEFAULT: usize = 50;

type ApiResult = Result<Json<Value>, ApiError>;

fn parse_channel_id(text: &str) -> Result<ChannelId, ApiError> {
    ChannelId::from_hex(text.trim()).ok_or_else(|| {
        ApiError::bad_request(
            "bad_channel_id",
            "a channel id is 32 bytes as 64 hex digits",
        )
    })
}

fn hash_chain_json(h: &HashChainState) -> Value {
    json!({
        "price": h.price.base_units(),
        "segment": h.segment,
        "base": h.base,
        "anchor": h.current.anchor.to_hex(),
        "chain_len": h.current.len,
        "next": h.next.as_ref().map(segment_json),
        "claimed_index": h.claimed_index,
        "claimed_tick": h.claimed_tick.to_hex(),
        "total_ticks": h.total_ticks(),
    })
}

/// A channel's state in JSON; a hash-chain channel's chain fields sit beside the rest.
pub fn channel_json(id: &ChannelId, c: &Channel) -> Value {
    let mut v = json!({
        "id": id.to_hex(),
        "payer": c.payer.to_did(),
        "payee": c.payee.to_did(),
        "mode": c.mode_name(),
        "deposit": c.deposit.base_units(),
        "claimed": c.claimed.base_units(),
        "locked": c.locked().base_units(),
        "opened_at_ms": c.opened_at.0,
        "expires_at_ms": c.expires_at.0,
        "reclaimable_at_ms": c.reclaimable_at().0,
        "status": c.closed.map_or("open", |closed| closed.by.name()),
        "closed_at_ms": c.closed.map(|closed| closed.at.0),
        "refunded": c.closed.map(|closed| closed.refunded.base_units()),
    });
    if let ChannelTerms::HashChain(h) = &c.mode {
        if let (Some(out), Value::Object(chain)) = (v.as_object_mut(), hash_chain_json(h)) {
            out.extend(chain);
        }
    }
    v
}

fn unknown_channel(id: &ChannelId) -> ApiError {
    ApiError::not_found("unknown_channel", format!("no channel has id {id}"))
}

/// `GET /v1/channels/{id}`, and with `?proof=true` the channel at the tip
/// block (or its absence) with its proof.
pub async fn channel(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: Result<Query<ProofQuery>, QueryRejection>,
) -> ApiResult {
    let proof = wants_proof(query)?;
    let id = parse_channel_id(&id)?;
    let (body, height) = {
        let st = s.state.read().expect("state lock");
        if proof {
            let answer = channel_answer(&st, &id)?;
            let channel = match &answer.record {
                Some(bytes) => Some(
                    Channel::from_record(bytes)
                        .map_err(|e| ApiError::internal("encode a channel record", e))?,
                ),
                None => None,
            };
            let body = json!({
                "id": id.to_hex(),
                "height": answer.header.height.0,
                "channel": channel.as_ref().map(|c| channel_json(&id, c)),
                "proof": state_answer_json(&answer),
            });
            (body, st.height())
        } else {
            let channel = st.channel(&id).ok_or_else(|| unknown_channel(&id))?;
            let mut body = channel_json(&id, channel);
            body["height"] = json!(st.height().0);
            (body, visible_height(&s, &st))
        }
    };
    wait_durable(&s, height).await?;
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsQuery {
    role: Option<String>,
    limit: Option<u64>,
    before: Option<String>,
}

fn parse_role(text: Option<&str>) -> Result<Option<ChannelRole>, ApiError> {
    match text {
        None | Some("any") => Ok(None),
        Some("payer") => Ok(Some(ChannelRole::Payer)),
        Some("payee") => Ok(Some(ChannelRole::Payee)),
        Some(_) => Err(ApiError::bad_request(
            "invalid_query",
            "role must be payer, payee or any",
        )),
    }
}

/// The page's channels with their current state, and the height to wait for.
fn page_json(s: &Shared, page: &[AccountChannel]) -> (Vec<Value>, ting_core::BlockHeight) {
    let st = s.state.read().expect("state lock");
    let mut out = Vec::with_capacity(page.len());
    for entry in page {
        // The index holds only durable blocks and the ledger keeps settled
        // channels, so the ledger holds every channel the index names.
        let Some(channel) = st.channel(&entry.channel) else {
            tracing::warn!(channel = %entry.channel, "the index names a channel the ledger does not hold");
            continue;
        };
        let mut v = channel_json(&entry.channel, channel);
        v["role"] = json!(entry.role.name());
        v["opened_height"] = json!(entry.opened.height.0);
        v["opened_index"] = json!(entry.opened.index);
        out.push(v);
    }
    (out, visible_height(s, &st))
}

/// `GET /v1/accounts/{id}/channels?role=&limit=&before=`.
pub async fn account_channels(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: Result<Query<ChannelsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let id = parse_account("account id", &id)?;
    let role = parse_role(q.role.as_deref())?;
    let limit = page_limit(q.limit, CHANNELS_PAGE_DEFAULT, ACCOUNT_CHANNELS_PAGE_MAX)?;
    let before: Option<TxLocation> = q.before.as_deref().map(parse_cursor).transpose()?;
    let index_err = |e: ting_store::IndexError| ApiError::internal("read the index", e);
    // Read how far the index has got first: it covers at least that much of the answer.
    let indexed = s.index.indexed_height().map_err(index_err)?;
    let page = s
        .index
        .account_channels(&id, role, before, limit)
        .map_err(index_err)?;
    let next = (page.len() == limit)
        .then(|| page.last())
        .flatten()
        .map(|e| format!("{}:{}", e.opened.height.0, e.opened.index));
    let (channels, height) = page_json(&s, &page);
    wait_durable(&s, height).await?;
    Ok(Json(json!({
        "channels": channels,
        "next": next,
        "indexed_height": indexed.0,
    })))
}
