//! What a client trusts a network by, and receipts checked against it.
//!
//! A [`Trust`] is the network id, the sequencer keys and, when known, the
//! genesis hash: from a genesis file (what a deployed device or an auditor
//! holds) or, for development only, from a node's `/v1/status` (trust on
//! first use). A receipt that fails because it belongs to another network is
//! told apart from one that is broken, since the first is nearly always a
//! mix-up (a node restarted on a new dev data directory, the wrong genesis
//! file) and the remedy is different.

use thiserror::Error;
use ting_core::{AccountId, BlockHeight, Genesis, Hash32, NetworkId, Receipt, ReceiptError};

/// The keys and ids a client checks a network's signatures against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trust {
    pub network: NetworkId,
    pub sequencers: Vec<AccountId>,
    /// The genesis hash, when known: block 1 must follow it.
    pub genesis_hash: Option<Hash32>,
    /// Where this trust came from, for messages (`genesis ./dev/genesis.json`).
    pub source: String,
}

impl Trust {
    /// Trust in the network `genesis` starts, read from `source`.
    pub fn from_genesis(genesis: &Genesis, source: impl Into<String>) -> Trust {
        Trust {
            network: genesis.network,
            sequencers: genesis.sequencers.clone(),
            genesis_hash: Some(genesis.hash()),
            source: source.into(),
        }
    }

    /// Checks `receipt`: its block is this network's, signed by one of its
    /// sequencers, and the Merkle path leads to the signed root.
    pub fn check(&self, receipt: &Receipt) -> Result<(), CheckError> {
        let h = &receipt.header;
        let after_genesis =
            h.height == BlockHeight(1) && self.genesis_hash.is_some_and(|g| g != h.prev_hash);
        let foreign = h.network != self.network || !self.sequencers.contains(&h.sequencer);
        if foreign || after_genesis {
            return Err(CheckError::OtherNetwork {
                origin: self.source.clone(),
                network: h.network,
                signer: h.sequencer,
                trusted_network: self.network,
                trusted: self
                    .sequencers
                    .iter()
                    .map(AccountId::to_did)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        receipt.verify(self.network, &self.sequencers)?;
        Ok(())
    }
}

/// Why a receipt is not believed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CheckError {
    #[error(
        "the receipt is from another network than {origin}: its block is on network {network}, \
         signed by {signer}, but {origin} is network {trusted_network} with sequencer(s) {trusted}. \
         Was the node started from another genesis or data directory? \
         `ting status` shows the genesis hash a node serves"
    )]
    OtherNetwork {
        origin: String,
        network: NetworkId,
        signer: AccountId,
        trusted_network: NetworkId,
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
