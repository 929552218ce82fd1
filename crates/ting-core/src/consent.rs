//! Consent records: what a device's owner lets it sell, in what form, to
//! whom, for what purpose, at what minimum price, and until when.
//!
//! A record is shaped after ISO/IEC TS 27560 consent records: who consents
//! (the owner) for whom (the device), what (a rule per field), the purpose,
//! how long (issue and expiry), and how it is withdrawn (a signed
//! revocation by the same owner, from the next epoch). The owner signs it
//! over `CONSENT_DOMAIN || genesis || record`; the device holds it, and its
//! hash (SHA-256 of the signed bytes) is what a stream names on the ledger.
//! The device applies it before anything is sealed or sent
//! ([`filter::ConsentFilter`]): a field the owner did not allow never leaves.
//!
//! Bytes (little-endian; lengths checked against the limits below):
//! `version u8 | genesis [32] | owner [32] | device [32] | issued_at u64 |
//! expires_at u64 | min_price_per_epoch u64 | purpose (u8 len) |
//! field count u8 | fields | buyer count u8 | buyers | signature [64]`,
//! a field being `name (u8 len) | use` and a use one of `0` refused,
//! `1 round_to u64` raw, `2 op u8 window_ms u64 round_to u64` aggregate
//! (op `0` sum, `1` mean), `3 chars u8` location coarsened to a geohash
//! prefix; a buyer `0 account [32]` or `1 category (u8 len) | certifier
//! count u8 | certifier [32] × count`.

use crate::prelude::*;

use thiserror::Error;

use crate::account::AccountId;
use crate::amount::Amount;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
use crate::keys::{self, Keypair, Signature, SignatureError};
use crate::types::Timestamp;

pub mod attestation;
pub mod filter;
pub mod revocation;

/// The only consent record version this code reads and writes.
pub const CONSENT_VERSION: u8 = 1;
/// Prefix of every consent record's signing message.
pub const CONSENT_DOMAIN: &[u8] = b"ting:consent:v1";
pub use crate::limits::{
    CATEGORY_BYTES_MAX, CERTIFIERS_MAX, CONSENT_BUYERS_MAX, CONSENT_FIELDS_MAX,
    FIELD_NAME_BYTES_MAX, GEOHASH_CHARS_MAX, PURPOSE_BYTES_MAX, WINDOW_MS_MAX, WINDOW_MS_MIN,
};

/// How an aggregate combines a window's readings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregateOp {
    Sum,
    Mean,
}

/// What may leave the device of one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldUse {
    /// Nothing: the field never leaves the device.
    Refused,
    /// Every reading, rounded to the nearest multiple of `round_to` (1: as read).
    Raw { round_to: u64 },
    /// One value per window of `window_ms` (aligned to multiples of it since
    /// the Unix epoch), rounded to the nearest multiple of `round_to`.
    Aggregate {
        op: AggregateOp,
        window_ms: u64,
        round_to: u64,
    },
    /// A location, cut to its first `chars` geohash characters.
    Location { chars: u8 },
}

/// The rule for one field, by the field's name in the stream's schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRule {
    pub name: String,
    pub use_: FieldUse,
}

/// Who may buy: one account, or any account a named certifier vouches for
/// in a category (a category a buyer merely claims means nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuyerRule {
    Account(AccountId),
    Category {
        category: String,
        certifiers: Vec<AccountId>,
    },
}

/// A consent record, unsigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentRecord {
    pub genesis: Hash32,
    /// Who consents: the device's owner, who signs.
    pub owner: AccountId,
    /// Whose data: the device that applies the record.
    pub device: AccountId,
    pub issued_at: Timestamp,
    /// The first time at which the record no longer holds.
    pub expires_at: Timestamp,
    /// The lowest price per epoch a stream under this record may ask.
    pub min_price_per_epoch: Amount,
    /// What the data may be used for, in words.
    pub purpose: String,
    /// A rule per field; a field with no rule is refused.
    pub fields: Vec<FieldRule>,
    /// Who may buy; none means no one.
    pub buyers: Vec<BuyerRule>,
}

/// A consent record with its owner's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedConsent {
    pub record: ConsentRecord,
    pub signature: Signature,
}

/// Why a record cannot be made or taken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConsentError {
    #[error("the consent record does not decode: {0}")]
    Malformed(DecodeError),
    #[error("the consent record is invalid: {0}")]
    Invalid(&'static str),
    #[error("the consent record is not signed by its owner: {0}")]
    BadSignature(SignatureError),
    #[error("the consent record is of another network")]
    WrongNetwork,
}

impl ConsentError {
    pub fn code(&self) -> &'static str {
        match self {
            ConsentError::Malformed(e) => e.code(),
            ConsentError::Invalid(_) => "invalid_consent",
            ConsentError::BadSignature(_) => "bad_consent_signature",
            ConsentError::WrongNetwork => "wrong_network",
        }
    }
}

impl ConsentRecord {
    /// The first rule broken, if any: limits, an empty or repeated field
    /// name, a window or rounding step out of range, an expiry not after
    /// the issue.
    pub fn check(&self) -> Result<(), ConsentError> {
        let invalid = |what| Err(ConsentError::Invalid(what));
        if self.expires_at <= self.issued_at {
            return invalid("expires_at must be after issued_at");
        }
        if self.purpose.len() > PURPOSE_BYTES_MAX {
            return invalid("purpose too long");
        }
        if self.fields.len() > CONSENT_FIELDS_MAX || self.buyers.len() > CONSENT_BUYERS_MAX {
            return invalid("too many fields or buyers");
        }
        for (i, field) in self.fields.iter().enumerate() {
            if field.name.is_empty() || field.name.len() > FIELD_NAME_BYTES_MAX {
                return invalid("a field name is empty or too long");
            }
            if self.fields[..i].iter().any(|f| f.name == field.name) {
                return invalid("a field is named twice");
            }
            check_use(field.use_)?;
        }
        for buyer in &self.buyers {
            if let BuyerRule::Category {
                category,
                certifiers,
            } = buyer
            {
                if category.is_empty() || category.len() > CATEGORY_BYTES_MAX {
                    return invalid("a category is empty or too long");
                }
                if certifiers.is_empty() || certifiers.len() > CERTIFIERS_MAX {
                    return invalid("a category names no certifier, or too many");
                }
            }
        }
        Ok(())
    }

    /// The rule for `field`; a field the record does not name is refused.
    pub fn rule(&self, field: &str) -> FieldUse {
        self.fields
            .iter()
            .find(|f| f.name == field)
            .map_or(FieldUse::Refused, |f| f.use_)
    }

    /// Whether the record holds at `now`.
    pub fn in_force(&self, now: Timestamp) -> bool {
        self.issued_at <= now && now < self.expires_at
    }

    fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.u8(CONSENT_VERSION)
            .hash(&self.genesis)
            .account(&self.owner)
            .account(&self.device)
            .u64(self.issued_at.0)
            .u64(self.expires_at.0)
            .amount(self.min_price_per_epoch)
            .bytes_u8(self.purpose.as_bytes());
        w.u8(count_u8(self.fields.len()));
        for field in &self.fields {
            w.bytes_u8(field.name.as_bytes());
            encode_use(w, field.use_);
        }
        w.u8(count_u8(self.buyers.len()));
        for buyer in &self.buyers {
            match buyer {
                BuyerRule::Account(id) => {
                    w.u8(0).account(id);
                }
                BuyerRule::Category {
                    category,
                    certifiers,
                } => {
                    w.u8(1).bytes_u8(category.as_bytes());
                    w.u8(count_u8(certifiers.len()));
                    for c in certifiers {
                        w.account(c);
                    }
                }
            }
        }
    }

    /// Signs as `key`, which must be the record's owner.
    pub fn sign(self, key: &Keypair) -> Result<SignedConsent, ConsentError> {
        self.check()?;
        if key.account() != self.owner {
            return Err(ConsentError::BadSignature(SignatureError::Invalid));
        }
        let mut w = Writer::with_capacity(256);
        self.encode(&mut w);
        let signature = key.sign_parts(&[CONSENT_DOMAIN, &self.genesis.0, w.as_slice()]);
        Ok(SignedConsent {
            record: self,
            signature,
        })
    }
}

fn count_u8(n: usize) -> u8 {
    u8::try_from(n).expect("counts checked against their limits")
}

fn check_use(use_: FieldUse) -> Result<(), ConsentError> {
    let invalid = |what| Err(ConsentError::Invalid(what));
    match use_ {
        FieldUse::Refused => Ok(()),
        FieldUse::Raw { round_to: 0 } => invalid("round_to must be at least 1"),
        FieldUse::Raw { .. } => Ok(()),
        FieldUse::Aggregate {
            window_ms,
            round_to,
            ..
        } => {
            if round_to == 0 {
                invalid("round_to must be at least 1")
            } else if !(WINDOW_MS_MIN..=WINDOW_MS_MAX).contains(&window_ms) {
                invalid("an aggregation window is shorter than a second or longer than a year")
            } else {
                Ok(())
            }
        }
        FieldUse::Location { chars } if chars == 0 || chars > GEOHASH_CHARS_MAX => {
            invalid("a location keeps 1 to 12 geohash characters")
        }
        FieldUse::Location { .. } => Ok(()),
    }
}

fn encode_use<S: Sink>(w: &mut Writer<S>, use_: FieldUse) {
    match use_ {
        FieldUse::Refused => {
            w.u8(0);
        }
        FieldUse::Raw { round_to } => {
            w.u8(1).u64(round_to);
        }
        FieldUse::Aggregate {
            op,
            window_ms,
            round_to,
        } => {
            let op = match op {
                AggregateOp::Sum => 0,
                AggregateOp::Mean => 1,
            };
            w.u8(2).u8(op).u64(window_ms).u64(round_to);
        }
        FieldUse::Location { chars } => {
            w.u8(3).u8(chars);
        }
    }
}

fn decode_use(r: &mut Reader<'_>) -> Result<FieldUse, DecodeError> {
    Ok(match r.u8("field use")? {
        0 => FieldUse::Refused,
        1 => FieldUse::Raw {
            round_to: r.u64("round_to")?,
        },
        2 => {
            let op = match r.u8("aggregate op")? {
                0 => AggregateOp::Sum,
                1 => AggregateOp::Mean,
                _ => {
                    return Err(DecodeError::InvalidValue {
                        what: "aggregate op",
                    })
                }
            };
            FieldUse::Aggregate {
                op,
                window_ms: r.u64("window_ms")?,
                round_to: r.u64("round_to")?,
            }
        }
        3 => FieldUse::Location {
            chars: r.u8("geohash chars")?,
        },
        _ => return Err(DecodeError::InvalidValue { what: "field use" }),
    })
}

/// Bytes that must be UTF-8, as a string; `invalid_value` naming `what` if not.
pub(crate) fn text(bytes: &[u8], what: &'static str) -> Result<String, DecodeError> {
    core::str::from_utf8(bytes)
        .map(ToOwned::to_owned)
        .map_err(|_| DecodeError::InvalidValue { what })
}

impl SignedConsent {
    /// The signed bytes: the record, then the owner's signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(320);
        self.record.encode(&mut w);
        w.signature(&self.signature);
        w.into_bytes()
    }

    /// What a stream names on the ledger: SHA-256 of the signed bytes.
    pub fn hash(&self) -> Hash32 {
        Hash32::digest(&[&self.encode()])
    }

    /// Decodes, checks the record's rules and the owner's signature, and
    /// that it is of the network of `genesis`.
    pub fn decode(bytes: &[u8], genesis: &Hash32) -> Result<SignedConsent, ConsentError> {
        let signed = decode_unchecked(bytes).map_err(ConsentError::Malformed)?;
        if signed.record.genesis != *genesis {
            return Err(ConsentError::WrongNetwork);
        }
        signed.record.check()?;
        signed.verify()?;
        Ok(signed)
    }

    /// Checks the owner's signature.
    pub fn verify(&self) -> Result<(), ConsentError> {
        let mut w = Writer::with_capacity(256);
        self.record.encode(&mut w);
        keys::verify_parts(
            &self.record.owner,
            &[CONSENT_DOMAIN, &self.record.genesis.0, w.as_slice()],
            &self.signature,
        )
        .map_err(ConsentError::BadSignature)
    }
}

/// A `u8` count, refused (`too_long`) above `max`.
fn count_within(r: &mut Reader<'_>, what: &'static str, max: usize) -> Result<usize, DecodeError> {
    let count = usize::from(r.u8(what)?);
    if count > max {
        return Err(DecodeError::TooLong {
            what,
            len: count,
            max,
        });
    }
    Ok(count)
}

fn decode_unchecked(bytes: &[u8]) -> Result<SignedConsent, DecodeError> {
    let mut r = Reader::new(bytes);
    let version = r.u8("consent version")?;
    if version != CONSENT_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            what: "consent record",
            version,
        });
    }
    let genesis = r.hash("genesis")?;
    let owner = r.account("owner")?;
    let device = r.account("device")?;
    let issued_at = Timestamp(r.u64("issued_at")?);
    let expires_at = Timestamp(r.u64("expires_at")?);
    let min_price_per_epoch = r.amount("min_price_per_epoch")?;
    let purpose = text(r.bytes_u8("purpose", PURPOSE_BYTES_MAX)?, "purpose")?;
    let count = count_within(&mut r, "consent fields", CONSENT_FIELDS_MAX)?;
    let mut fields = Vec::with_capacity(count);
    for _ in 0..count {
        let name = text(
            r.bytes_u8("field name", FIELD_NAME_BYTES_MAX)?,
            "field name",
        )?;
        fields.push(FieldRule {
            name,
            use_: decode_use(&mut r)?,
        });
    }
    let count = count_within(&mut r, "consent buyers", CONSENT_BUYERS_MAX)?;
    let mut buyers = Vec::with_capacity(count);
    for _ in 0..count {
        buyers.push(match r.u8("buyer kind")? {
            0 => BuyerRule::Account(r.account("buyer")?),
            1 => {
                let category = text(r.bytes_u8("category", CATEGORY_BYTES_MAX)?, "category")?;
                let n = count_within(&mut r, "certifiers", CERTIFIERS_MAX)?;
                let mut certifiers = Vec::with_capacity(n);
                for _ in 0..n {
                    certifiers.push(r.account("certifier")?);
                }
                BuyerRule::Category {
                    category,
                    certifiers,
                }
            }
            _ => return Err(DecodeError::InvalidValue { what: "buyer kind" }),
        });
    }
    let signature = r.signature("signature")?;
    r.finish("consent record")?;
    Ok(SignedConsent {
        record: ConsentRecord {
            genesis,
            owner,
            device,
            issued_at,
            expires_at,
            min_price_per_epoch,
            purpose,
            fields,
            buyers,
        },
        signature,
    })
}

#[cfg(test)]
mod tests;
