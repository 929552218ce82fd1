//! The agent's error enums, one per operation, each variant with a stable code.

use std::io;

use thiserror::Error;
use ting_core::channel::payee::{ClaimedError, PaymentError};
use ting_core::channel::payer::{PayError, RestoreError, TopUpError};
use ting_core::DecodeError;

/// Why a channel file could not be created, opened or written.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{op} failed: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("a channel file already exists at that path")]
    Exists,
    #[error("the path has no parent directory")]
    BadPath,
    #[error("the channel file is {len} bytes, not two slots: it is not a channel file")]
    BadSize { len: u64 },
    #[error("neither slot of the channel file holds a whole record: the file is damaged")]
    NoValidSlot,
    #[error("the record is {len} bytes; a slot holds {max}")]
    TooLarge { len: usize, max: usize },
    #[error("the record's sequence number is exhausted")]
    SeqExhausted,
    #[error("an earlier write failed; reopen the channel to learn what is on disk")]
    Poisoned,
    #[error("the channel file's record does not decode: {0}")]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Invalid(#[from] RestoreError),
    #[error("the file is for channel {found}, not the one asked for")]
    WrongChannel { found: String },
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Io { .. } => "io",
            StoreError::Exists => "channel_file_exists",
            StoreError::BadPath => "bad_path",
            StoreError::BadSize { .. } => "bad_file_size",
            StoreError::NoValidSlot => "no_valid_slot",
            StoreError::TooLarge { .. } => "record_too_large",
            StoreError::SeqExhausted => "seq_exhausted",
            StoreError::Poisoned => "store_poisoned",
            StoreError::Decode(e) => e.code(),
            StoreError::Invalid(e) => e.code(),
            StoreError::WrongChannel { .. } => "wrong_channel",
        }
    }
}

/// Why a durable payment was not made. If `Store`, nothing was handed out.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DurablePayError {
    #[error(transparent)]
    Refused(#[from] PayError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DurablePayError {
    pub fn code(&self) -> &'static str {
        match self {
            DurablePayError::Refused(e) => e.code(),
            DurablePayError::Store(e) => e.code(),
        }
    }
}

/// Why a received payment was not accepted. Deliver nothing.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DurableAcceptError {
    #[error("the payment does not decode: {0}")]
    Malformed(#[from] DecodeError),
    #[error(transparent)]
    Refused(#[from] PaymentError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DurableAcceptError {
    pub fn code(&self) -> &'static str {
        match self {
            DurableAcceptError::Malformed(e) => e.code(),
            DurableAcceptError::Refused(e) => e.code(),
            DurableAcceptError::Store(e) => e.code(),
        }
    }
}

/// Why a confirmed top-up could not be recorded durably.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DurableTopUpError {
    #[error(transparent)]
    Refused(#[from] TopUpError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DurableTopUpError {
    pub fn code(&self) -> &'static str {
        match self {
            DurableTopUpError::Refused(e) => e.code(),
            DurableTopUpError::Store(e) => e.code(),
        }
    }
}

/// Why a confirmed claim could not be recorded durably.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DurableClaimError {
    #[error(transparent)]
    Refused(#[from] ClaimedError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DurableClaimError {
    pub fn code(&self) -> &'static str {
        match self {
            DurableClaimError::Refused(e) => e.code(),
            DurableClaimError::Store(e) => e.code(),
        }
    }
}
