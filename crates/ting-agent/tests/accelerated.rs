//! A network whose genesis declares an accelerated clock (wire.md §8), run
//! for real: a node with its embedded broker and two devices that learn the
//! clock from `/v1/status`. Ledger time, the devices' expiries, envelope
//! stamps and login tokens are all in the network's time; the freshness
//! windows last the same wall time as on a real network. A device left on
//! the wall clock is too far behind to log in.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::net::embedded_gateway;
use common::{device_key, recipient, sequencer, serve_http, DEADLINE, FUNDS, NET};
use ting_agent::clock::{now, NetworkClock};
use ting_agent::device::{Message, Presence};
use ting_agent::{Device, DeviceConfig};
use ting_core::{Amount, Genesis, Keypair, LedgerClock, TxKind};
use ting_node::{Node, NodeConfig};

/// A simulated minute in 60 ms of wall time.
const SPEED: u32 = 1_000;
/// The network started this long ago (wall time): a device on the wall
/// clock is as far behind, beyond the login window (60 s of wall time).
const STARTED_AGO_MS: u64 = 120_000;

fn accelerated_node(dir: &std::path::Path) -> Node {
    let genesis = Genesis {
        name: "accelerated".into(),
        network: NET,
        timestamp: ting_core::Timestamp(now().0 - STARTED_AGO_MS),
        issuers: vec![sequencer().account()],
        sequencers: vec![sequencer().account()],
        allocations: vec![(device_key().account(), Amount::new(FUNDS))],
        clock: LedgerClock::Accelerated { speed: SPEED },
    };
    let mut cfg = NodeConfig::new(dir.to_path_buf(), genesis, sequencer());
    cfg.verify_workers = 1;
    Node::start(cfg).expect("the node starts")
}

async fn device(
    key: Keypair,
    dir: &std::path::Path,
    url: &str,
    clock: Option<NetworkClock>,
) -> Device {
    let mut config = DeviceConfig::discover(key, dir.to_path_buf(), url)
        .await
        .expect("the node's status");
    if let Some(clock) = clock {
        config.clock = clock;
    }
    Device::start(config).expect("the device starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ledger_time_expiries_envelopes_and_logins_run_at_the_genesis_speed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = accelerated_node(&dir.path().join("node"));
    let shared = Arc::clone(node.shared());
    let gateway = embedded_gateway(Arc::clone(&shared)).await;
    let url = serve_http(Arc::clone(&shared)).await;

    let a = device(device_key(), &dir.path().join("a"), &url, None).await;
    assert_eq!(a.clock().clock(), LedgerClock::Accelerated { speed: SPEED });
    a.wait_for_node(DEADLINE)
        .await
        .expect("a logs in on network time");
    let b_key = Keypair::from_seed([21; 32]);
    assert_eq!(b_key.account(), recipient());
    let mut b = device(b_key, &dir.path().join("b"), &url, None).await;
    b.wait_for_node(DEADLINE)
        .await
        .expect("b logs in on network time");

    // A transfer proposed on network time commits; its block is stamped
    // far ahead of the wall clock.
    let started = now();
    let kind = TxKind::Transfer {
        to: recipient(),
        amount: Amount::new(1_000),
        memo: Vec::new(),
    };
    let confirmed = a.submit(kind).await.expect("the transfer commits");
    assert!(confirmed.height.0 >= 1);
    let stamped = shared.state.read().expect("state").last_timestamp();
    assert!(
        stamped.0 > started.0 + 10_000,
        "the block is stamped on network time ({} ms ahead of the wall clock)",
        stamped.0.saturating_sub(started.0)
    );

    // An envelope stamped on network time is inside the receiver's window
    // (five minutes of wall time, so 5,000 minutes of network time here).
    a.send(recipient(), b"hello".to_vec(), false)
        .await
        .expect("sent");
    let got = tokio::time::timeout(DEADLINE, b.recv())
        .await
        .expect("in time");
    match got {
        Some(Message::Data { from, payload, .. }) => {
            assert_eq!(from, device_key().account());
            assert_eq!(payload, b"hello");
        }
        other => panic!("expected the data message, got {other:?}"),
    }

    // A device left on the wall clock stamps its login token two minutes of
    // wall time (33 hours of network time) in the past: the broker refuses it.
    let stale = device(
        Keypair::from_seed([22; 32]),
        &dir.path().join("stale"),
        &url,
        Some(NetworkClock::REAL),
    )
    .await;
    let seen = stale.wait_for_node(Duration::from_secs(3)).await;
    assert!(
        seen.is_err(),
        "a wall-clock device must not log in: {seen:?}"
    );
    assert!(
        matches!(stale.presence(), Presence::Connecting { .. }),
        "{:?}",
        stale.presence()
    );

    for d in [a, b, stale] {
        d.shutdown().await;
    }
    tokio::task::spawn_blocking(move || node.shutdown())
        .await
        .expect("the node stops");
    gateway.shutdown().await;
}
