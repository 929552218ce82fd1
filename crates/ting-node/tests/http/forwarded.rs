//! Batches a follower forwards to the leader, played by an attacker: a batch
//! signed by a node of the network is charged to no source budget, and
//! headers that claim a node without proving it are refused `bad_forward`.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use ting_core::limits::REFUSALS_PER_SOURCE_BURST;
use ting_core::{Keypair, SignedTx};
use ting_node::lead::peer;

use crate::common::*;

/// Both requests come from one address, as a follower's forwards do.
const FOLLOWER: [u8; 4] = [10, 0, 0, 21];

/// A batch request from the follower's address, with `headers`.
fn batch_from_follower(body: &str, headers: &[(&str, String)]) -> Request<Body> {
    let mut req = Request::post("/v1/transactions/batch?wait=true")
        .header("content-type", "application/json");
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let mut req = req.body(Body::from(body.to_owned())).expect("a request");
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((FOLLOWER, 40_000))));
    req
}

/// Request headers: (name, value).
type Headers = Vec<(&'static str, String)>;

fn signed_by(key: &Keypair, body: &str) -> Headers {
    let [node, at, signature] = peer::sign(
        key,
        &genesis_hash(),
        ting_node::clock::now(),
        body.as_bytes(),
    );
    vec![
        (peer::NODE_HEADER, node),
        (peer::TIME_HEADER, at),
        (peer::SIGNATURE_HEADER, signature),
    ]
}

fn batch_body(txs: &[SignedTx]) -> String {
    json!({ "txs": txs.iter().map(hex_body).collect::<Vec<_>>() }).to_string()
}

/// `n` copies of a spent nonce of `from`, each different: refused `bad_nonce`
/// by the ledger, which charges the source alone.
fn stale(from: &Keypair, n: u64) -> Vec<SignedTx> {
    (0..n)
        .map(|i| transfer(from, 0, user(3).account(), 2 + i))
        .collect()
}

fn codes(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["code"].as_str().unwrap_or("committed").to_owned())
        .collect()
}

#[tokio::test]
async fn a_nodes_signed_batch_spends_no_source_budget_and_an_unsigned_one_does() {
    let node = TestNode::start();
    let s = node.shared();
    let from = user(0);
    commit(
        &s,
        &transfer(&from, next_nonce(&s, &from), user(1).account(), 1),
    )
    .await;
    let over = stale(&from, REFUSALS_PER_SOURCE_BURST + 50);

    // Signed by the sequencer: refused for what they are, and the address keeps its budget.
    let body = batch_body(&over);
    let (status, answer) = call(
        &s,
        batch_from_follower(&body, &signed_by(&sequencer(), &body)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(codes(&answer).iter().all(|c| c == "bad_nonce"), "{answer}");
    let next = batch_body(&stale(&from, 1));
    let (_, answer) = call(
        &s,
        batch_from_follower(&next, &signed_by(&sequencer(), &next)),
    )
    .await;
    assert_eq!(
        codes(&answer),
        ["bad_nonce"],
        "a node's forwards spent nothing: {answer}"
    );

    // The same refusals unsigned are charged to the address, which is then
    // turned away. Repeated until seen, so that no speed of this machine lets
    // the budget refill between the two requests.
    let deadline = Deadline::new("the follower's address to be turned away unsigned");
    loop {
        let (_, answer) = call(&s, batch_from_follower(&body, &[])).await;
        let refused = codes(&answer);
        assert!(
            refused
                .iter()
                .all(|c| c == "bad_nonce" || c == "refusal_budget"),
            "{answer}"
        );
        let (_, answer) = call(&s, batch_from_follower(&next, &[])).await;
        if codes(&answer) == ["refusal_budget"] {
            break;
        }
        deadline.tick().await;
    }
}

#[tokio::test]
async fn headers_that_claim_a_node_without_proving_it_are_refused_bad_forward() {
    let node = TestNode::start();
    let s = node.shared();
    let body = batch_body(&[transfer(
        &user(0),
        next_nonce(&s, &user(0)),
        user(1).account(),
        1,
    )]);
    let good = signed_by(&sequencer(), &body);
    let stranger = signed_by(&user(2), &body);
    let mut forged = good.clone();
    forged[2].1 = "ab".repeat(64);
    let mut stale = good.clone();
    stale[1].1 = "1000".into();
    let cases: Vec<(&str, Headers, &str)> = vec![
        (
            "a signature over another body",
            signed_by(&sequencer(), "{}"),
            "does not verify",
        ),
        ("a forged signature", forged, "does not verify"),
        (
            "an account that is not a sequencer",
            stranger,
            "not a sequencer",
        ),
        (
            "a time far from the leader's clock",
            stale,
            "ms from this node's clock",
        ),
        ("one header of three", good[..1].to_vec(), "all of"),
    ];
    for (what, headers, says) in cases {
        let (status, answer) = call(&s, batch_from_follower(&body, &headers)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], "bad_forward", "{what}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{what}: {message}");
    }
    let (status, answer) = call(&s, batch_from_follower(&body, &good)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(codes(&answer), ["committed"], "{answer}");
}
