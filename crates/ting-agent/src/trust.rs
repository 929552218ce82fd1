//! What a client trusts a network by, and receipts checked against it.
//!
//! A [`Trust`] is the genesis hash and the sequencer keys: from a genesis
//! file (what a deployed device or an auditor holds), given by hand, or, for
//! development only, from a node's `/v1/status` (trust on first use). A receipt that fails because it belongs to another network is
//! told apart from one that is broken, since the first is nearly always a
//! mix-up (a node restarted on a new dev data directory, the wrong genesis
//! file) and the remedy is different.

use thiserror::Error;
use ting_core::{AccountId, Genesis, Hash32, Receipt, ReceiptError};

/// The keys and ids a client checks a network's signatures against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trust {
    /// The genesis hash: every header names it.
    pub genesis_hash: Hash32,
    pub sequencers: Vec<AccountId>,
    /// Where this trust came from, for messages (`genesis ./dev/genesis.json`).
    pub source: String,
}

impl Trust {
    /// Trust in the network `genesis` starts, read from `source`.
    pub fn from_genesis(genesis: &Genesis, source: impl Into<String>) -> Trust {
        Trust {
            genesis_hash: genesis.hash(),
            sequencers: genesis.sequencers.clone(),
            source: source.into(),
        }
    }

    /// Checks `receipt`: its block is this network's, signed by one of its
    /// sequencers, and the Merkle path leads to the signed root.
    pub fn check(&self, receipt: &Receipt) -> Result<(), CheckError> {
        let h = &receipt.header;
        if h.genesis != self.genesis_hash || !self.sequencers.contains(&h.sequencer) {
            return Err(CheckError::OtherNetwork {
                origin: self.source.clone(),
                genesis: h.genesis.to_hex(),
                signer: h.sequencer.to_did(),
                trusted_genesis: self.genesis_hash.to_hex(),
                trusted: self
                    .sequencers
                    .iter()
                    .map(AccountId::to_did)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        receipt.verify(&self.genesis_hash, &self.sequencers)?;
        Ok(())
    }
}

/// Why a receipt is not believed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CheckError {
    #[error(
        "the receipt is from another network than {origin}: its block names genesis {genesis}, \
         signed by {signer}, but {origin} is genesis {trusted_genesis} with sequencer(s) {trusted}. \
         Was the node started from another genesis or data directory? \
         `ting status` shows the genesis hash a node serves"
    )]
    OtherNetwork {
        origin: String,
        genesis: String,
        signer: String,
        trusted_genesis: String,
        trusted: String,
    },
    #[error("the receipt does not verify: {0}")]
    Invalid(#[from] ReceiptError),
}

impl CheckError {
    pub fn code(&self) -> &'static str {
        match self {
            CheckError::OtherNetwork { .. } => "genesis_mismatch",
            CheckError::Invalid(e) => e.code(),
        }
    }
}
