//! The HTTP API end to end, without a socket (`router(shared).oneshot(request)`):
//! every endpoint's happy path, then a table of hostile inputs, each answered
//! with its 4xx status and error code while the ledger stays as it was and the
//! node keeps committing. The edge's limits under floods are tested over real
//! sockets (`http/edge.rs`).

#[path = "http/channels.rs"]
mod channels;
mod common;
#[path = "http/door.rs"]
mod door;
#[path = "http/edge.rs"]
mod edge;
#[path = "http/events.rs"]
mod events;
#[path = "http/forwarded.rs"]
mod forwarded;
#[path = "http/hostile.rs"]
mod hostile;
#[path = "http/market.rs"]
mod market;
#[path = "http/overview.rs"]
mod overview;
#[path = "http/proofs.rs"]
mod proofs;
#[path = "http/queries.rs"]
mod queries;
#[path = "http/resources.rs"]
mod resources;
#[path = "http/streams.rs"]
mod streams;
#[path = "http/submit.rs"]
mod submit;
#[path = "http/watchers.rs"]
mod watchers;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use ting_core::limits::FAUCET_AMOUNT_MAX;
use ting_core::{Amount, TxKind};

use common::*;

// ---- Reads on a fresh node ----

#[tokio::test]
async fn every_read_endpoint_answers_on_a_fresh_node() {
    let node = TestNode::start();
    let s = node.shared();
    let supply = u64::from(USERS) * FUNDS;
    let u0 = user(0);
    let account = |path: String| {
        (
            path,
            ok(vec![
                ("/balance", json!(FUNDS)),
                ("/nonce", json!(0)),
                ("/device", Value::Null),
            ]),
        )
    };
    let cases: Vec<(String, Expect)> = vec![
        (
            "/healthz".into(),
            ok(vec![
                ("/status", json!("ok")),
                ("/durable_height", json!(0)),
            ]),
        ),
        (
            "/v1/status".into(),
            ok(vec![
                ("/network", json!(NET.0)),
                ("/name", json!("ting-node-tests")),
                ("/genesis_hash", json!(genesis().hash().to_hex())),
                ("/sequencer", json!(did(&sequencer()))),
                ("/height", json!(0)),
                ("/durable_height", json!(0)),
                // The funded users and the issuer, whose account exists from genesis.
                ("/accounts", json!(USERS + 1)),
                ("/supply", json!(supply)),
                ("/faucet", json!(did(&issuer()))),
                // No MQTT gateway runs here (tests/mqtt.rs starts one).
                ("/mqtt", Value::Null),
            ]),
        ),
        (
            "/v1/supply".into(),
            ok(vec![
                ("/height", json!(0)),
                ("/minted", json!(supply)),
                ("/balances", json!(supply)),
                ("/conserved", json!(true)),
            ]),
        ),
        account(format!("/v1/accounts/{}", did(&u0))),
        account(format!("/v1/accounts/{}", u0.account().to_hex())),
        (
            format!("/v1/accounts/{}", did(&user(9))),
            ok(vec![
                ("/balance", json!(0)),
                ("/nonce", json!(0)),
                ("/id", json!(did(&user(9)))),
            ]),
        ),
        (
            format!("/v1/accounts/{}/transactions", did(&u0)),
            ok(vec![("/transactions", json!([])), ("/next", Value::Null)]),
        ),
        (
            "/v1/blocks".into(),
            ok(vec![("/blocks", json!([])), ("/durable_height", json!(0))]),
        ),
        (
            "/v1/blocks?from=1&limit=5".into(),
            ok(vec![("/blocks", json!([]))]),
        ),
    ];
    for (path, want) in cases {
        check(&s, &path, get(&path), want).await;
    }
    let hash = "00".repeat(32);
    let misses = [
        ("/v1/blocks/1", StatusCode::NOT_FOUND, "unknown_block"),
        (
            &format!("/v1/transactions/{hash}"),
            StatusCode::NOT_FOUND,
            "unknown_transaction",
        ),
        (
            &format!("/v1/receipts/{hash}"),
            StatusCode::NOT_FOUND,
            "unknown_transaction",
        ),
        (
            "/v1/nothing/here",
            StatusCode::NOT_FOUND,
            "unknown_endpoint",
        ),
        ("/nothing-here", StatusCode::NOT_FOUND, "unknown_endpoint"),
    ];
    for (path, status, code) in misses {
        check_error(&s, path, get(path), status, code).await;
    }
}

#[tokio::test]
async fn the_dashboard_answers_at_the_root_in_html_under_a_strict_content_policy() {
    let node = TestNode::start();
    let s = node.shared();
    for path in ["/", "/blocks", "/market", "/streams", "/verify", "/api"] {
        let (status, headers, text) = call_full(&s, get(path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(
            headers["content-type"], "text/html; charset=utf-8",
            "{path}"
        );
        let policy = headers["content-security-policy"].to_str().expect("ascii");
        assert!(policy.contains("script-src 'self'"), "{path}: {policy}");
        assert!(text.starts_with("<!doctype html>"), "{path}");
    }
    let (status, headers, _) = call_full(&s, get("/assets/verify.js")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    let (status, _, text) = call_full(&s, get("/assets/../Cargo.toml")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{text}");
    let (status, _, text) = call_full(&s, get("/accounts/not-an-account")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("data-code=\"bad_account_id\""), "{text}");
    let (status, _, text) = call_full(
        &s,
        get("/accounts/%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        !text.contains("<script>alert(1)"),
        "the id is escaped: {text}"
    );
    let (status, _, _) = call_full(&s, get("/blocks?from=abc")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = call_full(&s, get("/market?csv=nothing")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_openapi_document_is_served_as_json() {
    let node = TestNode::start();
    let (status, headers, text) = call_full(&node.shared(), get("/v1/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let doc: Value = serde_json::from_str(&text).expect("the document is JSON");
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with('3')),
        "{doc}"
    );
    assert!(doc["paths"].is_object(), "{doc}");
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn metrics_count_commits_refusals_and_requests_in_prometheus_text() {
    let node = TestNode::start();
    let s = node.shared();
    let u0 = user(0);
    commit(&s, &transfer(&u0, 0, user(1).account(), 5)).await;
    let replay = json_body(&transfer(&u0, 0, user(1).account(), 6));
    check_error(
        &s,
        "replay",
        post_json("/v1/transactions", &replay),
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_nonce",
    )
    .await;
    check_error(
        &s,
        "404",
        get("/v1/nope"),
        StatusCode::NOT_FOUND,
        "unknown_endpoint",
    )
    .await;
    let bad = post_raw("/v1/transactions", "application/json", b"{".to_vec());
    check_error(
        &s,
        "malformed",
        bad,
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;

    // The queue gauges drop just after a refusal is answered, so wait for them to drain.
    let deadline = Deadline::new("the queue gauges to drain");
    let mut earlier_scrapes = 0.0;
    let (status, headers, text) = loop {
        let (status, headers, text) = call_full(&s, get("/metrics")).await;
        if metric(&text, "ting_verify_queue_txs") == 0.0
            && metric(&text, "ting_sequencer_queue_txs") == 0.0
        {
            break (status, headers, text);
        }
        earlier_scrapes += 1.0;
        deadline.tick().await;
    };
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain"));
    let want = [
        ("ting_txs_submitted_total", 2.0),
        ("ting_txs_committed_total", 1.0),
        ("ting_blocks_committed_total", 1.0),
        ("ting_busy_total", 0.0),
        ("ting_malformed_total", 1.0),
        ("ting_http_requests_total", 4.0 + earlier_scrapes),
        ("ting_http_client_errors_total", 3.0),
        ("ting_txs_refused_total{code=\"bad_nonce\"}", 1.0),
        ("ting_height", 1.0),
        ("ting_durable_height", 1.0),
        ("ting_accounts", f64::from(USERS + 1)),
        ("ting_verify_queue_txs", 0.0),
        ("ting_sequencer_queue_txs", 0.0),
    ];
    for (name, value) in want {
        assert_eq!(metric(&text, name), value, "{name}");
    }
    assert!(metric(&text, "ting_fsyncs_total") >= 1.0);
    assert!(metric(&text, "ting_fsync_seconds_total") > 0.0);
    for line in text.lines().filter(|l| l.starts_with("# TYPE")) {
        let kind = line.rsplit(' ').next().expect("a type");
        assert!(kind == "counter" || kind == "gauge", "{line}");
    }
}

// ---- Faucet ----

#[tokio::test]
async fn the_faucet_mints_in_dev_mode() {
    let node = TestNode::start();
    let s = node.shared();
    let to = user(9);
    let req = post_json("/v1/faucet", &json!({ "to": did(&to), "amount": 500 }));
    check(
        &s,
        "grant",
        req,
        ok(vec![
            ("/status", json!("committed")),
            ("/to", json!(did(&to))),
            ("/amount", json!(500)),
        ]),
    )
    .await;
    // The faucet shares the issuer's nonce with mints submitted directly.
    let mint = TxKind::Mint {
        to: to.account(),
        amount: Amount::new(7),
    };
    commit(&s, &signed(&issuer(), 1, mint)).await;
    let req = post_json(
        "/v1/faucet",
        &json!({ "to": to.account().to_hex(), "amount": FAUCET_AMOUNT_MAX }),
    );
    check(
        &s,
        "grant the most, by hex id",
        req,
        ok(vec![("/status", json!("committed"))]),
    )
    .await;
    assert_eq!(balance(&s, &to.account()), 507 + FAUCET_AMOUNT_MAX);
    check(
        &s,
        "supply",
        get("/v1/supply"),
        ok(vec![
            (
                "/minted",
                json!(u64::from(USERS) * FUNDS + 507 + FAUCET_AMOUNT_MAX),
            ),
            ("/conserved", json!(true)),
        ]),
    )
    .await;
}

#[tokio::test]
async fn a_node_without_a_faucet_answers_faucet_disabled() {
    let node = TestNode::start_with(|cfg| cfg.faucet = None);
    let s = node.shared();
    check(
        &s,
        "status",
        get("/v1/status"),
        ok(vec![("/faucet", Value::Null)]),
    )
    .await;
    let req = post_json("/v1/faucet", &json!({ "to": did(&user(9)), "amount": 5 }));
    check_error(&s, "faucet", req, StatusCode::NOT_FOUND, "faucet_disabled").await;
    assert_eq!(balance(&s, &user(9).account()), 0);
}

#[tokio::test]
async fn a_wrong_method_is_answered_in_json_with_the_allowed_methods() {
    let node = TestNode::start();
    let s = node.shared();
    let cases = [
        ("/v1/transactions", "POST"),
        ("/v1/faucet", "POST"),
        ("/v1/blocks/1", "GET"),
        ("/healthz", "GET"),
    ];
    for (path, allowed) in cases {
        let req = Request::delete(path).body(Body::empty()).expect("request");
        let (status, headers, text) = call_full(&s, req).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        let body: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(body["error"]["code"], "method_not_allowed", "{path}");
        let allow = headers
            .get(header::ALLOW)
            .map(|v| v.to_str().expect("ascii").to_owned());
        assert!(
            allow.as_deref().is_some_and(|a| a.contains(allowed)),
            "{path}: Allow {allow:?}"
        );
    }
}
