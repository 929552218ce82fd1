//! `GET /v1/calls?category=&limit=`: the calls for proposals still taking
//! proposals that the node has seen on its broker (`crate::calls`), closing
//! soonest first. Market data, not ledger state: not proved, and only what
//! this node heard since it connected.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use ting_api::market::call_json;

use super::error::ApiError;
use super::market::{parse_category, query_rejected, MARKET_PAGE_MAX, PAGE_DEFAULT};
use super::query::page_limit;
use crate::node::Shared;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallsQuery {
    category: Option<String>,
    limit: Option<u64>,
}

pub async fn calls(
    State(s): State<Arc<Shared>>,
    query: Result<Query<CallsQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(query_rejected)?;
    let limit = page_limit(q.limit, PAGE_DEFAULT, MARKET_PAGE_MAX)?;
    let category = q
        .category
        .as_deref()
        .map(|c| parse_category("category", c))
        .transpose()?;
    let now = s.time.now();
    let open = s.open_calls.open(now, category.as_deref());
    let more = open.len() > limit;
    let calls: Vec<Value> = open.iter().take(limit).map(call_json).collect();
    Ok(Json(json!({
        "calls": calls,
        "more": more,
        "at_ms": now.0,
        "dropped": s.open_calls.dropped.load(std::sync::atomic::Ordering::Relaxed),
    })))
}
