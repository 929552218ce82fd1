//! The test: stop the broker in the middle of a run, keep submitting,
//! start it again: every transaction lands exactly once.
//!
//! A real Mosquitto (started here on a free port) and a real node in this
//! process (its HTTP API on a free port, its MQTT gateway on the Mosquitto, as
//! `ting node --mqtt-broker` runs it). The device submits over MQTT only.
//! Every wait has a deadline; amounts come from a seeded generator whose seed
//! is printed with any failure.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use ting_agent::{Broker, Device, DeviceConfig, Ticket};
use ting_core::{Amount, Nonce, TxKind};

/// Transactions queued while the broker is up, and while it is down.
const BEFORE: u64 = 30;
const DURING: u64 = 30;

async fn queue_transfers(device: &Device, rng: &mut StdRng, n: u64, sum: &mut u64) -> Vec<Ticket> {
    let mut tickets = Vec::new();
    for _ in 0..n {
        let amount = rng.random_range(1..1_000u64);
        *sum += amount;
        let kind = TxKind::Transfer {
            to: recipient(),
            amount: Amount::new(amount),
            memo: Vec::new(),
        };
        tickets.push(device.queue(kind).await.expect("queued"));
    }
    tickets
}

#[test]
fn a_broker_outage_in_the_middle_of_a_run_loses_nothing_and_duplicates_nothing() {
    let seed: u64 = rand::random();
    eprintln!("seed {seed}");
    let node_dir = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut broker = Some(Mosquitto::start(port));
    let node = node(node_dir.path(), &[]);
    let shared = Arc::clone(node.shared());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    runtime.block_on(async {
        let url = serve_http(Arc::clone(&shared)).await;
        let gateway = gateway(Arc::clone(&shared), port).await;
        let mut config = DeviceConfig::discover(device_key(), state.path().to_path_buf(), &url)
            .await
            .expect("the node's status");
        config.broker = Some(Broker {
            host: "127.0.0.1".into(),
            port,
            tls: false,
        });
        config.seed = seed;
        let device = Device::start(config).expect("the device starts");
        let mut rng = StdRng::seed_from_u64(seed);
        let mut sum = 0;

        let mut tickets = queue_transfers(&device, &mut rng, BEFORE, &mut sum).await;
        // Stop the broker while the first batch is in flight: some answered, not all.
        let first = tickets.remove(0);
        first.wait().await.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        eprintln!("first answer after {:?}", started.elapsed());
        drop(broker.take());
        wait_until("the device to notice the broker is gone", || !device.stats().connected).await;

        let during = queue_transfers(&device, &mut rng, DURING, &mut sum).await;
        assert!(
            device.outbox_len() >= usize::try_from(DURING).expect("small"),
            "seed {seed}: what was queued during the outage waits in the outbox"
        );
        broker = Some(Mosquitto::start(port));
        eprintln!("broker back after {:?}", started.elapsed());

        let mut nonces = vec![0u64];
        for ticket in tickets.into_iter().chain(during) {
            let nonce = ticket.nonce;
            let outcome = tokio::time::timeout(DEADLINE, ticket.wait())
                .await
                .unwrap_or_else(|_| panic!("seed {seed}: nonce {nonce:?} had no answer in time"));
            outcome.unwrap_or_else(|e| panic!("seed {seed}: nonce {nonce:?}: {e}"));
            nonces.push(nonce.0);
        }
        nonces.sort_unstable();
        let total = BEFORE + DURING;
        assert_eq!(nonces, (0..total).collect::<Vec<_>>(), "seed {seed}: consecutive nonces");
        assert_eq!(device.outbox_len(), 0, "seed {seed}: the outbox drained");
        assert_eq!(
            device.ledger_nonce().await.expect("nonce"),
            Nonce(total),
            "seed {seed}: each transaction applied once"
        );
        assert_eq!(
            device.balance().await.expect("balance"),
            Amount::new(FUNDS - sum),
            "seed {seed}"
        );
        let theirs = device
            .http()
            .get(&format!("/v1/accounts/{}", recipient().to_hex()))
            .await
            .expect("recipient");
        assert_eq!(theirs["balance"].as_u64(), Some(sum), "seed {seed}");
        let stats = device.stats();
        eprintln!(
            "{total} transactions through one broker outage in {:?}: {} connects, {} failures, {} publishes",
            started.elapsed(),
            stats.connects,
            stats.failures,
            stats.published
        );
        assert!(stats.connects >= 2, "seed {seed}: the device reconnected");
        device.shutdown().await;
        gateway.shutdown().await;
    });
    drop(runtime);
    drop(shared);
    node.shutdown();
}
