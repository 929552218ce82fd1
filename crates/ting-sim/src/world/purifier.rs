//! Cartridge physics and the purifier's sensors.
//!
//! A cartridge holds a capacity in "hardness-litres" (mg/L removed times
//! litres treated, i.e. milligrams of CaCO3). Treating water uses it up;
//! once it is spent, water passes through untreated. [`treat`] integrates
//! hour bucket by hour bucket and takes from the cartridge in time order,
//! so treating `[a, b)` then `[b, c)` with the same cartridge gives the
//! same totals as treating `[a, c)` at once.

use super::demand::bucket_litres;
use super::district::hardness;
use super::error::check_interval;
use super::time::{Pieces, HOUR_MS};
use super::{QueryError, Scenario};

/// What one cartridge can remove, in hardness-litres (mg/L × litres). An
/// average household (3 people at 125 L, softened from 300 to 60 mg/L)
/// removes about 90_000 a day: a new cartridge every 17 days or so in a
/// hard district, every few months in a soft one. With first cartridges
/// filled 10% to 100%, 50 households see 5 to 11 run low in 3 days.
pub const CARTRIDGE_CAPACITY_HARDNESS_LITRES: f64 = 1_500_000.0;
/// Below this fraction left, a cartridge is low and its purifier orders a
/// new one.
pub const LOW_FRACTION: f64 = 0.15;

/// The hardness-litres removed when `litres` of water at `incoming_mg_l`
/// are softened to `target_mg_l`: nothing when the water is already softer.
#[must_use]
pub fn removed(incoming_mg_l: f64, target_mg_l: f64, litres: f64) -> f64 {
    litres * (incoming_mg_l - target_mg_l).max(0.0)
}

/// A purifier's cartridge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cartridge {
    remaining_hardness_litres: f64,
}

impl Cartridge {
    /// A new, full cartridge.
    #[must_use]
    pub const fn full() -> Self {
        Self {
            remaining_hardness_litres: CARTRIDGE_CAPACITY_HARDNESS_LITRES,
        }
    }

    /// A cartridge filled to `fraction` of its capacity (clamped to 0..=1).
    #[must_use]
    pub fn with_fraction(fraction: f64) -> Self {
        Self {
            remaining_hardness_litres: CARTRIDGE_CAPACITY_HARDNESS_LITRES
                * fraction.clamp(0.0, 1.0),
        }
    }

    /// What it can still remove, in hardness-litres.
    #[must_use]
    pub const fn remaining_hardness_litres(&self) -> f64 {
        self.remaining_hardness_litres
    }

    /// Removes up to `wanted` hardness-litres and returns how much it
    /// removed: all of it, or what was left.
    pub fn use_up(&mut self, wanted: f64) -> f64 {
        let taken = wanted.max(0.0).min(self.remaining_hardness_litres);
        self.remaining_hardness_litres -= taken;
        taken
    }

    /// The fraction of its capacity left, in 0..=1.
    #[must_use]
    pub fn fraction_left(&self) -> f64 {
        self.remaining_hardness_litres / CARTRIDGE_CAPACITY_HARDNESS_LITRES
    }

    /// Whether less than [`LOW_FRACTION`] is left.
    #[must_use]
    pub fn is_low(&self) -> bool {
        self.fraction_left() < LOW_FRACTION
    }

    /// Whether nothing is left.
    #[must_use]
    pub fn is_spent(&self) -> bool {
        self.remaining_hardness_litres <= 0.0
    }
}

/// What a purifier's sensors read over an interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Water treated.
    pub litres: f64,
    /// Incoming hardness, volume-weighted over the interval.
    pub hardness_in_mg_l: f64,
    /// Outgoing hardness, volume-weighted: the target while the cartridge
    /// lasts (or the incoming water when it is already softer), the
    /// incoming water once it is spent.
    pub hardness_out_mg_l: f64,
    /// Hardness-litres the cartridge removed.
    pub removed_hardness_litres: f64,
}

/// Treats `household`'s water over `[from_ms, to_ms)` with `cartridge`,
/// using it up, and returns what the sensors read. For an empty interval
/// the hardness fields give the water at `from_ms`.
///
/// # Errors
/// [`QueryError::UnknownHousehold`], or the interval is reversed or longer
/// than [`super::INTERVAL_MS_MAX`]; the cartridge is untouched then.
pub fn treat(
    scenario: &Scenario,
    household: u32,
    cartridge: &mut Cartridge,
    from_ms: u64,
    to_ms: u64,
) -> Result<Reading, QueryError> {
    check_interval(from_ms, to_ms)?;
    let found = scenario.household_or_err(household)?;
    let district = scenario.district_or_err(found.district)?;
    let target_mg_l = found.policy.target_hardness_mg_l;
    let (mut litres, mut hardness_litres_in, mut taken) = (0.0, 0.0, 0.0);
    for piece in Pieces::new(from_ms, to_ms) {
        let bucket_ms = piece.bucket * HOUR_MS;
        let piece_litres = bucket_litres(scenario.noise, found, piece.bucket) * piece.fraction();
        let incoming_mg_l = hardness(scenario.noise, district, &scenario.incident, bucket_ms);
        taken += cartridge.use_up(removed(incoming_mg_l, target_mg_l, piece_litres));
        litres += piece_litres;
        hardness_litres_in += piece_litres * incoming_mg_l;
    }
    if litres <= 0.0 {
        let incoming_mg_l = hardness(scenario.noise, district, &scenario.incident, from_ms);
        return Ok(still_reading(incoming_mg_l, target_mg_l, cartridge));
    }
    Ok(Reading {
        litres,
        hardness_in_mg_l: hardness_litres_in / litres,
        hardness_out_mg_l: ((hardness_litres_in - taken) / litres).max(0.0),
        removed_hardness_litres: taken,
    })
}

/// The reading over an empty interval: no water, the hardness at its start.
fn still_reading(incoming_mg_l: f64, target_mg_l: f64, cartridge: &Cartridge) -> Reading {
    let outgoing_mg_l = if cartridge.is_spent() {
        incoming_mg_l
    } else {
        incoming_mg_l.min(target_mg_l)
    };
    Reading {
        litres: 0.0,
        hardness_in_mg_l: incoming_mg_l,
        hardness_out_mg_l: outgoing_mg_l,
        removed_hardness_litres: 0.0,
    }
}

impl Scenario {
    /// The cartridge `household`'s purifier starts with: partly used, its
    /// fill drawn between 10% and 100%.
    ///
    /// # Errors
    /// [`QueryError::UnknownHousehold`].
    pub fn initial_cartridge(&self, household: u32) -> Result<Cartridge, QueryError> {
        let found = self.household_or_err(household)?;
        Ok(Cartridge::with_fraction(found.initial_fill))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::time::DAY_MS;

    #[test]
    fn nothing_is_removed_from_water_already_softer_than_the_target() {
        assert_eq!(removed(50.0, 60.0, 100.0), 0.0);
        assert_eq!(removed(260.0, 60.0, 10.0), 2_000.0);
    }

    #[test]
    fn a_cartridge_runs_low_then_spent_and_never_below_empty() {
        let mut cartridge = Cartridge::full();
        assert!(!cartridge.is_low());
        let taken = cartridge.use_up(0.9 * CARTRIDGE_CAPACITY_HARDNESS_LITRES);
        assert_eq!(taken, 0.9 * CARTRIDGE_CAPACITY_HARDNESS_LITRES);
        assert!(cartridge.is_low() && !cartridge.is_spent());
        let rest = cartridge.use_up(CARTRIDGE_CAPACITY_HARDNESS_LITRES);
        assert!((rest - 0.1 * CARTRIDGE_CAPACITY_HARDNESS_LITRES).abs() < 1e-6);
        assert!(cartridge.is_spent());
        assert_eq!(cartridge.fraction_left(), 0.0);
    }

    #[test]
    fn a_spent_cartridge_lets_the_incoming_water_through() {
        let world = Scenario::new(3, 30, 0).expect("a valid scenario");
        let mut spent = Cartridge::with_fraction(0.0);
        let reading = treat(&world, 4, &mut spent, 0, DAY_MS).expect("known household");
        assert!(reading.litres > 0.0);
        assert_eq!(reading.removed_hardness_litres, 0.0);
        assert!((reading.hardness_out_mg_l - reading.hardness_in_mg_l).abs() < 1e-9);
    }

    #[test]
    fn a_working_cartridge_delivers_the_target_where_the_water_is_harder() {
        let world = Scenario::new(3, 30, 0).expect("a valid scenario");
        for household in world.households() {
            let mut cartridge = Cartridge::full();
            let reading = treat(&world, household.id, &mut cartridge, 0, DAY_MS).expect("known");
            let target = household.policy.target_hardness_mg_l;
            assert!(reading.hardness_out_mg_l <= target + 1e-9);
            assert!(reading.hardness_out_mg_l <= reading.hardness_in_mg_l + 1e-9);
        }
    }
}
