//! Finding and reading data streams: the open streams that match a search
//! (by field, area, price, delivery record, seller or owner), and one
//! stream's record, with its proof on request.
//!
//! Open streams live in the ledger's state (closing one takes it out, and
//! its history stays in the account's transactions), so a search reads the
//! state under its lock and, like every read, waits until the height it saw
//! is durable. A search walks the open streams once; the deposit and the
//! per-seller cap bound how many there can be.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use ting_core::stream::terms::is_area;
use ting_core::stream::{Stream, StreamId};
use ting_core::{AccountId, Amount};

use super::error::ApiError;
use super::proofs::{stream_answer, wants_proof, ProofQuery};
use super::query::{page_limit, visible_height, wait_durable};
use crate::node::Shared;
use ting_api::parse_account;
use ting_api::state::state_answer_json;
use ting_api::stream::stream_json;

/// Streams in a page when the client does not say.
const STREAMS_PAGE_DEFAULT: usize = 50;
/// Most streams in one page.
pub const STREAMS_PAGE_MAX: usize = 200;

type ApiResult = Result<Json<Value>, ApiError>;

fn parse_stream_id(text: &str) -> Result<StreamId, ApiError> {
    StreamId::from_hex(text.trim()).ok_or_else(|| {
        ApiError::bad_request("bad_stream_id", "a stream id is 32 bytes as 64 hex digits")
    })
}

/// `GET /v1/streams/{id}`, and with `?proof=true` the stream at the tip
/// block (or its absence) with its proof.
pub async fn stream(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: Result<Query<ProofQuery>, QueryRejection>,
) -> ApiResult {
    let proof = wants_proof(query)?;
    let id = parse_stream_id(&id)?;
    let (body, height) = {
        let st = s.state.read().expect("state lock");
        if proof {
            let answer = stream_answer(&st, &id)?;
            let stream = answer
                .record
                .as_deref()
                .map(Stream::from_record)
                .transpose()
                .map_err(|e| ApiError::internal("encode a stream record", e))?;
            let body = json!({
                "stream": id.to_hex(),
                "height": answer.header.height.0,
                "record": stream.as_ref().map(|r| stream_json(&id, r)),
                "proof": state_answer_json(&answer),
            });
            (body, st.height())
        } else {
            let stream = st.stream(&id).ok_or_else(|| {
                ApiError::not_found(
                    "unknown_stream",
                    format!("no open stream has id {id}; a closed stream's history is in its seller's transactions"),
                )
            })?;
            let mut body = stream_json(&id, stream);
            body["height"] = json!(st.height().0);
            (body, visible_height(&s, &st))
        }
    };
    wait_durable(&s, height).await?;
    Ok(Json(body))
}

/// `GET /v1/streams` query: every filter is optional and they all apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamsQuery {
    field: Option<String>,
    area: Option<String>,
    max_price: Option<u64>,
    min_epochs: Option<u64>,
    seller: Option<String>,
    owner: Option<String>,
    limit: Option<u64>,
    after: Option<String>,
}

/// A search, parsed and checked.
struct Search {
    field: Option<String>,
    area: Option<String>,
    max_price: Option<Amount>,
    min_epochs: u64,
    seller: Option<AccountId>,
    owner: Option<AccountId>,
    after: Option<StreamId>,
}

impl Search {
    fn parse(q: StreamsQuery) -> Result<Search, ApiError> {
        let bad = |what: &str| ApiError::bad_request("invalid_query", what.to_owned());
        if let Some(area) = &q.area {
            if !is_area(area) {
                return Err(bad(
                    "area is a geohash prefix of 1 to 12 characters (0-9, b-z but a, i, l, o)",
                ));
            }
        }
        if q.field
            .as_ref()
            .is_some_and(|f| f.is_empty() || f.len() > 32)
        {
            return Err(bad("field is a field name of 1 to 32 characters"));
        }
        Ok(Search {
            field: q.field,
            area: q.area,
            max_price: q.max_price.map(Amount::new),
            min_epochs: q.min_epochs.unwrap_or(0),
            seller: q
                .seller
                .as_deref()
                .map(|t| parse_account("seller", t))
                .transpose()?,
            owner: q
                .owner
                .as_deref()
                .map(|t| parse_account("owner", t))
                .transpose()?,
            after: q.after.as_deref().map(parse_stream_id).transpose()?,
        })
    }

    /// Whether `s` (named `id`) is one this search asks for.
    fn matches(&self, id: &StreamId, s: &Stream) -> bool {
        let t = &s.terms;
        self.after.is_none_or(|after| *id > after)
            && self.seller.is_none_or(|a| s.seller == a)
            && self.owner.is_none_or(|a| s.owner == a)
            && self.max_price.is_none_or(|p| t.price_per_epoch <= p)
            && self.field.as_deref().is_none_or(|f| t.field(f).is_some())
            // Areas overlap when one is a prefix of the other: a search for
            // `u0` finds a stream in `u0m`, and one for `u0m` a stream in `u0`.
            && self.area.as_deref().is_none_or(|a| {
                t.area.starts_with(a) || a.starts_with(t.area.as_str())
            })
            && s.delivered().0 >= self.min_epochs
    }
}

/// `GET /v1/streams?field=&area=&max_price=&min_epochs=&seller=&owner=&limit=&after=`:
/// open streams in id order, a page at a time (`next` is the `after` of the
/// next page).
pub async fn streams(
    State(s): State<Arc<Shared>>,
    query: Result<Query<StreamsQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = page_limit(q.limit, STREAMS_PAGE_DEFAULT, STREAMS_PAGE_MAX)?;
    let search = Search::parse(q)?;
    let (page, more, height) = {
        let st = s.state.read().expect("state lock");
        let mut found: Vec<(&StreamId, &Stream)> = st
            .streams()
            .filter(|(id, s)| search.matches(id, s))
            .collect();
        let more = found.len() > limit;
        if more {
            found.select_nth_unstable_by_key(limit, |(id, _)| **id);
            found.truncate(limit);
        }
        found.sort_unstable_by_key(|(id, _)| **id);
        let page: Vec<Value> = found.iter().map(|(id, s)| stream_json(id, s)).collect();
        (page, more, visible_height(&s, &st))
    };
    let next = more
        .then(|| {
            page.last()
                .and_then(|v| v["stream"].as_str().map(str::to_owned))
        })
        .flatten();
    wait_durable(&s, height).await?;
    Ok(Json(json!({
        "streams": page,
        "next": next,
        "height": height.0,
    })))
}
