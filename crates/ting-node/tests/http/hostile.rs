//! Hostile input, as a table: each request is answered with its 4xx status and
//! error code, the ledger (balances, nonces, supply, account count) stays as it
//! was, no block is cut for it, and a valid transfer right after still commits.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use ting_core::limits::{FAUCET_AMOUNT_MAX, HTTP_BODY_BYTES_MAX, SUBMIT_BATCH_TXS_MAX};
use ting_core::{
    AccountId, Amount, Keypair, Nonce, Signature, SignedTx, Timestamp, TxBody, TxKind,
};
use ting_node::Shared;

use crate::common::*;

/// What the cases build their requests from.
struct Ctx {
    shared: Arc<Shared>,
    owner: Keypair,
    frozen: Keypair,
    limited: Keypair,
    /// A transaction already committed, to replay.
    committed: SignedTx,
}

impl Ctx {
    fn next(&self, key: &Keypair) -> u64 {
        next_nonce(&self.shared, key)
    }

    /// A valid transfer from user 0, to be spoiled by a case.
    fn transfer(&self, to: AccountId, amount: u64) -> SignedTx {
        transfer(&user(0), self.next(&user(0)), to, amount)
    }

    /// A valid transfer from user 0 in JSON, edited by a case.
    fn json_with(&self, edit: impl FnOnce(&mut Value)) -> Request<Body> {
        let mut tx = tx_json(&self.transfer(user(1).account(), 1));
        edit(&mut tx);
        post_json("/v1/transactions", &json!({ "json": tx }))
    }

    /// A valid transfer from user 0 in its canonical bytes, edited by a case.
    fn binary_with(&self, edit: impl FnOnce(&mut Vec<u8>)) -> Request<Body> {
        let mut bytes = self.transfer(user(1).account(), 1).bytes().to_vec();
        edit(&mut bytes);
        post_raw("/v1/transactions", "application/octet-stream", bytes)
    }
}

fn submit(tx: &SignedTx) -> Request<Body> {
    post_json("/v1/transactions", &json_body(tx))
}

fn binary(tx: &SignedTx) -> Request<Body> {
    post_raw(
        "/v1/transactions",
        "application/octet-stream",
        tx.bytes().to_vec(),
    )
}

/// Sets up a frozen device and a device with a daily limit of 100, both funded.
async fn setup(s: &Arc<Shared>) -> Ctx {
    let owner = user(1);
    let frozen = Keypair::from_seed([50; 32]);
    let limited = Keypair::from_seed([51; 32]);
    let committed = register(&owner, 0, &frozen);
    commit(s, &committed).await;
    commit(s, &transfer(&owner, 1, frozen.account(), 1000)).await;
    let freeze = TxKind::Freeze {
        device: frozen.account(),
    };
    commit(s, &signed(&owner, 2, freeze)).await;
    commit(s, &register(&owner, 3, &limited)).await;
    commit(s, &transfer(&owner, 4, limited.account(), 1000)).await;
    let limit = TxKind::SetSpendLimit {
        device: limited.account(),
        per_day: Some(Amount::new(100)),
    };
    commit(s, &signed(&owner, 5, limit)).await;
    Ctx {
        shared: Arc::clone(s),
        owner,
        frozen,
        limited,
        committed,
    }
}

/// A transfer from the identity point, "signed" without any key: with `R = B` and
/// `S = 1` the cofactored equation `[8][S]B = [8]R + [8][k]A` holds for any message.
fn forged_small_order_sender() -> SignedTx {
    let mut signature = [0u8; 64];
    signature[0] = 0x58; // the base point B, compressed
    signature[1..32].fill(0x66);
    signature[32] = 1; // S = 1
    let body = TxBody {
        genesis: genesis_hash(),
        valid_until: Timestamp(u64::MAX),
        sender: small_order(),
        nonce: Nonce(0),
        kind: transfer_kind(user(1).account(), 1),
    };
    let tx = SignedTx::from_parts(body, Signature(signature));
    assert!(tx.clone().verify().is_ok(), "the forged signature verifies");
    tx
}

type Make = fn(&Ctx) -> Request<Body>;

const REFUSED: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
const BAD: StatusCode = StatusCode::BAD_REQUEST;
const NOT_FOUND: StatusCode = StatusCode::NOT_FOUND;
const TOO_LARGE: StatusCode = StatusCode::PAYLOAD_TOO_LARGE;
const NO_METHOD: StatusCode = StatusCode::METHOD_NOT_ALLOWED;

#[rustfmt::skip] // one case per line reads as a table
fn cases() -> Vec<(&'static str, Make, StatusCode, &'static str)> {
    vec![
        // Well formed, refused by verification or by the ledger (422, with the tx hash).
        ("bad signature", |c| submit(&tampered(&c.transfer(user(1).account(), 1))), REFUSED, "bad_signature"),
        ("bad signature, binary", |c| binary(&tampered(&c.transfer(user(1).account(), 1))), REFUSED, "bad_signature"),
        ("signed by another key", |c| {
            let body = TxBody { genesis: genesis_hash(), sender: user(0).account(), nonce: Nonce(c.next(&user(0))), valid_until: Timestamp(u64::MAX), kind: transfer_kind(user(1).account(), 1) };
            submit(&body.sign(&user(2)))
        }, REFUSED, "bad_signature"),
        ("wrong network", |c| submit(&signed_on(elsewhere(), &user(0), c.next(&user(0)), transfer_kind(user(1).account(), 1))), REFUSED, "wrong_network"),
        ("replayed nonce", |c| submit(&transfer(&c.owner, c.next(&c.owner) - 1, user(2).account(), 7)), REFUSED, "bad_nonce"),
        ("nonce gap", |c| submit(&transfer(&user(0), c.next(&user(0)) + 1, user(1).account(), 1)), REFUSED, "bad_nonce"),
        ("overdraft", |c| submit(&c.transfer(user(1).account(), FUNDS * 100)), REFUSED, "insufficient_funds"),
        ("frozen sender", |c| submit(&transfer(&c.frozen, c.next(&c.frozen), user(2).account(), 1)), REFUSED, "frozen"),
        ("over the daily limit", |c| submit(&transfer(&c.limited, c.next(&c.limited), user(2).account(), 101)), REFUSED, "spend_limit_exceeded"),
        ("mint by a non-issuer", |c| submit(&signed(&user(2), c.next(&user(2)), TxKind::Mint { to: user(2).account(), amount: Amount::new(5) })), REFUSED, "unknown_issuer"),
        ("zero amount", |c| submit(&c.transfer(user(1).account(), 0)), REFUSED, "zero_amount"),
        ("self transfer", |c| submit(&c.transfer(user(0).account(), 1)), REFUSED, "self_transfer"),
        ("small-order recipient", |c| submit(&c.transfer(small_order(), 1)), REFUSED, "invalid_recipient"),
        ("small-order sender, whose signature anyone can forge", |_| submit(&forged_small_order_sender()), REFUSED, "unknown_sender"),
        ("freeze by a non-owner", |c| submit(&signed(&user(2), c.next(&user(2)), TxKind::Freeze { device: c.limited.account() })), REFUSED, "not_owner"),
        ("sweep of an unregistered device", |c| submit(&signed(&user(2), c.next(&user(2)), TxKind::Sweep { device: user(3).account(), amount: Amount::new(1) })), REFUSED, "unknown_device"),
        ("registration without the device's consent", |c| {
            let device = Keypair::from_seed([52; 32]);
            let kind = TxKind::RegisterDevice { device: device.account(), metadata: Vec::new(), device_signature: device.sign(b"something else") };
            submit(&signed(&user(2), c.next(&user(2)), kind))
        }, REFUSED, "bad_device_signature"),
        // Malformed: refused before any signature check (400).
        ("malformed JSON", |_| post_raw("/v1/transactions", "application/json", br#"{"hex": "#.to_vec()), BAD, "malformed_json"),
        ("not JSON at all", |_| post_raw("/v1/transactions", "application/json", b"hello".to_vec()), BAD, "malformed_json"),
        ("empty body", |_| post_raw("/v1/transactions", "application/json", Vec::new()), BAD, "malformed_json"),
        ("short signature hex", |c| c.json_with(|t| t["signature"] = json!(t["signature"].as_str().expect("hex")[..126].to_owned())), BAD, "invalid_field"),
        ("signature that is not hex", |c| c.json_with(|t| t["signature"] = json!("zz".repeat(64))), BAD, "invalid_field"),
        ("31-byte recipient in hex", |c| c.json_with(|t| t["fields"]["to"] = json!("ab".repeat(31))), BAD, "bad_account_id"),
        ("31-byte sender in hex", |c| c.json_with(|t| t["sender"] = json!("ab".repeat(31))), BAD, "bad_account_id"),
        ("a secp256k1 did:key as recipient", |c| c.json_with(|t| t["fields"]["to"] = json!("did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme")), BAD, "bad_account_id"),
        ("unknown field in the body", |c| post_json("/v1/transactions", &json!({ "hex": hex::encode(c.transfer(user(1).account(), 1).bytes()), "extra": 1 })), BAD, "invalid_field"),
        ("unknown field in the transaction", |c| c.json_with(|t| t["fee"] = json!(1)), BAD, "invalid_field"),
        ("unknown field in the kind's fields", |c| c.json_with(|t| t["fields"]["fee"] = json!(1)), BAD, "invalid_field"),
        ("missing field", |c| c.json_with(|t| _ = t.as_object_mut().expect("object").remove("nonce")), BAD, "invalid_field"),
        ("amount as a string", |c| c.json_with(|t| t["fields"]["amount"] = json!("5")), BAD, "invalid_field"),
        ("negative nonce", |c| c.json_with(|t| t["nonce"] = json!(-1)), BAD, "invalid_field"),
        ("a memo on a mint", |c| c.json_with(|t| { t["kind"] = json!("mint"); t["fields"]["memo_hex"] = json!("00"); }), BAD, "invalid_field"),
        ("memo over the limit", |c| c.json_with(|t| t["fields"]["memo_hex"] = json!("00".repeat(65))), BAD, "too_long"),
        ("unsupported version in JSON", |c| c.json_with(|t| t["version"] = json!(1)), BAD, "unsupported_version"),
        ("expired before the last block", |c| submit(&signed_until(genesis_hash(), ting_core::Timestamp(T0), &user(0), c.next(&user(0)), transfer_kind(user(1).account(), 1))), REFUSED, "tx_expired"),
        ("unknown kind in JSON", |c| c.json_with(|t| t["kind"] = json!("teleport")), BAD, "unknown_kind"),
        ("two forms at once", |c| {
            let (hex, b64) = (hex_body(&c.transfer(user(1).account(), 1)), base64_body(&c.transfer(user(1).account(), 1)));
            post_json("/v1/transactions", &json!({ "hex": hex["hex"], "base64": b64["base64"] }))
        }, BAD, "invalid_field"),
        ("no form at all", |_| post_json("/v1/transactions", &json!({})), BAD, "invalid_field"),
        ("hex that is not hex", |_| post_json("/v1/transactions", &json!({ "hex": "zz" })), BAD, "invalid_field"),
        ("base64 that is not base64", |_| post_json("/v1/transactions", &json!({ "base64": "!!!" })), BAD, "invalid_field"),
        ("truncated binary", |c| c.binary_with(|b| _ = b.pop()), BAD, "truncated"),
        ("truncated hex", |c| post_json("/v1/transactions", &json!({ "hex": hex::encode(&c.transfer(user(1).account(), 1).bytes()[..50]) })), BAD, "truncated"),
        ("trailing bytes", |c| c.binary_with(|b| b.push(0)), BAD, "trailing_bytes"),
        ("unknown kind in binary", |c| c.binary_with(|b| b[ting_core::tx::TX_KIND_OFFSET] = 0x7f), BAD, "unknown_kind"),
        ("unsupported version in binary", |c| c.binary_with(|b| b[0] = 1), BAD, "unsupported_version"),
        ("binary over the transaction limit", |_| post_raw("/v1/transactions", "application/octet-stream", vec![1; 2000]), BAD, "too_long"),
        ("empty binary", |_| post_raw("/v1/transactions", "application/octet-stream", Vec::new()), BAD, "truncated"),
        ("oversized body, declared", |_| post_raw("/v1/transactions", "application/json", vec![b' '; HTTP_BODY_BYTES_MAX + 1]), TOO_LARGE, "body_too_large"),
        ("oversized body, streamed without a length", |_| Request::post("/v1/transactions").body(Body::from(vec![b' '; HTTP_BODY_BYTES_MAX + 1])).expect("request"), TOO_LARGE, "body_too_large"),
        ("oversized batch body", |_| post_raw("/v1/transactions/batch", "application/json", vec![b' '; HTTP_BODY_BYTES_MAX + 1]), TOO_LARGE, "body_too_large"),
        ("wait flag that is not a boolean", |c| post_json("/v1/transactions?wait=maybe", &json_body(&c.transfer(user(1).account(), 1))), BAD, "invalid_query"),
        // Batches: admitted whole or not at all.
        ("empty batch", |_| post_json("/v1/transactions/batch", &json!({ "txs": [] })), BAD, "invalid_batch"),
        ("batch over the limit", |_| post_json("/v1/transactions/batch", &json!({ "txs": vec![json!({}); SUBMIT_BATCH_TXS_MAX + 1] })), BAD, "invalid_batch"),
        ("batch with one malformed item is refused whole", |c| {
            let good = json_body(&c.transfer(user(1).account(), 1));
            post_json("/v1/transactions/batch", &json!({ "txs": [good, { "hex": "zz" }] }))
        }, BAD, "invalid_field"),
        ("batch that is not an object", |_| post_json("/v1/transactions/batch", &json!([1, 2])), BAD, "invalid_field"),
        ("batch with an unknown field", |_| post_json("/v1/transactions/batch", &json!({ "txs": [{}], "atomic": true })), BAD, "invalid_field"),
        // Queries.
        ("before cursor garbage", |_| get(&format!("/v1/accounts/{}/transactions?before=garbage", did(&user(0)))), BAD, "invalid_query"),
        ("before cursor without an index", |_| get(&format!("/v1/accounts/{}/transactions?before=5", did(&user(0)))), BAD, "invalid_query"),
        ("before cursor with a bad index", |_| get(&format!("/v1/accounts/{}/transactions?before=5:x", did(&user(0)))), BAD, "invalid_query"),
        ("history limit that is not a number", |_| get(&format!("/v1/accounts/{}/transactions?limit=many", did(&user(0)))), BAD, "invalid_query"),
        ("history of a bad account id", |_| get("/v1/accounts/alice/transactions"), BAD, "bad_account_id"),
        ("account id that is not an id", |_| get("/v1/accounts/alice"), BAD, "bad_account_id"),
        ("31-byte account id in hex", |_| get(&format!("/v1/accounts/{}", "ab".repeat(31))), BAD, "bad_account_id"),
        ("unknown transaction hash", |_| get(&format!("/v1/transactions/{}", "ab".repeat(32))), NOT_FOUND, "unknown_transaction"),
        ("unknown receipt hash", |_| get(&format!("/v1/receipts/{}", "ab".repeat(32))), NOT_FOUND, "unknown_transaction"),
        ("transaction hash that is not hex", |_| get("/v1/transactions/xyz"), BAD, "invalid_field"),
        ("31-byte transaction hash", |_| get(&format!("/v1/receipts/{}", "ab".repeat(31))), BAD, "invalid_field"),
        ("unknown block", |_| get("/v1/blocks/999999"), NOT_FOUND, "unknown_block"),
        ("block 0", |_| get("/v1/blocks/0"), NOT_FOUND, "unknown_block"),
        ("block height that is not a number", |_| get("/v1/blocks/tip"), BAD, "invalid_field"),
        ("block height past u64", |_| get("/v1/blocks/99999999999999999999999"), BAD, "invalid_field"),
        ("block range garbage", |_| get("/v1/blocks?from=x"), BAD, "invalid_query"),
        ("block range with an unknown parameter", |_| get("/v1/blocks?to=3"), BAD, "invalid_query"),
        ("events for a bad account", |_| get("/v1/events?account=alice"), BAD, "bad_account_id"),
        ("events with an unknown parameter", |_| get("/v1/events?since=3"), BAD, "invalid_query"),
        // Faucet.
        ("faucet over its limit", |_| post_json("/v1/faucet", &json!({ "to": did(&user(9)), "amount": FAUCET_AMOUNT_MAX + 1 })), BAD, "faucet_limit"),
        ("faucet zero amount", |_| post_json("/v1/faucet", &json!({ "to": did(&user(9)), "amount": 0 })), REFUSED, "zero_amount"),
        ("faucet to a small-order key", |_| post_json("/v1/faucet", &json!({ "to": small_order().to_hex(), "amount": 5 })), REFUSED, "invalid_recipient"),
        ("faucet to a bad id", |_| post_json("/v1/faucet", &json!({ "to": "alice", "amount": 5 })), BAD, "bad_account_id"),
        ("faucet with an unknown field", |_| post_json("/v1/faucet", &json!({ "to": did(&user(9)), "amount": 5, "memo": "hi" })), BAD, "invalid_field"),
        ("faucet with malformed JSON", |_| post_raw("/v1/faucet", "application/json", b"{to".to_vec()), BAD, "malformed_json"),
        // Routing.
        ("unknown endpoint", |_| get("/v2/transactions"), NOT_FOUND, "unknown_endpoint"),
        ("wrong method", |_| get("/v1/transactions"), NO_METHOD, "method_not_allowed"),
        ("wrong method on a read", |_| post_json("/v1/status", &json!({})), NO_METHOD, "method_not_allowed"),
    ]
}

#[tokio::test]
async fn hostile_input_is_refused_with_its_code_and_changes_nothing() {
    let node = TestNode::start();
    let s = node.shared();
    let c = setup(&s).await;
    let mut ids: Vec<AccountId> = (0..10).map(|i| user(i).account()).collect();
    ids.extend([
        issuer().account(),
        sequencer().account(),
        c.frozen.account(),
        c.limited.account(),
        small_order(),
    ]);
    let minted = ledger(&s, &ids).supply;
    for (what, make, status, code) in cases() {
        check_refused(&s, &ids, what, make(&c), status, code).await;
    }
    // A replay of a transaction that landed is answered with its commit, and changes nothing.
    let before = ledger(&s, &ids);
    let (status, body) = call(&s, post_json("/v1/transactions", &hex_body(&c.committed))).await;
    assert_eq!(status, StatusCode::OK, "replayed transaction: {body}");
    assert_eq!(body["status"], "committed", "{body}");
    assert_eq!(body["tx_hash"], c.committed.hash().to_hex(), "{body}");
    assert_eq!(
        ledger(&s, &ids),
        before,
        "replayed transaction: the ledger is unchanged"
    );
    let after = ledger(&s, &ids);
    assert_eq!(after.supply, minted, "nothing was minted");
    assert_eq!(after.balance_sum, Some(after.supply), "supply is conserved");
    check(
        &s,
        "supply",
        get("/v1/supply"),
        ok(vec![("/conserved", json!(true))]),
    )
    .await;
}
