//! Data streams over the API: a device opens streams (one by hand-written
//! JSON), buyers find them by field, area, price, delivery record, seller
//! and owner, a page at a time; a delivery acknowledgement shows in the
//! record; a proved read checks against the signed header; closing takes
//! the stream out and gives the deposit back. Then hostile searches and
//! transactions, each refused by name while supply stays conserved.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};
use ting_api::state::state_answer_from_json;
use ting_core::limits::STREAM_DEPOSIT;
use ting_core::state_proof::StateCheck;
use ting_core::stream::{DeliveryAck, EpochRule, FieldKind, FieldSpec, StreamId, StreamTerms};
use ting_core::{Amount, BlockHeight, Hash32, Keypair, SignedTx, TxKind};
use ting_node::Shared;

use crate::common::*;

fn terms(area: &str, price: u64, fields: &[&str]) -> StreamTerms {
    StreamTerms {
        fields: fields
            .iter()
            .map(|name| FieldSpec {
                name: (*name).to_owned(),
                unit: "mg/l".to_owned(),
                kind: FieldKind::Number { decimals: 1 },
            })
            .collect(),
        price_per_epoch: Amount::new(price),
        epoch: EpochRule::Points(100),
        area: area.to_owned(),
        consent: Hash32::digest(&[b"a consent record"]),
    }
}

fn open(s: &Shared, device: &Keypair, terms: StreamTerms) -> (StreamId, SignedTx) {
    let tx = signed(device, next_nonce(s, device), TxKind::StreamOpen { terms });
    (tx.opened_stream().expect("an open"), tx)
}

/// A registered device of `owner` holding enough for three deposits.
async fn funded_device(s: &Arc<Shared>, owner: &Keypair, seed: u8) -> Keypair {
    let device = Keypair::from_seed([seed; 32]);
    commit(s, &register(owner, next_nonce(s, owner), &device)).await;
    let mint = TxKind::Mint {
        to: device.account(),
        amount: Amount::new(3 * STREAM_DEPOSIT),
    };
    commit(s, &signed(&issuer(), next_nonce(s, &issuer()), mint)).await;
    device
}

/// The stream ids a search finds, following `next` to the end.
async fn found(s: &Arc<Shared>, query: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut path = format!("/v1/streams?{query}");
    for _ in 0..10 {
        let body = check(s, &path, get(&path), ok(vec![])).await;
        for st in body["streams"].as_array().expect("a list") {
            all.push(st["stream"].as_str().expect("an id").to_owned());
        }
        let Some(next) = body["next"].as_str() else {
            return all;
        };
        path = format!("/v1/streams?{query}&after={next}");
    }
    panic!("the search did not end");
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn streams_open_are_found_record_deliveries_prove_and_close() {
    let node = TestNode::start();
    let s = node.shared();
    let (owner, buyer) = (user(0), user(3));
    let device = funded_device(&s, &owner, 71).await;
    let other = funded_device(&s, &user(1), 72).await;
    let device_before = balance(&s, &device.account());

    // Open by hand-written JSON: the documented shape of stream_open.
    let (hardness, tx) = open(&s, &device, terms("u0m", 50, &["hardness"]));
    let fields = json!({
        "fields": [{ "name": "hardness", "unit": "mg/l", "kind": "number", "decimals": 1 }],
        "price_per_epoch": 50,
        "epoch_points": 100,
        "area": "u0m",
        "consent": Hash32::digest(&[b"a consent record"]).to_hex(),
    });
    assert_eq!(tx_json(&tx)["fields"], fields, "the documented shape");
    commit(&s, &tx).await;
    assert_eq!(
        balance(&s, &device.account()),
        device_before - STREAM_DEPOSIT,
        "the deposit left the balance"
    );
    let (flow, tx) = open(&s, &device, terms("u0m", 500, &["hardness", "flow"]));
    commit(&s, &tx).await;
    let (far, tx) = open(&s, &other, terms("gcpv", 20, &["flow"]));
    commit(&s, &tx).await;
    let (hardness, flow, far) = (hardness.to_hex(), flow.to_hex(), far.to_hex());

    check(
        &s,
        "one stream",
        get(&format!("/v1/streams/{hardness}")),
        ok(vec![
            ("/stream", json!(hardness)),
            ("/seller", json!(did(&device))),
            ("/owner", json!(did(&owner))),
            ("/deposit", json!(STREAM_DEPOSIT)),
            ("/terms", fields),
            ("/delivered/epochs", json!(0)),
            ("/delivered/buyers", json!([])),
        ]),
    )
    .await;

    let searches: [(&str, Vec<&String>); 9] = [
        ("", vec![&hardness, &flow, &far]),
        ("field=hardness", vec![&hardness, &flow]),
        ("field=flow&area=u0", vec![&flow]),
        ("area=u", vec![&hardness, &flow]),
        // A search more precise than a stream's area still finds it.
        ("area=u0mzz", vec![&hardness, &flow]),
        ("max_price=50", vec![&hardness, &far]),
        (&format_owner(&owner), vec![&hardness, &flow]),
        (&format!("seller={}", did(&other)), vec![&far]),
        ("field=temperature", vec![]),
    ];
    for (query, want) in searches {
        let want = sorted(want.into_iter().cloned().collect());
        assert_eq!(found(&s, query).await, want, "search {query:?}");
        // The same search one stream per page ends with the same ids.
        let paged = found(&s, &format!("{query}&limit=1")).await;
        assert_eq!(paged, want, "search {query:?} a page at a time");
    }

    // The buyer acknowledges two epochs for 100; the seller records it.
    let id = StreamId::from_hex(&hardness).expect("an id");
    let ack = DeliveryAck::sign(&buyer, &genesis_hash(), &id, 2, Amount::new(100));
    let delivery = TxKind::StreamDelivery { stream: id, ack };
    commit(&s, &signed(&device, next_nonce(&s, &device), delivery)).await;
    check(
        &s,
        "delivered",
        get(&format!("/v1/streams/{hardness}")),
        ok(vec![
            ("/delivered/epochs", json!(2)),
            ("/delivered/paid", json!(100)),
            ("/delivered/buyers/0/buyer", json!(did(&buyer))),
            ("/delivered/buyers/0/epochs", json!(2)),
        ]),
    )
    .await;
    assert_eq!(found(&s, "min_epochs=1").await, vec![hardness.clone()]);

    // The proved read checks as a device checks it.
    let genesis = genesis_hash();
    let sequencers = vec![sequencer().account()];
    let trust = StateCheck {
        genesis: &genesis,
        sequencers: &sequencers,
        min_height: BlockHeight(0),
    };
    let path = format!("/v1/streams/{hardness}?proof=true");
    let body = check(&s, "proved", get(&path), ok(vec![])).await;
    let answer = state_answer_from_json(&body["proof"]).expect("the proof decodes");
    let proved = answer
        .verify_stream(&id, &trust)
        .expect("the proof holds")
        .expect("the stream is open");
    assert_eq!(proved.buyers.len(), 1);
    assert_eq!(body["record"]["delivered"]["epochs"], json!(2));

    // The owner closes it: the deposit goes back to the device, the stream leaves.
    let before = balance(&s, &device.account());
    let close = TxKind::StreamClose { stream: id };
    commit(&s, &signed(&owner, next_nonce(&s, &owner), close)).await;
    assert_eq!(balance(&s, &device.account()), before + STREAM_DEPOSIT);
    check_error(
        &s,
        "closed",
        get(&format!("/v1/streams/{hardness}")),
        StatusCode::NOT_FOUND,
        "unknown_stream",
    )
    .await;
    let body = check(
        &s,
        "proved absence",
        get(&path),
        ok(vec![("/record", Value::Null)]),
    )
    .await;
    let answer = state_answer_from_json(&body["proof"]).expect("the proof decodes");
    assert_eq!(answer.verify_stream(&id, &trust).expect("holds"), None);
    assert_eq!(sorted(found(&s, "").await), sorted(vec![flow, far]));
    check(
        &s,
        "supply",
        get("/v1/supply"),
        ok(vec![
            ("/locked", json!(2 * STREAM_DEPOSIT)),
            ("/conserved", json!(true)),
        ]),
    )
    .await;
}

fn format_owner(owner: &Keypair) -> String {
    format!("owner={}", did(owner))
}

#[tokio::test]
async fn hostile_stream_searches_and_transactions_are_refused_by_name() {
    let node = TestNode::start();
    let s = node.shared();
    let owner = user(0);
    let device = funded_device(&s, &owner, 73).await;
    let (id, tx) = open(&s, &device, terms("u0", 10, &["hardness"]));
    commit(&s, &tx).await;

    let bad_reads = [
        ("/v1/streams/xyz", "bad_stream_id"),
        ("/v1/streams/00?proof=true", "bad_stream_id"),
        ("/v1/streams?area=a", "invalid_query"),
        ("/v1/streams?area=u0u0u0u0u0u0u", "invalid_query"),
        ("/v1/streams?max_price=-1", "invalid_query"),
        ("/v1/streams?colour=red", "invalid_query"),
        ("/v1/streams?limit=100000", "page_too_large"),
        ("/v1/streams?seller=nobody", "bad_account_id"),
        ("/v1/streams?after=zz", "bad_stream_id"),
    ];
    for (path, code) in bad_reads {
        let (status, body) = call(&s, get(path)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], json!(code), "{path}: {body}");
    }
    let unknown = format!("/v1/streams/{}", "00".repeat(32));
    check_error(
        &s,
        "unknown",
        get(&unknown),
        StatusCode::NOT_FOUND,
        "unknown_stream",
    )
    .await;

    // A user that is no device cannot sell; a stranger cannot close.
    let (_, not_device) = open(&s, &user(1), terms("u0", 10, &["hardness"]));
    let stranger_close = signed(
        &user(2),
        next_nonce(&s, &user(2)),
        TxKind::StreamClose { stream: id },
    );
    let refused = [(not_device, "not_a_device"), (stranger_close, "not_seller")];
    for (tx, code) in refused {
        let req = post_json("/v1/transactions", &json_body(&tx));
        check_error(&s, code, req, StatusCode::UNPROCESSABLE_ENTITY, code).await;
    }

    // Terms that break a rule are refused as the form is read.
    let mut written = tx_json(&open(&s, &device, terms("u0", 10, &["hardness"])).1);
    written["fields"]["area"] = json!("alps");
    let req = post_json("/v1/transactions", &json!({ "json": written }));
    check_error(
        &s,
        "bad area",
        req,
        StatusCode::BAD_REQUEST,
        "invalid_terms",
    )
    .await;
    check(
        &s,
        "supply",
        get("/v1/supply"),
        ok(vec![("/conserved", json!(true))]),
    )
    .await;
    check_still_serving(&s, "after hostile streams").await;
}
