//! Attestations, the k-of-n policy (against a model of it) and
//! equivocation evidence: what verifies, and each way it must not.

use crate::prelude::*;
use alloc::boxed::Box;

use proptest::prelude::*;

use super::*;
use crate::block::BlockHeader;
use crate::hash::Hash32;
use crate::keys::{Keypair, Signature};
use crate::types::{BlockHeight, Timestamp};

fn key(n: u8) -> Keypair {
    Keypair::from_seed([n; 32])
}

/// A header of network `[7; 32]` at `height` in `epoch`, signed by `signer`;
/// `salt` makes blocks at one place differ.
fn header(signer: &Keypair, height: u64, epoch: u64, salt: u8) -> BlockHeader {
    let mut h = BlockHeader {
        genesis: Hash32([7; 32]),
        height: BlockHeight(height),
        epoch,
        prev_hash: Hash32([1; 32]),
        timestamp: Timestamp(1_700_000_000_000),
        tx_root: Hash32([salt; 32]),
        tx_count: 1,
        state_root: Hash32([3; 32]),
        sequencer: signer.account(),
        signature: Signature([0; 64]),
    };
    h.sign(signer);
    h
}

#[test]
fn an_attestation_verifies_covers_its_header_only_and_round_trips() {
    let h = header(&key(1), 5, 2, 9);
    let a = Attestation::sign(&h, &key(2));
    assert_eq!(a.verify(), Ok(()));
    assert!(a.covers(&h));
    assert!(
        !a.covers(&header(&key(1), 5, 2, 8)),
        "another block at the height"
    );
    assert!(!a.covers(&header(&key(1), 5, 3, 9)), "another epoch");

    let bytes = a.to_bytes();
    assert_eq!(bytes.len(), ATTESTATION_BYTES);
    assert_eq!(Attestation::from_bytes(&bytes), Ok(a.clone()));
    assert!(Attestation::from_bytes(&bytes[..ATTESTATION_BYTES - 1]).is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Attestation::from_bytes(&longer).is_err());
    let mut other_version = bytes.clone();
    other_version[0] = 2;
    assert_eq!(
        Attestation::from_bytes(&other_version).map_err(|e| e.code()),
        Err("unsupported_version")
    );

    // Any field changed after signing breaks the signature.
    for i in 1..ATTESTATION_BYTES - 64 {
        let mut changed = bytes.clone();
        changed[i] ^= 1;
        if let Ok(c) = Attestation::from_bytes(&changed) {
            assert!(c.verify().is_err(), "byte {i} changed still verifies");
        }
    }
    // The signature is over the attestation's domain: the header's own
    // signature, made by the same key, is not an attestation.
    let by_witness = header(&key(2), 5, 2, 9);
    let forged = Attestation {
        signature: by_witness.signature,
        header: by_witness.hash(),
        ..a
    };
    assert!(forged.verify().is_err());
}

#[test]
fn a_policy_is_refused_when_it_could_never_be_met_or_names_a_witness_twice() {
    let w = |n| key(n).account();
    assert_eq!(
        WitnessPolicy::new(vec![w(1)], 0).map_err(|e| e.code()),
        Err("needs_none")
    );
    assert_eq!(
        WitnessPolicy::new(vec![w(1), w(2)], 3).map_err(|e| e.code()),
        Err("too_few_witnesses")
    );
    assert_eq!(
        WitnessPolicy::new(vec![w(1), w(2), w(1)], 2).map_err(|e| e.code()),
        Err("duplicate_witness")
    );
    let many: Vec<_> = (0..=WITNESSES_MAX)
        .map(|i| Keypair::from_seed([u8::try_from(i).expect("small"); 32]).account())
        .collect();
    assert_eq!(
        WitnessPolicy::new(many, 1).map_err(|e| e.code()),
        Err("too_many_witnesses")
    );
    let default = WitnessPolicy::default();
    assert!(!default.is_required());
    assert_eq!(default.check(&header(&key(1), 1, 0, 0), &[]), Ok(0));
}

#[test]
fn a_bad_attestation_in_a_witness_name_neither_counts_nor_hides_its_good_one() {
    let h = header(&key(1), 9, 0, 0);
    let policy = WitnessPolicy::new(vec![key(2).account(), key(3).account()], 2).expect("policy");
    let good2 = Attestation::sign(&h, &key(2));
    let good3 = Attestation::sign(&h, &key(3));
    let mut bad2 = good2.clone();
    bad2.signature.0[0] ^= 1;

    assert_eq!(
        policy.check(&h, &[bad2.clone(), good2.clone(), good3.clone()]),
        Ok(2)
    );
    assert_eq!(
        policy
            .check(&h, &[bad2.clone(), good3.clone(), good3.clone()])
            .map_err(|e| e.code()),
        Err("not_attested"),
        "one witness twice is one"
    );
    // A stranger's attestation and one of another block do not count.
    let stranger = Attestation::sign(&h, &key(4));
    let other_block = Attestation::sign(&header(&key(1), 9, 0, 1), &key(3));
    assert_eq!(
        policy.check(&h, &[good2, stranger, other_block]),
        Err(WitnessError::NotAttested {
            height: 9,
            have: 1,
            needed: 2,
            refused: 0
        })
    );
}

proptest! {
    /// Against a model: the header is attested when the distinct trusted
    /// witnesses with a good attestation of it number at least k.
    #[test]
    fn the_policy_counts_distinct_trusted_good_attestations(
        trusted in 1u8..6,
        needed in 1usize..6,
        picks in proptest::collection::vec((0u8..8, 0u8..3), 0..16),
    ) {
        let named: Vec<_> = (1..=trusted).map(|n| key(n).account()).collect();
        prop_assume!(needed <= named.len());
        let policy = WitnessPolicy::new(named.clone(), needed).expect("a policy");
        let h = header(&key(100), 4, 1, 0);
        let other = header(&key(100), 4, 1, 1);
        // Witness keys 1..=7 (some not trusted); 0: good, 1: bad signature,
        // 2: of another block.
        let attestations: Vec<Attestation> = picks
            .iter()
            .map(|&(w, how)| {
                let k = key(w + 1);
                match how {
                    0 => Attestation::sign(&h, &k),
                    1 => {
                        let mut a = Attestation::sign(&h, &k);
                        a.signature.0[5] ^= 1;
                        a
                    }
                    _ => Attestation::sign(&other, &k),
                }
            })
            .collect();
        let mut good: Vec<_> = picks
            .iter()
            .filter(|(w, how)| *how == 0 && named.contains(&key(w + 1).account()))
            .map(|(w, _)| *w)
            .collect();
        good.sort_unstable();
        good.dedup();
        let bad_before_enough = picks.iter().filter(|(w, how)| {
            *how == 1 && named.contains(&key(w + 1).account())
        }).count();
        let expected = good.len() >= needed;
        let got = policy.check(&h, &attestations);
        if bad_before_enough < named.len() {
            prop_assert_eq!(got.is_ok(), expected, "{:?}", got);
        } else {
            // Past as many bad signatures as witnesses it may stop early:
            // never accept without enough good ones.
            prop_assert!(got.is_err() || expected);
        }
    }
}

#[test]
fn two_blocks_at_one_height_and_epoch_by_one_key_prove_it_and_nothing_else_does() {
    let seq = key(1);
    let a = header(&seq, 12, 3, 0);
    let b = header(&seq, 12, 3, 1);
    let evidence = Evidence::equivocation(b.clone(), a.clone());
    assert_eq!(
        evidence,
        Evidence::equivocation(a.clone(), b.clone()),
        "one order"
    );
    let proven = evidence.verify().expect("proves");
    assert_eq!(
        proven,
        Proven {
            genesis: Hash32([7; 32]),
            sequencer: seq.account(),
            height: BlockHeight(12),
            epoch: 3,
            fault: ProvenFault::Equivocation,
        }
    );
    let bytes = evidence.to_bytes();
    assert_eq!(Evidence::from_bytes(&bytes), Ok(evidence.clone()));
    assert!(Evidence::from_bytes(&bytes[..bytes.len() - 1]).is_err());

    let code = |e: Evidence| e.verify().map(|_| ()).map_err(|e| e.code());
    assert_eq!(
        code(Evidence::equivocation(a.clone(), a.clone())),
        Err("same_block")
    );
    assert_eq!(
        code(Evidence::equivocation(a.clone(), header(&seq, 13, 3, 1))),
        Err("two_heights")
    );
    // A failover: the next leader signs the height again in a later epoch.
    assert_eq!(
        code(Evidence::equivocation(a.clone(), header(&seq, 12, 4, 1))),
        Err("two_epochs")
    );
    assert_eq!(
        code(Evidence::equivocation(a.clone(), header(&key(2), 12, 3, 1))),
        Err("two_signers")
    );
    let mut forged = b.clone();
    forged.signature.0[0] ^= 1;
    assert_eq!(
        code(Evidence::equivocation(a.clone(), forged)),
        Err("bad_signature")
    );
    let mut elsewhere = header(&seq, 12, 3, 1);
    elsewhere.genesis = Hash32([8; 32]);
    elsewhere.sign(&seq);
    assert_eq!(
        code(Evidence::equivocation(a, elsewhere)),
        Err("two_networks")
    );

    // Headers out of their one order are not read.
    let Evidence::Equivocation { first, second } = &evidence else {
        panic!("an equivocation")
    };
    let mut swapped = vec![EVIDENCE_VERSION, 1];
    swapped.extend(second.to_bytes());
    swapped.extend(first.to_bytes());
    assert_eq!(
        Evidence::from_bytes(&swapped).map_err(|e| e.code()),
        Err("invalid_value")
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        Evidence::from_bytes(&longer).map_err(|e| e.code()),
        Err("trailing_bytes")
    );
    let mut too_long = bytes.clone();
    too_long.resize(EVIDENCE_BYTES_MAX + 1, 0);
    assert_eq!(
        Evidence::from_bytes(&too_long).map_err(|e| e.code()),
        Err("too_long")
    );
    let mut other_kind = bytes.clone();
    other_kind[1] = 3;
    assert_eq!(
        Evidence::from_bytes(&other_kind).map_err(|e| e.code()),
        Err("invalid_value")
    );
}

#[test]
fn a_wrong_roots_evidence_reads_back_and_its_malformed_forms_are_refused() {
    let seq = key(1);
    let prev = header(&seq, 4, 0, 1);
    let mut block = crate::block::Block {
        header: header(&seq, 5, 0, 2),
        txs: Vec::new(),
    };
    block.header.prev_hash = prev.hash();
    block.header.tx_root = crate::merkle::root(&[]);
    block.header.tx_count = 0;
    block.header.sign(&seq);
    let root = RootEvidence {
        prev: Some(prev.clone()),
        block,
        proof: crate::state_tree::MultiProof::default(),
        records: vec![(Hash32([1; 32]), vec![1, 2]), (Hash32([2; 32]), vec![3])],
    };
    assert_eq!(root.check_block(), Ok(()));
    assert_eq!(root.check_prev(), Ok(()));
    assert_eq!(root.record(&Hash32([2; 32])), Some(&[3u8][..]));
    let evidence = Evidence::WrongStateRoot(Box::new(root.clone()));
    let bytes = evidence.to_bytes();
    assert_eq!(Evidence::from_bytes(&bytes), Ok(evidence.clone()));
    assert_eq!(evidence.verify().map_err(|e| e.code()), Err("needs_ledger"));

    let code = |root: RootEvidence| {
        Evidence::from_bytes(&Evidence::WrongStateRoot(Box::new(root)).to_bytes())
            .map_err(|e| e.code())
    };
    let mut unsorted = root.clone();
    unsorted.records.reverse();
    assert_eq!(code(unsorted), Err("invalid_value"));
    let mut flag = bytes.clone();
    flag[2] = 2;
    assert_eq!(
        Evidence::from_bytes(&flag).map_err(|e| e.code()),
        Err("invalid_value")
    );
    assert!(Evidence::from_bytes(&bytes[..bytes.len() - 1]).is_err());

    // The chain's checks: a previous header that is not the one followed.
    let mut astray = root.clone();
    astray.prev = Some(header(&seq, 3, 0, 1));
    assert_eq!(
        astray.check_prev().map_err(|e| e.code()),
        Err("not_consecutive")
    );
    let mut none = root.clone();
    none.prev = None;
    assert_eq!(none.check_prev().map_err(|e| e.code()), Err("no_previous"));
    let mut unsigned = root;
    unsigned.block.header.signature.0[0] ^= 1;
    assert_eq!(
        unsigned.check_block().map_err(|e| e.code()),
        Err("bad_signature")
    );
}
