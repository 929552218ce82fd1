//! `GET /v1/overview` and `/v1/overview/events`: after a known workload the
//! overview's figures are what `/v1/status`, `/v1/supply`, `/v1/blocks` and
//! the state say, its transaction total survives a restart (counted from the
//! log), and its stream sends at once, then again after new blocks.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};
use ting_core::{Amount, ChannelMode, Keypair, Timestamp, TxKind};
use ting_node::Shared;

use crate::common::*;
use crate::events::{commit_transfer, read_sent, subscribe};

async fn overview(s: &Arc<Shared>) -> Value {
    let (status, body) = call(s, get("/v1/overview")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Polls the overview until `done` holds for it.
async fn overview_when(s: &Arc<Shared>, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Deadline::new(format!("the overview to show {what}"));
    loop {
        let o = overview(s).await;
        if done(&o) {
            return o;
        }
        deadline.tick().await;
    }
}

/// The durable headers, newest first, as the overview lists them.
async fn recent_blocks(s: &Arc<Shared>) -> Value {
    let (_, body) = call(s, get("/v1/blocks")).await;
    let mut blocks: Vec<Value> = body["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .map(|h| {
            json!({
                "height": h["height"], "hash": h["hash"],
                "timestamp_ms": h["timestamp_ms"], "tx_count": h["tx_count"],
            })
        })
        .collect();
    blocks.reverse();
    blocks.truncate(10);
    Value::Array(blocks)
}

/// Five transfers of 1 to 5, a device registration and a voucher channel
/// with a deposit of 500, each in its own block: answers the volume.
async fn workload(s: &Arc<Shared>) -> u64 {
    for amount in 1..=5 {
        let tx = transfer(&user(1), next_nonce(s, &user(1)), user(3).account(), amount);
        commit(s, &tx).await;
    }
    let device = Keypair::from_seed([99; 32]);
    commit(s, &register(&user(0), next_nonce(s, &user(0)), &device)).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    let open = TxKind::ChannelOpen {
        payee: user(1).account(),
        deposit: Amount::new(500),
        expires_at: Timestamp(u64::try_from(now.as_millis()).expect("fits") + 3_600_000),
        mode: ChannelMode::Voucher,
    };
    commit(s, &signed(&user(2), next_nonce(s, &user(2)), open)).await;
    1 + 2 + 3 + 4 + 5 + 500
}

#[tokio::test]
async fn the_overview_agrees_with_status_supply_blocks_and_the_state_after_a_known_workload() {
    let mut node = TestNode::start();
    let s = node.shared();
    let volume = workload(&s).await;
    let blocks = 7;
    let o = overview_when(&s, "every block of the workload", |o| {
        o["recent_blocks"][0]["height"] == blocks && o["blocks_per_min"] == blocks
    })
    .await;
    let (_, status) = call(&s, get("/v1/status")).await;
    let (_, supply) = call(&s, get("/v1/supply")).await;
    let (devices, open_channels) = {
        let st = s.state.read().expect("state lock");
        (st.device_count(), st.open_channel_total())
    };
    assert_eq!(o["height"], status["height"]);
    assert_eq!(o["height"], blocks);
    assert_eq!(o["durable_height"], status["durable_height"]);
    assert_eq!(o["accounts"], status["accounts"]);
    assert_eq!(o["supply"], status["supply"]);
    assert_eq!(o["supply"], supply["minted"]);
    assert_eq!(o["escrow"], supply["locked"]);
    assert_eq!(o["escrow"], 500);
    assert_eq!(
        (o["devices"].clone(), o["open_channels"].clone()),
        (json!(devices), json!(open_channels))
    );
    assert_eq!((devices, open_channels), (1, 1));
    assert_eq!(o["volume_1m"], volume);
    assert_eq!(o["txs_total"], blocks, "one transaction a block");
    assert_eq!(o["recent_blocks"], recent_blocks(&s).await);
    assert!(o["tps"].is_u64(), "{o}");

    // After a restart the total is counted from the log; the window starts empty.
    drop(s);
    node.restart();
    let s = node.shared();
    let after = overview_when(&s, "the total counted from the log", |o| {
        !o["txs_total"].is_null()
    })
    .await;
    assert_eq!(after["txs_total"], blocks);
    assert_eq!(
        (
            after["blocks_per_min"].clone(),
            after["volume_1m"].clone(),
            after["tps"].clone()
        ),
        (json!(0), json!(0), json!(0))
    );
    assert_eq!(after["recent_blocks"], o["recent_blocks"]);
    for same in [
        "height",
        "accounts",
        "devices",
        "open_channels",
        "escrow",
        "supply",
    ] {
        assert_eq!(after[same], o[same], "{same}");
    }
}

#[tokio::test]
async fn the_overview_stream_sends_the_figures_at_once_then_an_updated_height_after_new_blocks() {
    let node = TestNode::start();
    let s = node.shared();
    commit_transfer(&s, &user(0), &user(1)).await;
    let mut stream = subscribe(&s, "/v1/overview/events").await;
    let first = read_sent(&mut stream, |e| !e.is_empty()).await;
    assert_eq!(first[0].name, "overview");
    assert!(first[0].id.is_none(), "an overview is not resumed");
    let before = first[0].data["durable_height"].as_u64().expect("a height");
    let (_, height) = commit_transfer(&s, &user(0), &user(1)).await;
    assert!(height > before);
    let events = read_sent(&mut stream, |e| {
        e.iter().any(|e| e.data["height"].as_u64() >= Some(height))
    })
    .await;
    let updated = events
        .iter()
        .find(|e| e.data["height"] == height)
        .expect("the new height");
    assert_eq!(updated.name, "overview");
    assert_eq!(updated.data["recent_blocks"][0]["height"], height);
    assert!(updated.data["durable_height"].as_u64() >= Some(height));
    assert_eq!(
        updated.data,
        overview(&s).await,
        "the same figures as GET /v1/overview, while nothing moves"
    );
}
