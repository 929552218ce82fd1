//! The service market over the API (docs/api.md §6.13–6.15): finding
//! listed offers by category, area, provider and reputation; reading one
//! offer or one escrow hold, and listing open holds by payer, payee and
//! phase; a provider's reputation in each category. Each single record may
//! be read with its state proof (`?proof=true`), absences proved too.
//!
//! As with streams (`streams.rs`), offers, open holds and reputations live
//! in the ledger's state: a read takes the state's read lock, walks what it
//! needs once, and waits until the height it saw is durable. Deposits and
//! the per-account caps bound how many offers and holds there are. A
//! provider's reputations are bounded only by the holds that ended between
//! unrelated parties, so they come a page at a time like everything else.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use ting_api::market::{hold_json, offer_json, reputation_json};
use ting_api::parse_account;
use ting_api::state::state_answer_json;
use ting_core::market::reputation::SCORE_PPM_MAX;
use ting_core::market::{
    area_serves, category_covers, is_category, Hold, HoldId, HoldPhase, Offer, OfferId, Reputation,
};
use ting_core::state_proof::StateAnswer;
use ting_core::stream::terms::is_area;
use ting_core::AccountId;
use ting_ledger::State as Ledger;

use super::error::ApiError;
use super::proofs::{answer, wants_proof, ProofQuery};
use super::query::{page_limit, visible_height, wait_durable};
use crate::node::Shared;

/// Records in a page when the client does not say.
pub(super) const PAGE_DEFAULT: usize = 50;
/// Most offers, holds or reputations in one page.
pub const MARKET_PAGE_MAX: usize = 200;

pub(super) type ApiResult = Result<Json<Value>, ApiError>;

pub(super) fn invalid_query(field: &str, why: &str) -> ApiError {
    ApiError::bad_request("invalid_query", format!("{field}: {why}"))
}

pub(super) fn query_rejected(e: QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", e.body_text())
}

fn parse_offer_id(field: &str, text: &str) -> Result<OfferId, ApiError> {
    OfferId::from_hex(text.trim()).ok_or_else(|| {
        ApiError::bad_request(
            "bad_offer_id",
            format!("{field}: an offer id is 32 bytes as 64 hex digits"),
        )
    })
}

fn parse_hold_id(field: &str, text: &str) -> Result<HoldId, ApiError> {
    HoldId::from_hex(text.trim()).ok_or_else(|| {
        ApiError::bad_request(
            "bad_hold_id",
            format!("{field}: a hold id is 32 bytes as 64 hex digits"),
        )
    })
}

/// A service category named `field`; the text is not echoed back.
pub(super) fn parse_category(field: &str, text: &str) -> Result<String, ApiError> {
    if is_category(text) {
        return Ok(text.to_owned());
    }
    Err(ApiError::bad_request(
        "bad_category",
        format!(
            "{field}: a category is 1 to 8 dot-separated parts of a-z, 0-9 and _, at most 48 bytes"
        ),
    ))
}

pub(super) fn parse_accounts(
    field: &str,
    text: Option<&str>,
) -> Result<Option<AccountId>, ApiError> {
    Ok(text.map(|t| parse_account(field, t)).transpose()?)
}

/// The first `limit` of `found` in key order, and whether more matched.
fn first_page<K: Ord + Copy, V>(mut found: Vec<(K, V)>, limit: usize) -> (Vec<(K, V)>, bool) {
    let more = found.len() > limit;
    if more {
        found.select_nth_unstable_by_key(limit, |(k, _)| *k);
        found.truncate(limit);
    }
    found.sort_unstable_by_key(|(k, _)| *k);
    (found, more)
}

/// One page of `found`: the first `limit` by key, each shown by `item`,
/// and the next page's cursor (`cursor` of the last key shown) when more
/// remain.
pub(super) fn page<K: Ord + Copy, V>(
    found: Vec<(K, V)>,
    limit: usize,
    cursor: impl Fn(&K) -> String,
    item: impl Fn(&K, &V) -> Value,
) -> (Vec<Value>, Option<String>) {
    let (found, more) = first_page(found, limit);
    let next = more.then(|| found.last().map(|(k, _)| cursor(k))).flatten();
    (found.iter().map(|(k, v)| item(k, v)).collect(), next)
}

/// The proved record decoded: the node wrote it, so failing is the node's fault.
pub(super) fn decoded<T, E: std::fmt::Display>(
    answer: &StateAnswer,
    decode: fn(&[u8]) -> Result<T, E>,
    what: &str,
) -> Result<Option<T>, ApiError> {
    answer
        .record
        .as_deref()
        .map(decode)
        .transpose()
        .map_err(|e| ApiError::internal(what, e))
}

/// `{key..., "height", "record", "proof"}`: a proved read's answer.
pub(super) fn proved_body(mut keys: Value, answer: &StateAnswer, record: Option<Value>) -> Value {
    keys["height"] = json!(answer.header.height.0);
    keys["record"] = record.unwrap_or(Value::Null);
    keys["proof"] = state_answer_json(answer);
    keys
}

// ---- Offers ----

fn proved_offer(st: &Ledger, id: &OfferId) -> Result<Value, ApiError> {
    let answer = answer(st, st.prove_offer(id))?;
    let offer = decoded(&answer, Offer::from_record, "decode an offer record")?;
    // The proof covers the offer only: its provider's reputation is proved
    // on its own (`/v1/reputation/{provider}/{category}?proof=true`).
    let record = offer.map(|o| {
        let mut v = offer_json(id, &o, None);
        if let Some(fields) = v.as_object_mut() {
            fields.remove("reputation");
        }
        v
    });
    Ok(proved_body(
        json!({ "offer": id.to_hex() }),
        &answer,
        record,
    ))
}

fn current_offer(st: &Ledger, id: &OfferId) -> Result<Value, ApiError> {
    let offer = st.offer(id).ok_or_else(|| {
        ApiError::not_found(
            "unknown_offer",
            format!("no listed offer has id {id}; a closed offer's history is in its provider's transactions"),
        )
    })?;
    let reputation = st.reputation(&offer.provider, &offer.terms.category);
    let mut body = offer_json(id, offer, reputation);
    body["height"] = json!(st.height().0);
    Ok(body)
}

/// `GET /v1/offers/{id}`: a listed offer with its provider's reputation in
/// its category; with `?proof=true` the offer at the tip block (or its
/// absence) with its proof.
pub async fn offer(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: Result<Query<ProofQuery>, QueryRejection>,
) -> ApiResult {
    let proof = wants_proof(query)?;
    let id = parse_offer_id("id", &id)?;
    let (body, height) = {
        let st = s.state.read().expect("state lock");
        if proof {
            (proved_offer(&st, &id)?, st.height())
        } else {
            (current_offer(&st, &id)?, visible_height(&s, &st))
        }
    };
    wait_durable(&s, height).await?;
    Ok(Json(body))
}

/// `GET /v1/offers` query: every filter is optional and they all apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffersQuery {
    category: Option<String>,
    area: Option<String>,
    min_score_ppm: Option<u32>,
    provider: Option<String>,
    limit: Option<u64>,
    after: Option<String>,
}

/// An offer search, parsed and checked.
struct OfferSearch {
    category: Option<String>,
    area: Option<String>,
    min_score_ppm: u32,
    provider: Option<AccountId>,
    after: Option<OfferId>,
}

impl OfferSearch {
    fn parse(q: OffersQuery) -> Result<OfferSearch, ApiError> {
        if q.area.as_deref().is_some_and(|a| !is_area(a)) {
            return Err(invalid_query(
                "area",
                "a geohash of 1 to 12 characters (0-9, b-z but a, i, l, o)",
            ));
        }
        let min_score_ppm = q.min_score_ppm.unwrap_or(0);
        if min_score_ppm > SCORE_PPM_MAX {
            return Err(invalid_query(
                "min_score_ppm",
                "a score in parts per million, 0 to 1000000",
            ));
        }
        Ok(OfferSearch {
            category: q
                .category
                .as_deref()
                .map(|c| parse_category("category", c))
                .transpose()?,
            area: q.area,
            min_score_ppm,
            provider: parse_accounts("provider", q.provider.as_deref())?,
            after: q
                .after
                .as_deref()
                .map(|a| parse_offer_id("after", a))
                .transpose()?,
        })
    }

    /// Whether `o` (named `id`) is one this search asks for.
    fn matches(&self, st: &Ledger, id: &OfferId, o: &Offer) -> bool {
        let t = &o.terms;
        self.after.is_none_or(|after| *id > after)
            && self.provider.is_none_or(|p| o.provider == p)
            && self
                .category
                .as_deref()
                .is_none_or(|c| category_covers(c, &t.category))
            // The offer's area (a prefix, empty for anywhere) holds the place asked about.
            && self.area.as_deref().is_none_or(|a| area_serves(&t.area, a))
            // No recorded outcome scores 0.
            && st
                .reputation(&o.provider, &t.category)
                .map_or(0, Reputation::score_ppm)
                >= self.min_score_ppm
    }
}

/// `GET /v1/offers?category=&area=&min_score_ppm=&provider=&limit=&after=`:
/// listed offers in id order, each with its provider's reputation in its
/// category, a page at a time (`next` is the `after` of the next page).
pub async fn offers(
    State(s): State<Arc<Shared>>,
    query: Result<Query<OffersQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(query_rejected)?;
    let limit = page_limit(q.limit, PAGE_DEFAULT, MARKET_PAGE_MAX)?;
    let search = OfferSearch::parse(q)?;
    let (page, next, height) = {
        let st = s.state.read().expect("state lock");
        let found: Vec<(&OfferId, &Offer)> = st
            .offers()
            .filter(|(id, o)| search.matches(&st, id, o))
            .collect();
        let (page, next) = page(
            found,
            limit,
            |id| id.to_hex(),
            |id, o| offer_json(id, o, st.reputation(&o.provider, &o.terms.category)),
        );
        (page, next, visible_height(&s, &st))
    };
    wait_durable(&s, height).await?;
    Ok(Json(json!({
        "offers": page,
        "next": next,
        "height": height.0,
    })))
}

// ---- Holds ----

fn proved_hold(st: &Ledger, id: &HoldId) -> Result<Value, ApiError> {
    let answer = answer(st, st.prove_hold(id))?;
    let hold = decoded(&answer, Hold::from_record, "decode a hold record")?;
    let record = hold.map(|h| hold_json(id, &h));
    Ok(proved_body(json!({ "hold": id.to_hex() }), &answer, record))
}

fn current_hold(st: &Ledger, id: &HoldId) -> Result<Value, ApiError> {
    let hold = st.hold(id).ok_or_else(|| {
        ApiError::not_found(
            "unknown_hold",
            format!(
                "no open hold has id {id}; an ended hold's history is in its payer's transactions"
            ),
        )
    })?;
    let mut body = hold_json(id, hold);
    body["height"] = json!(st.height().0);
    Ok(body)
}

/// `GET /v1/holds/{id}`: an open hold; with `?proof=true` the hold at the
/// tip block (or its absence: never created, or ended) with its proof.
pub async fn hold(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: Result<Query<ProofQuery>, QueryRejection>,
) -> ApiResult {
    let proof = wants_proof(query)?;
    let id = parse_hold_id("id", &id)?;
    let (body, height) = {
        let st = s.state.read().expect("state lock");
        if proof {
            (proved_hold(&st, &id)?, st.height())
        } else {
            (current_hold(&st, &id)?, visible_height(&s, &st))
        }
    };
    wait_durable(&s, height).await?;
    Ok(Json(body))
}

/// `GET /v1/holds` query: every filter is optional and they all apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldsQuery {
    payer: Option<String>,
    payee: Option<String>,
    phase: Option<String>,
    limit: Option<u64>,
    after: Option<String>,
}

/// A hold search, parsed and checked.
struct HoldSearch {
    payer: Option<AccountId>,
    payee: Option<AccountId>,
    phase: Option<HoldPhase>,
    after: Option<HoldId>,
}

fn parse_phase(text: &str) -> Result<HoldPhase, ApiError> {
    [HoldPhase::Open, HoldPhase::Accepted, HoldPhase::Disputed]
        .into_iter()
        .find(|p| p.name() == text)
        .ok_or_else(|| invalid_query("phase", "open, accepted or disputed"))
}

impl HoldSearch {
    fn parse(q: HoldsQuery) -> Result<HoldSearch, ApiError> {
        Ok(HoldSearch {
            payer: parse_accounts("payer", q.payer.as_deref())?,
            payee: parse_accounts("payee", q.payee.as_deref())?,
            phase: q.phase.as_deref().map(parse_phase).transpose()?,
            after: q
                .after
                .as_deref()
                .map(|a| parse_hold_id("after", a))
                .transpose()?,
        })
    }

    fn matches(&self, id: &HoldId, h: &Hold) -> bool {
        self.after.is_none_or(|after| *id > after)
            && self.payer.is_none_or(|p| h.payer == p)
            && self.payee.is_none_or(|p| h.terms.payee == p)
            && self.phase.is_none_or(|p| h.phase == p)
    }
}

/// `GET /v1/holds?payer=&payee=&phase=&limit=&after=`: open holds in id
/// order, a page at a time.
pub async fn holds(
    State(s): State<Arc<Shared>>,
    query: Result<Query<HoldsQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(query_rejected)?;
    let limit = page_limit(q.limit, PAGE_DEFAULT, MARKET_PAGE_MAX)?;
    let search = HoldSearch::parse(q)?;
    let (page, next, height) = {
        let st = s.state.read().expect("state lock");
        let found: Vec<(&HoldId, &Hold)> =
            st.holds().filter(|(id, h)| search.matches(id, h)).collect();
        let (page, next) = page(found, limit, |id| id.to_hex(), |id, h| hold_json(id, h));
        (page, next, visible_height(&s, &st))
    };
    wait_durable(&s, height).await?;
    Ok(Json(json!({
        "holds": page,
        "next": next,
        "height": height.0,
    })))
}

// ---- Reputation ----

/// `GET /v1/reputation/{provider}` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReputationsQuery {
    category: Option<String>,
    limit: Option<u64>,
    after: Option<String>,
}

/// `GET /v1/reputation/{provider}?category=&limit=&after=`: the provider's
/// record in every category (under `category` when given), in category
/// order, a page at a time (`next` is the last category of the page).
pub async fn reputations(
    State(s): State<Arc<Shared>>,
    Path(provider): Path<String>,
    query: Result<Query<ReputationsQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(query_rejected)?;
    let limit = page_limit(q.limit, PAGE_DEFAULT, MARKET_PAGE_MAX)?;
    let provider = parse_account("provider", &provider)?;
    let prefix = match q.category.as_deref() {
        Some(c) => parse_category("category", c)?,
        None => String::new(),
    };
    let after = q
        .after
        .as_deref()
        .map(|a| parse_category("after", a))
        .transpose()?;
    let (page, next, height) = {
        let st = s.state.read().expect("state lock");
        let found: Vec<(&str, &Reputation)> = st
            .reputations_of(&provider, &prefix)
            .filter(|r| after.as_deref().is_none_or(|a| r.category.as_str() > a))
            .map(|r| (r.category.as_str(), r))
            .collect();
        let (page, next) = page(found, limit, |c| (*c).to_owned(), |_, r| reputation_json(r));
        (page, next, visible_height(&s, &st))
    };
    wait_durable(&s, height).await?;
    Ok(Json(json!({
        "provider": provider.to_did(),
        "reputations": page,
        "next": next,
        "height": height.0,
    })))
}

fn proved_reputation(st: &Ledger, provider: &AccountId, category: &str) -> Result<Value, ApiError> {
    let answer = answer(st, st.prove_reputation(provider, category))?;
    let rep = decoded(
        &answer,
        Reputation::from_record,
        "decode a reputation record",
    )?;
    let keys = json!({ "provider": provider.to_did(), "category": category });
    Ok(proved_body(
        keys,
        &answer,
        rep.as_ref().map(reputation_json),
    ))
}

fn current_reputation(
    st: &Ledger,
    provider: &AccountId,
    category: &str,
) -> Result<Value, ApiError> {
    let rep = st.reputation(provider, category).ok_or_else(|| {
        ApiError::not_found(
            "unknown_reputation",
            format!("{provider} has no recorded outcome in {category}: no accepted hold of it in that category has ended between unrelated parties"),
        )
    })?;
    let mut body = reputation_json(rep);
    body["height"] = json!(st.height().0);
    Ok(body)
}

/// `GET /v1/reputation/{provider}/{category}`: the provider's record in
/// exactly this category; with `?proof=true` the record at the tip block (or
/// its absence) with its proof.
pub async fn reputation(
    State(s): State<Arc<Shared>>,
    Path((provider, category)): Path<(String, String)>,
    query: Result<Query<ProofQuery>, QueryRejection>,
) -> ApiResult {
    let proof = wants_proof(query)?;
    let provider = parse_account("provider", &provider)?;
    let category = parse_category("category", &category)?;
    let (body, height) = {
        let st = s.state.read().expect("state lock");
        if proof {
            (proved_reputation(&st, &provider, &category)?, st.height())
        } else {
            (
                current_reputation(&st, &provider, &category)?,
                visible_height(&s, &st),
            )
        }
    };
    wait_durable(&s, height).await?;
    Ok(Json(body))
}
