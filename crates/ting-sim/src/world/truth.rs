//! The ground truth the water utility's map is compared with.
//!
//! The utility buys hardness and consumption data from purifiers whose
//! owners consent and builds a map of the city; [`Scenario::district_truth`]
//! says what that map should have shown.

use super::demand::litres_between;
use super::district::hardness;
use super::error::check_interval;
use super::time::Pieces;
use super::{QueryError, Scenario, HOUR_MS};

/// What really happened in one district over an interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistrictTruth {
    /// The mains hardness, sampled hourly and weighted by how much of each
    /// hour the interval covers; the hardness at its start if it is empty.
    pub mean_hardness_mg_l: f64,
    /// The water all the district's households drew.
    pub demand_litres: f64,
}

impl Scenario {
    /// The truth about `district` over `[from_ms, to_ms)`.
    ///
    /// # Errors
    /// [`QueryError::UnknownDistrict`], or the interval is reversed or
    /// longer than [`super::INTERVAL_MS_MAX`].
    pub fn district_truth(
        &self,
        district: u16,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<DistrictTruth, QueryError> {
        check_interval(from_ms, to_ms)?;
        let found = self.district_or_err(district)?;
        let at = |t_ms: u64| hardness(self.noise, found, &self.incident, t_ms);
        let (mut weighted, mut hours) = (0.0, 0.0);
        for piece in Pieces::new(from_ms, to_ms) {
            weighted += at(piece.bucket * HOUR_MS) * piece.fraction();
            hours += piece.fraction();
        }
        let mean_hardness_mg_l = if hours > 0.0 {
            weighted / hours
        } else {
            at(from_ms)
        };
        let demand_litres = self
            .households
            .iter()
            .filter(|household| household.district == district)
            .map(|household| litres_between(self.noise, household, from_ms, to_ms))
            .sum();
        Ok(DistrictTruth {
            mean_hardness_mg_l,
            demand_litres,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::DAY_MS;

    #[test]
    fn the_incident_district_is_harder_while_the_incident_lasts() {
        let world = Scenario::new(8, 50, 0).expect("a valid scenario");
        let incident = world.incident().clone();
        let during = world
            .district_truth(incident.district, incident.start_ms, incident.end_ms())
            .expect("known district");
        let day_before = world
            .district_truth(
                incident.district,
                incident.start_ms - DAY_MS,
                incident.end_ms() - DAY_MS,
            )
            .expect("known district");
        assert!(during.mean_hardness_mg_l > day_before.mean_hardness_mg_l + 40.0);
    }

    #[test]
    fn district_demand_is_the_sum_of_its_households_demand() {
        let world = Scenario::new(8, 50, 0).expect("a valid scenario");
        let mut total = 0.0;
        for district in world.districts() {
            total += world
                .district_truth(district.id, 0, DAY_MS)
                .expect("known district")
                .demand_litres;
        }
        let households: f64 = world
            .households()
            .iter()
            .map(|h| {
                world
                    .demand_litres(h.id, 0, DAY_MS)
                    .expect("known household")
            })
            .sum();
        assert!((total - households).abs() < 1e-6 * households);
    }
}
