//! The whole path through a production-like Mosquitto: the plugin loaded, its
//! one listener speaking TLS only, a real node whose gateway logs in over
//! `mqtts://` trusting the broker's certificate by its pin, and a device of
//! the SDK that pays over the same broker and gets its receipt. A gateway
//! given another pin does not connect, and says why.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use support::{genesis, sequencer, user, Broker, DEADLINE};
use ting_agent::tls::TlsTrust;
use ting_agent::{Device, DeviceConfig};
use ting_core::{Amount, TxKind};
use ting_node::mqtt::{Gateway, GatewayConfig, MqttMode, MqttStartError};
use ting_node::tls::ServerTls;
use ting_node::{Node, NodeConfig};

/// A gateway on the TLS broker at `addr`, trusting the certificate `pin`.
fn gateway_config(addr: SocketAddr, pin: [u8; 32]) -> GatewayConfig {
    let trust = TlsTrust::Pin(pin)
        .client_config()
        .expect("a client configuration");
    GatewayConfig {
        mode: MqttMode::External {
            host: addr.ip().to_string(),
            port: addr.port(),
            tls: true,
        },
        key: sequencer(),
        client_id: None,
        connections_per_source: ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX,
        logins_per_s: ting_node::mqtt::limits::MQTT_LOGINS_PER_S,
        tls: None,
        broker_tls: Some(Arc::new(trust)),
    }
}

/// A self-signed identity in `dir`, a Mosquitto with the plugin serving TLS
/// with it, and a node of the test genesis (not yet on the broker).
fn tls_broker_and_node(dir: &Path) -> (ServerTls, Broker, Node) {
    let identity = ServerTls::dev(dir).expect("a self-signed identity");
    let broker = Broker::start_tls(&identity.cert_path, &identity.key_path);
    let mut cfg = NodeConfig::new(dir.join("node"), genesis(), sequencer());
    cfg.verify_workers = 1;
    let node = Node::start(cfg).expect("the node starts");
    (identity, broker, node)
}

/// Serves the node's HTTP API on a free port (the device reads its nonce
/// there once); returns its URL.
async fn serve_http(shared: Arc<ting_node::Shared>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    tokio::spawn(ting_node::http::serve(
        listener,
        shared,
        std::future::pending(),
    ));
    url
}

/// The funded device of the test genesis, reaching the broker over TLS.
fn device(state: &Path, node_url: String, addr: SocketAddr, pin: [u8; 32]) -> Device {
    let g = genesis();
    let config = DeviceConfig {
        key: user(0),
        state_dir: state.to_path_buf(),
        network: g.network,
        sequencers: g.sequencers.clone(),
        genesis_hash: g.hash(),
        node_url,
        broker: Some(ting_agent::Broker {
            host: addr.ip().to_string(),
            port: addr.port(),
            tls: true,
        }),
        tls: TlsTrust::Pin(pin),
        seed: 7,
        clock: ting_agent::clock::NetworkClock::REAL,
        witnesses: ting_core::witness::WitnessPolicy::default(),
    };
    Device::start(config).expect("the device starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_and_a_device_transact_through_mosquitto_over_tls_with_logins_and_acls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (identity, broker, node) = tls_broker_and_node(dir.path());
    let shared = Arc::clone(node.shared());
    let gateway = Gateway::start(
        Arc::clone(&shared),
        gateway_config(broker.addr, identity.fingerprint),
    )
    .await
    .expect("the gateway logs in over TLS and joins the shared subscription");
    assert!(
        gateway.broker().starts_with("mqtts://"),
        "{}",
        gateway.broker()
    );

    let state = tempfile::tempdir().expect("tempdir");
    let node_url = serve_http(Arc::clone(&shared)).await;
    let device = device(state.path(), node_url, broker.addr, identity.fingerprint);
    let seen = device
        .wait_for_node(DEADLINE)
        .await
        .expect("the device hears the node's announcement through the broker");
    assert_eq!(seen.node, sequencer().account());
    let kind = TxKind::Transfer {
        to: user(1).account(),
        amount: Amount::new(25),
        memo: Vec::new(),
    };
    let confirmed = tokio::time::timeout(DEADLINE, device.submit(kind))
        .await
        .expect("an answer within the deadline")
        .expect("the transfer is committed and its receipt verified");
    assert!(confirmed.height.0 >= 1, "{confirmed:?}");
    let balance = {
        let state = shared.state.read().expect("state lock");
        state
            .account(&user(1).account())
            .map(|a| a.balance)
            .unwrap_or_default()
    };
    assert_eq!(balance, Amount::new(25), "the payee holds what was paid");

    // Both logged in through the plugin: the broker's log names their accounts.
    let log = broker.log();
    for account in [sequencer().account(), user(0).account()] {
        assert!(
            log.contains(&ting_core::login::username(&account)),
            "the broker's log shows {account}'s login:\n{log}"
        );
    }

    device.shutdown().await;
    gateway.shutdown().await;
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .expect("the node stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_does_not_trust_the_brokers_certificate_does_not_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_identity, broker, node) = tls_broker_and_node(dir.path());

    let wrong = [0x5a; 32];
    let err = Gateway::start(
        Arc::clone(node.shared()),
        gateway_config(broker.addr, wrong),
    )
    .await
    .expect_err("another certificate than the pinned one is refused");
    assert_eq!(err.code(), "mqtt_unreachable", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("mqtts://") && text.to_lowercase().contains("certificate"),
        "the error names the TLS broker and the certificate: {text}"
    );

    let mut plain = gateway_config(broker.addr, wrong);
    plain.broker_tls = None;
    let err = Gateway::start(Arc::clone(node.shared()), plain)
        .await
        .expect_err("an mqtts:// broker with no trust given is refused");
    assert!(
        matches!(err, MqttStartError::NoBrokerTrust { .. }),
        "{err:?}"
    );
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .expect("the node stops");
}
