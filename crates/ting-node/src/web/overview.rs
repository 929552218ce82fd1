//! `GET /`: the economy at a glance: devices, accounts, transactions per
//! second, blocks, volume, open channels and escrow, and the newest blocks,
//! kept live by `/v1/overview/events` (`live.js`).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use serde_json::Value;

use super::html::{esc, thousands, Kind, Table};
use super::{answer, pick_csv, Out, Page};
use crate::http::ApiError;
use crate::node::Shared;

/// The figures shown, in order: key in `/v1/overview`, label, what it means.
const FIGURES: [(&str, &str, &str); 9] = [
    ("devices", "Devices", "accounts registered to an owner"),
    ("accounts", "Accounts", "accounts holding money or a nonce"),
    (
        "tps",
        "Transactions / s",
        "over the last 10 s of durable blocks",
    ),
    ("height", "Blocks", "durable blocks"),
    ("txs_total", "Transactions", "committed since the genesis"),
    (
        "volume_1m",
        "Volume, last minute",
        "amounts named by transactions in the last 60 s",
    ),
    (
        "open_channels",
        "Open channels",
        "payment channels not yet settled",
    ),
    (
        "escrow",
        "Escrow",
        "locked in channels, deposits, contracts, orders and leases",
    ),
    ("supply", "Supply", "everything minted"),
];

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewPage {
    csv: Option<String>,
}

pub async fn page(
    State(s): State<Arc<Shared>>,
    q: Result<axum::extract::Query<OverviewPage>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let out = match q {
        Ok(q) => overview_out(&s, q.0.csv.as_deref()).await,
        Err(e) => Err(ApiError::bad_request("invalid_query", e.body_text())),
    };
    answer(&s, out)
}

async fn overview_out(s: &Arc<Shared>, csv: Option<&str>) -> Result<Out, ApiError> {
    // The figures the feed published last, as `/v1/overview` answers them.
    let v: Value = serde_json::from_slice(&s.overview.borrow().json)
        .map_err(|e| ApiError::internal("read the overview", e))?;
    let mut body = String::from(
        "<p>Live: <span id=\"live-status\" data-state=\"connecting\">connecting…</span></p><dl id=\"overview\" class=\"figures\">",
    );
    for (key, label, help) in FIGURES {
        let value = v
            .get(key)
            .and_then(Value::as_u64)
            .map_or_else(|| "—".to_owned(), thousands);
        let _ = write!(
            body,
            "<div><dt title=\"{h}\">{l}</dt><dd data-stat=\"{key}\">{value}</dd></div>",
            h = esc(help),
            l = esc(label)
        );
    }
    body.push_str("</dl><h2>Newest blocks</h2>");
    let blocks = v["recent_blocks"].as_array().map_or(&[][..], Vec::as_slice);
    let table = Table::from_json(
        "recent_blocks",
        &[
            ("Height", "/height", Kind::Block),
            ("Time (UTC)", "/timestamp_ms", Kind::Time),
            ("Transactions", "/tx_count", Kind::Number),
            ("Hash", "/hash", Kind::Id),
        ],
        blocks,
    );
    if let Some(csv) = csv {
        return pick_csv(csv, vec![table], "overview");
    }
    body.push_str(&table.html(
        "/?csv=recent_blocks",
        "No block yet: submit a transaction (see the README).",
    ));
    body.push_str("<p><a href=\"/blocks\">All blocks</a> · <a href=\"/market\">Market</a> · <a href=\"/streams\">Streams</a></p>");
    let mut page = Page::new(format!("{} overview", s.genesis.name));
    page.body = body;
    Ok(Out::Page(page))
}
