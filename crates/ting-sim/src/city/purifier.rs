//! A household's water purifier: a `ting-agent` device with the SDK's
//! market `Buyer`.
//!
//! Each step it reads its sensors (the water it treated since the last
//! step, from the world model) and uses up its cartridge. When the
//! cartridge runs low and no order is in flight, it calls for proposals
//! within its owner's budget, and the SDK picks by the owner's policy and
//! pays into escrow. When its own sensor sees a new cartridge fitted, it
//! signs that as evidence, which releases the escrow. A centre that misses
//! its deadline is refunded by the hold's rule, and the purifier calls
//! again. Never a second order while one is in flight.
//!
//! A purifier whose owner consents also sells its readings ([`DataSeller`]):
//! an hour's incoming hardness and litres, as the owner's record allows.
//!
//! It cleans itself in its household's quietest hour, as often as the
//! district's water that day asks (`Scenario::cleaning_plan`).
//!
//! A few purifiers are compromised at the moment the scenario says: from
//! then on they try to send money to a stranger every simulated hour. The
//! ledger holds them to their daily limit, and their owner, who watches
//! what their devices pay, freezes them; a frozen purifier only treats water.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ting_agent::market::{Buyer, BuyerEvent, MarketError, Need, Policy};
use ting_agent::{Device, Message};
use ting_core::limits::HOLD_GRACE_MS_DEFAULT;
use ting_core::market::{Condition, Evidence, FieldRule, ReleaseRule, Template, Value};
use ting_core::{AccountId, Amount, Hash32, Keypair, TxKind};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::data::DataSeller;
use super::{district_area, OrderStep, Physical, Tally, CARTRIDGE_CATEGORY};
use crate::world::{treat, Cartridge, Preference, Scenario, DAY_MS, HOUR_MS, MINUTE_MS};

/// How often (wall clock) a purifier reads its sensors and ticks its buyer.
pub const STEP: Duration = Duration::from_millis(250);
/// The shortest window for proposals, in simulated ms.
const ANSWER_WITHIN_MIN_MS: u64 = 10 * MINUTE_MS;
/// The window must also last this much wall-clock time, so MQTT round
/// trips fit however fast the city runs.
const ANSWER_WALL_MS: u64 = 3_000;
/// A cartridge is due within two simulated days of the call.
const DELIVER_WITHIN_MS: u64 = 48 * HOUR_MS;
/// After a call nobody answered, wait this long (simulated) to call again.
const RETRY_AFTER_MS: u64 = 2 * HOUR_MS;
/// What a compromised purifier tries to send away each time.
pub const DRAIN_BASE_UNITS: u64 = 200_000;
/// How often (simulated) a compromised purifier tries.
const DRAIN_EVERY_MS: u64 = HOUR_MS;
/// The ledger's refusal codes the purifier acts on.
const FROZEN: &str = "frozen";
const OVER_LIMIT: &str = "spend_limit_exceeded";
/// The evidence's field, and what the hold's template asks of it.
const EVENT_FIELD: &str = "event";
const EVENT_FITTED: &[u8] = b"cartridge_fitted";

/// One purifier and what it knows.
pub struct PurifierAgent {
    pub household: u32,
    pub device: Device,
    pub buyer: Buyer,
    pub scenario: Arc<Scenario>,
    pub physical: Arc<Physical>,
    pub tally: Arc<Tally>,
    /// Centre names by account, for the figures.
    pub centres: Arc<BTreeMap<AccountId, String>>,
    cartridge: Cartridge,
    last_ms: u64,
    in_flight: Option<Hash32>,
    retry_at_ms: u64,
    /// The readings it sells, if its owner consents.
    data: Option<DataSeller>,
    /// When it last put its buyers' acknowledgements on the ledger.
    recorded_ms: u64,
    /// When it last tried to send money away, once compromised.
    drained_ms: u64,
    /// Its owner froze it: the ledger refuses all it signs.
    frozen: bool,
    /// The last scenario day it cleaned itself.
    cleaned_day: Option<u64>,
}

impl std::fmt::Debug for PurifierAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PurifierAgent")
            .field("household", &self.household)
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

/// The owner's policy for choosing among proposals.
pub fn policy(scenario: &Scenario, household: u32) -> Policy {
    let Some(h) = scenario.household(household) else {
        return Policy::default();
    };
    let budget = Amount::new(h.policy.cartridge_budget_base_units);
    let mut p = Policy {
        max_price: budget,
        ..Policy::default()
    };
    match h.policy.prefers {
        Preference::Cheapest => {}
        Preference::Fastest => p.value_of_hour = Amount::new(1_000),
        Preference::MostReliable => p.min_score_ppm = 800_000,
    }
    p
}

impl PurifierAgent {
    /// A purifier whose cartridge is as the scenario starts it.
    pub fn new(
        household: u32,
        device: Device,
        buyer: Buyer,
        scenario: Arc<Scenario>,
        shared: (Arc<Physical>, Arc<Tally>, Arc<BTreeMap<AccountId, String>>),
    ) -> PurifierAgent {
        let cartridge = scenario
            .initial_cartridge(household)
            .unwrap_or_else(|_| Cartridge::full());
        let last_ms = device.now().0;
        shared.1.order(household, last_ms, OrderStep::Started);
        PurifierAgent {
            household,
            device,
            buyer,
            scenario,
            physical: shared.0,
            tally: shared.1,
            centres: shared.2,
            cartridge,
            last_ms,
            in_flight: None,
            retry_at_ms: 0,
            data: None,
            recorded_ms: last_ms,
            drained_ms: 0,
            frozen: false,
            cleaned_day: None,
        }
    }

    /// The purifier sells its readings through `data`.
    pub fn selling(mut self, data: DataSeller) -> PurifierAgent {
        self.data = Some(data);
        self
    }

    /// Runs until `stop`; answers the device, to be shut down.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Device {
        let mut tick = tokio::time::interval(STEP);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last_step: Option<std::time::Instant> = None;
        loop {
            let result = tokio::select! {
                m = self.device.recv() => match m {
                    Some(m) => self.on_message(&m).await,
                    None => break,
                },
                _ = tick.tick() => {
                    let at = std::time::Instant::now();
                    if let Some(last) = last_step.replace(at) {
                        let gap = u64::try_from(at.duration_since(last).as_millis());
                        self.tally.steps.add(gap.unwrap_or(u64::MAX));
                    }
                    self.step().await
                }
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() { break; }
                    continue;
                }
            };
            match result {
                Err(e) if e.code() == FROZEN => self.frozen = true,
                Err(e) => {
                    self.tally
                        .error(format!("purifier-{:04}: {}: {e}", self.household, e.code()))
                }
                Ok(()) => {}
            }
        }
        self.device
    }

    async fn on_message(&mut self, m: &Message) -> Result<(), MarketError> {
        if matches!(m, Message::KeyRequest { .. } | Message::Delivery { .. }) {
            if let Some(data) = self.data.as_mut() {
                match data.on_message(&self.device, m).await {
                    Ok(true) => Tally::add(&self.tally.data_days_sold, 1),
                    Ok(false) => {}
                    Err(e) => self.data_error(&e),
                }
            }
            return Ok(());
        }
        if let Some(event) = self.buyer.on_message(m)? {
            self.take(event);
        }
        Ok(())
    }

    fn data_error(&self, e: &ting_agent::stream::SellerError) {
        self.tally
            .error(format!("purifier-{:04}: {}: {e}", self.household, e.code()));
    }

    /// Treats the water of `[from_ms, to_ms)` an hour piece at a time, so
    /// each piece's reading falls in one hour of the data it sells.
    fn treat_until(&mut self, to_ms: u64) {
        let mut from = self.last_ms;
        while from < to_ms {
            let hour_end = (from - from % HOUR_MS).saturating_add(HOUR_MS);
            let to = hour_end.min(to_ms);
            self.clean_if_planned(from);
            let Ok(r) = treat(
                &self.scenario,
                self.household,
                &mut self.cartridge,
                from,
                to,
            ) else {
                break;
            };
            // Litres of one piece: small, finite and not negative.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let litres = r.litres.clamp(0.0, 1e12).round() as u64;
            Tally::add(&self.tally.litres, litres);
            if let Some(data) = self.data.as_mut() {
                if let Err(e) = data.take(&self.device, from, &r) {
                    self.data_error(&e);
                }
            }
            from = to;
        }
        self.last_ms = to_ms;
    }

    /// Runs the cleaning cycle if the plan puts one in the hour of `at_ms`.
    fn clean_if_planned(&mut self, at_ms: u64) {
        let day = self.scenario.day_of(at_ms);
        if self.cleaned_day == Some(day) {
            return;
        }
        let planned = self.scenario.cleaning_plan(self.household, day);
        if let Ok(Some(hour)) = planned {
            if crate::world::hour_of_day(at_ms) == hour {
                self.cleaned_day = Some(day);
                Tally::add(&self.tally.cleanings, 1);
            }
        }
    }

    /// Publishes the readings due and, once a simulated day, puts the
    /// buyers' acknowledgements on the ledger.
    async fn sell(&mut self, now: u64) {
        let Some(data) = self.data.as_mut() else {
            return;
        };
        let mut failed = data.tick(&self.device, now).err();
        Tally::add(&self.tally.data_withheld, data.take_withheld());
        if now.saturating_sub(self.recorded_ms) >= DAY_MS {
            self.recorded_ms = now;
            failed = failed.or(data.record(&self.device).await.err());
        }
        if let Some(e) = failed {
            self.data_error(&e);
        }
    }

    async fn step(&mut self) -> Result<(), MarketError> {
        let now = self.device.now().0;
        if now > self.last_ms {
            self.treat_until(now);
            self.sell(now).await;
        }
        self.misbehave(now).await;
        if self.frozen {
            return Ok(());
        }
        if let Some(at) = self.physical.take_fitted(self.household) {
            self.cartridge = Cartridge::full();
            // The sensor logged the new cartridge when it was fitted.
            self.fitted(at.min(now)).await?;
        }
        for event in self.buyer.tick(&self.device).await? {
            self.take(event);
        }
        if self.in_flight.is_none() && self.cartridge.is_low() && now >= self.retry_at_ms {
            self.order(now).await?;
        }
        Ok(())
    }

    /// Once compromised, tries to send money to a stranger every hour.
    async fn misbehave(&mut self, now: u64) {
        let bad_from = self
            .scenario
            .household(self.household)
            .and_then(|h| h.misbehaves_at_ms);
        let due = bad_from.is_some_and(|at| now >= at)
            && now.saturating_sub(self.drained_ms) >= DRAIN_EVERY_MS;
        if self.frozen || !due {
            return;
        }
        self.drained_ms = now;
        let drain = TxKind::Transfer {
            to: stranger(self.scenario.seed()),
            amount: Amount::new(DRAIN_BASE_UNITS),
            memo: Vec::new(),
        };
        match self.device.submit(drain).await {
            Ok(_) => Tally::add(&self.tally.drained, DRAIN_BASE_UNITS),
            Err(e) if e.code() == FROZEN => self.frozen = true,
            Err(e) if e.code() == OVER_LIMIT => Tally::add(&self.tally.refused_over_limit, 1),
            Err(e) => {
                self.tally
                    .error(format!("purifier-{:04}: {}: {e}", self.household, e.code()))
            }
        }
    }

    /// The sensor saw a new cartridge fitted at `at`: the order in flight is done.
    async fn fitted(&mut self, at: u64) -> Result<(), MarketError> {
        let Some(call) = self.in_flight else {
            return Ok(());
        };
        let Some(hold) = self.buyer.contract(&call).and_then(|c| c.hold) else {
            return Ok(());
        };
        let evidence = Evidence {
            hold,
            observed_at: ting_core::Timestamp(at),
            fields: vec![(EVENT_FIELD.into(), Value::Text(EVENT_FITTED.to_vec()))],
        }
        .sign(self.device.key(), &self.device.genesis_hash());
        let event = self.buyer.confirm(&self.device, &call, evidence).await?;
        Tally::add(&self.tally.installed, 1);
        self.tally.order(self.household, at, OrderStep::Installed);
        self.tally.district_event(&self.district_name(), true);
        self.in_flight = None;
        if let Some(e) = event {
            self.take(e);
        }
        Ok(())
    }

    async fn order(&mut self, now: u64) -> Result<(), MarketError> {
        let need = self.need();
        let call = self.buyer.call(&self.device, need).await?;
        Tally::add(&self.tally.calls, 1);
        // Stamped after the call: an event taken earlier this step (a
        // refund) comes first in the log.
        let called_at = self.device.now().0;
        self.tally
            .order(self.household, called_at, OrderStep::Called);
        self.in_flight = Some(call);
        self.retry_at_ms = now.saturating_add(RETRY_AFTER_MS);
        Ok(())
    }

    fn need(&self) -> Need {
        let (area, budget) = match self.scenario.household(self.household) {
            Some(h) => (
                district_area(h.district),
                h.policy.cartridge_budget_base_units,
            ),
            None => (String::new(), 0),
        };
        let speed = u64::from(self.device.clock().speed());
        Need {
            category: CARTRIDGE_CATEGORY.into(),
            area,
            spec: "one replacement cartridge, fitted".into(),
            max_price: Amount::new(budget),
            answer_within_ms: ANSWER_WITHIN_MIN_MS.max(ANSWER_WALL_MS.saturating_mul(speed)),
            deliver_within_ms: DELIVER_WITHIN_MS,
            grace_ms: HOLD_GRACE_MS_DEFAULT,
            rounds: 0,
            rule: ReleaseRule::Evidence {
                device: self.device.account(),
                template: Template {
                    rules: vec![FieldRule {
                        name: EVENT_FIELD.into(),
                        condition: Condition::Equals(EVENT_FITTED.to_vec()),
                    }],
                },
            },
            arbiter: None,
        }
    }

    fn take(&mut self, event: BuyerEvent) {
        let now = self.device.now().0;
        match event {
            BuyerEvent::Chose {
                call,
                provider,
                price,
                ..
            } => {
                let centre = self.centres.get(&provider).map_or("?", String::as_str);
                self.tally.chose(now, centre, price.base_units());
                let deadline_ms = self
                    .buyer
                    .contract(&call)
                    .and_then(|c| c.chosen.as_ref())
                    .map_or(0, |(_, p)| p.deliver_by.0);
                let step = OrderStep::Chose {
                    centre: centre.to_owned(),
                    deadline_ms,
                };
                self.tally.order(self.household, now, step);
            }
            BuyerEvent::NoProposal { call } if self.in_flight == Some(call) => {
                Tally::add(&self.tally.no_proposal, 1);
                self.tally.order(self.household, now, OrderStep::NoProposal);
                self.in_flight = None;
            }
            BuyerEvent::Refunded { call } if self.in_flight == Some(call) => {
                // The centre missed its deadline: the owner's policy avoids it.
                let chosen = self.buyer.contract(&call).and_then(|c| c.chosen.as_ref());
                if let Some((provider, _)) = chosen.map(|(p, q)| (*p, q.price)) {
                    self.buyer.avoid(provider);
                }
                Tally::add(&self.tally.refunded, 1);
                self.tally.order(self.household, now, OrderStep::Refunded);
                self.tally.district_event(&self.district_name(), false);
                self.in_flight = None;
                self.retry_at_ms = 0;
            }
            _ => {}
        }
    }

    fn district_name(&self) -> String {
        self.scenario
            .household(self.household)
            .and_then(|h| self.scenario.district(h.district))
            .map_or_else(String::new, |d| d.name.to_owned())
    }
}

/// The account a compromised purifier sends money to: nobody in the city.
pub fn stranger(seed: u64) -> AccountId {
    let digest = Hash32::digest(&[b"ting-demo-stranger", &seed.to_le_bytes()]);
    Keypair::from_seed(digest.0).account()
}
