//! The market and streams pages: offers, open contracts (holds), resource
//! classes with their order books and last trades, resting orders and
//! leases; data streams and what they earned.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::account::list;
use super::html::{esc, Kind, Table};
use super::{answer, api_query, csv_href, pick_csv, Out, Page};
use crate::http::{market, resources, streams as stream_api, ApiError};
use crate::node::Shared;

/// Rows of each list (the API's page).
const ROWS: u64 = 100;
/// Classes whose books are shown on the market page.
const BOOKS_SHOWN: u64 = 20;
/// Price levels a side shown per book.
const BOOK_LEVELS: u64 = 5;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListPage {
    csv: Option<String>,
}

macro_rules! api {
    ($call:expr) => {
        $call.await?.0
    };
}

pub fn offers_table(records: &[Value]) -> Table {
    Table::from_json(
        "offers",
        &[
            ("Offer", "/offer", Kind::Id),
            ("Provider", "/provider", Kind::Account),
            ("Category", "/terms/category", Kind::Text),
            ("Area", "/terms/area", Kind::Text),
            ("Price", "/terms/price", Kind::Number),
            ("Delivery (ms)", "/terms/delivery_ms", Kind::Number),
            ("Score (ppm)", "/reputation/score_ppm", Kind::Number),
            ("Listed (UTC)", "/opened_at_ms", Kind::Time),
        ],
        records,
    )
}

pub fn holds_table(name: &'static str, records: &[Value]) -> Table {
    Table::from_json(
        name,
        &[
            ("Contract", "/hold", Kind::Id),
            ("Payer", "/payer", Kind::Account),
            ("Payee", "/terms/payee", Kind::Account),
            ("Category", "/terms/category", Kind::Text),
            ("Amount", "/terms/amount", Kind::Number),
            ("Phase", "/phase", Kind::Text),
            ("Release by", "/terms/rule/kind", Kind::Text),
            ("Deadline (UTC)", "/terms/deadline", Kind::Time),
        ],
        records,
    )
}

pub fn orders_table(records: &[Value]) -> Table {
    Table::from_json(
        "orders",
        &[
            ("Order", "/order", Kind::Id),
            ("Owner", "/owner", Kind::Account),
            ("Class", "/terms/class", Kind::Text),
            ("Side", "/terms/side", Kind::Text),
            ("Price", "/terms/price", Kind::Number),
            ("Remaining", "/remaining", Kind::Number),
            ("Fills", "/fills", Kind::Number),
            ("Expires (UTC)", "/terms/expires_at", Kind::Time),
        ],
        records,
    )
}

pub fn leases_table(records: &[Value]) -> Table {
    Table::from_json(
        "leases",
        &[
            ("Lease", "/lease", Kind::Id),
            ("Class", "/class", Kind::Text),
            ("Buyer", "/buyer", Kind::Account),
            ("Provider", "/provider", Kind::Account),
            ("Price", "/price", Kind::Number),
            ("Quantity", "/quantity", Kind::Number),
            ("Delivered", "/delivered", Kind::Number),
            ("Ends (UTC)", "/ends_at_ms", Kind::Time),
        ],
        records,
    )
}

pub fn streams_table(records: &[Value]) -> Table {
    Table::from_json(
        "streams",
        &[
            ("Stream", "/stream", Kind::Id),
            ("Seller", "/seller", Kind::Account),
            ("Owner", "/owner", Kind::Account),
            ("Area", "/terms/area", Kind::Text),
            ("Price per epoch", "/terms/price_per_epoch", Kind::Number),
            ("Epochs sold", "/delivered/epochs", Kind::Number),
            ("Earned", "/delivered/paid", Kind::Number),
            ("Opened (UTC)", "/opened_at_ms", Kind::Time),
        ],
        records,
    )
}

/// `GET /market`.
pub async fn page(
    State(s): State<Arc<Shared>>,
    q: Result<Query<ListPage>, QueryRejection>,
) -> Response {
    let out = market_out(&s, q).await;
    answer(&s, out)
}

async fn market_out(
    s: &Arc<Shared>,
    q: Result<Query<ListPage>, QueryRejection>,
) -> Result<Out, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let st = || State(Arc::clone(s));
    let offers = api!(market::offers(st(), api_query(json!({ "limit": ROWS }))));
    let holds = api!(market::holds(st(), api_query(json!({ "limit": ROWS }))));
    let calls = api!(crate::http::calls::calls(
        st(),
        api_query(json!({ "limit": ROWS }))
    ));
    let classes = api!(resources::classes(
        st(),
        api_query(json!({ "limit": BOOKS_SHOWN }))
    ));
    let orders = api!(resources::orders(st(), api_query(json!({ "limit": ROWS }))));
    let leases = api!(resources::leases(st(), api_query(json!({ "limit": ROWS }))));
    let class_list = list(&classes, "classes");
    let mut books = Vec::new();
    let mut trades: Vec<Value> = Vec::new();
    for class in class_list {
        let Some(name) = class["name"].as_str() else {
            continue;
        };
        let book = api!(resources::book(
            st(),
            Path(name.to_owned()),
            api_query(json!({ "levels": BOOK_LEVELS }))
        ));
        for t in list(&book, "last_trades") {
            let mut t = t.clone();
            t["class"] = json!(name);
            trades.push(t);
        }
        books.push(book);
    }
    trades.sort_by_key(|t| std::cmp::Reverse(t["at_ms"].as_u64().unwrap_or(0)));
    let tables = vec![
        Table::from_json(
            "calls",
            &[
                ("Call", "/call", Kind::Id),
                ("Buyer", "/buyer", Kind::Account),
                ("Category", "/category", Kind::Text),
                ("Area", "/area", Kind::Text),
                ("Up to", "/max_price", Kind::Number),
                ("Answers by (UTC)", "/answer_by_ms", Kind::Time),
                ("Deliver by (UTC)", "/deliver_by_ms", Kind::Time),
                ("Release by", "/rule/kind", Kind::Text),
                ("What is needed", "/spec", Kind::Text),
            ],
            list(&calls, "calls"),
        ),
        offers_table(list(&offers, "offers")),
        holds_table("holds", list(&holds, "holds")),
        Table::from_json(
            "classes",
            &[
                ("Class", "/name", Kind::Text),
                ("Unit", "/unit", Kind::Text),
                ("Lease (ms)", "/lease_ms", Kind::Number),
                ("Orders placed", "/orders_placed", Kind::Number),
                ("Traded", "/traded", Kind::Number),
                ("Last price", "/last_price", Kind::Number),
                ("Last trade (UTC)", "/last_trade_at_ms", Kind::Time),
            ],
            class_list,
        ),
        Table::from_json(
            "trades",
            &[
                ("Class", "/class", Kind::Text),
                ("Time (UTC)", "/at_ms", Kind::Time),
                ("Price", "/price", Kind::Number),
                ("Units", "/units", Kind::Number),
                ("Taker", "/taker", Kind::Text),
                ("Lease", "/lease", Kind::Id),
            ],
            &trades,
        ),
        orders_table(list(&orders, "orders")),
        leases_table(list(&leases, "leases")),
    ];
    if let Some(csv) = q.csv.as_deref() {
        return pick_csv(csv, tables, "market");
    }
    let mut body = String::from(
        "<p>Services are bought through calls for proposals (heard on the broker by this node; they never reach \
the ledger), offers, and contracts (holds) that pay on completion; bandwidth, compute and other resources \
trade on order books and are delivered under leases.</p>",
    );
    let titles = [
        "Open calls for proposals",
        "Offers",
        "Contracts (holds)",
        "Resource classes",
        "Last trades",
        "Resting orders",
        "Leases",
    ];
    for (t, title) in tables.iter().zip(titles) {
        body.push_str(&format!("<h2 id=\"list-{}\">{title}</h2>", t.name));
        if t.name == "trades" {
            body.push_str(&books_html(&books));
        }
        body.push_str(&t.html(&csv_href("/market", &[], t.name), "None yet."));
    }
    let mut page = Page::new("Market");
    page.body = body;
    Ok(Out::Page(page))
}

/// Each class's book: its best levels a side.
fn books_html(books: &[Value]) -> String {
    let mut out = String::new();
    for b in books {
        let class = b["class"].as_str().unwrap_or_default();
        let level = |l: &Value| {
            format!(
                "<li>{} × {}</li>",
                super::html::thousands(l["units"].as_u64().unwrap_or(0)),
                super::html::thousands(l["price"].as_u64().unwrap_or(0))
            )
        };
        let side = |name: &str| -> String {
            let levels = list(b, name);
            if levels.is_empty() {
                return "<li class=\"none\">empty</li>".into();
            }
            levels.iter().map(level).collect()
        };
        out.push_str(&format!(
            "<div class=\"book\" data-class=\"{c}\"><h3>{c}</h3><div class=\"sides\"><ol class=\"bids\" aria-label=\"bids\">{}</ol>\
<ol class=\"asks\" aria-label=\"asks\">{}</ol></div></div>",
            side("bids"),
            side("asks"),
            c = esc(class)
        ));
    }
    out
}

/// `GET /streams`.
pub async fn streams(
    State(s): State<Arc<Shared>>,
    q: Result<Query<ListPage>, QueryRejection>,
) -> Response {
    let out = streams_out(&s, q).await;
    answer(&s, out)
}

async fn streams_out(
    s: &Arc<Shared>,
    q: Result<Query<ListPage>, QueryRejection>,
) -> Result<Out, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let open = api!(stream_api::streams(
        State(Arc::clone(s)),
        api_query(json!({ "limit": ROWS }))
    ));
    let records = list(&open, "streams");
    let mut buyers = Vec::new();
    for st in records {
        for b in list(&st["delivered"], "buyers") {
            let mut b = b.clone();
            b["stream"] = st["stream"].clone();
            b["seller"] = st["seller"].clone();
            buyers.push(b);
        }
    }
    let tables = vec![
        streams_table(records),
        Table::from_json(
            "buyers",
            &[
                ("Stream", "/stream", Kind::Id),
                ("Seller", "/seller", Kind::Account),
                ("Buyer", "/buyer", Kind::Account),
                ("Epochs", "/epochs", Kind::Number),
                ("Paid", "/paid", Kind::Number),
            ],
            &buyers,
        ),
    ];
    if let Some(csv) = q.csv.as_deref() {
        return pick_csv(csv, tables, "streams");
    }
    let earned: u64 = records
        .iter()
        .filter_map(|r| r.pointer("/delivered/paid").and_then(Value::as_u64))
        .fold(0, u64::saturating_add);
    let mut page = Page::new("Data streams");
    page.body = format!(
        "<p>Devices sell selected data points under their owners' consent; buyers pay per epoch through \
channels, and each delivery is acknowledged on the ledger. Open streams shown: {}; paid to them so far: \
<span data-stat=\"streams_earned\">{}</span>.</p><h2 id=\"list-streams\">Open streams</h2>{}<h2 id=\"list-buyers\">Buyers</h2>{}",
        records.len(),
        super::html::thousands(earned),
        tables[0].html(&csv_href("/streams", &[], "streams"), "No stream is open."),
        tables[1].html(&csv_href("/streams", &[], "buyers"), "No delivery acknowledged yet."),
    );
    Ok(Out::Page(page))
}
