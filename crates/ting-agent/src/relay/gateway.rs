//! The gateway: the provider's side of an uplink relay lease.
//!
//! It keeps one ask resting in its class (placed again once it is used up
//! or expired), finds its leases (the node's list, then each lease read
//! with its proof; only leases it provides), and relays a sensor's `Relay`
//! only when the sender is the lease's buyer, the lease is open and not
//! past its end, and at most `credit` messages are relayed past the last
//! signed count. The payload goes to the configured destination account as
//! a `DATA` envelope (no broker topic lets a device publish arbitrary
//! data), and the sensor gets a `Relayed` receipt.
//!
//! A `Relay` for a lease it does not serve yet has that lease read from
//! the node (with its proof) at most once a poll interval per sender, so
//! relays for made-up leases cannot turn the gateway into a stream of
//! proved reads against the node.
//!
//! Every `Count` is checked (the buyer's signature, no more than was
//! relayed, higher than the best so far). It is settled (`lease_settle`)
//! every `settle_every` new units, and the lease is closed (`lease_close`,
//! with the last count) once it has ended.
//!
//! What it knows of a lease (relayed, last seq, best count, settled, done)
//! is written to `<state dir>/relay/gateway/<lease hex>.lease` before a
//! `Relayed` goes out and before a count is relied on, so a restarted
//! gateway goes on where it was. A `Relay` whose seq it already relayed
//! (a resend: its `Relayed` was lost, or the gateway restarted) is
//! answered `Relayed` again and not relayed again. After a restart the
//! gateway adopts its own ask resting in its class (the node's list of its
//! orders, each read with its proof) instead of placing another.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ting_core::resource::{DeliveryCount, LeaseId, OrderId};
use ting_core::{AccountId, Amount, Hash32, Signature, TxKind};

mod ask;
mod served;

use super::store::GatewayLease;
use super::wire::Wire;
use super::{RelayError, LEASES_SERVED_MAX};
use crate::device::{Device, Message, SubmitError, TxError};
use served::{load_leases, Served};

/// Ranges of skipped seqs one lease remembers; a relay that would skip
/// more is withheld until the ones before it come.
pub const MISSING_RANGES_MAX: usize = 64;

/// The unit price an ask is placed at: `base`, plus `per_lease_step` for
/// every lease being served (a busier gateway asks more).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PricePolicy {
    pub base: Amount,
    pub per_lease_step: Amount,
}

impl PricePolicy {
    fn price(&self, leases: usize) -> Amount {
        let step = self
            .per_lease_step
            .base_units()
            .saturating_mul(u64::try_from(leases).unwrap_or(u64::MAX));
        Amount::new(self.base.base_units().saturating_add(step))
    }
}

/// What a gateway sells and how far it trusts its buyers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayConfig {
    /// The resource class, e.g. `bandwidth.uplink.msg`.
    pub class: String,
    pub price: PricePolicy,
    /// Messages offered by one ask.
    pub units_per_ask: u64,
    /// How long an ask rests before it expires, in ms.
    pub ask_lifetime_ms: u64,
    /// Messages relayed past the last signed count before relaying stops.
    pub credit: u64,
    /// Settle on the ledger after this many newly signed units.
    pub settle_every: u64,
    /// Where relayed payloads go (as `DATA` envelopes).
    pub destination: AccountId,
    /// How often the ask and the leases are looked up, in ms.
    pub poll_ms: u64,
}

/// What happened, for the app and the tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayEvent {
    AskPlaced {
        order: OrderId,
        price: Amount,
    },
    Leased {
        lease: LeaseId,
        buyer: AccountId,
    },
    Relayed {
        lease: LeaseId,
        seq: u64,
    },
    /// A resent `Relay` of a seq already relayed: answered again, not
    /// relayed again.
    Reanswered {
        lease: LeaseId,
        seq: u64,
    },
    /// An ask of this gateway's found resting (after a restart) and kept.
    AskAdopted {
        order: OrderId,
    },
    /// A relay not done, and why.
    Withheld {
        lease: LeaseId,
        seq: u64,
        why: &'static str,
    },
    Counted {
        lease: LeaseId,
        count: u64,
    },
    /// A count not taken, and why.
    CountRefused {
        lease: LeaseId,
        why: &'static str,
    },
    Settled {
        lease: LeaseId,
        count: u64,
    },
    Closed {
        lease: LeaseId,
        count: u64,
    },
    /// The ledger refused a settle or a close.
    LedgerRefused {
        lease: LeaseId,
        code: String,
    },
}

/// A gateway; drive it with [`Gateway::on_message`] and [`Gateway::tick`].
#[derive(Debug)]
pub struct Gateway {
    /// The network's time, read through the device's clock.
    clock: crate::clock::NetworkClock,
    config: GatewayConfig,
    dir: PathBuf,
    genesis: Hash32,
    me: AccountId,
    ask: Option<OrderId>,
    served: BTreeMap<LeaseId, Served>,
    /// What the files said at start, for leases not yet served again.
    saved: BTreeMap<LeaseId, GatewayLease>,
    /// Whether the node's list of this gateway's orders was read for a
    /// resting ask (once, at the first tick).
    looked_for_ask: bool,
    next_poll: u64,
    /// Relays left before the gateway stops (`None`: no limit).
    budget: Option<u64>,
    /// When each sender last had a lease the gateway did not know looked
    /// up (a proved read from the node): at most one a poll interval, so a
    /// stranger sending relays for made-up leases costs the node little.
    lookups: BTreeMap<AccountId, u64>,
}

/// Senders whose last lookup is remembered; past it, lookups wait until
/// older entries expire.
const LOOKUP_SENDERS_MAX: usize = 1024;

impl Gateway {
    /// A gateway on `device`, its counts under the device's state dir.
    pub fn open(device: &Device, config: GatewayConfig) -> Result<Gateway, RelayError> {
        let dir = device.state_dir().join("relay").join("gateway");
        std::fs::create_dir_all(&dir).map_err(|source| RelayError::Io {
            op: "create the gateway's directory",
            source,
        })?;
        if config.credit == 0 || config.settle_every == 0 || config.units_per_ask == 0 {
            return Err(RelayError::Refused(
                "credit, settle_every and units are at least 1",
            ));
        }
        let saved = load_leases(&dir)?;
        Ok(Gateway {
            clock: device.clock(),
            config,
            dir,
            genesis: device.genesis_hash(),
            me: device.account(),
            ask: None,
            served: BTreeMap::new(),
            saved,
            looked_for_ask: false,
            next_poll: 0,
            budget: None,
            lookups: BTreeMap::new(),
        })
    }

    /// Relays at most `n` more messages, then stops relaying (an outage,
    /// or capacity running out); settling and closing go on.
    pub fn stop_after(&mut self, n: u64) {
        self.budget = Some(n);
    }

    /// The best signed count of `lease`, if any.
    pub fn best_count(&self, lease: &LeaseId) -> Option<u64> {
        self.served.get(lease).and_then(|s| s.best.map(|(c, _)| c))
    }

    /// Takes one message; `DATA` that is not a relay message is ignored.
    pub async fn on_message(
        &mut self,
        device: &Device,
        msg: &Message,
    ) -> Result<Vec<GatewayEvent>, RelayError> {
        let Message::Data { from, payload, .. } = msg else {
            return Ok(Vec::new());
        };
        match Wire::decode(payload) {
            Ok(Wire::Relay {
                lease,
                seq,
                payload,
            }) => self.relay(device, *from, lease, seq, payload).await,
            Ok(Wire::Count {
                lease,
                count,
                signature,
            }) => self.count(device, *from, lease, count, signature).await,
            _ => Ok(Vec::new()),
        }
    }

    /// Keeps the ask resting, finds new leases, settles and closes.
    pub async fn tick(&mut self, device: &Device) -> Result<Vec<GatewayEvent>, RelayError> {
        let mut events = Vec::new();
        if self.clock.now().0 >= self.next_poll {
            self.next_poll = self.clock.now().0 + self.config.poll_ms;
            events.extend(self.keep_ask(device).await?);
            events.extend(self.discover(device).await?);
        }
        let due: Vec<LeaseId> = self
            .served
            .iter()
            .filter(|(_, s)| !s.done && self.clock.now().0 >= s.lease.ends_at.0)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            events.extend(self.close(device, id).await?);
        }
        Ok(events)
    }

    fn open_leases(&self) -> usize {
        self.served.values().filter(|s| !s.done).count()
    }

    /// Leases the node lists for this provider that are not yet served.
    async fn discover(&mut self, device: &Device) -> Result<Vec<GatewayEvent>, RelayError> {
        let ids = device.http().lease_ids(None, Some(&self.me)).await?;
        let mut events = Vec::new();
        for id in ids {
            if !self.served.contains_key(&id) {
                events.extend(self.take_on(device, id).await?);
            }
        }
        Ok(events)
    }

    /// Reads lease `id` with its proof and serves it if this gateway provides it.
    async fn take_on(
        &mut self,
        device: &Device,
        id: LeaseId,
    ) -> Result<Option<GatewayEvent>, RelayError> {
        if self.served.len() >= LEASES_SERVED_MAX {
            return Ok(None);
        }
        let Some(lease) = device.http().lease(&id).await? else {
            return Ok(None);
        };
        if lease.provider != self.me || lease.class != self.config.class {
            return Ok(None);
        }
        let saved = self.saved.remove(&id).unwrap_or_default();
        let best = saved.best.filter(|(count, sig)| {
            let dc = DeliveryCount {
                lease: id,
                count: *count,
            };
            dc.verify(&self.genesis, &lease.buyer, sig).is_ok()
        });
        let settled = lease.delivered.max(saved.settled);
        let relayed = best
            .map_or(settled, |(c, _)| c.max(settled))
            .max(saved.relayed);
        let buyer = lease.buyer;
        self.served.insert(
            id,
            Served {
                lease,
                relayed,
                best,
                settled,
                last_seq: saved.last_seq,
                missing: saved.missing,
                done: saved.done,
            },
        );
        Ok(Some(GatewayEvent::Leased { lease: id, buyer }))
    }

    /// Why a relay for `lease` from `from` cannot be done now, if it cannot.
    fn refuse_relay(&self, from: AccountId, lease: &LeaseId, seq: u64) -> Option<&'static str> {
        let Some(s) = self.served.get(lease) else {
            return Some("unknown_lease");
        };
        if s.lease.buyer != from {
            return Some("not_the_buyer");
        }
        if s.done || self.clock.now().0 >= s.lease.ends_at.0 {
            return Some("lease_ended");
        }
        if s.relayed_already(seq) {
            return Some("old_seq");
        }
        if s.too_many_gaps(seq) {
            return Some("too_many_gaps");
        }
        if s.relayed >= s.lease.quantity {
            return Some("lease_used_up");
        }
        if s.relayed.saturating_sub(s.signed()) >= self.config.credit {
            return Some("credit_used_up");
        }
        if self.budget == Some(0) {
            return Some("stopped");
        }
        None
    }

    async fn relay(
        &mut self,
        device: &Device,
        from: AccountId,
        lease: LeaseId,
        seq: u64,
        payload: Vec<u8>,
    ) -> Result<Vec<GatewayEvent>, RelayError> {
        let mut events = Vec::new();
        if !self.served.contains_key(&lease) && self.may_look_up(from) {
            events.extend(self.take_on(device, lease).await?);
        }
        match self.refuse_relay(from, &lease, seq) {
            // Relayed already: answer again, do not relay again.
            Some("old_seq") => {
                let receipt = Wire::Relayed { lease, seq }.encode();
                device.send(from, receipt, false).await?;
                events.push(GatewayEvent::Reanswered { lease, seq });
                return Ok(events);
            }
            Some(why) => {
                events.push(GatewayEvent::Withheld { lease, seq, why });
                return Ok(events);
            }
            None => {}
        }
        // At least once to the destination: a crash after this send and
        // before the file is saved relays it again when it is resent.
        device.send(self.config.destination, payload, false).await?;
        if let Some(s) = self.served.get_mut(&lease) {
            s.relayed += 1;
            s.note_relayed(seq);
            self.save(&lease)?;
        }
        if let Some(b) = self.budget.as_mut() {
            *b = b.saturating_sub(1);
        }
        let receipt = Wire::Relayed { lease, seq }.encode();
        device.send(from, receipt, false).await?;
        events.push(GatewayEvent::Relayed { lease, seq });
        Ok(events)
    }

    /// Whether `from` may have an unknown lease looked up now: once a poll
    /// interval per sender, for at most `LOOKUP_SENDERS_MAX` senders at once.
    fn may_look_up(&mut self, from: AccountId) -> bool {
        let t = self.clock.now().0;
        let since = t.saturating_sub(self.config.poll_ms);
        if self.lookups.get(&from).is_some_and(|&last| last > since) {
            return false;
        }
        if self.lookups.len() >= LOOKUP_SENDERS_MAX {
            self.lookups.retain(|_, last| *last > since);
            if self.lookups.len() >= LOOKUP_SENDERS_MAX {
                return false;
            }
        }
        self.lookups.insert(from, t);
        true
    }

    /// Why a count cannot be taken, if it cannot.
    fn refuse_count(
        &self,
        from: AccountId,
        lease: &LeaseId,
        count: u64,
        signature: &Signature,
    ) -> Option<&'static str> {
        let Some(s) = self.served.get(lease) else {
            return Some("unknown_lease");
        };
        if s.lease.buyer != from {
            return Some("not_the_buyer");
        }
        if s.done {
            return Some("lease_ended");
        }
        if count > s.relayed || count > s.lease.quantity {
            return Some("more_than_relayed");
        }
        if count <= s.signed() {
            return Some("not_higher");
        }
        let dc = DeliveryCount {
            lease: *lease,
            count,
        };
        if dc.verify(&self.genesis, &s.lease.buyer, signature).is_err() {
            return Some("bad_signature");
        }
        None
    }

    async fn count(
        &mut self,
        device: &Device,
        from: AccountId,
        lease: LeaseId,
        count: u64,
        signature: Signature,
    ) -> Result<Vec<GatewayEvent>, RelayError> {
        if let Some(why) = self.refuse_count(from, &lease, count, &signature) {
            return Ok(vec![GatewayEvent::CountRefused { lease, why }]);
        }
        let Some(s) = self.served.get_mut(&lease) else {
            return Ok(Vec::new());
        };
        s.best = Some((count, signature));
        self.save(&lease)?;
        let Some(s) = self.served.get(&lease) else {
            return Ok(Vec::new());
        };
        let mut events = vec![GatewayEvent::Counted { lease, count }];
        if count - s.settled >= self.config.settle_every && !s.done {
            events.extend(self.settle(device, lease).await?);
        }
        Ok(events)
    }

    /// Settles the best count of `lease` on the ledger.
    async fn settle(
        &mut self,
        device: &Device,
        lease: LeaseId,
    ) -> Result<Option<GatewayEvent>, RelayError> {
        let Some((count, signature)) = self.served.get(&lease).and_then(|s| s.best) else {
            return Ok(None);
        };
        let kind = TxKind::LeaseSettle {
            lease,
            count,
            signature,
        };
        let outcome = landed(device.submit(kind).await, lease)?;
        let Some(s) = self.served.get_mut(&lease) else {
            return Ok(None);
        };
        if outcome.is_none() {
            s.settled = count;
            // Every unit paid: the ledger ended the lease.
            s.done = count >= s.lease.quantity;
            self.save(&lease)?;
        }
        Ok(Some(
            outcome.unwrap_or(GatewayEvent::Settled { lease, count }),
        ))
    }

    /// Closes `lease` with its best count not yet settled. Also for the
    /// app, to end a lease early: the rest goes back to the buyer.
    pub async fn close(
        &mut self,
        device: &Device,
        lease: LeaseId,
    ) -> Result<Option<GatewayEvent>, RelayError> {
        let Some(s) = self.served.get(&lease) else {
            return Ok(None);
        };
        if s.done {
            return Ok(None);
        }
        let last = s.best.filter(|(c, _)| *c > s.settled);
        let count = last.map_or(s.settled, |(c, _)| c);
        let kind = TxKind::LeaseClose { lease, count: last };
        let outcome = landed(device.submit(kind).await, lease)?;
        if let Some(s) = self.served.get_mut(&lease) {
            s.done = true;
            if outcome.is_none() {
                s.settled = count;
            }
        }
        self.save(&lease)?;
        Ok(Some(
            outcome.unwrap_or(GatewayEvent::Closed { lease, count }),
        ))
    }
}

/// `None` when the transaction landed, a `LedgerRefused` event when the
/// ledger refused it; other failures are errors.
fn landed<T>(
    outcome: Result<T, SubmitError>,
    lease: LeaseId,
) -> Result<Option<GatewayEvent>, RelayError> {
    match outcome {
        Ok(_) => Ok(None),
        Err(SubmitError::Tx(TxError::Refused { code, .. })) => {
            Ok(Some(GatewayEvent::LedgerRefused { lease, code }))
        }
        Err(e) => Err(e.into()),
    }
}
