//! Unit tests of the envelope: layout, signing, strict decoding, the receive
//! order and the replay guard's window and bound.

use super::*;
use crate::test_rng::CountingRng;

const NET: Hash32 = Hash32([7; 32]);
const T0: Timestamp = Timestamp(1_700_000_000_000);

fn alice() -> Keypair {
    Keypair::from_seed([1; 32])
}

fn bob() -> Keypair {
    Keypair::from_seed([2; 32])
}

fn header(id: u64, timestamp: Timestamp) -> EnvelopeHeader {
    EnvelopeHeader {
        genesis: NET,
        sender: alice().account(),
        recipient: bob().account(),
        kind: EnvelopeType::DATA,
        id: EnvelopeId::from_counter(id),
        timestamp,
        encrypted: false,
    }
}

fn sample(id: u64) -> Envelope {
    Envelope::sign(header(id, T0), b"hello".to_vec(), &alice()).unwrap()
}

fn receive_at(
    bytes: &[u8],
    guard: &mut ReplayGuard,
    now: Timestamp,
) -> Result<Envelope, ReceiveError> {
    receive(bytes, &bob().account(), &NET, guard, now)
}

#[test]
fn an_envelope_round_trips_and_has_the_documented_layout() {
    let env = sample(1);
    let bytes = env.encode();
    assert_eq!(bytes.len(), HEADER_BYTES + 4 + 5 + 64);
    assert_eq!(HEADER_BYTES, 124);
    assert_eq!(bytes[0], ENVELOPE_VERSION);
    assert_eq!(&bytes[1..33], &NET.0);
    assert_eq!(&bytes[33..65], &alice().account().0);
    assert_eq!(&bytes[97..99], &[0x00, 0x01]);
    assert_eq!(&bytes[124..128], &5u32.to_le_bytes());
    assert_eq!(env.header_bytes(), bytes[..HEADER_BYTES].to_vec());
    assert_eq!(Envelope::decode(&bytes), Ok(env.clone()));
    assert_eq!(env.verify(), Ok(()));
}

#[test]
fn the_signature_covers_every_byte_before_it() {
    let bytes = sample(1).encode();
    let sig_at = bytes.len() - 64;
    let mut msg = ENVELOPE_DOMAIN.to_vec();
    msg.extend_from_slice(&bytes[..sig_at]);
    let sig = Signature(bytes[sig_at..].try_into().unwrap());
    assert_eq!(keys::verify(&alice().account(), &msg, &sig), Ok(()));
    for i in 0..sig_at {
        let mut tampered = bytes.clone();
        tampered[i] ^= 0x01;
        if let Ok(env) = Envelope::decode(&tampered) {
            assert!(env.verify().is_err(), "byte {i} is not covered");
        }
    }
}

#[test]
fn signing_refuses_an_oversized_payload_and_a_foreign_key() {
    let big = vec![0u8; ENVELOPE_PAYLOAD_BYTES_MAX + 1];
    let err = Envelope::sign(header(1, T0), big, &alice()).unwrap_err();
    assert_eq!(err.code(), "payload_too_long");
    let max = vec![0u8; ENVELOPE_PAYLOAD_BYTES_MAX];
    assert!(Envelope::sign(header(1, T0), max, &alice()).is_ok());
    let err = Envelope::sign(header(1, T0), vec![], &bob()).unwrap_err();
    assert_eq!(err.code(), "wrong_signer");
}

#[test]
fn decoding_is_strict() {
    let bytes = sample(1).encode();
    let mut v1 = bytes.clone();
    v1[0] = 1;
    assert_eq!(
        Envelope::decode(&v1).unwrap_err().code(),
        "unsupported_version"
    );
    let mut flags = bytes.clone();
    flags[HEADER_BYTES - 1] = 0x02;
    assert_eq!(
        Envelope::decode(&flags).unwrap_err().code(),
        "invalid_value"
    );
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        Envelope::decode(&trailing).unwrap_err().code(),
        "trailing_bytes"
    );
    assert_eq!(
        Envelope::decode(&bytes[..bytes.len() - 1])
            .unwrap_err()
            .code(),
        "truncated"
    );
    let mut huge_len = bytes.clone();
    huge_len[HEADER_BYTES..HEADER_BYTES + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(Envelope::decode(&huge_len).unwrap_err().code(), "too_long");
}

#[test]
fn receive_checks_in_the_documented_order() {
    let mut guard = ReplayGuard::new(16).reserve_for([alice().account(), bob().account()]);
    let env = sample(1);
    let bytes = env.encode();
    let code = |r: Result<Envelope, ReceiveError>| r.unwrap_err().code();
    assert_eq!(code(receive_at(&bytes[1..], &mut guard, T0)), "malformed");
    assert_eq!(
        code(receive(
            &bytes,
            &bob().account(),
            &Hash32([8; 32]),
            &mut guard,
            T0
        )),
        "wrong_network"
    );
    assert_eq!(
        code(receive(&bytes, &alice().account(), &NET, &mut guard, T0)),
        "wrong_recipient"
    );
    let mut forged = bytes.clone();
    let last = forged.len() - 1;
    forged[last - 40] ^= 1;
    assert_eq!(code(receive_at(&forged, &mut guard, T0)), "bad_signature");
    let early = Timestamp(T0.0 - ENVELOPE_WINDOW_MS - 1);
    assert_eq!(code(receive_at(&bytes, &mut guard, early)), "stale");
    assert!(
        guard.is_empty(),
        "nothing unverified or stale is remembered"
    );
    assert_eq!(receive_at(&bytes, &mut guard, T0), Ok(env));
    assert_eq!(code(receive_at(&bytes, &mut guard, T0)), "replayed");
}

#[test]
fn the_window_is_inclusive_on_both_sides() {
    let mut guard = ReplayGuard::new(16).reserve_for([alice().account(), bob().account()]);
    let s = alice().account();
    let w = ENVELOPE_WINDOW_MS;
    let id = |n| EnvelopeId::from_counter(n);
    assert_eq!(guard.check(&s, &id(1), Timestamp(T0.0 - w), T0), Ok(()));
    assert_eq!(guard.check(&s, &id(2), Timestamp(T0.0 + w), T0), Ok(()));
    assert_eq!(
        guard.check(&s, &id(3), Timestamp(T0.0 - w - 1), T0),
        Err(ReceiveError::Stale)
    );
    assert_eq!(
        guard.check(&s, &id(4), Timestamp(T0.0 + w + 1), T0),
        Err(ReceiveError::Stale)
    );
}

#[test]
fn entries_are_forgotten_only_once_their_envelope_would_be_stale() {
    let mut guard = ReplayGuard::new(2).reserve_for([alice().account(), bob().account()]);
    let s = alice().account();
    let id = |n| EnvelopeId::from_counter(n);
    guard.check(&s, &id(1), T0, T0).unwrap();
    guard.check(&s, &id(2), T0, T0).unwrap();
    assert_eq!(
        guard.check(&s, &id(3), T0, T0),
        Err(ReceiveError::ReplayCacheFull)
    );
    let later = Timestamp(T0.0 + ENVELOPE_WINDOW_MS + 1);
    assert_eq!(guard.check(&s, &id(3), later, later), Ok(()));
    assert_eq!(guard.len(), 1);
    // The clock stepping back cannot revive a forgotten envelope.
    assert_eq!(guard.check(&s, &id(1), T0, T0), Err(ReceiveError::Stale));
}

#[test]
fn the_same_id_from_another_sender_is_not_a_replay() {
    let mut guard = ReplayGuard::new(4).reserve_for([alice().account(), bob().account()]);
    let id = EnvelopeId::from_counter(1);
    guard.check(&alice().account(), &id, T0, T0).unwrap();
    assert_eq!(guard.check(&bob().account(), &id, T0, T0), Ok(()));
    assert_eq!(
        guard.check(&alice().account(), &id, T0, T0),
        Err(ReceiveError::Replayed)
    );
}

#[test]
fn capacity_is_bounded_by_the_named_limit() {
    let guard = ReplayGuard::new(usize::MAX);
    assert_eq!(guard.capacity, REPLAY_CACHE_MAX);
}

#[test]
fn types_name_themselves_and_split_node_from_device() {
    assert!(EnvelopeType::RECEIPT.is_node_type());
    assert!(EnvelopeType(0x00ff).is_node_type());
    assert!(!EnvelopeType::DATA.is_node_type());
    assert_eq!(EnvelopeType::REFUSAL.name(), "refusal");
    assert_eq!(EnvelopeType::PAYMENT.name(), "payment");
    assert_eq!(EnvelopeType(0x7777).name(), "unknown");
}

#[test]
fn a_stranger_gets_a_share_and_strangers_cannot_fill_the_sequencers_half() {
    let node = alice().account();
    let mut guard = ReplayGuard::new(128).reserve_for([node]);
    let id = |n| EnvelopeId::from_counter(n);
    let stranger = bob().account();
    // One stranger: 128 / 64 = 2 entries, then refused.
    guard.check(&stranger, &id(1), T0, T0).unwrap();
    guard.check(&stranger, &id(2), T0, T0).unwrap();
    assert_eq!(
        guard.check(&stranger, &id(3), T0, T0),
        Err(ReceiveError::SenderOverQuota)
    );
    // Many strangers with fresh keys fill their half, and no more.
    let mut n = 10;
    let mut strangers_taken = 2;
    for seed in 100u8..=255 {
        let s = Keypair::from_seed([seed; 32]).account();
        for _ in 0..2 {
            n += 1;
            if guard.check(&s, &id(n), T0, T0).is_ok() {
                strangers_taken += 1;
            }
        }
    }
    assert_eq!(strangers_taken, 64, "strangers hold at most half of 128");
    // The node's receipts still have the other half.
    for k in 0..64 {
        assert_eq!(
            guard.check(&node, &id(10_000 + k), T0, T0),
            Ok(()),
            "receipt {k}"
        );
    }
    assert_eq!(
        guard.check(&node, &id(20_000), T0, T0),
        Err(ReceiveError::ReplayCacheFull)
    );
    // Once the window passes, everything is forgotten and the counts with it.
    let later = Timestamp(T0.0 + ENVELOPE_WINDOW_MS + 1);
    assert_eq!(guard.check(&stranger, &id(3), later, later), Ok(()));
    assert_eq!(guard.len(), 1);
}

fn carol() -> Keypair {
    Keypair::from_seed([3; 32])
}

/// One envelope of a receive-batch case, as a receiver may find it queued.
#[derive(Clone, Copy, Debug)]
enum Arrival {
    Good,
    Forged,
    StaleBefore,
    StaleAfter,
    Malformed,
    WrongNetwork,
    WrongRecipient,
}

const ARRIVALS: [Arrival; 7] = [
    Arrival::Good,
    Arrival::Forged,
    Arrival::StaleBefore,
    Arrival::StaleAfter,
    Arrival::Malformed,
    Arrival::WrongNetwork,
    Arrival::WrongRecipient,
];

/// The bytes of `arrival` from alice (`from_carol` false) or carol, with
/// envelope id `id`; equal arguments give equal bytes, which is a replay.
fn arrival_bytes(arrival: Arrival, from_carol: bool, id: u64) -> Vec<u8> {
    let key = if from_carol { carol() } else { alice() };
    let w = ENVELOPE_WINDOW_MS;
    let mut h = header(id, T0);
    h.sender = key.account();
    match arrival {
        Arrival::StaleBefore => h.timestamp = Timestamp(T0.0 - w - 1),
        Arrival::StaleAfter => h.timestamp = Timestamp(T0.0 + w + 1),
        Arrival::WrongNetwork => h.genesis = Hash32([8; 32]),
        Arrival::WrongRecipient => h.recipient = carol().account(),
        Arrival::Good | Arrival::Forged | Arrival::Malformed => {}
    }
    let mut bytes = Envelope::sign(h, b"reading".to_vec(), &key)
        .expect("a small payload")
        .encode();
    match arrival {
        Arrival::Forged => {
            let at = bytes.len() - 50;
            bytes[at] ^= 0x01;
        }
        Arrival::Malformed => {
            bytes.pop();
        }
        _ => {}
    }
    bytes
}

/// A guard small enough that carol, a sender it does not reserve room for,
/// meets her share: 2 entries of 128, while alice may take the rest.
fn small_guard() -> ReplayGuard {
    ReplayGuard::new(128).reserve_for([alice().account()])
}

/// Receives `items` with `receive_batch` and with `receive` one by one, on
/// two guards alike, and checks that the answers agree item by item and that
/// the guards are left alike (the same items are then replays for both).
fn check_batch_matches_one_by_one(items: &[Vec<u8>]) {
    let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    let me = bob().account();
    let mut batch_guard = small_guard();
    let mut single_guard = small_guard();
    let mut rng = CountingRng(7);
    let batched = receive_batch(&refs, &me, &NET, &mut batch_guard, T0, &mut rng);
    let single: Vec<_> = refs
        .iter()
        .map(|bytes| receive(bytes, &me, &NET, &mut single_guard, T0))
        .collect();
    assert_eq!(batched, single);
    assert_eq!(batch_guard.len(), single_guard.len());
    let again_batched = receive_batch(&refs, &me, &NET, &mut batch_guard, T0, &mut rng);
    let again_single: Vec<_> = refs
        .iter()
        .map(|bytes| receive(bytes, &me, &NET, &mut single_guard, T0))
        .collect();
    assert_eq!(again_batched, again_single);
}

#[test]
fn a_batch_answers_each_envelope_as_receiving_them_one_by_one_does() {
    let items: Vec<Vec<u8>> = vec![
        arrival_bytes(Arrival::Good, false, 1),
        arrival_bytes(Arrival::Forged, false, 2),
        arrival_bytes(Arrival::Good, false, 1),
        arrival_bytes(Arrival::StaleBefore, false, 3),
        arrival_bytes(Arrival::Malformed, false, 4),
        arrival_bytes(Arrival::Good, true, 5),
        arrival_bytes(Arrival::StaleAfter, true, 6),
        arrival_bytes(Arrival::WrongNetwork, false, 7),
        arrival_bytes(Arrival::WrongRecipient, true, 8),
        arrival_bytes(Arrival::Good, true, 9),
        arrival_bytes(Arrival::Good, true, 10),
        arrival_bytes(Arrival::Good, false, 11),
    ];
    check_batch_matches_one_by_one(&items);
    let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    let mut guard = small_guard();
    let results = receive_batch(
        &refs,
        &bob().account(),
        &NET,
        &mut guard,
        T0,
        &mut CountingRng(1),
    );
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r.as_ref().map_or_else(ReceiveError::code, |_| "ok"))
        .collect();
    assert_eq!(
        codes,
        [
            "ok",
            "bad_signature",
            "replayed",
            "stale",
            "malformed",
            "ok",
            "stale",
            "wrong_network",
            "wrong_recipient",
            "ok",
            "sender_over_quota",
            "ok",
        ]
    );
}

#[test]
fn a_forged_envelope_refuses_only_itself_and_is_not_remembered() {
    let forged = arrival_bytes(Arrival::Forged, false, 1);
    let good = arrival_bytes(Arrival::Good, false, 2);
    let mut guard = small_guard();
    let results = receive_batch(
        &[&forged, &good],
        &bob().account(),
        &NET,
        &mut guard,
        T0,
        &mut CountingRng(3),
    );
    assert_eq!(results[0], Err(ReceiveError::BadSignature));
    assert_eq!(results[1], Envelope::decode(&good).map_err(Into::into));
    assert_eq!(guard.len(), 1, "only the verified envelope is remembered");
}

#[test]
fn an_empty_batch_answers_nothing() {
    let mut guard = small_guard();
    let results = receive_batch(
        &[],
        &bob().account(),
        &NET,
        &mut guard,
        T0,
        &mut CountingRng(5),
    );
    assert!(results.is_empty());
    assert!(guard.is_empty());
}

#[test]
#[should_panic(expected = "over RECEIVE_BATCH_MAX")]
fn a_batch_over_the_limit_is_a_caller_bug() {
    let bytes = sample(1).encode();
    let items: Vec<&[u8]> = vec![bytes.as_slice(); RECEIVE_BATCH_MAX + 1];
    let mut guard = small_guard();
    let _ = receive_batch(
        &items,
        &bob().account(),
        &NET,
        &mut guard,
        T0,
        &mut CountingRng(9),
    );
}

mod batch_properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Any mix of good, forged, replayed, stale and malformed envelopes
        /// from a reserved and an unreserved sender: ids come from a small
        /// range, so equal arrivals (replays) and a full share are common.
        #[test]
        fn any_batch_answers_as_receiving_one_by_one(
            arrivals in prop::collection::vec(
                (0..ARRIVALS.len(), any::<bool>(), 0u64..6),
                0..24,
            )
        ) {
            let items: Vec<Vec<u8>> = arrivals
                .iter()
                .map(|&(kind, from_carol, id)| arrival_bytes(ARRIVALS[kind], from_carol, id))
                .collect();
            check_batch_matches_one_by_one(&items);
        }
    }
}
