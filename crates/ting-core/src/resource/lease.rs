//! A lease: units one fill bought, the money for them waiting until the
//! buyer signs that they were delivered.
//!
//! Record (little-endian): `buyer [32] | provider [32] | price u64 |
//! quantity u64 | delivered u64 | started_at u64 | ends_at u64 | class (u8
//! len)`. The lease locks the price of the units not yet delivered.
//!
//! A delivery count is the buyer's signature over `"ting:lease-count:v1" |
//! genesis [32] | lease [32] | count u64`: the units delivered so far, in
//! all. Counts only grow, so the latest one is all a provider needs to
//! keep, and one signature stands for a whole batch of messages or an
//! interval of compute.

use crate::prelude::*;

use super::LeaseId;
use crate::account::AccountId;
use crate::amount::Amount;
use crate::consent::text;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
use crate::keys::{self, Keypair, Signature, SignatureError};
use crate::limits::SERVICE_CATEGORY_BYTES_MAX;
use crate::types::Timestamp;

/// Prefix of what a buyer signs for a delivery count.
pub const DELIVERY_COUNT_DOMAIN: &[u8] = b"ting:lease-count:v1";

/// A lease as the ledger keeps it while it is open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub buyer: AccountId,
    pub provider: AccountId,
    /// Per unit: the resting order's price at the fill.
    pub price: Amount,
    pub quantity: u64,
    /// Units paid for so far (the highest count settled).
    pub delivered: u64,
    pub started_at: Timestamp,
    /// Delivery is due until then; counts may land until
    /// `limits::LEASE_GRACE_MS` after it.
    pub ends_at: Timestamp,
    pub class: String,
}

/// The longest lease record.
pub const LEASE_RECORD_BYTES_MAX: usize = 32 + 32 + 8 * 5 + 1 + SERVICE_CATEGORY_BYTES_MAX;

/// The cumulative count of units a buyer says a lease delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryCount {
    pub lease: LeaseId,
    pub count: u64,
}

impl DeliveryCount {
    /// The bytes the buyer signs, bound to one network.
    pub fn signing_message(&self, genesis: &Hash32) -> [u8; 19 + 32 + 32 + 8] {
        let mut m = [0u8; 19 + 32 + 32 + 8];
        m[..19].copy_from_slice(DELIVERY_COUNT_DOMAIN);
        m[19..51].copy_from_slice(&genesis.0);
        m[51..83].copy_from_slice(&self.lease.0 .0);
        m[83..].copy_from_slice(&self.count.to_le_bytes());
        m
    }

    /// The buyer's signature over this count.
    pub fn sign(&self, buyer: &Keypair, genesis: &Hash32) -> Signature {
        buyer.sign(&self.signing_message(genesis))
    }

    /// Checks that `buyer` signed this count on the network of `genesis`.
    pub fn verify(
        &self,
        genesis: &Hash32,
        buyer: &AccountId,
        signature: &Signature,
    ) -> Result<(), SignatureError> {
        keys::verify(buyer, &self.signing_message(genesis), signature)
    }
}

impl Lease {
    /// What the lease locks: the price of the units not yet delivered.
    pub fn locked(&self) -> Option<Amount> {
        self.price
            .checked_mul(self.quantity.checked_sub(self.delivered)?)
    }

    /// Appends the canonical record.
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.account(&self.buyer)
            .account(&self.provider)
            .amount(self.price)
            .u64(self.quantity)
            .u64(self.delivered)
            .u64(self.started_at.0)
            .u64(self.ends_at.0);
        w.bytes_u8(self.class.as_bytes());
    }

    /// Reads one record.
    pub fn decode(r: &mut Reader<'_>) -> Result<Lease, DecodeError> {
        let lease = Lease {
            buyer: r.account("buyer")?,
            provider: r.account("provider")?,
            price: r.amount("price")?,
            quantity: r.u64("quantity")?,
            delivered: r.u64("delivered")?,
            started_at: Timestamp(r.u64("started_at")?),
            ends_at: Timestamp(r.u64("ends_at")?),
            class: text(r.bytes_u8("class", SERVICE_CATEGORY_BYTES_MAX)?, "class")?,
        };
        if lease.delivered >= lease.quantity || lease.locked().is_none() {
            return Err(DecodeError::InvalidValue {
                what: "lease delivered",
            });
        }
        if lease.price.is_zero() || !crate::market::is_category(&lease.class) {
            return Err(DecodeError::InvalidValue {
                what: "lease price or class",
            });
        }
        Ok(lease)
    }

    /// The canonical record.
    pub fn to_record(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(160);
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Decodes a record that must be the whole of `bytes`.
    pub fn from_record(bytes: &[u8]) -> Result<Lease, DecodeError> {
        let mut r = Reader::new(bytes);
        let lease = Lease::decode(&mut r)?;
        r.finish("lease record")?;
        Ok(lease)
    }
}
