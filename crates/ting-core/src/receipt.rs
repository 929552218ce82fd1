//! Receipts: proof that a transaction was applied in a block, checkable offline.
//!
//! A receipt carries the transaction hash, the signed block header and the
//! Merkle path from the transaction to the header's root. Whoever holds the
//! network's sequencer keys (from the genesis) can check it without trusting
//! the node that served it: the header signature shows a sequencer committed
//! to the root, and the path shows the transaction is under that root.

use thiserror::Error;

use crate::account::AccountId;
use crate::block::BlockHeader;
use crate::hash::Hash32;
use crate::merkle::{MerkleProof, ProofError};
use crate::types::NetworkId;

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
    #[error("the block is from network {got}, expected {want}")]
    WrongNetwork { got: NetworkId, want: NetworkId },
    #[error("the block was signed by {0}, which is not a sequencer of this network")]
    UnknownSequencer(AccountId),
    #[error("the block header's signature does not verify")]
    BadHeaderSignature,
    #[error("the proof's leaf count {proof} differs from the header's {header}")]
    CountMismatch { proof: u32, header: u32 },
    #[error("the Merkle proof does not lead to the header's root: {0}")]
    BadProof(ProofError),
}

impl ReceiptError {
    pub fn code(&self) -> &'static str {
        match self {
            ReceiptError::WrongNetwork { .. } => "wrong_network",
            ReceiptError::UnknownSequencer(_) => "unknown_sequencer",
            ReceiptError::BadHeaderSignature => "bad_header_signature",
            ReceiptError::CountMismatch { .. } | ReceiptError::BadProof(_) => "bad_proof",
        }
    }
}

impl Receipt {
    /// Checks the header's signer and signature, then the Merkle path.
    pub fn verify(&self, network: NetworkId, sequencers: &[AccountId]) -> Result<(), ReceiptError> {
        if self.header.network != network {
            return Err(ReceiptError::WrongNetwork {
                got: self.header.network,
                want: network,
            });
        }
        if !sequencers.contains(&self.header.sequencer) {
            return Err(ReceiptError::UnknownSequencer(self.header.sequencer));
        }
        self.header
            .verify_signature()
            .map_err(|_| ReceiptError::BadHeaderSignature)?;
        if self.proof.count != self.header.tx_count {
            return Err(ReceiptError::CountMismatch {
                proof: self.proof.count,
                header: self.header.tx_count,
            });
        }
        self.proof
            .verify(&self.tx_hash, &self.header.tx_root)
            .map_err(ReceiptError::BadProof)
    }
}
