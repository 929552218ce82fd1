//! What a buyer bought, written out: CSV (one row per point) or JSON (one
//! array of objects), with each field's name and unit from the stream's
//! schema and numbers in their unit (a fixed-point value with its decimals
//! put back).
//!
//! Columns: `seq, epoch, field, unit, form, value, at_ms, window_ms, count`.
//! `form` is `number`, `location` or `aggregate`; `window_ms` and `count`
//! are empty except for aggregates; `at_ms` is a window's start for those.

use std::io::Write;

use serde_json::{json, Value};
use ting_core::stream::point::PointValue;
use ting_core::stream::{FieldKind, StreamTerms};

use super::Bought;

/// `value` (an integer scaled by 10^decimals) as a decimal number.
pub fn decimal(value: i128, decimals: u8) -> String {
    if decimals == 0 {
        return value.to_string();
    }
    let digits = value.unsigned_abs().to_string();
    let width = usize::from(decimals) + 1;
    let padded = format!("{digits:0>width$}");
    let (whole, frac) = padded.split_at(padded.len() - usize::from(decimals));
    let sign = if value < 0 { "-" } else { "" };
    format!("{sign}{whole}.{frac}")
}

/// One point's row: field name, unit, form, value, time, window, count.
fn row(terms: &StreamTerms, b: &Bought) -> [String; 7] {
    let (name, unit, decimals) =
        terms
            .fields
            .get(usize::from(b.point.field))
            .map_or(("?", "", 0), |f| {
                let d = match f.kind {
                    FieldKind::Number { decimals } => decimals,
                    FieldKind::Location => 0,
                };
                (f.name.as_str(), f.unit.as_str(), d)
            });
    let (form, value, at, window, count) = match &b.point.value {
        PointValue::Number { value, at } => (
            "number",
            decimal(i128::from(*value), decimals),
            at.0,
            String::new(),
            String::new(),
        ),
        PointValue::Location { geohash, at } => (
            "location",
            geohash.clone(),
            at.0,
            String::new(),
            String::new(),
        ),
        PointValue::Aggregate {
            value,
            window_start,
            window_ms,
            count,
        } => (
            "aggregate",
            decimal(*value, decimals),
            window_start.0,
            window_ms.to_string(),
            count.to_string(),
        ),
    };
    [
        name.to_owned(),
        unit.to_owned(),
        form.to_owned(),
        value,
        at.to_string(),
        window,
        count,
    ]
}

/// Quotes a CSV cell when it holds a comma, a quote or a line break.
fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Writes `points` as CSV with a header line.
pub fn csv(out: &mut dyn Write, terms: &StreamTerms, points: &[Bought]) -> std::io::Result<()> {
    writeln!(out, "seq,epoch,field,unit,form,value,at_ms,window_ms,count")?;
    for b in points {
        let cells: Vec<String> = row(terms, b).iter().map(|c| cell(c)).collect();
        writeln!(out, "{},{},{}", b.seq, b.epoch, cells.join(","))?;
    }
    Ok(())
}

/// `points` as one JSON array of objects.
pub fn json(terms: &StreamTerms, points: &[Bought]) -> Value {
    let rows: Vec<Value> = points
        .iter()
        .map(|b| {
            let [field, unit, form, value, at, window, count] = row(terms, b);
            let mut v = json!({
                "seq": b.seq, "epoch": b.epoch, "field": field, "unit": unit,
                "form": form, "value": value, "at_ms": at.parse::<u64>().unwrap_or(0),
            });
            if !window.is_empty() {
                v["window_ms"] = json!(window.parse::<u64>().unwrap_or(0));
                v["count"] = json!(count.parse::<u64>().unwrap_or(0));
            }
            v
        })
        .collect();
    Value::Array(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::stream::point::Point;
    use ting_core::stream::{EpochRule, FieldSpec};
    use ting_core::{Amount, Hash32, Timestamp};

    fn terms() -> StreamTerms {
        StreamTerms {
            fields: vec![
                FieldSpec {
                    name: "hardness".into(),
                    unit: "mg/l".into(),
                    kind: FieldKind::Number { decimals: 1 },
                },
                FieldSpec {
                    name: "where".into(),
                    unit: String::new(),
                    kind: FieldKind::Location,
                },
            ],
            price_per_epoch: Amount::new(5),
            epoch: EpochRule::Points(10),
            area: "u0".into(),
            consent: Hash32::ZERO,
        }
    }

    #[test]
    fn decimals_are_put_back_with_the_sign_and_leading_zeros() {
        assert_eq!(decimal(1234, 1), "123.4");
        assert_eq!(decimal(-5, 2), "-0.05");
        assert_eq!(decimal(7, 0), "7");
        assert_eq!(decimal(0, 3), "0.000");
    }

    #[test]
    fn csv_and_json_name_fields_and_units_from_the_schema() {
        let points = vec![
            Bought {
                seq: 3,
                epoch: 0,
                point: Point {
                    field: 0,
                    value: PointValue::Number {
                        value: 1234,
                        at: Timestamp(1000),
                    },
                },
            },
            Bought {
                seq: 4,
                epoch: 0,
                point: Point {
                    field: 1,
                    value: PointValue::Location {
                        geohash: "u0m".into(),
                        at: Timestamp(2000),
                    },
                },
            },
            Bought {
                seq: 5,
                epoch: 0,
                point: Point {
                    field: 0,
                    value: PointValue::Aggregate {
                        value: -25,
                        window_start: Timestamp(0),
                        window_ms: 86_400_000,
                        count: 4,
                    },
                },
            },
        ];
        let mut out = Vec::new();
        csv(&mut out, &terms(), &points).expect("written");
        let text = String::from_utf8(out).expect("UTF-8");
        assert_eq!(
            text,
            "seq,epoch,field,unit,form,value,at_ms,window_ms,count\n\
             3,0,hardness,mg/l,number,123.4,1000,,\n\
             4,0,where,,location,u0m,2000,,\n\
             5,0,hardness,mg/l,aggregate,-2.5,0,86400000,4\n"
        );
        let v = json(&terms(), &points);
        assert_eq!(v[0]["value"], "123.4");
        assert_eq!(v[2]["window_ms"], 86_400_000);
        assert!(v[0].get("count").is_none());
    }
}
