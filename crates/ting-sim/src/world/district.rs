//! Districts and the hardness of the water the mains bring them.
//!
//! Each district has a base hardness (mg/L as CaCO3, spread widely across
//! the city, from soft to very hard), a daily swing and hour-by-hour noise.
//! Exactly one district suffers a hardness incident for a few hours on day
//! 1 or 2: the event the utility's map should catch. Hardness is constant
//! within each simulated hour (see `time.rs`).

use std::f64::consts::TAU;

use super::noise::{Noise, Stream};
use super::time::{hour_bucket, HOURS_PER_DAY, HOUR_MS};
use super::{QueryError, Scenario};

/// Half an hour, as a fraction of one.
const HALF: f64 = 0.5;

/// The districts' names, in id order.
pub const DISTRICT_NAMES: [&str; 8] = [
    "Harbour",
    "Old Town",
    "Riverside",
    "Hillside",
    "Mill Quarter",
    "North Gate",
    "Lakeside",
    "Station",
];
/// The fewest districts a city has.
pub const DISTRICTS_MIN: u16 = 3;
/// The most districts a city has (one per name).
pub const DISTRICTS_MAX: u16 = 8;
/// Households per district before another district opens.
pub const HOUSEHOLDS_PER_DISTRICT: u32 = 10;

/// The softest base hardness of a district.
pub const BASE_HARDNESS_MIN_MG_L: f64 = 60.0;
/// The hardest base hardness of a district.
pub const BASE_HARDNESS_MAX_MG_L: f64 = 320.0;
/// The smallest daily swing, as a fraction of the base.
pub const DAILY_AMPLITUDE_MIN: f64 = 0.05;
/// The largest daily swing, as a fraction of the base.
pub const DAILY_AMPLITUDE_MAX: f64 = 0.15;
/// A district's base keeps this fraction of its band clear on each side,
/// so neighbouring ranks never nearly coincide.
pub const BAND_MARGIN: f64 = 0.15;
/// Hour-by-hour noise, at most this fraction of the base either way.
pub const HARDNESS_NOISE_FRACTION: f64 = 0.04;

/// Water at least this hard is "hard": purifiers clean every day.
pub const HARD_WATER_MG_L: f64 = 180.0;
/// Water at least this hard (and below [`HARD_WATER_MG_L`]) is "medium".
pub const MEDIUM_WATER_MG_L: f64 = 120.0;

/// The incident starts on day `INCIDENT_DAY_FIRST` or the day after.
pub const INCIDENT_DAY_FIRST: u64 = 1;
/// How many days the incident's start day is drawn from.
pub const INCIDENT_DAYS: u64 = 2;
/// The earliest hour of day the incident starts.
pub const INCIDENT_START_HOUR_MIN: u64 = 8;
/// How many hours the incident's start hour is drawn from.
pub const INCIDENT_START_HOURS: u64 = 10;
/// The shortest incident, in hours.
pub const INCIDENT_HOURS_MIN: u64 = 3;
/// How many durations (in whole hours) the incident's is drawn from.
pub const INCIDENT_DURATIONS: u64 = 4;
/// The smallest extra hardness during the incident.
pub const INCIDENT_EXTRA_MIN_MG_L: f64 = 80.0;
/// The largest extra hardness during the incident.
pub const INCIDENT_EXTRA_MAX_MG_L: f64 = 160.0;

/// One district of the city.
#[derive(Debug, Clone, PartialEq)]
pub struct District {
    /// Index into the scenario's districts.
    pub id: u16,
    /// A name from [`DISTRICT_NAMES`].
    pub name: &'static str,
    /// The mean hardness of the mains water.
    pub base_hardness_mg_l: f64,
    /// The daily swing, as a fraction of the base.
    pub daily_amplitude: f64,
    /// The hour of day (UTC) at which the daily swing crosses the base upward.
    pub phase_hours: f64,
}

/// The city's one hardness incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    /// The district it hits.
    pub district: u16,
    /// When it starts (on a whole hour).
    pub start_ms: u64,
    /// How long it lasts (whole hours).
    pub duration_ms: u64,
    /// How much harder the water is while it lasts.
    pub extra_mg_l: f64,
}

impl Incident {
    /// When it ends (exclusive).
    #[must_use]
    pub const fn end_ms(&self) -> u64 {
        self.start_ms.saturating_add(self.duration_ms)
    }

    /// Whether it is under way in `district` at `t_ms`.
    #[must_use]
    pub const fn covers(&self, district: u16, t_ms: u64) -> bool {
        self.district == district && self.start_ms <= t_ms && t_ms < self.end_ms()
    }
}

/// How hard water is, as purifiers' cleaning schedules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaterClass {
    /// Below [`MEDIUM_WATER_MG_L`].
    Soft,
    /// From [`MEDIUM_WATER_MG_L`] to below [`HARD_WATER_MG_L`].
    Medium,
    /// From [`HARD_WATER_MG_L`] up.
    Hard,
}

impl WaterClass {
    /// The class of water of this hardness.
    #[must_use]
    pub fn of(hardness_mg_l: f64) -> Self {
        if hardness_mg_l >= HARD_WATER_MG_L {
            Self::Hard
        } else if hardness_mg_l >= MEDIUM_WATER_MG_L {
            Self::Medium
        } else {
            Self::Soft
        }
    }

    /// Days between two cleanings of a purifier fed this water.
    #[must_use]
    pub const fn cleaning_interval_days(self) -> u64 {
        match self {
            Self::Hard => 1,
            Self::Medium => 2,
            Self::Soft => 3,
        }
    }
}

/// How many districts a city of `households` has:
/// `clamp(households / 10, 3, 8)`.
#[must_use]
pub fn districts_for(households: u32) -> u16 {
    let wanted = households / HOUSEHOLDS_PER_DISTRICT;
    let clamped = wanted.clamp(u32::from(DISTRICTS_MIN), u32::from(DISTRICTS_MAX));
    // Clamped to at most DISTRICTS_MAX, so it fits; the fallback is never taken.
    u16::try_from(clamped).unwrap_or(DISTRICTS_MAX)
}

/// The districts of a city, their base hardness spread over the whole
/// range: each takes one band of it in a seeded order, then a point inside.
pub(super) fn build_districts(noise: Noise, count: u16) -> Vec<District> {
    let mut order: Vec<u16> = (0..count).collect();
    order.sort_by_key(|&id| noise.bits(Stream::DistrictRank, &[u64::from(id)]));
    let band_mg_l = (BASE_HARDNESS_MAX_MG_L - BASE_HARDNESS_MIN_MG_L) / f64::from(count);
    let mut districts: Vec<District> = (0..count)
        .zip(DISTRICT_NAMES)
        .map(|(id, name)| {
            let ids = [u64::from(id)];
            District {
                id,
                name,
                base_hardness_mg_l: 0.0,
                daily_amplitude: noise.between(
                    Stream::DistrictAmplitude,
                    &ids,
                    DAILY_AMPLITUDE_MIN,
                    DAILY_AMPLITUDE_MAX,
                ),
                phase_hours: noise.between(Stream::DistrictPhase, &ids, 0.0, HOURS_PER_DAY as f64),
            }
        })
        .collect();
    for (rank, &id) in (0_u16..).zip(&order) {
        let inside = noise.between(
            Stream::DistrictBase,
            &[u64::from(id)],
            BAND_MARGIN,
            1.0 - BAND_MARGIN,
        );
        if let Some(district) = districts.get_mut(usize::from(id)) {
            district.base_hardness_mg_l =
                BASE_HARDNESS_MIN_MG_L + band_mg_l * (f64::from(rank) + inside);
        }
    }
    districts
}

/// The city's incident: a district, a day (1 or 2 after `day0_start_ms`),
/// a whole start hour and a duration of a few whole hours.
pub(super) fn build_incident(noise: Noise, districts: u16, day0_start_ms: u64) -> Incident {
    let draw = |what: u64, n: u64| noise.below(Stream::Incident, &[what], n);
    let day = INCIDENT_DAY_FIRST + draw(1, INCIDENT_DAYS);
    let hour = INCIDENT_START_HOUR_MIN + draw(2, INCIDENT_START_HOURS);
    let hours = INCIDENT_HOURS_MIN + draw(3, INCIDENT_DURATIONS);
    Incident {
        district: noise.below_u16(Stream::Incident, &[0], districts),
        start_ms: day0_start_ms + (day * HOURS_PER_DAY + hour) * HOUR_MS,
        duration_ms: hours * HOUR_MS,
        extra_mg_l: noise.between(
            Stream::Incident,
            &[4],
            INCIDENT_EXTRA_MIN_MG_L,
            INCIDENT_EXTRA_MAX_MG_L,
        ),
    }
}

/// The hardness of `district`'s water in the hour bucket holding `t_ms`.
pub(super) fn hardness(noise: Noise, district: &District, incident: &Incident, t_ms: u64) -> f64 {
    let bucket = hour_bucket(t_ms);
    // The daily swing is taken at the middle of the hour.
    let hour = (bucket % HOURS_PER_DAY) as f64 + HALF;
    let angle = TAU * (hour - district.phase_hours) / HOURS_PER_DAY as f64;
    let base = district.base_hardness_mg_l;
    let daily = base * (1.0 + district.daily_amplitude * angle.sin());
    let ids = [u64::from(district.id), bucket];
    let jitter = base * HARDNESS_NOISE_FRACTION * noise.signed(Stream::HardnessNoise, &ids);
    let extra = if incident.covers(district.id, t_ms) {
        incident.extra_mg_l
    } else {
        0.0
    };
    (daily + jitter + extra).max(0.0)
}

impl Scenario {
    /// The hardness (mg/L as CaCO3) of the mains water in `district` at
    /// `t_ms`: constant within each simulated hour, never negative.
    ///
    /// # Errors
    /// [`QueryError::UnknownDistrict`].
    pub fn hardness_mg_l(&self, district: u16, t_ms: u64) -> Result<f64, QueryError> {
        let found = self
            .district(district)
            .ok_or(QueryError::UnknownDistrict(district))?;
        Ok(hardness(self.noise, found, &self.incident, t_ms))
    }

    /// The class of `district`'s water over `day`, from its mean hardness
    /// that day (so an incident can make a medium district hard for a day).
    pub(super) fn water_class_on(&self, district: &District, day: u64) -> WaterClass {
        let day_start_ms = self.day_start_ms(day);
        let total: f64 = (0..HOURS_PER_DAY)
            .map(|hour| {
                hardness(
                    self.noise,
                    district,
                    &self.incident,
                    day_start_ms + hour * HOUR_MS,
                )
            })
            .sum();
        WaterClass::of(total / HOURS_PER_DAY as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::time::DAY_MS;

    #[test]
    fn district_count_is_a_tenth_of_households_clamped_to_three_and_eight() {
        assert_eq!(districts_for(1), 3);
        assert_eq!(districts_for(39), 3);
        assert_eq!(districts_for(50), 5);
        assert_eq!(districts_for(60), 6);
        assert_eq!(districts_for(10_000), 8);
    }

    #[test]
    fn base_hardness_spreads_from_soft_to_very_hard() {
        let districts = build_districts(Noise::new(3), 8);
        let bases: Vec<f64> = districts.iter().map(|d| d.base_hardness_mg_l).collect();
        let low = bases.iter().copied().fold(f64::MAX, f64::min);
        let high = bases.iter().copied().fold(f64::MIN, f64::max);
        assert!((BASE_HARDNESS_MIN_MG_L..100.0).contains(&low), "{bases:?}");
        assert!(
            (280.0..=BASE_HARDNESS_MAX_MG_L).contains(&high),
            "{bases:?}"
        );
    }

    #[test]
    fn the_incident_starts_on_day_one_or_two_on_a_whole_hour_for_a_few_hours() {
        for seed in 0..50 {
            let incident = build_incident(Noise::new(seed), 6, 10 * DAY_MS);
            let offset_ms = incident.start_ms - 10 * DAY_MS;
            assert!((DAY_MS..3 * DAY_MS).contains(&offset_ms));
            assert_eq!(offset_ms % HOUR_MS, 0);
            assert!((3 * HOUR_MS..=6 * HOUR_MS).contains(&incident.duration_ms));
            assert!(incident.district < 6);
        }
    }

    #[test]
    fn water_classes_follow_the_thresholds() {
        assert_eq!(WaterClass::of(60.0), WaterClass::Soft);
        assert_eq!(WaterClass::of(MEDIUM_WATER_MG_L), WaterClass::Medium);
        assert_eq!(WaterClass::of(HARD_WATER_MG_L), WaterClass::Hard);
        assert_eq!(WaterClass::Soft.cleaning_interval_days(), 3);
    }
}
