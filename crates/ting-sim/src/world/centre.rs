//! Service centres: who installs cartridges where, at what price, how fast
//! and how reliably.
//!
//! Coverage is laid out on a ring of districts so that every district has
//! at least two competing centres and every centre covers two to four
//! districts (see [`coverage`]). Prices rise with the centre's queue, in
//! integer base units. Whether an installation fails is a draw per
//! (centre, purifier, order number), never a shared stream.

use super::district::{districts_for, DISTRICT_NAMES};
use super::noise::{Noise, Stream};
use super::time::{HOUR_MS, MINUTE_MS};
use super::{QueryError, Scenario};

/// The centres' brands, in id order; a centre is named after its brand
/// and its home district ("AquaFix Harbour").
pub const CENTRE_BRANDS: [&str; 8] = [
    "AquaFix",
    "ClearFlow",
    "PureLine",
    "BlueDrop",
    "SoftTap",
    "Filtra",
    "CleanWave",
    "Crystal",
];
/// The fewest centres a city has.
pub const CENTRES_MIN: u16 = 3;
/// The most centres a city has (one per brand).
pub const CENTRES_MAX: u16 = 8;
/// Households per centre before another centre opens.
pub const HOUSEHOLDS_PER_CENTRE: u32 = 20;
/// The fewest centres competing in each district.
pub const CENTRES_PER_DISTRICT_MIN: usize = 2;
/// The fewest districts a centre covers.
pub const COVERS_MIN: usize = 2;
/// The most districts a centre covers.
pub const COVERS_MAX: usize = 4;
/// The chance that a centre covers one district more than the ring needs.
pub const EXTRA_COVER_CHANCE: f64 = 0.3;

/// The most technicians a centre has (at least one).
pub const TECHNICIANS_MAX: u32 = 4;
/// The fewest cartridges a centre starts with.
pub const STOCK_MIN: u32 = 4;
/// How many stock sizes above [`STOCK_MIN`] are drawn from.
pub const STOCK_SPREAD: u32 = 7;
/// A centre starts with one more cartridge per this many households it serves.
pub const STOCK_HOUSEHOLDS_PER_CARTRIDGE: u32 = 10;
/// A centre's typical delivery is one cartridge a day per this many households.
pub const RESTOCK_HOUSEHOLDS_PER_CARTRIDGE: u32 = 15;
/// The chance that no delivery comes on a given day.
pub const RESTOCK_SKIP_CHANCE: f64 = 0.25;
/// The lowest base price of an installed cartridge.
pub const BASE_PRICE_MIN_BASE_UNITS: u64 = 40_000;
/// The highest base price of an installed cartridge.
pub const BASE_PRICE_MAX_BASE_UNITS: u64 = 90_000;
/// Each open job per technician adds a quarter of the base price.
pub const PRICE_RISE_DIVISOR: u64 = 4;
/// The lowest failure rate of an ordinary centre.
pub const FAILURE_RATE_MIN: f64 = 0.02;
/// The highest failure rate of an ordinary centre.
pub const FAILURE_RATE_MAX: f64 = 0.05;
/// The failure rate of the city's one unreliable centre.
pub const UNRELIABLE_FAILURE_RATE: f64 = 0.25;
/// The shortest trip to a household, in hours.
pub const TRAVEL_HOURS_MIN: u8 = 1;
/// The longest trip to a household, in hours.
pub const TRAVEL_HOURS_MAX: u8 = 6;
/// How long a technician spends on one installation.
pub const INSTALL_JOB_MS: u64 = 90 * MINUTE_MS;

/// One service centre.
#[derive(Debug, Clone, PartialEq)]
pub struct Centre {
    /// Index into the scenario's centres.
    pub id: u16,
    /// Brand and home district, "AquaFix Harbour".
    pub name: String,
    /// The districts it serves, home first.
    pub covers: Vec<u16>,
    /// Technicians who install, 1..=4.
    pub technicians: u32,
    /// Cartridges in stock at the start.
    pub stock: u32,
    /// Its typical daily delivery of cartridges (see [`Scenario::restock`]).
    pub restock_per_day: u32,
    /// Its price for an installed cartridge when idle.
    pub base_price_base_units: u64,
    /// The chance an installation fails.
    pub failure_rate: f64,
    /// Hours a technician needs to reach a household.
    pub travel_hours: u8,
}

/// How many service centres a city of `households` has:
/// `clamp(households / 20, 3, 8)`, raised to half the districts (rounded
/// up) where that would be fewer, since two centres per district at four
/// districts per centre need that many (70 to 79 households: 7 districts).
#[must_use]
pub fn centres_for(households: u32) -> u16 {
    let wanted = households / HOUSEHOLDS_PER_CENTRE;
    let clamped = wanted.clamp(u32::from(CENTRES_MIN), u32::from(CENTRES_MAX));
    // Clamped to at most CENTRES_MAX, so it fits; the fallback is never taken.
    let by_households = u16::try_from(clamped).unwrap_or(CENTRES_MAX);
    by_households.max(districts_for(households).div_ceil(2))
}

/// The districts each of `centres` covers among `districts` (ids from 0),
/// for `2 <= centres <= districts`.
///
/// Centre `c` starts at `s(c) = c * districts / centres` on a ring of the
/// districts, rotated by a seeded offset, and runs up to `s(c + 2)`: every
/// district between `s(c + 1)` and `s(c + 2)` is then covered by centres
/// `c` and `c + 1`, and each run is `ceil` or `floor` of
/// `2 * districts / centres`, between 2 and 4 for the counts
/// [`centres_for`] gives. A seeded few run one district further.
#[must_use]
pub fn coverage(noise: Noise, centres: u16, districts: u16) -> Vec<Vec<u16>> {
    let (n_c, n_d) = (usize::from(centres), usize::from(districts));
    let start = |c: usize| c / n_c * n_d + (c % n_c) * n_d / n_c;
    let offset = noise.below(Stream::Centre, &[u64::MAX], u64::from(districts));
    (0..n_c)
        .map(|c| {
            let mut run = start(c + 2) - start(c);
            let extra = noise.unit(Stream::Centre, &[c as u64, u64::MAX]) < EXTRA_COVER_CHANCE;
            if extra && run < COVERS_MAX && run < n_d {
                run += 1;
            }
            (0..run)
                .map(|j| {
                    let ring = (start(c) + j + offset_usize(offset)) % n_d;
                    // A ring position is below `districts`, a u16, so it fits.
                    u16::try_from(ring).unwrap_or(0)
                })
                .collect()
        })
        .collect()
}

fn offset_usize(offset: u64) -> usize {
    // The offset is below the district count, so it fits.
    usize::try_from(offset).unwrap_or(0)
}

/// The centres of a city of `households` households in `districts` districts.
pub(super) fn build_centres(noise: Noise, households: u32, districts: u16) -> Vec<Centre> {
    let count = centres_for(households);
    let unreliable = noise.below_u16(Stream::Centre, &[u64::MAX - 1], count);
    let served = households.div_ceil(u32::from(count));
    (0..count)
        .zip(CENTRE_BRANDS)
        .zip(coverage(noise, count, districts))
        .map(|((id, brand), covers)| {
            let mut centre = build_centre(noise, id, brand, covers, served);
            if id == unreliable {
                centre.failure_rate = UNRELIABLE_FAILURE_RATE;
            }
            centre
        })
        .collect()
}

/// One ordinary centre serving about `served` households.
fn build_centre(noise: Noise, id: u16, brand: &str, covers: Vec<u16>, served: u32) -> Centre {
    let draw = |what: u64, n: u64| noise.below(Stream::Centre, &[u64::from(id), what], n);
    let home = covers
        .first()
        .and_then(|&d| DISTRICT_NAMES.get(usize::from(d)));
    let price_span = BASE_PRICE_MAX_BASE_UNITS - BASE_PRICE_MIN_BASE_UNITS + 1;
    let travel_span = TRAVEL_HOURS_MAX - TRAVEL_HOURS_MIN + 1;
    let ids = |what: u64| [u64::from(id), what];
    Centre {
        id,
        name: format!("{brand} {}", home.copied().unwrap_or("City")),
        covers,
        technicians: 1 + noise.below_u32(Stream::Centre, &ids(2), TECHNICIANS_MAX),
        stock: STOCK_MIN
            + noise.below_u32(Stream::Centre, &ids(3), STOCK_SPREAD)
            + served / STOCK_HOUSEHOLDS_PER_CARTRIDGE,
        restock_per_day: served.div_ceil(RESTOCK_HOUSEHOLDS_PER_CARTRIDGE),
        base_price_base_units: BASE_PRICE_MIN_BASE_UNITS + draw(4, price_span),
        failure_rate: noise.between(Stream::Centre, &ids(1), FAILURE_RATE_MIN, FAILURE_RATE_MAX),
        travel_hours: TRAVEL_HOURS_MIN + noise.below_u8(Stream::Centre, &ids(5), travel_span),
    }
}

/// The price of an installed cartridge from `centre` with `open_jobs` in
/// its queue: `base × (1 + open_jobs / (4 × technicians))`, rounded down,
/// saturating at `u64::MAX`.
#[must_use]
pub fn price_of(centre: &Centre, open_jobs: u32) -> u64 {
    let base = u128::from(centre.base_price_base_units);
    let divisor = u128::from(PRICE_RISE_DIVISOR) * u128::from(centre.technicians.max(1));
    // base < 2^64 and open_jobs < 2^32, so neither the product nor the sum
    // can overflow a u128.
    let rise = base * u128::from(open_jobs) / divisor;
    u64::try_from(base + rise).unwrap_or(u64::MAX)
}

/// How long until a technician of `centre` installs, with `open_jobs`
/// ahead: the trip plus one job per technician's turn in the queue.
#[must_use]
pub fn install_ms_of(centre: &Centre, open_jobs: u32) -> u64 {
    let turns = u64::from(open_jobs / centre.technicians.max(1));
    let travel_ms = u64::from(centre.travel_hours) * HOUR_MS;
    travel_ms.saturating_add(turns.saturating_mul(INSTALL_JOB_MS))
}

impl Scenario {
    /// [`price_of`] the centre `centre`.
    ///
    /// # Errors
    /// [`QueryError::UnknownCentre`].
    pub fn price(&self, centre: u16, open_jobs: u32) -> Result<u64, QueryError> {
        Ok(price_of(self.centre_or_err(centre)?, open_jobs))
    }

    /// Whether `centre`'s installation for `purifier` (a household id) on
    /// its `order_number`th order fails: a draw against the centre's
    /// failure rate, the same however often it is asked.
    ///
    /// # Errors
    /// [`QueryError::UnknownCentre`].
    pub fn fails(&self, centre: u16, purifier: u32, order_number: u32) -> Result<bool, QueryError> {
        let found = self.centre_or_err(centre)?;
        let ids = [
            u64::from(centre),
            u64::from(purifier),
            u64::from(order_number),
        ];
        Ok(self.noise.unit(Stream::InstallFailure, &ids) < found.failure_rate)
    }

    /// The cartridges delivered to `centre` on scenario `day`: none on
    /// about a quarter of days, else between one and two times its
    /// typical delivery.
    ///
    /// # Errors
    /// [`QueryError::UnknownCentre`].
    pub fn restock(&self, centre: u16, day: u64) -> Result<u32, QueryError> {
        let found = self.centre_or_err(centre)?;
        let ids = [u64::from(centre), day];
        if self.noise.unit(Stream::Restock, &ids) < RESTOCK_SKIP_CHANCE {
            return Ok(0);
        }
        let typical = found.restock_per_day;
        let more = self.noise.below_u32(
            Stream::Restock,
            &[u64::from(centre), day, 1],
            typical.saturating_add(1),
        );
        Ok(typical.saturating_add(more))
    }

    /// [`install_ms_of`] the centre `centre`.
    ///
    /// # Errors
    /// [`QueryError::UnknownCentre`].
    pub fn install_ms(&self, centre: u16, open_jobs: u32) -> Result<u64, QueryError> {
        Ok(install_ms_of(self.centre_or_err(centre)?, open_jobs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::district::districts_for;

    fn check_coverage(households: u32, seed: u64) {
        let (n_c, n_d) = (centres_for(households), districts_for(households));
        let covers = coverage(Noise::new(seed), n_c, n_d);
        let mut per_district = vec![0_usize; usize::from(n_d)];
        for run in &covers {
            assert!(
                (COVERS_MIN..=COVERS_MAX).contains(&run.len()),
                "{households}: {covers:?}"
            );
            let mut sorted = run.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), run.len(), "a district twice: {run:?}");
            for &d in run {
                per_district[usize::from(d)] += 1;
            }
        }
        assert!(
            per_district.iter().all(|&n| n >= CENTRES_PER_DISTRICT_MIN),
            "{households}: {covers:?}"
        );
    }

    #[test]
    fn every_district_has_two_centres_and_every_centre_covers_two_to_four_at_every_size() {
        for households in 1..=200 {
            for seed in 0..4 {
                check_coverage(households, seed);
            }
        }
        check_coverage(10_000, 1);
    }

    #[test]
    fn centre_count_is_a_twentieth_of_households_raised_to_cover_every_district_twice() {
        assert_eq!(centres_for(1), 3);
        assert_eq!(centres_for(50), 3);
        assert_eq!(centres_for(70), 4);
        assert_eq!(centres_for(100), 5);
        assert_eq!(centres_for(10_000), 8);
        for households in 1..=10_000 {
            assert!(centres_for(households) <= districts_for(households));
        }
    }

    #[test]
    fn exactly_one_centre_is_unreliable() {
        for seed in 0..20 {
            let centres = build_centres(Noise::new(seed), 120, 8);
            let unreliable = centres
                .iter()
                .filter(|c| c.failure_rate > FAILURE_RATE_MAX)
                .count();
            assert_eq!(unreliable, 1);
        }
    }

    #[test]
    fn price_rises_with_open_jobs_and_saturates_instead_of_overflowing() {
        let mut centre = build_centres(Noise::new(1), 50, 5).remove(0);
        let mut last = 0;
        for open_jobs in 0..20 {
            let price = price_of(&centre, open_jobs);
            assert!(price >= last);
            last = price;
        }
        assert!(price_of(&centre, 8) > price_of(&centre, 0));
        centre.technicians = 1;
        centre.base_price_base_units = 80_000;
        assert_eq!(price_of(&centre, 4), 160_000);
        assert!(price_of(&centre, u32::MAX) > price_of(&centre, 1_000));
        centre.base_price_base_units = u64::MAX;
        assert_eq!(price_of(&centre, u32::MAX), u64::MAX);
    }

    #[test]
    fn installation_takes_the_trip_plus_the_queue() {
        let mut centre = build_centres(Noise::new(1), 50, 5).remove(0);
        centre.technicians = 2;
        centre.travel_hours = 3;
        assert_eq!(install_ms_of(&centre, 1), 3 * HOUR_MS);
        assert_eq!(install_ms_of(&centre, 4), 3 * HOUR_MS + 2 * INSTALL_JOB_MS);
        assert!(install_ms_of(&centre, u32::MAX) > install_ms_of(&centre, 4));
    }
}
