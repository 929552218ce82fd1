//! Relay gateways and the battery sensors that sell through them.
//!
//! Each district has one gateway that relays for battery sensors on the
//! mains. A sensor reports the mains hardness of its district every
//! [`SENSOR_REPORT_MS`], at a phase of its own so that sensors do not all
//! speak at once; each report carries a little measurement noise.

use super::noise::{Noise, Stream};
use super::time::MINUTE_MS;
use super::{District, QueryError, Scenario};

/// How often a sensor reports.
pub const SENSOR_REPORT_MS: u64 = 15 * MINUTE_MS;
/// The fewest sensors a city has.
pub const SENSORS_MIN: u16 = 1;
/// The most sensors a city has.
pub const SENSORS_MAX: u16 = 16;
/// Households per sensor before another sensor is placed.
pub const HOUSEHOLDS_PER_SENSOR: u32 = 25;
/// A sensor's measurement noise, at most this fraction either way.
pub const SENSOR_NOISE_FRACTION: f64 = 0.02;
/// Sensors' phases are whole seconds.
const SECOND_MS: u64 = 1_000;

/// The relay gateway of one district.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// The district it serves.
    pub district: u16,
    /// A display name, `gateway-old-town`.
    pub name: String,
}

/// A battery sensor on the mains of one district.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sensor {
    /// Index into the scenario's sensors.
    pub id: u16,
    /// The district it measures.
    pub district: u16,
    /// A display name, `sensor-03`.
    pub name: String,
    /// Its reports fall at `phase_ms + k × SENSOR_REPORT_MS`.
    pub phase_ms: u64,
}

impl Sensor {
    /// The first report time at or after `at_ms` (saturating at `u64::MAX`).
    #[must_use]
    pub fn next_report_ms(&self, at_ms: u64) -> u64 {
        let Some(since_ms) = at_ms.checked_sub(self.phase_ms) else {
            return self.phase_ms;
        };
        let reports = since_ms.div_ceil(SENSOR_REPORT_MS);
        self.phase_ms
            .saturating_add(reports.saturating_mul(SENSOR_REPORT_MS))
    }

    /// The report slot that `t_ms` falls in (0 before the first report).
    #[must_use]
    pub const fn slot(&self, t_ms: u64) -> u64 {
        t_ms.saturating_sub(self.phase_ms) / SENSOR_REPORT_MS
    }
}

/// How many sensors a city of `households` has:
/// `clamp(households / 25, 1, 16)`.
#[must_use]
pub fn sensors_for(households: u32) -> u16 {
    let wanted = households / HOUSEHOLDS_PER_SENSOR;
    let clamped = wanted.clamp(u32::from(SENSORS_MIN), u32::from(SENSORS_MAX));
    // Clamped to at most SENSORS_MAX, so it fits; the fallback is never taken.
    u16::try_from(clamped).unwrap_or(SENSORS_MAX)
}

/// One gateway per district.
pub(super) fn build_gateways(districts: &[District]) -> Vec<Gateway> {
    districts
        .iter()
        .map(|district| Gateway {
            district: district.id,
            name: format!("gateway-{}", district.name.to_lowercase().replace(' ', "-")),
        })
        .collect()
}

/// The sensors of a city of `households`, dealt round the districts from
/// a seeded first district.
pub(super) fn build_sensors(noise: Noise, households: u32, districts: u16) -> Vec<Sensor> {
    let first = noise.below_u16(Stream::Sensor, &[u64::MAX], districts);
    (0..sensors_for(households))
        .map(|id| Sensor {
            id,
            district: (first + id) % districts.max(1),
            name: format!("sensor-{id:02}"),
            phase_ms: noise.below(
                Stream::Sensor,
                &[u64::from(id)],
                SENSOR_REPORT_MS / SECOND_MS,
            ) * SECOND_MS,
        })
        .collect()
}

impl Scenario {
    /// The hardness `sensor` reports at `t_ms`: its district's mains
    /// hardness with measurement noise drawn per (sensor, report slot),
    /// never negative.
    ///
    /// # Errors
    /// [`QueryError::UnknownSensor`].
    pub fn sensor_hardness_mg_l(&self, sensor: u16, t_ms: u64) -> Result<f64, QueryError> {
        let found = self
            .sensor(sensor)
            .ok_or(QueryError::UnknownSensor(sensor))?;
        let mains_mg_l = self.hardness_mg_l(found.district, t_ms)?;
        let ids = [u64::from(sensor), found.slot(t_ms)];
        let error = SENSOR_NOISE_FRACTION * self.noise.signed(Stream::SensorNoise, &ids);
        Ok((mains_mg_l * (1.0 + error)).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_count_is_a_twenty_fifth_of_households_clamped_to_one_and_sixteen() {
        assert_eq!(sensors_for(1), 1);
        assert_eq!(sensors_for(50), 2);
        assert_eq!(sensors_for(10_000), 16);
    }

    #[test]
    fn the_next_report_falls_on_the_sensors_grid() {
        let sensor = Sensor {
            id: 0,
            district: 0,
            name: "sensor-00".to_owned(),
            phase_ms: 30_000,
        };
        assert_eq!(sensor.next_report_ms(0), 30_000);
        assert_eq!(sensor.next_report_ms(30_000), 30_000);
        assert_eq!(sensor.next_report_ms(30_001), 30_000 + SENSOR_REPORT_MS);
        assert_eq!(sensor.next_report_ms(u64::MAX), u64::MAX);
    }

    #[test]
    fn a_gateway_is_named_after_its_district() {
        let world = Scenario::new(1, 50, 0).expect("a valid scenario");
        assert_eq!(world.gateways().len(), world.districts().len());
        let names: Vec<&str> = world.gateways().iter().map(|g| g.name.as_str()).collect();
        assert!(names.contains(&"gateway-old-town"), "{names:?}");
    }

    #[test]
    fn a_sensor_reads_its_districts_mains_within_its_noise() {
        let world = Scenario::new(2, 100, 0).expect("a valid scenario");
        for sensor in world.sensors() {
            for t_ms in (0..96).map(|k| k * SENSOR_REPORT_MS) {
                let mains = world.hardness_mg_l(sensor.district, t_ms).expect("known");
                let read = world.sensor_hardness_mg_l(sensor.id, t_ms).expect("known");
                assert!((read - mains).abs() <= mains * SENSOR_NOISE_FRACTION + 1e-9);
            }
        }
    }
}
