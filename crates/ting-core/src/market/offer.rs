//! A service offer: what a provider lists on the ledger so that buyers can
//! find it by category, area and reputation.
//!
//! Terms (little-endian): `category (u8 len) | area (u8 len, a geohash
//! prefix; empty for anywhere) | price u64 | delivery_ms u64 |
//! warranty_ms u64 | terms [32]`. The record the ledger keeps while the
//! offer is listed: `provider [32] | deposit u64 | opened_at u64 | terms`.
//! The price is what the provider usually asks; the price of a deal is
//! agreed in a proposal (docs/market.md).

use crate::prelude::*;

use super::is_category;
use crate::account::AccountId;
use crate::amount::Amount;
use crate::consent::text;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
use crate::limits::{
    GEOHASH_CHARS_MAX, OFFER_DELIVERY_MS_MAX, OFFER_WARRANTY_MS_MAX, SERVICE_CATEGORY_BYTES_MAX,
};
use crate::stream::terms::is_geohash_char;
use crate::types::Timestamp;

/// What a provider sells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OfferTerms {
    pub category: String,
    /// Where it serves: a geohash prefix, empty for anywhere.
    pub area: String,
    /// What it usually asks, in base units.
    pub price: Amount,
    /// How long it usually takes to deliver, in ms.
    pub delivery_ms: u64,
    /// How long its work is warranted, in ms (0 for none).
    pub warranty_ms: u64,
    /// SHA-256 of the offer's full text, which the provider publishes.
    pub terms: Hash32,
}

/// A listed offer as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offer {
    pub provider: AccountId,
    /// What the provider put down; it comes back when the offer closes.
    pub deposit: Amount,
    pub opened_at: Timestamp,
    pub terms: OfferTerms,
}

/// The longest offer record.
pub const OFFER_RECORD_BYTES_MAX: usize =
    32 + 8 + 8 + 1 + SERVICE_CATEGORY_BYTES_MAX + 1 + GEOHASH_CHARS_MAX as usize + 8 * 3 + 32;

/// Why offer terms break a rule; the text names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidOffer(pub &'static str);

impl core::fmt::Display for InvalidOffer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

/// Whether `text` is an area an offer may serve: empty, or a geohash prefix
/// of at most [`GEOHASH_CHARS_MAX`] characters.
pub fn is_service_area(text: &str) -> bool {
    text.len() <= usize::from(GEOHASH_CHARS_MAX) && text.bytes().all(is_geohash_char)
}

impl OfferTerms {
    /// The first rule broken, if any.
    pub fn check(&self) -> Result<(), InvalidOffer> {
        if !is_category(&self.category) {
            return Err(InvalidOffer(
                "the category is 1 to 8 dotted parts of a-z, 0-9 and _, at most 48 bytes",
            ));
        }
        if !is_service_area(&self.area) {
            return Err(InvalidOffer(
                "the area is empty or a geohash prefix of at most 12 characters",
            ));
        }
        if self.price.is_zero() {
            return Err(InvalidOffer("the price must be above zero"));
        }
        if self.delivery_ms == 0 || self.delivery_ms > OFFER_DELIVERY_MS_MAX {
            return Err(InvalidOffer("the time to deliver is 1 ms to 366 days"));
        }
        if self.warranty_ms > OFFER_WARRANTY_MS_MAX {
            return Err(InvalidOffer("the warranty is at most five years"));
        }
        Ok(())
    }

    /// Appends the terms' bytes. They must have passed [`OfferTerms::check`].
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.bytes_u8(self.category.as_bytes());
        w.bytes_u8(self.area.as_bytes());
        w.amount(self.price)
            .u64(self.delivery_ms)
            .u64(self.warranty_ms)
            .hash(&self.terms);
    }

    /// Reads terms and checks their rules.
    pub fn decode(r: &mut Reader<'_>) -> Result<OfferTerms, DecodeError> {
        let category = text(
            r.bytes_u8("category", SERVICE_CATEGORY_BYTES_MAX)?,
            "category",
        )?;
        let area = text(r.bytes_u8("area", usize::from(GEOHASH_CHARS_MAX))?, "area")?;
        let terms = OfferTerms {
            category,
            area,
            price: r.amount("price")?,
            delivery_ms: r.u64("delivery_ms")?,
            warranty_ms: r.u64("warranty_ms")?,
            terms: r.hash("terms")?,
        };
        terms
            .check()
            .map_err(|e| DecodeError::InvalidValue { what: e.0 })?;
        Ok(terms)
    }
}

impl Offer {
    /// The canonical record.
    pub fn to_record(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(OFFER_RECORD_BYTES_MAX);
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Appends the canonical record to `w`.
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.account(&self.provider)
            .amount(self.deposit)
            .u64(self.opened_at.0);
        self.terms.encode(w);
    }

    /// Reads one record from `r`.
    pub fn decode(r: &mut Reader<'_>) -> Result<Offer, DecodeError> {
        Ok(Offer {
            provider: r.account("provider")?,
            deposit: r.amount("deposit")?,
            opened_at: Timestamp(r.u64("opened_at")?),
            terms: OfferTerms::decode(r)?,
        })
    }

    /// Decodes a record that must be the whole of `bytes`.
    pub fn from_record(bytes: &[u8]) -> Result<Offer, DecodeError> {
        let mut r = Reader::new(bytes);
        let offer = Offer::decode(&mut r)?;
        r.finish("offer record")?;
        Ok(offer)
    }
}
