//! The pure, seeded model of the water city.
//!
//! A [`Scenario`] is built from a seed, a number of households and the
//! simulated time the run starts at. It holds the city's districts,
//! households, service centres, gateways, sensors and its one hardness
//! incident, and answers what the agents' sensors read.
//!
//! Architecture invariant: the model is pure. No clock, no I/O, no
//! threads, no global state, and no shared random stream: every value is
//! a function of (seed, entity, simulated time) through the stateless
//! generator in [`noise`], never of the order or the number of questions
//! asked, so agents that run concurrently see the same city for the same
//! seed however they interleave. Time-varying quantities are constant
//! within each simulated hour, so integrals over intervals ([`treat`],
//! [`Scenario::demand_litres`]) are additive over any split.
//!
//! Simulated time is `u64` milliseconds since the Unix epoch (UTC); "day
//! 0" is the UTC day holding the scenario's `start_ms`.

pub mod centre;
pub mod demand;
pub mod district;
pub mod error;
pub mod gateway;
pub mod household;
pub mod noise;
pub mod purifier;
mod summary;
pub mod time;
pub mod truth;

pub use centre::{centres_for, Centre};
pub use district::{districts_for, District, Incident, WaterClass};
pub use error::{QueryError, ScenarioError};
pub use gateway::{sensors_for, Gateway, Sensor, SENSOR_REPORT_MS};
pub use household::{misbehaving_for, Consent, Household, OwnerPolicy, Preference};
pub use purifier::{
    removed, treat, Cartridge, Reading, CARTRIDGE_CAPACITY_HARDNESS_LITRES, LOW_FRACTION,
};
pub use time::{hour_of_day, DAY_MS, HOURS_PER_DAY, HOUR_MS, INTERVAL_MS_MAX, MINUTE_MS};
pub use truth::DistrictTruth;

use noise::Noise;

/// The most households a scenario holds.
pub const HOUSEHOLDS_MAX: u32 = 10_000;
/// The latest start a scenario accepts (3000-01-01T00:00:00Z), so that
/// every instant it derives stays far from `u64::MAX`.
pub const START_MS_MAX: u64 = 32_503_680_000_000;

/// One seeded city. Two scenarios built from the same arguments are equal.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    seed: u64,
    start_ms: u64,
    noise: Noise,
    districts: Vec<District>,
    households: Vec<Household>,
    centres: Vec<Centre>,
    gateways: Vec<Gateway>,
    sensors: Vec<Sensor>,
    incident: Incident,
}

impl Scenario {
    /// Builds the city for `seed` with `households` households, starting
    /// at `start_ms`.
    ///
    /// # Errors
    /// [`ScenarioError::NoHouseholds`], [`ScenarioError::TooManyHouseholds`]
    /// above [`HOUSEHOLDS_MAX`], [`ScenarioError::StartTooLate`] after
    /// [`START_MS_MAX`].
    pub fn new(seed: u64, households: u32, start_ms: u64) -> Result<Self, ScenarioError> {
        if households == 0 {
            return Err(ScenarioError::NoHouseholds);
        }
        if households > HOUSEHOLDS_MAX {
            return Err(ScenarioError::TooManyHouseholds {
                households,
                max: HOUSEHOLDS_MAX,
            });
        }
        if start_ms > START_MS_MAX {
            return Err(ScenarioError::StartTooLate {
                start_ms,
                max_ms: START_MS_MAX,
            });
        }
        let noise = Noise::new(seed);
        let day0_start_ms = start_ms / DAY_MS * DAY_MS;
        let district_count = districts_for(households);
        let districts = district::build_districts(noise, district_count);
        Ok(Self {
            seed,
            start_ms,
            noise,
            households: household::build_households(
                noise,
                households,
                district_count,
                day0_start_ms,
            ),
            centres: centre::build_centres(noise, households, district_count),
            gateways: gateway::build_gateways(&districts),
            sensors: gateway::build_sensors(noise, households, district_count),
            incident: district::build_incident(noise, district_count, day0_start_ms),
            districts,
        })
    }

    /// The seed it was built from.
    #[must_use]
    pub const fn seed(&self) -> u64 {
        self.seed
    }

    /// When the run starts.
    #[must_use]
    pub const fn start_ms(&self) -> u64 {
        self.start_ms
    }

    /// The districts, by id.
    #[must_use]
    pub fn districts(&self) -> &[District] {
        &self.districts
    }

    /// The households, by id.
    #[must_use]
    pub fn households(&self) -> &[Household] {
        &self.households
    }

    /// The service centres, by id.
    #[must_use]
    pub fn centres(&self) -> &[Centre] {
        &self.centres
    }

    /// The gateways, one per district, in district order.
    #[must_use]
    pub fn gateways(&self) -> &[Gateway] {
        &self.gateways
    }

    /// The battery sensors, by id.
    #[must_use]
    pub fn sensors(&self) -> &[Sensor] {
        &self.sensors
    }

    /// The city's one hardness incident.
    #[must_use]
    pub const fn incident(&self) -> &Incident {
        &self.incident
    }

    /// The district with this id.
    #[must_use]
    pub fn district(&self, id: u16) -> Option<&District> {
        self.districts.get(usize::from(id))
    }

    /// The household with this id.
    #[must_use]
    pub fn household(&self, id: u32) -> Option<&Household> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.households.get(i))
    }

    /// The service centre with this id.
    #[must_use]
    pub fn centre(&self, id: u16) -> Option<&Centre> {
        self.centres.get(usize::from(id))
    }

    /// The sensor with this id.
    #[must_use]
    pub fn sensor(&self, id: u16) -> Option<&Sensor> {
        self.sensors.get(usize::from(id))
    }

    /// The scenario day (0 = the UTC day holding `start_ms`) that `t_ms`
    /// falls in; 0 for instants before that day.
    #[must_use]
    pub const fn day_of(&self, t_ms: u64) -> u64 {
        (t_ms / DAY_MS).saturating_sub(self.start_ms / DAY_MS)
    }

    /// When scenario `day` starts (UTC midnight), saturating at `u64::MAX`.
    #[must_use]
    pub const fn day_start_ms(&self, day: u64) -> u64 {
        (self.start_ms / DAY_MS)
            .saturating_add(day)
            .saturating_mul(DAY_MS)
    }

    fn district_or_err(&self, id: u16) -> Result<&District, QueryError> {
        self.district(id).ok_or(QueryError::UnknownDistrict(id))
    }

    fn household_or_err(&self, id: u32) -> Result<&Household, QueryError> {
        self.household(id).ok_or(QueryError::UnknownHousehold(id))
    }

    fn centre_or_err(&self, id: u16) -> Result<&Centre, QueryError> {
        self.centre(id).ok_or(QueryError::UnknownCentre(id))
    }
}
