//! The door before the pipeline, played by an attacker: resubmissions answered
//! from memory, a flooding address refused unchecked while others are served,
//! a sender whose refusals pile up stopped, and nobody else hurt.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use serde_json::{json, Value};
use ting_core::limits::{REFUSALS_PER_SENDER_BURST, REFUSALS_PER_SOURCE_BURST};
use ting_core::{Keypair, Nonce, Signature, SignedTx, Timestamp, TxBody};
use ting_node::pipeline::Outcome;

use crate::common::*;

/// `req` as if it came from `ip` over a socket.
fn from(ip: [u8; 4], mut req: Request<Body>) -> Request<Body> {
    let addr = SocketAddr::from((ip, 40_000));
    req.extensions_mut().insert(ConnectInfo(addr));
    req
}

const ATTACKER: [u8; 4] = [10, 0, 0, 66];
const HONEST: [u8; 4] = [10, 0, 0, 7];

/// A transaction from a key that never received money, not even signed: the
/// door refuses it before any signature check.
fn stranger(i: u64) -> SignedTx {
    let key = Keypair::from_seed([0xa7; 32]);
    let body = TxBody {
        genesis: genesis_hash(),
        sender: key.account(),
        nonce: Nonce(i),
        valid_until: Timestamp(u64::MAX),
        kind: transfer_kind(user(0).account(), 1),
    };
    SignedTx::from_parts(body, Signature([1; 64]))
}

fn batch(txs: &[SignedTx]) -> Value {
    json!({ "txs": txs.iter().map(json_body).collect::<Vec<_>>() })
}

#[tokio::test]
async fn a_resubmitted_bad_signature_is_answered_from_memory_and_a_duplicate_in_a_batch_is_pending()
{
    let node = TestNode::start();
    let s = node.shared();
    let bad = tampered(&transfer(&user(0), 0, user(1).account(), 5));
    for round in 0..2u64 {
        let req = from(ATTACKER, post_json("/v1/transactions", &json_body(&bad)));
        let (status, body) = call(&s, req).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(body["error"]["code"], "bad_signature", "{body}");
        assert_eq!(s.admission.answered_from_memory(), round, "round {round}");
    }
    let (status, metrics) = call_text(&s, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics.contains("\nting_admission_from_memory_total 1\n"),
        "{metrics}"
    );
    let good = transfer(&user(0), 0, user(1).account(), 5);
    let (status, body) = call(
        &s,
        post_json("/v1/transactions/batch", &batch(&[good.clone(), good])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["status"], "committed", "{body}");
    assert_eq!(body["results"][1]["code"], "already_pending", "{body}");
}

#[tokio::test]
async fn a_flooding_address_is_refused_unchecked_while_another_is_served() {
    let node = TestNode::start();
    let s = node.shared();
    let flood: Vec<SignedTx> = (0..2 * REFUSALS_PER_SOURCE_BURST).map(stranger).collect();
    // The flood spends the attacker's budget, into debt; its next transaction,
    // a valid one, is refused unchecked. Repeated until seen, so that no speed
    // of this machine lets the budget refill between the two requests (a valid
    // one that gets through commits, and the next round uses the next nonce).
    let deadline = Deadline::new("a valid transaction from the flooding address to be refused");
    for nonce in 0.. {
        let req = from(
            ATTACKER,
            post_json("/v1/transactions/batch", &batch(&flood)),
        );
        let (status, body) = call(&s, req).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let results = body["results"].as_array().expect("results");
        assert!(
            results
                .iter()
                .all(|r| r["code"] == "unknown_sender" || r["code"] == "refusal_budget"),
            "every stranger is refused at the door: {body}"
        );
        let good = transfer(&user(0), nonce, user(1).account(), 5);
        let req = from(
            ATTACKER,
            post_json("/v1/transactions?wait=false", &json_body(&good)),
        );
        let (status, headers, text) = call_full(&s, req).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert!(text.contains("\"refusal_budget\""), "{text}");
            let retry = headers
                .get(header::RETRY_AFTER)
                .map(|v| v.as_bytes().to_vec());
            assert_eq!(retry, Some(b"1".to_vec()));
            break;
        }
        assert_eq!(status, StatusCode::ACCEPTED, "{text}");
        deadline.tick().await;
    }
    // Another address is served at once.
    let honest = transfer(&user(2), 0, user(1).account(), 5);
    let (status, body) = call(
        &s,
        from(HONEST, post_json("/v1/transactions", &json_body(&honest))),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "another address is served: {body}");
    assert_eq!(body["status"], "committed", "{body}");
}

#[test]
fn a_sender_whose_signed_transactions_keep_failing_is_stopped_and_others_are_not() {
    let node = TestNode::start();
    let s = node.shared();
    let (spender, other) = (user(0), user(3));
    // Signed, each distinct, each more than the balance: refused on the state.
    let overspends: Vec<SignedTx> = (0..2 * REFUSALS_PER_SENDER_BURST)
        .map(|i| transfer(&spender, 0, user(1).account(), FUNDS + 1 + i))
        .collect();
    let codes: Vec<&'static str> = submit_and_wait(&s, overspends)
        .into_iter()
        .map(|o| match o {
            Outcome::Refused(r) => r.code,
            Outcome::Committed(c) => panic!("an overspend committed: {c:?}"),
        })
        .collect();
    let budget = usize::try_from(REFUSALS_PER_SENDER_BURST).expect("small");
    assert!(
        codes[..budget].iter().all(|c| *c == "insufficient_funds"),
        "the first {budget} are checked: {codes:?}"
    );
    assert!(
        codes.contains(&"refusal_budget"),
        "then the sender is refused unchecked: {codes:?}"
    );
    // Its valid transfer waits until the budget regains; another sender is served now.
    let outcome = submit_and_wait(&s, vec![transfer(&other, 0, user(1).account(), 5)]);
    assert!(matches!(outcome[0], Outcome::Committed(_)), "{outcome:?}");
    let deadline = Deadline::new("the stopped sender to be served again");
    loop {
        let outcome = submit_and_wait(&s, vec![transfer(&spender, 0, user(1).account(), 5)]);
        match &outcome[0] {
            Outcome::Committed(_) => break,
            Outcome::Refused(r) => assert_eq!(r.code, "refusal_budget", "{r:?}"),
        }
        deadline.tick_blocking();
    }
}
