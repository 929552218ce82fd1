//! Account filters and account watchers on `GET /v1/events`: a filtered
//! stream gets exactly the receipts that touch its account (as sender,
//! counterparty or channel party); with `skip_empty=true` it gets no other
//! block at all, resumes after its last id with exactly the blocks it missed
//! however far behind the chain has moved, and the node's stream limit holds.

use std::sync::Arc;

use axum::http::StatusCode;
use ting_core::channel::sign_voucher;
use ting_core::limits::EVENTS_BUFFER_MAX;
use ting_core::{Amount, ChannelMode, Keypair, SignedTx, Timestamp, TxKind};
use ting_node::Shared;

use crate::common::*;
use crate::events::{
    commit_transfer, group, has_sent_receipt, read_sent, resume, seen, subscribe, Seen,
};

/// Commits `tx`; answers its height.
async fn commit_at(s: &Arc<Shared>, tx: &SignedTx) -> u64 {
    commit(s, tx).await["height"]
        .as_u64()
        .expect("a committed height")
}

fn watcher_path(key: &Keypair) -> String {
    format!("/v1/events?account={}&skip_empty=true", did(key))
}

/// A voucher channel from `payer` to `payee`, open an hour.
fn voucher_open(s: &Shared, payer: &Keypair, payee: &Keypair) -> SignedTx {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    let kind = TxKind::ChannelOpen {
        payee: payee.account(),
        deposit: Amount::new(500),
        expires_at: Timestamp(u64::try_from(now.as_millis()).expect("fits") + 3_600_000),
        mode: ChannelMode::Voucher,
    };
    signed(payer, next_nonce(s, payer), kind)
}

/// `by` claims `amount` on `payer`'s voucher channel opened by `open`.
fn voucher_claim(
    s: &Shared,
    payer: &Keypair,
    by: &Keypair,
    open: &SignedTx,
    amount: u64,
) -> SignedTx {
    let id = open.opened_channel().expect("an open");
    let proof = sign_voucher(payer, NET, &id, Amount::new(amount));
    signed(
        by,
        next_nonce(s, by),
        TxKind::ChannelClaim { channel: id, proof },
    )
}

#[tokio::test]
async fn account_streams_get_exactly_the_receipts_that_touch_the_account_and_watchers_no_other_block(
) {
    let node = TestNode::start();
    let s = node.shared();
    let (other, payee, watched, third) = (user(0), user(1), user(2), user(3));
    let path = format!("/v1/events?account={}", did(&watched));
    let mut filtered = subscribe(&s, &path).await;
    let mut watcher = subscribe(&s, &watcher_path(&watched)).await;

    let foreign = |n| transfer(&other, n, payee.account(), 1);
    let mut blocks: Vec<(u64, Option<SignedTx>)> = Vec::new();
    let mine = |blocks: &mut Vec<_>, h, tx: &SignedTx| blocks.push((h, Some(tx.clone())));
    let f0 = foreign(next_nonce(&s, &other));
    blocks.push((commit_at(&s, &f0).await, None));
    let sent = transfer(&watched, next_nonce(&s, &watched), payee.account(), 2);
    mine(&mut blocks, commit_at(&s, &sent).await, &sent);
    let named = transfer(&other, next_nonce(&s, &other), watched.account(), 3);
    mine(&mut blocks, commit_at(&s, &named).await, &named);
    let open = voucher_open(&s, &watched, &payee);
    mine(&mut blocks, commit_at(&s, &open).await, &open);
    let f1 = foreign(next_nonce(&s, &other));
    blocks.push((commit_at(&s, &f1).await, None));
    // A third party's claim names only the channel: the watched account is its payer.
    let claim = voucher_claim(&s, &watched, &third, &open, 100);
    mine(&mut blocks, commit_at(&s, &claim).await, &claim);
    let f2 = foreign(next_nonce(&s, &other));
    blocks.push((commit_at(&s, &f2).await, None));
    let last = transfer(&other, next_nonce(&s, &other), watched.account(), 4);
    mine(&mut blocks, commit_at(&s, &last).await, &last);
    let heights: Vec<u64> = blocks.iter().map(|(h, _)| *h).collect();
    assert_eq!(heights, (1..=8).collect::<Vec<_>>(), "one block per commit");

    let done = |e: &[crate::events::Sent]| has_sent_receipt(e, &last.hash().to_hex());
    let every_block: Vec<Seen> = blocks
        .iter()
        .flat_map(|(h, tx)| group(*h, &tx.iter().collect::<Vec<_>>()))
        .collect();
    assert_eq!(
        seen(&read_sent(&mut filtered, done).await),
        every_block,
        "a filtered stream: every block, only the account's receipts"
    );
    let only_mine: Vec<Seen> = blocks
        .iter()
        .filter_map(|(h, tx)| tx.as_ref().map(|tx| group(*h, &[tx])))
        .flatten()
        .collect();
    assert_eq!(
        seen(&read_sent(&mut watcher, done).await),
        only_mine,
        "a watcher: only the blocks with the account's receipts"
    );
}

#[tokio::test]
async fn a_watcher_resumes_after_its_last_id_with_exactly_its_blocks_however_far_behind() {
    let node = TestNode::start();
    let s = node.shared();
    let (watched, other) = (user(2), user(0));
    let mut mine = vec![commit_transfer(&s, &other, &watched).await];
    // More foreign blocks than an unfiltered resume would replay.
    for _ in 0..EVENTS_BUFFER_MAX + 6 {
        commit_transfer(&s, &other, &user(1)).await;
    }
    mine.push(commit_transfer(&s, &watched, &user(1)).await);
    for _ in 0..3 {
        commit_transfer(&s, &other, &user(3)).await;
    }
    let first = mine[0].1;
    assert!(mine[1].1 - first > EVENTS_BUFFER_MAX as u64);
    index_caught_up(&s).await;
    let path = watcher_path(&watched);
    for what in ["its first block", "the first block", "its last block"] {
        let after = match what {
            "its first block" => first,
            "the first block" => 0,
            _ => mine.last().expect("blocks").1,
        };
        let mut stream = resume(&s, &path, &after.to_string()).await;
        let live = commit_transfer(&s, &user(3), &watched).await;
        let live_hash = live.0.hash().to_hex();
        let events = read_sent(&mut stream, |e| has_sent_receipt(e, &live_hash)).await;
        mine.push(live);
        let want: Vec<Seen> = mine
            .iter()
            .filter(|(_, h)| *h > after)
            .flat_map(|(tx, h)| group(*h, &[tx]))
            .collect();
        assert_eq!(seen(&events), want, "resumed after {what} ({after})");
    }
}

#[tokio::test]
async fn a_watcher_behind_by_more_of_its_own_blocks_than_the_bound_hears_lagged_then_the_newest() {
    let node = TestNode::start();
    let s = node.shared();
    let watched = user(2);
    let n = EVENTS_BUFFER_MAX + 2;
    let mut mine = Vec::new();
    for _ in 0..n {
        mine.push(commit_transfer(&s, &user(0), &watched).await);
    }
    let (last_tx, last_h) = mine.last().expect("blocks").clone();
    assert_eq!(last_h, n as u64, "one block per commit");
    // Replayed, not live: the feed has handed out the last block already.
    let deadline = Deadline::new("the feed to hand out every durable block");
    while s.watchers.dispatched() < last_h {
        deadline.tick().await;
    }
    let mut stream = resume(&s, &watcher_path(&watched), "0").await;
    let events = read_sent(&mut stream, |e| {
        has_sent_receipt(e, &last_tx.hash().to_hex())
    })
    .await;
    let lagged = ("lagged".to_owned(), None, None, None);
    let newest: Vec<Seen> = mine[2..]
        .iter()
        .flat_map(|(tx, h)| group(*h, &[tx]))
        .collect();
    assert_eq!(events[0].data["missed_blocks"], 2, "{:?}", events[0]);
    assert_eq!(seen(&events), [vec![lagged], newest].concat());
}

#[tokio::test]
async fn skip_empty_needs_an_account() {
    let node = TestNode::start();
    let s = node.shared();
    for path in ["/v1/events?skip_empty=true", "/v1/events?skip_empty=yes"] {
        check_error(
            &s,
            path,
            get(path),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        )
        .await;
    }
    let path = format!("/v1/events?account={}&skip_empty=false", did(&user(2)));
    let _stream = subscribe(&s, &path).await;
}

#[tokio::test]
async fn streams_over_the_configured_limit_are_answered_busy_until_one_closes() {
    let node = TestNode::start_with(|cfg| cfg.event_streams_max = 3);
    let s = node.shared();
    let watcher = watcher_path(&user(2));
    let all = subscribe(&s, "/v1/events").await;
    let _watching = subscribe(&s, &watcher).await;
    let _overview = subscribe(&s, "/v1/overview/events").await;
    for path in ["/v1/events", watcher.as_str(), "/v1/overview/events"] {
        let body = check_error(&s, path, get(path), StatusCode::SERVICE_UNAVAILABLE, "busy").await;
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("3 event streams"), "{message}");
    }
    drop(all);
    let _watching_again = subscribe(&s, &watcher).await;
    check_still_serving(&s, "streams at the limit").await;
}
