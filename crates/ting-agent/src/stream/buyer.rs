//! The buyer's side of a stream: chunks checked as they arrive (the
//! seller's signature once per chunk, a hash per point), keys bought an
//! epoch at a time within a hard budget, points opened and kept, and
//! nothing more paid once the buyer stops.
//!
//! What is kept, in the stream's directory (`Device::stream_dir`), in
//! `bought.log`: each key bought (`K`: epoch, price, the key), synced
//! before the key is used, each point opened (`D`: number and point
//! bytes), synced once per chunk or key, and each epoch asked for (`A`:
//! epoch), synced before anything is paid for it. A restarted buyer keeps
//! every point and key it paid for, and its credit with the seller (what
//! its channel paid less the keys bought) is known from its payer file and
//! this log, so it never pays twice for one epoch: it shows its last
//! payment again instead.
//!
//! A key request can go unanswered: the seller's process was killed after
//! its MQTT client took the request, or the buyer's after the key arrived
//! and before it was logged. So [`Buyer::open`] asks again for every epoch
//! asked for and never granted, and [`Buyer::tick`] (also called by
//! [`Buyer::on_chunk`]) sends again, with the last payment, a request left
//! unanswered for [`REQUEST_RESEND_AFTER`]. A key the seller sold comes back
//! for free, so the keys the seller counts as sold and those the buyer
//! holds stay the same; otherwise its credit and the seller's would part.
//!
//! What the buyer trusts: the stream's terms and seller come from a state
//! proof; a chunk counts only if the seller signed it and it continues the
//! points already checked (a buyer joining mid-stream starts at the first
//! chunk it sees; a later gap is counted and the buyer starts again there);
//! a key counts only if it opens the epoch's points.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ting_core::consent::attestation::SignedAttestation;
use ting_core::encoding::{Reader, Writer};
use ting_core::stream::chunk::{Chunk, ChunkError, Position};
use ting_core::stream::epoch::EpochKey;
use ting_core::stream::keyx::{DeliveryNote, KeyGrant, KeyRefusal, KeyRequest};
use ting_core::stream::point::Point;
use ting_core::stream::{DeliveryAck, StreamId, StreamTerms};
use ting_core::{AccountId, Amount, ChannelId, Hash32, Keypair};

use super::log::AppendLog;
use super::BuyerError;
use crate::device::Device;

mod seq_set;
use seq_set::SeqSet;

const BOUGHT_MAGIC: &[u8; 8] = b"TGBUY001";
const REC_KEY: u8 = b'K';
const REC_POINT: u8 = b'D';
const REC_ASK: u8 = b'A';
/// Sealed points kept while their epoch's key is awaited; past this the
/// oldest epoch's are dropped.
pub const WAITING_POINTS_MAX: usize = 65_536;

/// Times one epoch is asked for again after the seller found it short of payment.
pub const REQUEST_RETRIES_MAX: u32 = 3;

/// Keys between two delivery notes (see [`Buyer::on_grant`]).
pub const DELIVERY_NOTE_EVERY: usize = 16;

/// How long a key request waits for an answer before it is sent again.
pub const REQUEST_RESEND_AFTER: Duration = Duration::from_secs(3);

/// `n` keys' worth at `price`.
fn ticks_value(price: Amount, n: usize) -> Result<Amount, BuyerError> {
    price
        .base_units()
        .checked_mul(n as u64)
        .map(Amount::new)
        .ok_or(BuyerError::Overflow)
}

/// What a buyer buys, through which channel, and the most it may spend.
#[derive(Clone, Debug)]
pub struct BuyerSetup {
    pub stream: StreamId,
    /// A channel from this device to the stream's seller.
    pub channel: ChannelId,
    /// The most this buyer spends on the stream, over all its runs.
    pub budget: Amount,
    /// A certifier's attestation, when the seller's consent admits buyers by category.
    pub attestation: Option<SignedAttestation>,
}

/// One point bought: its number in the stream, its epoch and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bought {
    pub seq: u64,
    pub epoch: u64,
    pub point: Point,
}

/// Counters of what the buyer saw and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BuyerStats {
    pub chunks: u64,
    pub repeats: u64,
    pub gaps: u64,
    pub refused_chunks: BTreeMap<&'static str, u64>,
    pub points: u64,
    pub epochs_bought: u64,
    pub refusals: BTreeMap<String, u64>,
    pub budget_stops: u64,
    pub bad_keys: u64,
}

/// One stream's buyer.
#[derive(Debug)]
pub struct Buyer {
    stream: StreamId,
    seller: AccountId,
    terms: StreamTerms,
    genesis: Hash32,
    key: Keypair,
    channel: ChannelId,
    budget: Amount,
    attestation: Option<SignedAttestation>,
    spent: Amount,
    position: Option<Position>,
    keys: BTreeMap<u64, EpochKey>,
    waiting: BTreeMap<u64, Vec<(u64, Vec<u8>)>>,
    waiting_len: usize,
    /// Epochs asked for and not yet answered, with when the request was
    /// last sent; each counts its price against the credit, so two requests
    /// in flight never count one payment twice.
    asked: BTreeMap<u64, Instant>,
    /// Epochs with an `A` record in the log.
    requested: BTreeSet<u64>,
    /// Point numbers already opened (and logged), as ranges.
    opened: SeqSet,
    /// Epochs the seller refused for good (not for want of payment).
    given_up: BTreeSet<u64>,
    /// Requests sent again for an epoch after a short payment.
    retries: BTreeMap<u64, u32>,
    stopped: bool,
    log: AppendLog,
    stats: BuyerStats,
}

impl Buyer {
    /// Opens the buyer: reads the stream from the ledger (proved), follows
    /// its topic and replays what it bought before. Answers the points
    /// bought in earlier runs too.
    pub async fn open(
        device: &Device,
        setup: BuyerSetup,
    ) -> Result<(Buyer, Vec<Bought>), BuyerError> {
        let stream = device
            .http()
            .stream(&setup.stream)
            .await
            .map_err(|e| BuyerError::Lookup(e.to_string()))?
            .ok_or(BuyerError::NotOpen)?;
        let dir = device.stream_dir(&setup.stream);
        std::fs::create_dir_all(&dir).map_err(|source| BuyerError::Io {
            op: "create the stream directory",
            source,
        })?;
        let (log, records) = AppendLog::open(&dir.join("bought.log"), BOUGHT_MAGIC)?;
        let mut buyer = Buyer {
            stream: setup.stream,
            seller: stream.seller,
            terms: stream.terms,
            genesis: device.genesis_hash(),
            key: Keypair::from_seed(device.key().seed()),
            channel: setup.channel,
            budget: setup.budget,
            attestation: setup.attestation,
            spent: Amount::ZERO,
            position: None,
            keys: BTreeMap::new(),
            waiting: BTreeMap::new(),
            waiting_len: 0,
            asked: BTreeMap::new(),
            requested: BTreeSet::new(),
            given_up: BTreeSet::new(),
            opened: SeqSet::default(),
            retries: BTreeMap::new(),
            stopped: false,
            log,
            stats: BuyerStats::default(),
        };
        let earlier = buyer.replay(&records)?;
        if !device.follow_stream(&buyer.seller, &buyer.stream) {
            return Err(BuyerError::TooManyStreams);
        }
        let unanswered: Vec<u64> = buyer
            .requested
            .iter()
            .filter(|e| !buyer.keys.contains_key(e))
            .copied()
            .collect();
        for epoch in unanswered {
            buyer.ask(device, epoch).await?;
        }
        Ok((buyer, earlier))
    }

    fn replay(&mut self, records: &[Vec<u8>]) -> Result<Vec<Bought>, BuyerError> {
        let mut out = Vec::new();
        for body in records {
            let mut r = Reader::new(body);
            let damaged = BuyerError::Damaged;
            match r.u8("record").map_err(damaged)? {
                REC_KEY => {
                    let epoch = r.u64("epoch").map_err(damaged)?;
                    let price = r.amount("price").map_err(damaged)?;
                    let key = r.hash("key").map_err(damaged)?;
                    if self.keys.insert(epoch, EpochKey(key.0)).is_none() {
                        self.spent = self.spent.checked_add(price).ok_or(BuyerError::Overflow)?;
                    }
                }
                REC_POINT => {
                    let seq = r.u64("seq").map_err(damaged)?;
                    let epoch = r.u64("epoch").map_err(damaged)?;
                    let bytes = r.take(r.remaining(), "point").map_err(damaged)?;
                    let point = Point::decode(bytes).map_err(damaged)?;
                    if self.opened.insert(seq) {
                        out.push(Bought { seq, epoch, point });
                    }
                }
                REC_ASK => {
                    self.requested.insert(r.u64("epoch").map_err(damaged)?);
                }
                _ => {
                    return Err(BuyerError::Damaged(ting_core::DecodeError::InvalidValue {
                        what: "record kind",
                    }))
                }
            }
        }
        Ok(out)
    }

    pub fn seller(&self) -> AccountId {
        self.seller
    }

    pub fn terms(&self) -> &StreamTerms {
        &self.terms
    }

    /// What this buyer has spent on keys, over all its runs.
    pub fn spent(&self) -> Amount {
        self.spent
    }

    pub fn stats(&self) -> &BuyerStats {
        &self.stats
    }

    /// Where the buyer stands in the stream: the next point it expects and
    /// the link before it (`None` before its first chunk).
    pub fn position(&self) -> Option<Position> {
        self.position
    }

    /// Epochs whose key this buyer holds.
    pub fn epochs(&self) -> impl Iterator<Item = u64> + '_ {
        self.keys.keys().copied()
    }

    /// Stops paying: no key is asked for from now on, so nothing after the
    /// last paid epoch opens (a request already paid for may still be sent
    /// again, see [`Buyer::tick`]); the stream is no longer followed.
    pub fn stop(&mut self, device: &Device) {
        self.stopped = true;
        device.unfollow_stream(&self.seller, &self.stream);
    }

    /// Checks a chunk from the stream's topic, opens what its keys open,
    /// and asks for the key of an epoch it has none for (within the budget).
    /// Answers the points opened.
    pub async fn on_chunk(
        &mut self,
        device: &Device,
        bytes: &[u8],
    ) -> Result<Vec<Bought>, BuyerError> {
        self.tick(device).await?;
        let chunk = match Chunk::decode(bytes) {
            Ok(c) if c.stream == self.stream => c,
            Ok(_) => return Ok(Vec::new()),
            Err(e) => {
                self.refuse_chunk(&e);
                return Ok(Vec::new());
            }
        };
        let at = self.position.unwrap_or(Position {
            link: chunk.prev_link,
            next_seq: chunk.first_seq,
        });
        if chunk.first_seq < at.next_seq {
            self.stats.repeats = self.stats.repeats.saturating_add(1);
            return Ok(Vec::new());
        }
        let anchor = if chunk.first_seq > at.next_seq {
            // Points went missing (the broker dropped them, or the buyer was
            // away): start again at this chunk; its signature still counts.
            self.stats.gaps = self.stats.gaps.saturating_add(1);
            Position {
                link: chunk.prev_link,
                next_seq: chunk.first_seq,
            }
        } else {
            at
        };
        let next = match chunk.verify(&self.genesis, &self.seller, &anchor) {
            Ok(next) => next,
            Err(e) => {
                self.refuse_chunk(&e);
                return Ok(Vec::new());
            }
        };
        self.position = Some(next);
        self.stats.chunks = self.stats.chunks.saturating_add(1);
        let epoch = chunk.epoch;
        let sealed: Vec<(u64, Vec<u8>)> = chunk
            .points
            .into_iter()
            .enumerate()
            .map(|(i, p)| (chunk.first_seq.saturating_add(i as u64), p))
            .collect();
        if self.keys.contains_key(&epoch) {
            return self.open_points(epoch, sealed);
        }
        self.hold(epoch, sealed);
        self.ask(device, epoch).await?;
        Ok(Vec::new())
    }

    fn refuse_chunk(&mut self, e: &ChunkError) {
        *self.stats.refused_chunks.entry(e.code()).or_default() += 1;
    }

    fn hold(&mut self, epoch: u64, sealed: Vec<(u64, Vec<u8>)>) {
        self.waiting_len = self.waiting_len.saturating_add(sealed.len());
        self.waiting.entry(epoch).or_default().extend(sealed);
        while self.waiting_len > WAITING_POINTS_MAX {
            let Some((_, dropped)) = self.waiting.pop_first() else {
                break;
            };
            self.waiting_len = self.waiting_len.saturating_sub(dropped.len());
        }
    }

    /// Asks the seller for `epoch`'s key, paying what the credit lacks, if
    /// the buyer has not stopped and the budget allows.
    async fn ask(&mut self, device: &Device, epoch: u64) -> Result<(), BuyerError> {
        let known = self.keys.contains_key(&epoch) || self.given_up.contains(&epoch);
        if self.stopped || known || self.asked.contains_key(&epoch) {
            return Ok(());
        }
        let price = self.terms.price_per_epoch;
        let in_flight = ticks_value(price, self.asked.len())?;
        let committed = self
            .spent
            .checked_add(in_flight)
            .ok_or(BuyerError::Overflow)?;
        let after = committed.checked_add(price).ok_or(BuyerError::Overflow)?;
        if after > self.budget {
            self.stats.budget_stops = self.stats.budget_stops.saturating_add(1);
            return Ok(());
        }
        let paid = device.paid_into(&self.channel).await?;
        let credit = paid.checked_sub(committed).unwrap_or(Amount::ZERO);
        if credit < price && !self.asked.is_empty() {
            // One request that pays at a time: a seller that takes a payment
            // and never answers holds at most one epoch's price. This epoch
            // is asked for once the one in flight is answered.
            return Ok(());
        }
        if !self.requested.contains(&epoch) {
            let mut w = Writer::with_capacity(9);
            w.u8(REC_ASK).u64(epoch);
            self.log.append_synced(w.as_slice())?;
            self.requested.insert(epoch);
        }
        let payment = if credit >= price {
            device.last_payment(&self.channel).await
        } else {
            let short = price.checked_sub(credit).unwrap_or(price);
            Some(device.pay_into(&self.channel, short).await?)
        };
        self.send_request(device, epoch, payment).await
    }

    async fn send_request(
        &mut self,
        device: &Device,
        epoch: u64,
        payment: Option<ting_core::Payment>,
    ) -> Result<(), BuyerError> {
        let epochs = self.keys.len() as u64;
        let ack = DeliveryAck::sign(&self.key, &self.genesis, &self.stream, epochs, self.spent);
        let request = KeyRequest {
            stream: self.stream,
            epoch,
            payment,
            ack: Some(ack),
            attestation: self.attestation.clone(),
        };
        device.send_key_request(self.seller, &request).await?;
        self.asked.insert(epoch, Instant::now());
        Ok(())
    }

    /// Sends again, with the channel's last payment (nothing is paid
    /// again), every key request unanswered for [`REQUEST_RESEND_AFTER`].
    /// [`Buyer::on_chunk`] calls it; call it every second or so while no
    /// chunk comes. Answers how many were sent.
    pub async fn tick(&mut self, device: &Device) -> Result<usize, BuyerError> {
        let due: Vec<u64> = self
            .asked
            .iter()
            .filter(|(_, at)| at.elapsed() >= REQUEST_RESEND_AFTER)
            .map(|(e, _)| *e)
            .collect();
        for &epoch in &due {
            let payment = device.last_payment(&self.channel).await;
            self.send_request(device, epoch, payment).await?;
        }
        Ok(due.len())
    }

    /// Takes a key the seller sent: it must open the epoch's points held
    /// (if any). Answers the points it opened.
    pub async fn on_grant(
        &mut self,
        device: &Device,
        from: AccountId,
        grant: &KeyGrant,
    ) -> Result<Vec<Bought>, BuyerError> {
        let had = self.keys.len();
        let opened = self.take_grant(device, from, grant)?;
        // Every key request carries the running totals already; a note of
        // its own goes every few keys, so that a buyer's envelopes stay
        // within what one sender may send a device in the replay window.
        if self.keys.len() > had && self.keys.len().is_multiple_of(DELIVERY_NOTE_EVERY) {
            let epochs = self.keys.len() as u64;
            let ack = DeliveryAck::sign(&self.key, &self.genesis, &self.stream, epochs, self.spent);
            let note = DeliveryNote {
                stream: self.stream,
                ack,
            };
            device.send_delivery(self.seller, &note).await?;
        }
        self.ask_waiting(device).await?;
        Ok(opened)
    }

    fn take_grant(
        &mut self,
        device: &Device,
        from: AccountId,
        grant: &KeyGrant,
    ) -> Result<Vec<Bought>, BuyerError> {
        if from != self.seller || grant.stream != self.stream {
            return Ok(Vec::new());
        }
        self.asked.remove(&grant.epoch);
        if self.keys.contains_key(&grant.epoch) {
            return Ok(Vec::new());
        }
        let Ok(key) = device.open_epoch_key(grant) else {
            self.stats.bad_keys = self.stats.bad_keys.saturating_add(1);
            return Ok(Vec::new());
        };
        let held = self.waiting.get(&grant.epoch);
        let opens = held
            .and_then(|h| h.first())
            .is_none_or(|(seq, sealed)| key.open(&self.stream, grant.epoch, *seq, sealed).is_ok());
        if !opens {
            self.stats.bad_keys = self.stats.bad_keys.saturating_add(1);
            return Ok(Vec::new());
        }
        let price = self.terms.price_per_epoch;
        let mut w = Writer::with_capacity(49);
        w.u8(REC_KEY).u64(grant.epoch).amount(price).bytes(&key.0);
        self.log.append_synced(w.as_slice())?;
        self.spent = self.spent.checked_add(price).ok_or(BuyerError::Overflow)?;
        self.stats.epochs_bought = self.stats.epochs_bought.saturating_add(1);
        self.keys.insert(grant.epoch, key);
        let held = self.waiting.remove(&grant.epoch).unwrap_or_default();
        self.waiting_len = self.waiting_len.saturating_sub(held.len());
        self.open_points(grant.epoch, held)
    }

    /// Takes a refusal. Short of payment (another request took the credit
    /// this one counted on), it pays the rest and asks again, a few times at
    /// most; refused for another reason, it does not ask for that epoch again.
    pub async fn on_refusal(
        &mut self,
        device: &Device,
        from: AccountId,
        refusal: &KeyRefusal,
    ) -> Result<(), BuyerError> {
        if from != self.seller || refusal.stream != self.stream {
            return Ok(());
        }
        let epoch = refusal.epoch;
        self.asked.remove(&epoch);
        *self.stats.refusals.entry(refusal.code.clone()).or_default() += 1;
        let retries = self.retries.entry(epoch).or_default();
        *retries = retries.saturating_add(1);
        if refusal.code != "insufficient_payment" || *retries > REQUEST_RETRIES_MAX {
            self.given_up.insert(epoch);
            return Ok(());
        }
        if self.waiting.contains_key(&epoch) {
            self.ask(device, epoch).await?;
        }
        Ok(())
    }

    /// Asks for every epoch whose points are held, or that was asked for
    /// before and never granted, and that is not asked for now.
    async fn ask_waiting(&mut self, device: &Device) -> Result<(), BuyerError> {
        let unanswered = self.requested.iter().filter(|e| !self.keys.contains_key(e));
        let epochs: BTreeSet<u64> = self.waiting.keys().chain(unanswered).copied().collect();
        for epoch in epochs {
            self.ask(device, epoch).await?;
        }
        Ok(())
    }

    fn open_points(
        &mut self,
        epoch: u64,
        sealed: Vec<(u64, Vec<u8>)>,
    ) -> Result<Vec<Bought>, BuyerError> {
        let key = self.keys.get(&epoch).expect("the caller holds the key");
        let mut out = Vec::with_capacity(sealed.len());
        for (seq, bytes) in sealed {
            // A chunk seen again (a restarted seller republishes its last
            // ones) opens nothing twice.
            if self.opened.contains(seq) {
                continue;
            }
            let Ok(plain) = key.open(&self.stream, epoch, seq, &bytes) else {
                *self.stats.refused_chunks.entry("bad_point").or_default() += 1;
                continue;
            };
            let Ok(point) = Point::decode(&plain) else {
                *self.stats.refused_chunks.entry("bad_point").or_default() += 1;
                continue;
            };
            let mut w = Writer::with_capacity(plain.len().saturating_add(17));
            w.u8(REC_POINT).u64(seq).u64(epoch).bytes(&plain);
            self.log.append(w.as_slice())?;
            self.opened.insert(seq);
            out.push(Bought { seq, epoch, point });
        }
        self.log.sync()?;
        self.stats.points = self.stats.points.saturating_add(out.len() as u64);
        Ok(out)
    }
}
