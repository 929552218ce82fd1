//! The city's actors as real `ting-agent` devices, and what they share.
//!
//! [`Cast`] names every actor and derives its key from the seed, so the same
//! seed gives the same accounts. [`Physical`] is the physical world the
//! devices share outside the network: a technician fitting a cartridge is
//! seen by the purifier's own sensor, never told over MQTT. [`Tally`] is
//! what the demo's screen and report read. The agents themselves are in
//! [`purifier`] (with [`data`], the readings it sells), [`centre`],
//! [`utility`] (with [`map`], what it learns) and [`owner`], and for the
//! uplink relay [`gateway`], [`sensor`] and [`mains`] (the reports they
//! carry are [`reading`]s); each runs as a tokio task with its own device,
//! its own state directory and its own MQTT session.

pub mod centre;
pub mod data;
pub mod gateway;
pub mod mains;
pub mod map;
pub mod owner;
pub mod purifier;
pub mod reading;
pub mod sensor;
mod tally;
pub mod utility;

use std::collections::BTreeMap;
use std::sync::Mutex;

use ting_core::{AccountId, Hash32, Keypair};

pub use tally::{MainsHardness, OrderEvent, OrderStep, Tally, TallyView};

use crate::world::Scenario;

/// The category purifiers call for and centres answer.
pub const CARTRIDGE_CATEGORY: &str = "water.cartridge";
/// What a purifier starts with, in base units: several cartridges' worth.
pub const PURIFIER_FUNDS: u64 = 3_000_000;
/// What each household (owner) starts with: enough for its transactions.
pub const OWNER_FUNDS: u64 = 100_000;
/// What each service centre starts with.
pub const CENTRE_FUNDS: u64 = 1_000_000;
/// What the water utility starts with.
pub const UTILITY_FUNDS: u64 = 10_000_000;
/// What each relay gateway starts with: its asks' refundable deposits
/// (`ORDER_DEPOSIT`) several times over.
pub const GATEWAY_FUNDS: u64 = 1_000_000;
/// What each battery sensor starts with: a bid's deposit and hundreds of
/// leases at the highest price it pays.
pub const SENSOR_FUNDS: u64 = 1_000_000;
/// What the utility's mains monitor starts with: it pays for nothing.
pub const MAINS_FUNDS: u64 = 100_000;
/// The geohash alphabet: a district's area is `u0` and its id's letter.
const GEOHASH: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

/// The service area (a geohash) of district `id`.
pub fn district_area(id: u16) -> String {
    let letter = GEOHASH[usize::from(id) % GEOHASH.len()];
    format!("u0{}", char::from(letter))
}

/// One actor: its name, key and kind.
#[derive(Debug)]
pub struct Actor {
    pub name: String,
    pub key: Keypair,
}

impl Actor {
    fn new(seed: u64, role: &str, i: u32, name: String) -> Actor {
        let digest = Hash32::digest(&[
            b"ting-demo-city",
            &seed.to_le_bytes(),
            role.as_bytes(),
            &i.to_le_bytes(),
        ]);
        Actor {
            name,
            key: Keypair::from_seed(digest.0),
        }
    }

    pub fn account(&self) -> AccountId {
        self.key.account()
    }
}

/// Every actor of a city, by the scenario's ids.
#[derive(Debug)]
pub struct Cast {
    /// One owner per household, by household id.
    pub owners: Vec<Actor>,
    /// One purifier per household, by household id.
    pub purifiers: Vec<Actor>,
    /// One device per service centre, by centre id.
    pub centres: Vec<Actor>,
    pub utility: Actor,
    /// One relay gateway per district, by district id.
    pub gateways: Vec<Actor>,
    /// One battery sensor per scenario sensor, by sensor id.
    pub sensors: Vec<Actor>,
    /// The utility's mains monitor, where the gateways relay to.
    pub mains: Actor,
    /// Household ids by purifier account: the owners' watch asks for
    /// every transaction of every block.
    by_purifier: BTreeMap<AccountId, u32>,
}

impl Cast {
    pub fn of(scenario: &Scenario) -> Cast {
        let seed = scenario.seed();
        let households = scenario.households();
        let purifiers: Vec<Actor> = households
            .iter()
            .map(|h| Actor::new(seed, "purifier", h.id, format!("purifier-{:04}", h.id)))
            .collect();
        let by_purifier = purifiers
            .iter()
            .zip(households)
            .map(|(a, h)| (a.account(), h.id))
            .collect();
        Cast {
            owners: households
                .iter()
                .map(|h| Actor::new(seed, "owner", h.id, h.name.clone()))
                .collect(),
            purifiers,
            centres: scenario
                .centres()
                .iter()
                .map(|c| Actor::new(seed, "centre", u32::from(c.id), c.name.clone()))
                .collect(),
            utility: Actor::new(seed, "utility", 0, "water utility".into()),
            gateways: scenario
                .gateways()
                .iter()
                .map(|g| Actor::new(seed, "gateway", u32::from(g.district), g.name.clone()))
                .collect(),
            sensors: scenario
                .sensors()
                .iter()
                .map(|s| Actor::new(seed, "sensor", u32::from(s.id), s.name.clone()))
                .collect(),
            mains: Actor::new(seed, "mains", 0, "utility mains monitor".into()),
            by_purifier,
        }
    }

    /// The genesis allocations that fund every actor.
    pub fn allocations(&self) -> Vec<(AccountId, u64)> {
        let owners = self.owners.iter().map(|a| (a.account(), OWNER_FUNDS));
        let purifiers = self.purifiers.iter().map(|a| (a.account(), PURIFIER_FUNDS));
        let centres = self.centres.iter().map(|a| (a.account(), CENTRE_FUNDS));
        let utility = std::iter::once((self.utility.account(), UTILITY_FUNDS));
        let gateways = self.gateways.iter().map(|a| (a.account(), GATEWAY_FUNDS));
        let sensors = self.sensors.iter().map(|a| (a.account(), SENSOR_FUNDS));
        let mains = std::iter::once((self.mains.account(), MAINS_FUNDS));
        owners
            .chain(purifiers)
            .chain(centres)
            .chain(utility)
            .chain(gateways)
            .chain(sensors)
            .chain(mains)
            .collect()
    }

    /// The household whose purifier is `account`.
    pub fn household_of(&self, account: &AccountId) -> Option<u32> {
        self.by_purifier.get(account).copied()
    }
}

/// The physical world the devices share: cartridges fitted by technicians,
/// by household, with the simulated time they were fitted.
#[derive(Debug, Default)]
pub struct Physical {
    fitted: Mutex<BTreeMap<u32, u64>>,
}

impl Physical {
    /// A technician fits a new cartridge in `household`'s purifier.
    pub fn fit(&self, household: u32, at_ms: u64) {
        self.fitted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(household, at_ms);
    }

    /// What `household`'s sensor sees: a cartridge fitted since it last looked.
    pub fn take_fitted(&self, household: u32) -> Option<u64> {
        self.fitted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&household)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_accounts_and_another_seed_others() {
        let a = Scenario::new(7, 12, 1_800_000_000_000).expect("a city");
        let b = Scenario::new(8, 12, 1_800_000_000_000).expect("a city");
        let (ca, ca2, cb) = (Cast::of(&a), Cast::of(&a), Cast::of(&b));
        let ids = |c: &Cast| {
            c.allocations()
                .into_iter()
                .map(|(id, _)| id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&ca), ids(&ca2));
        assert_ne!(ids(&ca), ids(&cb));
        let mut unique = ids(&ca);
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids(&ca).len(), "no two actors share a key");
        assert_eq!(ca.household_of(&ca.purifiers[3].account()), Some(3));
        assert_eq!(ca.gateways.len(), a.gateways().len());
        assert_eq!(ca.sensors.len(), a.sensors().len());
        let funded = |who: &Actor| {
            let all = ca.allocations();
            all.iter().any(|(id, n)| *id == who.account() && *n > 0)
        };
        assert!(ca.gateways.iter().chain(&ca.sensors).all(funded));
        assert!(funded(&ca.mains), "the mains monitor is funded");
    }

    #[test]
    fn each_district_has_its_own_service_area() {
        let areas: Vec<String> = (0..8).map(district_area).collect();
        let mut unique = areas.clone();
        unique.dedup();
        assert_eq!(unique.len(), 8);
        assert!(areas.iter().all(|a| a.len() == 3 && a.starts_with("u0")));
    }

    #[test]
    fn a_fitted_cartridge_is_seen_once() {
        let p = Physical::default();
        p.fit(3, 100);
        assert_eq!(p.take_fitted(3), Some(100));
        assert_eq!(p.take_fitted(3), None);
    }
}
