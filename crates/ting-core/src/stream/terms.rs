//! What a seller registers about a stream on the ledger: its schema, the
//! price of an epoch, what an epoch is, the area it covers and the hash of
//! the consent record in force (docs/wire.md §16.6).
//!
//! Bytes (little-endian): `field count u8 | fields | price_per_epoch u64 |
//! epoch u8 (1 points: count u32; 2 time: ms u64) | area (u8 len, geohash) |
//! consent [32]`, a field being `name (u8 len) | unit (u8 len) | kind u8
//! (1 number: decimals u8; 2 location)`. Names are lowercase ASCII letters,
//! digits and `_`; units are printable ASCII; the area is a geohash prefix
//! of 1 to [`GEOHASH_CHARS_MAX`] characters.

use crate::prelude::*;

use crate::amount::Amount;
use crate::consent::text;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
pub use crate::limits::{
    EPOCH_POINTS_MAX, FIELD_DECIMALS_MAX, FIELD_NAME_BYTES_MAX, GEOHASH_CHARS_MAX,
    STREAM_FIELDS_MAX, UNIT_BYTES_MAX, WINDOW_MS_MAX, WINDOW_MS_MIN,
};

const KIND_NUMBER: u8 = 1;
const KIND_LOCATION: u8 = 2;
const EPOCH_POINTS: u8 = 1;
const EPOCH_TIME: u8 = 2;

/// What one field's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A fixed-point number: the integer read is the value times 10^decimals.
    Number { decimals: u8 },
    /// A position, as a geohash.
    Location,
}

/// One field of a stream's schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: String,
    /// The unit of the values, such as `mg/l` or `l` (empty for none).
    pub unit: String,
    pub kind: FieldKind,
}

/// What one epoch of a stream is: the unit a buyer pays for and a key opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochRule {
    /// Every `count` points: epoch `e` holds points `e × count` to `(e + 1) × count − 1`.
    Points(u32),
    /// Every `ms` milliseconds since the Unix epoch: epoch `e` holds the
    /// readings taken from `e × ms` to before `(e + 1) × ms`.
    Time(u64),
}

impl EpochRule {
    /// The epoch of the point numbered `seq` read at `at_ms`.
    pub fn epoch_of(&self, seq: u64, at_ms: u64) -> u64 {
        match *self {
            EpochRule::Points(count) => seq.checked_div(u64::from(count)).unwrap_or(seq),
            EpochRule::Time(ms) => at_ms.checked_div(ms).unwrap_or(at_ms),
        }
    }
}

/// A stream's terms as registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamTerms {
    pub fields: Vec<FieldSpec>,
    /// What a buyer pays for one epoch's key, in base units.
    pub price_per_epoch: Amount,
    pub epoch: EpochRule,
    /// Where the readings come from: a geohash prefix.
    pub area: String,
    /// SHA-256 of the owner's signed consent record in force
    /// ([`crate::consent::SignedConsent::hash`]).
    pub consent: Hash32,
}

/// Why terms are not valid; the text names the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidTerms(pub &'static str);

impl core::fmt::Display for InvalidTerms {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.0)
    }
}

/// Whether `c` is one of the 32 geohash characters (`0-9`, `b-z` less `i l o`).
pub fn is_geohash_char(c: u8) -> bool {
    matches!(c, b'0'..=b'9' | b'b'..=b'h' | b'j' | b'k' | b'm' | b'n' | b'p'..=b'z')
}

/// Whether `text` is a geohash prefix of 1 to [`GEOHASH_CHARS_MAX`] characters.
pub fn is_area(text: &str) -> bool {
    (1..=usize::from(GEOHASH_CHARS_MAX)).contains(&text.len()) && text.bytes().all(is_geohash_char)
}

fn is_name(text: &str) -> bool {
    (1..=FIELD_NAME_BYTES_MAX).contains(&text.len())
        && text
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

fn is_unit(text: &str) -> bool {
    text.len() <= UNIT_BYTES_MAX && text.bytes().all(|c| c.is_ascii_graphic())
}

impl StreamTerms {
    /// The first rule broken, if any.
    pub fn check(&self) -> Result<(), InvalidTerms> {
        let invalid = |what| Err(InvalidTerms(what));
        if self.fields.is_empty() || self.fields.len() > STREAM_FIELDS_MAX {
            return invalid("a stream has 1 to 8 fields");
        }
        for (i, field) in self.fields.iter().enumerate() {
            if !is_name(&field.name) {
                return invalid("a field name is 1 to 32 of a-z, 0-9 and _");
            }
            if self.fields[..i].iter().any(|f| f.name == field.name) {
                return invalid("a field is named twice");
            }
            if !is_unit(&field.unit) {
                return invalid("a unit is at most 16 printable ASCII characters");
            }
            if matches!(field.kind, FieldKind::Number { decimals } if decimals > FIELD_DECIMALS_MAX)
            {
                return invalid("a number field has at most 18 decimals");
            }
        }
        if self.price_per_epoch.is_zero() {
            return invalid("the price per epoch must be above zero");
        }
        match self.epoch {
            EpochRule::Points(n) if n == 0 || n > EPOCH_POINTS_MAX => {
                return invalid("an epoch of points holds 1 to 1,000,000 points")
            }
            EpochRule::Time(ms) if !(WINDOW_MS_MIN..=WINDOW_MS_MAX).contains(&ms) => {
                return invalid("an epoch of time lasts 1 s to 366 days")
            }
            _ => {}
        }
        if !is_area(&self.area) {
            return invalid("the area is a geohash prefix of 1 to 12 characters");
        }
        Ok(())
    }

    /// The field named `name`, with its index.
    pub fn field(&self, name: &str) -> Option<(usize, &FieldSpec)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    /// Appends the terms' bytes. The terms must have passed [`StreamTerms::check`].
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.u8(u8::try_from(self.fields.len()).expect("checked terms"));
        for field in &self.fields {
            w.bytes_u8(field.name.as_bytes());
            w.bytes_u8(field.unit.as_bytes());
            match field.kind {
                FieldKind::Number { decimals } => w.u8(KIND_NUMBER).u8(decimals),
                FieldKind::Location => w.u8(KIND_LOCATION),
            };
        }
        w.amount(self.price_per_epoch);
        match self.epoch {
            EpochRule::Points(n) => w.u8(EPOCH_POINTS).u32(n),
            EpochRule::Time(ms) => w.u8(EPOCH_TIME).u64(ms),
        };
        w.bytes_u8(self.area.as_bytes());
        w.hash(&self.consent);
    }

    /// Reads terms and checks their rules.
    pub fn decode(r: &mut Reader<'_>) -> Result<StreamTerms, DecodeError> {
        let count = usize::from(r.u8("field count")?);
        if count > STREAM_FIELDS_MAX {
            return Err(DecodeError::TooLong {
                what: "fields",
                len: count,
                max: STREAM_FIELDS_MAX,
            });
        }
        let mut fields = Vec::with_capacity(count);
        for _ in 0..count {
            fields.push(decode_field(r)?);
        }
        let price_per_epoch = r.amount("price_per_epoch")?;
        let epoch = match r.u8("epoch rule")? {
            EPOCH_POINTS => EpochRule::Points(r.u32("epoch points")?),
            EPOCH_TIME => EpochRule::Time(r.u64("epoch ms")?),
            _ => return Err(DecodeError::InvalidValue { what: "epoch rule" }),
        };
        let area = text(r.bytes_u8("area", usize::from(GEOHASH_CHARS_MAX))?, "area")?;
        let terms = StreamTerms {
            fields,
            price_per_epoch,
            epoch,
            area,
            consent: r.hash("consent")?,
        };
        terms
            .check()
            .map_err(|e| DecodeError::InvalidValue { what: e.0 })?;
        Ok(terms)
    }
}

fn decode_field(r: &mut Reader<'_>) -> Result<FieldSpec, DecodeError> {
    let name = text(
        r.bytes_u8("field name", FIELD_NAME_BYTES_MAX)?,
        "field name",
    )?;
    let unit = text(r.bytes_u8("unit", UNIT_BYTES_MAX)?, "unit")?;
    let kind = match r.u8("field kind")? {
        KIND_NUMBER => FieldKind::Number {
            decimals: r.u8("decimals")?,
        },
        KIND_LOCATION => FieldKind::Location,
        _ => return Err(DecodeError::InvalidValue { what: "field kind" }),
    };
    Ok(FieldSpec { name, unit, kind })
}
