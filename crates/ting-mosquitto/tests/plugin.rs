//! The plugin inside a real Mosquitto 2: devices and a node log in and are
//! confined as on the node's embedded broker, where
//! `crates/ting-node/tests/mqtt_attack.rs` plays the same attacker. Every
//! refusal leaves the victim's session and traffic untouched, and is logged
//! with its stable code.
//!
//! Each test starts its own broker on a free port; a message that must not
//! arrive is shown absent by a later message that must, sent after the broker
//! has acknowledged (and so decided on) the refused one.

mod support;

use rumqttc::v5::mqttbytes::v5 as mqtt5;
use rumqttc::{ConnectReturnCode, QoS};
use ting_core::login::{self, LOGIN_WINDOW_MS};
use ting_core::topics::{inbox, node, BLOCKS_TOPIC, NODES_FILTER, TX_SHARED_FILTER, TX_TOPIC};
use ting_core::{Hash32, Keypair, Timestamp};

use support::*;

/// Mosquitto 2.0 answers a login the plugin refuses with CONNACK 5 (MQTT
/// 3.1.1) or 0x87 (MQTT 5), "not authorized".
const REFUSED: Result<(), ConnectReturnCode> = Err(ConnectReturnCode::NotAuthorized);

fn hex(key: &Keypair) -> String {
    key.account().to_hex()
}

fn msg(topic: &str, payload: &[u8]) -> (String, Vec<u8>) {
    (topic.to_owned(), payload.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_without_a_valid_fresh_token_are_refused_and_the_victim_keeps_its_session() {
    let broker = Broker::start();
    let (addr, genesis) = (broker.addr, broker.genesis);
    let (victim, attacker) = (user(0), user(1));
    let victim_id = login::client_id(&victim.account(), None).expect("id");
    let victim_inbox = inbox(&victim.account());

    // The victim is logged in, and the attacker has captured its CONNECT.
    let captured = login_options(addr, &genesis, &victim);
    let mut victim_session = Client::start(captured.clone()).await;
    assert!(victim_session.granted(&victim_inbox).await);

    let as_victim = |signer: &Keypair, genesis: &Hash32, at: Timestamp| {
        options(
            addr,
            &victim_id,
            Some(token_for(signer, &victim, genesis, &victim_id, at)),
        )
    };
    let expired = Timestamp(now().0 - 2 * LOGIN_WINDOW_MS);
    let attempts = [
        (
            "no credentials",
            options(addr, &victim_id, None),
            "login_bad_username",
        ),
        (
            "a token signed by another key",
            as_victim(&attacker, &genesis, now()),
            "login_bad_signature",
        ),
        (
            "a token for another genesis",
            as_victim(&victim, &Hash32([9; 32]), now()),
            "login_bad_signature",
        ),
        (
            "an expired token",
            as_victim(&victim, &genesis, expired),
            "login_expired",
        ),
        ("the victim's token replayed", captured, "login_replayed"),
    ];
    for (what, attempt, code) in attempts {
        let needle = format!("login refused ({code})");
        let before = broker.log_lines(&needle);
        assert_eq!(connack(attempt).await, REFUSED, "{what}");
        broker.wait_for_log(&needle, before + 1);
    }

    // MQTT 5, as the node speaks it, is refused alike.
    let mut forged = login_options_v5(addr, &genesis, &victim, "v5");
    let v5_id = login::client_id(&victim.account(), Some("v5")).expect("id");
    let (name, token) = token_for(&attacker, &victim, &genesis, &v5_id, now());
    forged.set_credentials(name, token);
    assert_eq!(
        connack_v5(forged).await,
        Err(mqtt5::ConnectReturnCode::NotAuthorized)
    );

    // The victim was never disconnected: its inbox still reaches it.
    let mut friend = Client::start(login_options(addr, &genesis, &user(2))).await;
    friend.publish(&victim_inbox, false, b"still here?").await;
    assert_eq!(
        victim_session.next().await,
        msg(&victim_inbox, b"still here?")
    );
    assert!(victim_session.is_connected());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logged_in_device_is_confined_and_the_victim_is_untouched() {
    let broker = Broker::start();
    let (addr, genesis) = (broker.addr, broker.genesis);
    let (victim, attacker, seq) = (user(0), user(1), sequencer());
    let (victim_inbox, node_topic) = (inbox(&victim.account()), node(&seq.account()));

    let mut the_node = Client::start_v5(login_options_v5(addr, &genesis, &seq, "node")).await;
    the_node.publish(BLOCKS_TOPIC, true, b"header-1").await;
    the_node.publish(&node_topic, true, b"node-hello").await;
    let mut victim_session = Client::start(login_options(addr, &genesis, &victim)).await;
    assert!(victim_session.granted(&victim_inbox).await);
    let mut watcher = Client::start(login_options(addr, &genesis, &user(2))).await;
    assert!(watcher.granted(BLOCKS_TOPIC).await);
    assert_eq!(watcher.next().await, msg(BLOCKS_TOPIC, b"header-1"));

    // Reaching for other inboxes, the nodes' transactions, everything.
    let mut evil = Client::start(login_options(addr, &genesis, &attacker)).await;
    let refused = [
        "ting/v1/inbox/#",
        "ting/v1/inbox/+",
        &victim_inbox,
        TX_SHARED_FILTER,
        TX_TOPIC,
        "#",
        "$share/evil/ting/v1/inbox/+",
        "$SYS/#",
    ];
    for filter in refused {
        assert!(!evil.granted(filter).await, "{filter} must be refused");
    }
    assert!(
        evil.granted(&inbox(&attacker.account())).await,
        "its own inbox"
    );
    let subscribe_refusal = format!("subscribe: Device {} may not Subscribe", hex(&attacker));
    assert_eq!(
        broker.log_lines(&subscribe_refusal),
        refused.len(),
        "{}",
        broker.log()
    );

    // Overwriting the header, a node's hello, a retained inbox message: each
    // acknowledged and dropped.
    evil.publish(BLOCKS_TOPIC, true, b"fake-header").await;
    evil.publish(BLOCKS_TOPIC, false, b"fake-header").await;
    evil.publish(&node_topic, true, b"fake-hello").await;
    evil.publish(&victim_inbox, true, b"fake-retained").await;

    // Taking the victim's client id with the attacker's own key.
    let victim_id = login::client_id(&victim.account(), None).expect("id");
    let takeover = token_for(&attacker, &attacker, &genesis, &victim_id, now());
    assert_eq!(
        connack(options(addr, &victim_id, Some(takeover))).await,
        REFUSED
    );
    broker.wait_for_log("login refused (login_foreign_client_id)", 1);

    // The node's next header is the first thing the watcher sees after its first.
    the_node.publish(BLOCKS_TOPIC, true, b"header-2").await;
    assert_eq!(watcher.next().await, msg(BLOCKS_TOPIC, b"header-2"));
    assert_eq!(watcher.try_next(), None);

    // A late subscriber gets the node's retained messages, not the fakes.
    let mut late = Client::start(login_options(addr, &genesis, &user(3))).await;
    assert!(late.granted(BLOCKS_TOPIC).await);
    assert_eq!(late.next().await, msg(BLOCKS_TOPIC, b"header-2"));
    assert!(late.granted(NODES_FILTER).await);
    assert_eq!(late.next().await, msg(&node_topic, b"node-hello"));

    // The victim hears what is sent to it, and nothing the attacker sent.
    late.publish(&victim_inbox, false, b"an envelope").await;
    assert_eq!(
        victim_session.next().await,
        msg(&victim_inbox, b"an envelope")
    );
    assert_eq!(victim_session.try_next(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_and_a_node_do_everything_the_table_allows() {
    let broker = Broker::start();
    let (addr, genesis) = (broker.addr, broker.genesis);
    let (a, b, seq) = (user(0), user(1), sequencer());
    let (a_inbox, b_inbox) = (inbox(&a.account()), inbox(&b.account()));

    // The node speaks MQTT 5 and takes transactions through the shared group.
    let mut the_node = Client::start_v5(login_options_v5(addr, &genesis, &seq, "node")).await;
    assert!(the_node.granted(TX_SHARED_FILTER).await);
    let mut device_a = Client::start(login_options(addr, &genesis, &a)).await;
    assert!(device_a.granted(&a_inbox).await);
    assert!(device_a.granted(BLOCKS_TOPIC).await);
    let mut device_b = Client::start(login_options(addr, &genesis, &b)).await;
    assert!(device_b.granted(&b_inbox).await);

    // A transaction reaches the node; an envelope reaches another device.
    device_a
        .publish(TX_TOPIC, false, b"a signed transaction")
        .await;
    assert_eq!(
        the_node.next().await,
        msg(TX_TOPIC, b"a signed transaction")
    );
    device_a
        .publish(&b_inbox, false, b"an envelope for b")
        .await;
    assert_eq!(device_b.next().await, msg(&b_inbox, b"an envelope for b"));

    // The node's receipt and its retained header reach the device, and a
    // device that subscribes later gets the header.
    the_node.publish(&a_inbox, false, b"a receipt").await;
    assert_eq!(device_a.next().await, msg(&a_inbox, b"a receipt"));
    the_node.publish(BLOCKS_TOPIC, true, b"a header").await;
    assert_eq!(device_a.next().await, msg(BLOCKS_TOPIC, b"a header"));
    assert!(device_b.granted(BLOCKS_TOPIC).await);
    assert_eq!(device_b.next().await, msg(BLOCKS_TOPIC, b"a header"));
    assert_eq!(broker.log_lines("(acl_denied)"), 0, "{}", broker.log());

    // Even a node gets the transactions only through its shared group.
    assert!(!the_node.granted(TX_TOPIC).await);
    assert!(!the_node.granted("$share/other/ting/v1/tx").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_will_on_a_forbidden_topic_is_dropped_when_published_and_a_nodes_own_will_is_delivered() {
    let broker = Broker::start();
    let (addr, genesis) = (broker.addr, broker.genesis);
    let (attacker, seq) = (user(1), sequencer());
    let node_topic = node(&seq.account());
    let mut watcher = Client::start(login_options(addr, &genesis, &user(2))).await;
    assert!(watcher.granted(BLOCKS_TOPIC).await);
    assert!(watcher.granted(NODES_FILTER).await);

    // Mosquitto 2.0 shows a plugin no last will at CONNECT: the login passes.
    let mut with_will = login_options(addr, &genesis, &attacker);
    with_will.set_last_will(rumqttc::LastWill::new(
        BLOCKS_TOPIC,
        b"fake-header".to_vec(),
        QoS::AtLeastOnce,
        true,
    ));
    let evil = Client::start(with_will).await;
    let will_refusal = format!(
        "retained publish: Device {} may not PublishRetained \"{BLOCKS_TOPIC}\"",
        hex(&attacker)
    );
    assert_eq!(
        broker.log_lines(&will_refusal),
        0,
        "no ACL check of the will at CONNECT"
    );

    // When the connection drops, the will is checked as a retained publish,
    // refused, and never published.
    evil.cut();
    broker.wait_for_log(&will_refusal, 1);
    let mut node_options = login_options_v5(addr, &genesis, &seq, "node");
    node_options.set_last_will(mqtt5::LastWill::new(
        &node_topic,
        b"node-gone".to_vec(),
        rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        true,
        None,
    ));
    let mut the_node = Client::start_v5(node_options).await;
    the_node.publish(BLOCKS_TOPIC, true, b"header").await;
    assert_eq!(watcher.next().await, msg(BLOCKS_TOPIC, b"header"));

    // A will the table allows (a node announcing it is gone) is published.
    the_node.cut();
    assert_eq!(watcher.next().await, msg(&node_topic, b"node-gone"));
    assert_eq!(watcher.try_next(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_at_its_connection_limit_is_refused_until_a_connection_leaves() {
    let broker = Broker::start_with(&[("connections_per_source", "2")]);
    let (addr, genesis) = (broker.addr, broker.genesis);
    let first = Client::start(login_options(addr, &genesis, &user(0))).await;
    let _second = Client::start(login_options(addr, &genesis, &user(1))).await;
    assert_eq!(
        connack(login_options(addr, &genesis, &user(2))).await,
        REFUSED
    );
    broker.wait_for_log("login refused (login_source_full)", 1);

    first.cut();
    let deadline = Deadline::new("the first connection's slot to be freed");
    while connack(login_options(addr, &genesis, &user(2))).await != Ok(()) {
        deadline.tick_async().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_may_hold_at_most_the_embedded_brokers_number_of_subscriptions() {
    let broker = Broker::start();
    let (addr, genesis) = (broker.addr, broker.genesis);
    let mut device = Client::start(login_options(addr, &genesis, &user(0))).await;
    // `ting/v1/nodes/{account}` names any account, so the table alone lets a
    // device hold as many filters as it likes.
    let max = ting_mosquitto::guard::SUBSCRIPTIONS_PER_CLIENT_MAX;
    let filters: Vec<String> = (0..=max)
        .map(|i| node(&user(u8::try_from(100 + i).expect("small")).account()))
        .collect();
    let granted = device.granted_each(&filters).await;
    assert_eq!(granted.iter().filter(|g| **g).count(), max);
    assert_eq!(granted.last(), Some(&false), "the one past the cap");
    assert!(!device.granted(BLOCKS_TOPIC).await);
    broker.wait_for_log("(acl_too_many_subscriptions)", 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_in_the_operations_guide_starts_and_confines() {
    let broker = Broker::start_documented();
    let (addr, genesis) = (broker.addr, broker.genesis);
    broker.wait_for_log("at most 20000 connections per source", 1);
    let mut the_node =
        Client::start_v5(login_options_v5(addr, &genesis, &sequencer(), "node")).await;
    assert!(the_node.granted(TX_SHARED_FILTER).await);
    let mut device = Client::start(login_options(addr, &genesis, &user(0))).await;
    assert!(!device.granted("#").await);
    device
        .publish(TX_TOPIC, false, b"a signed transaction")
        .await;
    assert_eq!(
        the_node.next().await,
        msg(TX_TOPIC, b"a signed transaction")
    );
    assert_eq!(connack(options(addr, "anonymous", None)).await, REFUSED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_with_clients_logged_in_stops_cleanly_and_the_plugin_with_it() {
    let mut broker = Broker::start();
    let (addr, genesis) = (broker.addr, broker.genesis);
    let mut device = Client::start(login_options(addr, &genesis, &user(0))).await;
    assert!(device.granted(BLOCKS_TOPIC).await);
    let (status, log) = broker.terminate();
    assert!(
        status.success(),
        "mosquitto exited with {status}; its log:\n{log}"
    );
    assert!(log.contains("terminating"), "{log}");
}

#[test]
fn a_broker_refuses_to_start_without_a_usable_genesis_or_with_a_bad_option() {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[], "config_missing_genesis"),
        (
            &[("genesis", "/nonexistent/genesis.json")],
            "config_genesis_unreadable",
        ),
        (
            &[("genesis", "/g.json"), ("conections_per_source", "5")],
            "config_unknown_option",
        ),
        (
            &[("genesis", "/g.json"), ("connections_per_source", "0")],
            "config_bad_connections_per_source",
        ),
    ];
    for (options, code) in cases {
        let (status, log) = start_refused(options);
        assert!(!status.success(), "{code}: mosquitto exited with {status}");
        assert!(
            log.contains(&format!("ting: cannot start ({code})")),
            "{code}: {log}"
        );
    }
}
