//! A battery sensor on a district's mains: a `ting-agent` device with the
//! SDK's relay `Sensor`, buying uplink relay on the order book.
//!
//! It bids for a lease of [`LEASE_MESSAGES`] within its budget (the book
//! fills it from whichever gateway asks least), and at each of its report
//! times (network time) it reads its district's hardness from the world
//! model and hands the report ([`Reading`]) to the relay, which sends it
//! through the gateway and signs the counts. Reports wait in a bounded
//! queue while it has no lease. Once its lease is over (used up, or past
//! its end) and the ledger no longer holds it, it buys another (a lease
//! its gateway left open past the grace, it closes itself); a bid that
//! found no ask before it expired is placed again the same way.
//!
//! The SDK's `Sensor` bids once per lease (so that a restart never bids
//! twice): once the ledger no longer holds the lease, `Sensor::renew`
//! starts it over for the next.

use std::collections::VecDeque;
use std::sync::Arc;

use ting_agent::device::{SubmitError, TxError};
use ting_agent::relay::{RelayError, Sensor, SensorConfig, SensorEvent};
use ting_agent::Device;
use ting_core::limits::LEASE_GRACE_MS;
use ting_core::resource::LeaseId;
use ting_core::{Amount, TxKind};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::gateway::{network_ms, LEASE_MESSAGES, RELAY_CLASS, RELAY_CREDIT};
use super::reading::{dmg_l, Reading};
use super::Tally;
use crate::world::{Scenario, HOUR_MS, MINUTE_MS, SENSOR_REPORT_MS};

/// The most a sensor pays a gateway per message, in base units.
pub const RELAY_PRICE_MAX_BASE_UNITS: u64 = 40;
/// Reports kept while the sensor has no lease (a day's); older ones are
/// dropped first.
pub const READINGS_QUEUED_MAX: usize = 96;
/// Reports sent before the count is signed; within the gateway's credit.
const WINDOW: u64 = RELAY_CREDIT / 2;
/// How long a bid rests (wall clock), and at least this simulated time.
const BID_WALL_MS: u64 = 10_000;
const BID_MIN_MS: u64 = HOUR_MS;
/// How often (wall clock) the lease is looked for, or found over.
const POLL_WALL_MS: u64 = 500;
/// How long (wall clock) a report waits for its receipt before it is sent again.
const RESEND_WALL_MS: u64 = 3_000;
/// How often (wall clock) the sensor reads and sends: a window of reports
/// a step keeps up with a report every 90 ms (15 minutes at the fastest clock).
const STEP: std::time::Duration = std::time::Duration::from_millis(100);

const _: () = assert!(
    super::SENSOR_FUNDS
        >= ting_core::limits::ORDER_DEPOSIT + 100 * RELAY_PRICE_MAX_BASE_UNITS * LEASE_MESSAGES,
    "a sensor can pay its bid's deposit and a hundred leases"
);
const _: () = assert!(super::GATEWAY_FUNDS >= 2 * ting_core::limits::ORDER_DEPOSIT);

/// What a city sensor buys.
pub fn config(device: &Device) -> SensorConfig {
    let max_price = Amount::new(RELAY_PRICE_MAX_BASE_UNITS);
    SensorConfig {
        class: RELAY_CLASS.into(),
        max_price,
        units: LEASE_MESSAGES,
        budget: Amount::new(RELAY_PRICE_MAX_BASE_UNITS * LEASE_MESSAGES),
        batch: WINDOW,
        window: WINDOW,
        bid_lifetime_ms: network_ms(device, BID_WALL_MS, BID_MIN_MS),
        poll_ms: network_ms(device, POLL_WALL_MS, MINUTE_MS),
        resend_ms: network_ms(device, RESEND_WALL_MS, 5 * MINUTE_MS),
    }
}

/// One battery sensor.
pub struct SensorAgent {
    pub sensor: u16,
    pub name: String,
    pub device: Device,
    relay: Sensor,
    config: SensorConfig,
    scenario: Arc<Scenario>,
    tally: Arc<Tally>,
    /// Report bodies not yet handed to the relay, oldest first.
    queue: VecDeque<Vec<u8>>,
    next_report_ms: u64,
    /// When the current bid was placed (network ms), while it has no lease.
    bid_at: Option<u64>,
    /// When the ledger is next asked whether an over lease is gone.
    check_at: u64,
}

impl std::fmt::Debug for SensorAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SensorAgent")
            .field("name", &self.name)
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl SensorAgent {
    /// Opens sensor `sensor` of the scenario on `device`; its first report
    /// is the next on its grid.
    pub fn open(
        sensor: u16,
        device: Device,
        scenario: Arc<Scenario>,
        tally: Arc<Tally>,
    ) -> Result<SensorAgent, RelayError> {
        let config = config(&device);
        let relay = Sensor::open(&device, config.clone())?;
        let now = device.now().0;
        let found = scenario.sensor(sensor);
        let name = found.map_or_else(String::new, |s| s.name.clone());
        let next_report_ms = found.map_or(u64::MAX, |s| s.next_report_ms(now));
        // A bid from before a restart gets one more lifetime to fill.
        let bid_at = relay.bid_placed().map(|_| now);
        Ok(SensorAgent {
            sensor,
            name,
            device,
            relay,
            config,
            scenario,
            tally,
            queue: VecDeque::new(),
            next_report_ms,
            bid_at,
            check_at: 0,
        })
    }

    /// Runs until `stop`; answers the device, to be shut down.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Device {
        let mut tick = tokio::time::interval(STEP);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let result = tokio::select! {
                m = self.device.recv() => match m {
                    Some(m) => self.relay.on_message(&self.device, &m).await.map(|e| self.take(e)),
                    None => break,
                },
                _ = tick.tick() => self.step().await,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() { break; }
                    continue;
                }
            };
            if let Err(e) = result {
                self.tally.error(format!("{}: relay: {e}", self.name));
            }
        }
        self.device
    }

    async fn step(&mut self) -> Result<(), RelayError> {
        let now = self.device.now().0;
        self.read_due(now);
        if self.relay.bid_placed().is_none() {
            // Noted first: a bid the ledger refuses is placed again once
            // it would have expired.
            self.bid_at = Some(now);
            let price = self.config.max_price;
            self.relay.bid(&self.device, price).await?;
        }
        self.feed(now)?;
        let events = self.relay.tick(&self.device).await?;
        self.take(events);
        if self.lease_over(now).await? {
            self.renew()?;
        }
        Ok(())
    }

    /// Queues a report for every report time passed, at most
    /// `READINGS_QUEUED_MAX` of them (after a long stop, the latest).
    fn read_due(&mut self, now: u64) {
        let Some(sensor) = self.scenario.sensor(self.sensor) else {
            return;
        };
        let kept_ms = SENSOR_REPORT_MS * READINGS_QUEUED_MAX as u64;
        if now.saturating_sub(self.next_report_ms) > kept_ms {
            self.next_report_ms = sensor.next_report_ms(now - kept_ms);
        }
        while self.next_report_ms <= now {
            let t_ms = self.next_report_ms;
            let mg_l = self.scenario.sensor_hardness_mg_l(self.sensor, t_ms);
            let reading = Reading {
                sensor: self.sensor,
                district: sensor.district,
                t_ms,
                hardness_dmg_l: dmg_l(mg_l.unwrap_or(0.0)),
            };
            if self.queue.len() >= READINGS_QUEUED_MAX {
                self.queue.pop_front();
            }
            let sealed = reading.seal(self.device.key(), &self.device.genesis_hash());
            self.queue.push_back(sealed);
            self.next_report_ms = t_ms.saturating_add(SENSOR_REPORT_MS);
        }
    }

    /// Hands queued reports to the relay while its lease has room: a
    /// window's worth at a time, so the rest wait here, bounded.
    fn feed(&mut self, now: u64) -> Result<(), RelayError> {
        let Some((_, lease)) = self.relay.lease() else {
            return Ok(());
        };
        let (quantity, ends_ms) = (lease.quantity, lease.ends_at.0);
        while now < ends_ms
            && self.relay.next_seq() < quantity
            && (self.relay.pending() as u64) < WINDOW
        {
            let Some(body) = self.queue.pop_front() else {
                break;
            };
            self.relay.push(body)?;
        }
        Ok(())
    }

    /// Whether the sensor is done with its lease (or its bid) and may buy
    /// another: a lease used up and signed, or past its end, once the
    /// ledger no longer holds it; a bid that expired without a lease.
    async fn lease_over(&mut self, now: u64) -> Result<bool, RelayError> {
        if self.relay.lease_ended() {
            return Ok(true);
        }
        let Some((id, lease)) = self.relay.lease() else {
            let waited = self.config.bid_lifetime_ms + 2 * self.config.poll_ms;
            return Ok(self
                .bid_at
                .is_some_and(|at| now > at.saturating_add(waited)));
        };
        let (receipted, signed) = self.relay.counts();
        let used_up = self.relay.next_seq() >= lease.quantity
            && self.relay.pending() == 0
            && signed == receipted;
        let (id, ends_ms) = (*id, lease.ends_at.0);
        if !(used_up || now >= ends_ms) || now < self.check_at {
            return Ok(false);
        }
        self.check_at = now.saturating_add(self.config.poll_ms);
        if self.device.http().lease(&id).await?.is_none() {
            return Ok(true);
        }
        if now > ends_ms.saturating_add(LEASE_GRACE_MS) {
            return self.close_abandoned(id).await;
        }
        Ok(false)
    }

    /// Closes a lease its gateway left open past the grace (anyone may
    /// then; the ledger gives back what was not paid): a gateway that was
    /// down, or a city stopped for longer than a lease, whose gateway's
    /// last count came too late to land. Refused (someone closed it
    /// first, or the ledger's clock is not yet past the grace), the next
    /// look at the ledger tells.
    async fn close_abandoned(&mut self, lease: LeaseId) -> Result<bool, RelayError> {
        let close = TxKind::LeaseClose { lease, count: None };
        match self.device.submit(close).await {
            Ok(_) => Ok(true),
            Err(SubmitError::Tx(TxError::Refused { .. })) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Forgets the lease that is over (or the bid that expired), so that
    /// the relay bids again at the next step.
    fn renew(&mut self) -> Result<(), RelayError> {
        self.relay.renew()?;
        self.bid_at = None;
        self.check_at = 0;
        Ok(())
    }

    fn take(&mut self, events: Vec<SensorEvent>) {
        for e in events {
            if let SensorEvent::Leased { .. } = e {
                Tally::add(&self.tally.relay_leases, 1);
                self.bid_at = None;
            }
        }
    }
}
