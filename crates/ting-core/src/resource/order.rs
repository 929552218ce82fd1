//! A limit order on a resource class's book.
//!
//! Terms (little-endian): `class (u8 len) | side u8 (0 bid, 1 ask) | price
//! u64 (per unit) | quantity u64 (units) | expires_at u64`. The record the
//! ledger keeps while the order rests: `owner [32] | seq u64 | placed_at
//! u64 | remaining u64 | fills u16 | deposit u64 | terms`. A bid locks its
//! price for what remains of it, an ask only its deposit: what an ask
//! offers is capacity, paid for as it is delivered.

use crate::prelude::*;

use crate::account::AccountId;
use crate::amount::Amount;
use crate::consent::text;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::limits::SERVICE_CATEGORY_BYTES_MAX;
use crate::market::is_category;
use crate::types::Timestamp;

/// Which side of the book an order is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// To buy units: pays up to the price per unit.
    Bid,
    /// To sell units: takes at least the price per unit.
    Ask,
}

impl Side {
    /// The stable name, as used in JSON and docs.
    pub fn name(self) -> &'static str {
        match self {
            Side::Bid => "bid",
            Side::Ask => "ask",
        }
    }

    /// Parses a name as [`Side::name`] gives it.
    pub fn from_name(text: &str) -> Option<Side> {
        match text {
            "bid" => Some(Side::Bid),
            "ask" => Some(Side::Ask),
            _ => None,
        }
    }

    fn to_u8(self) -> u8 {
        match self {
            Side::Bid => 0,
            Side::Ask => 1,
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Side, DecodeError> {
        match r.u8("side")? {
            0 => Ok(Side::Bid),
            1 => Ok(Side::Ask),
            _ => Err(DecodeError::InvalidValue { what: "side" }),
        }
    }
}

/// What the placer of an order sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderTerms {
    pub class: String,
    pub side: Side,
    /// Per unit, in base units: a bid's most, an ask's least.
    pub price: Amount,
    pub quantity: u64,
    /// From this time the order no longer fills; anyone may then end it.
    pub expires_at: Timestamp,
}

/// A resting order as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub owner: AccountId,
    /// Time priority among orders of one price: the class's count of
    /// orders placed before this one.
    pub seq: u64,
    pub placed_at: Timestamp,
    /// Units not yet filled.
    pub remaining: u64,
    /// Fills taken so far (at most `ORDER_FILLS_MAX`).
    pub fills: u16,
    /// What the owner put down; it comes back when the order ends.
    pub deposit: Amount,
    pub terms: OrderTerms,
}

/// The longest order record.
pub const ORDER_RECORD_BYTES_MAX: usize =
    32 + 8 + 8 + 8 + 2 + 8 + 1 + SERVICE_CATEGORY_BYTES_MAX + 1 + 8 * 3;

/// Why order terms break a rule; the text names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidOrder(pub &'static str);

impl core::fmt::Display for InvalidOrder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

impl OrderTerms {
    /// The first rule the terms break on their own, if any (the ledger
    /// checks the class, the expiry against the block's time and the money).
    pub fn check(&self) -> Result<(), InvalidOrder> {
        if !is_category(&self.class) {
            return Err(InvalidOrder(
                "a class name is 1 to 8 dotted parts of a-z, 0-9 and _, at most 48 bytes",
            ));
        }
        if self.price.is_zero() {
            return Err(InvalidOrder("the price per unit must be above zero"));
        }
        if self.quantity == 0 {
            return Err(InvalidOrder("the quantity must be above zero"));
        }
        if self.price.checked_mul(self.quantity).is_none() {
            return Err(InvalidOrder("price times quantity does not fit in 64 bits"));
        }
        Ok(())
    }

    /// What the order's `units` cost at its own price; `None` on overflow
    /// (terms that passed [`OrderTerms::check`] never overflow for
    /// `units <= quantity`).
    pub fn cost(&self, units: u64) -> Option<Amount> {
        self.price.checked_mul(units)
    }

    /// Appends the terms' bytes. They must have passed [`OrderTerms::check`].
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.bytes_u8(self.class.as_bytes());
        w.u8(self.side.to_u8())
            .amount(self.price)
            .u64(self.quantity)
            .u64(self.expires_at.0);
    }

    /// Reads terms and checks their rules.
    pub fn decode(r: &mut Reader<'_>) -> Result<OrderTerms, DecodeError> {
        let terms = OrderTerms {
            class: text(r.bytes_u8("class", SERVICE_CATEGORY_BYTES_MAX)?, "class")?,
            side: Side::decode(r)?,
            price: r.amount("price")?,
            quantity: r.u64("quantity")?,
            expires_at: Timestamp(r.u64("expires_at")?),
        };
        terms
            .check()
            .map_err(|e| DecodeError::InvalidValue { what: e.0 })?;
        Ok(terms)
    }
}

impl Order {
    /// What the order locks: its deposit and, for a bid, the price of what
    /// remains of it.
    pub fn locked(&self) -> Option<Amount> {
        match self.terms.side {
            Side::Bid => self.terms.cost(self.remaining)?.checked_add(self.deposit),
            Side::Ask => Some(self.deposit),
        }
    }

    /// Whether the order no longer fills at `at`.
    pub fn expired(&self, at: Timestamp) -> bool {
        at >= self.terms.expires_at
    }

    /// Appends the canonical record.
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.account(&self.owner)
            .u64(self.seq)
            .u64(self.placed_at.0)
            .u64(self.remaining)
            .u16(self.fills)
            .amount(self.deposit);
        self.terms.encode(w);
    }

    /// Reads one record.
    pub fn decode(r: &mut Reader<'_>) -> Result<Order, DecodeError> {
        let owner = r.account("owner")?;
        let seq = r.u64("seq")?;
        let placed_at = Timestamp(r.u64("placed_at")?);
        let remaining = r.u64("remaining")?;
        let fills = r.u16("fills")?;
        let deposit = r.amount("deposit")?;
        let terms = OrderTerms::decode(r)?;
        if remaining == 0 || remaining > terms.quantity {
            return Err(DecodeError::InvalidValue { what: "remaining" });
        }
        if fills >= crate::limits::ORDER_FILLS_MAX {
            return Err(DecodeError::InvalidValue { what: "fills" });
        }
        Ok(Order {
            owner,
            seq,
            placed_at,
            remaining,
            fills,
            deposit,
            terms,
        })
    }

    /// The canonical record.
    pub fn to_record(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(128);
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Decodes a record that must be the whole of `bytes`.
    pub fn from_record(bytes: &[u8]) -> Result<Order, DecodeError> {
        let mut r = Reader::new(bytes);
        let order = Order::decode(&mut r)?;
        r.finish("order record")?;
        Ok(order)
    }
}
