//! The device example (examples/device.rs) run as a new user runs it: the
//! devices find the node's broker from `/v1/status` when it is not on the
//! standard port, and when pointed at a broker where no node is, they say so
//! within the example's wait, naming both brokers, instead of hanging.

#[path = "../examples/device.rs"]
#[allow(dead_code)]
mod device_example;

mod common;

use std::time::{Duration, Instant};

use common::{dev_node::DevNode, free_port, sequencer, Mosquitto};
use ting_agent::{Broker, Device, DeviceConfig, TlsTrust};
use ting_core::Keypair;

/// The wait the wrong-broker run is given (the example's own is longer; the
/// logic is the same, and CI time is not).
const WRONG_BROKER_WAIT: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_finds_the_nodes_broker_on_a_port_of_its_own() {
    let dev = DevNode::start().await;
    assert_ne!(dev.gateway().listen_addr().map(|a| a.port()), Some(1883));
    let key = Keypair::from_seed(rand::random());
    let setup = device_example::Setup {
        node: dev.url.clone(),
        broker: None,
        tls: TlsTrust::SystemRoots,
        wait: device_example::NODE_WAIT,
    };
    device_example::run(&setup, key)
        .await
        .unwrap_or_else(|e| panic!("the example failed: {e}"));
    dev.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_broker_without_its_node_the_example_says_so_within_its_wait() {
    let dev = DevNode::start().await;
    let port = free_port();
    let _other = Mosquitto::start(port);
    let wrong = Broker {
        host: "127.0.0.1".into(),
        port,
        tls: false,
    };
    let key = Keypair::from_seed(rand::random());
    let setup = device_example::Setup {
        node: dev.url.clone(),
        broker: Some(wrong.clone()),
        tls: TlsTrust::SystemRoots,
        wait: WRONG_BROKER_WAIT,
    };
    let run = device_example::run(&setup, key);
    // It ends by itself (before the test's deadline, far beyond its wait).
    let err = tokio::time::timeout(common::DEADLINE, run)
        .await
        .expect("the example gave up instead of hanging")
        .expect_err("no node answers on that broker")
        .to_string();
    assert!(
        err.contains(&wrong.to_string()),
        "names the broker it reached: {err}"
    );
    assert!(
        err.contains(dev.gateway().broker()),
        "names the node's own broker: {err}"
    );
    dev.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_is_not_there_is_named_and_a_node_that_leaves_is_noticed() {
    let mut dev = DevNode::start().await;
    let url = dev.url.clone();

    // Nothing listens on this port.
    let state = tempfile::tempdir().expect("tempdir");
    let mut config =
        DeviceConfig::discover(Keypair::from_seed([31; 32]), state.path().into(), &url)
            .await
            .expect("discovers");
    let nowhere = Broker {
        host: "127.0.0.1".into(),
        port: free_port(),
        tls: false,
    };
    config.broker = Some(nowhere.clone());
    let device = Device::start(config).expect("starts");
    let err = device
        .wait_for_node(Duration::from_secs(2))
        .await
        .expect_err("no broker there");
    assert_eq!(err.code(), "broker_unreachable", "{err}");
    assert!(err.to_string().contains(&nowhere.to_string()), "{err}");
    device.shutdown().await;

    // The node's own broker: the node is found, then noticed gone when it stops.
    let state = tempfile::tempdir().expect("tempdir");
    let config = DeviceConfig::discover(Keypair::from_seed([32; 32]), state.path().into(), &url)
        .await
        .expect("discovers");
    let device = Device::start(config).expect("starts");
    let seen = device
        .wait_for_node(Duration::from_secs(30))
        .await
        .expect("the node is there");
    assert_eq!(seen.node, sequencer().account());
    if let Some(g) = dev.gateway.take() {
        g.shutdown().await;
    }
    // The node says it leaves, and its embedded broker stops with it: the
    // device hears the leaving hello, or loses the broker that went with it.
    let gone = |p: &ting_agent::device::Presence| {
        matches!(
            p,
            ting_agent::device::Presence::Left { .. }
                | ting_agent::device::Presence::Connecting {
                    last_error: Some(_)
                }
        )
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while !gone(&device.presence()) {
        assert!(
            Instant::now() < deadline,
            "the departure was not noticed: {:?}",
            device.presence()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    device.shutdown().await;
    dev.stop().await;
}
