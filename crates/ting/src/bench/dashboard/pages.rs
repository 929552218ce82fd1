//! The pages: the hub's account page over its whole history, beside the page
//! of an account with one transaction, the same history as JSON, and pages
//! further down, each answer checked before its time counts.
//!
//! Requests go one after another over one keep-alive connection, in rounds
//! of one of each kind, so that whatever else the machine does falls on
//! every kind alike. The first `WARM_UP_ROUNDS` are not timed.

use std::net::SocketAddr;
use std::time::Instant;

use anyhow::{bail, ensure, Context};
use hyper::StatusCode;
use serde_json::Value;
use tokio::runtime::Runtime;

use super::super::stats::Latency;
use super::client::Conn;
use super::history::{location, Keys};
use super::Plan;

/// History rows on one account page (the dashboard's `HISTORY_PER_PAGE`).
pub const HISTORY_ROWS: u64 = 50;
/// Untimed rounds first: connections, caches and the index's pages warm.
const WARM_UP_ROUNDS: usize = 5;

/// What the page requests measured.
#[derive(Debug, Clone)]
pub struct Figures {
    /// The hub's page: its newest history.
    pub hub: Latency,
    /// The page of the account with one transaction: the ceiling.
    pub small: Latency,
    /// `GET /v1/accounts/{hub}/transactions?limit=50`.
    pub json: Latency,
    /// The next page down the `Older` link, one after another.
    pub older: Latency,
    /// Pages at cursors spread over the whole history.
    pub deep: Latency,
    pub hub_page_bytes: usize,
    pub small_page_bytes: usize,
    /// How far down the history the `Older` chain went, in transactions.
    pub older_depth: u64,
}

impl Figures {
    /// The hub page's p95 over the small page's.
    pub fn history_cost_ratio(&self) -> f64 {
        self.hub.p95_ms / self.small.p95_ms.max(1e-9)
    }
}

/// Timings, in microseconds, per kind of request.
#[derive(Debug, Default)]
struct Samples {
    hub: Vec<u32>,
    small: Vec<u32>,
    json: Vec<u32>,
    older: Vec<u32>,
    deep: Vec<u32>,
}

/// The paths of one run and what their answers must hold.
#[derive(Debug)]
struct Paths {
    hub: String,
    small: String,
    json: String,
    /// Transactions in the hub's history.
    n: u64,
    requests: usize,
}

impl Paths {
    /// The hub's page with history `before` transaction `e` (the page's first row is `e - 1`).
    fn deep(&self, e: u64) -> String {
        let (h, i) = location(e);
        format!("{}?before={h}:{i}", self.hub)
    }

    /// The transaction the `k`th deep page starts below: spread over the
    /// history, visited in a scattered order.
    fn deep_entry(&self, k: usize) -> u64 {
        let spread = self.n - HISTORY_ROWS;
        let slot = (k as u64 * 7919) % self.requests as u64;
        HISTORY_ROWS + slot * spread / self.requests as u64
    }
}

pub fn measure(
    rt: &Runtime,
    addr: SocketAddr,
    keys: &Keys,
    plan: &Plan,
) -> anyhow::Result<Figures> {
    let hub = format!("/accounts/{}", keys.hub.account().to_did());
    let paths = Paths {
        json: format!(
            "/v1/accounts/{}/transactions?limit={HISTORY_ROWS}",
            keys.hub.account().to_did()
        ),
        small: format!("/accounts/{}", keys.loner.account().to_did()),
        hub,
        n: keys.history_txs,
        requests: plan.requests,
    };
    let bar = super::super::progress(
        ((WARM_UP_ROUNDS + plan.requests) * 5) as u64,
        "timing the pages",
    );
    let figures = rt.block_on(rounds(addr, &paths, &bar));
    bar.finish_and_clear();
    figures
}

async fn rounds(
    addr: SocketAddr,
    paths: &Paths,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Figures> {
    let mut conn = Conn::open(addr).await?;
    let (first_older, hub_page_bytes) = {
        let (_, page) = page(&mut conn, &paths.hub).await?;
        (older_href(&page)?, page.len())
    };
    let mut older = first_older.clone();
    let mut older_depth = 0;
    let mut samples = Samples::default();
    let mut small_page_bytes = 0;
    for round in 0..WARM_UP_ROUNDS + paths.requests {
        let timed = round >= WARM_UP_ROUNDS;
        let keep = |v: &mut Vec<u32>, us: u32| {
            if timed {
                v.push(us);
            }
        };
        let (us, html) = page(&mut conn, &paths.hub).await?;
        check_rows(&html, HISTORY_ROWS, Some(paths.n - 1))?;
        keep(&mut samples.hub, us);
        let (us, html) = page(&mut conn, &paths.small).await?;
        check_rows(&html, 1, None)?;
        small_page_bytes = html.len();
        keep(&mut samples.small, us);
        let (us, json) = json(&mut conn, &paths.json).await?;
        check_json(&json, paths.n - 1)?;
        keep(&mut samples.json, us);
        let (us, html) = page(&mut conn, &older).await?;
        check_rows(&html, HISTORY_ROWS, None)?;
        keep(&mut samples.older, us);
        older_depth += HISTORY_ROWS;
        // Down the chain; back to its top when the history runs out.
        older = match html.contains("id=\"older\"") {
            true => older_href(&html)?,
            false => first_older.clone(),
        };
        let e = paths.deep_entry(round % paths.requests);
        let (us, html) = page(&mut conn, &paths.deep(e)).await?;
        check_rows(&html, HISTORY_ROWS, Some(e - 1))?;
        keep(&mut samples.deep, us);
        bar.inc(5);
    }
    Ok(Figures {
        hub: Latency::of(samples.hub),
        small: Latency::of(samples.small),
        json: Latency::of(samples.json),
        older: Latency::of(samples.older),
        deep: Latency::of(samples.deep),
        hub_page_bytes,
        small_page_bytes,
        older_depth: older_depth.min(paths.n),
    })
}

/// `GET path`, timed from the request to the last byte of the answer,
/// which must be `200 OK`.
async fn timed_get(conn: &mut Conn, path: &str) -> anyhow::Result<(u32, String)> {
    let started = Instant::now();
    let (status, body) = conn.get(path).await?;
    let us = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
    let text = String::from_utf8_lossy(&body).into_owned();
    if status != StatusCode::OK {
        let start: String = text.chars().take(300).collect();
        bail!("GET {path} answered {status}: {start}");
    }
    Ok((us, text))
}

async fn page(conn: &mut Conn, path: &str) -> anyhow::Result<(u32, String)> {
    timed_get(conn, path).await
}

async fn json(conn: &mut Conn, path: &str) -> anyhow::Result<(u32, Value)> {
    let (us, text) = timed_get(conn, path).await?;
    let value = serde_json::from_str(&text).with_context(|| format!("GET {path}: not JSON"))?;
    Ok((us, value))
}

/// The rows of a page's history table.
fn history_rows(html: &str) -> anyhow::Result<Vec<&str>> {
    let table = html
        .find("<table data-list=\"history\"")
        .map(|at| &html[at..])
        .context("the page has no history table")?;
    let body = table
        .find("<tbody>")
        .zip(table.find("</tbody>"))
        .map(|(from, to)| &table[from + "<tbody>".len()..to])
        .context("the history table has no body")?;
    Ok(body.split("<tr>").skip(1).collect())
}

/// Checks that a page's history has `rows` rows, each linking its
/// transaction and block, the first in the block of history transaction
/// `first` when given.
fn check_rows(html: &str, rows: u64, first: Option<u64>) -> anyhow::Result<()> {
    let found = history_rows(html)?;
    ensure!(
        found.len() as u64 == rows,
        "the page's history has {} rows, not {rows}",
        found.len()
    );
    for row in &found {
        ensure!(
            row.contains("href=\"/tx/") && row.contains("href=\"/blocks/"),
            "a history row without its transaction and block: {row}"
        );
    }
    if let Some(e) = first {
        let (height, _) = location(e);
        let link = format!("href=\"/blocks/{height}\"");
        ensure!(
            found[0].contains(&link),
            "the history's first row is not in block {height}: {}",
            found[0]
        );
    }
    Ok(())
}

/// Checks the JSON history: a full page, newest first, starting at history transaction `first`.
fn check_json(v: &Value, first: u64) -> anyhow::Result<()> {
    let txs = v["transactions"].as_array().context("no `transactions`")?;
    ensure!(
        txs.len() as u64 == HISTORY_ROWS,
        "the JSON history has {} entries, not {HISTORY_ROWS}",
        txs.len()
    );
    let (height, index) = location(first);
    let at = (txs[0]["height"].as_u64(), txs[0]["index"].as_u64());
    ensure!(
        at == (Some(height), Some(index)),
        "the JSON history starts at {at:?}, not at block {height} index {index}"
    );
    ensure!(
        v["next"].is_string(),
        "the JSON history has no `next` cursor"
    );
    Ok(())
}

/// The `Older` link of a page.
fn older_href(html: &str) -> anyhow::Result<String> {
    let at = html
        .find("id=\"older\"")
        .context("the page has no Older link")?;
    let rest = &html[at..];
    let start = rest.find("href=\"").context("the Older link has no href")? + "href=\"".len();
    let len = rest[start..].find('"').context("an unterminated href")?;
    Ok(rest[start..start + len].replace("&amp;", "&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[u64]) -> String {
        let mut html =
            String::from("<table data-list=\"history\" data-rows=\"2\"><thead><tr><th>Block</th></tr></thead><tbody>");
        for h in rows {
            html.push_str(&format!(
                "<tr><td><a href=\"/blocks/{h}\">{h}</a></td><td><a class=\"id\" href=\"/tx/ab\">ab</a></td></tr>"
            ));
        }
        html.push_str("</tbody></table><p class=\"pager\"><a id=\"older\" rel=\"next\" href=\"/accounts/did:key:z1?before=3:7\">Older</a></p>");
        html
    }

    #[test]
    fn a_page_passes_only_with_its_rows_and_its_first_block() {
        let html = table(&[245, 245]);
        assert!(
            check_rows(&html, 2, Some(0)).is_err(),
            "history transaction 0 is in block 1"
        );
        assert!(check_rows(&html, 2, Some(244 * 4096)).is_ok());
        assert!(check_rows(&html, 3, None).is_err());
        assert!(check_rows("<h1>busy</h1>", 0, None).is_err());
        assert_eq!(
            older_href(&html).expect("a link"),
            "/accounts/did:key:z1?before=3:7"
        );
    }

    #[test]
    fn deep_pages_spread_over_the_history_and_stay_inside_it() {
        let paths = Paths {
            hub: "/accounts/x".into(),
            small: String::new(),
            json: String::new(),
            n: 1_000_000,
            requests: 200,
        };
        let entries: Vec<u64> = (0..200).map(|k| paths.deep_entry(k)).collect();
        assert!(entries
            .iter()
            .all(|e| (HISTORY_ROWS..1_000_000).contains(e)));
        assert!(entries.iter().any(|e| *e < 10_000) && entries.iter().any(|e| *e > 990_000));
        let distinct: std::collections::BTreeSet<_> = entries.iter().collect();
        assert_eq!(distinct.len(), 200);
        assert_eq!(paths.deep(4096), "/accounts/x?before=2:0");
    }
}
