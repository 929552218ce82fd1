//! The payer's error enums, one per operation, each variant with a stable code.

use thiserror::Error;

use super::ChainLenError;
use crate::amount::Amount;

/// Why a channel could not be set up for opening.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OpenError {
    #[error(transparent)]
    ChainLength(#[from] ChainLenError),
    #[error("the deposit does not cover every tick of the chain at its price")]
    DepositTooSmall,
    #[error("a tick must be worth something: the price is zero")]
    ZeroPrice,
    #[error("the payer state does not hold together: {0}")]
    Invalid(#[from] RestoreError),
}

impl OpenError {
    pub fn code(&self) -> &'static str {
        match self {
            OpenError::ChainLength(e) => e.code(),
            OpenError::DepositTooSmall => "deposit_too_small",
            OpenError::ZeroPrice => "zero_price",
            OpenError::Invalid(e) => e.code(),
        }
    }
}

/// Why a payment was not made. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PayError {
    #[error("nothing to pay: zero units or a zero amount")]
    NothingToPay,
    #[error("the channel has expired; open a new one or top this one up")]
    Expired,
    #[error("only {remaining} ticks are left on the chain; top up with a new segment")]
    ChainExhausted { remaining: u64 },
    #[error("the payment would take the channel past its deposit; top it up")]
    OverDeposit,
    #[error("{units} units in one payment; the payee checks at most {max}")]
    TooLarge { units: u64, max: u64 },
    #[error("this channel is paid the other way (ticks versus vouchers)")]
    WrongMode,
    #[error("the key is not the channel's payer")]
    WrongKey,
}

impl PayError {
    pub fn code(&self) -> &'static str {
        match self {
            PayError::NothingToPay => "nothing_to_pay",
            PayError::Expired => "channel_expired",
            PayError::ChainExhausted { .. } => "chain_exhausted",
            PayError::OverDeposit => "over_deposit",
            PayError::TooLarge { .. } => "payment_too_large",
            PayError::WrongMode => "wrong_mode",
            PayError::WrongKey => "wrong_key",
        }
    }
}

/// Why a top-up could not be recorded. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TopUpError {
    #[error("the new expiry is earlier than the current one")]
    ExpiryEarlier,
    #[error("the deposit would overflow")]
    Overflow,
    #[error("a segment is already queued; pay into it before queueing another")]
    SegmentQueued,
    #[error("a voucher channel has no chain to extend")]
    WrongMode,
    #[error(transparent)]
    ChainLength(#[from] ChainLenError),
    #[error("the deposit would not cover every tick of every segment (needs {needed:?})")]
    DepositTooSmall { needed: Option<Amount> },
}

impl TopUpError {
    pub fn code(&self) -> &'static str {
        match self {
            TopUpError::ExpiryEarlier => "expiry_earlier",
            TopUpError::Overflow => "overflow",
            TopUpError::SegmentQueued => "segment_queued",
            TopUpError::WrongMode => "wrong_mode",
            TopUpError::ChainLength(e) => e.code(),
            TopUpError::DepositTooSmall { .. } => "deposit_too_small",
        }
    }
}

/// Why a persisted payer or payee state was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid channel state: {what}")]
pub struct RestoreError {
    pub what: &'static str,
}

impl RestoreError {
    pub fn code(&self) -> &'static str {
        "invalid_state"
    }
}
