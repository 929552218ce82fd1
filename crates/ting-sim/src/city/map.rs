//! The water utility's district map, built from the points it bought.
//!
//! Pure: the utility's agent adds each point it opened with the district
//! and household of the stream it came from; the screen and the report
//! read estimates. Hardness is the mean of the hourly readings bought;
//! demand is litres per household-hour (an hourly reading covers one hour,
//! a daily sum the hours it summed) times 24 times the district's
//! connections, which the utility knows from its own network.
//!
//! It also keeps, per household, which fields reached the utility and in
//! what form, so that a run can show no field left outside its owner's
//! consent record.

use std::collections::{BTreeMap, BTreeSet};

use ting_core::stream::point::PointValue;

use super::data::{FIELD_CONSUMPTION, FIELD_HARDNESS};
use crate::world::HOURS_PER_DAY;

/// Hardness is bought in tenths of mg/l.
const HARDNESS_SCALE: f64 = 10.0;

/// How a point reached the utility.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Form {
    /// A reading as read (or rounded).
    AsRead,
    /// A sum or mean over a window of this many ms.
    Aggregate { window_ms: u64 },
    /// A position.
    Location,
}

impl Form {
    fn of(value: &PointValue) -> Form {
        match value {
            PointValue::Number { .. } => Form::AsRead,
            PointValue::Aggregate { window_ms, .. } => Form::Aggregate {
                window_ms: *window_ms,
            },
            PointValue::Location { .. } => Form::Location,
        }
    }

    /// How the form is written in the purchases file.
    pub fn label(&self) -> String {
        match self {
            Form::AsRead => "as read".into(),
            Form::Aggregate { window_ms } => format!("aggregate over {window_ms} ms"),
            Form::Location => "position".into(),
        }
    }
}

/// What the utility bought in one district.
#[derive(Debug, Clone, Default, PartialEq)]
struct Sample {
    hardness_tenths: i128,
    hardness_readings: u64,
    litres: i128,
    hours: u64,
    readings: u64,
}

/// The utility's map and its record of what reached it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CityMap {
    districts: BTreeMap<u16, Sample>,
    forms: BTreeMap<u32, BTreeSet<(String, Form)>>,
}

impl CityMap {
    /// Adds a point of `field` bought from `household` in `district`.
    pub fn add(&mut self, district: u16, household: u32, field: &str, value: &PointValue) {
        self.forms
            .entry(household)
            .or_default()
            .insert((field.to_owned(), Form::of(value)));
        let s = self.districts.entry(district).or_default();
        s.readings = s.readings.saturating_add(1);
        match (field, value) {
            (FIELD_HARDNESS, PointValue::Number { value, .. }) => {
                s.hardness_tenths = s.hardness_tenths.saturating_add(i128::from(*value));
                s.hardness_readings = s.hardness_readings.saturating_add(1);
            }
            (FIELD_CONSUMPTION, PointValue::Number { value, .. }) => {
                s.litres = s.litres.saturating_add(i128::from(*value));
                s.hours = s.hours.saturating_add(1);
            }
            (FIELD_CONSUMPTION, PointValue::Aggregate { value, count, .. }) => {
                s.litres = s.litres.saturating_add(*value);
                s.hours = s.hours.saturating_add(*count);
            }
            _ => {}
        }
    }

    /// The mean incoming hardness bought in `district`, mg/l.
    pub fn hardness_mg_l(&self, district: u16) -> Option<f64> {
        let s = self.districts.get(&district)?;
        (s.hardness_readings > 0)
            .then(|| s.hardness_tenths as f64 / s.hardness_readings as f64 / HARDNESS_SCALE)
    }

    /// The district's daily demand for `connections` households, litres.
    pub fn demand_litres_per_day(&self, district: u16, connections: u32) -> Option<f64> {
        let s = self.districts.get(&district)?;
        (s.hours > 0).then(|| {
            s.litres as f64 / s.hours as f64 * HOURS_PER_DAY as f64 * f64::from(connections)
        })
    }

    /// Points bought in `district`.
    pub fn readings(&self, district: u16) -> u64 {
        self.districts.get(&district).map_or(0, |s| s.readings)
    }

    /// Districts the map has any estimate for.
    pub fn covered(&self) -> usize {
        self.districts
            .values()
            .filter(|s| s.hardness_readings > 0 || s.hours > 0)
            .count()
    }

    /// Which fields reached the utility from each household, and how.
    pub fn forms(&self) -> &BTreeMap<u32, BTreeSet<(String, Form)>> {
        &self.forms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::Timestamp;

    fn number(value: i64) -> PointValue {
        PointValue::Number {
            value,
            at: Timestamp(0),
        }
    }

    #[test]
    fn hardness_is_the_mean_of_the_readings_in_mg_per_litre() {
        let mut m = CityMap::default();
        m.add(2, 7, FIELD_HARDNESS, &number(1_500));
        m.add(2, 8, FIELD_HARDNESS, &number(2_500));
        assert_eq!(m.hardness_mg_l(2), Some(200.0));
        assert_eq!(m.hardness_mg_l(3), None);
        assert_eq!(m.readings(2), 2);
    }

    #[test]
    fn demand_weighs_hourly_readings_and_daily_sums_by_the_hours_they_cover() {
        let mut m = CityMap::default();
        // One household's hour: 30 l; another's day of 24 readings: 480 l.
        m.add(1, 1, FIELD_CONSUMPTION, &number(30));
        let day = PointValue::Aggregate {
            value: 480,
            window_start: Timestamp(0),
            window_ms: 86_400_000,
            count: 24,
        };
        m.add(1, 2, FIELD_CONSUMPTION, &day);
        // (30 + 480) l over 25 hours, for 10 households over 24 hours.
        let want = 510.0 / 25.0 * 24.0 * 10.0;
        let got = m.demand_litres_per_day(1, 10).expect("an estimate");
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        assert_eq!(m.covered(), 1);
        let forms: Vec<_> = m.forms()[&2].iter().cloned().collect();
        assert_eq!(
            forms,
            vec![(
                FIELD_CONSUMPTION.to_owned(),
                Form::Aggregate {
                    window_ms: 86_400_000
                }
            )]
        );
    }

    #[test]
    fn a_field_it_does_not_map_is_still_recorded_as_received() {
        let mut m = CityMap::default();
        m.add(0, 4, "raw_flow", &number(9));
        assert_eq!(m.covered(), 0);
        assert!(m.forms()[&4].contains(&("raw_flow".to_owned(), Form::AsRead)));
    }
}
