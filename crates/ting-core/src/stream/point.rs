//! One point of a stream, before it is sealed: a value of one field of the
//! stream's schema, in the form the owner's consent record let it leave.
//!
//! Bytes (little-endian): `field u8` (its index in the stream's schema),
//! then a form: `1 value i64 | at u64` (a number), `2 geohash (u8 len) | at
//! u64` (a location), `3 value i128 | window_start u64 | window_ms u64 |
//! count u64` (an aggregate: a window's sum or mean, from `count` readings).

use crate::prelude::*;

use crate::consent::filter::Form;
use crate::encoding::{DecodeError, Reader, Writer};
use crate::limits::GEOHASH_CHARS_MAX;
use crate::stream::terms::is_geohash_char;
use crate::types::Timestamp;

const FORM_NUMBER: u8 = 1;
const FORM_LOCATION: u8 = 2;
const FORM_AGGREGATE: u8 = 3;
/// The longest point: an aggregate.
pub const POINT_VALUE_BYTES_MAX: usize = 1 + 1 + 16 + 8 * 3;

/// A point's value, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PointValue {
    Number {
        value: i64,
        at: Timestamp,
    },
    Location {
        geohash: String,
        at: Timestamp,
    },
    Aggregate {
        value: i128,
        window_start: Timestamp,
        window_ms: u64,
        count: u64,
    },
}

/// A point: which field of the schema, and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    pub field: u8,
    pub value: PointValue,
}

impl Point {
    /// The point of schema field `field` for what the consent filter released.
    pub fn from_form(field: u8, form: &Form<'_>) -> Point {
        let value = match *form {
            Form::Number { value, at } => PointValue::Number { value, at },
            Form::Location { geohash, at } => PointValue::Location {
                geohash: geohash.to_owned(),
                at,
            },
            Form::Aggregate {
                value,
                window_start,
                window_ms,
                count,
            } => PointValue::Aggregate {
                value,
                window_start,
                window_ms,
                count,
            },
        };
        Point { field, value }
    }

    /// When the point was read: a reading's time, or a window's start.
    pub fn at(&self) -> Timestamp {
        match &self.value {
            PointValue::Number { at, .. } | PointValue::Location { at, .. } => *at,
            PointValue::Aggregate { window_start, .. } => *window_start,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(POINT_VALUE_BYTES_MAX);
        w.u8(self.field);
        match &self.value {
            PointValue::Number { value, at } => {
                w.u8(FORM_NUMBER).bytes(&value.to_le_bytes()).u64(at.0);
            }
            PointValue::Location { geohash, at } => {
                w.u8(FORM_LOCATION);
                w.bytes_u8(geohash.as_bytes()).u64(at.0);
            }
            PointValue::Aggregate {
                value,
                window_start,
                window_ms,
                count,
            } => {
                w.u8(FORM_AGGREGATE)
                    .bytes(&value.to_le_bytes())
                    .u64(window_start.0)
                    .u64(*window_ms)
                    .u64(*count);
            }
        }
        w.into_bytes()
    }

    /// Decodes one point that must be the whole of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Point, DecodeError> {
        let mut r = Reader::new(bytes);
        let field = r.u8("field")?;
        let value = match r.u8("form")? {
            FORM_NUMBER => PointValue::Number {
                value: i64::from_le_bytes(fixed(&mut r, "value")?),
                at: Timestamp(r.u64("at")?),
            },
            FORM_LOCATION => {
                let g = r.bytes_u8("geohash", usize::from(GEOHASH_CHARS_MAX))?;
                if g.is_empty() || !g.iter().all(|c| is_geohash_char(*c)) {
                    return Err(DecodeError::InvalidValue { what: "geohash" });
                }
                PointValue::Location {
                    geohash: String::from_utf8_lossy(g).into_owned(),
                    at: Timestamp(r.u64("at")?),
                }
            }
            FORM_AGGREGATE => PointValue::Aggregate {
                value: i128::from_le_bytes(fixed(&mut r, "value")?),
                window_start: Timestamp(r.u64("window_start")?),
                window_ms: r.u64("window_ms")?,
                count: r.u64("count")?,
            },
            _ => return Err(DecodeError::InvalidValue { what: "form" }),
        };
        r.finish("point")?;
        Ok(Point { field, value })
    }
}

fn fixed<const N: usize>(r: &mut Reader<'_>, what: &'static str) -> Result<[u8; N], DecodeError> {
    let mut out = [0u8; N];
    out.copy_from_slice(r.take(N, what)?);
    Ok(out)
}
