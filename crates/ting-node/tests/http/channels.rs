//! Payment channels over the API: channel transactions submitted as JSON, a
//! channel's state, an account's channels, channel receipts in events, and
//! hostile input to the channel endpoints.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};
use ting_core::channel::{sign_voucher, ChainKey, TickSource};
use ting_core::limits::CHANNEL_GRACE_MS;
use ting_core::{
    Amount, ChainSegment, ChannelId, ChannelMode, ChannelProof, Hash32, Keypair, Nonce, SignedTx,
    Timestamp, TxKind,
};
use ting_node::Shared;

use crate::common::*;
use crate::events::{has_receipt, read_events, subscribe};

const CHAIN_LEN: u32 = 100;
const PRICE: u64 = 10;
const CHAIN_DEPOSIT: u64 = CHAIN_LEN as u64 * PRICE;
const VOUCHER_DEPOSIT: u64 = 500;

/// An expiry an hour from now: blocks carry the wall clock.
fn expiry() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(now.as_millis()).expect("fits") + 3_600_000
}

/// A transaction's JSON form written out by hand, as a client would, from its kind's fields.
fn by_hand(tx: &SignedTx, kind: &str, fields: Value) -> Value {
    json!({
        "version": 2,
        "genesis": genesis_hash().to_hex(),
        "sender": tx.sender().to_did(),
        "nonce": tx.nonce().0,
        "valid_until": u64::MAX,
        "kind": kind,
        "fields": fields,
        "signature": tx.signature().to_hex(),
    })
}

/// Submits hand-written JSON, checking first that it is exactly the node's own form of `tx`.
async fn commit_by_hand(s: &Arc<Shared>, tx: &SignedTx, kind: &str, fields: Value) -> Value {
    let written = by_hand(tx, kind, fields);
    assert_eq!(written, tx_json(tx), "the documented shape of {kind}");
    let (status, body) = call(
        s,
        post_json("/v1/transactions", &json!({ "json": written })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{kind} commits: {body}");
    body
}

/// A hash-chain channel from `payer` (at its next nonce) to `payee`, and its ticks.
struct ChainChannel {
    id: ChannelId,
    ticks: TickSource,
    open: SignedTx,
    expires_at_ms: u64,
}

fn chain_channel(s: &Shared, payer: &Keypair, payee: &Keypair) -> ChainChannel {
    let nonce = next_nonce(s, payer);
    let id = ChannelId::derive(&genesis_hash(), &payer.account(), Nonce(nonce));
    let seed = Hash32::digest(&[b"test seed"]);
    let mut ticks = TickSource::new(ChainKey::new(&id, 0), seed, CHAIN_LEN);
    let expires_at_ms = expiry();
    let kind = TxKind::ChannelOpen {
        payee: payee.account(),
        deposit: Amount::new(CHAIN_DEPOSIT),
        expires_at: Timestamp(expires_at_ms),
        mode: ChannelMode::HashChain {
            chain: ChainSegment {
                anchor: ticks.anchor(),
                len: CHAIN_LEN,
            },
            price: Amount::new(PRICE),
        },
    };
    ChainChannel {
        id,
        open: signed(payer, nonce, kind),
        ticks,
        expires_at_ms,
    }
}

fn tick_claim(s: &Shared, by: &Keypair, c: &mut ChainChannel, index: u32) -> SignedTx {
    let proof = ChannelProof::Tick {
        index: u64::from(index),
        preimage: c.ticks.tick(index),
    };
    let kind = TxKind::ChannelClaim {
        channel: c.id,
        proof,
    };
    signed(by, next_nonce(s, by), kind)
}

fn voucher_open(s: &Shared, payer: &Keypair, payee: &Keypair) -> (ChannelId, SignedTx) {
    let nonce = next_nonce(s, payer);
    let kind = TxKind::ChannelOpen {
        payee: payee.account(),
        deposit: Amount::new(VOUCHER_DEPOSIT),
        expires_at: Timestamp(expiry()),
        mode: ChannelMode::Voucher,
    };
    let tx = signed(payer, nonce, kind);
    (tx.opened_channel().expect("an open"), tx)
}

fn voucher_claim(
    s: &Shared,
    payer: &Keypair,
    by: &Keypair,
    id: ChannelId,
    amount: u64,
) -> SignedTx {
    let proof = sign_voucher(payer, NET, &id, Amount::new(amount));
    let kind = TxKind::ChannelClaim { channel: id, proof };
    signed(by, next_nonce(s, by), kind)
}

async fn channel_state(s: &Arc<Shared>, id: &ChannelId, want: Vec<(&'static str, Value)>) -> Value {
    let path = format!("/v1/channels/{}", id.to_hex());
    check(s, "channel", get(&path), ok(want)).await
}

/// Hash chain: open (by hand-written JSON), a third party claims three ticks,
/// a stale claim is refused, and the state shows each step.
async fn hash_chain_story(
    s: &Arc<Shared>,
    payer: &Keypair,
    payee: &Keypair,
) -> (ChainChannel, SignedTx) {
    let mut c = chain_channel(s, payer, payee);
    assert_eq!(c.open.opened_channel(), Some(c.id));
    let fields = json!({
        "payee": did(payee), "deposit": CHAIN_DEPOSIT, "expires_at_ms": c.expires_at_ms,
        "mode": "hash_chain", "anchor": c.ticks.anchor().to_hex(), "chain_len": CHAIN_LEN, "price": PRICE,
    });
    commit_by_hand(s, &c.open.clone(), "channel_open", fields).await;
    let opened = channel_state(
        s,
        &c.id,
        vec![
            ("/id", json!(c.id.to_hex())),
            ("/payer", json!(did(payer))),
            ("/payee", json!(did(payee))),
            ("/mode", json!("hash_chain")),
            ("/deposit", json!(CHAIN_DEPOSIT)),
            ("/claimed", json!(0)),
            ("/locked", json!(CHAIN_DEPOSIT)),
            ("/status", json!("open")),
            ("/closed_at_ms", Value::Null),
            ("/refunded", Value::Null),
            ("/expires_at_ms", json!(c.expires_at_ms)),
            (
                "/reclaimable_at_ms",
                json!(c.expires_at_ms + CHANNEL_GRACE_MS),
            ),
            ("/price", json!(PRICE)),
            ("/segment", json!(0)),
            ("/base", json!(0)),
            ("/anchor", json!(c.ticks.anchor().to_hex())),
            ("/chain_len", json!(CHAIN_LEN)),
            ("/next", Value::Null),
            ("/claimed_index", json!(0)),
            ("/claimed_tick", json!(c.ticks.anchor().to_hex())),
            ("/total_ticks", json!(CHAIN_LEN)),
        ],
    )
    .await;
    assert!(opened["opened_at_ms"]
        .as_u64()
        .is_some_and(|t| t < c.expires_at_ms));

    let payee_before = balance(s, &payee.account());
    let third = user(2);
    let claim = tick_claim(s, &third, &mut c, 3);
    let fields = json!({
        "channel": c.id.to_hex(),
        "proof": { "kind": "tick", "index": 3, "preimage": c.ticks.tick(3).to_hex() },
    });
    commit_by_hand(s, &claim, "channel_claim", fields).await;
    assert_eq!(
        balance(s, &payee.account()),
        payee_before + 3 * PRICE,
        "the claim pays the payee"
    );
    channel_state(
        s,
        &c.id,
        vec![
            ("/claimed", json!(3 * PRICE)),
            ("/locked", json!(CHAIN_DEPOSIT - 3 * PRICE)),
            ("/claimed_index", json!(3)),
            ("/claimed_tick", json!(c.ticks.tick(3).to_hex())),
        ],
    )
    .await;

    let stale = tick_claim(s, &third, &mut c, 2);
    let req = post_json("/v1/transactions", &json_body(&stale));
    check_error(
        s,
        "stale tick",
        req,
        StatusCode::UNPROCESSABLE_ENTITY,
        "stale_claim",
    )
    .await;
    (c, claim)
}

/// Voucher: open, the payee claims 120, a stale voucher is refused, the payer
/// tops up, the payee closes with a last voucher of 200 and the rest goes back.
async fn voucher_story(s: &Arc<Shared>, payer: &Keypair, payee: &Keypair) -> ChannelId {
    let (id, open) = voucher_open(s, payer, payee);
    commit(s, &open).await;
    let claim = voucher_claim(s, payer, payee, id, 120);
    let ChannelProof::Voucher { signature, .. } = sign_voucher(payer, NET, &id, Amount::new(120))
    else {
        unreachable!("a voucher")
    };
    let fields = json!({
        "channel": id.to_hex(),
        "proof": { "kind": "voucher", "amount": 120, "signature": signature.to_hex() },
    });
    commit_by_hand(s, &claim, "channel_claim", fields).await;
    let state = channel_state(
        s,
        &id,
        vec![
            ("/mode", json!("voucher")),
            ("/claimed", json!(120)),
            ("/locked", json!(VOUCHER_DEPOSIT - 120)),
        ],
    )
    .await;
    assert!(
        state.get("anchor").is_none() && state.get("price").is_none(),
        "no chain fields: {state}"
    );

    let stale = voucher_claim(s, payer, payee, id, 100);
    let req = post_json("/v1/transactions", &json_body(&stale));
    check_error(
        s,
        "stale voucher",
        req,
        StatusCode::UNPROCESSABLE_ENTITY,
        "stale_claim",
    )
    .await;

    let expires = expiry() + 1000;
    let top_up = TxKind::ChannelTopUp {
        channel: id,
        amount: Amount::new(100),
        expires_at: Timestamp(expires),
        extension: None,
    };
    let top_up = signed(payer, next_nonce(s, payer), top_up);
    let fields = json!({ "channel": id.to_hex(), "amount": 100, "expires_at_ms": expires, "extension": null });
    commit_by_hand(s, &top_up, "channel_top_up", fields).await;

    let payer_before = balance(s, &payer.account());
    let last = sign_voucher(payer, NET, &id, Amount::new(200));
    let close = TxKind::ChannelClose {
        channel: id,
        proof: Some(last),
    };
    commit(s, &signed(payee, next_nonce(s, payee), close)).await;
    let refund = VOUCHER_DEPOSIT + 100 - 200;
    let closed = channel_state(
        s,
        &id,
        vec![
            ("/status", json!("closed_by_payee")),
            ("/deposit", json!(VOUCHER_DEPOSIT + 100)),
            ("/claimed", json!(200)),
            ("/locked", json!(0)),
            ("/refunded", json!(refund)),
            ("/expires_at_ms", json!(expires)),
        ],
    )
    .await;
    assert!(closed["closed_at_ms"].is_u64(), "{closed}");
    assert_eq!(
        balance(s, &payer.account()),
        payer_before + refund,
        "the rest went back"
    );
    id
}

/// The channel ids an account's channel list names, following `next` to the end.
async fn listed(s: &Arc<Shared>, who: &Keypair, query: &str) -> Vec<(String, String)> {
    let mut all = Vec::new();
    let mut path = format!("/v1/accounts/{}/channels?{query}", did(who));
    for _ in 0..10 {
        let body = check(s, "channel list", get(&path), ok(vec![])).await;
        for c in body["channels"].as_array().expect("a list") {
            all.push((
                c["id"].as_str().expect("id").to_owned(),
                c["role"].as_str().expect("role").to_owned(),
            ));
        }
        let Some(next) = body["next"].as_str() else {
            return all;
        };
        path = format!("/v1/accounts/{}/channels?{query}&before={next}", did(who));
    }
    panic!("the list did not end");
}

#[tokio::test]
async fn channels_open_claim_and_close_over_json_and_read_back() {
    let node = TestNode::start();
    let s = node.shared();
    let (payer, payee) = (user(0), user(1));
    let (chain, claim) = hash_chain_story(&s, &payer, &payee).await;
    let voucher = voucher_story(&s, &payer, &payee).await;

    let supply = u64::from(USERS) * FUNDS;
    let locked = CHAIN_DEPOSIT - 3 * PRICE;
    check(
        &s,
        "supply",
        get("/v1/supply"),
        ok(vec![
            ("/minted", json!(supply)),
            ("/balances", json!(supply - locked)),
            ("/locked", json!(locked)),
            ("/conserved", json!(true)),
        ]),
    )
    .await;

    index_caught_up(&s).await;
    let (c, v) = (chain.id.to_hex(), voucher.to_hex());
    let pair = |id: &str, role: &str| (id.to_owned(), role.to_owned());
    for query in ["", "role=any", "limit=1", "role=payer&limit=1"] {
        assert_eq!(
            listed(&s, &payer, query).await,
            [pair(&v, "payer"), pair(&c, "payer")],
            "{query}"
        );
    }
    assert_eq!(listed(&s, &payer, "role=payee").await, []);
    assert_eq!(
        listed(&s, &payee, "role=payee&limit=1").await,
        [pair(&v, "payee"), pair(&c, "payee")]
    );
    let path = format!("/v1/accounts/{}/channels?limit=1", did(&payee));
    let page = check(
        &s,
        "a full page",
        get(&path),
        ok(vec![
            ("/channels/0/status", json!("closed_by_payee")),
            ("/channels/0/refunded", json!(400)),
        ]),
    )
    .await;
    let opened = &page["channels"][0];
    let cursor = format!("{}:{}", opened["opened_height"], opened["opened_index"]);
    assert_eq!(
        page["next"],
        json!(cursor),
        "a full page's cursor is its last open"
    );

    // A third party's claim is in both parties' histories, each naming the
    // other party (the claimer's names the payee it pays), and reads back as JSON.
    let hash = claim.hash().to_hex();
    let mut claimed_at = Vec::new();
    for (who, role, other) in [
        (&payer, "channel_party", &payee),
        (&payee, "channel_party", &payer),
        (&user(2), "sender", &payee),
    ] {
        let path = format!("/v1/accounts/{}/transactions", did(who));
        let body = check(&s, "history", get(&path), ok(vec![])).await;
        let txs = body["transactions"].as_array().expect("a list");
        let entry = txs.iter().find(|t| t["tx_hash"] == hash);
        let entry = entry.unwrap_or_else(|| panic!("the claim is in {}'s history", did(who)));
        assert_eq!(entry["kind"], "channel_claim", "{entry}");
        assert_eq!(entry["role"], role, "{entry}");
        assert_eq!(entry["counterparty"], json!(did(other)), "{entry}");
        assert_eq!(
            entry["amount"],
            Value::Null,
            "a claim names no amount: {entry}"
        );
        assert_eq!(entry["flow"], Value::Null, "{entry}");
        claimed_at.push(entry["timestamp_ms"].clone());
    }
    let path = format!("/v1/transactions/{hash}");
    let body = check(
        &s,
        "claim",
        get(&path),
        ok(vec![
            ("/tx/kind", json!("channel_claim")),
            ("/tx/fields/proof/kind", json!("tick")),
            ("/tx/fields/proof/index", json!(3)),
        ]),
    )
    .await;
    let round: ting_api::TxJson = serde_json::from_value(body["tx"].clone()).expect("TxJson");
    assert_eq!(
        round.to_tx().expect("a transaction"),
        claim,
        "the JSON form round-trips"
    );
    let block_time = &body["receipt"]["header"]["timestamp_ms"];
    assert!(block_time.is_u64(), "{body}");
    for at in &claimed_at {
        assert_eq!(at, block_time, "the history has the block's time");
    }
}

#[tokio::test]
async fn a_filtered_event_stream_sees_claims_on_the_accounts_channels() {
    let node = TestNode::start();
    let s = node.shared();
    let (payer, payee, third) = (user(0), user(1), user(2));
    let mut c = chain_channel(&s, &payer, &payee);
    commit(&s, &c.open).await;
    let mut payer_events = subscribe(&s, &format!("/v1/events?account={}", did(&payer))).await;
    let claim = tick_claim(&s, &third, &mut c, 1);
    commit(&s, &claim).await;
    let hash = claim.hash().to_hex();
    let events = read_events(&mut payer_events, |e| has_receipt(e, &hash)).await;
    let receipt = events
        .iter()
        .find(|(_, d)| d["tx_hash"] == hash)
        .expect("the claim's receipt");
    assert_eq!(receipt.1["channel"], c.id.to_hex());
    assert_eq!(receipt.1["kind"], "channel_claim");
    assert_eq!(receipt.1["counterparty"], Value::Null);
}

#[tokio::test]
async fn hostile_input_to_the_channel_endpoints_is_refused_and_the_node_keeps_serving() {
    let node = TestNode::start();
    let s = node.shared();
    let (payer, payee) = (user(0), user(1));
    let c = chain_channel(&s, &payer, &payee);
    commit(&s, &c.open).await;
    let account = format!("/v1/accounts/{}/channels", did(&payer));
    let bad = StatusCode::BAD_REQUEST;
    let reads: Vec<(String, StatusCode, &str)> = vec![
        ("/v1/channels/zz".into(), bad, "bad_channel_id"),
        (
            format!("/v1/channels/{}", "ab".repeat(33)),
            bad,
            "bad_channel_id",
        ),
        (
            format!("/v1/channels/{}", did(&payer)),
            bad,
            "bad_channel_id",
        ),
        (
            format!("/v1/channels/{}", "00".repeat(32)),
            StatusCode::NOT_FOUND,
            "unknown_channel",
        ),
        (format!("{account}?limit=201"), bad, "page_too_large"),
        (format!("{account}?limit=0"), bad, "page_too_large"),
        (
            format!("{account}?limit=18446744073709551615"),
            bad,
            "page_too_large",
        ),
        (
            format!("{account}?limit=99999999999999999999999"),
            bad,
            "invalid_query",
        ),
        (format!("{account}?limit=-1"), bad, "invalid_query"),
        (format!("{account}?role=owner"), bad, "invalid_query"),
        (format!("{account}?before=yesterday"), bad, "invalid_query"),
        (format!("{account}?colour=red"), bad, "invalid_query"),
        ("/v1/accounts/nobody/channels".into(), bad, "bad_account_id"),
    ];
    for (path, status, code) in reads {
        check_error(&s, &path, get(&path), status, code).await;
    }
    check_still_serving(&s, "hostile channel reads").await;

    let ids = [payer.account(), payee.account()];
    let open = tx_json(&chain_channel(&s, &payer, &payee).open);
    let claim = tx_json(&tick_claim(
        &s,
        &payee,
        &mut chain_channel(&s, &payer, &payee),
        1,
    ));
    let with = |base: &Value, pointer: &str, value: Value| {
        // Sets (or adds) the field at `pointer`.
        let mut v = base.clone();
        let (parent, name) = pointer.rsplit_once('/').expect("a pointer");
        let parent = v.pointer_mut(parent).expect("the parent exists");
        parent[name] = value;
        json!({ "json": v })
    };
    let unknown = |base: &Value, field: &str| {
        let mut v = base.clone();
        v["fields"][field] = json!(1);
        json!({ "json": v })
    };
    let submits: Vec<(&str, Value, &str)> = vec![
        (
            "unknown mode",
            with(&open, "/fields/mode", json!("lightning")),
            "unknown_channel_mode",
        ),
        (
            "voucher with chain fields",
            with(&open, "/fields/mode", json!("voucher")),
            "invalid_field",
        ),
        (
            "short anchor",
            with(&open, "/fields/anchor", json!("abcd")),
            "invalid_field",
        ),
        (
            "negative deposit",
            with(&open, "/fields/deposit", json!(-5)),
            "invalid_field",
        ),
        (
            "unknown open field",
            unknown(&open, "colour"),
            "invalid_field",
        ),
        (
            "unknown proof kind",
            with(&claim, "/fields/proof/kind", json!("magic")),
            "unknown_proof_kind",
        ),
        (
            "tick with amount",
            with(&claim, "/fields/proof/amount", json!(5)),
            "invalid_field",
        ),
        (
            "channel not hex",
            with(&claim, "/fields/channel", json!("xyz")),
            "invalid_field",
        ),
        (
            "preimage missing",
            with(&claim, "/fields/proof/preimage", Value::Null),
            "invalid_field",
        ),
        (
            "proof not an object",
            with(&claim, "/fields/proof", json!("tick")),
            "invalid_field",
        ),
        (
            "unknown claim field",
            unknown(&claim, "channel_id"),
            "invalid_field",
        ),
    ];
    for (what, body, code) in submits {
        check_refused(
            &s,
            &ids,
            what,
            post_json("/v1/transactions", &body),
            bad,
            code,
        )
        .await;
    }
    let nowhere = ChannelId(Hash32::digest(&[b"nowhere"]));
    let kind = TxKind::ChannelReclaim { channel: nowhere };
    let reclaim = signed(&payer, next_nonce(&s, &payer), kind);
    let req = post_json("/v1/transactions", &json_body(&reclaim));
    check_refused(
        &s,
        &ids,
        "reclaim of no channel",
        req,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_channel",
    )
    .await;
    channel_state(
        &s,
        &c.id,
        vec![("/status", json!("open")), ("/claimed", json!(0))],
    )
    .await;
}
