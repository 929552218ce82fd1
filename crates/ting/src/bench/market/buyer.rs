//! One buyer of `ting bench market`: a pool of devices, each with the SDK's
//! `Buyer`, running contracts back to back until told to stop.
//!
//! A contract, as an app on a device runs it: `Buyer::call`, then the
//! device's messages handed to `Buyer::on_message` and `Buyer::tick` every
//! `TICK` until the buyer chose (it decides once the window closes, makes
//! the hold and tells the provider); then, once the provider has taken the
//! job on (`ProviderEvent::Job`, passed here through `Service`: the
//! technician came, the sensor sees it), evidence signed by the buyer's own
//! key goes to `Buyer::confirm`, which passes it to the provider and
//! releases the hold with it. The contract is timed from the call to that
//! release's receipt.
//!
//! A provider answers at most `CALLS_PER_BUYER_PER_MIN` calls a minute
//! from one buyer account, so the buyer takes its devices in turn, each for
//! at most that many calls in any 61 seconds (a second of slack over the
//! provider's minute).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use ting_agent::clock::now;
use ting_agent::market::provider::CALLS_PER_BUYER_PER_MIN;
use ting_agent::market::{Buyer, BuyerEvent, MarketError, Need};
use ting_agent::Device;
use ting_core::limits::HOLD_GRACE_MS_DEFAULT;
use ting_core::market::{Condition, Evidence, FieldRule, HoldId, ReleaseRule, Template, Value};
use ting_core::{Amount, Hash32};
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

use super::contracts::{Done, CATEGORY, DELIVER_WITHIN_MS, PRICE_MAX};

/// How often the app ticks its buyer: the decision comes at most this long
/// after the window closes.
const TICK: Duration = Duration::from_millis(5);
/// A device's calls are counted over this span (the provider's minute, and a second).
const CALL_SPAN: Duration = Duration::from_secs(61);
/// A contract not released this long after its window closed is given up
/// (the SDK's buyer would wait for ever: see `ProviderOut::accepts_forgotten`).
/// Longer than the buyer's look at an accepted hold (every 5 s), which is
/// how it sees the provider's copy of the evidence release it.
const CONTRACT_WAIT: Duration = Duration::from_secs(10);
/// The evidence's one field, and what the hold's template asks of it.
const EVENT_FIELD: &str = "event";
const EVENT_DONE: &[u8] = b"service_done";

/// Calls whose provider has taken the job on: the service is done.
pub(super) type Service = mpsc::UnboundedReceiver<Hash32>;

/// One device of a buyer's pool.
pub(super) struct PoolDevice {
    pub device: Device,
    pub buyer: Buyer,
    /// When its recent calls were made, oldest first.
    calls: VecDeque<Instant>,
    last_call: Option<Hash32>,
}

impl PoolDevice {
    pub fn new(device: Device, buyer: Buyer) -> PoolDevice {
        PoolDevice {
            device,
            buyer,
            calls: VecDeque::new(),
            last_call: None,
        }
    }

    /// When this device may call again (now, if it may).
    fn free_at(&mut self, at: Instant) -> Instant {
        while self
            .calls
            .front()
            .is_some_and(|t| at.duration_since(*t) >= CALL_SPAN)
        {
            self.calls.pop_front();
        }
        if self.calls.len() < CALLS_PER_BUYER_PER_MIN as usize {
            return at;
        }
        self.calls.front().map_or(at, |t| *t + CALL_SPAN)
    }
}

/// A buyer: its pool, and where it hears that a provider took a job on.
pub(super) struct Slot {
    pub pool: Vec<PoolDevice>,
    pub service: Service,
    next: usize,
}

/// How one contract ended.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Ending {
    /// The buyer's release landed.
    Released,
    /// The provider presented the same evidence first: the hold ended.
    Ended,
    /// The ledger refused the buyer's release (the SDK keeps the contract
    /// accepted), and the buyer saw the hold end later: the provider's
    /// copy of the evidence released it.
    EndedLater,
    NoProposal,
    /// Given up, waiting for this.
    TimedOut(&'static str),
}

/// What a buyer did over a run.
#[derive(Debug, Default)]
pub(super) struct SlotOut {
    pub contracts: Vec<Done>,
    pub released: u64,
    /// Released by the provider's copy of the evidence before the buyer's.
    pub ended: u64,
    /// The buyer's own release refused, the hold seen to end later.
    pub ended_later: u64,
    pub no_proposal: u64,
    pub timed_out: u64,
    /// What the contracts given up were waiting for, and their SDK status.
    pub timed_out_waiting: BTreeMap<String, u64>,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Times every device of the pool had made its calls for the minute.
    pub pool_waits: u64,
    pub devices_used: usize,
}

impl Slot {
    pub fn new(pool: Vec<PoolDevice>, service: Service) -> Slot {
        Slot {
            pool,
            service,
            next: 0,
        }
    }

    /// Runs contracts back to back until `stop`; the one under way finishes.
    pub async fn run(&mut self, window: Duration, stop: watch::Receiver<bool>) -> SlotOut {
        let mut out = SlotOut::default();
        let mut used = vec![false; self.pool.len()];
        while !*stop.borrow() {
            let d = self.pick(&mut out).await;
            used[d] = true;
            let started = Instant::now();
            let pd = &mut self.pool[d];
            pd.calls.push_back(started);
            match contract(pd, &mut self.service, window).await {
                Ok(ending @ (Ending::Released | Ending::Ended | Ending::EndedLater)) => {
                    let ended = Instant::now();
                    let seen_later = ending == Ending::EndedLater;
                    out.contracts.push(Done {
                        started,
                        ended,
                        seen_later,
                    });
                    match ending {
                        Ending::Released => out.released += 1,
                        Ending::Ended => out.ended += 1,
                        _ => out.ended_later += 1,
                    }
                }
                Ok(Ending::NoProposal) => out.no_proposal += 1,
                Ok(Ending::TimedOut(waiting)) => {
                    out.timed_out += 1;
                    let status = pd
                        .last_call
                        .and_then(|call| pd.buyer.contract(&call))
                        .map_or("none", |c| c.status.as_str());
                    let key = format!("{waiting} (its contract {status})");
                    *out.timed_out_waiting.entry(key).or_insert(0) += 1;
                }
                Err(e) => {
                    out.errors += 1;
                    out.first_error
                        .get_or_insert_with(|| format!("{}: {e}", e.code()));
                }
            }
        }
        out.devices_used = used.iter().filter(|u| **u).count();
        out
    }

    /// The next device that may call, in turn; waits if none may yet.
    async fn pick(&mut self, out: &mut SlotOut) -> usize {
        let at = Instant::now();
        let n = self.pool.len();
        let mut soonest = (at + CALL_SPAN, self.next);
        for k in 0..n {
            let d = (self.next + k) % n;
            let free = self.pool[d].free_at(at);
            if free <= at {
                self.next = (d + 1) % n;
                return d;
            }
            soonest = soonest.min((free, d));
        }
        out.pool_waits += 1;
        tokio::time::sleep_until(soonest.0.into()).await;
        self.next = (soonest.1 + 1) % n;
        soonest.1
    }
}

/// What a buyer's call asks: the window is the benchmark's, the hold is
/// released by evidence the buyer's own device signs.
fn need(device: &Device, window: Duration) -> Need {
    Need {
        category: CATEGORY.into(),
        area: String::new(),
        spec: "ting bench market: one service, fitted".into(),
        max_price: Amount::new(PRICE_MAX),
        answer_within_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
        deliver_within_ms: DELIVER_WITHIN_MS,
        grace_ms: HOLD_GRACE_MS_DEFAULT,
        rounds: 0,
        rule: ReleaseRule::Evidence {
            device: device.account(),
            template: template(),
        },
        arbiter: None,
    }
}

fn template() -> Template {
    Template {
        rules: vec![FieldRule {
            name: EVENT_FIELD.into(),
            condition: Condition::Equals(EVENT_DONE.to_vec()),
        }],
    }
}

/// One contract on `pd`, from the call to the release's receipt.
async fn contract(
    pd: &mut PoolDevice,
    service: &mut Service,
    window: Duration,
) -> Result<Ending, MarketError> {
    let call = pd.buyer.call(&pd.device, need(&pd.device, window)).await?;
    pd.last_call = Some(call);
    let give_up = tokio::time::Instant::now() + window + CONTRACT_WAIT;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let hold = match chosen(pd, &call, &mut tick, give_up).await? {
        Chosen::Hold(hold) => hold,
        Chosen::NoProposal => return Ok(Ending::NoProposal),
        Chosen::TimedOut => return Ok(Ending::TimedOut("a choice")),
    };
    if !delivered(pd, service, &call, &mut tick, give_up).await? {
        return Ok(Ending::TimedOut("the provider's job"));
    }
    let genesis = pd.device.genesis_hash();
    let evidence = Evidence {
        hold,
        observed_at: now(),
        fields: vec![(EVENT_FIELD.into(), Value::Text(EVENT_DONE.to_vec()))],
    }
    .sign(pd.device.key(), &genesis);
    match pd.buyer.confirm(&pd.device, &call, evidence).await? {
        Some(BuyerEvent::Released { .. }) => Ok(Ending::Released),
        Some(BuyerEvent::Ended { .. }) => Ok(Ending::Ended),
        _ => match seen_to_end(pd, &call, &mut tick, give_up).await? {
            true => Ok(Ending::EndedLater),
            false => Ok(Ending::TimedOut("the hold to end")),
        },
    }
}

/// Keeps the buyer going until it sees the hold of `call` end; false if
/// it did not in time.
async fn seen_to_end(
    pd: &mut PoolDevice,
    call: &Hash32,
    tick: &mut tokio::time::Interval,
    give_up: tokio::time::Instant,
) -> Result<bool, MarketError> {
    loop {
        tokio::select! {
            m = pd.device.recv() => {
                let Some(m) = m else { return Ok(false) };
                pd.buyer.on_message(&m)?;
            }
            _ = tick.tick() => {
                let ended = pd.buyer.tick(&pd.device).await?.into_iter().any(|e| {
                    matches!(e, BuyerEvent::Ended { call: c } | BuyerEvent::Released { call: c } if c == *call)
                });
                if ended {
                    return Ok(true);
                }
            }
            () = tokio::time::sleep_until(give_up) => return Ok(false),
        }
    }
}

/// Where the call stands once the buyer decided.
enum Chosen {
    Hold(HoldId),
    NoProposal,
    TimedOut,
}

/// Hands the device's messages and ticks to the buyer until it chose for `call`.
async fn chosen(
    pd: &mut PoolDevice,
    call: &Hash32,
    tick: &mut tokio::time::Interval,
    give_up: tokio::time::Instant,
) -> Result<Chosen, MarketError> {
    loop {
        tokio::select! {
            m = pd.device.recv() => {
                let Some(m) = m else { return Ok(Chosen::TimedOut) };
                pd.buyer.on_message(&m)?;
            }
            _ = tick.tick() => {
                for event in pd.buyer.tick(&pd.device).await? {
                    match event {
                        BuyerEvent::Chose { call: c, hold, .. } if c == *call => {
                            return Ok(Chosen::Hold(hold));
                        }
                        BuyerEvent::NoProposal { call: c } if c == *call => {
                            return Ok(Chosen::NoProposal);
                        }
                        _ => {}
                    }
                }
            }
            () = tokio::time::sleep_until(give_up) => return Ok(Chosen::TimedOut),
        }
    }
}

/// Keeps the buyer going until the provider of `call` has taken the job
/// on; false if it did not in time.
async fn delivered(
    pd: &mut PoolDevice,
    service: &mut Service,
    call: &Hash32,
    tick: &mut tokio::time::Interval,
    give_up: tokio::time::Instant,
) -> Result<bool, MarketError> {
    loop {
        tokio::select! {
            done = service.recv() => match done {
                Some(c) if c == *call => return Ok(true),
                // A job of a contract given up earlier.
                Some(_) => {}
                None => return Ok(false),
            },
            m = pd.device.recv() => {
                let Some(m) = m else { return Ok(false) };
                pd.buyer.on_message(&m)?;
            }
            _ = tick.tick() => { pd.buyer.tick(&pd.device).await?; }
            () = tokio::time::sleep_until(give_up) => return Ok(false),
        }
    }
}

/// Envelopes refused and messages dropped by a pool's devices.
pub(super) fn device_troubles(pool: &[PoolDevice]) -> (BTreeMap<&'static str, u64>, u64) {
    let mut refused = BTreeMap::new();
    let mut dropped = 0;
    for pd in pool {
        for (code, n) in pd.device.refused() {
            *refused.entry(code).or_insert(0) += n;
        }
        dropped += pd.device.stats().app_dropped;
    }
    (refused, dropped)
}
