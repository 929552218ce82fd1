//! Submitting transactions: every body form, waiting or not, batches, and
//! outcomes read back by hash.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use ting_core::SignedTx;
use ting_node::Shared;

use crate::common::*;

type Form = fn(&SignedTx) -> Request<Body>;

#[tokio::test]
async fn a_transaction_commits_in_every_body_form() {
    let node = TestNode::start();
    let s = node.shared();
    let (from, to) = (user(0), user(1).account());
    let forms: Vec<(&str, Form)> = vec![
        ("hex", |tx| post_json("/v1/transactions", &hex_body(tx))),
        ("base64", |tx| {
            post_json("/v1/transactions", &base64_body(tx))
        }),
        ("json", |tx| post_json("/v1/transactions", &json_body(tx))),
        ("json, wait=true", |tx| {
            post_json("/v1/transactions?wait=true", &json_body(tx))
        }),
        ("octet-stream", |tx| {
            post_raw(
                "/v1/transactions",
                "application/octet-stream",
                tx.bytes().to_vec(),
            )
        }),
        ("hex with whitespace, no content type", |tx| {
            let body = json!({ "hex": format!(" {} ", hex::encode(tx.bytes())) });
            Request::post("/v1/transactions")
                .body(Body::from(body.to_string()))
                .expect("request")
        }),
    ];
    let mut last_height = 0;
    for (nonce, (form, make)) in (0u64..).zip(&forms) {
        let tx = transfer(&from, nonce, to, 10 + nonce);
        let body = check(
            &s,
            form,
            make(&tx),
            ok(vec![
                ("/status", json!("committed")),
                ("/tx_hash", json!(tx.hash().to_hex())),
                ("/index", json!(0)),
            ]),
        )
        .await;
        let height = body["height"].as_u64().expect("height");
        assert!(height > last_height, "{form}: a later block");
        last_height = height;
        assert_eq!(
            body["block_hash"].as_str().map(str::len),
            Some(64),
            "{form}"
        );
    }
    let n = forms.len() as u64;
    let sent: u64 = (0..n).map(|i| 10 + i).sum();
    assert_eq!(balance(&s, &from.account()), FUNDS - sent);
    assert_eq!(balance(&s, &to), FUNDS + sent);
    assert_eq!(next_nonce(&s, &from), n);
}

async fn wait_for_answer(s: &Arc<Shared>, path: &str, status: StatusCode) -> Value {
    let deadline = Deadline::new(format!("{path} to answer {status}"));
    loop {
        let (got, body) = call(s, get(path)).await;
        if got == status {
            return body;
        }
        assert_eq!(
            got,
            StatusCode::NOT_FOUND,
            "{path} before the outcome: {body}"
        );
        deadline.tick().await;
    }
}

#[tokio::test]
async fn without_waiting_a_submission_is_accepted_and_its_outcome_read_by_hash() {
    let node = TestNode::start();
    let s = node.shared();
    let from = user(0);
    let good = transfer(&from, 0, user(1).account(), 3);
    let binary = transfer(&from, 1, user(1).account(), 4);
    let gap = transfer(&from, 9, user(1).account(), 5);
    let submissions = [
        (
            "json",
            post_json("/v1/transactions?wait=false", &json_body(&good)),
            &good,
        ),
        (
            "binary",
            post_raw(
                "/v1/transactions?wait=false",
                "application/octet-stream",
                binary.bytes().to_vec(),
            ),
            &binary,
        ),
        (
            "gap",
            post_json("/v1/transactions?wait=false", &hex_body(&gap)),
            &gap,
        ),
    ];
    for (what, req, tx) in submissions {
        let want = Expect {
            status: StatusCode::ACCEPTED,
            fields: vec![
                ("/status", json!("accepted")),
                ("/tx_hash", json!(tx.hash().to_hex())),
            ],
        };
        check(&s, what, req, want).await;
    }
    for tx in [&good, &binary] {
        let body = wait_for_answer(
            &s,
            &format!("/v1/transactions/{}", tx.hash().to_hex()),
            StatusCode::OK,
        )
        .await;
        assert_eq!(body["hex"], hex::encode(tx.bytes()));
    }
    let path = format!("/v1/transactions/{}", gap.hash().to_hex());
    let body = wait_for_answer(&s, &path, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["error"]["code"], "bad_nonce", "{body}");
    assert_eq!(body["error"]["tx_hash"], gap.hash().to_hex());
    let receipt = format!("/v1/receipts/{}", gap.hash().to_hex());
    check_error(
        &s,
        "receipt of a refusal",
        get(&receipt),
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_nonce",
    )
    .await;
    assert_eq!(next_nonce(&s, &from), 2);
}

#[tokio::test]
async fn a_refused_transaction_is_reported_by_hash_with_its_code() {
    let node = TestNode::start();
    let s = node.shared();
    let u0 = user(0);
    let cases = [
        (
            "bad signature",
            tampered(&transfer(&u0, 0, user(1).account(), 1)),
            "bad_signature",
        ),
        (
            "nonce gap",
            transfer(&u0, 3, user(1).account(), 1),
            "bad_nonce",
        ),
        (
            "overdraft",
            transfer(&u0, 0, user(1).account(), FUNDS + 1),
            "insufficient_funds",
        ),
        (
            "self transfer",
            transfer(&u0, 0, u0.account(), 1),
            "self_transfer",
        ),
    ];
    for (what, tx, code) in cases {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        check_error(
            &s,
            what,
            post_json("/v1/transactions", &json_body(&tx)),
            status,
            code,
        )
        .await;
        for path in ["transactions", "receipts"] {
            let req = get(&format!("/v1/{path}/{}", tx.hash().to_hex()));
            if code == "bad_signature" {
                // Unsigned junk is not remembered, so it cannot flush real refusals.
                let not_found = StatusCode::NOT_FOUND;
                check_error(&s, what, req, not_found, "unknown_transaction").await;
                continue;
            }
            let body = check_error(&s, what, req, status, code).await;
            assert_eq!(body["error"]["tx_hash"], tx.hash().to_hex(), "{what}");
        }
    }
}

#[tokio::test]
async fn a_batch_is_answered_per_transaction_in_order() {
    let node = TestNode::start();
    let s = node.shared();
    let (a, b, to) = (user(0), user(1), user(2).account());
    let txs = [
        transfer(&a, 0, to, 1),
        transfer(&a, 1, to, 2),
        transfer(&a, 5, to, 3),
        signed_on(elsewhere(), &b, 0, transfer_kind(to, 4)),
        transfer(&b, 0, to, 5),
        tampered(&transfer(&b, 1, to, 6)),
    ];
    let items: Vec<Value> = vec![
        json_body(&txs[0]),
        hex_body(&txs[1]),
        base64_body(&txs[2]),
        json_body(&txs[3]),
        json_body(&txs[4]),
        json_body(&txs[5]),
    ];
    let (status, body) = call(
        &s,
        post_json("/v1/transactions/batch", &json!({ "txs": items })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().expect("results");
    let want = [
        "committed",
        "committed",
        "bad_nonce",
        "wrong_network",
        "committed",
        "bad_signature",
    ];
    assert_eq!(results.len(), want.len());
    for ((result, tx), want) in results.iter().zip(&txs).zip(want) {
        assert_eq!(result["tx_hash"], tx.hash().to_hex(), "{result}");
        if want == "committed" {
            assert_eq!(result["status"], "committed", "{result}");
        } else {
            assert_eq!(
                (&result["status"], &result["code"]),
                (&json!("refused"), &json!(want)),
                "{result}"
            );
        }
    }
    let place = |r: &Value| {
        (
            r["height"].as_u64().expect("height"),
            r["index"].as_u64().expect("index"),
        )
    };
    assert!(
        place(&results[0]) < place(&results[1]),
        "a batch keeps its order"
    );
    assert!(
        place(&results[1]) < place(&results[4]),
        "a batch keeps its order"
    );
    assert_eq!(balance(&s, &to), FUNDS + 1 + 2 + 5);

    // Without waiting, every admitted transaction is accepted and commits later.
    let later = [transfer(&a, 2, to, 10), transfer(&b, 1, to, 20)];
    let items: Vec<Value> = later.iter().map(json_body).collect();
    let (status, body) = call(
        &s,
        post_json(
            "/v1/transactions/batch?wait=false",
            &json!({ "txs": items }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    for (result, tx) in body["results"]
        .as_array()
        .expect("results")
        .iter()
        .zip(&later)
    {
        assert_eq!(
            (&result["status"], &result["tx_hash"]),
            (&json!("accepted"), &json!(tx.hash().to_hex()))
        );
        wait_for_answer(
            &s,
            &format!("/v1/receipts/{}", tx.hash().to_hex()),
            StatusCode::OK,
        )
        .await;
    }
    assert_eq!(balance(&s, &to), FUNDS + 1 + 2 + 5 + 10 + 20);
}

#[tokio::test]
async fn a_transaction_sent_again_after_it_landed_gets_the_same_commit_and_changes_nothing() {
    let node = TestNode::start();
    let s = node.shared();
    let (from, to) = (user(0), user(1).account());
    let tx = transfer(&from, next_nonce(&s, &from), to, 9);
    let first = commit(&s, &tx).await;
    let balance_to = balance(&s, &to);

    // Sent again alone, as a device that lost the receipt does: the first commit, receipt and all.
    let again = commit(&s, &tx).await;
    for field in ["tx_hash", "height", "index", "receipt"] {
        assert_eq!(again[field], first[field], "{field}: {again} vs {first}");
    }
    assert_eq!(first.get("resent"), None, "{first}");
    assert_eq!(
        again["resent"], true,
        "the answer says it is a copy's: {again}"
    );
    // And inside a batch beside a new transaction: committed, where it landed.
    let next = transfer(&from, next_nonce(&s, &from), to, 1);
    let items = json!({ "txs": [hex_body(&tx), hex_body(&next)] });
    let (status, body) = call(&s, post_json("/v1/transactions/batch?wait=true", &items)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().expect("results");
    assert_eq!(results[0]["status"], "committed", "{body}");
    assert_eq!(results[0]["height"], first["height"], "{body}");
    assert_eq!(results[0]["index"], first["index"], "{body}");
    assert_eq!(results[0]["resent"], true, "{body}");
    assert_eq!(results[1]["status"], "committed", "{body}");

    assert_eq!(
        balance(&s, &to),
        balance_to + 1,
        "only the new transfer moved money"
    );
    let (_, metrics) = call_text(&s, get("/metrics")).await;
    assert!(
        metrics.contains("ting_txs_resent_answered_total 2"),
        "both copies are counted: {metrics}"
    );
    // A different transaction on a used nonce is still refused.
    let stale = transfer(&from, next_nonce(&s, &from) - 1, to, 5);
    check_error(
        &s,
        "a used nonce",
        post_json("/v1/transactions", &json_body(&stale)),
        StatusCode::UNPROCESSABLE_ENTITY,
        "bad_nonce",
    )
    .await;
}
