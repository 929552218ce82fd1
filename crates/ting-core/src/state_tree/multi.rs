//! Several buckets of the state map proven at once, sharing their paths: what
//! evidence of a wrong state root carries (`crate::witness`).
//!
//! A [`MultiProof`] lists whole buckets, by increasing index, and the node
//! hashes their paths need but cannot compute. The walk up the tree is the
//! same for the prover and the verifier: at each level, from the buckets
//! up, left to right, a node whose sibling is also on a path is paired with
//! it; any other takes the next listed hash as its sibling. So one proof
//! gives the root before a change and, with the change applied to its
//! buckets, the root after: a verifier recomputes both without the rest of
//! the map.
//!
//! Bytes: `bucket count u32 | (bucket index u32 | entry count u32 | (key
//! [32] | value hash [32]) × count) × buckets | sibling count u32 | sibling
//! [32] × count`.

use crate::prelude::*;

use thiserror::Error;

use super::{bucket_hash, bucket_of, node_hash, StateEntry, StateTree};
use super::{STATE_BUCKETS, STATE_BUCKET_BITS, STATE_PROOF_ENTRIES_MAX};
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;

/// Most buckets one multi-proof may hold: enough for every key a block of
/// `BLOCK_TXS_MAX` transactions touches, four per transaction.
pub const MULTI_PROOF_BUCKETS_MAX: usize = 4 * crate::limits::BLOCK_TXS_MAX;
/// Most sibling hashes a multi-proof may list: a path's worth per bucket.
pub const MULTI_PROOF_SIBLINGS_MAX: usize = MULTI_PROOF_BUCKETS_MAX * STATE_BUCKET_BITS as usize;

/// Whole buckets and the hashes that join them to the root.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MultiProof {
    /// The proven buckets by increasing index, each with all its entries.
    pub buckets: Vec<(u32, Vec<StateEntry>)>,
    /// The hashes the walk up asks for, in the order it asks.
    pub siblings: Vec<Hash32>,
}

/// Why a multi-proof answers nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MultiProofError {
    #[error("the proof holds no bucket")]
    Empty,
    #[error("the proof's buckets are not in increasing order below {STATE_BUCKETS}")]
    BucketOrder,
    #[error("bucket {0}'s entries are not sorted, not all of it, or more than {STATE_PROOF_ENTRIES_MAX}")]
    BadEntries(u32),
    #[error("the proof lists too few sibling hashes")]
    MissingSibling,
    #[error("the proof lists sibling hashes its buckets do not use")]
    ExtraSiblings,
    #[error("the key {0} is in a bucket the proof does not hold")]
    NotCovered(Hash32),
}

impl MultiProofError {
    pub fn code(&self) -> &'static str {
        match self {
            MultiProofError::Empty => "proof_empty",
            MultiProofError::BucketOrder => "proof_bucket_order",
            MultiProofError::BadEntries(_) => "proof_bad_entries",
            MultiProofError::MissingSibling => "proof_missing_sibling",
            MultiProofError::ExtraSiblings => "proof_extra_siblings",
            MultiProofError::NotCovered(_) => "proof_not_covered",
        }
    }
}

/// Sorted, distinct node indices of one level, and the indices of the
/// level above them: `i / 2` of each, still sorted and distinct.
fn parents(level: &[usize]) -> Vec<usize> {
    let mut up: Vec<usize> = level.iter().map(|i| i / 2).collect();
    up.dedup();
    up
}

/// The walk over one level, left to right: the position of each node that
/// starts a step, and whether its sibling is the next node (a pair) or
/// must come from the proof.
fn steps(level: &[usize]) -> Vec<(usize, bool)> {
    let mut out = Vec::with_capacity(level.len());
    let nexts = level.iter().skip(1).map(Some).chain(core::iter::once(None));
    let mut skip = false;
    for (at, (&node, next)) in level.iter().zip(nexts).enumerate() {
        if skip {
            skip = false;
            continue;
        }
        // An even node's sibling is the node with its last bit set.
        let paired = node.is_multiple_of(2) && next == Some(&(node | 1));
        out.push((at, paired));
        skip = paired;
    }
    out
}

impl StateTree {
    /// The multi-proof of every key in `keys`, present or absent.
    pub fn prove_many(&self, keys: impl IntoIterator<Item = Hash32>) -> MultiProof {
        let mut level: Vec<usize> = keys.into_iter().map(|k| bucket_of(&k)).collect();
        level.sort_unstable();
        level.dedup();
        let buckets = level
            .iter()
            .map(|&b| {
                let index = u32::try_from(b).expect("fewer than 2^32 buckets");
                (index, self.buckets[b].clone())
            })
            .collect();
        let mut siblings = Vec::new();
        for hashes in self.levels.iter().take(STATE_BUCKET_BITS as usize) {
            for (at, paired) in steps(&level) {
                if !paired {
                    siblings.push(hashes[level[at] ^ 1]);
                }
            }
            level = parents(&level);
        }
        MultiProof { buckets, siblings }
    }
}

impl MultiProof {
    /// The value hash `key` holds, or `None` if it holds nothing, as far as
    /// the proof's buckets say (their root still to be checked).
    ///
    /// # Errors
    /// [`MultiProofError::NotCovered`]: the key's bucket is not in the proof.
    pub fn get(&self, key: &Hash32) -> Result<Option<Hash32>, MultiProofError> {
        let entries = self.bucket(key)?;
        Ok(entries
            .binary_search_by_key(key, |(k, _)| *k)
            .ok()
            .map(|i| entries[i].1))
    }

    fn bucket(&self, key: &Hash32) -> Result<&Vec<StateEntry>, MultiProofError> {
        let want = u32::try_from(bucket_of(key)).expect("fewer than 2^32 buckets");
        self.buckets
            .binary_search_by_key(&want, |(b, _)| *b)
            .map(|i| &self.buckets[i].1)
            .map_err(|_| MultiProofError::NotCovered(*key))
    }

    /// The root the proof leads to: what it proves against.
    ///
    /// # Errors
    /// The proof is malformed: no bucket, buckets out of order, a bucket's
    /// entries unsorted or foreign, siblings missing or left over.
    pub fn root(&self) -> Result<Hash32, MultiProofError> {
        self.root_with(&[])
    }

    /// The root after setting (`Some`) or removing (`None`) each key's value
    /// hash in the proof's buckets, in order.
    ///
    /// # Errors
    /// As [`MultiProof::root`], and [`MultiProofError::NotCovered`] for a
    /// changed key outside the proof's buckets.
    pub fn root_with(
        &self,
        changes: &[(Hash32, Option<Hash32>)],
    ) -> Result<Hash32, MultiProofError> {
        self.check_form()?;
        let mut buckets = self.buckets.clone();
        for (key, value) in changes {
            let b = u32::try_from(bucket_of(key)).expect("fewer than 2^32 buckets");
            let at = buckets
                .binary_search_by_key(&b, |(i, _)| *i)
                .map_err(|_| MultiProofError::NotCovered(*key))?;
            let entries = &mut buckets[at].1;
            match (entries.binary_search_by_key(key, |(k, _)| *k), value) {
                (Ok(i), Some(v)) => entries[i].1 = *v,
                (Ok(i), None) => {
                    entries.remove(i);
                }
                (Err(i), Some(v)) => entries.insert(i, (*key, *v)),
                (Err(_), None) => {}
            }
        }
        let mut level: Vec<usize> = buckets.iter().map(|(b, _)| *b as usize).collect();
        let mut hashes: Vec<Hash32> = buckets.iter().map(|(_, e)| bucket_hash(e)).collect();
        let mut siblings = self.siblings.iter();
        for _ in 0..STATE_BUCKET_BITS {
            let mut up = Vec::with_capacity(hashes.len());
            for (at, paired) in steps(&level) {
                if paired {
                    up.push(node_hash(&hashes[at], &hashes[at.saturating_add(1)]));
                    continue;
                }
                let sibling = siblings.next().ok_or(MultiProofError::MissingSibling)?;
                up.push(if level[at].is_multiple_of(2) {
                    node_hash(&hashes[at], sibling)
                } else {
                    node_hash(sibling, &hashes[at])
                });
            }
            level = parents(&level);
            hashes = up;
        }
        if siblings.next().is_some() {
            return Err(MultiProofError::ExtraSiblings);
        }
        Ok(hashes[0])
    }

    /// Buckets present, in order and in range; each bucket's entries sorted,
    /// its own and few enough.
    fn check_form(&self) -> Result<(), MultiProofError> {
        if self.buckets.is_empty() {
            return Err(MultiProofError::Empty);
        }
        let mut previous: Option<u32> = None;
        for (index, entries) in &self.buckets {
            if previous.is_some_and(|p| p >= *index) || *index as usize >= STATE_BUCKETS {
                return Err(MultiProofError::BucketOrder);
            }
            previous = Some(*index);
            let foreign = entries.iter().any(|(k, _)| bucket_of(k) != *index as usize);
            let sorted = entries.windows(2).all(|w| w[0].0 < w[1].0);
            if foreign || !sorted || entries.len() > STATE_PROOF_ENTRIES_MAX {
                return Err(MultiProofError::BadEntries(*index));
            }
        }
        Ok(())
    }

    /// Appends the proof's bytes (layout in the module's documentation).
    pub fn encode(&self, w: &mut Writer) {
        w.count_u32(self.buckets.len());
        for (index, entries) in &self.buckets {
            w.u32(*index).count_u32(entries.len());
            for (key, value) in entries {
                w.hash(key).hash(value);
            }
        }
        w.count_u32(self.siblings.len());
        for sibling in &self.siblings {
            w.hash(sibling);
        }
    }

    /// Reads a proof, refusing counts over the limits before allocating;
    /// whether it proves anything is [`MultiProof::root`]'s.
    ///
    /// # Errors
    /// Truncated bytes or a count over its limit.
    pub fn decode(r: &mut Reader<'_>) -> Result<MultiProof, DecodeError> {
        let count = bounded(r, "proof bucket count", MULTI_PROOF_BUCKETS_MAX)?;
        let mut buckets = Vec::with_capacity(count);
        for _ in 0..count {
            let index = r.u32("proof bucket")?;
            let entries = bounded(r, "proof entry count", STATE_PROOF_ENTRIES_MAX)?;
            let mut list = Vec::with_capacity(entries);
            for _ in 0..entries {
                list.push((r.hash("proof key")?, r.hash("proof value hash")?));
            }
            buckets.push((index, list));
        }
        let count = bounded(r, "proof sibling count", MULTI_PROOF_SIBLINGS_MAX)?;
        let mut siblings = Vec::with_capacity(count);
        for _ in 0..count {
            siblings.push(r.hash("proof sibling")?);
        }
        Ok(MultiProof { buckets, siblings })
    }
}

/// A `u32` count no larger than `max`.
fn bounded(r: &mut Reader<'_>, what: &'static str, max: usize) -> Result<usize, DecodeError> {
    let n = r.u32(what)? as usize;
    if n > max {
        return Err(DecodeError::TooLong { what, len: n, max });
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
