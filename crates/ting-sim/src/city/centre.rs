//! A service centre: a `ting-agent` device with the SDK's market
//! `Provider`.
//!
//! It answers calls from the districts it covers while it has cartridges
//! in stock, at a price that rises with its open jobs (the world model's
//! `price`), promising a fitting time that grows with its queue. When a hold
//! is on the ledger (`Job`), a technician is sent: at the promised time the
//! cartridge is fitted in the physical world, where the purifier's own
//! sensor sees it. Now and then the world model says the job fails: the
//! technician never comes, the deadline passes, the purifier is refunded
//! and the centre's reputation falls.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use ting_agent::market::provider::Pricing;
use ting_agent::market::{MarketError, Provider, ProviderConfig, ProviderEvent, Quote};
use ting_agent::{Device, Message};
use ting_core::market::cfp::{Call, Counter};
use ting_core::{AccountId, Amount};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::{district_area, Cast, Physical, Tally, CARTRIDGE_CATEGORY};
use crate::world::Scenario;

/// What a centre adds to its fitting time when it promises one: its
/// technicians are sent at once and fit within the fitting time, so the
/// cartridge is in before the promised deadline.
pub const PROMISE_SLACK_MS: u64 = 2 * crate::world::HOUR_MS;

/// What the pricing function and the agent share.
#[derive(Debug, Default)]
pub struct Shop {
    pub open_jobs: AtomicU32,
    pub stock: AtomicU32,
}

/// A centre and its technicians' schedule.
pub struct CentreAgent {
    pub centre: u16,
    pub name: String,
    pub device: Device,
    pub provider: Provider,
    shop: Arc<Shop>,
    scenario: Arc<Scenario>,
    physical: Arc<Physical>,
    tally: Arc<Tally>,
    cast: Arc<Cast>,
    /// Fittings due: (simulated ms, household).
    due: Vec<(u64, u32)>,
    /// Jobs taken per household, numbering each for the failure draw.
    orders: BTreeMap<u32, u32>,
    restocked_day: u64,
}

impl std::fmt::Debug for CentreAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CentreAgent")
            .field("name", &self.name)
            .field("due", &self.due.len())
            .finish_non_exhaustive()
    }
}

/// The centre's pricing: silent outside its districts or out of stock.
pub fn pricing(scenario: Arc<Scenario>, centre: u16, shop: Arc<Shop>) -> Pricing {
    let areas: Vec<String> = scenario
        .centre(centre)
        .map(|c| c.covers.iter().map(|d| district_area(*d)).collect())
        .unwrap_or_default();
    Box::new(move |call: &Call, _: Option<&Counter>| {
        if !areas.contains(&call.area) || shop.stock.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let open = shop.open_jobs.load(Ordering::Relaxed);
        let price = scenario.price(centre, open).ok()?;
        // The buyer chooses once its call's window closes: the promise
        // counts from then, so that however fast the clock runs the hold
        // is accepted and the cartridge fitted before the deadline.
        let window_ms = call.answer_by.0.saturating_sub(call.issued_at.0);
        let deliver_in_ms = scenario
            .install_ms(centre, open)
            .ok()?
            .saturating_add(PROMISE_SLACK_MS)
            .saturating_add(window_ms);
        Some(Quote {
            price: Amount::new(price),
            deliver_in_ms,
            warranty_ms: 0,
            note: String::new(),
        })
    })
}

impl CentreAgent {
    /// Opens the centre's provider on `device`.
    pub fn open(
        centre: u16,
        device: Device,
        scenario: Arc<Scenario>,
        shared: (Arc<Physical>, Arc<Tally>, Arc<Cast>),
    ) -> Result<CentreAgent, MarketError> {
        let shop = Arc::new(Shop::default());
        let c = scenario.centre(centre);
        shop.stock
            .store(c.map_or(0, |c| c.stock), Ordering::Relaxed);
        let name = c.map_or_else(String::new, |c| c.name.clone());
        let config = ProviderConfig {
            categories: vec![CARTRIDGE_CATEGORY.into()],
            area: String::new(),
            offer: None,
        };
        let provider = Provider::open(
            &device,
            config,
            pricing(Arc::clone(&scenario), centre, Arc::clone(&shop)),
        )?;
        let restocked_day = scenario.day_of(device.now().0);
        Ok(CentreAgent {
            centre,
            name,
            device,
            provider,
            shop,
            scenario,
            physical: shared.0,
            tally: shared.1,
            cast: shared.2,
            due: Vec::new(),
            orders: BTreeMap::new(),
            restocked_day,
        })
    }

    /// Runs until `stop`; answers the device, to be shut down.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Device {
        let mut tick = tokio::time::interval(super::purifier::STEP);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let events = tokio::select! {
                m = self.device.recv() => match m {
                    Some(m) => self.on_message(&m).await,
                    None => break,
                },
                _ = tick.tick() => {
                    self.work();
                    self.provider.tick(&self.device).await
                }
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() { break; }
                    continue;
                }
            };
            match events {
                Ok(events) => events.into_iter().for_each(|e| self.take(e)),
                Err(e) => self
                    .tally
                    .error(format!("{}: {}: {e}", self.name, e.code())),
            }
        }
        self.device
    }

    async fn on_message(&mut self, m: &Message) -> Result<Vec<ProviderEvent>, MarketError> {
        Ok(self
            .provider
            .on_message(&self.device, m)
            .await?
            .into_iter()
            .collect())
    }

    /// Fits what is due and takes in the day's delivery of cartridges.
    fn work(&mut self) {
        let now = self.device.now().0;
        let (done, later): (Vec<_>, Vec<_>) = self.due.iter().partition(|(at, _)| *at <= now);
        self.due = later;
        for (at, household) in done {
            self.physical.fit(household, at);
            self.shop.open_jobs.fetch_sub(1, Ordering::Relaxed);
        }
        let day = self.scenario.day_of(now);
        while self.restocked_day < day {
            self.restocked_day += 1;
            let n = self
                .scenario
                .restock(self.centre, self.restocked_day)
                .unwrap_or(0);
            self.shop.stock.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn take(&mut self, event: ProviderEvent) {
        if let ProviderEvent::Job {
            buyer, deliver_by, ..
        } = event
        {
            self.job(buyer, deliver_by.0);
        }
    }

    /// A hold is on the ledger: send a technician, unless this job fails.
    fn job(&mut self, buyer: AccountId, deliver_by: u64) {
        let Some(household) = self.cast.household_of(&buyer) else {
            return;
        };
        let n = self.orders.entry(household).or_insert(0);
        *n += 1;
        let fails = self
            .scenario
            .fails(self.centre, household, *n)
            .unwrap_or(false);
        self.tally.job(&self.name, fails);
        let _ = self
            .shop
            .stock
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| s.checked_sub(1));
        if fails {
            Tally::add(&self.tally.failures, 1);
            return;
        }
        let now = self.device.now().0;
        let open = self.shop.open_jobs.fetch_add(1, Ordering::Relaxed);
        let install = self.scenario.install_ms(self.centre, open).unwrap_or(0);
        let before_deadline = deliver_by.saturating_sub(crate::world::MINUTE_MS);
        self.due
            .push((now.saturating_add(install).min(before_deadline), household));
    }
}
