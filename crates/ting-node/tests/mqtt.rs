//! The MQTT gateway end to end, against real brokers: the embedded rmqtt on
//! a free port, and a Mosquitto each test starts itself. A device client
//! publishes transactions to `ting/v1/tx` and reads signed envelopes from its
//! inbox; the HTTP API and `/metrics` are read without a socket.

mod common;
#[path = "mqtt/support.rs"]
mod support;

use std::net::TcpListener;
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};
use ting_core::envelope::{Envelope, EnvelopeType, ErrorPayload, ReceiptPayload, RefusalPayload};
use ting_core::topics::BLOCKS_TOPIC;
use ting_core::{BlockHeader, Keypair, SignedTx};
use ting_node::mqtt::{notice_id, Gateway, GatewayConfig, MqttMode, MqttStartError};
use ting_node::Shared;

use common::*;
use support::*;

/// Checks the envelope is the node's, for `to`, of `kind`, about `tx`.
fn check_notice(env: &Envelope, to: &Keypair, kind: EnvelopeType, tx: &SignedTx) {
    let h = &env.header;
    assert_eq!(h.genesis, common::genesis_hash());
    assert_eq!(h.sender, sequencer().account(), "signed by the node");
    assert_eq!(h.recipient, to.account());
    assert_eq!(h.kind, kind);
    assert_eq!(h.id, notice_id(kind, &tx.hash()), "the id is derived");
    assert!(!h.encrypted);
}

/// Publishes `tx` and answers the receipt from the sender's inbox.
async fn commit_over_mqtt(device: &mut Device, from: &Keypair, tx: &SignedTx) -> ReceiptPayload {
    device.publish_tx(tx.bytes().to_vec()).await;
    let (topic, env) = device.next_envelope().await;
    assert_eq!(topic, ting_core::topics::inbox(&from.account()));
    check_notice(&env, from, EnvelopeType::RECEIPT, tx);
    let receipt = ReceiptPayload::decode(&env.payload).expect("a receipt payload");
    assert_eq!(receipt.tx_hash, tx.hash());
    receipt
        .verify(&genesis_hash(), &[sequencer().account()])
        .expect("the receipt proves the commit: header signature and Merkle path");
    receipt
}

async fn http_shows(shared: &Arc<Shared>, tx: &SignedTx) {
    index_caught_up(shared).await;
    let path = format!("/v1/transactions/{}", tx.hash().to_hex());
    let (status, body) = call(shared, get(&path)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["tx_hash"], tx.hash().to_hex());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_over_mqtt_gets_a_signed_receipt_and_shows_over_http() {
    let node = TestNode::start();
    let shared = node.shared();
    let gw = embedded_gateway(&shared).await;
    let broker = gw.listen_addr().expect("an embedded broker");
    let from = user(0);
    let mut device = Device::inboxes(broker, &shared.genesis_hash, &[&from]).await;

    let tx = transfer(&from, next_nonce(&shared, &from), user(5).account(), 7);
    let receipt = commit_over_mqtt(&mut device, &from, &tx).await;
    assert!(receipt.header.height.0 >= 1);
    http_shows(&shared, &tx).await;

    // The newest durable header is retained on ting/v1/blocks for late subscribers.
    let mut late = Device::connect(
        broker,
        &shared.genesis_hash,
        &user(7),
        &[BLOCKS_TOPIC.to_string()],
    )
    .await;
    let (_, bytes) = late.next().await;
    let header = BlockHeader::from_bytes(&bytes).expect("a block header");
    header.verify_signature().expect("signed by the sequencer");
    assert_eq!(header.sequencer, sequencer().account());
    assert!(header.height >= receipt.header.height);

    assert_eq!(metric(&shared, "ting_mqtt_received_total").await, 1);
    assert_eq!(metric(&shared, "ting_mqtt_connected").await, 1);
    metric_reaches(&shared, "ting_mqtt_published_total{kind=\"receipt\"}", 1).await;
    assert_eq!(gw.received(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_transaction_gets_a_refusal_with_the_ledger_code() {
    let node = TestNode::start();
    let shared = node.shared();
    let gw = embedded_gateway(&shared).await;
    let from = user(1);
    let mut device = Device::inboxes(
        gw.listen_addr().expect("embedded"),
        &shared.genesis_hash,
        &[&from],
    )
    .await;

    let tx = transfer(&from, next_nonce(&shared, &from) + 5, user(2).account(), 1);
    device.publish_tx(tx.bytes().to_vec()).await;
    let (_, env) = device.next_envelope().await;
    check_notice(&env, &from, EnvelopeType::REFUSAL, &tx);
    let refusal = RefusalPayload::decode(&env.payload).expect("a refusal payload");
    assert_eq!(refusal.tx_hash, tx.hash());
    assert_eq!(refusal.code, "bad_nonce");
    assert!(!refusal.message.is_empty());
    metric_reaches(&shared, "ting_mqtt_published_total{kind=\"refusal\"}", 1).await;
}

/// One hostile payload: what it is, the drop reason, and whose inbox hears of
/// it (only a sender whose signature verified).
struct Hostile {
    payload: Vec<u8>,
    reason: &'static str,
    answered: Option<Keypair>,
}

fn hostile_payloads() -> Vec<Hostile> {
    let truncated = transfer(&user(1), 0, user(2).account(), 1);
    let mut oversized = transfer(&user(2), 0, user(3).account(), 1).bytes().to_vec();
    oversized.resize(4 * 1024, 0xAA);
    let bad_sig = tampered(&transfer(&user(3), 0, user(0).account(), 1));
    let elsewhere = signed_on(
        common::elsewhere(),
        &user(1),
        0,
        transfer_kind(user(0).account(), 1),
    );
    vec![
        Hostile {
            payload: b"not a transaction".to_vec(),
            reason: "malformed",
            answered: None,
        },
        Hostile {
            payload: truncated.bytes()[..60].to_vec(),
            reason: "malformed",
            answered: None,
        },
        Hostile {
            payload: oversized,
            reason: "oversized",
            answered: None,
        },
        Hostile {
            payload: bad_sig.bytes().to_vec(),
            reason: "bad_signature",
            answered: None,
        },
        Hostile {
            payload: elsewhere.bytes().to_vec(),
            reason: "wrong_network",
            answered: Some(user(1)),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_payloads_are_dropped_counted_and_answered_only_to_a_verified_sender() {
    let node = TestNode::start();
    let shared = node.shared();
    let gw = embedded_gateway(&shared).await;
    let keys: Vec<Keypair> = (0..USERS).map(user).collect();
    let refs: Vec<&Keypair> = keys.iter().collect();
    let broker = gw.listen_addr().expect("embedded");
    let mut device = Device::inboxes(broker, &shared.genesis_hash, &refs).await;

    let cases = hostile_payloads();
    for c in &cases {
        device.publish_tx(c.payload.clone()).await;
    }
    for (reason, n) in [
        ("malformed", 2),
        ("oversized", 1),
        ("bad_signature", 1),
        ("wrong_network", 1),
    ] {
        let series = format!("ting_mqtt_dropped_total{{reason=\"{reason}\"}}");
        metric_reaches(&shared, &series, n).await;
    }
    let answered: Vec<&Hostile> = cases.iter().filter(|c| c.answered.is_some()).collect();
    for c in &answered {
        let (_, env) = device.next_envelope().await;
        assert_eq!(env.header.kind, EnvelopeType::ERROR);
        assert_eq!(env.header.sender, sequencer().account());
        let p = ErrorPayload::decode(&env.payload).expect("an error payload");
        let to = c.answered.as_ref().expect("answered").account();
        assert_eq!((env.header.recipient, p.code.as_str()), (to, c.reason));
    }
    metric_reaches(&shared, "ting_mqtt_published_total{kind=\"error\"}", 1).await;

    // The gateway still takes good transactions, and the ledger did not move for the bad ones.
    let from = user(0);
    let tx = transfer(&from, next_nonce(&shared, &from), user(1).account(), 3);
    let receipt = commit_over_mqtt(&mut device, &from, &tx).await;
    assert_eq!(receipt.tx_hash, tx.hash());
    assert_eq!(
        next_nonce(&shared, &user(3)),
        0,
        "the bad signature moved nothing"
    );
    assert!(
        device.try_next().is_none(),
        "noise and forgeries got no answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_names_the_gateways_broker_for_devices_and_null_without_a_gateway() {
    let node = TestNode::start();
    let shared = node.shared();
    let (status, without) = call(&shared, get("/v1/status")).await;
    assert_eq!(status, StatusCode::OK, "{without}");
    assert_eq!(without["mqtt"], Value::Null, "no gateway: {without}");

    let gw = embedded_gateway(&shared).await;
    let broker = gw.listen_addr().expect("an embedded broker");
    let (status, with) = call(&shared, get("/v1/status")).await;
    assert_eq!(status, StatusCode::OK, "{with}");
    assert_eq!(
        with["mqtt"],
        json!({ "broker": format!("mqtt://{broker}") }),
        "the broker on 127.0.0.1 is named as it listens"
    );
    // Devices find the broker there and reach it.
    Device::connect(
        broker,
        &shared.genesis_hash,
        &user(6),
        &[BLOCKS_TOPIC.to_string()],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_listen_address_is_a_clear_start_error() {
    let node = TestNode::start();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("address");
    let cfg = GatewayConfig {
        mode: MqttMode::Embedded { listen: addr },
        key: sequencer(),
        client_id: None,
        connections_per_source: ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX,
        logins_per_s: ting_node::mqtt::limits::MQTT_LOGINS_PER_S,
        tls: None,
        broker_tls: None,
    };
    let err = Gateway::start(node.shared(), cfg)
        .await
        .expect_err("the port is taken");
    assert!(matches!(err, MqttStartError::ListenTaken { .. }), "{err:?}");
    assert_eq!(err.code(), "mqtt_listen_taken");
    let text = err.to_string();
    for needle in [
        addr.to_string().as_str(),
        "--mqtt-listen",
        "--mqtt-broker",
        "--no-mqtt",
    ] {
        assert!(text.contains(needle), "{needle:?} in {text:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mosquitto_two_gateways_share_the_transactions_through_a_shared_subscription() {
    let mosquitto = Mosquitto::start();
    let node = TestNode::start();
    let shared = node.shared();
    let a = external_gateway(&shared, mosquitto.addr, "ting-node-a").await;
    let b = external_gateway(&shared, mosquitto.addr, "ting-node-b").await;
    assert_eq!(a.listen_addr(), None, "no embedded broker");
    let keys: Vec<Keypair> = (0..USERS).map(user).collect();
    let refs: Vec<&Keypair> = keys.iter().collect();
    let mut device = Device::inboxes(mosquitto.addr, &shared.genesis_hash, &refs).await;

    const ROUNDS: u64 = 3;
    let mut sent = Vec::new();
    for _ in 0..ROUNDS {
        let round: Vec<SignedTx> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let to = keys[(i + 1) % keys.len()].account();
                transfer(k, next_nonce(&shared, k), to, 5)
            })
            .collect();
        for tx in &round {
            device.publish_tx(tx.bytes().to_vec()).await;
        }
        let mut receipts = Vec::new();
        for _ in &round {
            let (_, env) = device.next_envelope().await;
            assert_eq!(
                env.header.kind,
                EnvelopeType::RECEIPT,
                "no duplicate, no refusal"
            );
            receipts.push(
                ReceiptPayload::decode(&env.payload)
                    .expect("receipt")
                    .tx_hash,
            );
        }
        for tx in &round {
            assert!(receipts.contains(&tx.hash()), "a receipt for {}", tx.hash());
        }
        sent.extend(round);
    }
    let total = u64::try_from(sent.len()).expect("small");
    assert_eq!(
        a.received() + b.received(),
        total,
        "each transaction went to one node"
    );
    assert!(a.received() > 0 && b.received() > 0, "both nodes took some");
    http_shows(&shared, sent.last().expect("sent")).await;
    assert!(device.try_next().is_none(), "nothing more in the inboxes");

    // Shut down in order: node first (outcomes answered), then the gateways flush and leave.
    let mut node = node;
    drop(shared);
    tokio::task::block_in_place(|| node.stop());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mosquitto_a_forgery_goes_unanswered_and_a_good_one_still_commits() {
    let mosquitto = Mosquitto::start();
    let node = TestNode::start();
    let shared = node.shared();
    let _gw = external_gateway(&shared, mosquitto.addr, "ting-node-h").await;
    let from = user(3);
    let mut device = Device::inboxes(mosquitto.addr, &shared.genesis_hash, &[&from]).await;

    let bad = tampered(&transfer(
        &from,
        next_nonce(&shared, &from),
        user(0).account(),
        1,
    ));
    // A forged signature is counted and answered to no one.
    device.publish_tx(bad.bytes().to_vec()).await;
    metric_reaches(
        &shared,
        "ting_mqtt_dropped_total{reason=\"bad_signature\"}",
        1,
    )
    .await;

    let stale = transfer(&from, next_nonce(&shared, &from) + 1, user(0).account(), 1);
    device.publish_tx(stale.bytes().to_vec()).await;
    let (_, env) = device.next_envelope().await;
    check_notice(&env, &from, EnvelopeType::REFUSAL, &stale);

    let good = transfer(&from, next_nonce(&shared, &from), user(0).account(), 1);
    commit_over_mqtt(&mut device, &from, &good).await;
    http_shows(&shared, &good).await;
    assert!(device.try_next().is_none(), "nothing about the forgery");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_tells_a_lost_broker_and_the_gateway_reconnects() {
    let mosquitto = Mosquitto::start();
    let addr = mosquitto.addr;
    let node = TestNode::start();
    let shared = node.shared();
    let _gw = external_gateway(
        &shared,
        addr,
        &format!("{}-node-h", sequencer().account().to_hex()),
    )
    .await;
    let (status, body) = call(&shared, get("/healthz")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["mqtt"]["connected"], true);

    drop(mosquitto);
    let deadline = Deadline::new("healthz to say the broker is lost");
    loop {
        let (status, body) = call(&shared, get("/healthz")).await;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(body["status"], "degraded");
            assert_eq!(body["mqtt"]["connected"], false);
            break;
        }
        deadline.tick().await;
    }

    let _back = Mosquitto::start_on(addr);
    let deadline = Deadline::new("the gateway to reconnect");
    while call(&shared, get("/healthz")).await.0 != StatusCode::OK {
        deadline.tick().await;
    }
    metric_reaches(&shared, "ting_mqtt_connects_total", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_published_again_after_it_landed_gets_its_receipt_again() {
    let node = TestNode::start();
    let shared = node.shared();
    let gw = embedded_gateway(&shared).await;
    let from = user(3);
    let broker = gw.listen_addr().expect("embedded");
    let mut device = Device::inboxes(broker, &shared.genesis_hash, &[&from]).await;
    let to = user(4).account();
    let tx = transfer(&from, next_nonce(&shared, &from), to, 7);
    let first = commit_over_mqtt(&mut device, &from, &tx).await;
    let balance_to = balance(&shared, &to);

    // A device that lost the receipt sends the transaction again.
    let again = commit_over_mqtt(&mut device, &from, &tx).await;
    assert_eq!(again, first, "the same commit, the same receipt");
    assert_eq!(balance(&shared, &to), balance_to, "the copy moved nothing");
    metric_reaches(&shared, "ting_txs_resent_answered_total", 1).await;
    metric_reaches(&shared, "ting_mqtt_published_total{kind=\"receipt\"}", 2).await;
}
