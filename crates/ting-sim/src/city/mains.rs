//! The water utility's mains monitor: the device the gateways relay the
//! battery sensors' reports to.
//!
//! It takes a report only from one of the city's gateways, only if it is
//! sealed by the sensor it names ([`Reading::open`]: a gateway carries
//! reports, it cannot make them) and only if that sensor is in the
//! district the report names; it records each district's mains hardness
//! (count and sum) in the tally, and counts what it refused.

use std::collections::BTreeSet;
use std::sync::Arc;

use ting_agent::{Device, Message};
use ting_core::{AccountId, Hash32};
use tokio::sync::watch;

use super::reading::{Reading, ReadingError};
use super::Tally;
use crate::world::Scenario;

/// Why a relayed message was not taken as a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The body is not a report.
    Body(ReadingError),
    /// No such sensor, or not in the district the report names.
    UnknownSensor,
}

/// The utility's mains monitor.
pub struct MainsAgent {
    pub device: Device,
    scenario: Arc<Scenario>,
    tally: Arc<Tally>,
    gateways: BTreeSet<AccountId>,
    /// The sensors' accounts, by sensor id.
    sensors: Vec<AccountId>,
}

impl std::fmt::Debug for MainsAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MainsAgent")
            .field("gateways", &self.gateways.len())
            .finish_non_exhaustive()
    }
}

/// `bytes` as a report sealed by one of `scenario`'s sensors (their
/// accounts in `sensors`, by id) on the network of `genesis`, or why not.
pub fn check(
    scenario: &Scenario,
    sensors: &[AccountId],
    genesis: &Hash32,
    bytes: &[u8],
) -> Result<Reading, Refusal> {
    let account = |id: u16| sensors.get(usize::from(id)).copied();
    let reading = Reading::open(bytes, genesis, account).map_err(Refusal::Body)?;
    match scenario.sensor(reading.sensor) {
        Some(s) if s.district == reading.district => Ok(reading),
        _ => Err(Refusal::UnknownSensor),
    }
}

impl MainsAgent {
    /// A monitor on `device` taking reports relayed by `gateways` and
    /// sealed by `sensors` (their accounts by sensor id).
    pub fn new(
        device: Device,
        scenario: Arc<Scenario>,
        tally: Arc<Tally>,
        gateways: BTreeSet<AccountId>,
        sensors: Vec<AccountId>,
    ) -> MainsAgent {
        MainsAgent {
            device,
            scenario,
            tally,
            gateways,
            sensors,
        }
    }

    /// Runs until `stop`; answers the device, to be shut down.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Device {
        loop {
            tokio::select! {
                m = self.device.recv() => match m {
                    Some(m) => self.on_message(&m),
                    None => break,
                },
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() { break; }
                }
            }
        }
        self.device
    }

    fn on_message(&self, m: &Message) {
        let Message::Data { from, payload, .. } = m else {
            return;
        };
        if !self.gateways.contains(from) {
            return;
        }
        let genesis = self.device.genesis_hash();
        match check(&self.scenario, &self.sensors, &genesis, payload) {
            Ok(r) => {
                let district = self
                    .scenario
                    .district(r.district)
                    .map_or_else(String::new, |d| d.name.to_owned());
                self.tally.mains_reading(&district, r.hardness_dmg_l);
            }
            Err(_) => Tally::add(&self.tally.mains_refused, 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_city_sensors_report_from_its_own_district_is_taken() {
        let world = Scenario::new(3, 60, 1_800_000_000_000).expect("a city");
        let sensor = &world.sensors()[0];
        let key = ting_core::Keypair::from_seed([8; 32]);
        let genesis = Hash32::digest(&[b"city"]);
        let mut sensors =
            vec![ting_core::Keypair::from_seed([9; 32]).account(); world.sensors().len()];
        sensors[usize::from(sensor.id)] = key.account();
        let good = Reading {
            sensor: sensor.id,
            district: sensor.district,
            t_ms: 1_800_000_000_000,
            hardness_dmg_l: 1_500,
        };
        let open = |bytes: &[u8]| check(&world, &sensors, &genesis, bytes);
        assert_eq!(open(&good.seal(&key, &genesis)), Ok(good));
        let elsewhere = Reading {
            district: sensor.district.wrapping_add(1),
            ..good
        };
        assert_eq!(
            open(&elsewhere.seal(&key, &genesis)),
            Err(Refusal::UnknownSensor)
        );
        let stranger = Reading {
            sensor: u16::MAX,
            ..good
        };
        assert_eq!(
            open(&stranger.seal(&key, &genesis)),
            Err(Refusal::Body(ReadingError::UnknownSensor(u16::MAX)))
        );
        // The gateway relays a body it made up, or the bare unsealed report.
        assert_eq!(
            open(b"relay me"),
            Err(Refusal::Body(ReadingError::SealedLength(8)))
        );
        assert_eq!(
            open(&good.encode()),
            Err(Refusal::Body(ReadingError::SealedLength(18)))
        );
    }
}
