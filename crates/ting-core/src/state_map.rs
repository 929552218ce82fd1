//! What the state map commits to: the key of every account and channel, and
//! the canonical record of its value.
//!
//! Keys are tagged hashes, `SHA-256("ting:state-key:account:v1" || id)` and
//! `SHA-256("ting:state-key:channel:v1" || channel id)`, so the two kinds can
//! never collide and new kinds (holds, streams, orders) take their own tag.
//! A value is committed as the tagged hash of its record:
//! `SHA-256("ting:state-value:account:v1" || record)` or the channel's
//! `"ting:state-value:channel:v1"`. The proof of a key gives that hash; the
//! record itself comes beside it and is checked against it
//! ([`crate::state_proof`]). An open stream is keyed by
//! `"ting:state-key:stream:v1"` and valued by `"ting:state-value:stream:v1"`
//! over its record ([`crate::stream::record`]); a closed one has no entry. Open holds,
//! listed offers and reputations take `hold`, `offer` and `reputation` in
//! the same two places ([`crate::market`]); resource classes (keyed by
//! name), resting orders and open leases take `class`, `order` and `lease`
//! ([`crate::resource`]).
//!
//! Account record (little-endian): balance u64, nonce u64, device flag u8
//! (1: the device part follows: owner [32], metadata u16 length and bytes,
//! limit flag u8 and limit u64 if set, frozen u8, spent day u64, spent u64),
//! messaging-key flag u8 (1: the X25519 key [32] follows). An account with
//! no record holds nothing and its next nonce is 0. The channel record is
//! [`crate::channel::record`].

use crate::prelude::*;

use crate::account::AccountId;
use crate::amount::Amount;
use crate::channel::{Channel, ChannelId};
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::limits::METADATA_BYTES_MAX;
use crate::market::{HoldId, OfferId};
use crate::resource::{LeaseId, OrderId};
use crate::seal::MessagingKey;
use crate::stream::{Stream, StreamId};
use crate::types::{Nonce, Timestamp};

const ACCOUNT_KEY_DOMAIN: &[u8] = b"ting:state-key:account:v1";
const CHANNEL_KEY_DOMAIN: &[u8] = b"ting:state-key:channel:v1";
const ACCOUNT_VALUE_DOMAIN: &[u8] = b"ting:state-value:account:v1";
const CHANNEL_VALUE_DOMAIN: &[u8] = b"ting:state-value:channel:v1";
const STREAM_KEY_DOMAIN: &[u8] = b"ting:state-key:stream:v1";
const STREAM_VALUE_DOMAIN: &[u8] = b"ting:state-value:stream:v1";
const HOLD_KEY_DOMAIN: &[u8] = b"ting:state-key:hold:v1";
const HOLD_VALUE_DOMAIN: &[u8] = b"ting:state-value:hold:v1";
const OFFER_KEY_DOMAIN: &[u8] = b"ting:state-key:offer:v1";
const OFFER_VALUE_DOMAIN: &[u8] = b"ting:state-value:offer:v1";
const REPUTATION_KEY_DOMAIN: &[u8] = b"ting:state-key:reputation:v1";
const REPUTATION_VALUE_DOMAIN: &[u8] = b"ting:state-value:reputation:v1";
const CLASS_KEY_DOMAIN: &[u8] = b"ting:state-key:class:v1";
const CLASS_VALUE_DOMAIN: &[u8] = b"ting:state-value:class:v1";
const ORDER_KEY_DOMAIN: &[u8] = b"ting:state-key:order:v1";
const ORDER_VALUE_DOMAIN: &[u8] = b"ting:state-value:order:v1";
const LEASE_KEY_DOMAIN: &[u8] = b"ting:state-key:lease:v1";
const LEASE_VALUE_DOMAIN: &[u8] = b"ting:state-value:lease:v1";
/// The longest account record: every optional part present, metadata full.
pub const ACCOUNT_RECORD_BYTES_MAX: usize =
    8 + 8 + 1 + 32 + 2 + METADATA_BYTES_MAX + 1 + 8 + 1 + 8 + 8 + 1 + 32;

/// The state-map key of an account.
pub fn account_key(id: &AccountId) -> Hash32 {
    Hash32::digest(&[ACCOUNT_KEY_DOMAIN, id.as_bytes()])
}

/// The state-map key of a channel.
pub fn channel_key(id: &ChannelId) -> Hash32 {
    Hash32::digest(&[CHANNEL_KEY_DOMAIN, &id.0 .0])
}

/// The state-map key of an open stream.
pub fn stream_key(id: &StreamId) -> Hash32 {
    Hash32::digest(&[STREAM_KEY_DOMAIN, &id.0 .0])
}

/// What the state map holds for a stream record.
pub fn stream_value_hash(record: &[u8]) -> Hash32 {
    Hash32::digest(&[STREAM_VALUE_DOMAIN, record])
}

/// The state-map entry of an open stream: its key and the hash of its record.
pub fn stream_entry(id: &StreamId, stream: &Stream) -> (Hash32, Hash32) {
    (stream_key(id), stream_value_hash(&stream.to_record()))
}

/// The state-map key of an open hold.
pub fn hold_key(id: &HoldId) -> Hash32 {
    Hash32::digest(&[HOLD_KEY_DOMAIN, &id.0 .0])
}

/// What the state map holds for a hold record.
pub fn hold_value_hash(record: &[u8]) -> Hash32 {
    Hash32::digest(&[HOLD_VALUE_DOMAIN, record])
}

/// The state-map key of a listed offer.
pub fn offer_key(id: &OfferId) -> Hash32 {
    Hash32::digest(&[OFFER_KEY_DOMAIN, &id.0 .0])
}

/// What the state map holds for an offer record.
pub fn offer_value_hash(record: &[u8]) -> Hash32 {
    Hash32::digest(&[OFFER_VALUE_DOMAIN, record])
}

/// The state-map key of `provider`'s reputation in `category` (the
/// provider's 32 bytes, then the category's: no two pairs share a preimage).
pub fn reputation_key(provider: &AccountId, category: &str) -> Hash32 {
    Hash32::digest(&[
        REPUTATION_KEY_DOMAIN,
        provider.as_bytes(),
        category.as_bytes(),
    ])
}

/// What the state map holds for a reputation record.
pub fn reputation_value_hash(record: &[u8]) -> Hash32 {
    Hash32::digest(&[REPUTATION_VALUE_DOMAIN, record])
}

/// The state-map key of a resource class, by its name.
pub fn class_key(name: &str) -> Hash32 {
    Hash32::digest(&[CLASS_KEY_DOMAIN, name.as_bytes()])
}

/// What the state map holds for a resource class record.
pub fn class_value_hash(record: &[u8]) -> Hash32 {
    Hash32::digest(&[CLASS_VALUE_DOMAIN, record])
}

/// The state-map key of a resting order.
pub fn order_key(id: &OrderId) -> Hash32 {
    Hash32::digest(&[ORDER_KEY_DOMAIN, &id.0 .0])
}

/// What the state map holds for an order record.
pub fn order_value_hash(record: &[u8]) -> Hash32 {
    Hash32::digest(&[ORDER_VALUE_DOMAIN, record])
}

/// The state-map key of an open lease.
pub fn lease_key(id: &LeaseId) -> Hash32 {
    Hash32::digest(&[LEASE_KEY_DOMAIN, &id.0 .0])
}

/// What the state map holds for a lease record.
pub fn lease_value_hash(record: &[u8]) -> Hash32 {
    Hash32::digest(&[LEASE_VALUE_DOMAIN, record])
}

/// What the state map holds for an account record.
pub fn account_value_hash(record: &[u8]) -> Hash32 {
    Hash32::digest(&[ACCOUNT_VALUE_DOMAIN, record])
}

/// What the state map holds for a channel record.
pub fn channel_value_hash(record: &[u8]) -> Hash32 {
    Hash32::digest(&[CHANNEL_VALUE_DOMAIN, record])
}

/// The state-map entry of a channel: its key and the hash of its record.
pub fn channel_entry(id: &ChannelId, channel: &Channel) -> (Hash32, Hash32) {
    (channel_key(id), channel_value_hash(&channel.to_record()))
}

/// An account's money and sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub balance: Amount,
    /// The nonce the account's next transaction must carry.
    pub nonce: Nonce,
}

/// What an owner controls about one of its devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub owner: AccountId,
    pub metadata: Vec<u8>,
    pub per_day: Option<Amount>,
    pub frozen: bool,
    /// The UTC day `spent` counts for.
    pub spent_day: u64,
    /// What the device sent during `spent_day`.
    pub spent: Amount,
}

impl Device {
    /// What the device has spent on the UTC day of `at`.
    pub fn spent_on(&self, at: Timestamp) -> Amount {
        if self.spent_day == at.utc_day() {
            self.spent
        } else {
            Amount::ZERO
        }
    }

    /// Appends owner, metadata, limit, frozen flag and the day's spending.
    pub fn encode(&self, w: &mut Writer) {
        w.account(&self.owner);
        w.bytes_u16(&self.metadata);
        match self.per_day {
            None => w.u8(0),
            Some(limit) => w.u8(1).amount(limit),
        };
        w.u8(u8::from(self.frozen))
            .u64(self.spent_day)
            .amount(self.spent);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Device, DecodeError> {
        let owner = r.account("owner")?;
        let metadata = r.bytes_u16("metadata", METADATA_BYTES_MAX)?.to_vec();
        let per_day = match r.u8("limit flag")? {
            0 => None,
            1 => Some(r.amount("limit")?),
            _ => return Err(DecodeError::InvalidValue { what: "limit flag" }),
        };
        let frozen = flag(r, "frozen")?;
        Ok(Device {
            owner,
            metadata,
            per_day,
            frozen,
            spent_day: r.u64("spent day")?,
            spent: r.amount("spent")?,
        })
    }
}

fn flag(r: &mut Reader<'_>, what: &'static str) -> Result<bool, DecodeError> {
    match r.u8(what)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(DecodeError::InvalidValue { what }),
    }
}

/// Everything the state map says about one account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountRecord {
    pub account: Account,
    pub device: Option<Device>,
    pub messaging_key: Option<MessagingKey>,
}

/// The canonical account record from its parts as the ledger keeps them.
pub fn account_record(
    account: &Account,
    device: Option<&Device>,
    messaging_key: Option<&MessagingKey>,
) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    encode_account_record(&mut w, account, device, messaging_key);
    w.into_bytes()
}

/// Appends the canonical account record to `w`.
pub fn encode_account_record(
    w: &mut Writer,
    account: &Account,
    device: Option<&Device>,
    messaging_key: Option<&MessagingKey>,
) {
    w.amount(account.balance).u64(account.nonce.0);
    match device {
        Some(d) => {
            w.u8(1);
            d.encode(w);
        }
        None => {
            w.u8(0);
        }
    }
    match messaging_key {
        Some(k) => w.u8(1).bytes(&k.0),
        None => w.u8(0),
    };
}

impl AccountRecord {
    pub fn to_record(&self) -> Vec<u8> {
        account_record(
            &self.account,
            self.device.as_ref(),
            self.messaging_key.as_ref(),
        )
    }

    /// Reads a record that must be the whole of `bytes`.
    pub fn from_record(bytes: &[u8]) -> Result<AccountRecord, DecodeError> {
        let mut r = Reader::new(bytes);
        let account = Account {
            balance: r.amount("balance")?,
            nonce: Nonce(r.u64("nonce")?),
        };
        let device = if flag(&mut r, "device flag")? {
            Some(Device::decode(&mut r)?)
        } else {
            None
        };
        let messaging_key = if flag(&mut r, "messaging key flag")? {
            Some(MessagingKey(r.hash("messaging key")?.0))
        } else {
            None
        };
        r.finish("account record")?;
        Ok(AccountRecord {
            account,
            device,
            messaging_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_account_record_round_trips_at_its_longest() {
        let record = AccountRecord {
            account: Account {
                balance: Amount::new(7),
                nonce: Nonce(3),
            },
            device: Some(Device {
                owner: AccountId([5; 32]),
                metadata: vec![1; METADATA_BYTES_MAX],
                per_day: Some(Amount::new(100)),
                frozen: true,
                spent_day: 20_000,
                spent: Amount::new(40),
            }),
            messaging_key: Some(MessagingKey([9; 32])),
        };
        let bytes = record.to_record();
        assert_eq!(bytes.len(), ACCOUNT_RECORD_BYTES_MAX);
        assert_eq!(AccountRecord::from_record(&bytes), Ok(record));
    }

    #[test]
    fn records_with_bad_flags_or_trailing_bytes_are_refused() {
        let mut bytes = AccountRecord::default().to_record();
        assert_eq!(bytes.len(), 18);
        bytes[16] = 2;
        assert!(AccountRecord::from_record(&bytes).is_err());
        let mut bytes = AccountRecord::default().to_record();
        bytes.push(0);
        assert!(AccountRecord::from_record(&bytes).is_err());
    }

    #[test]
    fn account_and_channel_keys_of_the_same_bytes_differ() {
        let bytes = [4u8; 32];
        assert_ne!(
            account_key(&AccountId(bytes)),
            channel_key(&ChannelId(Hash32(bytes)))
        );
    }
}
