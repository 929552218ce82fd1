//! Selling and buying data streams on a [`Device`](crate::device::Device)
//! (docs/streams.md).
//!
//! A seller device registers a stream (`Device::open_stream`), opens a
//! [`Seller`] with the owner's signed consent record, and pushes readings:
//! only what the record allows leaves, sealed under the epoch's key and
//! signed a chunk at a time on `ting/v1/streams/{seller}/{stream}`. Key
//! requests reach the app as `Message::KeyRequest`; [`Seller::answer`]
//! sells the key when the buyer's channel has paid for it.
//!
//! A buyer opens a [`Buyer`] with a channel to the seller and a budget; the
//! app hands it each `Message::Chunk`, `Message::KeyGrant` and
//! `Message::KeyRefusal`; it checks every chunk, buys each epoch's key once
//! and answers the points it opened. [`export`] writes what was bought as
//! CSV or JSON.
//!
//! Both keep what matters in append-only logs ([`log`]) so that a killed
//! process neither sells a key twice, nor loses a paid point, nor pays
//! twice for one epoch.

pub mod buyer;
pub mod export;
pub mod follow;
pub mod log;
pub mod seller;

use ting_core::DecodeError;

pub use buyer::{Bought, Buyer, BuyerSetup, BuyerStats};
pub use seller::{Answered, Seller, SellerSetup, SellerStats};

use crate::device::{ChannelError, SendError};
use crate::error::StoreError;

/// Why a seller could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SellerError {
    #[error("the consent record's hash is not the one the stream's terms name")]
    ConsentMismatch,
    #[error("the consent record or revocation is not for this device, or not by its owner")]
    NotOurConsent,
    #[error("the consent record is not valid: {0}")]
    Consent(String),
    #[error("a chunk holds 1 to 256 points, not {0}")]
    ChunkSize(usize),
    #[error("{op} failed: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stream's log does not decode: {0}")]
    Damaged(DecodeError),
    #[error("the stream's log is out of order: it is damaged")]
    LogOrder,
    #[error("a chunk could not take a point: {0}")]
    Chunk(String),
    #[error("the key could not be sealed to the buyer: {0}")]
    Seal(String),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("a delivery record could not be put on the ledger: {0}")]
    Submit(String),
}

impl SellerError {
    pub fn code(&self) -> &'static str {
        match self {
            SellerError::ConsentMismatch => "consent_mismatch",
            SellerError::NotOurConsent => "not_our_consent",
            SellerError::Consent(_) => "invalid_consent",
            SellerError::ChunkSize(_) => "bad_chunk_size",
            SellerError::Io { .. } => "io",
            SellerError::Store(_) => "store",
            SellerError::Damaged(_) | SellerError::LogOrder => "damaged_log",
            SellerError::Chunk(_) => "chunk",
            SellerError::Seal(_) => "seal",
            SellerError::Send(_) => "send",
            SellerError::Submit(_) => "submit",
        }
    }
}

/// Why a buyer could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuyerError {
    #[error("the stream could not be read from the ledger: {0}")]
    Lookup(String),
    #[error("the ledger proves no open stream has this id")]
    NotOpen,
    #[error("{op} failed: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the buyer's log does not decode: {0}")]
    Damaged(DecodeError),
    #[error("an amount overflowed")]
    Overflow,
    #[error("{} does not hold a channel id", .0.display())]
    BadChannelFile(std::path::PathBuf),
    #[error("this device already follows as many streams as it may (64)")]
    TooManyStreams,
    #[error(transparent)]
    Channel(#[from] ChannelError),
    #[error(transparent)]
    Send(#[from] SendError),
}

impl BuyerError {
    pub fn code(&self) -> &'static str {
        match self {
            BuyerError::Lookup(_) => "lookup",
            BuyerError::NotOpen => "unknown_stream",
            BuyerError::Io { .. } => "io",
            BuyerError::Store(_) => "store",
            BuyerError::Damaged(_) => "damaged_log",
            BuyerError::Overflow => "overflow",
            BuyerError::BadChannelFile(_) => "bad_file",
            BuyerError::TooManyStreams => "too_many_streams",
            BuyerError::Channel(_) => "channel",
            BuyerError::Send(_) => "send",
        }
    }
}
