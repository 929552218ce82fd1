//! The sensor: the buyer's side of an uplink relay lease.
//!
//! It places one bid (at most its maximum unit price, and only if the
//! units fit its budget), waits for the lease the fill makes (the node's
//! list by buyer, then the lease read with its proof), sends its payloads
//! as `Relay` messages, at most `window` past the last signed count, and
//! after every `batch` receipts signs the cumulative count and sends it.
//! It counts only receipts from its lease's provider, for its own lease
//! and for sequence numbers it sent, and never signs more than it saw
//! relayed.
//!
//! Its bid, its lease, its next seq, the receipts counted, its last signed
//! count and every message sent and not yet receipted are written to
//! `<state dir>/relay/sensor/state` before anything that depends on them
//! goes out, so a restarted sensor goes on with the next seq (and does not
//! bid again) and sends its last `Count` again at once. A `Relay` left
//! unanswered for `resend_ms` is sent again (in seq order; the gateway
//! answers one it relayed already without relaying it again), and with
//! it the last `Count` (the gateway may be waiting for it to give credit).

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;

use ting_core::resource::{DeliveryCount, Lease, LeaseId, OrderId, OrderTerms, Side};
use ting_core::{AccountId, Amount, Hash32, Signature, Timestamp, TxKind};

use super::store::{self, SensorState};
use super::wire::{Wire, RELAY_PAYLOAD_MAX};
use super::RelayError;
use crate::device::{Device, Message, SubmitError};

/// What a sensor buys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SensorConfig {
    pub class: String,
    /// The highest unit price it bids.
    pub max_price: Amount,
    /// Messages it buys.
    pub units: u64,
    /// The most it spends: units × price must fit.
    pub budget: Amount,
    /// Sign the count after this many new receipts.
    pub batch: u64,
    /// Messages sent past the last signed count (at most the gateway's credit).
    pub window: u64,
    /// How long the bid rests, in ms.
    pub bid_lifetime_ms: u64,
    /// How often the lease is looked for, in ms.
    pub poll_ms: u64,
    /// How long a `Relay` waits for its `Relayed` before it is sent again
    /// (with the last `Count`), in ms.
    pub resend_ms: u64,
}

/// What happened, for the app and the tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SensorEvent {
    BidPlaced {
        order: OrderId,
    },
    Leased {
        lease: LeaseId,
        provider: AccountId,
    },
    Receipt {
        seq: u64,
    },
    Signed {
        count: u64,
    },
    /// A message ignored, and why.
    Ignored {
        why: &'static str,
    },
    /// Unanswered relays sent again (and the last count, if any).
    Resent {
        relays: usize,
    },
    /// The lease this sensor kept is over (closed, or every unit paid).
    LeaseEnded {
        lease: LeaseId,
    },
}

/// A sensor; drive it with [`Sensor::on_message`] and [`Sensor::tick`].
#[derive(Debug)]
pub struct Sensor {
    /// The network's time, read through the device's clock.
    clock: crate::clock::NetworkClock,
    config: SensorConfig,
    genesis: Hash32,
    me: AccountId,
    /// The state file.
    path: PathBuf,
    bid: Option<OrderId>,
    /// The lease found, kept across a restart until it is read again.
    lease_id: Option<LeaseId>,
    lease: Option<(LeaseId, Lease)>,
    /// The kept lease is over.
    ended: bool,
    queued: VecDeque<Vec<u8>>,
    /// Sent and not yet receipted, by seq.
    outstanding: BTreeMap<u64, Vec<u8>>,
    next_seq: u64,
    receipted: u64,
    signed: u64,
    last_count: Option<(u64, Signature)>,
    next_poll: u64,
    /// When unanswered relays are sent again.
    resend_at: u64,
}

impl Sensor {
    /// A sensor on `device`; nothing is placed until [`Sensor::bid`].
    pub fn open(device: &Device, config: SensorConfig) -> Result<Sensor, RelayError> {
        if config.batch == 0 || config.window == 0 || config.units == 0 {
            return Err(RelayError::Refused(
                "batch, window and units are at least 1",
            ));
        }
        let dir = device.state_dir().join("relay").join("sensor");
        std::fs::create_dir_all(&dir).map_err(|source| RelayError::Io {
            op: "create the sensor's directory",
            source,
        })?;
        let path = dir.join("state");
        let saved = match store::load(&path)? {
            Some(text) => SensorState::from_text(&text)
                .ok_or_else(|| RelayError::Damaged(path.display().to_string()))?,
            None => SensorState::default(),
        };
        Ok(Sensor {
            clock: device.clock(),
            config,
            genesis: device.genesis_hash(),
            me: device.account(),
            path,
            bid: saved.bid,
            lease_id: saved.lease,
            lease: None,
            ended: false,
            queued: VecDeque::new(),
            outstanding: saved.sent.into_iter().collect(),
            next_seq: saved.next_seq,
            receipted: saved.receipted,
            signed: saved.signed.map_or(0, |(c, _)| c),
            last_count: saved.signed,
            next_poll: 0,
            resend_at: 0,
        })
    }

    /// Writes what must survive a crash, whole, before returning.
    fn save(&self) -> Result<(), RelayError> {
        let state = SensorState {
            bid: self.bid,
            lease: self.lease_id,
            next_seq: self.next_seq,
            receipted: self.receipted,
            signed: self.last_count,
            sent: self
                .outstanding
                .iter()
                .map(|(seq, p)| (*seq, p.clone()))
                .collect(),
        };
        store::save(&self.path, &state.to_text())
    }

    /// The bid placed (before a restart too), if any.
    pub fn bid_placed(&self) -> Option<OrderId> {
        self.bid
    }

    /// The seq the next new payload gets: after a restart, where the app
    /// takes up its payloads again.
    pub fn next_seq(&self) -> u64 {
        self.next_seq + self.queued.len() as u64
    }

    /// Whether the kept lease is over.
    pub fn lease_ended(&self) -> bool {
        self.ended
    }

    /// Starts over for another lease: forgets the bid and the lease kept,
    /// with their counts and the relays not yet answered, and saves that,
    /// so that the next [`Sensor::bid`] places a new bid. Payloads queued
    /// and not yet sent stay, for the next lease. Call it once the lease
    /// is over (the ledger no longer holds it, read with its proof) or the
    /// bid expired unfilled: a sensor bids once per lease, so that a
    /// restart never places a second bid for the same one.
    pub fn renew(&mut self) -> Result<(), RelayError> {
        self.bid = None;
        self.lease_id = None;
        self.lease = None;
        self.ended = false;
        self.outstanding.clear();
        self.next_seq = 0;
        self.receipted = 0;
        self.signed = 0;
        self.last_count = None;
        self.next_poll = 0;
        self.resend_at = 0;
        self.save()
    }

    /// Places the bid at `price`: refused over the maximum price or the
    /// budget. A sensor bids once: the bid placed already (before a
    /// restart too) is returned instead of placing another.
    pub async fn bid(&mut self, device: &Device, price: Amount) -> Result<OrderId, RelayError> {
        if let Some(order) = self.bid {
            return Ok(order);
        }
        if price > self.config.max_price || price.is_zero() {
            return Err(RelayError::Refused("the price is over the maximum"));
        }
        let total = price.checked_mul(self.config.units);
        if total.is_none_or(|t| t > self.config.budget) {
            return Err(RelayError::Refused(
                "the units at this price are over the budget",
            ));
        }
        let terms = OrderTerms {
            class: self.config.class.clone(),
            side: Side::Bid,
            price,
            quantity: self.config.units,
            expires_at: Timestamp(self.clock.now().0 + self.config.bid_lifetime_ms),
        };
        let ticket = device.queue(TxKind::OrderPlace { terms }).await?;
        let order = OrderId::derive(&self.genesis, &self.me, ticket.nonce);
        // The order is in the device's outbox: it will be placed.
        self.bid = Some(order);
        self.save()?;
        ticket.wait().await.map_err(SubmitError::from)?;
        Ok(order)
    }

    /// The lease, once found.
    pub fn lease(&self) -> Option<&(LeaseId, Lease)> {
        self.lease.as_ref()
    }

    /// Receipts counted, and the count signed so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.receipted, self.signed)
    }

    /// Payloads not yet sent plus those sent and not yet receipted.
    pub fn pending(&self) -> usize {
        self.queued.len() + self.outstanding.len()
    }

    /// Queues `payload` to be relayed.
    pub fn push(&mut self, payload: Vec<u8>) -> Result<(), RelayError> {
        if payload.len() > RELAY_PAYLOAD_MAX {
            return Err(RelayError::Refused("a payload is over 1024 bytes"));
        }
        self.queued.push_back(payload);
        Ok(())
    }

    /// Looks for the lease, then sends what the window allows, signs what
    /// is due and sends again what went unanswered.
    pub async fn tick(&mut self, device: &Device) -> Result<Vec<SensorEvent>, RelayError> {
        let mut events = Vec::new();
        if self.ended {
            return Ok(events);
        }
        if self.lease.is_none() && self.bid.is_some() && self.clock.now().0 >= self.next_poll {
            self.next_poll = self.clock.now().0 + self.config.poll_ms;
            events.extend(self.find_lease(device).await?);
        }
        if self.lease.is_none() {
            return Ok(events);
        }
        if self.sign_due() {
            events.extend(self.sign(device).await?);
        }
        self.send_window(device).await?;
        events.extend(self.resend(device).await?);
        Ok(events)
    }

    fn sign_due(&self) -> bool {
        let idle = self.queued.is_empty() && self.outstanding.is_empty();
        self.receipted > self.signed && (self.receipted - self.signed >= self.config.batch || idle)
    }

    /// After `resend_ms` without an answer: the last count and every
    /// unanswered relay again, while the lease runs.
    async fn resend(&mut self, device: &Device) -> Result<Option<SensorEvent>, RelayError> {
        let Some((id, lease)) = self.lease.clone() else {
            return Ok(None);
        };
        if self.clock.now().0 < self.resend_at || self.clock.now().0 >= lease.ends_at.0 {
            return Ok(None);
        }
        self.resend_at = self.clock.now().0 + self.config.resend_ms;
        if self.outstanding.is_empty() && self.last_count.is_none() {
            return Ok(None);
        }
        if let Some((count, signature)) = self.last_count {
            let msg = Wire::Count {
                lease: id,
                count,
                signature,
            };
            device.send(lease.provider, msg.encode(), false).await?;
        }
        for (seq, payload) in &self.outstanding {
            let msg = Wire::Relay {
                lease: id,
                seq: *seq,
                payload: payload.clone(),
            };
            device.send(lease.provider, msg.encode(), false).await?;
        }
        Ok(Some(SensorEvent::Resent {
            relays: self.outstanding.len(),
        }))
    }

    /// The lease: the one kept (after a restart), read again with its
    /// proof, else the first open lease listed for this buyer in its
    /// class, proved.
    async fn find_lease(&mut self, device: &Device) -> Result<Option<SensorEvent>, RelayError> {
        if let Some(id) = self.lease_id {
            return match device.http().lease(&id).await? {
                Some(lease) => {
                    let provider = lease.provider;
                    self.lease = Some((id, lease));
                    // Sends the last count again at once.
                    self.resend_at = 0;
                    Ok(Some(SensorEvent::Leased {
                        lease: id,
                        provider,
                    }))
                }
                None => {
                    self.ended = true;
                    Ok(Some(SensorEvent::LeaseEnded { lease: id }))
                }
            };
        }
        for id in device.http().lease_ids(Some(&self.me), None).await? {
            let Some(lease) = device.http().lease(&id).await? else {
                continue;
            };
            let fits = lease.buyer == self.me
                && lease.class == self.config.class
                && lease.price <= self.config.max_price;
            if fits {
                let provider = lease.provider;
                self.signed = self.signed.max(lease.delivered);
                self.receipted = self.receipted.max(lease.delivered);
                self.next_seq = self.next_seq.max(lease.delivered);
                self.lease_id = Some(id);
                self.lease = Some((id, lease));
                self.save()?;
                return Ok(Some(SensorEvent::Leased {
                    lease: id,
                    provider,
                }));
            }
        }
        Ok(None)
    }

    async fn send_window(&mut self, device: &Device) -> Result<(), RelayError> {
        let Some((id, lease)) = self.lease.clone() else {
            return Ok(());
        };
        while self.next_seq - self.signed < self.config.window
            && self.next_seq < lease.quantity
            && self.clock.now().0 < lease.ends_at.0
        {
            let Some(payload) = self.queued.pop_front() else {
                break;
            };
            let seq = self.next_seq;
            self.outstanding.insert(seq, payload.clone());
            self.next_seq += 1;
            self.save()?;
            let msg = Wire::Relay {
                lease: id,
                seq,
                payload,
            };
            device.send(lease.provider, msg.encode(), false).await?;
            self.resend_at = self.clock.now().0 + self.config.resend_ms;
        }
        Ok(())
    }

    /// Takes one message: a receipt for this sensor's lease counts, and may
    /// make it sign.
    pub async fn on_message(
        &mut self,
        device: &Device,
        msg: &Message,
    ) -> Result<Vec<SensorEvent>, RelayError> {
        let Message::Data { from, payload, .. } = msg else {
            return Ok(Vec::new());
        };
        let Ok(Wire::Relayed { lease, seq }) = Wire::decode(payload) else {
            return Ok(Vec::new());
        };
        let ours = self
            .lease
            .as_ref()
            .is_some_and(|(id, l)| *id == lease && l.provider == *from);
        if !ours {
            return Ok(vec![SensorEvent::Ignored {
                why: "not_our_lease",
            }]);
        }
        if self.outstanding.remove(&seq).is_none() {
            return Ok(vec![SensorEvent::Ignored { why: "not_sent" }]);
        }
        self.receipted += 1;
        self.save()?;
        self.resend_at = self.clock.now().0 + self.config.resend_ms;
        let mut events = vec![SensorEvent::Receipt { seq }];
        if self.sign_due() {
            events.extend(self.sign(device).await?);
        }
        Ok(events)
    }

    /// Signs the receipts counted so far and sends the count.
    async fn sign(&mut self, device: &Device) -> Result<Option<SensorEvent>, RelayError> {
        let Some((id, lease)) = &self.lease else {
            return Ok(None);
        };
        if self.receipted <= self.signed {
            return Ok(None);
        }
        let count = self.receipted;
        let dc = DeliveryCount { lease: *id, count };
        let signature = dc.sign(device.key(), &self.genesis);
        let msg = Wire::Count {
            lease: *id,
            count,
            signature,
        };
        let provider = lease.provider;
        self.signed = count;
        self.last_count = Some((count, signature));
        self.save()?;
        device.send(provider, msg.encode(), false).await?;
        Ok(Some(SensorEvent::Signed { count }))
    }
}
