//! Receipts: proof that a transaction was applied in a block, checkable offline.
//!
//! A receipt carries the transaction hash, the signed block header and the
//! Merkle path from the transaction to the header's root. Whoever holds the
//! network's sequencer keys (from the genesis) can check it without trusting
//! the node that served it: the header signature shows a sequencer committed
//! to the root, and the path shows the transaction is under that root.

use crate::prelude::*;

use thiserror::Error;

use crate::account::AccountId;
use crate::block::{BlockHeader, HEADER_BYTES};
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::{self, Hash32};
use crate::limits::MERKLE_PROOF_DEPTH_MAX;
use crate::merkle::{self, MerkleProof, ProofError};

/// A transaction's inclusion in a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub tx_hash: Hash32,
    pub proof: MerkleProof,
    pub header: BlockHeader,
}

/// Why a receipt does not prove inclusion.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReceiptError {
    #[error("the block is of the network of genesis {got}, expected {want}")]
    WrongNetwork { got: Hash32, want: Hash32 },
    #[error("the block was signed by {0}, which is not a sequencer of this network")]
    UnknownSequencer(AccountId),
    #[error("the block header's signature does not verify")]
    BadHeaderSignature,
    #[error("the proof's leaf count {proof} differs from the header's {header}")]
    CountMismatch { proof: u32, header: u32 },
    #[error("the Merkle proof does not lead to the header's root: {0}")]
    BadProof(ProofError),
    #[error("the receipt does not decode: {0}")]
    Malformed(DecodeError),
}

impl ReceiptError {
    pub fn code(&self) -> &'static str {
        match self {
            ReceiptError::WrongNetwork { .. } => "wrong_network",
            ReceiptError::UnknownSequencer(_) => "unknown_sequencer",
            ReceiptError::BadHeaderSignature => "bad_header_signature",
            ReceiptError::CountMismatch { .. } | ReceiptError::BadProof(_) => "bad_proof",
            ReceiptError::Malformed(e) => e.code(),
        }
    }
}

/// What receipt bytes checked in place prove: the transaction `tx_hash` is
/// in the block whose (checked) header this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedReceipt {
    pub tx_hash: Hash32,
    pub header: BlockHeader,
}

/// Decodes and checks [`Receipt::encode`] bytes as they are, with no
/// allocation: what firmware does with a receipt that came over MQTT. The
/// checks are [`Receipt::verify`]'s.
pub fn check_receipt_bytes(
    bytes: &[u8],
    genesis: &Hash32,
    sequencers: &[AccountId],
) -> Result<CheckedReceipt, ReceiptError> {
    let parts = ReceiptParts::parse(bytes).map_err(ReceiptError::Malformed)?;
    let siblings = hash::hashes_in(parts.siblings);
    check_parts(
        &parts.tx_hash,
        &parts.header,
        (parts.index, parts.count),
        siblings,
        genesis,
        sequencers,
    )?;
    Ok(CheckedReceipt {
        tx_hash: parts.tx_hash,
        header: parts.header,
    })
}

/// The header's signer and signature, then the Merkle path.
fn check_parts<I: ExactSizeIterator<Item = Hash32>>(
    tx_hash: &Hash32,
    header: &BlockHeader,
    (index, count): (u32, u32),
    siblings: I,
    genesis: &Hash32,
    sequencers: &[AccountId],
) -> Result<(), ReceiptError> {
    header.verify_for(genesis, sequencers)?;
    check_path(tx_hash, header, (index, count), siblings)
}

/// The Merkle path under a header already checked.
fn check_path<I: ExactSizeIterator<Item = Hash32>>(
    tx_hash: &Hash32,
    header: &BlockHeader,
    (index, count): (u32, u32),
    siblings: I,
) -> Result<(), ReceiptError> {
    if count != header.tx_count {
        return Err(ReceiptError::CountMismatch {
            proof: count,
            header: header.tx_count,
        });
    }
    merkle::verify_path(tx_hash, index, count, siblings, &header.tx_root)
        .map_err(ReceiptError::BadProof)
}

/// A receipt's fields as they sit in its bytes; the siblings not yet split.
struct ReceiptParts<'a> {
    tx_hash: Hash32,
    header: BlockHeader,
    index: u32,
    count: u32,
    siblings: &'a [u8],
}

impl<'a> ReceiptParts<'a> {
    fn parse(bytes: &'a [u8]) -> Result<ReceiptParts<'a>, DecodeError> {
        let mut r = Reader::new(bytes);
        let tx_hash = r.hash("tx_hash")?;
        let header = BlockHeader::decode(&mut r)?;
        let index = r.u32("proof index")?;
        let count = r.u32("proof count")?;
        let depth = usize::from(r.u8("proof sibling count")?);
        if depth > MERKLE_PROOF_DEPTH_MAX {
            return Err(DecodeError::TooLong {
                what: "proof siblings",
                len: depth,
                max: MERKLE_PROOF_DEPTH_MAX,
            });
        }
        let siblings = r.take(depth.saturating_mul(32), "proof sibling")?;
        r.finish("receipt")?;
        Ok(ReceiptParts {
            tx_hash,
            header,
            index,
            count,
            siblings,
        })
    }
}

impl Receipt {
    /// Checks the header's signer and signature, then the Merkle path.
    pub fn verify(&self, genesis: &Hash32, sequencers: &[AccountId]) -> Result<(), ReceiptError> {
        check_parts(
            &self.tx_hash,
            &self.header,
            (self.proof.index, self.proof.count),
            self.proof.siblings.iter().copied(),
            genesis,
            sequencers,
        )
    }

    /// Checks the Merkle path only: for a receipt whose header (the same
    /// bytes, signature included) the caller has already checked with
    /// [`Receipt::verify`] or [`BlockHeader::verify_for`].
    pub fn verify_path(&self) -> Result<(), ReceiptError> {
        check_path(
            &self.tx_hash,
            &self.header,
            (self.proof.index, self.proof.count),
            self.proof.siblings.iter().copied(),
        )
    }

    /// `tx_hash [32] | header [HEADER_BYTES] | index u32 | count u32 |
    /// sibling count u8 | sibling [32] × count`: the receipt a node sends
    /// over MQTT (docs/mqtt.md), checkable as it is.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(
            (HEADER_BYTES + 41).saturating_add(self.proof.siblings.len().saturating_mul(32)),
        );
        w.hash(&self.tx_hash);
        self.header.encode(&mut w);
        w.u32(self.proof.index).u32(self.proof.count);
        w.u8(u8::try_from(self.proof.siblings.len())
            .expect("a proof has at most MERKLE_PROOF_DEPTH_MAX siblings"));
        for sibling in &self.proof.siblings {
            w.hash(sibling);
        }
        w.into_bytes()
    }

    /// Reads [`Receipt::encode`] bytes; whether they prove anything is [`Receipt::verify`]'s.
    pub fn decode(bytes: &[u8]) -> Result<Receipt, DecodeError> {
        let parts = ReceiptParts::parse(bytes)?;
        let siblings = hash::hashes_in(parts.siblings).collect();
        Ok(Receipt {
            tx_hash: parts.tx_hash,
            proof: MerkleProof {
                index: parts.index,
                count: parts.count,
                siblings,
            },
            header: parts.header,
        })
    }
}

impl BlockHeader {
    /// Checks that a sequencer of the network of `genesis` signed this header.
    pub fn verify_for(
        &self,
        genesis: &Hash32,
        sequencers: &[AccountId],
    ) -> Result<(), ReceiptError> {
        if self.genesis != *genesis {
            return Err(ReceiptError::WrongNetwork {
                got: self.genesis,
                want: *genesis,
            });
        }
        if !sequencers.contains(&self.sequencer) {
            return Err(ReceiptError::UnknownSequencer(self.sequencer));
        }
        self.verify_signature()
            .map_err(|_| ReceiptError::BadHeaderSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{Block, BlockDraft};
    use crate::keys::Keypair;
    use crate::merkle::MerkleTree;
    use crate::types::{BlockHeight, Timestamp};

    #[test]
    fn a_receipt_round_trips_in_bytes_and_verifies_only_for_its_network() {
        let key = Keypair::from_seed([8; 32]);
        let genesis = Hash32([1; 32]);
        let draft = BlockDraft {
            genesis,
            height: BlockHeight(4),
            epoch: 0,
            prev_hash: Hash32([2; 32]),
            timestamp: Timestamp(9),
            state_root: Hash32([3; 32]),
        };
        let header = Block::seal(draft, Vec::new(), &key).header;
        // A header over no transactions proves nothing; use one over three hashes.
        let hashes = [Hash32([4; 32]), Hash32([5; 32]), Hash32([6; 32])];
        let mut header = BlockHeader {
            tx_root: crate::merkle::root(&hashes),
            tx_count: 3,
            ..header
        };
        header.sign(&key);
        let receipt = Receipt {
            tx_hash: hashes[2],
            proof: MerkleTree::new(&hashes).proof(2).expect("in range"),
            header,
        };
        let bytes = receipt.encode();
        assert_eq!(Receipt::decode(&bytes), Ok(receipt.clone()));
        assert!(Receipt::decode(&bytes[..bytes.len() - 1]).is_err());
        let sequencers = [key.account()];
        assert_eq!(receipt.verify(&genesis, &sequencers), Ok(()));
        assert_eq!(
            receipt
                .verify(&Hash32([9; 32]), &sequencers)
                .map_err(|e| e.code()),
            Err("wrong_network")
        );
    }
}
