//! The state tree against a model (a sorted map rebuilt from scratch):
//! whatever order of sets and removals, the root is the model's, and every
//! proof, of a present or an absent key, verifies to the model's answer and
//! to nothing else.

use alloc::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn key(seed: u16) -> Hash32 {
    Hash32::digest(&[b"state-tree-test-key", &seed.to_le_bytes()])
}

fn value(seed: u16) -> Hash32 {
    Hash32::digest(&[b"state-tree-test-value", &seed.to_le_bytes()])
}

/// Keys that share a bucket, to exercise buckets with several entries.
fn crowded_key(bucket_prefix: u8, n: u8) -> Hash32 {
    let mut k = [n; 32];
    k[0] = bucket_prefix;
    k[1] = 0;
    Hash32(k)
}

#[test]
fn an_empty_tree_has_a_fixed_root_and_proves_absence() {
    let tree = StateTree::default();
    assert!(tree.is_empty());
    assert_eq!(tree.root(), StateTree::from_entries(Vec::new()).root());
    let proof = tree.prove(&key(1));
    assert_eq!(proof.verify(&key(1), &tree.root()), Ok(None));
}

#[test]
fn the_root_depends_on_the_entries_not_the_order_they_came_in() {
    let entries: Vec<StateEntry> = (0..200u16).map(|i| (key(i), value(i))).collect();
    let mut reversed = entries.clone();
    reversed.reverse();
    let a = StateTree::from_entries(entries.clone());
    let b = StateTree::from_entries(reversed);
    let mut c = StateTree::default();
    c.apply(entries.iter().map(|(k, v)| (*k, Some(*v))));
    assert_eq!(a.root(), b.root());
    assert_eq!(a.root(), c.root());
    assert_eq!(a.len(), 200);
}

#[test]
fn a_tampered_or_misplaced_proof_is_refused_by_its_code() {
    let entries: Vec<StateEntry> = (0..8u8)
        .map(|n| (crowded_key(7, n), value(u16::from(n))))
        .collect();
    let tree = StateTree::from_entries(entries);
    let root = tree.root();
    let k = crowded_key(7, 3);
    let good = tree.prove(&k);
    assert_eq!(good.verify(&k, &root), Ok(Some(value(3))));

    let code = |p: &StateProof, k: &Hash32| p.verify(k, &root).expect_err("refused").code();
    let mut v = good.clone();
    v.entries[3].1 = value(99);
    assert_eq!(code(&v, &k), "proof_wrong_root", "a changed value");
    let mut dropped = good.clone();
    dropped.entries.remove(3);
    assert_eq!(
        code(&dropped, &k),
        "proof_wrong_root",
        "a hidden entry cannot fake absence"
    );
    let mut swapped = good.clone();
    swapped.entries.swap(0, 1);
    assert_eq!(code(&swapped, &k), "proof_bad_entries");
    let mut short = good.clone();
    short.siblings.pop();
    assert_eq!(code(&short, &k), "proof_wrong_depth");
    assert_eq!(code(&good, &crowded_key(8, 3)), "proof_wrong_bucket");
    let mut sibling = good.clone();
    sibling.siblings[5] = Hash32([0; 32]);
    assert_eq!(code(&sibling, &k), "proof_wrong_root");
    let mut huge = good;
    huge.entries = (0..=STATE_PROOF_ENTRIES_MAX).map(|_| (k, k)).collect();
    assert_eq!(code(&huge, &k), "proof_too_long");
}

/// One step of a random history: set a key (to a value), or remove it.
#[derive(Clone, Debug)]
enum Op {
    Set(u16, u16),
    Remove(u16),
}

fn op() -> impl Strategy<Value = Op> {
    // Few distinct keys, so that sets, replacements and removals meet.
    prop_oneof![
        3 => (0u16..300, any::<u16>()).prop_map(|(k, v)| Op::Set(k, v)),
        1 => (0u16..300).prop_map(Op::Remove),
    ]
}

proptest! {
    // Each case rebuilds a whole tree of 65,536 buckets once: a few dozen
    // cases of up to a dozen blocks meet every path of `apply`.
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn every_history_matches_the_model_and_every_proof_tells_the_truth(
        blocks in proptest::collection::vec(proptest::collection::vec(op(), 0..40), 1..12),
        probes in proptest::collection::vec(0u16..300, 8),
    ) {
        let mut tree = StateTree::default();
        let mut model: BTreeMap<Hash32, Hash32> = BTreeMap::new();
        let mut roots = Vec::new();
        for block in blocks {
            let changes: Vec<(Hash32, Option<Hash32>)> = block
                .iter()
                .map(|op| match op {
                    Op::Set(k, v) => (key(*k), Some(value(*v))),
                    Op::Remove(k) => (key(*k), None),
                })
                .collect();
            for (k, v) in &changes {
                match v {
                    Some(v) => { model.insert(*k, *v); }
                    None => { model.remove(k); }
                }
            }
            tree.apply(changes);
            prop_assert_eq!(tree.len(), model.len());
            for p in &probes {
                let k = key(*p);
                let proof = tree.prove(&k);
                prop_assert_eq!(proof.verify(&k, &tree.root()), Ok(model.get(&k).copied()));
                prop_assert_eq!(tree.get(&k), model.get(&k).copied());
            }
            roots.push(tree.root());
        }
        // Updated block by block, the tree has the root of one built at once.
        let rebuilt = StateTree::from_entries(model.iter().map(|(k, v)| (*k, *v)));
        prop_assert_eq!(tree.root(), rebuilt.root());
        // A proof shows the state of its own root only.
        if let (Some(first), Some(last)) = (roots.first(), roots.last()) {
            if first != last {
                let k = key(probes[0]);
                prop_assert!(tree.prove(&k).verify(&k, first).is_err());
            }
        }
    }
}
