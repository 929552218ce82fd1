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

use std::collections::{BTreeSet, VecDeque};

use ting_core::resource::{DeliveryCount, Lease, LeaseId, OrderId, OrderTerms, Side};
use ting_core::{AccountId, Amount, Hash32, Timestamp, TxKind};

use super::wire::{Wire, RELAY_PAYLOAD_MAX};
use super::RelayError;
use crate::clock::now;
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
}

/// A sensor; drive it with [`Sensor::on_message`] and [`Sensor::tick`].
#[derive(Debug)]
pub struct Sensor {
    config: SensorConfig,
    genesis: Hash32,
    me: AccountId,
    bid: Option<OrderId>,
    lease: Option<(LeaseId, Lease)>,
    queued: VecDeque<Vec<u8>>,
    outstanding: BTreeSet<u64>,
    next_seq: u64,
    receipted: u64,
    signed: u64,
    next_poll: u64,
}

impl Sensor {
    /// A sensor on `device`; nothing is placed until [`Sensor::bid`].
    pub fn open(device: &Device, config: SensorConfig) -> Result<Sensor, RelayError> {
        if config.batch == 0 || config.window == 0 || config.units == 0 {
            return Err(RelayError::Refused(
                "batch, window and units are at least 1",
            ));
        }
        Ok(Sensor {
            config,
            genesis: device.genesis_hash(),
            me: device.account(),
            bid: None,
            lease: None,
            queued: VecDeque::new(),
            outstanding: BTreeSet::new(),
            next_seq: 0,
            receipted: 0,
            signed: 0,
            next_poll: 0,
        })
    }

    /// Places the bid at `price`: refused over the maximum price or the budget.
    pub async fn bid(&mut self, device: &Device, price: Amount) -> Result<OrderId, RelayError> {
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
            expires_at: Timestamp(now().0 + self.config.bid_lifetime_ms),
        };
        let ticket = device.queue(TxKind::OrderPlace { terms }).await?;
        let order = OrderId::derive(&self.genesis, &self.me, ticket.nonce);
        ticket.wait().await.map_err(SubmitError::from)?;
        self.bid = Some(order);
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

    /// Looks for the lease, then sends what the window allows.
    pub async fn tick(&mut self, device: &Device) -> Result<Vec<SensorEvent>, RelayError> {
        let mut events = Vec::new();
        if self.lease.is_none() && self.bid.is_some() && now().0 >= self.next_poll {
            self.next_poll = now().0 + self.config.poll_ms;
            events.extend(self.find_lease(device).await?);
        }
        self.send_window(device).await?;
        Ok(events)
    }

    /// The first open lease listed for this buyer in its class, proved.
    async fn find_lease(&mut self, device: &Device) -> Result<Option<SensorEvent>, RelayError> {
        for id in device.http().lease_ids(Some(&self.me), None).await? {
            let Some(lease) = device.http().lease(&id).await? else {
                continue;
            };
            let fits = lease.buyer == self.me
                && lease.class == self.config.class
                && lease.price <= self.config.max_price;
            if fits {
                let provider = lease.provider;
                self.signed = lease.delivered;
                self.receipted = lease.delivered;
                self.next_seq = lease.delivered;
                self.lease = Some((id, lease));
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
            && now().0 < lease.ends_at.0
        {
            let Some(payload) = self.queued.pop_front() else {
                break;
            };
            let seq = self.next_seq;
            let msg = Wire::Relay {
                lease: id,
                seq,
                payload,
            };
            device.send(lease.provider, msg.encode(), false).await?;
            self.outstanding.insert(seq);
            self.next_seq += 1;
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
        if !self.outstanding.remove(&seq) {
            return Ok(vec![SensorEvent::Ignored { why: "not_sent" }]);
        }
        self.receipted += 1;
        let mut events = vec![SensorEvent::Receipt { seq }];
        let idle = self.queued.is_empty() && self.outstanding.is_empty();
        if self.receipted - self.signed >= self.config.batch || idle {
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
        device.send(lease.provider, msg.encode(), false).await?;
        self.signed = count;
        Ok(Some(SensorEvent::Signed { count }))
    }
}
