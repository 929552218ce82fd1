//! The embedded broker's resources are bounded (docs/mqtt.md §6): subscription
//! churn leaves memory flat, a flood of idle sockets does not keep devices
//! out, connections from one source are capped with a CONNACK refusal (not a
//! hang), and a client's subscriptions are capped.

mod common;
// Shared with tests/mqtt.rs, which uses the rest of it.
#[allow(dead_code)]
#[path = "mqtt/support.rs"]
mod support;

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, Packet, QoS, SubscribeFilter,
    SubscribeReasonCode,
};
use ting_core::topics;
use ting_core::{AccountId, Keypair};
use ting_node::mqtt::limits::{MQTT_CONNECTIONS_PER_SOURCE_MAX, MQTT_SUBSCRIPTIONS_PER_CLIENT_MAX};
use ting_node::mqtt::{Gateway, GatewayConfig, MqttMode};
use ting_node::Shared;

use common::*;
use support::*;

async fn gateway(shared: &Arc<Shared>, per_source: usize) -> Gateway {
    gateway_with(
        shared,
        per_source,
        ting_node::mqtt::limits::MQTT_LOGINS_PER_S,
    )
    .await
}

async fn gateway_with(shared: &Arc<Shared>, per_source: usize, logins_per_s: u32) -> Gateway {
    let cfg = GatewayConfig {
        mode: MqttMode::Embedded {
            listen: "127.0.0.1:0".parse().expect("address"),
        },
        key: sequencer(),
        client_id: None,
        connections_per_source: per_source,
        logins_per_s,
        tls: None,
        broker_tls: None,
    };
    Gateway::start(Arc::clone(shared), cfg)
        .await
        .expect("the gateway starts")
}

/// A logged-in client, its event loop on a task; answers once CONNACK came,
/// or the refusal.
async fn login(
    broker: SocketAddr,
    shared: &Shared,
    key: &Keypair,
) -> Result<(AsyncClient, tokio::task::JoinHandle<()>, Suback), ConnectReturnCode> {
    let (client, mut events) =
        AsyncClient::new(login_options(broker, &shared.genesis_hash, key), 256);
    let connected = tokio::time::timeout(DEADLINE, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(ConnectionError::ConnectionRefused(code)) => return Err(code),
                Err(e) => panic!("expected a CONNACK, got {e}"),
            }
        }
    })
    .await
    .expect("a CONNACK within the deadline, not a hang");
    connected?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Ok(event) = events.poll().await {
            if let Event::Incoming(Packet::SubAck(a)) = event {
                let _ = tx.send(a.return_codes);
            }
        }
    });
    Ok((client, task, Suback(rx)))
}

/// Sends DISCONNECT and closes the socket (rumqttc leaves closing it to the
/// broker, and rmqtt leaves it to the client).
async fn leave(client: &AsyncClient, task: tokio::task::JoinHandle<()>) {
    client.disconnect().await.expect("disconnect");
    task.abort();
    let _ = task.await;
}

/// SUBACK return codes, in order.
struct Suback(tokio::sync::mpsc::UnboundedReceiver<Vec<SubscribeReasonCode>>);

impl Suback {
    async fn next(&mut self) -> Vec<SubscribeReasonCode> {
        tokio::time::timeout(DEADLINE, self.0.recv())
            .await
            .expect("a SUBACK in time")
            .expect("the client runs")
    }
}

fn granted(codes: &[SubscribeReasonCode]) -> usize {
    codes
        .iter()
        .filter(|c| matches!(c, SubscribeReasonCode::Success(_)))
        .count()
}

/// The announcement topics of `n` made-up nodes: filters the ACL lets a
/// device hold, each a distinct entry in the broker's subscription tree.
fn node_filters(seed: u64, n: usize) -> Vec<SubscribeFilter> {
    (0..n)
        .map(|i| {
            let mut id = [0u8; 32];
            id[..8].copy_from_slice(&seed.to_le_bytes());
            id[8..16].copy_from_slice(&(i as u64).to_le_bytes());
            SubscribeFilter::new(topics::node(&AccountId(id)), QoS::AtMostOnce)
        })
        .collect()
}

/// One round: `clients` devices log in, each fills its subscription quota
/// with distinct filters, and leaves (clean session).
async fn churn_round(broker: SocketAddr, shared: &Shared, round: u64, clients: u8) {
    for c in 0..clients {
        let key = user(100 + c);
        let (client, task, mut subacks) = login(broker, shared, &key).await.expect("logs in");
        let per_client = MQTT_SUBSCRIPTIONS_PER_CLIENT_MAX;
        let filters = node_filters(round * 1000 + u64::from(c), per_client);
        client.subscribe_many(filters).await.expect("subscribe");
        let codes = subacks.next().await;
        assert_eq!(granted(&codes), per_client, "round {round} client {c}");
        leave(&client, task).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_churn_leaves_memory_flat() {
    let node = TestNode::start();
    let shared = node.shared();
    let gw = gateway(&shared, MQTT_CONNECTIONS_PER_SOURCE_MAX).await;
    let broker = gw.listen_addr().expect("embedded");
    const CLIENTS: u8 = 60;
    const ROUNDS: u64 = 6;
    // Each round adds CLIENTS × 80 = 4 800 distinct filters and removes them;
    // a broker that kept each filter (rumqttd kept about 6 KiB each) would
    // grow by some 28 MiB a round.
    churn_round(broker, &shared, 0, CLIENTS).await;
    churn_round(broker, &shared, 1, CLIENTS).await;
    let settled = ting_node::metrics::rss_bytes();
    for round in 2..ROUNDS {
        churn_round(broker, &shared, round, CLIENTS).await;
    }
    let after = ting_node::metrics::rss_bytes();
    let grown = after.saturating_sub(settled);
    println!("resident memory: {settled} bytes after 2 rounds, {after} after {ROUNDS}");
    assert!(
        grown < 24 << 20,
        "memory grew by {grown} bytes over {} rounds of subscription churn",
        ROUNDS - 2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holds_at_most_its_quota_of_subscriptions() {
    let node = TestNode::start();
    let shared = node.shared();
    let gw = gateway(&shared, MQTT_CONNECTIONS_PER_SOURCE_MAX).await;
    let broker = gw.listen_addr().expect("embedded");
    let (client, _task, mut subacks) = login(broker, &shared, &user(1)).await.expect("logs in");
    let quota = MQTT_SUBSCRIPTIONS_PER_CLIENT_MAX;
    client
        .subscribe_many(node_filters(1, quota))
        .await
        .expect("subscribe");
    assert_eq!(granted(&subacks.next().await), quota);
    client
        .subscribe_many(node_filters(2, 10))
        .await
        .expect("subscribe");
    assert_eq!(granted(&subacks.next().await), 0, "over the quota");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_per_source_are_capped_with_a_refusal_not_a_hang() {
    let node = TestNode::start();
    let shared = node.shared();
    // The node's own client is one connection from 127.0.0.1.
    let gw = gateway(&shared, 3).await;
    let broker = gw.listen_addr().expect("embedded");
    let first = login(broker, &shared, &user(1))
        .await
        .expect("second connection");
    let second = login(broker, &shared, &user(2))
        .await
        .expect("third connection");
    let refused = login(broker, &shared, &user(3)).await.err();
    assert_eq!(refused, Some(ConnectReturnCode::NotAuthorized));
    // A connection that leaves makes room.
    leave(&first.0, first.1).await;
    let deadline = Deadline::new("a freed slot to be reused");
    loop {
        match login(broker, &shared, &user(3)).await {
            Ok(_) => break,
            Err(ConnectReturnCode::NotAuthorized) => deadline.tick().await,
            Err(other) => panic!("refused with {other:?}"),
        }
    }
    drop(second);
    let refusals = gw.broker_refusals().expect("embedded");
    assert!(
        refusals
            .over_source_limit
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_do_not_keep_devices_out() {
    let node = TestNode::start();
    let shared = node.shared();
    let gw = gateway(&shared, MQTT_CONNECTIONS_PER_SOURCE_MAX).await;
    let broker = gw.listen_addr().expect("embedded");
    // Sockets that never send CONNECT: each waits out the broker's CONNECT timeout.
    let idle: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(broker).expect("a TCP connection"))
        .collect();
    let (_client, _task, _) = login(broker, &shared, &user(1))
        .await
        .expect("a device still logs in");
    drop(idle);
}

/// An attacker floods the broker with logins whose tokens are for another
/// network. Past the admission rate they are refused (code 5) before their
/// signature is checked, and counted as such on /metrics; once the flood
/// stops, a device's good login gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_is_refused_unchecked_past_the_rate_and_a_device_gets_in_after() {
    const RATE: u32 = 2;
    const FLOOD: u8 = 24;
    let node = TestNode::start();
    let shared = node.shared();
    let gw = gateway_with(&shared, MQTT_CONNECTIONS_PER_SOURCE_MAX, RATE).await;
    let broker = gw.listen_addr().expect("embedded");
    let elsewhere = ting_core::Hash32([0xee; 32]);
    let flood_started = std::time::Instant::now();
    for i in 0..FLOOD {
        let key = user(100 + i);
        let (_client, mut events) = AsyncClient::new(login_options(broker, &elsewhere, &key), 8);
        let refused = tokio::time::timeout(DEADLINE, async {
            loop {
                match events.poll().await {
                    Err(ConnectionError::ConnectionRefused(code)) => return code,
                    Ok(Event::Incoming(Packet::ConnAck(_))) => panic!("a forged login got in"),
                    Ok(_) => {}
                    Err(e) => panic!("expected a CONNACK refusal, got {e}"),
                }
            }
        })
        .await
        .expect("an answer, not a hang");
        assert!(
            matches!(
                refused,
                ConnectReturnCode::NotAuthorized | ConnectReturnCode::BadUserNamePassword
            ),
            "{refused:?}"
        );
    }
    let refusals = gw.broker_refusals().expect("embedded");
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    let checked = load(&refusals.logins);
    let unchecked = load(&refusals.over_login_rate);
    assert_eq!(
        checked + unchecked,
        u64::from(FLOOD),
        "every forged login refused once"
    );
    // Checked: at most one second's burst plus what refilled while the flood
    // ran (however slow the machine); every other login went unchecked.
    let elapsed_ms = u64::try_from(flood_started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let refilled = (elapsed_ms.saturating_mul(u64::from(RATE))).div_ceil(1_000);
    assert!(
        checked <= u64::from(RATE) + refilled,
        "{checked} checked, {unchecked} refused unchecked, {refilled} refilled"
    );
    assert!(unchecked >= 1, "the flood met the gate");
    assert_eq!(
        metric(
            &shared,
            "ting_mqtt_broker_refused_total{reason=\"login_rate\"}"
        )
        .await,
        unchecked
    );
    let deadline = Deadline::new("a device's login after the flood");
    loop {
        match login(broker, &shared, &user(1)).await {
            Ok(_) => break,
            Err(ConnectReturnCode::NotAuthorized) => deadline.tick().await,
            Err(other) => panic!("refused with {other:?}"),
        }
    }
}
