//! Messaging keys, case by case: who may publish one, which keys are refused,
//! and that snapshots carry them (and older snapshots still load).

mod common;

use common::*;
use ting_core::{Keypair, MessagingKey, MessagingSecret, Timestamp, TxKind};
use ting_ledger::{State, TxError};

fn state() -> State {
    State::from_genesis(&genesis(1_000), 1)
}

fn set_key(state: &mut State, who: &Keypair, key: MessagingKey) -> Result<(), TxError> {
    let nonce = state.next_nonce(&who.account()).0;
    let t = tx(who, who.account(), nonce, TxKind::SetMessagingKey { key });
    state.apply_tx(&t, Timestamp(T0 + 1))
}

fn key_of(who: &Keypair) -> MessagingKey {
    MessagingSecret::from_keypair(who).public()
}

#[test]
fn an_account_publishes_and_replaces_its_key_and_pays_only_a_nonce() {
    let mut s = state();
    let alice = key(1);
    assert_eq!(s.messaging_key(&alice.account()), None);
    set_key(&mut s, &alice, key_of(&alice)).unwrap();
    assert_eq!(s.messaging_key(&alice.account()), Some(key_of(&alice)));
    let other = key_of(&key(9));
    set_key(&mut s, &alice, other).unwrap();
    assert_eq!(s.messaging_key(&alice.account()), Some(other));
    assert_eq!(s.messaging_key_count(), 1);
    let account = s.account(&alice.account()).unwrap();
    assert_eq!((account.balance.base_units(), account.nonce.0), (1_000, 2));
}

#[test]
fn small_order_and_non_canonical_keys_are_refused_and_change_nothing() {
    let mut s = state();
    let alice = key(1);
    let before = s.digest();
    let mut one = [0u8; 32];
    one[0] = 1;
    let mut high = key_of(&alice).0;
    high[31] |= 0x80;
    for bad in [[0u8; 32], one, high] {
        let err = set_key(&mut s, &alice, MessagingKey(bad)).unwrap_err();
        assert_eq!(err.code(), "invalid_messaging_key");
        assert_eq!(s.digest(), before);
    }
}

#[test]
fn a_stranger_cannot_publish_a_key() {
    let mut s = state();
    let stranger = key(50);
    let err = set_key(&mut s, &stranger, key_of(&stranger)).unwrap_err();
    assert_eq!(err, TxError::UnknownSender);
}

#[test]
fn a_frozen_device_may_still_publish_its_key() {
    let mut s = state();
    let owner = key(1);
    let device = key(2);
    s.apply_tx(&register(&owner, 0, &device), Timestamp(T0 + 1))
        .unwrap();
    let freeze = TxKind::Freeze {
        device: device.account(),
    };
    s.apply_tx(&tx(&owner, owner.account(), 1, freeze), Timestamp(T0 + 1))
        .unwrap();
    set_key(&mut s, &device, key_of(&device)).unwrap();
    assert_eq!(s.messaging_key(&device.account()), Some(key_of(&device)));
}

#[test]
fn snapshots_carry_keys_and_wire_version_1_snapshots_are_refused_with_what_to_do() {
    let mut s = state();
    let empty = s.encode();
    set_key(&mut s, &key(3), key_of(&key(3))).unwrap();
    set_key(&mut s, &key(1), key_of(&key(1))).unwrap();
    let restored = State::decode(&s.encode(), 9).unwrap();
    assert_eq!(restored.digest(), s.digest());
    assert_eq!(
        restored.messaging_key(&key(3).account()),
        Some(key_of(&key(3)))
    );

    // Versions 1 to 3 belong to wire version 1 networks: refused, saying what to do.
    for version in 1..=3 {
        let mut old = empty.clone();
        old[0] = version;
        let err = State::decode(&old, 9).expect_err("an old snapshot");
        assert!(
            matches!(err, ting_ledger::SnapshotDecodeError::OldVersion { version: v } if v == version),
            "{err:?}"
        );
        assert!(err.to_string().contains("new genesis"), "{err}");
    }
}

#[test]
fn a_snapshot_with_unsorted_or_invalid_keys_is_refused() {
    let mut s = state();
    set_key(&mut s, &key(1), key_of(&key(1))).unwrap();
    set_key(&mut s, &key(2), key_of(&key(2))).unwrap();
    let bytes = s.encode();
    let records = bytes.len() - 128;
    let mut swapped = bytes.clone();
    swapped[records..]
        .copy_from_slice(&[&bytes[records + 64..], &bytes[records..records + 64]].concat());
    assert!(State::decode(&swapped, 1).is_err());
    let mut zero_key = bytes.clone();
    zero_key[records + 32..records + 64].fill(0);
    assert!(State::decode(&zero_key, 1).is_err());
}
