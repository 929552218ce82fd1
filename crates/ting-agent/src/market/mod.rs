//! Buying and selling services between machines (docs/market.md): a
//! [`Buyer`] calls for proposals, ranks them by its owner's [`Policy`],
//! pays the best into an escrow hold and releases it on its own device's
//! evidence; a [`Provider`] answers calls with a pricing function, takes
//! the job on once the hold is on the ledger, and presents the evidence
//! that pays it.
//!
//! Both keep each call's state in a small file (`contract`), written
//! before anything that depends on it leaves the device, and every
//! transaction and envelope goes through the device's durable outbox: a
//! crash at any point resumes from the file on the next start, and a hold
//! ends released or refunded, once. Neither acts on the node's word: holds
//! and reputations are read with their state proofs.

pub mod buyer;
pub mod contract;
pub mod policy;
pub mod provider;

use thiserror::Error;
use ting_core::Hash32;

pub use buyer::{Buyer, BuyerEvent, Need};
pub use policy::{Candidate, Policy, Skip};
pub use provider::{Provider, ProviderConfig, ProviderEvent, Quote};

use crate::device::{QueueError, SendError, SubmitError};
use crate::HttpError;

/// Open contracts one buyer or provider keeps at once.
pub const CONTRACTS_OPEN_MAX: usize = 256;
/// Proposals one call keeps; more are declined.
pub const PROPOSALS_PER_CALL_MAX: usize = 32;

/// Why a market step did not happen. Nothing was lost: the contract file
/// says where the call stands.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MarketError {
    #[error("could not {op}: {source}")]
    Io {
        op: &'static str,
        source: std::io::Error,
    },
    #[error("the contract file {0} is damaged: it is left as it is for a person to look at")]
    Damaged(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Submit(#[from] SubmitError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("the node could not be asked: {0}")]
    Http(#[from] HttpError),
    #[error("the call is not valid: {0}")]
    BadCall(&'static str),
    #[error("no contract for call {0}")]
    UnknownContract(Hash32),
    #[error("{CONTRACTS_OPEN_MAX} contracts are open, the most one device keeps")]
    TooManyContracts,
    #[error("the ledger refused: {0}")]
    Refused(String),
    #[error("hold {hold} on the ledger is not what was agreed: {why}")]
    HoldMismatch { hold: String, why: &'static str },
}

impl MarketError {
    pub fn code(&self) -> &str {
        match self {
            MarketError::Io { .. } => "io",
            MarketError::Damaged(_) => "damaged_contract",
            MarketError::Queue(e) => e.code(),
            MarketError::Submit(e) => e.code(),
            MarketError::Send(e) => e.code(),
            MarketError::Http(e) => e.code(),
            MarketError::BadCall(_) => "bad_call",
            MarketError::UnknownContract(_) => "unknown_contract",
            MarketError::TooManyContracts => "too_many_contracts",
            MarketError::HoldMismatch { .. } => "hold_mismatch",
            MarketError::Refused(code) => code,
        }
    }
}
