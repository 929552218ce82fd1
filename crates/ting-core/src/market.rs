//! The service market: escrow holds, service offers and providers'
//! reputation, as the ledger keeps them (docs/market.md, docs/wire.md §17).
//!
//! A buyer pays into a [`hold`]: the money leaves its balance but reaches
//! the provider only when the hold's release rule is met (the payer says
//! so, evidence signed by a named device matches the hold's template, or
//! the named arbiter says so), and goes back to the payer after the
//! deadline. A provider lists what it sells as an [`offer`]; when an
//! accepted hold ends, the outcome moves the provider's [`reputation`] in
//! the hold's category, unless payer and provider answer to one owner.

use crate::prelude::*;

use crate::account::AccountId;
use crate::hash::Hash32;
use crate::limits::{SERVICE_CATEGORY_BYTES_MAX, SERVICE_CATEGORY_PARTS_MAX};
use crate::types::Nonce;

pub mod cfp;
pub mod evidence;
pub mod hold;
pub mod offer;
pub mod reputation;

pub use evidence::{Condition, Evidence, FieldRule, SignedEvidence, Template, Value};
pub use hold::{Hold, HoldPhase, HoldTerms, ReleaseRule};
pub use offer::{Offer, OfferTerms};
pub use reputation::Reputation;

/// Identifies an escrow hold: fixed by the transaction that creates it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HoldId(pub Hash32);

/// Identifies a service offer: fixed by the transaction that lists it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OfferId(pub Hash32);

/// Prefix of a hold id's preimage.
pub const HOLD_ID_DOMAIN: &[u8] = b"ting:hold-id:v1";
/// Prefix of an offer id's preimage.
pub const OFFER_ID_DOMAIN: &[u8] = b"ting:offer-id:v1";

fn derive(domain: &[u8], genesis: &Hash32, sender: &AccountId, nonce: Nonce) -> Hash32 {
    Hash32::digest(&[
        domain,
        &genesis.0,
        sender.as_bytes(),
        &nonce.0.to_le_bytes(),
    ])
}

macro_rules! hex_id {
    ($id:ident, $domain:expr, $what:literal) => {
        impl $id {
            #[doc = concat!("The id of the ", $what, " that `sender` makes with the transaction of nonce `nonce`: known in advance, never shared, bound to one network.")]
            pub fn derive(genesis: &Hash32, sender: &AccountId, nonce: Nonce) -> $id {
                $id(derive($domain, genesis, sender, nonce))
            }

            pub fn to_hex(&self) -> String {
                self.0.to_hex()
            }

            /// Parses 64 hex digits.
            pub fn from_hex(text: &str) -> Option<$id> {
                Hash32::from_hex(text).map($id)
            }
        }

        impl core::fmt::Display for $id {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(&self.to_hex())
            }
        }
    };
}

hex_id!(HoldId, HOLD_ID_DOMAIN, "hold");
hex_id!(OfferId, OFFER_ID_DOMAIN, "offer");

/// Whether `text` is a service category: 1 to 8 dot-separated parts of
/// `a-z`, `0-9` and `_`, at most [`SERVICE_CATEGORY_BYTES_MAX`] bytes in all.
pub fn is_category(text: &str) -> bool {
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
    };
    text.len() <= SERVICE_CATEGORY_BYTES_MAX
        && text.split('.').count() <= SERVICE_CATEGORY_PARTS_MAX
        && text.split('.').all(part_ok)
}

/// Whether `category` is `prefix` or lies under it: `water.cartridge`
/// covers `water.cartridge.replace` and not `water.cartridges`. An empty
/// prefix covers everything.
pub fn category_covers(prefix: &str, category: &str) -> bool {
    prefix.is_empty()
        || category == prefix
        || category
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// Whether an area (a geohash prefix; empty for anywhere) serves the place
/// `at` (a geohash): the area is a prefix of it.
pub fn area_serves(area: &str, at: &str) -> bool {
    at.starts_with(area)
}

#[cfg(test)]
mod tests;
