//! A device believes its node is on its broker only on a fresh, signed
//! `hello` from a sequencer it trusts, on that node's own topic; an attacker
//! on the broker can neither fake a node with a stale, foreign or misplaced
//! hello, nor end one with an empty retained message or another run's
//! leaving hello. Played against a real Mosquitto with a plain MQTT client.

mod common;

use std::time::Duration;

use common::{free_port, sequencer, Mosquitto, NET};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use ting_agent::device::Presence;
use ting_agent::{Broker, Device, DeviceConfig};
use ting_core::envelope::{Envelope, EnvelopeHeader, EnvelopeId, EnvelopeType, HelloPayload};
use ting_core::limits::ENVELOPE_WINDOW_MS;
use ting_core::{topics, AccountId, BlockHeight, Hash32, Keypair, Timestamp};

const GENESIS: Hash32 = Hash32([5; 32]);

fn hello(key: &Keypair, run: u64, at: Timestamp, serving: bool) -> Vec<u8> {
    hello_at(key, run, at, serving, 1)
}

fn hello_at(key: &Keypair, run: u64, at: Timestamp, serving: bool, height: u64) -> Vec<u8> {
    let header = EnvelopeHeader {
        genesis: GENESIS,
        sender: key.account(),
        recipient: key.account(),
        kind: EnvelopeType::HELLO,
        id: EnvelopeId::from_counter(run),
        timestamp: at,
        encrypted: false,
    };
    let payload = HelloPayload {
        genesis_hash: GENESIS,
        height: BlockHeight(height),
        serving,
    };
    Envelope::sign(header, payload.encode(), key)
        .expect("signs")
        .encode()
}

/// A plain MQTT client: the attacker (or a node) on the broker.
async fn publisher(port: u16) -> AsyncClient {
    let opts = MqttOptions::new(format!("attacker-{port}"), "127.0.0.1", port);
    let (client, mut events) = AsyncClient::new(opts, 16);
    tokio::spawn(async move { while events.poll().await.is_ok() {} });
    client
}

async fn retain(client: &AsyncClient, node: &AccountId, payload: Vec<u8>) {
    client
        .publish(topics::node(node), QoS::AtLeastOnce, true, payload)
        .await
        .expect("publish");
}

fn device(port: u16, dir: &std::path::Path) -> Device {
    let config = DeviceConfig {
        key: Keypair::from_seed([40; 32]),
        state_dir: dir.to_path_buf(),
        network: NET,
        sequencers: vec![sequencer().account()],
        genesis_hash: GENESIS,
        node_url: "http://127.0.0.1:1".into(),
        broker: Some(Broker {
            host: "127.0.0.1".into(),
            port,
            tls: false,
        }),
        tls: ting_agent::TlsTrust::SystemRoots,
        seed: 7,
        clock: ting_agent::clock::NetworkClock::REAL,
        witnesses: ting_core::witness::WitnessPolicy::default(),
    };
    Device::start(config).expect("starts")
}

async fn settle_on(d: &Device, want: impl Fn(&Presence) -> bool, what: &str) {
    let end = tokio::time::Instant::now() + common::DEADLINE;
    while !want(&d.presence()) {
        assert!(
            tokio::time::Instant::now() < end,
            "never {what}: {:?}",
            d.presence()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_stale_foreign_or_misplaced_hello_makes_a_node() {
    let port = free_port();
    let _broker = Mosquitto::start(port);
    let attacker = publisher(port).await;
    let node = sequencer();
    let stranger = Keypair::from_seed([41; 32]);
    let now = ting_agent::clock::now();
    let stale = Timestamp(now.0 - ENVELOPE_WINDOW_MS - 60_000);
    // A replayed old hello of the real node, a stranger's hello, and the real
    // node's fresh hello put on the stranger's topic.
    retain(&attacker, &node.account(), hello(&node, 1, stale, true)).await;
    retain(
        &attacker,
        &stranger.account(),
        hello(&stranger, 1, now, true),
    )
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = device(port, dir.path());
    settle_on(&d, |p| *p == Presence::Connected, "connected").await;
    attacker
        .publish(
            topics::node(&stranger.account()),
            QoS::AtLeastOnce,
            true,
            hello(&node, 1, now, true),
        )
        .await
        .expect("publish");
    let err = d
        .wait_for_node(Duration::from_secs(2))
        .await
        .expect_err("no believable node");
    assert_eq!(err.code(), "no_node_on_broker", "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    d.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_runs_own_leaving_hello_ends_a_node() {
    let port = free_port();
    let _broker = Mosquitto::start(port);
    let attacker = publisher(port).await;
    let node = sequencer();
    let now = ting_agent::clock::now();
    retain(&attacker, &node.account(), hello(&node, 7, now, true)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = device(port, dir.path());
    let seen = d
        .wait_for_node(Duration::from_secs(30))
        .await
        .expect("the node");
    assert_eq!(seen.node, node.account());

    // An empty retained message, and an old run's leaving hello: nothing changes.
    retain(&attacker, &node.account(), Vec::new()).await;
    retain(&attacker, &node.account(), hello(&node, 6, now, false)).await;
    // The node's next announcement, after them on the same topic and
    // connection: once the device has it, it has read them too, and is still
    // with the node.
    retain(&attacker, &node.account(), hello_at(&node, 7, now, true, 2)).await;
    let at_two = |p: &Presence| matches!(p, Presence::Node { height, .. } if height.0 == 2);
    settle_on(&d, at_two, "at the node's next announcement").await;

    // This run's own leaving hello (its last will): the node left.
    retain(&attacker, &node.account(), hello(&node, 7, now, false)).await;
    settle_on(&d, |p| matches!(p, Presence::Left { .. }), "left").await;
    d.shutdown().await;
}
