//! Merkle roots over transaction hashes, inclusion proofs, and their check.
//!
//! The tree is the one of RFC 6962 §2.1 (Certificate Transparency): a leaf is
//! `SHA-256(0x00 || tx_hash)`, an inner node `SHA-256(0x01 || left || right)`,
//! and a tree of `n` leaves splits at the largest power of two below `n`. The
//! distinct prefixes stop a leaf from being passed off as an inner node. Built
//! level by level, a lone last node rises to the next level unchanged, which
//! yields the same tree; the root of no leaves is `SHA-256("")`.

use crate::prelude::*;

use thiserror::Error;

use crate::hash::Hash32;
use crate::limits::MERKLE_PROOF_DEPTH_MAX;

const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// The leaf hash of one transaction hash.
pub fn leaf_hash(tx_hash: &Hash32) -> Hash32 {
    Hash32::digest(&[&[LEAF_PREFIX], &tx_hash.0])
}

fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    Hash32::digest(&[&[NODE_PREFIX], &left.0, &right.0])
}

fn next_level(level: &[Hash32]) -> Vec<Hash32> {
    level
        .chunks(2)
        .map(|pair| match pair {
            [left, right] => node_hash(left, right),
            [lone] => *lone,
            _ => unreachable!("chunks(2) yields one or two"),
        })
        .collect()
}

/// The root over `tx_hashes`, in order.
pub fn root(tx_hashes: &[Hash32]) -> Hash32 {
    if tx_hashes.is_empty() {
        return Hash32::digest(&[]);
    }
    let mut level: Vec<Hash32> = tx_hashes.iter().map(leaf_hash).collect();
    while level.len() > 1 {
        level = next_level(&level);
    }
    level[0]
}

/// The path from one leaf to the root: the siblings met on the way up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleProof {
    /// The leaf's position among the block's transactions.
    pub index: u32,
    /// How many leaves the tree has.
    pub count: u32,
    /// Sibling hashes, from the leaf's level upwards; levels where the path
    /// node had no sibling contribute nothing.
    pub siblings: Vec<Hash32>,
}

/// Why a Merkle proof does not show inclusion.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProofError {
    #[error("index {index} is outside a tree of {count} leaves")]
    IndexOutOfRange { index: u32, count: u32 },
    #[error("the proof has {got} siblings; a tree of this size needs {want}")]
    WrongLength { got: usize, want: usize },
    #[error("the proof leads to a different root")]
    RootMismatch,
}

/// Every level of the tree over a block's transactions, kept so that the
/// proof of each of them costs only copying its siblings.
#[derive(Clone, Debug)]
pub struct MerkleTree {
    /// `levels[0]` holds the leaf hashes; the last level holds the root.
    levels: Vec<Vec<Hash32>>,
}

impl MerkleTree {
    pub fn new(tx_hashes: &[Hash32]) -> MerkleTree {
        let mut levels = vec![tx_hashes.iter().map(leaf_hash).collect::<Vec<_>>()];
        while levels.last().map_or(0, Vec::len) > 1 {
            let next = next_level(levels.last().expect("a level"));
            levels.push(next);
        }
        MerkleTree { levels }
    }

    /// The inclusion proof of leaf `index`.
    pub fn proof(&self, index: usize) -> Option<MerkleProof> {
        let count = self.levels[0].len();
        if index >= count {
            return None;
        }
        let mut siblings = Vec::new();
        let mut at = index;
        for level in self.levels.iter().take(self.levels.len().saturating_sub(1)) {
            if let Some(sibling) = level.get(at ^ 1) {
                siblings.push(*sibling);
            }
            at /= 2;
        }
        Some(MerkleProof {
            index: u32::try_from(index).ok()?,
            count: u32::try_from(count).ok()?,
            siblings,
        })
    }
}

/// Builds the inclusion proof of leaf `index`.
pub fn prove(tx_hashes: &[Hash32], index: usize) -> Option<MerkleProof> {
    MerkleTree::new(tx_hashes).proof(index)
}

impl MerkleProof {
    /// Checks that `tx_hash` sits at `self.index` of a tree whose root is `root`.
    pub fn verify(&self, tx_hash: &Hash32, root: &Hash32) -> Result<(), ProofError> {
        verify_path(
            tx_hash,
            self.index,
            self.count,
            self.siblings.iter().copied(),
            root,
        )
    }
}

/// Checks that `tx_hash` sits at `index` of a tree of `count` leaves whose
/// root is `root`, given the path's siblings from the leaf up. It takes the
/// siblings as an iterator so that firmware can check a path straight from
/// the bytes it received ([`crate::receipt::check_receipt_bytes`]).
pub fn verify_path<I>(
    tx_hash: &Hash32,
    index: u32,
    count: u32,
    siblings: I,
    root: &Hash32,
) -> Result<(), ProofError>
where
    I: ExactSizeIterator<Item = Hash32>,
{
    if index >= count {
        return Err(ProofError::IndexOutOfRange { index, count });
    }
    let given = siblings.len();
    if given > MERKLE_PROOF_DEPTH_MAX {
        return Err(ProofError::WrongLength {
            got: given,
            want: MERKLE_PROOF_DEPTH_MAX,
        });
    }
    let mut hash = leaf_hash(tx_hash);
    let mut siblings = siblings;
    let (mut at, mut width) = (u64::from(index), u64::from(count));
    let mut used = 0usize;
    while width > 1 {
        let sibling = at ^ 1;
        if sibling < width {
            let Some(other) = siblings.next() else {
                return Err(ProofError::WrongLength {
                    got: given,
                    want: used.saturating_add(1),
                });
            };
            used = used.saturating_add(1);
            hash = if at % 2 == 1 {
                node_hash(&other, &hash)
            } else {
                node_hash(&hash, &other)
            };
        }
        at /= 2;
        width = width.div_ceil(2);
    }
    if used != given {
        return Err(ProofError::WrongLength {
            got: given,
            want: used,
        });
    }
    if hash == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)] // small test indices
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hashes(n: usize) -> Vec<Hash32> {
        (0..n as u32)
            .map(|i| Hash32::digest(&[&i.to_le_bytes()]))
            .collect()
    }

    /// RFC 6962's recursive definition, as the model.
    fn model_root(leaves: &[Hash32]) -> Hash32 {
        match leaves.len() {
            0 => Hash32::digest(&[]),
            1 => leaf_hash(&leaves[0]),
            n => {
                let mut k = 1;
                while k * 2 < n {
                    k *= 2;
                }
                node_hash(&model_root(&leaves[..k]), &model_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn root_agrees_with_the_recursive_definition() {
        for n in 0..70 {
            let h = hashes(n);
            assert_eq!(root(&h), model_root(&h), "n = {n}");
        }
    }

    proptest! {
        #[test]
        fn every_leaf_proves_and_no_tampered_proof_does(n in 1usize..300, pick in any::<usize>(), flip in any::<usize>()) {
            let h = hashes(n);
            let r = root(&h);
            let i = pick % n;
            let proof = prove(&h, i).expect("in range");
            prop_assert_eq!(proof.verify(&h[i], &r), Ok(()));
            // Another leaf's hash does not prove at this place.
            if n > 1 {
                let j = (i + 1) % n;
                prop_assert!(proof.verify(&h[j], &r).is_err());
            }
            // A flipped bit in any sibling breaks it.
            if !proof.siblings.is_empty() {
                let mut bad = proof.clone();
                let s = flip % bad.siblings.len();
                bad.siblings[s].0[flip % 32] ^= 1;
                prop_assert!(bad.verify(&h[i], &r).is_err());
            }
            // A wrong index or count breaks it unless the path is the same shape.
            let mut moved = proof.clone();
            moved.index = (proof.index + 1) % proof.count;
            if moved.index != proof.index {
                prop_assert!(moved.verify(&h[i], &r).is_err());
            }
        }
    }

    #[test]
    fn out_of_range_and_padded_proofs_are_refused() {
        let h = hashes(5);
        let r = root(&h);
        let mut proof = prove(&h, 4).expect("in range");
        assert_eq!(proof.verify(&h[4], &r), Ok(()));
        proof.siblings.push(Hash32::ZERO);
        assert!(matches!(
            proof.verify(&h[4], &r),
            Err(ProofError::WrongLength { .. })
        ));
        let bad = MerkleProof {
            index: 5,
            count: 5,
            siblings: vec![],
        };
        assert!(matches!(
            bad.verify(&h[0], &r),
            Err(ProofError::IndexOutOfRange { .. })
        ));
    }
}
