//! `GET /accounts/{id}`: an account or device: balance, owner and limits,
//! its history with amounts and counterparties, a chart of what it spent and
//! earned, its channels, streams, contracts, offers, orders and reputation,
//! its state proof checked in the page, and live updates while watched.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::html::{esc, fields, thousands, url_part, Cell, Kind, Table};
use super::{answer, api_query, chart, csv_href, pick_csv, Out, Page};
use crate::http::{channels, market, query, resources, streams, ApiError};
use crate::node::Shared;

/// History entries on one page.
const HISTORY_PER_PAGE: u64 = 50;
/// Entries of other lists (channels, streams, holds…) shown.
const LIST_ROWS: u64 = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountPage {
    before: Option<String>,
    csv: Option<String>,
}

pub async fn page(
    State(s): State<Arc<Shared>>,
    Path(id): Path<String>,
    q: Result<Query<AccountPage>, QueryRejection>,
) -> Response {
    let out = account_out(&s, id, q).await;
    answer(&s, out)
}

/// Calls an API handler and keeps its JSON.
macro_rules! api {
    ($call:expr) => {
        $call.await?.0
    };
}

async fn account_out(
    s: &Arc<Shared>,
    id: String,
    q: Result<Query<AccountPage>, QueryRejection>,
) -> Result<Out, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let st = || State(Arc::clone(s));
    let account = api!(query::account(st(), Path(id), api_query(json!({}))));
    let did = account["id"].as_str().unwrap_or_default().to_owned();
    let history = api!(query::account_txs(
        st(),
        Path(did.clone()),
        api_query(json!({ "limit": HISTORY_PER_PAGE, "before": q.before })),
    ));
    let entries = history["transactions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let tables = lists(s, &did, &entries).await?;
    if let Some(csv) = q.csv.as_deref() {
        return pick_csv(csv, tables, &did);
    }
    let mut body = summary(&account);
    body.push_str(&format!(
        "<section id=\"state-check\" data-account=\"{d}\" data-result=\"pending\"><p>This page checks the \
account's state proof: its record against the state root of a block header signed by a sequencer of this \
network's genesis.</p><noscript>Checking needs JavaScript.</noscript></section>\
<p><button id=\"watch\" type=\"button\" data-account=\"{d}\">Stop watching</button> \
<span id=\"watch-status\">connecting…</span></p>",
        d = esc(&did)
    ));
    body.push_str(&flow_chart(s, &did, q.before.is_none()).await?);
    let here = |name: &str| {
        csv_href(
            &format!("/accounts/{}", url_part(&did)),
            &[("before", q.before.clone().unwrap_or_default())],
            name,
        )
    };
    for t in &tables {
        body.push_str(&format!(
            "<h2 id=\"list-{n}\">{}</h2>",
            heading(t.name),
            n = t.name
        ));
        if t.name == "history" {
            body.push_str(&older_link(&did, &history));
        }
        body.push_str(&t.html(&here(t.name), empty_note(t.name)));
    }
    let mut page = Page::new(if account["device"].is_null() {
        "Account"
    } else {
        "Device"
    });
    page.body = body;
    page.scripts.push("verify.js");
    Ok(Out::Page(page))
}

/// Balance, nonce, and for a device its owner, limit, spending and state.
fn summary(a: &Value) -> String {
    let d = &a["device"];
    let mut rows = vec![
        (
            "Account",
            "id",
            Cell::Text(a["id"].as_str().unwrap_or_default().to_owned()),
        ),
        (
            "Balance",
            "balance",
            Cell::from_json(a.get("balance"), Kind::Number),
        ),
        (
            "Nonce",
            "nonce",
            Cell::from_json(a.get("nonce"), Kind::Number),
        ),
        (
            "At height",
            "height",
            Cell::from_json(a.get("height"), Kind::Block),
        ),
    ];
    if !d.is_null() {
        rows.push((
            "Owner",
            "owner",
            Cell::from_json(d.get("owner"), Kind::Account),
        ));
        rows.push((
            "Limit per day",
            "per_day",
            match d.get("per_day") {
                Some(Value::Number(n)) => {
                    Cell::from_json(Some(&Value::Number(n.clone())), Kind::Number)
                }
                _ => Cell::Text("none".into()),
            },
        ));
        rows.push((
            "Spent today (UTC)",
            "spent_today",
            Cell::from_json(d.get("spent_today"), Kind::Number),
        ));
        rows.push((
            "Frozen",
            "frozen",
            Cell::Text(
                if d["frozen"].as_bool() == Some(true) {
                    "yes: it cannot send"
                } else {
                    "no"
                }
                .into(),
            ),
        ));
        rows.push((
            "Metadata",
            "metadata_hex",
            Cell::from_json(d.get("metadata_hex"), Kind::Text),
        ));
    }
    rows.push((
        "Messaging key",
        "messaging_key",
        Cell::from_json(a.get("messaging_key"), Kind::Id),
    ));
    fields("account", &rows)
}

fn heading(list: &str) -> &'static str {
    match list {
        "history" => "History",
        "channels" => "Channels",
        "streams" => "Data streams it sells",
        "holds_paying" => "Contracts it pays",
        "holds_paid" => "Contracts it is paid by",
        "offers" => "Offers it lists",
        "orders" => "Orders on the books",
        "leases" => "Leases",
        "reputation" => "Reputation as a provider",
        _ => "List",
    }
}

fn empty_note(list: &str) -> &'static str {
    match list {
        "history" => "No transaction yet.",
        _ => "None.",
    }
}

fn older_link(did: &str, history: &Value) -> String {
    match history["next"].as_str() {
        Some(next) => format!(
            "<p class=\"pager\"><a id=\"older\" rel=\"next\" href=\"/accounts/{}?before={}\">Older</a></p>",
            url_part(did),
            url_part(next)
        ),
        None => String::new(),
    }
}

/// Every list on the page, each downloadable as CSV.
async fn lists(s: &Arc<Shared>, did: &str, entries: &[Value]) -> Result<Vec<Table>, ApiError> {
    let st = || State(Arc::clone(s));
    let n = LIST_ROWS;
    let history = Table::from_json(
        "history",
        &[
            ("Block", "/height", Kind::Block),
            ("#", "/index", Kind::Number),
            ("Time (UTC)", "/timestamp_ms", Kind::Time),
            ("Transaction", "/tx_hash", Kind::Tx),
            ("Kind", "/kind", Kind::Text),
            ("Role", "/role", Kind::Text),
            ("Counterparty", "/counterparty", Kind::Account),
            ("Amount", "/amount", Kind::Number),
            ("Money", "/flow", Kind::Text),
        ],
        entries,
    );
    let chans = api!(channels::account_channels(
        st(),
        Path(did.to_owned()),
        api_query(json!({ "limit": n }))
    ));
    let channels = Table::from_json(
        "channels",
        &[
            ("Channel", "/id", Kind::Id),
            ("Role", "/role", Kind::Text),
            ("Payer", "/payer", Kind::Account),
            ("Payee", "/payee", Kind::Account),
            ("Deposit", "/deposit", Kind::Number),
            ("Claimed", "/claimed", Kind::Number),
            ("Status", "/status", Kind::Text),
            ("Expires (UTC)", "/expires_at_ms", Kind::Time),
        ],
        list(&chans, "channels"),
    );
    let sold = api!(streams::streams(
        st(),
        api_query(json!({ "seller": did, "limit": n }))
    ));
    let streams = super::market::streams_table(list(&sold, "streams"));
    let paying = api!(market::holds(
        st(),
        api_query(json!({ "payer": did, "limit": n }))
    ));
    let paid = api!(market::holds(
        st(),
        api_query(json!({ "payee": did, "limit": n }))
    ));
    let offers = api!(market::offers(
        st(),
        api_query(json!({ "provider": did, "limit": n }))
    ));
    let orders = api!(resources::orders(
        st(),
        api_query(json!({ "owner": did, "limit": n }))
    ));
    let bought = api!(resources::leases(
        st(),
        api_query(json!({ "buyer": did, "limit": n }))
    ));
    let provided = api!(resources::leases(
        st(),
        api_query(json!({ "provider": did, "limit": n }))
    ));
    let mut leases: Vec<Value> = list(&bought, "leases").to_vec();
    leases.extend(list(&provided, "leases").iter().cloned());
    let reputation = api!(market::reputations(
        st(),
        Path(did.to_owned()),
        api_query(json!({ "limit": n }))
    ));
    Ok(vec![
        history,
        channels,
        streams,
        super::market::holds_table("holds_paying", list(&paying, "holds")),
        super::market::holds_table("holds_paid", list(&paid, "holds")),
        super::market::offers_table(list(&offers, "offers")),
        super::market::orders_table(list(&orders, "orders")),
        super::market::leases_table(&leases),
        Table::from_json(
            "reputation",
            &[
                ("Category", "/category", Kind::Text),
                ("Score (ppm)", "/score_ppm", Kind::Number),
                ("Success (ppm)", "/success_ppm", Kind::Number),
                ("Released", "/released/count", Kind::Number),
                ("Late", "/late/count", Kind::Number),
                ("Withdrawn", "/withdrawn/count", Kind::Number),
                ("Lost", "/lost/count", Kind::Number),
                ("Distinct buyers", "/distinct_buyers", Kind::Number),
            ],
            list(&reputation, "reputations"),
        ),
    ])
}

/// The records under `key` in an API answer.
pub(super) fn list<'a>(answer: &'a Value, key: &str) -> &'a [Value] {
    answer[key].as_array().map_or(&[], Vec::as_slice)
}

/// Entries the chart reads at most: the account's newest.
const CHART_ENTRIES_MAX: usize = 2_000;

/// The spent/earned chart over the account's newest `CHART_ENTRIES_MAX`
/// history entries, read from the index, on the first page only.
async fn flow_chart(s: &Arc<Shared>, did: &str, first_page: bool) -> Result<String, ApiError> {
    if !first_page {
        return Ok(String::new());
    }
    let id = ting_api::parse_account("account id", did)?;
    let index = Arc::clone(&s.index);
    let read = tokio::task::spawn_blocking(move || {
        index.account_flows(
            &id,
            ting_core::Timestamp(0),
            CHART_ENTRIES_MAX.min(ting_core::limits::ACCOUNT_FLOWS_MAX),
        )
    })
    .await
    .map_err(|e| ApiError::internal("read from the disk", e))?
    .map_err(|e| ApiError::internal("read the index", e))?;
    let moved: Vec<(u64, chart::Flow, u64)> = read
        .entries
        .iter()
        .filter_map(|e| {
            let (flow, amount) = match (e.spent(), e.earned()) {
                (Some(a), _) => (chart::Flow::Spent, a),
                (_, Some(a)) => (chart::Flow::Earned, a),
                _ => return None,
            };
            Some((e.timestamp.0, flow, amount.base_units()))
        })
        .collect();
    let Some(f) = chart::flows(&moved) else {
        return Ok("<h2>Spent and earned</h2><p class=\"empty\">No transfer, mint, sweep, deposit or award in its recent history.</p>".into());
    };
    Ok(format!(
        "<h2>Spent and earned</h2><p>Over its newest {} transactions: <span data-stat=\"spent\">{}</span> spent, \
<span data-stat=\"earned\">{}</span> earned (amounts the transactions name; channel claims and stream payments \
are in the lists below).</p>{}",
        thousands(read.entries.len() as u64),
        thousands(total(&f.spent)),
        thousands(total(&f.earned)),
        chart::svg(&f)
    ))
}

fn total(values: &[u64]) -> u64 {
    values.iter().fold(0, |a, b| a.saturating_add(*b))
}
