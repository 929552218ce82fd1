//! `?proof=true`: accounts and channels answered with a state proof against
//! a signed header, checked here as a device would check them, and refused
//! once anything in them is changed.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};
use ting_api::state::state_answer_from_json;
use ting_core::state_proof::{StateAnswer, StateCheck};
use ting_core::{Amount, BlockHeight, ChannelMode, Keypair, Timestamp, TxKind};
use ting_node::Shared;

use crate::common::*;

async fn proved(s: &Arc<Shared>, path: &str) -> (Value, StateAnswer) {
    let (status, body) = call(s, get(path)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    let answer = state_answer_from_json(&body["proof"]).expect("the proof decodes");
    (body, answer)
}

fn trust(seen: u64) -> (ting_core::Hash32, Vec<ting_core::AccountId>, BlockHeight) {
    (
        genesis_hash(),
        vec![sequencer().account()],
        BlockHeight(seen),
    )
}

/// Blocks carry the wall clock, so a channel's expiry is set from it.
fn an_hour_from_now() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(now.as_millis()).expect("fits") + 3_600_000
}

#[tokio::test]
async fn an_account_with_its_proof_checks_against_the_signed_header_and_tampering_fails() {
    let node = TestNode::start();
    let s = node.shared();
    let (owner, device) = (user(0), Keypair::from_seed([61; 32]));
    commit(&s, &register(&owner, 0, &device)).await;
    commit(&s, &transfer(&owner, 1, device.account(), 700)).await;
    let path = format!("/v1/accounts/{}?proof=true", device.account().to_did());
    let (body, answer) = proved(&s, &path).await;
    let (genesis, sequencers, _) = trust(0);
    let check = StateCheck {
        genesis: &genesis,
        sequencers: &sequencers,
        min_height: BlockHeight(0),
    };
    let record = answer
        .verify_account(&device.account(), &check)
        .expect("the proof holds")
        .expect("the device has a record");
    assert_eq!(record.account.balance, Amount::new(700));
    assert_eq!(body["balance"], json!(700));
    assert_eq!(body["height"], json!(answer.header.height.0));
    assert_eq!(
        record.device.expect("a device").owner,
        owner.account(),
        "the owner comes from the proof"
    );

    let mut forged = answer.clone();
    if let Some(r) = forged.record.as_mut() {
        r[0] ^= 1;
    }
    let err = forged
        .verify_account(&device.account(), &check)
        .unwrap_err();
    assert_eq!(err.code(), "proof_record_mismatch");
    assert!(
        answer.verify_account(&owner.account(), &check).is_err(),
        "a proof is for one key only"
    );
    let later = StateCheck {
        min_height: BlockHeight(answer.header.height.0 + 1),
        ..check
    };
    let err = answer
        .verify_account(&device.account(), &later)
        .unwrap_err();
    assert_eq!(err.code(), "stale_state");
    let other = ting_core::Hash32([9; 32]);
    let elsewhere = StateCheck {
        genesis: &other,
        ..check
    };
    let err = answer
        .verify_account(&device.account(), &elsewhere)
        .unwrap_err();
    assert_eq!(err.code(), "wrong_network");

    let stranger = Keypair::from_seed([62; 32]).account();
    let (body, absent) = proved(
        &s,
        &format!("/v1/accounts/{}?proof=true", stranger.to_hex()),
    )
    .await;
    assert_eq!(body["balance"], json!(0));
    assert_eq!(
        absent
            .verify_account(&stranger, &check)
            .expect("the absence holds"),
        None
    );
}

#[tokio::test]
async fn a_channel_with_its_proof_shows_its_terms_and_a_never_opened_one_its_absence() {
    let node = TestNode::start();
    let s = node.shared();
    let (payer, payee) = (user(0), user(1));
    let kind = TxKind::ChannelOpen {
        payee: payee.account(),
        deposit: Amount::new(400),
        expires_at: Timestamp(an_hour_from_now()),
        mode: ChannelMode::Voucher,
    };
    let open = signed(&payer, next_nonce(&s, &payer), kind);
    let id = open.opened_channel().expect("an open");
    commit(&s, &open).await;
    let (genesis, sequencers, seen) = trust(1);
    let check = StateCheck {
        genesis: &genesis,
        sequencers: &sequencers,
        min_height: seen,
    };
    let (body, answer) = proved(&s, &format!("/v1/channels/{}?proof=true", id.to_hex())).await;
    let channel = answer
        .verify_channel(&id, &check)
        .expect("the proof holds")
        .expect("the channel exists");
    assert_eq!(channel.deposit, Amount::new(400));
    assert_eq!(channel.payee, payee.account());
    assert_eq!(body["channel"]["deposit"], json!(400));

    let never = ting_core::ChannelId(ting_core::Hash32([3; 32]));
    let (body, absent) = proved(&s, &format!("/v1/channels/{}?proof=true", never.to_hex())).await;
    assert_eq!(body["channel"], Value::Null);
    assert_eq!(absent.verify_channel(&never, &check).expect("holds"), None);
    assert!(absent.verify_channel(&id, &check).is_err(), "one key only");
}

#[tokio::test]
async fn proof_queries_other_than_true_or_false_are_refused_by_name() {
    let node = TestNode::start();
    let s = node.shared();
    let id = user(0).account().to_did();
    for query in ["proof=maybe", "proofs=true"] {
        let (status, body) = call(&s, get(&format!("/v1/accounts/{id}?{query}"))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query", "{query}");
    }
    // No block yet: there is no signed header to prove against.
    let (status, body) = call(&s, get(&format!("/v1/accounts/{id}?proof=true"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "no_signed_state");
}
