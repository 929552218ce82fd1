//! Resources on order books over the API (docs/api.md §6.16–6.18): the
//! registered classes, one class's book (depth and last fills), resting
//! orders by owner and class, open leases by buyer and provider. A class,
//! an order or a lease may be read with its state proof (`?proof=true`),
//! absences proved too; the book is market data, never proved
//! (`crate::books`).
//!
//! As with the service market (`market.rs`), all of it lives in the
//! ledger's state: a read takes the state's read lock, walks what it needs
//! once, and waits until the height it saw is durable. Issuers alone
//! register classes; deposits and the per-account caps (32 resting orders,
//! 64 open leases a buyer) bound the orders and leases.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use ting_api::resource::{class_json, lease_json, order_json};
use ting_core::market::is_category;
use ting_core::resource::{Lease, LeaseId, Order, OrderId, ResourceClass};
use ting_core::AccountId;
use ting_ledger::State as Ledger;

use super::error::ApiError;
use super::market::{
    decoded, invalid_query, page, parse_accounts, proved_body, query_rejected, ApiResult,
    MARKET_PAGE_MAX, PAGE_DEFAULT,
};
use super::proofs::{answer, wants_proof, ProofQuery};
use super::query::{page_limit, visible_height, wait_durable};
use crate::books::{book_json, BOOK_LEVELS_DEFAULT, BOOK_LEVELS_MAX};
use crate::node::Shared;

/// A class name named `field`; the text is not echoed back.
fn parse_class(field: &str, text: &str) -> Result<String, ApiError> {
    if is_category(text) {
        return Ok(text.to_owned());
    }
    Err(ApiError::bad_request(
        "bad_class",
        format!(
            "{field}: a class name is 1 to 8 dot-separated parts of a-z, 0-9 and _, at most 48 bytes"
        ),
    ))
}

fn parse_order_id(field: &str, text: &str) -> Result<OrderId, ApiError> {
    OrderId::from_hex(text.trim()).ok_or_else(|| {
        ApiError::bad_request(
            "bad_order_id",
            format!("{field}: an order id is 32 bytes as 64 hex digits"),
        )
    })
}

fn parse_lease_id(field: &str, text: &str) -> Result<LeaseId, ApiError> {
    LeaseId::from_hex(text.trim()).ok_or_else(|| {
        ApiError::bad_request(
            "bad_lease_id",
            format!("{field}: a lease id is 32 bytes as 64 hex digits"),
        )
    })
}

fn unknown_class(name: &str) -> ApiError {
    ApiError::not_found(
        "unknown_class",
        format!("no resource class named {name} is registered; an issuer registers one with class_register"),
    )
}

/// Answers `body` once `height` is durable.
async fn durable(s: &Shared, (body, height): (Value, ting_core::BlockHeight)) -> ApiResult {
    wait_durable(s, height).await?;
    Ok(Json(body))
}

// ---- Classes ----

/// `GET /v1/classes` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassesQuery {
    limit: Option<u64>,
    after: Option<String>,
}

/// `GET /v1/classes?limit=&after=`: the registered classes in name order,
/// a page at a time (`next` is the last name of the page).
pub async fn classes(
    State(s): State<Arc<Shared>>,
    query: Result<Query<ClassesQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(query_rejected)?;
    let limit = page_limit(q.limit, PAGE_DEFAULT, MARKET_PAGE_MAX)?;
    let after = q
        .after
        .as_deref()
        .map(|a| parse_class("after", a))
        .transpose()?;
    let answer = {
        let st = s.state.read().expect("state lock");
        let found: Vec<(&str, &ResourceClass)> = st
            .classes()
            .filter(|c| after.as_deref().is_none_or(|a| c.name.as_str() > a))
            .map(|c| (c.name.as_str(), c))
            .collect();
        let (page, next) = page(found, limit, |n| (*n).to_owned(), |_, c| class_json(c));
        let height = visible_height(&s, &st);
        let body = json!({ "classes": page, "next": next, "height": height.0 });
        (body, height)
    };
    durable(&s, answer).await
}

fn proved_class(st: &Ledger, name: &str) -> Result<Value, ApiError> {
    let answer = answer(st, st.prove_class(name))?;
    let class = decoded(&answer, ResourceClass::from_record, "decode a class record")?;
    let record = class.as_ref().map(class_json);
    Ok(proved_body(json!({ "class": name }), &answer, record))
}

/// `GET /v1/classes/{name}`: a registered class, its unit, lease length
/// and trading counters; with `?proof=true` the class at the tip block (or
/// its absence) with its proof.
pub async fn class(
    State(s): State<Arc<Shared>>,
    Path(name): Path<String>,
    query: Result<Query<ProofQuery>, QueryRejection>,
) -> ApiResult {
    let proof = wants_proof(query)?;
    let name = parse_class("name", &name)?;
    let answer = {
        let st = s.state.read().expect("state lock");
        if proof {
            (proved_class(&st, &name)?, st.height())
        } else {
            let class = st.class(&name).ok_or_else(|| unknown_class(&name))?;
            let mut body = class_json(class);
            body["height"] = json!(st.height().0);
            (body, visible_height(&s, &st))
        }
    };
    durable(&s, answer).await
}

// ---- Books ----

/// `GET /v1/books/{class}` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookQuery {
    levels: Option<u64>,
}

/// `GET /v1/books/{class}?levels=`: up to `levels` price levels a side
/// (default 10, at most 50) and the last fills, newest first. Market data,
/// not proved (`crate::books`).
pub async fn book(
    State(s): State<Arc<Shared>>,
    Path(class): Path<String>,
    query: Result<Query<BookQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(query_rejected)?;
    let class = parse_class("class", &class)?;
    let levels = match q.levels {
        None => BOOK_LEVELS_DEFAULT,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=BOOK_LEVELS_MAX).contains(n))
            .ok_or_else(|| {
                invalid_query(
                    "levels",
                    &format!("price levels a side, 1 to {BOOK_LEVELS_MAX}, not {n}"),
                )
            })?,
    };
    let answer = {
        let st = s.state.read().expect("state lock");
        let trades = ting_core::limits::BOOK_TRADES_KEPT;
        let body = book_json(&st, &class, levels, trades).ok_or_else(|| unknown_class(&class))?;
        (body, visible_height(&s, &st))
    };
    durable(&s, answer).await
}

// ---- Orders ----

fn proved_order(st: &Ledger, id: &OrderId) -> Result<Value, ApiError> {
    let answer = answer(st, st.prove_order(id))?;
    let order = decoded(&answer, Order::from_record, "decode an order record")?;
    let record = order.map(|o| order_json(id, &o));
    Ok(proved_body(
        json!({ "order": id.to_hex() }),
        &answer,
        record,
    ))
}

/// `GET /v1/orders/{id}`: a resting order; with `?proof=true` the order at
/// the tip block (or its absence: never placed, or ended) with its proof.
pub async fn order(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: Result<Query<ProofQuery>, QueryRejection>,
) -> ApiResult {
    let proof = wants_proof(query)?;
    let id = parse_order_id("id", &id)?;
    let plain = |st: &Ledger| {
        let order = st.order(&id).ok_or_else(|| {
            ApiError::not_found(
                "unknown_order",
                format!("no order with id {id} rests on a book: never placed, or filled, cancelled or expired and ended; its history is in its owner's transactions"),
            )
        })?;
        Ok(order_json(&id, order))
    };
    one_record(&s, proof, |st| proved_order(st, &id), plain).await
}

/// Answers one record: at the tip block with its proof, or as it stands
/// (with the height it stands at).
async fn one_record(
    s: &Arc<Shared>,
    proof: bool,
    proved: impl FnOnce(&Ledger) -> Result<Value, ApiError>,
    plain: impl FnOnce(&Ledger) -> Result<Value, ApiError>,
) -> ApiResult {
    let answer = {
        let st = s.state.read().expect("state lock");
        if proof {
            (proved(&st)?, st.height())
        } else {
            let mut body = plain(&st)?;
            body["height"] = json!(st.height().0);
            (body, visible_height(s, &st))
        }
    };
    durable(s, answer).await
}

/// `GET /v1/orders` query: every filter is optional and they all apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
    owner: Option<String>,
    class: Option<String>,
    limit: Option<u64>,
    after: Option<String>,
}

/// `GET /v1/orders?owner=&class=&limit=&after=`: resting orders in id
/// order, a page at a time (`next` is the `after` of the next page).
pub async fn orders(
    State(s): State<Arc<Shared>>,
    query: Result<Query<OrdersQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(query_rejected)?;
    let limit = page_limit(q.limit, PAGE_DEFAULT, MARKET_PAGE_MAX)?;
    let owner: Option<AccountId> = parse_accounts("owner", q.owner.as_deref())?;
    let class = q
        .class
        .as_deref()
        .map(|c| parse_class("class", c))
        .transpose()?;
    let after = q
        .after
        .as_deref()
        .map(|a| parse_order_id("after", a))
        .transpose()?;
    let matches = |id: &OrderId, o: &Order| {
        after.is_none_or(|a| *id > a)
            && owner.is_none_or(|w| o.owner == w)
            && class.as_deref().is_none_or(|c| o.terms.class == c)
    };
    let answer = {
        let st = s.state.read().expect("state lock");
        let found: Vec<(&OrderId, &Order)> = st.orders().filter(|(id, o)| matches(id, o)).collect();
        let (page, next) = page(found, limit, |id| id.to_hex(), |id, o| order_json(id, o));
        let height = visible_height(&s, &st);
        let body = json!({ "orders": page, "next": next, "height": height.0 });
        (body, height)
    };
    durable(&s, answer).await
}

// ---- Leases ----

fn proved_lease(st: &Ledger, id: &LeaseId) -> Result<Value, ApiError> {
    let answer = answer(st, st.prove_lease(id))?;
    let lease = decoded(&answer, Lease::from_record, "decode a lease record")?;
    let record = lease.map(|l| lease_json(id, &l));
    Ok(proved_body(
        json!({ "lease": id.to_hex() }),
        &answer,
        record,
    ))
}

/// `GET /v1/leases/{id}`: an open lease; with `?proof=true` the lease at
/// the tip block (or its absence: never made, or ended) with its proof.
pub async fn lease(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: Result<Query<ProofQuery>, QueryRejection>,
) -> ApiResult {
    let proof = wants_proof(query)?;
    let id = parse_lease_id("id", &id)?;
    let plain = |st: &Ledger| {
        let lease = st.lease(&id).ok_or_else(|| {
            ApiError::not_found(
                "unknown_lease",
                format!("no open lease has id {id}: never made, or ended; its history is in its buyer's and provider's transactions"),
            )
        })?;
        Ok(lease_json(&id, lease))
    };
    one_record(&s, proof, |st| proved_lease(st, &id), plain).await
}

/// `GET /v1/leases` query: every filter is optional and they all apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeasesQuery {
    buyer: Option<String>,
    provider: Option<String>,
    class: Option<String>,
    limit: Option<u64>,
    after: Option<String>,
}

/// `GET /v1/leases?buyer=&provider=&class=&limit=&after=`: open leases in
/// id order, a page at a time.
pub async fn leases(
    State(s): State<Arc<Shared>>,
    query: Result<Query<LeasesQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(query_rejected)?;
    let limit = page_limit(q.limit, PAGE_DEFAULT, MARKET_PAGE_MAX)?;
    let buyer = parse_accounts("buyer", q.buyer.as_deref())?;
    let provider = parse_accounts("provider", q.provider.as_deref())?;
    let class = q
        .class
        .as_deref()
        .map(|c| parse_class("class", c))
        .transpose()?;
    let after = q
        .after
        .as_deref()
        .map(|a| parse_lease_id("after", a))
        .transpose()?;
    let matches = |id: &LeaseId, l: &Lease| {
        after.is_none_or(|a| *id > a)
            && buyer.is_none_or(|b| l.buyer == b)
            && provider.is_none_or(|p| l.provider == p)
            && class.as_deref().is_none_or(|c| l.class == c)
    };
    let answer = {
        let st = s.state.read().expect("state lock");
        let found: Vec<(&LeaseId, &Lease)> = st.leases().filter(|(id, l)| matches(id, l)).collect();
        let (page, next) = page(found, limit, |id| id.to_hex(), |id, l| lease_json(id, l));
        let height = visible_height(&s, &st);
        let body = json!({ "leases": page, "next": next, "height": height.0 });
        (body, height)
    };
    durable(&s, answer).await
}
