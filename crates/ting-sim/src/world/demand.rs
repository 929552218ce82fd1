//! How much water a household draws, hour by hour, and when its purifier
//! cleans itself.
//!
//! Demand follows a daily profile (quiet nights, morning and evening
//! peaks) scaled by the household's size and thirst, with noise per
//! (household, hour). The rate is constant within each hour, and
//! [`Scenario::demand_litres`] integrates it piece by piece, so it is
//! additive over any split of an interval.

use super::error::check_interval;
use super::household::Household;
use super::noise::{Noise, Stream};
use super::time::{hour_bucket, Pieces, HOURS_PER_DAY};
use super::{QueryError, Scenario};

/// The share (per mille) of a day's water drawn in each hour of a typical
/// household's day (UTC); sums to 1000.
pub const HOURLY_PROFILE_PERMILLE: [u16; 24] = [
    10, 10, 10, 10, 10, 20, 60, 100, 70, 45, 35, 35, // 00:00 to 11:59
    50, 40, 30, 30, 35, 50, 75, 95, 70, 55, 35, 20, // 12:00 to 23:59
];
/// Hour-by-hour demand noise, at most this fraction either way.
pub const DEMAND_NOISE_FRACTION: f64 = 0.4;
/// Hours in a day, as the cleaning hour's type.
const HOURS_IN_DAY: u8 = 24;
/// The per-mille scale of [`HOURLY_PROFILE_PERMILLE`].
const PERMILLE: f64 = 1_000.0;

/// The litres `household` draws over the whole of hour `bucket`.
pub(super) fn bucket_litres(noise: Noise, household: &Household, bucket: u64) -> f64 {
    let day_litres = f64::from(household.people) * household.person_day_litres;
    // A household running an hour late draws at 08:00 what a typical one
    // draws at 07:00. Adding a day first keeps the index non-negative.
    let hour = (bucket % HOURS_PER_DAY + HOURS_PER_DAY)
        .saturating_add_signed(-i64::from(household.rhythm_shift_hours))
        % HOURS_PER_DAY;
    let share = usize::try_from(hour)
        .ok()
        .and_then(|i| HOURLY_PROFILE_PERMILLE.get(i))
        .map_or(0.0, |&permille| f64::from(permille) / PERMILLE);
    let ids = [u64::from(household.id), bucket];
    let jitter = 1.0 + DEMAND_NOISE_FRACTION * noise.signed(Stream::DemandNoise, &ids);
    day_litres * share * jitter
}

/// The litres `household` draws over `[from_ms, to_ms)`; the caller has
/// checked the interval.
pub(super) fn litres_between(noise: Noise, household: &Household, from_ms: u64, to_ms: u64) -> f64 {
    Pieces::new(from_ms, to_ms)
        .map(|piece| bucket_litres(noise, household, piece.bucket) * piece.fraction())
        .sum()
}

impl Scenario {
    /// The litres `household` draws over `[from_ms, to_ms)`. Additive:
    /// `demand(a, b) + demand(b, c) == demand(a, c)` up to rounding.
    ///
    /// # Errors
    /// [`QueryError::UnknownHousehold`], or the interval is reversed or
    /// longer than [`super::INTERVAL_MS_MAX`].
    pub fn demand_litres(
        &self,
        household: u32,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<f64, QueryError> {
        check_interval(from_ms, to_ms)?;
        let found = self.household_or_err(household)?;
        Ok(litres_between(self.noise, found, from_ms, to_ms))
    }

    /// The hour of day (UTC) at which `household`'s purifier cleans itself
    /// on scenario `day`, or `None` if it does not clean that day. It
    /// cleans in the household's lowest-demand hour of the day, every day
    /// when the district's water is hard that day, every second day when
    /// medium, every third when soft.
    ///
    /// # Errors
    /// [`QueryError::UnknownHousehold`].
    pub fn cleaning_plan(&self, household: u32, day: u64) -> Result<Option<u8>, QueryError> {
        let found = self.household_or_err(household)?;
        let district = self.district_or_err(found.district)?;
        let interval = self.water_class_on(district, day).cleaning_interval_days();
        if !day
            .saturating_add(u64::from(found.cleaning_phase_days))
            .is_multiple_of(interval)
        {
            return Ok(None);
        }
        let first_bucket = hour_bucket(self.day_start_ms(day));
        let mut quietest: (u8, f64) = (0, f64::INFINITY);
        for hour in 0..HOURS_IN_DAY {
            let litres = bucket_litres(self.noise, found, first_bucket + u64::from(hour));
            if litres < quietest.1 {
                quietest = (hour, litres);
            }
        }
        Ok(Some(quietest.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::time::{DAY_MS, HOUR_MS};

    const START_MS: u64 = 20_000 * DAY_MS + 9 * HOUR_MS;

    fn scenario() -> Scenario {
        Scenario::new(21, 50, START_MS).expect("a valid scenario")
    }

    #[test]
    fn the_profile_shares_sum_to_a_whole_day() {
        let total: u32 = HOURLY_PROFILE_PERMILLE.iter().copied().map(u32::from).sum();
        assert_eq!(total, 1_000);
    }

    #[test]
    fn a_household_draws_roughly_its_size_times_its_thirst_per_day() {
        let world = scenario();
        for household in world.households() {
            let week = world
                .demand_litres(household.id, START_MS, START_MS + 7 * DAY_MS)
                .expect("known household");
            let expected = 7.0 * f64::from(household.people) * household.person_day_litres;
            assert!((week / expected - 1.0).abs() < 0.1, "{week} vs {expected}");
        }
    }

    #[test]
    fn nights_are_quieter_than_mornings() {
        let world = scenario();
        let day0_ms = world.day_start_ms(0);
        let night = world.demand_litres(0, day0_ms + 2 * HOUR_MS, day0_ms + 4 * HOUR_MS);
        let morning = world.demand_litres(0, day0_ms + 7 * HOUR_MS, day0_ms + 9 * HOUR_MS);
        assert!(night.expect("known") < morning.expect("known"));
    }

    #[test]
    fn cleaning_happens_at_night_and_at_least_every_third_day() {
        let world = scenario();
        for household in world.households() {
            let plans: Vec<Option<u8>> = (0..9)
                .map(|day| world.cleaning_plan(household.id, day).expect("known"))
                .collect();
            for window in plans.windows(3) {
                assert!(window.iter().any(Option::is_some), "{plans:?}");
            }
            for hour in plans.iter().flatten() {
                assert!(*hour <= 5 || *hour == 23, "cleaning at {hour}:00");
            }
        }
    }

    #[test]
    fn asking_about_an_unknown_household_or_a_reversed_interval_is_refused() {
        let world = scenario();
        let unknown = world.demand_litres(50, 0, 1).expect_err("unknown");
        assert_eq!(unknown.code(), "unknown_household");
        let reversed = world.demand_litres(0, 10, 5).expect_err("reversed");
        assert_eq!(reversed.code(), "interval_reversed");
        let long = world
            .demand_litres(0, 0, 400 * DAY_MS)
            .expect_err("too long");
        assert_eq!(long.code(), "interval_too_long");
    }
}
