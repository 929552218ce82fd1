//! Reading the ledger: receipts that verify offline, transactions, accounts
//! (did:key and hex), account history with its cursor and summaries, blocks by
//! height and range.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};
use ting_api::{receipt_from_json, TxJson};
use ting_core::{AccountId, Amount, BlockHeader, Hash32, Keypair, SignedTx, TxKind};
use ting_node::Shared;

use crate::common::*;

#[tokio::test]
async fn a_receipt_verifies_offline_against_the_genesis_sequencers() {
    let node = TestNode::start();
    let s = node.shared();
    // Several transactions in one batch, so that blocks hold more than one leaf.
    let txs: Vec<SignedTx> = (0..5u64)
        .map(|i| transfer(&user(0), i, user(1).account(), i + 1))
        .collect();
    let items: Vec<Value> = txs.iter().map(json_body).collect();
    let (status, body) = call(
        &s,
        post_json("/v1/transactions/batch", &json!({ "txs": items })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let sequencers = [sequencer().account()];
    let net = genesis().hash();
    for tx in &txs {
        let hash = tx.hash().to_hex();
        let receipt_body = check(
            &s,
            "receipt",
            get(&format!("/v1/receipts/{hash}")),
            ok(vec![
                ("/tx_hash", json!(hash)),
                ("/status", json!("committed")),
            ]),
        )
        .await;
        let receipt = receipt_from_json(&receipt_body).expect("a receipt");
        assert_eq!(receipt.tx_hash, tx.hash());
        receipt
            .verify(&net, &sequencers)
            .expect("the receipt verifies");
        assert!(
            receipt.verify(&Hash32([7; 32]), &sequencers).is_err(),
            "bound to its network"
        );
        assert!(
            receipt.verify(&net, &[user(0).account()]).is_err(),
            "bound to the sequencers"
        );
        let mut forged = receipt.clone();
        forged.tx_hash = txs[0].hash();
        if forged.tx_hash != tx.hash() {
            assert!(
                forged.verify(&net, &sequencers).is_err(),
                "a receipt proves only its own transaction"
            );
        }

        let tx_body = check(
            &s,
            "transaction",
            get(&format!("/v1/transactions/{hash}")),
            ok(vec![
                ("/tx_hash", json!(hash)),
                ("/hex", json!(hex::encode(tx.bytes()))),
            ]),
        )
        .await;
        assert_eq!(
            tx_body["tx"]["sender"],
            did(&user(0)),
            "ids in JSON are did:key"
        );
        let round: TxJson = serde_json::from_value(tx_body["tx"].clone()).expect("TxJson");
        assert_eq!(
            round.to_tx().expect("a transaction"),
            *tx,
            "the JSON form round-trips"
        );
        receipt_from_json(&tx_body["receipt"])
            .expect("a receipt")
            .verify(&net, &sequencers)
            .expect("verifies");
    }
}

#[tokio::test]
async fn an_account_reads_the_same_by_did_and_by_hex_and_shows_its_device() {
    let node = TestNode::start();
    let s = node.shared();
    let (owner, device) = (user(0), Keypair::from_seed([60; 32]));
    commit(&s, &register(&owner, 0, &device)).await;
    commit(&s, &transfer(&owner, 1, device.account(), 700)).await;
    let limit = TxKind::SetSpendLimit {
        device: device.account(),
        per_day: Some(Amount::new(300)),
    };
    commit(&s, &signed(&owner, 2, limit)).await;
    commit(&s, &transfer(&device, 0, user(1).account(), 200)).await;

    let by_did = check(
        &s,
        "did",
        get(&format!("/v1/accounts/{}", did(&device))),
        ok(vec![
            ("/id", json!(did(&device))),
            ("/hex", json!(device.account().to_hex())),
            ("/balance", json!(500)),
            ("/nonce", json!(1)),
            ("/device/owner", json!(did(&owner))),
            ("/device/per_day", json!(300)),
            ("/device/spent_today", json!(200)),
            ("/device/frozen", json!(false)),
            ("/device/metadata_hex", json!(hex::encode(b"purifier"))),
        ]),
    )
    .await;
    let (_, by_hex) = call(
        &s,
        get(&format!("/v1/accounts/{}", device.account().to_hex())),
    )
    .await;
    assert_eq!(by_did, by_hex);
    check(
        &s,
        "owner",
        get(&format!("/v1/accounts/{}", did(&owner))),
        ok(vec![
            ("/balance", json!(FUNDS - 700)),
            ("/nonce", json!(3)),
            ("/device", Value::Null),
        ]),
    )
    .await;
}

async fn history(s: &Arc<Shared>, id: &AccountId, limit: usize) -> (Vec<String>, usize) {
    let mut hashes = Vec::new();
    let mut pages = 0;
    let mut before: Option<String> = None;
    loop {
        let mut path = format!("/v1/accounts/{}/transactions?limit={limit}", id.to_did());
        if let Some(cursor) = &before {
            path.push_str(&format!("&before={cursor}"));
        }
        let (status, body) = call(s, get(&path)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        let page = body["transactions"].as_array().expect("transactions");
        assert!(page.len() <= limit);
        hashes.extend(
            page.iter()
                .map(|t| t["tx_hash"].as_str().expect("hash").to_owned()),
        );
        match body["next"].as_str() {
            Some(next) => before = Some(next.to_owned()),
            None => return (hashes, pages),
        }
    }
}

#[tokio::test]
async fn account_history_is_newest_first_and_pages_with_the_before_cursor() {
    let node = TestNode::start();
    let s = node.shared();
    let (a, b) = (user(0), user(1));
    let mut sent = Vec::new();
    for nonce in 0..7 {
        let tx = transfer(&a, nonce, b.account(), 1);
        commit(&s, &tx).await;
        sent.push(tx.hash().to_hex());
    }
    let back = transfer(&b, 0, a.account(), 1);
    commit(&s, &back).await;
    index_caught_up(&s).await;

    let mut newest_first: Vec<String> = sent.iter().rev().cloned().collect();
    newest_first.insert(0, back.hash().to_hex());
    for (limit, pages) in [(3, 3), (4, 3), (8, 2), (500, 1)] {
        let (hashes, got_pages) = history(&s, &a.account(), limit).await;
        assert_eq!(hashes, newest_first, "limit {limit}");
        assert_eq!(
            got_pages, pages,
            "limit {limit}: a full page has a `next`, the last does not"
        );
    }
    let (for_b, _) = history(&s, &b.account(), 2).await;
    assert_eq!(
        for_b, newest_first,
        "the recipient sees the same transactions"
    );
    let (none, _) = history(&s, &user(3).account(), 10).await;
    assert!(none.is_empty());

    let path = format!("/v1/accounts/{}/transactions?before=1:0", did(&a));
    check(
        &s,
        "before the first",
        get(&path),
        ok(vec![("/transactions", json!([])), ("/next", Value::Null)]),
    )
    .await;
    for limit in ["0", "501"] {
        let path = format!("/v1/accounts/{}/transactions?limit={limit}", did(&a));
        let (status, body) = call(&s, get(&path)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "limit {limit}: {body}");
        assert_eq!(body["error"]["code"], "page_too_large", "limit {limit}");
    }
}

/// The summary fields of each entry of `who`'s history, newest first, after
/// checking each entry's `timestamp_ms` against its block's header.
async fn summaries(s: &Arc<Shared>, who: &Keypair) -> Vec<Value> {
    let path = format!("/v1/accounts/{}/transactions", did(who));
    let body = check(s, "history", get(&path), ok(vec![])).await;
    let mut rows = Vec::new();
    for t in body["transactions"].as_array().expect("transactions") {
        let block = format!("/v1/blocks/{}", t["height"]);
        let (_, block) = call(s, get(&block)).await;
        assert_eq!(t["timestamp_ms"], block["header"]["timestamp_ms"], "{t}");
        rows.push(json!([
            t["kind"],
            t["role"],
            t["counterparty"],
            t["amount"],
            t["flow"]
        ]));
    }
    rows
}

#[tokio::test]
async fn each_history_entry_says_what_the_account_did_with_whom_how_much_and_which_way() {
    let node = TestNode::start();
    let s = node.shared();
    let (owner, device, other) = (user(0), Keypair::from_seed([60; 32]), user(1));
    commit(&s, &register(&owner, 0, &device)).await;
    commit(&s, &transfer(&owner, 1, device.account(), 700)).await;
    let sweep = TxKind::Sweep {
        device: device.account(),
        amount: Amount::new(200),
    };
    commit(&s, &signed(&owner, 2, sweep)).await;
    commit(&s, &transfer(&other, 0, owner.account(), 9)).await;
    index_caught_up(&s).await;

    let (o, d, x) = (did(&owner), did(&device), did(&other));
    assert_eq!(
        summaries(&s, &owner).await,
        [
            json!(["transfer", "counterparty", x, 9, "in"]),
            json!(["sweep", "sender", d, 200, "in"]),
            json!(["transfer", "sender", d, 700, "out"]),
            json!(["register_device", "sender", d, null, null]),
        ]
    );
    assert_eq!(
        summaries(&s, &device).await,
        [
            json!(["sweep", "counterparty", o, 200, "out"]),
            json!(["transfer", "counterparty", o, 700, "in"]),
            json!(["register_device", "counterparty", o, null, null]),
        ]
    );
    assert_eq!(
        summaries(&s, &other).await,
        [json!(["transfer", "sender", o, 9, "out"])]
    );
}

#[tokio::test]
async fn blocks_are_served_by_height_and_by_range() {
    let node = TestNode::start();
    let s = node.shared();
    let mut hashes = Vec::new();
    for nonce in 0..3 {
        let tx = transfer(&user(0), nonce, user(1).account(), 1);
        let body = commit(&s, &tx).await;
        assert_eq!(
            body["height"],
            nonce + 1,
            "one block per waited transaction"
        );
        hashes.push((tx.hash().to_hex(), body["block_hash"].clone()));
    }
    let mut prev = json!(genesis().hash().to_hex());
    for (i, (tx_hash, block_hash)) in (1u64..).zip(&hashes) {
        let body = check(
            &s,
            "block",
            get(&format!("/v1/blocks/{i}")),
            ok(vec![
                ("/header/height", json!(i)),
                ("/header/genesis", json!(genesis().hash().to_hex())),
                ("/header/epoch", json!(0)),
                ("/header/tx_count", json!(1)),
                ("/header/sequencer", json!(did(&sequencer()))),
                ("/header/prev_hash", prev.clone()),
                ("/header/hash", block_hash.clone()),
                ("/txs/0/tx_hash", json!(tx_hash)),
                ("/txs/0/tx/kind", json!("transfer")),
            ]),
        )
        .await;
        let bytes = hex::decode(body["header"]["hex"].as_str().expect("hex")).expect("hex");
        let header =
            BlockHeader::decode(&mut ting_core::encoding::Reader::new(&bytes)).expect("a header");
        assert_eq!(
            json!(header.hash().to_hex()),
            *block_hash,
            "the exact bytes hash to the block hash"
        );
        header.verify_signature().expect("signed by the sequencer");
        prev = block_hash.clone();
    }
    let heights = |body: &Value| -> Vec<u64> {
        body["blocks"]
            .as_array()
            .expect("blocks")
            .iter()
            .map(|b| b["height"].as_u64().expect("height"))
            .collect()
    };
    for path in ["/v1/blocks?limit=0", "/v1/blocks?from=1&limit=101"] {
        let (status, body) = call(&s, get(path)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"]["code"], "page_too_large", "{path}");
    }
    let ranges: [(&str, Vec<u64>); 7] = [
        ("/v1/blocks", vec![1, 2, 3]),
        ("/v1/blocks?limit=2", vec![2, 3]),
        ("/v1/blocks?from=1&limit=2", vec![1, 2]),
        ("/v1/blocks?from=2", vec![2, 3]),
        ("/v1/blocks?from=0&limit=1", vec![1]),
        ("/v1/blocks?from=9", vec![]),
        ("/v1/blocks?from=1&limit=100", vec![1, 2, 3]),
    ];
    for (path, want) in ranges {
        let body = check(&s, path, get(path), ok(vec![("/durable_height", json!(3))])).await;
        assert_eq!(heights(&body), want, "{path}");
    }
}

/// A block whose segment the operator moved to an archive (with the node
/// stopped, below its snapshots) is answered `410 archived_block`, while newer
/// blocks are read as before.
#[tokio::test]
async fn an_archived_block_is_gone_and_newer_ones_are_read() {
    let mut node = TestNode::start_with(|cfg| {
        cfg.log_segment_bytes = ting_core::limits::LOG_SEGMENT_BYTES_MIN;
        cfg.snapshot_every_blocks = 1;
    });
    let s = node.shared();
    let mut nonce = 0;
    // Blocks of one transfer each until a few segments are sealed.
    while std::fs::read_dir(node.dir().join("blocks"))
        .expect("the log directory")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "log"))
        })
        .count()
        < 4
    {
        commit(&s, &transfer(&user(0), nonce, user(1).account(), 1)).await;
        nonce += 1;
    }
    drop(s);
    node.stop();
    let first = node.dir().join("blocks").join(format!("{:020}.log", 1));
    assert!(first.exists(), "the first segment is {}", first.display());
    let archive = node.dir().join("archive");
    std::fs::create_dir(&archive).expect("an archive directory");
    std::fs::rename(&first, archive.join("first.log")).expect("archive the first segment");
    let _ = std::fs::remove_file(first.with_extension("idx"));
    node.restart();
    let s = node.shared();
    let (status, body) = call(&s, get("/v1/blocks/1")).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    assert_eq!(body["error"]["code"], "archived_block", "{body}");
    let tip = s.durable.height().0;
    let (status, body) = call(&s, get(&format!("/v1/blocks/{tip}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
