//! Evidence of a wrong state root, made from a witness's state and checked
//! from the evidence alone: re-running a block on the records it proves
//! reaches the root the whole ledger reaches (against a model: the whole
//! ledger, over random blocks of every kind the proof covers), so an honest
//! block is never accused and a dishonest one always is; and each way the
//! evidence can be wrong is refused by its code.

mod common;

use common::*;
use proptest::prelude::*;
use ting_core::channel::sign_voucher;
use ting_core::witness::{Evidence, ProvenFault};
use ting_core::{
    Amount, Block, BlockDraft, ChannelId, ChannelMode, Hash32, MessagingSecret, Nonce, Timestamp,
    TxKind,
};
use ting_ledger::evidence::{build, verify, Network};
use ting_ledger::State;

/// `block` signed again by the sequencer with `root` for its state root.
fn with_root(block: &Block, root: Hash32) -> Block {
    let h = &block.header;
    let draft = BlockDraft {
        genesis: h.genesis,
        height: h.height,
        epoch: h.epoch,
        prev_hash: h.prev_hash,
        timestamp: h.timestamp,
        state_root: root,
    };
    Block::seal(draft, block.txs.clone(), &sequencer())
}

/// A state past block 1, in which key 1 opened a voucher channel to key 2
/// and key 0 registered key 5 as its device (with money of its own).
fn set_up() -> (ting_core::Genesis, State, ChannelId) {
    let g = genesis(1_000);
    let mut state = State::from_genesis(&g, 0);
    let channel = ChannelId::derive(&genesis_hash(), &key(1).account(), Nonce(0));
    let open = tx(
        &key(1),
        key(1).account(),
        0,
        TxKind::ChannelOpen {
            payee: key(2).account(),
            deposit: Amount::new(300),
            expires_at: Timestamp(T0 + 3_600_000),
            mode: ChannelMode::Voucher,
        },
    );
    let txs = vec![
        open,
        register(&key(0), 0, &key(5)),
        transfer(&key(3), 0, key(5).account(), 50),
    ];
    let b1 = next_block(&state, T0 + 1_000, txs);
    assert!(state
        .apply_block(&b1)
        .expect("block 1")
        .iter()
        .all(Result::is_ok));
    (g, state, channel)
}

/// One transaction of a kind the proof covers, chosen by `pick`.
fn covered_tx(
    pick: u8,
    nonces: &mut [u64; 6],
    channel: ChannelId,
    claimed: &mut u64,
) -> ting_core::SignedTx {
    let mut next = |i: usize| {
        let n = nonces[i];
        nonces[i] += 1;
        n
    };
    match pick % 8 {
        0 | 1 => {
            let from = pick / 8 % 4;
            let to = key(pick / 32 % 7).account();
            transfer(&key(from), next(usize::from(from)), to, u64::from(pick) * 7)
        }
        2 => {
            *claimed += 10;
            let proof = sign_voucher(&key(1), NET, &channel, Amount::new(*claimed));
            tx(
                &key(2),
                key(2).account(),
                next(2),
                TxKind::ChannelClaim { channel, proof },
            )
        }
        3 => tx(
            &key(0),
            key(0).account(),
            next(0),
            TxKind::Freeze {
                device: key(5).account(),
            },
        ),
        4 => tx(
            &key(0),
            key(0).account(),
            next(0),
            TxKind::Unfreeze {
                device: key(5).account(),
            },
        ),
        5 => tx(
            &key(0),
            key(0).account(),
            next(0),
            TxKind::Sweep {
                device: key(5).account(),
                amount: Amount::new(u64::from(pick)),
            },
        ),
        6 => {
            let key_of = MessagingSecret::from_keypair(&key(3)).public();
            tx(
                &key(3),
                key(3).account(),
                next(3),
                TxKind::SetMessagingKey { key: key_of },
            )
        }
        _ => tx(
            &key(0),
            key(0).account(),
            next(0),
            TxKind::SetSpendLimit {
                device: key(5).account(),
                per_day: Some(Amount::new(40)),
            },
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The model is the whole ledger: the root it reaches is the one the
    /// evidence's re-run on proofs reaches, for the honest block (no
    /// fault) and for the same block claiming another root (proven, with
    /// the whole ledger's root as the one computed).
    #[test]
    fn a_rerun_on_proofs_reaches_the_whole_ledgers_root(
        picks in proptest::collection::vec(any::<u8>(), 1..24),
        wrong_nonce in any::<bool>(),
    ) {
        let (g, state, channel) = set_up();
        let mut nonces = [1, 1, 0, 1, 0, 0];
        let mut claimed = 0;
        let mut txs: Vec<_> = picks.iter().map(|&p| covered_tx(p, &mut nonces, channel, &mut claimed)).collect();
        if wrong_nonce {
            txs.push(transfer(&key(2), 99, key(4).account(), 1));
        }
        let honest = next_block(&state, T0 + 2_000, txs);
        let network = Network::of(&g);

        let evidence = build(&state, &honest).expect("covered kinds");
        let verdict = verify(&evidence, &network).map_err(|e| e.code());
        prop_assert_eq!(verdict, Err("root_follows"));

        let wrong = with_root(&honest, Hash32([0xee; 32]));
        let mut witness = state.clone();
        prop_assert!(witness.apply_block(&wrong).is_err());
        let evidence = build(&witness, &wrong).expect("covered kinds");
        let bytes = evidence.to_bytes();
        let evidence = Evidence::from_bytes(&bytes).expect("reads back");
        let proven = verify(&evidence, &network).expect("proves");
        prop_assert_eq!(proven.fault, ProvenFault::WrongStateRoot {
            claimed: Hash32([0xee; 32]),
            computed: honest.header.state_root,
        });
        prop_assert_eq!(proven.height, honest.header.height);
    }
}

/// The witness's state after refusing `wrong`, and the evidence it makes.
fn caught() -> (ting_core::Genesis, Block, Evidence) {
    let (g, state, channel) = set_up();
    let proof = sign_voucher(&key(1), NET, &channel, Amount::new(25));
    let txs = vec![
        transfer(&key(2), 0, key(6).account(), 10),
        tx(
            &key(2),
            key(2).account(),
            1,
            TxKind::ChannelClaim { channel, proof },
        ),
    ];
    let honest = next_block(&state, T0 + 2_000, txs);
    let wrong = with_root(&honest, Hash32([0xee; 32]));
    let mut witness = state;
    assert!(witness.apply_block(&wrong).is_err());
    let evidence = build(&witness, &wrong).expect("covered kinds");
    (g, honest, evidence)
}

fn root_parts(evidence: &Evidence) -> &ting_core::witness::RootEvidence {
    match evidence {
        Evidence::WrongStateRoot(root) => root,
        other => panic!("not a root's evidence: {other:?}"),
    }
}

#[test]
fn evidence_that_does_not_hold_is_refused_by_its_code() {
    let (g, _, evidence) = caught();
    let network = Network::of(&g);
    assert!(verify(&evidence, &network).is_ok());
    let code = |e: &Evidence| verify(e, &network).map_err(|e| e.code()).err();
    let edited = |f: &dyn Fn(&mut ting_core::witness::RootEvidence)| {
        let mut root = root_parts(&evidence).clone();
        f(&mut root);
        Evidence::WrongStateRoot(Box::new(root))
    };

    // A record that is not the one proven (a richer payee).
    let richer = edited(&|r| {
        let record = &mut r.records[0].1;
        record[0] = record[0].wrapping_add(1);
    });
    assert_eq!(code(&richer), Some("record_mismatch"));
    // A record left out.
    assert_eq!(
        code(&edited(&|r| {
            r.records.remove(0);
        })),
        Some("record_mismatch")
    );
    // A bucket left out: a key the block touches is not proven.
    let fewer = edited(&|r| {
        let gone = r.proof.buckets.remove(0);
        drop(gone);
    });
    assert!(matches!(
        code(&fewer),
        Some("proof_missing_sibling" | "wrong_prestate" | "not_covered" | "proof_extra_siblings")
    ));
    // A proof of another state.
    assert_eq!(
        code(&edited(&|r| r.proof.siblings[0] = Hash32([1; 32]))),
        Some("wrong_prestate")
    );
    // A previous header that is not the one the block follows.
    assert_eq!(
        code(&edited(&|r| {
            r.prev = None;
        })),
        Some("no_previous")
    );
    // Another network, another signer.
    let mut other = g.clone();
    other.name = "elsewhere".into();
    assert_eq!(
        verify(&evidence, &Network::of(&other))
            .map_err(|e| e.code())
            .err(),
        Some("other_network")
    );
    let strangers = [key(9).account()];
    let network = Network {
        sequencers: &strangers,
        ..Network::of(&g)
    };
    assert_eq!(
        verify(&evidence, &network).map_err(|e| e.code()).err(),
        Some("unknown_sequencer")
    );
}

#[test]
fn a_block_with_a_kind_outside_the_state_map_is_not_provable() {
    let (_, state, _) = set_up();
    let mint = tx(
        &key(0),
        key(0).account(),
        1,
        TxKind::Mint {
            to: key(4).account(),
            amount: Amount::new(5),
        },
    );
    let block = with_root(&next_block(&state, T0 + 2_000, vec![mint]), Hash32([1; 32]));
    let err = build(&state, &block).expect_err("mint reads the supply");
    assert_eq!(err.code(), "unprovable");
}

#[test]
fn block_one_is_checked_from_the_genesis_which_the_checker_must_hold() {
    let g = genesis(1_000);
    let state = State::from_genesis(&g, 0);
    let honest = next_block(
        &state,
        T0 + 1_000,
        vec![transfer(&key(1), 0, key(2).account(), 5)],
    );
    let wrong = with_root(&honest, Hash32([3; 32]));
    let mut witness = state.clone();
    assert!(witness.apply_block(&wrong).is_err());
    let evidence = build(&witness, &wrong).expect("block 1");
    let proven = verify(&evidence, &Network::of(&g)).expect("proves");
    assert_eq!(proven.fault.code(), "wrong_state_root");
    let without = Network {
        genesis: None,
        ..Network::of(&g)
    };
    assert_eq!(
        verify(&evidence, &without).map_err(|e| e.code()).err(),
        Some("needs_genesis")
    );
}

#[test]
fn a_block_holding_a_forged_transaction_is_evidence_of_its_own() {
    let (g, state, _) = set_up();
    let good = transfer(&key(1), 1, key(2).account(), 5);
    let mut bytes = good.bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let forged = ting_core::SignedTx::decode(&bytes).expect("still decodes");
    let block = with_root(
        &next_block(&state, T0 + 2_000, vec![forged.clone()]),
        state.committed_root(),
    );
    let evidence = build(&state, &block).expect("a forged transaction");
    let proven = verify(&evidence, &Network::of(&g)).expect("proves");
    assert_eq!(
        proven.fault,
        ProvenFault::ForgedTransaction { tx: forged.hash() }
    );
}

#[test]
fn the_witness_state_answers_for_the_block_before_the_one_it_refused() {
    let (_, state, _) = set_up();
    let before = state.committed_root();
    let wrong = with_root(
        &next_block(
            &state,
            T0 + 2_000,
            vec![transfer(&key(1), 1, key(2).account(), 5)],
        ),
        Hash32([4; 32]),
    );
    let mut witness = state.clone();
    assert!(witness.apply_block(&wrong).is_err());
    assert_eq!(witness.committed_root(), before, "the tree is put back");
    let (record, proof) = witness.prove_account(&key(1).account());
    assert_eq!(record, state.prove_account(&key(1).account()).0);
    assert!(proof
        .verify(
            &ting_core::state_map::account_key(&key(1).account()),
            &before
        )
        .is_ok());
}

#[test]
fn an_empty_block_must_leave_the_state_as_it_was() {
    let (g, state, _) = set_up();
    let network = Network::of(&g);
    let honest = next_block(&state, T0 + 2_000, Vec::new());
    assert_eq!(honest.header.state_root, state.committed_root());
    let follows = build(&state, &honest).expect("an empty block");
    assert_eq!(
        verify(&follows, &network).map_err(|e| e.code()).err(),
        Some("root_follows")
    );
    let wrong = with_root(&honest, Hash32([5; 32]));
    let mut witness = state.clone();
    assert!(witness.apply_block(&wrong).is_err());
    let evidence = build(&witness, &wrong).expect("an empty block");
    let proven = verify(&evidence, &network).expect("proves");
    assert_eq!(
        proven.fault,
        ProvenFault::WrongStateRoot {
            claimed: Hash32([5; 32]),
            computed: state.committed_root()
        }
    );
}

#[test]
fn a_root_refused_after_two_updates_still_puts_the_tree_back() {
    let (_, state, _) = set_up();
    let before = state.committed_root();
    let at = Timestamp(T0 + 2_000);
    let mut open = state.clone();
    let first = transfer(&key(1), 1, key(2).account(), 5);
    let second = transfer(&key(2), 0, key(1).account(), 3);
    open.apply_tx(&first, at).expect("applies");
    let halfway = open.update_root();
    assert_ne!(halfway, before);
    open.apply_tx(&second, at).expect("applies");
    let block = with_root(
        &next_block(&state, at.0, vec![first, second]),
        Hash32([6; 32]),
    );
    assert!(open.commit_block(&block.header).is_err());
    assert_eq!(
        open.committed_root(),
        before,
        "the first update is undone too"
    );
    let (record, _) = open.prove_account(&key(2).account());
    assert_eq!(record, state.prove_account(&key(2).account()).0);
}
