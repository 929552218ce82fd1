//! The authenticated state map: a SHA-256 commitment to every key of the
//! ledger state and the hash of its value, with proofs that a key holds a
//! value, or holds none, against the root a block header will carry.
//!
//! Layout. A key is 32 bytes (the caller hashes its own identifiers into
//! keys); its first `STATE_BUCKET_BITS` bits, big-endian, choose one of
//! `STATE_BUCKETS` buckets. A bucket holds its entries `(key, value_hash)`
//! sorted by key, and hashes as
//! `SHA-256("ting:state-bucket:v1" || u32 LE count || key_1 || value_1 || ...)`.
//! The bucket hashes are the leaves of a complete binary tree whose nodes
//! are `SHA-256("ting:state-node:v1" || left || right)`; its top is the root.
//! The root depends only on the entries, never on the order of updates, so
//! a tree rebuilt from a snapshot has the root the blocks had.
//!
//! A proof is a whole bucket and the `STATE_BUCKET_BITS` siblings on the way
//! up: the verifier rebuilds the bucket hash, so one proof shows presence
//! (with the value hash) or absence alike, and checking it is a plain loop
//! of SHA-256 over bounded input. Why buckets rather than a Jellyfish or
//! sparse Merkle tree: measured at a million keys, they keep about 110 bytes
//! per key in memory and 4–5 µs per changed key, where a `jmt` tree kept
//! about 600 bytes and 20–50 µs (ARCHITECTURE.md).
//!
//! Updating re-hashes only the changed buckets and their paths. Pure: no
//! clock, no I/O, no randomness.

use crate::prelude::*;

use thiserror::Error;

use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::{self, Hash32};
use sha2::{Digest, Sha256};

mod multi;
pub use multi::{MultiProof, MultiProofError, MULTI_PROOF_BUCKETS_MAX, MULTI_PROOF_SIBLINGS_MAX};

/// Bits of a key that choose its bucket.
pub const STATE_BUCKET_BITS: u32 = 16;
/// Buckets in the tree: the leaves of its top.
pub const STATE_BUCKETS: usize = 1 << STATE_BUCKET_BITS;
/// Most entries a proof's bucket may list: a verifier does at most this much
/// hashing. Far above what a bucket holds at ten million keys (about 150).
pub const STATE_PROOF_ENTRIES_MAX: usize = 4096;

const BUCKET_DOMAIN: &[u8] = b"ting:state-bucket:v1";
const NODE_DOMAIN: &[u8] = b"ting:state-node:v1";

/// One entry: a key and the hash of its value.
pub type StateEntry = (Hash32, Hash32);

/// The bucket `key` belongs to.
pub fn bucket_of(key: &Hash32) -> usize {
    usize::from(u16::from_be_bytes([key.0[0], key.0[1]])) >> (16 - STATE_BUCKET_BITS)
}

/// The hash of a bucket holding `entries`, sorted by key.
pub fn bucket_hash(entries: &[StateEntry]) -> Hash32 {
    bucket_hash_of(entries.iter().copied())
}

/// [`bucket_hash`] over entries from anywhere (a `Vec`, or proof bytes read
/// in place), hashed as they come.
fn bucket_hash_of<I: ExactSizeIterator<Item = StateEntry>>(entries: I) -> Hash32 {
    let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    let mut hasher = Sha256::new();
    hasher.update(BUCKET_DOMAIN);
    hasher.update(count.to_le_bytes());
    for (key, value) in entries {
        hasher.update(key.0);
        hasher.update(value.0);
    }
    Hash32(hasher.finalize().into())
}

fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    Hash32::digest(&[NODE_DOMAIN, &left.0, &right.0])
}

/// The map and every hash of its top tree, kept so that an update re-hashes
/// only what changed.
#[derive(Clone, Debug)]
pub struct StateTree {
    buckets: Vec<Vec<StateEntry>>,
    /// `levels[0]` holds the bucket hashes; each next level halves; the last
    /// holds the root alone.
    levels: Vec<Vec<Hash32>>,
}

impl Default for StateTree {
    fn default() -> Self {
        StateTree::from_entries(core::iter::empty())
    }
}

impl StateTree {
    /// A tree holding `entries` (a later entry for a key replaces an earlier).
    pub fn from_entries(entries: impl IntoIterator<Item = StateEntry>) -> StateTree {
        let mut buckets: Vec<Vec<StateEntry>> = vec![Vec::new(); STATE_BUCKETS];
        for (key, value) in entries {
            buckets[bucket_of(&key)].push((key, value));
        }
        for bucket in &mut buckets {
            // Stable, so the last of equal keys stays last; keep only it.
            bucket.sort_by_key(|(k, _)| *k);
            let mut kept: Vec<StateEntry> = Vec::with_capacity(bucket.len());
            for entry in bucket.drain(..) {
                match kept.last_mut() {
                    Some(last) if last.0 == entry.0 => *last = entry,
                    _ => kept.push(entry),
                }
            }
            *bucket = kept;
        }
        // Subtrees of empty buckets all hash alike: a small tree costs hashing
        // only the paths of its entries.
        let mut empty = bucket_hash(&[]);
        let leaves: Vec<Hash32> = buckets
            .iter()
            .map(|b| if b.is_empty() { empty } else { bucket_hash(b) })
            .collect();
        let mut levels = vec![leaves];
        while levels.last().map_or(0, Vec::len) > 1 {
            let below = levels.last().expect("a level");
            let empty_above = node_hash(&empty, &empty);
            let next = below
                .chunks(2)
                .map(|p| {
                    if p[0] == empty && p[1] == empty {
                        empty_above
                    } else {
                        node_hash(&p[0], &p[1])
                    }
                })
                .collect();
            levels.push(next);
            empty = empty_above;
        }
        StateTree { buckets, levels }
    }

    /// The root: what a block header commits to.
    pub fn root(&self) -> Hash32 {
        self.levels.last().expect("a top level")[0]
    }

    /// How many keys hold a value.
    pub fn len(&self) -> usize {
        self.buckets.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.iter().all(Vec::is_empty)
    }

    /// The value hash `key` holds.
    pub fn get(&self, key: &Hash32) -> Option<Hash32> {
        let bucket = &self.buckets[bucket_of(key)];
        bucket
            .binary_search_by_key(key, |(k, _)| *k)
            .ok()
            .map(|i| bucket[i].1)
    }

    /// Sets (`Some`) or removes (`None`) each key's value hash, in order, then
    /// re-hashes the changed buckets and their paths to the root once.
    pub fn apply(&mut self, changes: impl IntoIterator<Item = (Hash32, Option<Hash32>)>) {
        let mut dirty: Vec<usize> = Vec::new();
        for (key, value) in changes {
            let b = bucket_of(&key);
            let bucket = &mut self.buckets[b];
            match (bucket.binary_search_by_key(&key, |(k, _)| *k), value) {
                (Ok(i), Some(v)) => bucket[i].1 = v,
                (Ok(i), None) => {
                    bucket.remove(i);
                }
                (Err(i), Some(v)) => bucket.insert(i, (key, v)),
                (Err(_), None) => continue,
            }
            dirty.push(b);
        }
        // Sorted and deduplicated once; each level up halves the indices, which
        // keeps them sorted, so neighbours are the only duplicates.
        dirty.sort_unstable();
        dirty.dedup();
        for &b in &dirty {
            self.levels[0][b] = bucket_hash(&self.buckets[b]);
        }
        for level in 1..self.levels.len() {
            for i in &mut dirty {
                *i /= 2;
            }
            dirty.dedup();
            let (below, above) = self.levels.split_at_mut(level);
            let below = below.last().expect("a level below");
            for &p in &dirty {
                let left = p.checked_mul(2).expect("a node of the level below");
                above[0][p] = node_hash(&below[left], &below[left | 1]);
            }
        }
    }

    /// The proof for `key`, present or absent: its whole bucket and the
    /// siblings from the bucket up to the root.
    pub fn prove(&self, key: &Hash32) -> StateProof {
        let b = bucket_of(key);
        let depth = self.levels.len().saturating_sub(1);
        let mut siblings = Vec::with_capacity(depth);
        let mut i = b;
        for level in self.levels.iter().take(depth) {
            siblings.push(level[i ^ 1]);
            i /= 2;
        }
        StateProof {
            bucket: u32::try_from(b).expect("fewer than 2^32 buckets"),
            entries: self.buckets[b].clone(),
            siblings,
        }
    }
}

/// What a [`StateProof`] failed on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StateProofError {
    #[error("the proof is for bucket {got}, and the key is in bucket {want}")]
    WrongBucket { got: u32, want: u32 },
    #[error("the proof has {got} siblings; a path to the root has {want}")]
    WrongDepth { got: usize, want: usize },
    #[error("the proof lists {0} entries, more than {STATE_PROOF_ENTRIES_MAX}")]
    TooManyEntries(usize),
    #[error(
        "the proof's entries are not in strictly increasing key order, or not all of its bucket"
    )]
    BadEntries,
    #[error("the proof leads to another root")]
    WrongRoot,
}

impl StateProofError {
    pub fn code(&self) -> &'static str {
        match self {
            StateProofError::WrongBucket { .. } => "proof_wrong_bucket",
            StateProofError::WrongDepth { .. } => "proof_wrong_depth",
            StateProofError::TooManyEntries(_) => "proof_too_long",
            StateProofError::BadEntries => "proof_bad_entries",
            StateProofError::WrongRoot => "proof_wrong_root",
        }
    }
}

/// A key's bucket, whole, and the sibling hashes from it to the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateProof {
    pub bucket: u32,
    pub entries: Vec<StateEntry>,
    pub siblings: Vec<Hash32>,
}

impl StateProof {
    /// Checks the proof against `root` and answers what `key` holds there:
    /// its value hash, or `None` if it holds nothing.
    pub fn verify(&self, key: &Hash32, root: &Hash32) -> Result<Option<Hash32>, StateProofError> {
        verify_bucket_path(
            self.bucket,
            self.entries.iter().copied(),
            self.siblings.iter().copied(),
            key,
            root,
        )
    }
}

/// A state proof's parts as they sit in its bytes, for checking in place.
#[derive(Clone, Copy, Debug)]
pub struct StateProofBytes<'a> {
    pub bucket: u32,
    /// `key [32] | value hash [32]` per entry.
    pub entries: &'a [u8],
    /// 32 bytes per sibling, from the bucket up.
    pub siblings: &'a [u8],
}

impl<'a> StateProofBytes<'a> {
    /// Reads the [`StateProof::encode`] layout without copying it.
    pub fn read(r: &mut Reader<'a>) -> Result<StateProofBytes<'a>, DecodeError> {
        let bucket = r.u32("proof bucket")?;
        let count = r.u32("proof entry count")? as usize;
        if count > STATE_PROOF_ENTRIES_MAX {
            return Err(DecodeError::TooLong {
                what: "proof entries",
                len: count,
                max: STATE_PROOF_ENTRIES_MAX,
            });
        }
        let entries = r.take(count.saturating_mul(64), "proof entry")?;
        let depth = usize::from(r.u8("proof sibling count")?);
        let siblings = r.take(depth.saturating_mul(32), "proof sibling")?;
        Ok(StateProofBytes {
            bucket,
            entries,
            siblings,
        })
    }

    /// The same proof, copied out of the bytes.
    pub fn to_proof(&self) -> StateProof {
        StateProof {
            bucket: self.bucket,
            entries: self.entry_pairs().collect(),
            siblings: hash::hashes_in(self.siblings).collect(),
        }
    }

    fn entry_pairs(&self) -> impl ExactSizeIterator<Item = StateEntry> + Clone + 'a {
        self.entries.chunks_exact(64).map(|pair| {
            let (k, v) = pair.split_at(32);
            let mut key = [0u8; 32];
            key.copy_from_slice(k);
            let mut value = [0u8; 32];
            value.copy_from_slice(v);
            (Hash32(key), Hash32(value))
        })
    }

    /// [`StateProof::verify`], on the bytes as they are, with no allocation.
    pub fn verify(&self, key: &Hash32, root: &Hash32) -> Result<Option<Hash32>, StateProofError> {
        // `read` makes whole entries and hashes; parts made by hand may not.
        if !self.entries.len().is_multiple_of(64) {
            return Err(StateProofError::BadEntries);
        }
        if !self.siblings.len().is_multiple_of(32) {
            return Err(StateProofError::WrongDepth {
                got: self.siblings.len() / 32,
                want: usize::try_from(STATE_BUCKET_BITS).expect("a small number"),
            });
        }
        verify_bucket_path(
            self.bucket,
            self.entry_pairs(),
            hash::hashes_in(self.siblings),
            key,
            root,
        )
    }
}

/// The one check behind both proof forms: the bucket is `key`'s, the path
/// has the tree's depth, the entries are few, sorted and all in the bucket,
/// and hashing up the path reaches `root`.
fn verify_bucket_path<E, S>(
    bucket: u32,
    entries: E,
    siblings: S,
    key: &Hash32,
    root: &Hash32,
) -> Result<Option<Hash32>, StateProofError>
where
    E: ExactSizeIterator<Item = StateEntry> + Clone,
    S: ExactSizeIterator<Item = Hash32>,
{
    let want = u32::try_from(bucket_of(key)).expect("fewer than 2^32 buckets");
    if bucket != want {
        return Err(StateProofError::WrongBucket { got: bucket, want });
    }
    let depth = usize::try_from(STATE_BUCKET_BITS).expect("a small number");
    if siblings.len() != depth {
        return Err(StateProofError::WrongDepth {
            got: siblings.len(),
            want: depth,
        });
    }
    if entries.len() > STATE_PROOF_ENTRIES_MAX {
        return Err(StateProofError::TooManyEntries(entries.len()));
    }
    let mut previous: Option<Hash32> = None;
    for (k, _) in entries.clone() {
        let sorted = previous.is_none_or(|p| p < k);
        if !sorted || bucket_of(&k) != want as usize {
            return Err(StateProofError::BadEntries);
        }
        previous = Some(k);
    }
    let mut hash = bucket_hash_of(entries.clone());
    let mut i = want as usize;
    for sibling in siblings {
        hash = if i.is_multiple_of(2) {
            node_hash(&hash, &sibling)
        } else {
            node_hash(&sibling, &hash)
        };
        i /= 2;
    }
    if hash != *root {
        return Err(StateProofError::WrongRoot);
    }
    Ok(entries.into_iter().find(|(k, _)| k == key).map(|(_, v)| v))
}

impl StateProof {
    /// `bucket u32 | entry count u32 | (key [32] | value hash [32]) × count |
    /// sibling count u8 | sibling [32] × count`, siblings from the bucket up.
    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.bucket).count_u32(self.entries.len());
        for (key, value) in &self.entries {
            w.hash(key).hash(value);
        }
        w.u8(u8::try_from(self.siblings.len())
            .expect("a path to the root has STATE_BUCKET_BITS siblings"));
        for sibling in &self.siblings {
            w.hash(sibling);
        }
    }

    /// Reads a proof, refusing more entries than [`STATE_PROOF_ENTRIES_MAX`]
    /// before allocating; whether it proves anything is [`StateProof::verify`]'s.
    pub fn decode(r: &mut Reader<'_>) -> Result<StateProof, DecodeError> {
        Ok(StateProofBytes::read(r)?.to_proof())
    }
}

#[cfg(test)]
mod tests;
