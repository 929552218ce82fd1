//! The OpenAPI document served at `GET /v1/openapi.json` describes exactly the
//! routes the router serves.
//!
//! axum cannot list a router's routes, so `ROUTES` below repeats what
//! `src/http/mod.rs` registers. Two checks tie it down from both sides: the
//! document's (method, path) pairs must equal `ROUTES`, and every entry of
//! `ROUTES` must be answered by a real handler on a running node (not by the
//! router's fallback `unknown_endpoint`, nor by a 405 for the wrong method).
//! A route added to the router but not to `ROUTES` is caught by review of
//! this list; one added to `ROUTES` but not the document fails the first check.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use ting_core::limits::EVENTS_BUFFER_MAX;
use ting_core::{Genesis, Keypair, NetworkId, Timestamp};
use ting_node::http::{router, OPENAPI_JSON};
use ting_node::{Node, NodeConfig};
use tower::ServiceExt;

/// Every route `ting_node::http::router` registers, as (method, OpenAPI path).
const ROUTES: &[(&str, &str)] = &[
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/status"),
    ("get", "/v1/supply"),
    ("post", "/v1/transactions"),
    ("post", "/v1/transactions/batch"),
    ("get", "/v1/transactions/{hash}"),
    ("get", "/v1/receipts/{hash}"),
    ("get", "/v1/accounts/{id}"),
    ("get", "/v1/accounts/{id}/transactions"),
    ("post", "/v1/mqtt/auth"),
    ("post", "/v1/mqtt/acl"),
    ("get", "/v1/accounts/{id}/channels"),
    ("get", "/v1/channels/{id}"),
    ("get", "/v1/streams"),
    ("get", "/v1/streams/{id}"),
    ("get", "/v1/offers"),
    ("get", "/v1/offers/{id}"),
    ("get", "/v1/holds"),
    ("get", "/v1/holds/{id}"),
    ("get", "/v1/reputation/{provider}"),
    ("get", "/v1/reputation/{provider}/{category}"),
    ("get", "/v1/blocks"),
    ("get", "/v1/blocks/{height}"),
    ("get", "/v1/events"),
    ("post", "/v1/faucet"),
];

const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn document() -> Value {
    serde_json::from_str(OPENAPI_JSON).expect("openapi.json is valid JSON")
}

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("the document has `paths`");
    let mut out = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for method in item.keys().filter(|k| HTTP_METHODS.contains(&k.as_str())) {
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

fn listed_routes() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect()
}

/// Every `$ref` in `v`, for checking that each points at something.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                match (k.as_str(), child) {
                    ("$ref", Value::String(target)) => out.push(target),
                    _ => refs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

#[test]
fn the_document_is_openapi_3_with_info_and_paths() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3."), "not OpenAPI 3: {version}");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert!(!documented_routes(&doc).is_empty());
}

#[test]
fn the_document_describes_exactly_the_routes_the_router_serves() {
    let documented = documented_routes(&document());
    let listed = listed_routes();
    let undocumented: Vec<_> = listed.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&listed).collect();
    assert!(
        undocumented.is_empty(),
        "served but not in openapi.json: {undocumented:?}"
    );
    assert!(
        not_served.is_empty(),
        "in openapi.json but not served: {not_served:?}"
    );
}

#[test]
fn every_operation_has_responses_and_every_ref_resolves() {
    let doc = document();
    for (method, path) in documented_routes(&doc) {
        let responses = &doc["paths"][&path][&method]["responses"];
        assert!(
            responses.as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path} documents no response"
        );
    }
    let mut targets = Vec::new();
    refs(&doc, &mut targets);
    assert!(!targets.is_empty());
    for target in targets {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external $ref {target}"));
        assert!(
            doc.pointer(pointer).is_some(),
            "$ref {target} points at nothing"
        );
    }
}

/// Each number `N` in "more than N blocks" in `text`.
fn lag_thresholds(text: &str) -> Vec<u64> {
    text.match_indices("more than ")
        .filter_map(|(at, m)| {
            let rest = &text[at + m.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let after = &rest[digits.len()..];
            after
                .starts_with(" blocks")
                .then(|| digits.parse().ok())
                .flatten()
        })
        .collect()
}

#[test]
fn both_documents_give_the_event_buffer_as_the_lagged_threshold_and_replay_bound() {
    let doc = document();
    let events = doc["paths"]["/v1/events"]["get"]["description"]
        .as_str()
        .expect("/v1/events has a description");
    let lagged = doc["components"]["schemas"]["LaggedEvent"].to_string();
    let api_md = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md"))
        .expect("docs/api.md");
    let section = |from: &str, to: &str| {
        let start = api_md
            .find(from)
            .unwrap_or_else(|| panic!("{from} in api.md"));
        let end = start
            + api_md[start..]
                .find(to)
                .unwrap_or_else(|| panic!("{to} in api.md"));
        api_md[start..end].to_owned()
    };
    let api_events = section("\n## 7. Events", "\n## 8. ");
    let want = EVENTS_BUFFER_MAX as u64;
    for (name, text, bounds_replay) in [
        ("openapi /v1/events", events, true),
        ("openapi LaggedEvent", lagged.as_str(), false),
        ("api.md §7", api_events.as_str(), true),
    ] {
        let found = lag_thresholds(text);
        assert!(!found.is_empty(), "{name} gives no lagged threshold");
        assert!(
            found.iter().all(|n| *n == want),
            "{name} says a subscriber lags past {found:?} blocks; the buffer is {want}"
        );
        let bound = [format!("{want} of them"), format!("most {want} blocks")];
        assert!(
            !bounds_replay || bound.iter().any(|b| text.contains(b.as_str())),
            "{name} bounds the replay by the buffer, {want} blocks"
        );
    }
    let limits = section("\n## 9. Limits", "\nThe encoded-transaction");
    for row in [
        format!("| events buffered per subscriber | {want} blocks |"),
        format!("| blocks replayed when resuming with `Last-Event-ID` | {want} |"),
    ] {
        assert!(limits.contains(&row), "api.md §9 has {row}");
    }
}

/// A node on a fresh temporary data directory, its key the only sequencer.
fn start_node(dir: &std::path::Path) -> Node {
    let seed = [7u8; 32];
    let genesis = Genesis {
        name: "openapi-test".into(),
        network: NetworkId(1),
        timestamp: Timestamp(0),
        issuers: vec![],
        sequencers: vec![Keypair::from_seed(seed).account()],
        allocations: vec![],
    };
    Node::start(NodeConfig::new(
        dir.to_path_buf(),
        genesis,
        Keypair::from_seed(seed),
    ))
    .expect("node starts")
}

/// `path` with its parameters filled: a real account, a zero hash, height 1, a category.
fn concrete(path: &str) -> String {
    let account = Keypair::from_seed([9; 32]).account().to_did();
    let filled = path
        .replace("{id}", &account)
        .replace("{provider}", &account)
        .replace("{category}", "water.filter")
        .replace("{hash}", &"00".repeat(32))
        .replace("{height}", "1");
    assert!(
        !filled.contains('{'),
        "{path} has a parameter this test does not fill"
    );
    filled
}

/// What the router answers to `method path`: its status, and the error code if it sent one.
async fn answer(app: axum::Router, method: &str, path: &str) -> (StatusCode, Option<String>) {
    let request = Request::builder()
        .method(method.to_uppercase().as_str())
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(if method == "post" { "{}" } else { "" }))
        .expect("request builds");
    let response = app.oneshot(request).await.expect("the router answers");
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    if !is_json {
        // Plain text, metrics, or the event stream, whose body never ends.
        return (status, None);
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body: Value = serde_json::from_slice(&bytes).expect("a JSON answer parses");
    (status, body["error"]["code"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn every_listed_route_is_answered_by_its_handler_not_the_fallback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let node = start_node(dir.path());
    let app = router(node.shared().clone());

    let (status, code) = answer(app.clone(), "get", "/v1/no-such-endpoint").await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::NOT_FOUND, Some("unknown_endpoint"))
    );

    for (method, path) in ROUTES {
        let uri = concrete(path);
        let (status, code) = answer(app.clone(), method, &uri).await;
        assert_ne!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri}: the path is served, not this method"
        );
        assert_ne!(
            code.as_deref(),
            Some("unknown_endpoint"),
            "{method} {uri} fell through to the fallback"
        );
    }

    let request = Request::get("/v1/openapi.json")
        .body(Body::empty())
        .expect("request builds");
    let served = app.oneshot(request).await.expect("the router answers");
    assert_eq!(served.status(), StatusCode::OK);
    let bytes = served.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(
        &bytes[..],
        OPENAPI_JSON.as_bytes(),
        "the served document is openapi.json as is"
    );

    node.shutdown();
}
