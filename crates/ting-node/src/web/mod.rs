//! The dashboard and explorer: HTML pages the node serves at `/`.
//!
//! Pages are rendered on the server, from the same handlers that answer the
//! JSON API (called in-process with the query the page needs), so a page
//! shows exactly what the API says and loads fast without scripts. Scripts
//! add what a server cannot: live updates over SSE (`/v1/overview/events`,
//! `/v1/events?account=`), and the receipt and state-proof checks, which run
//! in the browser against the genesis's sequencer keys (`web/verify.js`).
//! Every list downloads as CSV with `?csv=NAME`. The pages only read: owner
//! actions stay in the CLI and SDK, where they are signed.
//!
//! Static assets (`crates/ting-node/web/`) are compiled into the binary
//! ([`assets`]); there is no build step.

mod account;
mod api_doc;
mod assets;
mod chart;
mod explorer;
pub(crate) mod html;
mod market;
mod overview;

use std::sync::Arc;

use axum::extract::Query;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::ApiError;
use crate::node::Shared;
use html::{esc, Table};

/// The dashboard's routes, served beside the API under the same admission.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(overview::page))
        .route("/blocks", get(explorer::blocks))
        .route("/blocks/{height}", get(explorer::block))
        .route("/tx/{hash}", get(explorer::tx))
        .route("/accounts/{id}", get(account::page))
        .route("/market", get(market::page))
        .route("/streams", get(market::streams))
        .route("/verify", get(explorer::verify))
        .route("/search", get(explorer::search))
        .route("/api", get(api_doc::page))
        .route("/assets/{*path}", get(assets::serve))
}

/// The query an API handler takes, built from the page's own parameters.
/// The page builds it from values it has checked, so it always deserializes.
fn api_query<Q: DeserializeOwned>(
    params: Value,
) -> Result<Query<Q>, axum::extract::rejection::QueryRejection> {
    Ok(Query(
        serde_json::from_value(params).expect("a page asks the API with the fields it declares"),
    ))
}

/// A page's frame: title, navigation, search, and the genesis the page's
/// checks are against.
#[derive(Debug)]
pub struct Page {
    pub title: String,
    pub body: String,
    /// Extra module scripts under `/assets/` (the live-update script is always there).
    pub scripts: Vec<&'static str>,
}

impl Page {
    pub fn new(title: impl Into<String>) -> Page {
        Page {
            title: title.into(),
            body: String::new(),
            scripts: Vec::new(),
        }
    }

    /// The whole HTML document.
    pub fn render(&self, s: &Shared) -> String {
        let mut scripts = String::new();
        for js in std::iter::once(&"live.js").chain(&self.scripts) {
            scripts.push_str(&format!(
                "<script type=\"module\" src=\"/assets/{js}?v={}\"></script>",
                assets::VERSION
            ));
        }
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"ting-genesis\" content=\"{genesis}\">\
<title>{title} · Ting</title><link rel=\"icon\" href=\"data:,\">\
<link rel=\"stylesheet\" href=\"/assets/style.css?v={v}\">{scripts}</head><body>\
<header><a class=\"brand\" href=\"/\">Ting</a> <span class=\"network\" title=\"genesis {genesis}\">{network}</span>\
<nav><a href=\"/\">Overview</a><a href=\"/blocks\">Blocks</a><a href=\"/market\">Market</a>\
<a href=\"/streams\">Streams</a><a href=\"/verify\">Check a receipt</a><a href=\"/api\">API</a></nav>\
<form class=\"search\" action=\"/search\" method=\"get\"><input name=\"q\" aria-label=\"Search\" \
placeholder=\"Block height, transaction hash or account\" maxlength=\"{q_max}\"><button>Go</button></form></header>\
<main><h1>{title}</h1>{body}</main>\
<footer>Read-only view of node data; owner actions are signed in the CLI and SDK. \
<a href=\"/v1/openapi.json\">OpenAPI</a> · <a href=\"/metrics\">metrics</a> · <a href=\"/healthz\">health</a></footer>\
</body></html>",
            genesis = s.genesis_hash.to_hex(),
            title = esc(&self.title),
            v = assets::VERSION,
            network = esc(&s.genesis.name),
            body = self.body,
            q_max = explorer::SEARCH_CHARS_MAX,
        )
    }

    pub fn into_response(self, s: &Shared) -> Response {
        html_response(StatusCode::OK, self.render(s))
    }
}

fn html_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Pages load scripts only from the node itself, and nothing inline.
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// An error as a page: what went wrong, in the API's words, with its code.
pub fn error_page(s: &Shared, e: &ApiError) -> Response {
    let mut page = Page::new(match e.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::BAD_REQUEST => "Bad request",
        _ => "Unavailable",
    });
    page.body = format!(
        "<p class=\"error\" data-code=\"{}\">{}</p><p>Try the search box above, or <a href=\"/\">the overview</a>.</p>",
        esc(e.code),
        esc(&e.message)
    );
    html_response(e.status, page.render(s))
}

/// A list as a CSV download named after it.
pub fn csv_response(table: &Table, file: &str) -> Response {
    let mut r = table.csv().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    let disposition = format!(
        "attachment; filename=\"{}-{}.csv\"",
        file.replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
        table.name
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// What a page handler gives back: the page, or one of its lists as CSV.
pub enum Out {
    Page(Page),
    Csv(Table, String),
}

/// Picks the list named by `?csv=` out of a page's `tables`, or says which
/// lists the page has.
pub fn pick_csv(csv: &str, tables: Vec<Table>, file: &str) -> Result<Out, ApiError> {
    let names: Vec<&str> = tables.iter().map(|t| t.name).collect();
    let listed = names.join(", ");
    tables
        .into_iter()
        .find(|t| t.name == csv)
        .map(|t| Out::Csv(t, file.to_owned()))
        .ok_or_else(|| {
            ApiError::bad_request(
                "unknown_list",
                format!("csv must name one of this page's lists: {listed}"),
            )
        })
}

/// Answers a page handler's result: the page, a CSV, or an error page.
pub fn answer(s: &Shared, out: Result<Out, ApiError>) -> Response {
    match out {
        Ok(Out::Page(p)) => p.into_response(s),
        Ok(Out::Csv(t, file)) => csv_response(&t, &file),
        Err(e) => error_page(s, &e),
    }
}

/// A page's own URL with `csv=NAME` added, for a list's CSV link.
pub fn csv_href(path: &str, query: &[(&str, String)], name: &str) -> String {
    let mut parts: Vec<String> = query
        .iter()
        .filter(|(k, v)| *k != "csv" && !v.is_empty())
        .map(|(k, v)| format!("{k}={}", html::url_part(v)))
        .collect();
    parts.push(format!("csv={name}"));
    format!("{path}?{}", parts.join("&"))
}
