//! Two devices on a real broker and node: the payer opens a channel and pays
//! through it with `PAYMENT` envelopes; the payee's device accepts them (each
//! durable before the app sees it) and claims on the ledger. Its balance must
//! grow by exactly what it was paid, the payer's deposit must show the claim,
//! and a second claim with nothing new must change nothing.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ting_agent::clock::now;
use ting_agent::{ChannelOffer, Message};
use ting_core::channel::payee::ClaimPolicy;
use ting_core::{Amount, Keypair, Timestamp};

fn payee_key() -> Keypair {
    Keypair::from_seed([22; 32])
}

#[test]
fn a_payee_device_claims_exactly_what_it_was_paid() {
    let node_dir = tempfile::tempdir().expect("tempdir");
    let (payer_dir, payee_dir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let port = free_port();
    let _broker = Mosquitto::start(port);
    let node = node(node_dir.path(), &[(payee_key().account(), 1)]);
    let shared = Arc::clone(node.shared());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let url = serve_http(Arc::clone(&shared)).await;
        let gateway = gateway(Arc::clone(&shared), port).await;
        let payer = mqtt_device(device_key(), payer_dir.path(), &url, port).await;
        let mut payee = mqtt_device(payee_key(), payee_dir.path(), &url, port).await;
        let offer = ChannelOffer {
            payee: payee.account(),
            deposit: Amount::new(1_000),
            price: Amount::new(5),
            ticks: 200,
            expires_at: Timestamp(now().0 + 3_600_000),
        };
        let channel = payer.open_channel(offer).await.expect("opens");
        payee.accept_channel(&channel).await.expect("takes it up");
        let mut paid = 0;
        for units in [3u64, 1, 7] {
            payer.pay(&channel, units).await.expect("pays");
            let message = tokio::time::timeout(DEADLINE, payee.recv())
                .await
                .expect("a message in time")
                .expect("the device is running");
            let Message::Payment { accepted, .. } = message else {
                panic!("expected a payment, got {message:?}")
            };
            paid += units * 5;
            assert_eq!(accepted.total, Amount::new(paid));
        }
        let claimed = payee
            .claim(&channel, &ClaimPolicy::ALWAYS)
            .await
            .expect("claims");
        assert_eq!(claimed, Amount::new(paid));
        assert_eq!(
            payee.balance().await.expect("balance"),
            Amount::new(1 + paid)
        );
        let again = payee
            .claim(&channel, &ClaimPolicy::ALWAYS)
            .await
            .expect("nothing new to claim");
        assert_eq!(again, Amount::new(paid));
        assert_eq!(
            payee.balance().await.expect("balance"),
            Amount::new(1 + paid)
        );
        let on_ledger = payee
            .http()
            .get(&format!("/v1/channels/{}", channel.to_hex()))
            .await
            .expect("the channel");
        assert_eq!(on_ledger["claimed"].as_u64(), Some(paid));
        assert_eq!(on_ledger["locked"].as_u64(), Some(1_000 - paid));
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            payer.shutdown().await;
            payee.shutdown().await;
        })
        .await;
        gateway.shutdown().await;
    });
    drop(runtime);
    drop(shared);
    node.shutdown();
}
