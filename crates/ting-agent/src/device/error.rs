//! The device's error enums, one per operation, each variant with a stable code.

use thiserror::Error;
use ting_core::envelope::EnvelopeError;
use ting_core::{DecodeError, Hash32, SignedTx, Timestamp};

use crate::client::HttpError;
use crate::error::{DurableAcceptError, DurablePayError, StoreError};
use crate::outbox::OutboxError;
use crate::tls::TlsSetupError;

/// Why a device could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("the device's outbox: {0}")]
    Outbox(#[from] OutboxError),
    #[error("the node URL: {0}")]
    Http(#[from] HttpError),
    #[error("the broker's TLS: {0}")]
    Tls(#[from] TlsSetupError),
    #[error("the device's messaging secret: {0}")]
    Secret(String),
    #[error(
        "no trusted sequencer key: the device could not tell the node's receipts from forgeries"
    )]
    NoSequencer,
    #[error(
        "a witness policy needs a broker: witnesses publish their attestations there (give the device a broker, or no witness policy)"
    )]
    WitnessesNeedBroker,
}

impl StartError {
    pub fn code(&self) -> &str {
        match self {
            StartError::Outbox(e) => e.code(),
            StartError::Http(e) => e.code(),
            StartError::Tls(e) => e.code(),
            StartError::Secret(_) => "bad_messaging_secret",
            StartError::NoSequencer => "no_sequencer",
            StartError::WitnessesNeedBroker => "witnesses_need_broker",
        }
    }
}

/// Why a transaction was not queued. Nothing was signed into the outbox.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum QueueError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("the device's next nonce is unknown and the node cannot be asked: {0}")]
    Nonce(HttpError),
    #[error("the sender's nonce is at its maximum")]
    NonceExhausted,
}

impl QueueError {
    pub fn code(&self) -> &str {
        match self {
            QueueError::Outbox(e) => e.code(),
            QueueError::Nonce(e) => e.code(),
            QueueError::NonceExhausted => "overflow",
        }
    }
}

/// How a queued transaction ended, if not in a block.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TxError {
    #[error("the ledger refused transaction {tx_hash}: {code}: {message}")]
    Refused {
        tx_hash: Hash32,
        code: String,
        message: String,
        /// `None`: it can never apply. `Some(t)`: refused on the state of the
        /// moment, so whoever holds its bytes could still make it apply until
        /// ledger time `t`, unless its nonce is used first (the device uses
        /// it for its next transaction).
        until: Option<Timestamp>,
    },
    #[error("the device stopped before transaction {0}'s outcome arrived; it stays in the outbox")]
    Stopped(Hash32),
}

impl TxError {
    pub fn code(&self) -> &str {
        match self {
            TxError::Refused { code, .. } => code,
            TxError::Stopped(_) => "device_stopped",
        }
    }

    /// A refusal of `tx` with `code`: final, or open until its `valid_until`.
    pub fn refused(tx: &SignedTx, code: String, message: String) -> TxError {
        let until = (!ting_core::tx::refusal_is_final(&code)).then(|| tx.valid_until());
        TxError::Refused {
            tx_hash: tx.hash(),
            code,
            message,
            until,
        }
    }

    /// Whether the transaction can never apply: a final refusal. A device
    /// that stopped may still see it apply.
    pub fn is_final(&self) -> bool {
        matches!(self, TxError::Refused { until: None, .. })
    }
}

/// Why a transaction was not queued, or not applied.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SubmitError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Tx(#[from] TxError),
}

impl SubmitError {
    pub fn code(&self) -> &str {
        match self {
            SubmitError::Queue(e) => e.code(),
            SubmitError::Tx(e) => e.code(),
        }
    }
}

/// Why a message was not queued for its recipient.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SendError {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("the recipient's messaging key cannot be read from the node: {0}")]
    KeyLookup(HttpError),
    #[error("the recipient {0} has published no messaging key; send it unencrypted or ask it to publish one")]
    NoMessagingKey(String),
    #[error("the recipient's messaging key on the ledger is not a valid key")]
    BadMessagingKey,
    #[error("encrypting the payload failed: {0}")]
    Seal(String),
    #[error("this device has no MQTT broker configured; messages need one")]
    NoBroker,
}

impl SendError {
    pub fn code(&self) -> &str {
        match self {
            SendError::Envelope(e) => e.code(),
            SendError::Outbox(e) => e.code(),
            SendError::KeyLookup(e) => e.code(),
            SendError::NoMessagingKey(_) => "no_messaging_key",
            SendError::BadMessagingKey => "bad_messaging_key",
            SendError::Seal(_) => "seal_failed",
            SendError::NoBroker => "no_broker",
        }
    }
}

/// Why a channel operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ChannelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pay(#[from] DurablePayError),
    #[error(transparent)]
    Submit(#[from] SubmitError),
    #[error(transparent)]
    Send(#[from] SendError),
    #[error("the channel cannot be read from the node: {0}")]
    Lookup(HttpError),
    #[error("the node's channel is not what this device expects: {0}")]
    BadChannel(String),
    #[error("the channel's terms or chain are refused: {0}")]
    Terms(String),
    #[error("this device is not the channel's {0}")]
    NotParty(&'static str),
    #[error("this device has not taken up channel {0} as its payee")]
    NotPayee(String),
    #[error("no claim can be planned: {0}")]
    Plan(#[from] ting_core::channel::payee::PlanError),
    #[error("the claim could not be recorded in the payee's file: {0}")]
    Record(#[from] crate::error::DurableClaimError),
}

impl ChannelError {
    pub fn code(&self) -> &str {
        match self {
            ChannelError::Store(e) => e.code(),
            ChannelError::Pay(e) => e.code(),
            ChannelError::Submit(e) => e.code(),
            ChannelError::Send(e) => e.code(),
            ChannelError::Lookup(e) => e.code(),
            ChannelError::BadChannel(_) => "bad_channel",
            ChannelError::Terms(_) => "bad_terms",
            ChannelError::NotParty(_) => "not_party",
            ChannelError::NotPayee(_) => "not_payee",
            ChannelError::Plan(e) => e.code(),
            ChannelError::Record(e) => e.code(),
        }
    }
}

/// Why a received envelope was dropped before the app saw it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InboxError {
    #[error(transparent)]
    Receive(#[from] ting_core::envelope::ReceiveError),
    #[error(
        "a node envelope (type {0:#06x}) from a key this device does not trust as a sequencer"
    )]
    UntrustedSender(u16),
    #[error("the envelope type {0:#06x} is not one this device knows")]
    UnknownType(u16),
    #[error("the payload is not what its type says: {0}")]
    BadPayload(DecodeError),
    #[error("a payment for a channel this device is not the payee of")]
    UnknownChannel,
    #[error("a payment not sent by the channel's payer")]
    NotPayer,
    #[error("the payment was refused: {0}")]
    Payment(#[from] DurableAcceptError),
    #[error("the channel's file cannot be read: {0}")]
    Store(#[from] StoreError),
}

impl InboxError {
    pub fn code(&self) -> &'static str {
        match self {
            InboxError::Receive(e) => e.code(),
            InboxError::UntrustedSender(_) => "untrusted_sender",
            InboxError::UnknownType(_) => "unknown_type",
            InboxError::BadPayload(_) => "bad_payload",
            InboxError::UnknownChannel => "unknown_channel",
            InboxError::NotPayer => "not_payer",
            InboxError::Payment(e) => e.code(),
            InboxError::Store(e) => e.code(),
        }
    }
}
