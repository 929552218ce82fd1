//! The consent filter: a consent record applied to a device's readings, so
//! that only what the owner allowed, in the form allowed, leaves the device.
//!
//! A refused field, a field the record does not name, a reading outside the
//! record's time, or a value of the wrong kind is withheld. A raw field
//! leaves rounded; a location leaves cut to its geohash prefix; an aggregate
//! leaves once per window, when a later reading or [`ConsentFilter::close_due`]
//! closes it. The filter holds one open window per field and allocates
//! nothing per reading.

use crate::prelude::*;

use super::{AggregateOp, ConsentRecord, FieldUse};
use crate::stream::terms::is_geohash_char;
use crate::types::Timestamp;

/// One reading of one field, as the device's sensor gives it. Numbers are
/// fixed-point integers in the unit the stream's schema names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reading<'a> {
    pub field: &'a str,
    pub value: Value<'a>,
    pub at: Timestamp,
}

/// A reading's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    Number(i64),
    /// A position as a geohash (`0-9`, `b-z` less `a i l o`).
    Geohash(&'a str),
}

/// What may leave the device: a field (by its index in the record) and the
/// form the record allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Released<'a> {
    pub field: usize,
    pub form: Form<'a>,
}

/// The form of what leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form<'a> {
    /// A raw reading, rounded.
    Number { value: i64, at: Timestamp },
    /// A location, cut to the record's geohash length.
    Location { geohash: &'a str, at: Timestamp },
    /// A window's sum or mean, rounded; `count` readings went into it.
    Aggregate {
        value: i128,
        window_start: Timestamp,
        window_ms: u64,
        count: u64,
    },
}

/// Why a reading did not leave as it came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Withheld {
    /// The record refuses the field, or does not name it.
    Refused,
    /// The record does not hold at the reading's time.
    NotInForce,
    /// A number for a location field, or a location for a number field, or
    /// a malformed geohash.
    WrongKind,
    /// From a window already released, or older than the field's open
    /// window: a window leaves once.
    Late,
    /// Taken into the field's open window; it leaves with the aggregate.
    Aggregating,
}

/// An open aggregation window.
#[derive(Clone, Copy, Debug)]
struct Window {
    start: u64,
    sum: i128,
    count: u64,
}

/// A consent record applied to readings, one field window open at a time.
#[derive(Debug)]
pub struct ConsentFilter {
    record: ConsentRecord,
    open: Vec<Option<Window>>,
    /// Per field, the start of the last window released: a reading from it
    /// or before is late, so that no window leaves twice.
    released: Vec<Option<u64>>,
    /// From when the owner withdrew the record, if it did.
    revoked_from: Option<Timestamp>,
}

impl ConsentFilter {
    /// A filter for `record`, which must pass [`ConsentRecord::check`].
    pub fn new(record: ConsentRecord) -> Result<ConsentFilter, super::ConsentError> {
        record.check()?;
        let open = vec![None; record.fields.len()];
        let released = vec![None; record.fields.len()];
        Ok(ConsentFilter {
            record,
            open,
            released,
            revoked_from: None,
        })
    }

    pub fn record(&self) -> &ConsentRecord {
        &self.record
    }

    /// The name of the field at `index` in the record.
    pub fn field_name(&self, index: usize) -> Option<&str> {
        self.record.fields.get(index).map(|f| f.name.as_str())
    }

    /// Applies the record to one reading. At most two things leave: the
    /// window this reading closes (`closed`), and the reading itself in its
    /// allowed form (`Ok`), or why it does not (`Err`).
    pub fn push<'a>(
        &mut self,
        reading: Reading<'a>,
        closed: &mut dyn FnMut(Released<'a>),
    ) -> Result<Released<'a>, Withheld> {
        if !self.in_force(reading.at) {
            return Err(Withheld::NotInForce);
        }
        let Some(index) = self
            .record
            .fields
            .iter()
            .position(|f| f.name == reading.field)
        else {
            return Err(Withheld::Refused);
        };
        match (self.record.fields[index].use_, reading.value) {
            (FieldUse::Refused, _) => Err(Withheld::Refused),
            (FieldUse::Raw { round_to }, Value::Number(v)) => {
                let value = i64::try_from(round_div(i128::from(v), 1, round_to))
                    .map_err(|_| Withheld::WrongKind)?;
                Ok(Released {
                    field: index,
                    form: Form::Number {
                        value,
                        at: reading.at,
                    },
                })
            }
            (FieldUse::Location { chars }, Value::Geohash(g)) => {
                if g.is_empty() || !g.bytes().all(is_geohash_char) {
                    return Err(Withheld::WrongKind);
                }
                let keep = usize::from(chars).min(g.len());
                Ok(Released {
                    field: index,
                    form: Form::Location {
                        geohash: &g[..keep],
                        at: reading.at,
                    },
                })
            }
            (FieldUse::Aggregate { window_ms, .. }, Value::Number(v)) => {
                let start = reading
                    .at
                    .0
                    .checked_div(window_ms)
                    .unwrap_or(0)
                    .saturating_mul(window_ms);
                if self.released[index].is_some_and(|done| start <= done) {
                    return Err(Withheld::Late);
                }
                match self.open[index] {
                    Some(w) if start < w.start => return Err(Withheld::Late),
                    Some(w) if start > w.start => {
                        if let Some(out) = self.close(index) {
                            closed(out);
                        }
                    }
                    _ => {}
                }
                let w = self.open[index].get_or_insert(Window {
                    start,
                    sum: 0,
                    count: 0,
                });
                w.sum = w.sum.saturating_add(i128::from(v));
                w.count = w.count.saturating_add(1);
                Err(Withheld::Aggregating)
            }
            _ => Err(Withheld::WrongKind),
        }
    }

    /// Withholds every reading from `from` on (the start of the first epoch
    /// at or after a revocation's `revoked_at`; the stream knows its epochs).
    /// An earlier time wins over a later one; a window still open keeps what
    /// it took before and leaves as usual.
    pub fn revoke(&mut self, from: Timestamp) {
        self.revoked_from = Some(self.revoked_from.map_or(from, |t| t.min(from)));
    }

    fn in_force(&self, at: Timestamp) -> bool {
        self.record.in_force(at) && self.revoked_from.is_none_or(|from| at < from)
    }

    /// Closes every open window that ends at or before `now`, handing each
    /// aggregate to `closed`: a device calls it on a timer, so that a window
    /// leaves even when no later reading comes.
    pub fn close_due(&mut self, now: Timestamp, closed: &mut dyn FnMut(Released<'static>)) {
        for index in 0..self.open.len() {
            let FieldUse::Aggregate { window_ms, .. } = self.record.fields[index].use_ else {
                continue;
            };
            let due = self.open[index].is_some_and(|w| w.start.saturating_add(window_ms) <= now.0);
            if due {
                if let Some(out) = self.close(index) {
                    closed(out);
                }
            }
        }
    }

    fn close(&mut self, index: usize) -> Option<Released<'static>> {
        let w = self.open[index].take()?;
        self.released[index] = Some(w.start);
        let FieldUse::Aggregate {
            op,
            window_ms,
            round_to,
        } = self.record.fields[index].use_
        else {
            return None;
        };
        let divisor = match op {
            AggregateOp::Sum => 1,
            AggregateOp::Mean => w.count,
        };
        Some(Released {
            field: index,
            form: Form::Aggregate {
                value: round_div(w.sum, divisor, round_to),
                window_start: Timestamp(w.start),
                window_ms,
                count: w.count,
            },
        })
    }
}

/// `v / divisor` rounded to the nearest multiple of `step`, halves away
/// from zero. `divisor` and `step` are at least 1 (the record's check).
pub fn round_div(v: i128, divisor: u64, step: u64) -> i128 {
    let d = i128::from(divisor.max(1)).saturating_mul(i128::from(step.max(1)));
    let q = v.checked_div(d).unwrap_or(0);
    let r = v.checked_rem(d).unwrap_or(0);
    let twice = r.saturating_mul(2).saturating_abs();
    let away = if twice >= d { v.signum() } else { 0 };
    q.saturating_add(away)
        .saturating_mul(i128::from(step.max(1)))
}
