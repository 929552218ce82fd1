//! A provider's reputation in one category, from the outcomes of its
//! accepted holds as the ledger saw them end.
//!
//! Four tallies (how many holds, and what they held): released to the
//! provider (by the payer, by evidence, by the arbiter, or a dispute it
//! won); refunded late (the deadline passed); withdrawn (the provider gave
//! the money back after accepting); lost (an arbiter gave some or all of
//! it back to the payer). Beside them, the distinct buyers behind released
//! holds, counted by owner (a device counts as its owner), up to
//! [`REPUTATION_BUYERS_MAX`]. A hold between accounts of one owner never
//! reaches a reputation, so a provider cannot buy its own.
//!
//! The score, in parts per million, is the share of value released times
//! `b / (b + REPUTATION_PRIOR_BUYERS)` for `b` distinct buyers: a record
//! that a single buyer stands behind scores a third of a perfect one.
//!
//! Record (little-endian): `provider [32] | category (u8 len) | released,
//! late, withdrawn, lost: each count u64 | value u64 | last_at u64 | buyer
//! count u8 | buyers [32] sorted`. Its key is
//! `SHA-256("ting:state-key:reputation:v1" || provider || category)`.

use crate::prelude::*;

use super::is_category;
use crate::account::AccountId;
use crate::amount::Amount;
use crate::consent::text;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::limits::SERVICE_CATEGORY_BYTES_MAX;
pub use crate::limits::{REPUTATION_BUYERS_MAX, REPUTATION_PRIOR_BUYERS};
use crate::types::Timestamp;

/// Parts per million of a perfect score.
pub const SCORE_PPM_MAX: u32 = 1_000_000;

/// The longest reputation record.
pub const REPUTATION_RECORD_BYTES_MAX: usize =
    32 + 1 + SERVICE_CATEGORY_BYTES_MAX + 4 * 16 + 8 + 1 + REPUTATION_BUYERS_MAX * 32;

/// How an accepted hold ended, for its payee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Released,
    Late,
    Withdrawn,
    Lost,
}

/// How many holds ended one way, and what they held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub count: u64,
    pub value: Amount,
}

impl Tally {
    fn add(&mut self, value: Amount) {
        self.count = self.count.saturating_add(1);
        self.value = self.value.checked_add(value).unwrap_or(Amount::MAX);
    }
}

/// A provider's record in one category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reputation {
    pub provider: AccountId,
    pub category: String,
    pub released: Tally,
    pub late: Tally,
    pub withdrawn: Tally,
    pub lost: Tally,
    /// When the last outcome was recorded.
    pub last_at: Timestamp,
    /// Distinct buyers (by owner) behind released holds, sorted, at most
    /// [`REPUTATION_BUYERS_MAX`].
    pub buyers: Vec<AccountId>,
}

impl Reputation {
    /// A record with nothing in it yet.
    pub fn new(provider: AccountId, category: String) -> Reputation {
        Reputation {
            provider,
            category,
            released: Tally::default(),
            late: Tally::default(),
            withdrawn: Tally::default(),
            lost: Tally::default(),
            last_at: Timestamp(0),
            buyers: Vec::new(),
        }
    }

    /// Counts one outcome of `value`, for a hold paid by `buyer` (the
    /// payer's owner, or the payer if it has none), at `at`.
    pub fn record(&mut self, outcome: Outcome, value: Amount, buyer: AccountId, at: Timestamp) {
        match outcome {
            Outcome::Released => {
                self.released.add(value);
                if let Err(i) = self.buyers.binary_search(&buyer) {
                    if self.buyers.len() < REPUTATION_BUYERS_MAX {
                        self.buyers.insert(i, buyer);
                    }
                }
            }
            Outcome::Late => self.late.add(value),
            Outcome::Withdrawn => self.withdrawn.add(value),
            Outcome::Lost => self.lost.add(value),
        }
        self.last_at = self.last_at.max(at);
    }

    /// Holds that ended, every way.
    pub fn ended(&self) -> u64 {
        [self.released, self.late, self.withdrawn, self.lost]
            .iter()
            .fold(0u64, |n, t| n.saturating_add(t.count))
    }

    /// The share of value released, in parts per million (0 with no outcome).
    pub fn success_ppm(&self) -> u32 {
        let total: u128 = [self.released, self.late, self.withdrawn, self.lost]
            .iter()
            .map(|t| u128::from(t.value.base_units()))
            .fold(0u128, u128::saturating_add);
        let released = u128::from(self.released.value.base_units());
        ppm(released, total)
    }

    /// The score buyers rank by, in parts per million: the success share
    /// weighted by how many distinct buyers stand behind it.
    pub fn score_ppm(&self) -> u32 {
        let buyers = self.buyers.len() as u128;
        let weight = buyers.saturating_add(u128::from(REPUTATION_PRIOR_BUYERS));
        let scaled = u128::from(self.success_ppm()).saturating_mul(buyers);
        u32::try_from(scaled.checked_div(weight).unwrap_or(0)).unwrap_or(SCORE_PPM_MAX)
    }

    /// The canonical record.
    pub fn to_record(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(160);
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Appends the canonical record to `w`.
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.account(&self.provider);
        w.bytes_u8(self.category.as_bytes());
        for t in [self.released, self.late, self.withdrawn, self.lost] {
            w.u64(t.count).amount(t.value);
        }
        w.u64(self.last_at.0);
        w.u8(u8::try_from(self.buyers.len()).expect("at most REPUTATION_BUYERS_MAX buyers"));
        for b in &self.buyers {
            w.account(b);
        }
    }

    /// Reads one record from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Reputation, DecodeError> {
        let provider = r.account("provider")?;
        let category = text(
            r.bytes_u8("category", SERVICE_CATEGORY_BYTES_MAX)?,
            "category",
        )?;
        if !is_category(&category) {
            return Err(DecodeError::InvalidValue { what: "category" });
        }
        let mut tallies = [Tally::default(); 4];
        for t in &mut tallies {
            t.count = r.u64("count")?;
            t.value = r.amount("value")?;
        }
        let last_at = Timestamp(r.u64("last_at")?);
        let count = usize::from(r.u8("buyer count")?);
        if count > REPUTATION_BUYERS_MAX {
            return Err(DecodeError::TooLong {
                what: "buyers",
                len: count,
                max: REPUTATION_BUYERS_MAX,
            });
        }
        let mut buyers: Vec<AccountId> = Vec::with_capacity(count);
        for _ in 0..count {
            let b = r.account("buyer")?;
            if buyers.last().is_some_and(|prev| *prev >= b) {
                return Err(DecodeError::InvalidValue {
                    what: "buyers out of order",
                });
            }
            buyers.push(b);
        }
        let [released, late, withdrawn, lost] = tallies;
        Ok(Reputation {
            provider,
            category,
            released,
            late,
            withdrawn,
            lost,
            last_at,
            buyers,
        })
    }

    /// Decodes a record that must be the whole of `bytes`.
    pub fn from_record(bytes: &[u8]) -> Result<Reputation, DecodeError> {
        let mut r = Reader::new(bytes);
        let rep = Reputation::decode(&mut r)?;
        r.finish("reputation record")?;
        Ok(rep)
    }
}

/// `part / whole` in parts per million, 0 for an empty whole.
fn ppm(part: u128, whole: u128) -> u32 {
    let scaled = part.saturating_mul(u128::from(SCORE_PPM_MAX));
    u32::try_from(scaled.checked_div(whole).unwrap_or(0)).unwrap_or(SCORE_PPM_MAX)
}
