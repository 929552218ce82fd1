//! Fuzzing every decoder with proptest: arbitrary bytes and mutated valid
//! encodings must be refused with an error or decoded into a value that
//! encodes back to exactly the same bytes; nothing may panic.
//!
//! This runs on the stable toolchain in every CI run; its cases are seeded
//! through `PROPTEST_RNG_SEED` (scripts/test sets and prints it).

use proptest::prelude::*;
use ting_core::{
    Amount, Block, BlockDraft, BlockHeader, BlockHeight, Envelope, EnvelopeHeader, EnvelopeId,
    EnvelopeType, Genesis, Hash32, Keypair, Nonce, SignedTx, Timestamp, TxBody, TxKind,
};

fn sample_txs() -> Vec<SignedTx> {
    let key = Keypair::from_seed([3; 32]);
    let other = Keypair::from_seed([4; 32]).account();
    let kinds = vec![
        TxKind::Transfer {
            to: other,
            amount: Amount::new(5),
            memo: b"memo".to_vec(),
        },
        TxKind::Mint {
            to: other,
            amount: Amount::new(9),
        },
        TxKind::RegisterDevice {
            device: other,
            metadata: vec![1, 2, 3],
            device_signature: ting_core::Signature([7; 64]),
        },
        TxKind::SetSpendLimit {
            device: other,
            per_day: Some(Amount::new(3)),
        },
        TxKind::SetSpendLimit {
            device: other,
            per_day: None,
        },
        TxKind::Freeze { device: other },
        TxKind::Unfreeze { device: other },
        TxKind::Sweep {
            device: other,
            amount: Amount::new(1),
        },
    ];
    kinds
        .into_iter()
        .enumerate()
        .map(|(i, kind)| {
            TxBody {
                genesis: ting_core::Hash32([1; 32]),
                sender: key.account(),
                nonce: Nonce(i as u64),
                valid_until: ting_core::Timestamp(u64::MAX),
                kind,
            }
            .sign(&key)
        })
        .collect()
}

fn sample_envelopes() -> Vec<Vec<u8>> {
    use ting_core::envelope::{ErrorPayload, ReceiptPayload};
    let key = Keypair::from_seed([3; 32]);
    let header = |kind, encrypted| EnvelopeHeader {
        genesis: ting_core::Hash32([1; 32]),
        sender: key.account(),
        recipient: Keypair::from_seed([4; 32]).account(),
        kind,
        id: EnvelopeId([9; 16]),
        timestamp: Timestamp(5),
        encrypted,
    };
    let block = sample_block();
    let hashes = block.tx_hashes();
    let receipt = ReceiptPayload {
        tx_hash: hashes[1],
        proof: ting_core::merkle::prove(&hashes, 1).expect("in range"),
        header: block.header,
    };
    let error = ErrorPayload {
        code: "busy".into(),
        message: "later".into(),
    };
    [
        (header(EnvelopeType::RECEIPT, false), receipt.encode()),
        (header(EnvelopeType::ERROR, false), error.encode()),
        (header(EnvelopeType::DATA, true), vec![0xab; 60]),
    ]
    .into_iter()
    .map(|(h, p)| Envelope::sign(h, p, &key).unwrap().encode())
    .collect()
}

fn sample_block() -> Block {
    let key = Keypair::from_seed([3; 32]);
    let draft = BlockDraft {
        genesis: Hash32([1; 32]),
        height: BlockHeight(1),
        epoch: 0,
        prev_hash: Hash32::ZERO,
        timestamp: Timestamp(5),
        state_root: Hash32([2; 32]),
    };
    Block::seal(draft, sample_txs(), &key)
}

/// A proved account and a proved absence, as a node answers them.
fn sample_state_answers() -> Vec<Vec<u8>> {
    use ting_core::state_map::{account_key, account_value_hash, AccountRecord};
    use ting_core::state_proof::StateAnswer;
    use ting_core::state_tree::StateTree;
    let record = AccountRecord::default().to_record();
    let present = Keypair::from_seed([4; 32]).account();
    let tree = StateTree::from_entries([(account_key(&present), account_value_hash(&record))]);
    let header = sample_block().header;
    let absent = Keypair::from_seed([5; 32]).account();
    vec![
        StateAnswer {
            header: header.clone(),
            record: Some(record),
            proof: tree.prove(&account_key(&present)),
        }
        .to_bytes(),
        StateAnswer {
            header,
            record: None,
            proof: tree.prove(&account_key(&absent)),
        }
        .to_bytes(),
    ]
}

/// Flips, inserts or deletes bytes of `valid` at positions drawn from `edits`.
fn mutate(valid: &[u8], edits: &[(u16, u8, u8)]) -> Vec<u8> {
    let mut bytes = valid.to_vec();
    for (at, value, op) in edits {
        if bytes.is_empty() {
            bytes.push(*value);
            continue;
        }
        let i = usize::from(*at) % bytes.len();
        match op % 3 {
            0 => bytes[i] ^= value | 1,
            1 => bytes.insert(i, *value),
            _ => {
                bytes.remove(i);
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn transaction_decoding_never_panics_and_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(tx) = SignedTx::decode(&bytes) {
            prop_assert_eq!(tx.bytes(), &bytes[..]);
        }
    }

    #[test]
    fn mutated_transactions_decode_only_to_their_own_bytes(pick in 0usize..8, edits in prop::collection::vec((any::<u16>(), any::<u8>(), any::<u8>()), 1..4)) {
        let txs = sample_txs();
        let bytes = mutate(txs[pick % txs.len()].bytes(), &edits);
        if let Ok(tx) = SignedTx::decode(&bytes) {
            prop_assert_eq!(tx.bytes(), &bytes[..]);
        }
    }

    #[test]
    fn block_and_header_decoding_never_panics(edits in prop::collection::vec((any::<u16>(), any::<u8>(), any::<u8>()), 1..6)) {
        let bytes = mutate(&sample_block().encode(), &edits);
        if let Ok(block) = Block::decode(&bytes) {
            prop_assert_eq!(block.encode(), bytes.clone());
        }
        let header = &bytes[..bytes.len().min(ting_core::block::HEADER_BYTES)];
        let _ = BlockHeader::from_bytes(header);
    }

    #[test]
    fn mutated_state_answers_decode_only_to_their_own_bytes(pick in 0usize..2, edits in prop::collection::vec((any::<u16>(), any::<u8>(), any::<u8>()), 1..4)) {
        let samples = sample_state_answers();
        let bytes = mutate(&samples[pick], &edits);
        if let Ok(answer) = ting_core::state_proof::StateAnswer::from_bytes(&bytes) {
            prop_assert_eq!(answer.to_bytes(), bytes.clone());
        }
    }

    #[test]
    fn genesis_decoding_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(g) = Genesis::decode(&bytes) {
            prop_assert_eq!(g.encode(), bytes);
        }
    }

    #[test]
    fn envelope_decoding_never_panics_and_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(env) = Envelope::decode(&bytes) {
            prop_assert_eq!(env.encode(), bytes);
        }
    }

    #[test]
    fn mutated_envelopes_decode_only_to_their_own_bytes(pick in 0usize..3, edits in prop::collection::vec((any::<u16>(), any::<u8>(), any::<u8>()), 1..4)) {
        use ting_core::envelope::{ErrorPayload, ReceiptPayload, RefusalPayload};
        let samples = sample_envelopes();
        let bytes = mutate(&samples[pick % samples.len()], &edits);
        if let Ok(env) = Envelope::decode(&bytes) {
            prop_assert_eq!(env.encode(), bytes.clone());
        }
        // The payload decoders see the same mutated bytes past the header.
        let tail = &bytes[bytes.len().min(100)..];
        if let Ok(p) = ReceiptPayload::decode(tail) { prop_assert_eq!(p.encode(), tail.to_vec()); }
        if let Ok(p) = ErrorPayload::decode(tail) { prop_assert_eq!(p.encode(), tail.to_vec()); }
        if let Ok(p) = RefusalPayload::decode(tail) { prop_assert_eq!(p.encode(), tail.to_vec()); }
    }
}
