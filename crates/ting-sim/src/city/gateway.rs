//! A district's relay gateway: a `ting-agent` device with the SDK's relay
//! `Gateway`, selling uplink relay by the message on the
//! `bandwidth.uplink.msg` order book.
//!
//! It keeps an ask resting (its price rising with the leases it serves,
//! so a busy gateway loses the next sensor to a quieter one), relays the
//! reports of the sensors that lease from it to the utility's mains
//! monitor, takes their signed counts, settles them and closes each lease
//! once it has ended, all as the SDK does. The class itself is registered
//! once by the network's issuer ([`class_register`]).

use std::sync::Arc;

use ting_agent::relay::{Gateway, GatewayConfig, GatewayEvent, PricePolicy, RelayError};
use ting_agent::Device;
use ting_core::{AccountId, Amount, TxKind};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::Tally;
use crate::world::{HOUR_MS, MINUTE_MS, SENSOR_REPORT_MS};

/// The resource class of the uplink relay.
pub const RELAY_CLASS: &str = "bandwidth.uplink.msg";
/// Its unit.
pub const RELAY_UNIT: &str = "msg";
/// How long a lease lasts: a bound for a sensor that stops reporting.
/// Its messages are used up long before (and the settlement of the last
/// count ends it), so that even at the fastest clock no lease waits on a
/// close that must land within the ledger's grace.
pub const RELAY_LEASE_MS: u64 = crate::world::DAY_MS;
/// Messages one lease buys: six hours of a sensor's reports, so that
/// leases are used up and bought again within a short run.
pub const LEASE_MESSAGES: u64 = 6 * HOUR_MS / SENSOR_REPORT_MS;
/// A gateway's price per message when it serves no lease, in base units.
pub const RELAY_PRICE_BASE_UNITS: u64 = 20;
/// What a gateway adds to its price for every lease it serves.
pub const RELAY_PRICE_STEP_BASE_UNITS: u64 = 2;
/// Leases one ask sells (at most `ORDER_FILLS_MAX` fills an order).
const LEASES_PER_ASK: u64 = 8;
/// How long an ask rests before it is placed again (at the price of the
/// moment).
const ASK_LIFETIME_MS: u64 = 7 * crate::world::DAY_MS;
/// Messages relayed past the last signed count: a few reports.
pub const RELAY_CREDIT: u64 = 8;
/// Settled on the ledger every this many signed messages; it divides
/// `LEASE_MESSAGES`, so the last count of a used-up lease pays it off.
const SETTLE_EVERY: u64 = 8;
/// How often (wall clock) a gateway looks at its ask and its leases, and
/// never more often than once a simulated minute.
const POLL_WALL_MS: u64 = 1_000;
/// Leases one SDK gateway takes on before it is opened again: it keeps
/// every lease it served (at most `LEASES_SERVED_MAX`); opened again, it
/// goes on with the open ones from its files and forgets the closed.
const LEASES_PER_OPEN: u64 = (ting_agent::relay::LEASES_SERVED_MAX / 2) as u64;

const _: () = assert!(LEASE_MESSAGES.is_multiple_of(SETTLE_EVERY));
const _: () = assert!(LEASES_PER_ASK <= ting_core::limits::ORDER_FILLS_MAX as u64);

/// Whether a refused settle or close is the ledger's rule at work rather
/// than a fault: a lease that ended while the city was stopped (or its
/// gateway was behind) past the grace, whose last count came too late and
/// whose buyer closed it.
fn lease_closed_by_buyer(code: &str) -> bool {
    matches!(code, "count_too_late" | "unknown_lease")
}

/// The issuer's registration of the relay class.
pub fn class_register() -> TxKind {
    TxKind::ClassRegister {
        name: RELAY_CLASS.into(),
        unit: RELAY_UNIT.into(),
        lease_ms: RELAY_LEASE_MS,
    }
}

/// `wall_ms` of real time in network ms at the device's clock speed, and
/// at least `floor_ms`.
pub(crate) fn network_ms(device: &Device, wall_ms: u64, floor_ms: u64) -> u64 {
    let speed = u64::from(device.clock().speed());
    wall_ms.saturating_mul(speed).max(floor_ms)
}

/// What a city gateway sells, relaying to `mains`.
pub fn config(device: &Device, mains: AccountId) -> GatewayConfig {
    GatewayConfig {
        class: RELAY_CLASS.into(),
        price: PricePolicy {
            base: Amount::new(RELAY_PRICE_BASE_UNITS),
            per_lease_step: Amount::new(RELAY_PRICE_STEP_BASE_UNITS),
        },
        units_per_ask: LEASE_MESSAGES * LEASES_PER_ASK,
        ask_lifetime_ms: ASK_LIFETIME_MS,
        credit: RELAY_CREDIT,
        settle_every: SETTLE_EVERY,
        destination: mains,
        poll_ms: network_ms(device, POLL_WALL_MS, MINUTE_MS),
    }
}

/// One district's gateway.
pub struct GatewayAgent {
    pub district: u16,
    pub name: String,
    pub device: Device,
    relay: Gateway,
    config: GatewayConfig,
    tally: Arc<Tally>,
    /// Leases taken on since the SDK gateway was opened.
    taken: u64,
}

impl std::fmt::Debug for GatewayAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayAgent")
            .field("name", &self.name)
            .field("taken", &self.taken)
            .finish_non_exhaustive()
    }
}

impl GatewayAgent {
    /// Opens district `district`'s gateway on `device`, relaying to `mains`.
    pub fn open(
        district: u16,
        name: String,
        device: Device,
        mains: AccountId,
        tally: Arc<Tally>,
    ) -> Result<GatewayAgent, RelayError> {
        let config = config(&device, mains);
        let relay = Gateway::open(&device, config.clone())?;
        Ok(GatewayAgent {
            district,
            name,
            device,
            relay,
            config,
            tally,
            taken: 0,
        })
    }

    /// Runs until `stop`; answers the device, to be shut down.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Device {
        let mut tick = tokio::time::interval(super::purifier::STEP);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let events = tokio::select! {
                m = self.device.recv() => match m {
                    Some(m) => self.relay.on_message(&self.device, &m).await,
                    None => break,
                },
                _ = tick.tick() => self.step().await,
                changed = stop.changed() => {
                    if changed.is_err() || *stop.borrow() { break; }
                    continue;
                }
            };
            match events {
                Ok(events) => events.into_iter().for_each(|e| self.take(e)),
                Err(e) => self.tally.error(format!("{}: relay: {e}", self.name)),
            }
        }
        self.device
    }

    async fn step(&mut self) -> Result<Vec<GatewayEvent>, RelayError> {
        if self.taken >= LEASES_PER_OPEN {
            self.relay = Gateway::open(&self.device, self.config.clone())?;
            self.taken = 0;
        }
        self.relay.tick(&self.device).await
    }

    fn take(&mut self, event: GatewayEvent) {
        match event {
            GatewayEvent::Relayed { .. } => Tally::add(&self.tally.relay_messages, 1),
            GatewayEvent::Leased { .. } => self.taken += 1,
            GatewayEvent::LedgerRefused { code, .. } if lease_closed_by_buyer(&code) => {}
            GatewayEvent::LedgerRefused { lease, code } => self.tally.error(format!(
                "{}: the ledger refused lease {}: {code}",
                self.name, lease.0
            )),
            _ => {}
        }
    }
}
