//! A value of the current state, proved: a signed block header, the record
//! the state map holds for a key (or none) and the proof that leads from
//! that key to the header's state root. A device checks it offline against
//! the genesis hash and sequencer keys it holds, and so takes a balance, a
//! nonce, a channel's terms or a peer's messaging key from no one's word.
//!
//! Bytes: `header [HEADER_BYTES] | record flag u8 (1: u16 length | record) |
//! proof` (the proof as in [`StateProof::encode`]). A receipt proves a past
//! event; this proves what holds at the header's height, so a client also
//! refuses a header older than one it has already checked
//! ([`StateAnswerError::Stale`]).

use crate::prelude::*;

use thiserror::Error;

use crate::account::AccountId;
use crate::block::BlockHeader;
use crate::channel::{Channel, ChannelId};
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::receipt::ReceiptError;
use crate::state_map::{self, AccountRecord};
use crate::state_tree::{StateProof, StateProofBytes, StateProofError};
use crate::types::BlockHeight;

/// The longest record an answer may carry: a stream's record at its
/// longest, the longest record of any kind.
pub const STATE_RECORD_BYTES_MAX: usize = crate::stream::record::STREAM_RECORD_BYTES_MAX;
const _: () = assert!(crate::state_map::ACCOUNT_RECORD_BYTES_MAX <= STATE_RECORD_BYTES_MAX);
const _: () = assert!(crate::market::hold::HOLD_RECORD_BYTES_MAX <= STATE_RECORD_BYTES_MAX);
const _: () = assert!(crate::market::offer::OFFER_RECORD_BYTES_MAX <= STATE_RECORD_BYTES_MAX);
const _: () =
    assert!(crate::market::reputation::REPUTATION_RECORD_BYTES_MAX <= STATE_RECORD_BYTES_MAX);
const _: () = assert!(crate::resource::class::CLASS_RECORD_BYTES_MAX <= STATE_RECORD_BYTES_MAX);
const _: () = assert!(crate::resource::order::ORDER_RECORD_BYTES_MAX <= STATE_RECORD_BYTES_MAX);
const _: () = assert!(crate::resource::lease::LEASE_RECORD_BYTES_MAX <= STATE_RECORD_BYTES_MAX);

/// What a client checks a state answer against: the network and the lowest
/// height it may be from.
#[derive(Clone, Copy, Debug)]
pub struct StateCheck<'a> {
    pub genesis: &'a Hash32,
    pub sequencers: &'a [AccountId],
    /// The highest height the client has already seen checked; an answer
    /// from below it is stale.
    pub min_height: BlockHeight,
}

/// A key's record at a signed header, with its proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateAnswer {
    pub header: BlockHeader,
    /// The record the key holds, or `None` when it holds none.
    pub record: Option<Vec<u8>>,
    pub proof: StateProof,
}

/// Why a state answer proves nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StateAnswerError {
    #[error("the answer's header is not one this network signed: {0}")]
    Header(ReceiptError),
    #[error("the answer is from height {height}, below height {seen} already seen: a stale state")]
    Stale {
        height: BlockHeight,
        seen: BlockHeight,
    },
    #[error("the state proof does not hold: {0}")]
    Proof(StateProofError),
    #[error("the record sent does not hash to the value the proof commits to")]
    RecordMismatch,
    #[error("the proof says the key holds a value, and no record came with it")]
    MissingRecord,
    #[error("the record does not decode: {0}")]
    BadRecord(DecodeError),
    #[error("the answer does not decode: {0}")]
    Malformed(DecodeError),
}

impl StateAnswerError {
    pub fn code(&self) -> &'static str {
        match self {
            StateAnswerError::Header(e) => e.code(),
            StateAnswerError::Stale { .. } => "stale_state",
            StateAnswerError::Proof(e) => e.code(),
            StateAnswerError::RecordMismatch | StateAnswerError::MissingRecord => {
                "proof_record_mismatch"
            }
            StateAnswerError::BadRecord(_) => "bad_record",
            StateAnswerError::Malformed(e) => e.code(),
        }
    }
}

impl StateAnswer {
    pub fn encode(&self, w: &mut Writer) {
        self.header.encode(w);
        match &self.record {
            Some(record) => {
                w.u8(1).bytes_u16(record);
            }
            None => {
                w.u8(0);
            }
        }
        self.proof.encode(w);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(
            self.proof
                .entries
                .len()
                .saturating_mul(64)
                .saturating_add(512),
        );
        self.encode(&mut w);
        w.into_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<StateAnswer, DecodeError> {
        let mut r = Reader::new(bytes);
        let (header, record, proof) = read_parts(&mut r)?;
        r.finish("state answer")?;
        Ok(StateAnswer {
            header,
            record: record.map(<[u8]>::to_vec),
            proof: proof.to_proof(),
        })
    }

    /// What account `id` holds at the answer's header, checked: `None` is a
    /// proved absence (no money, next nonce 0).
    pub fn verify_account(
        &self,
        id: &AccountId,
        check: &StateCheck<'_>,
    ) -> Result<Option<AccountRecord>, StateAnswerError> {
        let key = state_map::account_key(id);
        let record = self.checked_record(&key, check, state_map::account_value_hash)?;
        record
            .map(|r| AccountRecord::from_record(r).map_err(StateAnswerError::BadRecord))
            .transpose()
    }

    /// What channel `id` is at the answer's header, checked: `None` is a
    /// proved absence (no such channel was ever opened).
    pub fn verify_channel(
        &self,
        id: &ChannelId,
        check: &StateCheck<'_>,
    ) -> Result<Option<Channel>, StateAnswerError> {
        let key = state_map::channel_key(id);
        let record = self.checked_record(&key, check, state_map::channel_value_hash)?;
        record
            .map(|r| Channel::from_record(r).map_err(StateAnswerError::BadRecord))
            .transpose()
    }

    /// What open stream `id` is at the answer's header, checked: `None` is
    /// a proved absence (never opened, or closed since).
    pub fn verify_stream(
        &self,
        id: &crate::stream::StreamId,
        check: &StateCheck<'_>,
    ) -> Result<Option<crate::stream::Stream>, StateAnswerError> {
        let key = state_map::stream_key(id);
        let record = self.checked_record(&key, check, state_map::stream_value_hash)?;
        record
            .map(|r| crate::stream::Stream::from_record(r).map_err(StateAnswerError::BadRecord))
            .transpose()
    }

    /// What open hold `id` is at the answer's header, checked: `None` is a
    /// proved absence (never created, or ended since).
    pub fn verify_hold(
        &self,
        id: &crate::market::HoldId,
        check: &StateCheck<'_>,
    ) -> Result<Option<crate::market::Hold>, StateAnswerError> {
        let key = state_map::hold_key(id);
        let record = self.checked_record(&key, check, state_map::hold_value_hash)?;
        record
            .map(|r| crate::market::Hold::from_record(r).map_err(StateAnswerError::BadRecord))
            .transpose()
    }

    /// What listed offer `id` is at the answer's header, checked: `None` is
    /// a proved absence (never listed, or closed since).
    pub fn verify_offer(
        &self,
        id: &crate::market::OfferId,
        check: &StateCheck<'_>,
    ) -> Result<Option<crate::market::Offer>, StateAnswerError> {
        let key = state_map::offer_key(id);
        let record = self.checked_record(&key, check, state_map::offer_value_hash)?;
        record
            .map(|r| crate::market::Offer::from_record(r).map_err(StateAnswerError::BadRecord))
            .transpose()
    }

    /// `provider`'s reputation in `category` at the answer's header,
    /// checked: `None` is a proved absence (no outcome recorded yet). A
    /// record for another provider or category is refused.
    pub fn verify_reputation(
        &self,
        provider: &AccountId,
        category: &str,
        check: &StateCheck<'_>,
    ) -> Result<Option<crate::market::Reputation>, StateAnswerError> {
        let key = state_map::reputation_key(provider, category);
        let record = self.checked_record(&key, check, state_map::reputation_value_hash)?;
        let rep = record
            .map(|r| crate::market::Reputation::from_record(r).map_err(StateAnswerError::BadRecord))
            .transpose()?;
        match rep {
            Some(r) if r.provider != *provider || r.category != category => {
                Err(StateAnswerError::RecordMismatch)
            }
            other => Ok(other),
        }
    }

    /// Resource class `name` at the answer's header, checked: `None` is a
    /// proved absence (never registered). A record of another class is
    /// refused.
    pub fn verify_class(
        &self,
        name: &str,
        check: &StateCheck<'_>,
    ) -> Result<Option<crate::resource::ResourceClass>, StateAnswerError> {
        let key = state_map::class_key(name);
        let record = self.checked_record(&key, check, state_map::class_value_hash)?;
        let class = record
            .map(|r| {
                crate::resource::ResourceClass::from_record(r).map_err(StateAnswerError::BadRecord)
            })
            .transpose()?;
        match class {
            Some(c) if c.name != name => Err(StateAnswerError::RecordMismatch),
            other => Ok(other),
        }
    }

    /// What resting order `id` is at the answer's header, checked: `None`
    /// is a proved absence (never placed, filled, expired and ended, or
    /// cancelled).
    pub fn verify_order(
        &self,
        id: &crate::resource::OrderId,
        check: &StateCheck<'_>,
    ) -> Result<Option<crate::resource::Order>, StateAnswerError> {
        let key = state_map::order_key(id);
        let record = self.checked_record(&key, check, state_map::order_value_hash)?;
        record
            .map(|r| crate::resource::Order::from_record(r).map_err(StateAnswerError::BadRecord))
            .transpose()
    }

    /// What open lease `id` is at the answer's header, checked: `None` is a
    /// proved absence (never made, or ended since).
    pub fn verify_lease(
        &self,
        id: &crate::resource::LeaseId,
        check: &StateCheck<'_>,
    ) -> Result<Option<crate::resource::Lease>, StateAnswerError> {
        let key = state_map::lease_key(id);
        let record = self.checked_record(&key, check, state_map::lease_value_hash)?;
        record
            .map(|r| crate::resource::Lease::from_record(r).map_err(StateAnswerError::BadRecord))
            .transpose()
    }

    fn checked_record(
        &self,
        key: &Hash32,
        check: &StateCheck<'_>,
        value_hash: fn(&[u8]) -> Hash32,
    ) -> Result<Option<&[u8]>, StateAnswerError> {
        let committed =
            checked_commitment(&self.header, check, |root| self.proof.verify(key, root))?;
        matched_record(committed, self.record.as_deref(), value_hash)
    }
}

/// A state answer checked in place: the header it was checked against and
/// the key's record, borrowed from the answer's bytes (`None`: a proved
/// absence).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedState<'a> {
    pub header: BlockHeader,
    pub record: Option<&'a [u8]>,
}

/// [`StateAnswer::verify_account`] on the answer's bytes as they are, with no
/// allocation: the record comes back undecoded
/// ([`AccountRecord::from_record`] reads it).
pub fn check_account_bytes<'a>(
    bytes: &'a [u8],
    id: &AccountId,
    check: &StateCheck<'_>,
) -> Result<CheckedState<'a>, StateAnswerError> {
    check_bytes(
        bytes,
        &state_map::account_key(id),
        check,
        state_map::account_value_hash,
    )
}

/// [`StateAnswer::verify_channel`] on the answer's bytes, with no allocation.
pub fn check_channel_bytes<'a>(
    bytes: &'a [u8],
    id: &ChannelId,
    check: &StateCheck<'_>,
) -> Result<CheckedState<'a>, StateAnswerError> {
    check_bytes(
        bytes,
        &state_map::channel_key(id),
        check,
        state_map::channel_value_hash,
    )
}

fn check_bytes<'a>(
    bytes: &'a [u8],
    key: &Hash32,
    check: &StateCheck<'_>,
    value_hash: fn(&[u8]) -> Hash32,
) -> Result<CheckedState<'a>, StateAnswerError> {
    let mut r = Reader::new(bytes);
    let (header, record, proof) = read_parts(&mut r).map_err(StateAnswerError::Malformed)?;
    r.finish("state answer")
        .map_err(StateAnswerError::Malformed)?;
    let committed = checked_commitment(&header, check, |root| proof.verify(key, root))?;
    let record = matched_record(committed, record, value_hash)?;
    Ok(CheckedState { header, record })
}

/// `header | record flag (| u16 length | record) | proof`, read in place.
fn read_parts<'a>(
    r: &mut Reader<'a>,
) -> Result<(BlockHeader, Option<&'a [u8]>, StateProofBytes<'a>), DecodeError> {
    let header = BlockHeader::decode(r)?;
    let record = match r.u8("record flag")? {
        0 => None,
        1 => Some(r.bytes_u16("record", STATE_RECORD_BYTES_MAX)?),
        _ => {
            return Err(DecodeError::InvalidValue {
                what: "record flag",
            })
        }
    };
    let proof = StateProofBytes::read(r)?;
    Ok((header, record, proof))
}

/// The header is this network's and not stale; then what the proof says the
/// key holds under the header's state root.
fn checked_commitment(
    header: &BlockHeader,
    check: &StateCheck<'_>,
    prove: impl FnOnce(&Hash32) -> Result<Option<Hash32>, StateProofError>,
) -> Result<Option<Hash32>, StateAnswerError> {
    header
        .verify_for(check.genesis, check.sequencers)
        .map_err(StateAnswerError::Header)?;
    if header.height < check.min_height {
        return Err(StateAnswerError::Stale {
            height: header.height,
            seen: check.min_height,
        });
    }
    prove(&header.state_root).map_err(StateAnswerError::Proof)
}

/// The record sent matches what the proof commits to.
fn matched_record(
    committed: Option<Hash32>,
    record: Option<&[u8]>,
    value_hash: fn(&[u8]) -> Hash32,
) -> Result<Option<&[u8]>, StateAnswerError> {
    match (committed, record) {
        (None, None) => Ok(None),
        (Some(want), Some(record)) if value_hash(record) == want => Ok(Some(record)),
        (Some(_), None) => Err(StateAnswerError::MissingRecord),
        (_, Some(_)) => Err(StateAnswerError::RecordMismatch),
    }
}
