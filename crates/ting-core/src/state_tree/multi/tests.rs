//! Multi-proofs against the tree itself: for any map, any keys proven and
//! any change to them, the proof's root is the tree's before and after the
//! change; a proof cut short, padded, reordered or asked about a key it
//! does not hold is refused by its code.

use alloc::collections::BTreeSet;

use proptest::prelude::*;

use super::*;

fn key(seed: u16) -> Hash32 {
    Hash32::digest(&[b"multi-proof-test-key", &seed.to_le_bytes()])
}

fn value(seed: u16) -> Hash32 {
    Hash32::digest(&[b"multi-proof-test-value", &seed.to_le_bytes()])
}

fn tree_of(n: u16) -> StateTree {
    StateTree::from_entries((0..n).map(|i| (key(i), value(i))))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_proof_gives_the_trees_root_before_and_after_a_change(
        size in 0u16..400,
        proven in proptest::collection::btree_set(0u16..600, 1..40),
        changes in proptest::collection::vec((0usize..40, proptest::option::of(0u16..1000)), 0..40),
    ) {
        let mut tree = tree_of(size);
        let keys: Vec<Hash32> = proven.iter().map(|&s| key(s)).collect();
        let proof = tree.prove_many(keys.iter().copied());
        prop_assert_eq!(proof.root(), Ok(tree.root()));
        for (k, s) in keys.iter().zip(&proven) {
            let want = (*s < size).then(|| value(*s));
            prop_assert_eq!(proof.get(k), Ok(want));
        }
        let changes: Vec<(Hash32, Option<Hash32>)> = changes
            .iter()
            .map(|(at, v)| (keys[at % keys.len()], v.map(|s| value(s.wrapping_add(5000)))))
            .collect();
        let after = proof.root_with(&changes);
        tree.apply(changes.iter().copied());
        prop_assert_eq!(after, Ok(tree.root()));
    }

    #[test]
    fn a_proof_survives_its_encoding(proven in proptest::collection::btree_set(0u16..300, 1..20)) {
        let tree = tree_of(200);
        let proof = tree.prove_many(proven.iter().map(|&s| key(s)));
        let mut w = Writer::with_capacity(1024);
        proof.encode(&mut w);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        prop_assert_eq!(MultiProof::decode(&mut r), Ok(proof));
        prop_assert_eq!(r.remaining(), 0);
    }
}

#[test]
fn neighbouring_buckets_share_their_path() {
    // Two keys forced into buckets 4 and 5: siblings at the first level pair
    // up, so the proof lists one path's worth of hashes less one.
    let mut a = [0u8; 32];
    a[1] = 4;
    let mut b = [0u8; 32];
    b[1] = 5;
    let tree = StateTree::from_entries([(Hash32(a), value(1)), (Hash32(b), value(2))]);
    let proof = tree.prove_many([Hash32(a), Hash32(b)]);
    assert_eq!(proof.siblings.len(), STATE_BUCKET_BITS as usize - 1);
    assert_eq!(proof.root(), Ok(tree.root()));
}

#[test]
fn a_damaged_proof_is_refused_by_its_code() {
    let tree = tree_of(300);
    let keys: BTreeSet<u16> = [3, 77, 150, 299, 450].into_iter().collect();
    let good = tree.prove_many(keys.iter().map(|&s| key(s)));
    assert_eq!(good.root(), Ok(tree.root()));

    let mut short = good.clone();
    short.siblings.pop();
    assert_eq!(
        short.root().map_err(|e| e.code()),
        Err("proof_missing_sibling")
    );

    let mut long = good.clone();
    long.siblings.push(Hash32([1; 32]));
    assert_eq!(
        long.root().map_err(|e| e.code()),
        Err("proof_extra_siblings")
    );

    let mut reordered = good.clone();
    reordered.buckets.swap(0, 1);
    assert_eq!(
        reordered.root().map_err(|e| e.code()),
        Err("proof_bucket_order")
    );

    // Key 450 is not in the tree: its bucket is empty, the others hold one.
    let full: Vec<usize> = (0..good.buckets.len())
        .filter(|&i| !good.buckets[i].1.is_empty())
        .collect();
    assert!(full.len() >= 2, "keys 3, 77, 150 and 299 are in the tree");
    let mut foreign = good.clone();
    let entry = foreign.buckets[full[1]].1[0];
    foreign.buckets[full[0]].1.push(entry);
    foreign.buckets[full[0]].1.sort();
    assert_eq!(
        foreign.root().map_err(|e| e.code()),
        Err("proof_bad_entries")
    );

    let mut hidden = good.clone();
    hidden.buckets[full[0]].1.remove(0);
    assert_ne!(
        hidden.root(),
        Ok(tree.root()),
        "a hidden entry changes the root"
    );

    assert_eq!(
        MultiProof::default().root().map_err(|e| e.code()),
        Err("proof_empty")
    );
    let elsewhere = key(9999);
    assert_eq!(
        good.root_with(&[(elsewhere, None)]).map_err(|e| e.code()),
        Err("proof_not_covered")
    );
}
