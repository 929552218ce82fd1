//! The explorer's ledger pages: blocks, one block, one transaction with its
//! receipt checked in the page, a receipt pasted to check, and search.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use ting_core::limits::BLOCK_RANGE_MAX;
use ting_core::{AccountId, BlockHeight, Hash32, SignedTx};

use super::html::{esc, fields, Cell, Kind, Table};
use super::{answer, api_query, csv_href, pick_csv, Out, Page};
use crate::http::{query, ApiError};
use crate::node::Shared;

/// Blocks on one page of the block list.
const BLOCKS_PER_PAGE: u64 = 50;
/// Transactions of a block shown on one page (the CSV has them all).
const BLOCK_TXS_PER_PAGE: usize = 200;
/// The longest search text taken: an account's `did:key` is 56 characters.
pub const SEARCH_CHARS_MAX: usize = 128;

fn rejected(e: &QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", e.body_text())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlocksPage {
    from: Option<u64>,
    csv: Option<String>,
}

/// `GET /blocks?from=`: the newest blocks, or those from `from` on.
pub async fn blocks(
    State(s): State<Arc<Shared>>,
    q: Result<Query<BlocksPage>, QueryRejection>,
) -> Response {
    let out = blocks_out(&s, q).await;
    answer(&s, out)
}

async fn blocks_out(
    s: &Arc<Shared>,
    q: Result<Query<BlocksPage>, QueryRejection>,
) -> Result<Out, ApiError> {
    let Query(q) = q.map_err(|e| rejected(&e))?;
    let limit = BLOCKS_PER_PAGE.min(BLOCK_RANGE_MAX);
    let answer = query::blocks(
        State(Arc::clone(s)),
        api_query(json!({ "from": q.from, "limit": limit })),
    )
    .await?
    .0;
    let durable = answer["durable_height"].as_u64().unwrap_or(0);
    let mut headers: Vec<Value> = answer["blocks"].as_array().cloned().unwrap_or_default();
    headers.reverse();
    let table = Table::from_json(
        "blocks",
        &[
            ("Height", "/height", Kind::Block),
            ("Time (UTC)", "/timestamp_ms", Kind::Time),
            ("Transactions", "/tx_count", Kind::Number),
            ("Hash", "/hash", Kind::Id),
            ("Epoch", "/epoch", Kind::Number),
            ("Sequencer", "/sequencer", Kind::Account),
        ],
        &headers,
    );
    if let Some(csv) = q.csv.as_deref() {
        return pick_csv(csv, vec![table], "blocks");
    }
    let first = headers
        .last()
        .and_then(|h| h["height"].as_u64())
        .unwrap_or(1);
    let last = headers
        .first()
        .and_then(|h| h["height"].as_u64())
        .unwrap_or(0);
    let from = q.from.map(|f| f.to_string()).unwrap_or_default();
    let mut page = Page::new("Blocks");
    page.body = format!(
        "<p>{n} durable blocks; newest first.</p>{pager}{table}",
        n = super::html::thousands(durable),
        pager = pager(first, last, durable, limit),
        table = table.html(
            &csv_href("/blocks", &[("from", from)], "blocks"),
            "No block yet."
        ),
    );
    Ok(Out::Page(page))
}

/// Links to newer and older pages of blocks around `first..=last`.
fn pager(first: u64, last: u64, durable: u64, per_page: u64) -> String {
    let mut out = String::from("<p class=\"pager\">");
    if last < durable {
        out.push_str(&format!(
            "<a rel=\"prev\" href=\"/blocks?from={}\">Newer</a> ",
            last.saturating_add(1)
        ));
    }
    if first > 1 {
        out.push_str(&format!(
            "<a rel=\"next\" href=\"/blocks?from={}\">Older</a>",
            first.saturating_sub(per_page).max(1)
        ));
    }
    out.push_str("</p>");
    out
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockPage {
    page: Option<usize>,
    csv: Option<String>,
}

/// `GET /blocks/{height}?page=`: a block's header and its transactions.
pub async fn block(
    State(s): State<Arc<Shared>>,
    Path(height): Path<String>,
    q: Result<Query<BlockPage>, QueryRejection>,
) -> Response {
    let out = block_out(&s, &height, q).await;
    answer(&s, out)
}

async fn block_out(
    s: &Arc<Shared>,
    height: &str,
    q: Result<Query<BlockPage>, QueryRejection>,
) -> Result<Out, ApiError> {
    let Query(q) = q.map_err(|e| rejected(&e))?;
    let height: u64 = height.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_field",
            "height: must be a block height, a whole number",
        )
    })?;
    let reader = s.log.clone();
    let block = tokio::task::spawn_blocking(move || reader.block(BlockHeight(height)))
        .await
        .map_err(|e| ApiError::internal("read from the disk", e))?
        .map_err(|e| ApiError::log(&e))?
        .ok_or_else(|| {
            ApiError::not_found(
                "unknown_block",
                format!("no durable block at height {height}"),
            )
        })?;
    let mut table = Table::new(
        "transactions",
        &[
            "#",
            "Transaction",
            "Kind",
            "Sender",
            "Counterparty",
            "Amount",
        ],
    );
    for (i, tx) in block.txs.iter().enumerate() {
        table.rows.push(tx_row(i as u64, tx));
    }
    if let Some(csv) = q.csv.as_deref() {
        return pick_csv(csv, vec![table], &format!("block-{height}"));
    }
    let page_no = q.page.unwrap_or(0);
    let pages = block.txs.len().div_ceil(BLOCK_TXS_PER_PAGE).max(1);
    if page_no >= pages {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!(
                "page must be below {pages}: the block has {} transactions",
                block.txs.len()
            ),
        ));
    }
    let csv = csv_href(&format!("/blocks/{height}"), &[], "transactions");
    table.rows = table
        .rows
        .into_iter()
        .skip(page_no * BLOCK_TXS_PER_PAGE)
        .take(BLOCK_TXS_PER_PAGE)
        .collect();
    let h = &block.header;
    let header = fields(
        "header",
        &[
            ("Height", "height", Cell::Number(h.height.0)),
            ("Time (UTC)", "timestamp_ms", Cell::Time(h.timestamp.0)),
            (
                "Transactions",
                "tx_count",
                Cell::Number(u64::from(h.tx_count)),
            ),
            ("Hash", "hash", Cell::Text(h.hash().to_hex())),
            ("Previous", "prev_hash", prev_link(h.height.0, &h.prev_hash)),
            (
                "Transaction root",
                "tx_root",
                Cell::Text(h.tx_root.to_hex()),
            ),
            (
                "State root",
                "state_root",
                Cell::Text(h.state_root.to_hex()),
            ),
            ("Epoch", "epoch", Cell::Number(h.epoch)),
            (
                "Sequencer",
                "sequencer",
                Cell::Account(h.sequencer.to_did()),
            ),
            ("Signature", "signature", Cell::Text(h.signature.to_hex())),
        ],
    );
    let mut nav = String::from("<p class=\"pager\">");
    if height > 1 {
        nav.push_str(&format!(
            "<a rel=\"prev\" href=\"/blocks/{}\">Block {}</a> ",
            height - 1,
            height - 1
        ));
    }
    if height < s.log.height().0 {
        nav.push_str(&format!(
            "<a rel=\"next\" href=\"/blocks/{}\">Block {}</a> ",
            height + 1,
            height + 1
        ));
    }
    for p in (0..pages).filter(|p| *p != page_no && pages > 1) {
        nav.push_str(&format!(
            "<a href=\"/blocks/{height}?page={p}\">page {}</a> ",
            p + 1
        ));
    }
    nav.push_str("</p>");
    let mut page = Page::new(format!("Block {height}"));
    page.body = format!(
        "{header}<p>Raw: <a href=\"/v1/blocks/{height}\">/v1/blocks/{height}</a></p><h2>Transactions</h2>{nav}{}",
        table.html(&csv, "This block holds no transaction.")
    );
    Ok(Out::Page(page))
}

fn prev_link(height: u64, prev: &Hash32) -> Cell {
    if height <= 1 {
        return Cell::Text(format!("{} (the genesis)", prev.to_hex()));
    }
    Cell::Link {
        href: format!("/blocks/{}", height - 1),
        text: prev.to_hex(),
    }
}

/// A transaction's row in a list: what it is, who sent it, whom it names.
pub fn tx_row(index: u64, tx: &SignedTx) -> Vec<Cell> {
    vec![
        Cell::Number(index),
        Cell::Tx(tx.hash().to_hex()),
        Cell::Text(tx.kind().name().to_owned()),
        Cell::Account(tx.sender().to_did()),
        tx.kind()
            .counterparty()
            .map_or(Cell::Empty, |c| Cell::Account(c.to_did())),
        tx.kind()
            .amount()
            .map_or(Cell::Empty, |a| Cell::Number(a.base_units())),
    ]
}

/// `GET /tx/{hash}`: a committed transaction, its fields and its receipt,
/// which the page checks (`verify.js`).
pub async fn tx(State(s): State<Arc<Shared>>, Path(hash): Path<String>) -> Response {
    let out = tx_out(&s, hash).await;
    answer(&s, out)
}

async fn tx_out(s: &Arc<Shared>, hash: String) -> Result<Out, ApiError> {
    let v = query::transaction(State(Arc::clone(s)), Path(hash))
        .await?
        .0;
    let hash = v["tx_hash"].as_str().unwrap_or_default().to_owned();
    let tx = &v["tx"];
    let receipt = &v["receipt"];
    let mut rows = vec![
        ("Hash", "tx_hash", Cell::Text(hash.clone())),
        (
            "Status",
            "status",
            Cell::from_json(receipt.get("status"), Kind::Text),
        ),
        (
            "Block",
            "height",
            Cell::from_json(receipt.get("height"), Kind::Block),
        ),
        (
            "Position",
            "index",
            Cell::from_json(receipt.get("index"), Kind::Number),
        ),
        (
            "Time (UTC)",
            "timestamp_ms",
            Cell::from_json(receipt.pointer("/header/timestamp_ms"), Kind::Time),
        ),
        ("Kind", "kind", Cell::from_json(tx.get("kind"), Kind::Text)),
        (
            "Sender",
            "sender",
            Cell::from_json(tx.get("sender"), Kind::Account),
        ),
        (
            "Nonce",
            "nonce",
            Cell::from_json(tx.get("nonce"), Kind::Number),
        ),
        (
            "Valid until (UTC)",
            "valid_until",
            Cell::from_json(tx.get("valid_until"), Kind::Time),
        ),
    ];
    let kind_fields: Vec<(String, Cell)> = tx["fields"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), field_cell(k, v)))
                .collect()
        })
        .unwrap_or_default();
    let mut body = String::new();
    let labels: Vec<String> = kind_fields.iter().map(|(k, _)| label(k)).collect();
    for ((key, cell), label) in kind_fields.iter().zip(&labels) {
        rows.push((label.as_str(), key.as_str(), cell.clone()));
    }
    body.push_str(&fields("tx", &rows));
    body.push_str(&format!(
        "<h2>Receipt</h2><section id=\"receipt-check\" data-tx=\"{h}\" data-result=\"pending\">\
<p>This page checks the receipt itself: the Merkle proof from the transaction to the block's \
transaction root, and the sequencer's signature on the block header, against the sequencer keys \
of this network's genesis.</p><noscript>Checking needs JavaScript; \
<code>ting verify-receipt</code> checks the same offline.</noscript></section>\
<p>Raw: <a href=\"/v1/transactions/{h}\">transaction</a> · <a href=\"/v1/receipts/{h}\">receipt</a></p>",
        h = esc(&hash)
    ));
    let mut page = Page::new("Transaction");
    page.body = body;
    page.scripts.push("verify.js");
    Ok(Out::Page(page))
}

/// A transaction field's cell: accounts linked, numbers and times written
/// for people, other values as they are.
fn field_cell(key: &str, v: &Value) -> Cell {
    match v {
        Value::String(s) if s.starts_with("did:key:") => Cell::Account(s.clone()),
        Value::Number(_) if key.ends_with("_ms") || key.ends_with("_at") || key == "deadline" => {
            Cell::from_json(Some(v), Kind::Time)
        }
        Value::Number(_) => Cell::from_json(Some(v), Kind::Number),
        Value::String(s) => Cell::Text(s.clone()),
        other => Cell::Text(other.to_string()),
    }
}

/// `GET /verify`: paste a receipt (from a device, a log, an email) and the
/// page checks it against this network's genesis.
pub async fn verify(State(s): State<Arc<Shared>>) -> Response {
    let mut page = Page::new("Check a receipt");
    page.body = String::from(
        "<p>Paste a receipt as the API gives it (<code>GET /v1/receipts/{hash}</code>, or what a device kept). \
The check runs in this page: the header's bytes, its genesis, its sequencer's signature and the Merkle \
proof, against the sequencer keys of the genesis this page has pinned. Nothing is sent to the node.</p>\
<textarea id=\"receipt-input\" rows=\"12\" spellcheck=\"false\" placeholder=\"{&quot;tx_hash&quot;: …}\"></textarea>\
<p><button id=\"receipt-check-button\" type=\"button\">Check</button></p>\
<section id=\"receipt-check\" data-result=\"pending\"><noscript>Checking needs JavaScript; \
<code>ting verify-receipt FILE</code> checks the same offline.</noscript></section>\
<h2>The genesis this browser trusts</h2><p>Pinned: <code id=\"genesis-pinned\">…</code></p>\
<p>The first check pins the genesis hash the node serves. To check against a hash you got from \
elsewhere (the network's operator, <code>ting status</code> on a machine you trust), pin it here: a node \
serving another genesis then fails every check.</p><p><input id=\"genesis-pin\" size=\"66\" maxlength=\"64\" \
aria-label=\"Genesis hash\" placeholder=\"64 hex digits\"> <button id=\"genesis-pin-button\" type=\"button\">Pin</button> \
<button id=\"genesis-forget-button\" type=\"button\">Forget</button></p>",
    );
    page.scripts.push("verify.js");
    page.into_response(&s)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    q: Option<String>,
}

/// `GET /search?q=`: a block height, a transaction hash or an account, each
/// sent to its page.
pub async fn search(
    State(s): State<Arc<Shared>>,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> Response {
    match search_target(&s, q) {
        Ok(to) => Redirect::to(&to).into_response(),
        Err(e) => super::error_page(&s, &e),
    }
}

fn search_target(
    s: &Shared,
    q: Result<Query<SearchQuery>, QueryRejection>,
) -> Result<String, ApiError> {
    let Query(q) = q.map_err(|e| rejected(&e))?;
    let text = q.q.unwrap_or_default();
    let text = text.trim();
    if text.is_empty() || text.len() > SEARCH_CHARS_MAX {
        return Err(ApiError::bad_request(
            "invalid_search",
            format!("search for a block height, a transaction hash or an account (at most {SEARCH_CHARS_MAX} characters)"),
        ));
    }
    if let Ok(height) = text.parse::<u64>() {
        return Ok(format!("/blocks/{height}"));
    }
    let account = AccountId::parse(text).ok();
    if let Ok(hash) = ting_api::parse_hash("q", text) {
        let is_tx = s
            .index
            .tx_location(&hash)
            .map_err(|e| ApiError::internal("read the index", e))?
            .is_some();
        let is_account =
            account.is_some_and(|a| s.state.read().expect("state lock").account(&a).is_some());
        if is_tx || !is_account {
            return Ok(format!("/tx/{}", hash.to_hex()));
        }
    }
    match account {
        Some(a) => Ok(format!("/accounts/{}", a.to_did())),
        None => Err(ApiError::not_found(
            "nothing_found",
            format!("{text:?} is not a block height, a transaction hash or an account id (did:key:… or 64 hex digits)"),
        )),
    }
}

/// A field's name as a label: `expires_at` → `Expires at`.
fn label(key: &str) -> String {
    let text = key.replace('_', " ");
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
