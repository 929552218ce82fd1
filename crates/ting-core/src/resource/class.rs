//! A resource class: what one order book trades, in which unit, and how a
//! lease on it is shown to be delivered.
//!
//! Definition (little-endian): `name (u8 len) | unit (u8 len) | lease_ms
//! u64 | delivery u8 (1: counts the buyer signs)`. The record the ledger
//! keeps: `definition | orders_placed u64 | traded u64 | last_price u64 |
//! last_trade_at u64`; `orders_placed` numbers the book's orders for time
//! priority, the rest is the book's last trade and volume in units.

use crate::prelude::*;

use crate::amount::Amount;
use crate::consent::text;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::limits::{LEASE_MS_MAX, RESOURCE_UNIT_BYTES_MAX, SERVICE_CATEGORY_BYTES_MAX};
use crate::market::is_category;
use crate::types::Timestamp;

const DELIVERY_SIGNED_COUNT: u8 = 1;

/// How delivery on a lease is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// The buyer signs the cumulative count of units it has received
    /// (`lease::DeliveryCount`); each count pays the units above the last.
    SignedCount,
}

impl Delivery {
    /// The stable name, as used in JSON and docs.
    pub fn name(self) -> &'static str {
        match self {
            Delivery::SignedCount => "signed_count",
        }
    }
}

/// A resource class as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceClass {
    /// Dotted, as a service category: `bandwidth.uplink.msg`, `compute.cpu.s`.
    pub name: String,
    /// What one unit is: `msg`, `cpu_s`, `mb`.
    pub unit: String,
    /// How long a lease made by a fill runs, from the fill.
    pub lease_ms: u64,
    pub delivery: Delivery,
    /// Orders placed on the book so far: the next order's time priority.
    pub orders_placed: u64,
    /// Units traded on the book so far.
    pub traded: u64,
    /// The unit price of the last fill (zero before the first).
    pub last_price: Amount,
    /// When the last fill happened (zero before the first).
    pub last_trade_at: Timestamp,
}

/// The longest class record.
pub const CLASS_RECORD_BYTES_MAX: usize =
    1 + SERVICE_CATEGORY_BYTES_MAX + 1 + RESOURCE_UNIT_BYTES_MAX + 8 + 1 + 8 * 4;

/// Why a class definition breaks a rule; the text names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidClass(pub &'static str);

impl core::fmt::Display for InvalidClass {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

/// Whether `text` names a unit: 1 to 16 of `a-z`, `0-9` and `_`.
pub fn is_unit(text: &str) -> bool {
    (1..=RESOURCE_UNIT_BYTES_MAX).contains(&text.len())
        && text
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// The first rule a class definition breaks, if any.
pub fn check_definition(name: &str, unit: &str, lease_ms: u64) -> Result<(), InvalidClass> {
    if !is_category(name) {
        return Err(InvalidClass(
            "a class name is 1 to 8 dotted parts of a-z, 0-9 and _, at most 48 bytes",
        ));
    }
    if !is_unit(unit) {
        return Err(InvalidClass("a unit is 1 to 16 of a-z, 0-9 and _"));
    }
    if lease_ms == 0 || lease_ms > LEASE_MS_MAX {
        return Err(InvalidClass("a lease runs 1 ms to 30 days"));
    }
    Ok(())
}

impl ResourceClass {
    /// A class just defined: nothing placed or traded yet.
    pub fn new(name: String, unit: String, lease_ms: u64) -> ResourceClass {
        ResourceClass {
            name,
            unit,
            lease_ms,
            delivery: Delivery::SignedCount,
            orders_placed: 0,
            traded: 0,
            last_price: Amount::ZERO,
            last_trade_at: Timestamp(0),
        }
    }

    /// Appends the definition's bytes, as in `class_register`. It must
    /// have passed [`check_definition`].
    pub fn encode_definition<S: Sink>(w: &mut Writer<S>, name: &str, unit: &str, lease_ms: u64) {
        w.bytes_u8(name.as_bytes());
        w.bytes_u8(unit.as_bytes());
        w.u64(lease_ms).u8(DELIVERY_SIGNED_COUNT);
    }

    /// Reads a definition and checks its rules.
    pub fn decode_definition(r: &mut Reader<'_>) -> Result<(String, String, u64), DecodeError> {
        let name = text(r.bytes_u8("class", SERVICE_CATEGORY_BYTES_MAX)?, "class")?;
        let unit = text(r.bytes_u8("unit", RESOURCE_UNIT_BYTES_MAX)?, "unit")?;
        let lease_ms = r.u64("lease_ms")?;
        if r.u8("delivery")? != DELIVERY_SIGNED_COUNT {
            return Err(DecodeError::InvalidValue { what: "delivery" });
        }
        check_definition(&name, &unit, lease_ms)
            .map_err(|e| DecodeError::InvalidValue { what: e.0 })?;
        Ok((name, unit, lease_ms))
    }

    /// Appends the canonical record.
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        ResourceClass::encode_definition(w, &self.name, &self.unit, self.lease_ms);
        w.u64(self.orders_placed)
            .u64(self.traded)
            .amount(self.last_price)
            .u64(self.last_trade_at.0);
    }

    /// Reads one record.
    pub fn decode(r: &mut Reader<'_>) -> Result<ResourceClass, DecodeError> {
        let (name, unit, lease_ms) = ResourceClass::decode_definition(r)?;
        Ok(ResourceClass {
            name,
            unit,
            lease_ms,
            delivery: Delivery::SignedCount,
            orders_placed: r.u64("orders_placed")?,
            traded: r.u64("traded")?,
            last_price: r.amount("last_price")?,
            last_trade_at: Timestamp(r.u64("last_trade_at")?),
        })
    }

    /// The canonical record.
    pub fn to_record(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(96);
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Decodes a record that must be the whole of `bytes`.
    pub fn from_record(bytes: &[u8]) -> Result<ResourceClass, DecodeError> {
        let mut r = Reader::new(bytes);
        let class = ResourceClass::decode(&mut r)?;
        r.finish("class record")?;
        Ok(class)
    }
}
