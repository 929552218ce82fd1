//! The ledger's rules as scenarios: each is a list of transactions and the
//! outcome expected for each, checked by one `check` helper.

mod common;

use common::*;
use ting_core::limits::DAY_MS;
use ting_core::{Amount, SignedTx, Timestamp, TxKind};
use ting_ledger::State;

/// Applies each (timestamp, transaction, expected code) in order; `"ok"`
/// means applied. A refused transaction must leave the state byte-identical.
fn check(state: &mut State, steps: Vec<(u64, SignedTx, &str)>) {
    for (i, (at, tx, want)) in steps.into_iter().enumerate() {
        let before = state.digest();
        let result = state.apply_tx(&tx, Timestamp(at));
        let got = result.as_ref().map_or_else(|e| e.code(), |()| "ok");
        assert_eq!(got, want, "step {i}: {result:?}");
        if want != "ok" {
            assert_eq!(
                state.digest(),
                before,
                "step {i}: a refusal changed the state"
            );
        }
        assert_eq!(state.held_sum(), Some(state.supply()), "step {i}: supply");
        let running = (state.balance_sum(), state.locked_sum());
        assert_eq!(running, state.walked_sums(), "step {i}: running sums");
    }
}

fn balance(state: &State, k: &ting_core::Keypair) -> u64 {
    state
        .account(&k.account())
        .map_or(0, |a| a.balance.base_units())
}

#[test]
fn transfers_move_money_and_refuse_overdraft_replay_and_gaps() {
    let mut s = State::from_genesis(&genesis(100), 1);
    let (a, b) = (key(1), key(2));
    check(
        &mut s,
        vec![
            (T0, transfer(&a, 0, b.account(), 30), "ok"),
            (T0, transfer(&a, 0, b.account(), 1), "bad_nonce"),
            (T0, transfer(&a, 2, b.account(), 1), "bad_nonce"),
            (T0, transfer(&a, 1, b.account(), 71), "insufficient_funds"),
            (T0, transfer(&a, 1, b.account(), 0), "zero_amount"),
            (T0, transfer(&a, 1, a.account(), 5), "self_transfer"),
            (T0, transfer(&a, 1, b.account(), 70), "ok"),
        ],
    );
    assert_eq!(balance(&s, &a), 0);
    assert_eq!(balance(&s, &b), 200);
}

#[test]
fn small_order_keys_can_neither_receive_nor_send() {
    let mut s = State::from_genesis(&genesis(100), 1);
    let a = key(1);
    let fake = key(9);
    let from_small = tx(
        &fake,
        small_order(),
        0,
        TxKind::Freeze {
            device: a.account(),
        },
    );
    check(
        &mut s,
        vec![
            (T0, transfer(&a, 0, small_order(), 5), "invalid_recipient"),
            (T0, from_small, "unknown_sender"),
        ],
    );
}

#[test]
fn only_issuers_mint_and_minting_grows_supply() {
    let mut s = State::from_genesis(&genesis(100), 1);
    let (issuer, other) = (key(0), key(1));
    let mint = |k: &ting_core::Keypair, n, amount| {
        let kind = TxKind::Mint {
            to: key(5).account(),
            amount: Amount::new(amount),
        };
        tx(k, k.account(), n, kind)
    };
    check(
        &mut s,
        vec![
            (T0, mint(&other, 0, 10), "unknown_issuer"),
            (T0, mint(&issuer, 0, 10), "ok"),
            (T0, mint(&issuer, 1, u64::MAX), "overflow"),
        ],
    );
    assert_eq!(s.supply(), Amount::new(410));
    assert_eq!(balance(&s, &key(5)), 10);
}

#[test]
fn a_frozen_device_receives_but_cannot_send_and_its_owner_can_still_sweep() {
    let mut s = State::from_genesis(&genesis(100), 1);
    let (owner, dev, other) = (key(1), key(2), key(3));
    let freeze = tx(
        &owner,
        owner.account(),
        1,
        TxKind::Freeze {
            device: dev.account(),
        },
    );
    let sweep = tx(
        &owner,
        owner.account(),
        2,
        TxKind::Sweep {
            device: dev.account(),
            amount: Amount::new(110),
        },
    );
    let unfreeze = tx(
        &owner,
        owner.account(),
        3,
        TxKind::Unfreeze {
            device: dev.account(),
        },
    );
    check(
        &mut s,
        vec![
            (T0, register(&owner, 0, &dev), "ok"),
            (T0, freeze, "ok"),
            (T0, transfer(&dev, 0, other.account(), 1), "frozen"),
            (T0, transfer(&other, 0, dev.account(), 10), "ok"),
            (T0, sweep, "ok"),
            (T0, unfreeze, "ok"),
            (
                T0,
                transfer(&dev, 0, other.account(), 1),
                "insufficient_funds",
            ),
        ],
    );
    assert_eq!(balance(&s, &owner), 210);
}

#[test]
fn spending_limits_count_per_utc_day_of_the_block_timestamp() {
    let mut s = State::from_genesis(&genesis(100), 1);
    let (owner, dev, shop) = (key(1), key(2), key(3));
    let limit = tx(
        &owner,
        owner.account(),
        1,
        TxKind::SetSpendLimit {
            device: dev.account(),
            per_day: Some(Amount::new(10)),
        },
    );
    let day = T0 - T0 % DAY_MS;
    check(
        &mut s,
        vec![
            (day + 10, register(&owner, 0, &dev), "ok"),
            (day + 10, limit, "ok"),
            (day + 20, transfer(&dev, 0, shop.account(), 6), "ok"),
            (
                day + 30,
                transfer(&dev, 1, shop.account(), 5),
                "spend_limit_exceeded",
            ),
            (day + 30, transfer(&dev, 1, shop.account(), 4), "ok"),
            (
                day + DAY_MS - 1,
                transfer(&dev, 2, shop.account(), 1),
                "spend_limit_exceeded",
            ),
            (day + DAY_MS, transfer(&dev, 2, shop.account(), 10), "ok"),
        ],
    );
}

#[test]
fn registration_needs_the_devices_consent_and_one_owner() {
    let mut s = State::from_genesis(&genesis(100), 1);
    let (owner, dev, thief) = (key(1), key(2), key(3));
    let mut forged = register(&owner, 0, &dev);
    if let TxKind::RegisterDevice {
        device, metadata, ..
    } = forged.kind().clone()
    {
        let kind = TxKind::RegisterDevice {
            device,
            metadata,
            device_signature: thief.sign(b"not the consent message"),
        };
        forged = tx(&owner, owner.account(), 0, kind);
    }
    let steal = tx(
        &thief,
        thief.account(),
        1,
        TxKind::Sweep {
            device: dev.account(),
            amount: Amount::new(1),
        },
    );
    let self_owned = register(&owner, 0, &owner);
    check(
        &mut s,
        vec![
            (T0, forged, "bad_device_signature"),
            (T0, self_owned, "invalid_device"),
            (T0, register(&owner, 0, &dev), "ok"),
            (T0, register(&thief, 0, &dev), "already_registered"),
            (T0, register(&owner, 1, &dev), "ok"),
            (
                T0,
                tx(
                    &thief,
                    thief.account(),
                    0,
                    TxKind::Freeze {
                        device: dev.account(),
                    },
                ),
                "not_owner",
            ),
            (
                T0,
                tx(
                    &thief,
                    thief.account(),
                    0,
                    TxKind::Freeze {
                        device: key(7).account(),
                    },
                ),
                "unknown_device",
            ),
            (T0, steal, "bad_nonce"),
        ],
    );
}

#[test]
fn a_transaction_for_another_network_is_refused() {
    let mut s = State::from_genesis(&genesis(100), 1);
    let a = key(1);
    // Another network with the same network id: only its genesis differs.
    let mut elsewhere = genesis(100);
    elsewhere.name = "elsewhere".into();
    let other = ting_core::TxBody {
        genesis: elsewhere.hash(),
        sender: a.account(),
        nonce: ting_core::Nonce(0),
        valid_until: VALID_UNTIL,
        kind: TxKind::Transfer {
            to: key(2).account(),
            amount: Amount::new(1),
            memo: vec![],
        },
    }
    .sign(&a);
    check(&mut s, vec![(T0, other, "wrong_network")]);
}

#[test]
fn a_transaction_past_its_valid_until_never_applies() {
    let mut s = State::from_genesis(&genesis(100), 1);
    let a = key(1);
    let until = |ms: u64| {
        ting_core::TxBody {
            genesis: genesis_hash(),
            sender: a.account(),
            nonce: ting_core::Nonce(0),
            valid_until: Timestamp(ms),
            kind: TxKind::Transfer {
                to: key(2).account(),
                amount: Amount::new(1),
                memo: vec![],
            },
        }
        .sign(&a)
    };
    // Refused in a block after its time, even with the right nonce and funds...
    check(&mut s, vec![(T0 + 10, until(T0 + 9), "tx_expired")]);
    // ...and applied in a block at exactly its time.
    check(&mut s, vec![(T0 + 10, until(T0 + 10), "ok")]);
}

#[test]
fn blocks_must_follow_the_tip_in_height_hash_and_time() {
    let mut s = State::from_genesis(&genesis(100), 1);
    let b1 = next_block(&s, T0 + 5, vec![]);
    s.apply_block(&b1).expect("first block");
    let stale = next_block(&s, T0 + 4, vec![]);
    assert_eq!(
        s.apply_block(&stale).map(|_| ()).map_err(|e| e.code()),
        Err("timestamp_backwards")
    );
    assert_eq!(
        s.apply_block(&b1).map(|_| ()).map_err(|e| e.code()),
        Err("wrong_height")
    );
}

#[test]
fn a_key_that_never_received_money_cannot_act_and_adds_no_state() {
    let mut s = State::from_genesis(&genesis(100), 1);
    let (stranger, device) = (key(8), key(9));
    let accounts = s.account_count();
    check(
        &mut s,
        vec![
            (T0, register(&stranger, 0, &device), "unknown_sender"),
            (
                T0,
                transfer(&stranger, 0, key(1).account(), 1),
                "unknown_sender",
            ),
        ],
    );
    assert_eq!(s.account_count(), accounts);
    // Once funded, the same key may act.
    check(
        &mut s,
        vec![
            (T0, transfer(&key(1), 0, stranger.account(), 10), "ok"),
            (T0, register(&stranger, 0, &device), "ok"),
        ],
    );
}

#[test]
fn a_block_whose_state_root_is_not_what_its_transactions_lead_to_is_refused() {
    let s = State::from_genesis(&genesis(100), 1);
    let mut forged = next_block(&s, T0 + 5, vec![transfer(&key(0), 0, key(1).account(), 10)]);
    forged.header.state_root = s.committed_root();
    let mut replay = s.clone();
    assert_eq!(
        replay
            .apply_block(&forged)
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("state_root_mismatch")
    );
    let honest = next_block(&s, T0 + 5, vec![transfer(&key(0), 0, key(1).account(), 10)]);
    let mut replay = s.clone();
    replay
        .apply_block(&honest)
        .expect("the honest block applies");
    assert_eq!(replay.committed_root(), replay.recomputed_root());
    assert_ne!(replay.committed_root(), s.committed_root());
}

#[test]
fn while_a_block_is_open_proofs_show_what_the_last_committed_block_holds() {
    use ting_core::state_map::{account_key, account_value_hash, AccountRecord};
    let mut s = State::from_genesis(&genesis(100), 1);
    let b1 = next_block(&s, T0 + 5, vec![]);
    s.apply_block(&b1).expect("first block");
    let (from, to) = (key(0), key(1));
    s.apply_tx(&transfer(&from, 0, to.account(), 10), Timestamp(T0 + 6))
        .expect("applies");
    let root = s.committed_root();
    for (id, balance) in [(from.account(), 100), (to.account(), 100)] {
        let (record, proof) = s.prove_account(&id);
        let record = record.expect("a record");
        let held = proof
            .verify(&account_key(&id), &root)
            .expect("the proof holds against the committed root");
        assert_eq!(held, Some(account_value_hash(&record)));
        let decoded = AccountRecord::from_record(&record).expect("decodes");
        assert_eq!(
            decoded.account.balance.base_units(),
            balance,
            "as at block 1"
        );
    }
    // Once the block is cut, the proofs show the transfer.
    s.update_root();
    let (record, proof) = s.prove_account(&to.account());
    let record = record.expect("a record");
    assert_eq!(
        proof.verify(&account_key(&to.account()), &s.committed_root()),
        Ok(Some(account_value_hash(&record)))
    );
    let decoded = AccountRecord::from_record(&record).expect("decodes");
    assert_eq!(decoded.account.balance.base_units(), 110);
}

#[test]
fn a_snapshot_above_the_genesis_is_not_taken_without_its_blocks_header() {
    let mut s = State::from_genesis(&genesis(100), 1);
    let b1 = next_block(&s, T0 + 5, vec![transfer(&key(0), 0, key(1).account(), 10)]);
    s.apply_block(&b1).expect("first block");
    let mut restored = State::decode(&s.encode(), 2).expect("decodes");
    assert_eq!(
        restored.end_replay().map_err(|e| e.code()),
        Err("no_tip_header")
    );
    let mut restored = State::decode(&s.encode(), 2).expect("decodes");
    restored
        .adopt_tip_header(&b1.header)
        .expect("its own block");
    restored.end_replay().expect("the root matches");
    assert_eq!(restored.committed_root(), s.committed_root());
}
