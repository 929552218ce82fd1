//! An attacker against the node's embedded broker (docs/security.md): no
//! credentials, another account's name with a wrong or replayed token, and a
//! valid device reaching for other inboxes, the node's shared subscription,
//! the node's topics (the retained block header, a class's book) and another
//! device's client id. Every attempt is refused and the victim's traffic is
//! untouched. Played with a plain MQTT client
//! against the real broker.

mod common;
// Shared with tests/mqtt.rs, which uses the rest of it.
#[allow(dead_code)]
#[path = "mqtt/support.rs"]
mod support;

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS,
    SubscribeReasonCode,
};
use serde_json::json;
use ting_core::envelope::EnvelopeType;
use ting_core::limits::DAY_MS;
use ting_core::login::{self, LoginToken};
use ting_core::resource::{OrderTerms, Side};
use ting_core::topics::{inbox, BLOCKS_TOPIC, TX_SHARED_FILTER, TX_TOPIC};
use ting_core::{Amount, BlockHeader, Timestamp, TxKind};

use common::*;
use support::*;

/// The broker's answer to a CONNECT with these options.
async fn connack(options: MqttOptions) -> Result<(), ConnectReturnCode> {
    let (_client, mut events) = AsyncClient::new(options, 8);
    let answer = tokio::time::timeout(DEADLINE, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(code)) => return Err(code),
                Err(e) => panic!("expected a CONNACK, got {e}"),
            }
        }
    });
    answer
        .await
        .expect("a CONNACK within the deadline, not a hang")
}

/// A logged-in client that reports each SUBACK's codes.
struct Client {
    client: AsyncClient,
    subacks: tokio::sync::mpsc::UnboundedReceiver<Vec<SubscribeReasonCode>>,
    publishes: tokio::sync::mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Client {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Client {
    fn start(options: MqttOptions) -> Client {
        let (client, mut events) = AsyncClient::new(options, 64);
        let (subacks_tx, subacks) = tokio::sync::mpsc::unbounded_channel();
        let (pub_tx, publishes) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Ok(event) = events.poll().await {
                match event {
                    Event::Incoming(Packet::SubAck(a)) => {
                        let _ = subacks_tx.send(a.return_codes);
                    }
                    Event::Incoming(Packet::Publish(p)) => {
                        let _ = pub_tx.send((p.topic, p.payload.to_vec()));
                    }
                    _ => {}
                }
            }
        });
        Client {
            client,
            subacks,
            publishes,
            task,
        }
    }

    async fn granted(&mut self, filter: &str) -> bool {
        self.client
            .subscribe(filter, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
        let codes = tokio::time::timeout(DEADLINE, self.subacks.recv())
            .await
            .expect("a SUBACK in time")
            .expect("the client runs");
        codes
            .iter()
            .all(|c| matches!(c, SubscribeReasonCode::Success(_)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_without_a_valid_fresh_token_are_refused() {
    let node = TestNode::start();
    let shared = node.shared();
    let gw = embedded_gateway(&shared).await;
    let broker = gw.listen_addr().expect("embedded");
    let genesis = shared.genesis_hash;
    let (victim, attacker) = (user(0), user(1));
    let victim_id = login::client_id(&victim.account(), None).expect("id");
    let refused = |c| matches!(c, Err(ConnectReturnCode::BadUserNamePassword));

    // No credentials at all.
    let anonymous = MqttOptions::new(victim_id.clone(), broker.ip().to_string(), broker.port());
    assert!(refused(connack(anonymous).await), "anonymous");

    // The victim's name with a token the attacker signed.
    let mut forged = MqttOptions::new(victim_id.clone(), broker.ip().to_string(), broker.port());
    let token = LoginToken::issue(&attacker, &genesis, &victim_id, now(), [1; 16]);
    forged.set_credentials(login::username(&victim.account()), token.to_text());
    assert!(refused(connack(forged).await), "forged token");

    // A token for another network.
    let mut foreign = MqttOptions::new(victim_id.clone(), broker.ip().to_string(), broker.port());
    let token = LoginToken::issue(
        &victim,
        &ting_core::Hash32([9; 32]),
        &victim_id,
        now(),
        [2; 16],
    );
    foreign.set_credentials(login::username(&victim.account()), token.to_text());
    assert!(refused(connack(foreign).await), "another genesis");

    // An old token.
    let mut old = MqttOptions::new(victim_id.clone(), broker.ip().to_string(), broker.port());
    let then = ting_core::Timestamp(now().0 - 2 * ting_core::login::LOGIN_WINDOW_MS);
    let token = LoginToken::issue(&victim, &genesis, &victim_id, then, [3; 16]);
    old.set_credentials(login::username(&victim.account()), token.to_text());
    assert!(refused(connack(old).await), "expired token");

    // The victim's own token, captured and replayed.
    let captured = login_options(broker, &genesis, &victim);
    assert_eq!(
        connack(captured.clone()).await,
        Ok(()),
        "the victim logs in"
    );
    assert!(refused(connack(captured).await), "replayed token");

    let refusals = gw.broker_refusals().expect("embedded");
    assert!(refusals.logins.load(std::sync::atomic::Ordering::Relaxed) >= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_in_device_is_confined_and_the_victim_is_untouched() {
    let node = TestNode::start();
    let shared = node.shared();
    let gw = embedded_gateway(&shared).await;
    let broker = gw.listen_addr().expect("embedded");
    let genesis = shared.genesis_hash;
    let (victim, attacker) = (user(0), user(1));
    let mut victim_device = Device::inboxes(broker, &genesis, &[&victim]).await;
    let mut watcher = Client::start(login_options(broker, &genesis, &user(2)));
    assert!(
        watcher.granted(BLOCKS_TOPIC).await,
        "anyone may read the blocks"
    );
    // The victim sells a stream; anyone may read its (sealed) chunks.
    let victim_stream = ting_core::topics::stream_chunks(
        &victim.account(),
        &ting_core::stream::StreamId(ting_core::Hash32([7; 32])),
    );
    assert!(
        watcher.granted(&victim_stream).await,
        "a stream's chunks are public"
    );
    // The victim buys services; providers listen for calls by category.
    let victim_call = ting_core::topics::calls(&victim.account(), "water.cartridge.replace");
    assert!(
        watcher
            .granted(&ting_core::topics::calls_filter("water"))
            .await,
        "calls are heard by category"
    );

    let mut evil = Client::start(login_options(broker, &genesis, &attacker));
    for filter in [
        "ting/v1/inbox/#".to_string(),
        "ting/v1/inbox/+".to_string(),
        inbox(&victim.account()),
        TX_SHARED_FILTER.to_string(),
        TX_TOPIC.to_string(),
        "#".to_string(),
        "$share/evil/ting/v1/inbox/+".to_string(),
        "ting/v1/streams/x".to_string(),
        "ting/v1/streams/#".to_string(),
        "ting/v1/market/#".to_string(),
        "ting/v1/market/offers/x".to_string(),
    ] {
        assert!(!evil.granted(&filter).await, "{filter} must be refused");
    }
    assert!(
        evil.granted(&inbox(&attacker.account())).await,
        "its own inbox"
    );

    // Overwriting the retained header and announcing a node: dropped.
    let fake = vec![0xEE; 185];
    for retain in [true, false] {
        evil.client
            .publish(BLOCKS_TOPIC, QoS::AtLeastOnce, retain, fake.clone())
            .await
            .expect("publish");
    }
    evil.client
        .publish(
            ting_core::topics::node(&sequencer().account()),
            QoS::AtLeastOnce,
            true,
            fake.clone(),
        )
        .await
        .expect("publish");
    // A forged chunk on the victim's stream: only the seller publishes there.
    evil.client
        .publish(victim_stream.clone(), QoS::AtLeastOnce, false, fake.clone())
        .await
        .expect("publish");
    // A forged call in the victim's name: only the buyer publishes its calls.
    evil.client
        .publish(victim_call, QoS::AtLeastOnce, false, fake.clone())
        .await
        .expect("publish");
    // A retained message on a device's own inbox is refused too.
    evil.client
        .publish(
            inbox(&victim.account()),
            QoS::AtLeastOnce,
            true,
            fake.clone(),
        )
        .await
        .expect("publish");

    // Taking the victim's client id with the attacker's own key.
    let victim_id = login::client_id(&victim.account(), None).expect("id");
    let mut takeover = MqttOptions::new(victim_id.clone(), broker.ip().to_string(), broker.port());
    let token = LoginToken::issue(&attacker, &genesis, &victim_id, now(), rand::random());
    takeover.set_credentials(login::username(&attacker.account()), token.to_text());
    assert_eq!(
        connack(takeover).await,
        Err(ConnectReturnCode::BadUserNamePassword),
        "a client id belongs to its account"
    );

    // The victim still transacts, and hears only the node.
    let tx = transfer(&victim, next_nonce(&shared, &victim), user(3).account(), 2);
    victim_device.publish_tx(tx.bytes().to_vec()).await;
    let (_, env) = victim_device.next_envelope().await;
    assert_eq!(env.header.kind, EnvelopeType::RECEIPT);
    assert_eq!(env.header.sender, sequencer().account());
    assert!(
        victim_device.try_next().is_none(),
        "no fake in the victim's inbox"
    );

    // Every header the watcher saw is the node's (no forged chunk or call
    // reached it), and a late subscriber gets the node's.
    while let Ok((topic, bytes)) = watcher.publishes.try_recv() {
        assert_eq!(topic, BLOCKS_TOPIC);
        BlockHeader::from_bytes(&bytes)
            .expect("a header")
            .verify_signature()
            .expect("the node's");
    }
    let mut late = Client::start(login_options(broker, &genesis, &user(3)));
    assert!(late.granted(BLOCKS_TOPIC).await);
    let (_, bytes) = tokio::time::timeout(DEADLINE, late.publishes.recv())
        .await
        .expect("the retained header")
        .expect("runs");
    let header = BlockHeader::from_bytes(&bytes).expect("the node's header, not the fake");
    header.verify_signature().expect("signed by the sequencer");

    let refusals = gw.broker_refusals().expect("embedded");
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(load(&refusals.subscribes), 11);
    assert!(
        load(&refusals.publishes) >= 6,
        "{}",
        load(&refusals.publishes)
    );
}

/// The next message the client gets on `topic`, as JSON.
async fn next_json(client: &mut Client, topic: &str) -> serde_json::Value {
    let deadline = Deadline::new(format!("a message on {topic}"));
    loop {
        match client.publishes.try_recv() {
            Ok((t, bytes)) if t == topic => {
                return serde_json::from_slice(&bytes).expect("the node's JSON");
            }
            Ok(_) => {}
            Err(_) => deadline.tick().await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_node_keeps_a_book_and_subscribers_get_its_depth_after_a_block() {
    let node = TestNode::start();
    let shared = node.shared();
    let gw = embedded_gateway(&shared).await;
    let broker = gw.listen_addr().expect("embedded");
    let genesis = shared.genesis_hash;
    let class = "bandwidth.uplink.msg";
    let (depth, trades) = (
        ting_core::topics::book_depth(class),
        ting_core::topics::book_trades(class),
    );
    let mut watcher = Client::start(login_options(broker, &genesis, &user(2)));
    assert!(
        watcher.granted(ting_core::topics::BOOKS_FILTER).await,
        "anyone reads the books"
    );

    // A device writes a fake depth, retained and not: refused, never delivered.
    let evil = Client::start(login_options(broker, &genesis, &user(1)));
    let fake = br#"{"class":"bandwidth.uplink.msg","bids":[{"price":1,"units":1,"orders":1}]}"#;
    for (topic, retain) in [(&depth, true), (&depth, false), (&trades, true)] {
        evil.client
            .publish(topic.as_str(), QoS::AtLeastOnce, retain, fake.to_vec())
            .await
            .expect("publish");
    }

    // The issuer registers the class; a provider asks, a buyer's bid crosses.
    let register = TxKind::ClassRegister {
        name: class.into(),
        unit: "msg".into(),
        lease_ms: 3_600_000,
    };
    commit(
        &shared,
        &signed(&issuer(), next_nonce(&shared, &issuer()), register),
    )
    .await;
    let order = |side, price, quantity| TxKind::OrderPlace {
        terms: OrderTerms {
            class: class.into(),
            side,
            price: Amount::new(price),
            quantity,
            expires_at: Timestamp(now().0 + DAY_MS),
        },
    };
    let provider = user(0);
    let ask = order(Side::Ask, 10, 100);
    commit(
        &shared,
        &signed(&provider, next_nonce(&shared, &provider), ask),
    )
    .await;
    let got = next_json(&mut watcher, &depth).await;
    assert_eq!(got["class"], json!(class), "{got}");
    assert_eq!(
        got["asks"],
        json!([{ "price": 10, "units": 100, "orders": 1 }]),
        "{got}"
    );
    assert_eq!(got["bids"], json!([]), "{got}");

    let buyer = user(3);
    let bid = order(Side::Bid, 12, 30);
    commit(&shared, &signed(&buyer, next_nonce(&shared, &buyer), bid)).await;
    // The book may be published again as it was (a node that starts to lead
    // publishes every book once, which can land after the ask's block): a
    // repeat of the state before the bid is skipped, nothing else.
    let before = got;
    let mut got = next_json(&mut watcher, &depth).await;
    while got["asks"] == before["asks"] && got["bids"] == before["bids"] {
        got = next_json(&mut watcher, &depth).await;
    }
    assert_eq!(
        got["asks"],
        json!([{ "price": 10, "units": 70, "orders": 1 }]),
        "{got}"
    );
    // As above, the book's trades may first come again as they were: none.
    let mut fills = next_json(&mut watcher, &trades).await;
    while fills["last_trades"] == json!([]) {
        fills = next_json(&mut watcher, &trades).await;
    }
    let fills = fills["last_trades"].as_array().expect("fills").clone();
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!(
        (fills[0]["price"].clone(), fills[0]["units"].clone()),
        (json!(10), json!(30))
    );

    // A late subscriber gets the node's retained depth, not the fake, and
    // it is what the API shows.
    let mut late = Client::start(login_options(broker, &genesis, &user(2)));
    assert!(late.granted(&depth).await);
    let retained = next_json(&mut late, &depth).await;
    assert_eq!(retained["asks"], got["asks"]);
    let (_, api) = call(&shared, get(&format!("/v1/books/{class}"))).await;
    assert_eq!(api["asks"], retained["asks"], "{api}");
    let refusals = gw.broker_refusals().expect("embedded");
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        load(&refusals.publishes) >= 3,
        "{}",
        load(&refusals.publishes)
    );
    assert!(metric(&shared, "ting_mqtt_published_total{kind=\"book_depth\"}").await >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_naming_a_victim_makes_no_notice_and_receipts_still_arrive() {
    let node = TestNode::start();
    let shared = node.shared();
    let gw = embedded_gateway(&shared).await;
    let broker = gw.listen_addr().expect("embedded");
    let genesis = shared.genesis_hash;
    let victim = user(0);
    let mut victim_device = Device::inboxes(broker, &genesis, &[&victim]).await;
    let attacker = Device::inboxes(broker, &genesis, &[&user(1)]).await;

    // A burst of payloads that claim to be the victim's: truncated, forged, oversized.
    const BURST: u64 = 300;
    let real = transfer(&victim, next_nonce(&shared, &victim), user(2).account(), 1);
    for i in 0..BURST {
        let payload = match i % 3 {
            0 => real.bytes()[..60].to_vec(),
            1 => {
                let fresh = transfer(&victim, 1_000 + i, user(2).account(), 1);
                tampered(&fresh).bytes().to_vec()
            }
            _ => {
                let mut p = real.bytes().to_vec();
                p.resize(4096, u8::try_from(i % 251).expect("small"));
                p
            }
        };
        attacker.publish_tx(payload).await;
    }
    wait_for_drops(&shared, BURST).await;
    assert_eq!(
        metric(&shared, "ting_mqtt_published_total{kind=\"error\"}").await,
        0,
        "no notice for anything unverified"
    );

    // The victim's own transaction still gets its receipt.
    victim_device.publish_tx(real.bytes().to_vec()).await;
    let (_, env) = victim_device.next_envelope().await;
    assert_eq!(env.header.kind, EnvelopeType::RECEIPT);
    assert!(
        victim_device.try_next().is_none(),
        "nothing else reached the victim"
    );
}

/// Waits until the gateway has dropped `n` payloads, whatever the reasons.
async fn wait_for_drops(shared: &std::sync::Arc<ting_node::Shared>, n: u64) {
    let deadline = Deadline::new(format!("{n} payloads dropped"));
    loop {
        let mut total = 0;
        for r in ["malformed", "oversized", "bad_signature"] {
            total += metric(
                shared,
                &format!("ting_mqtt_dropped_total{{reason=\"{r}\"}}"),
            )
            .await;
        }
        if total >= n {
            assert_eq!(total, n);
            return;
        }
        deadline.tick().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_one_can_take_the_nodes_session() {
    let node = TestNode::start();
    let shared = node.shared();
    let node_id = format!("{}-node-fixed", sequencer().account().to_hex());
    let cfg = ting_node::mqtt::GatewayConfig {
        mode: ting_node::mqtt::MqttMode::Embedded {
            listen: "127.0.0.1:0".parse().expect("address"),
        },
        key: sequencer(),
        client_id: Some(node_id.clone()),
        connections_per_source: ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX,
        logins_per_s: ting_node::mqtt::limits::MQTT_LOGINS_PER_S,
        tls: None,
        broker_tls: None,
    };
    let gw = ting_node::mqtt::Gateway::start(std::sync::Arc::clone(&shared), cfg)
        .await
        .expect("starts");
    let broker = gw.listen_addr().expect("embedded");
    let attacker = user(1);
    for round in 0..5u8 {
        let mut takeover =
            MqttOptions::new(node_id.clone(), broker.ip().to_string(), broker.port());
        let token = LoginToken::issue(
            &attacker,
            &shared.genesis_hash,
            &node_id,
            now(),
            [round; 16],
        );
        takeover.set_credentials(login::username(&attacker.account()), token.to_text());
        assert_eq!(
            connack(takeover).await,
            Err(ConnectReturnCode::BadUserNamePassword)
        );
    }
    let (status, body) = call(&shared, get("/healthz")).await;
    assert_eq!(status, axum::http::StatusCode::OK, "{body}");
    assert_eq!(
        metric(&shared, "ting_mqtt_connects_total").await,
        1,
        "never pushed off"
    );
}
