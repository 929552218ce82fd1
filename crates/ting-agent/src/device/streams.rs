//! What a device needs to sell or buy a data stream: following a stream's
//! topic, publishing its own stream's chunks, sending the key exchange's
//! envelopes, paying into a channel without a `PAYMENT` envelope (the
//! payment rides in a key request), accepting such a payment as a payee,
//! and opening a key sealed to it. `crate::stream` builds the seller and
//! the buyer on these.
//!
//! Chunks go out through the link as they come, QoS 1, once: the seller's
//! stream log keeps them (`crate::stream::log`), so they are not put in the
//! outbox a second time. While the broker is away they wait in memory, at
//! most [`STREAM_CHUNKS_QUEUED_MAX`]; past that the oldest is dropped and
//! counted.

use std::collections::{BTreeSet, VecDeque};

use ting_core::channel::payee::PaymentError;
use ting_core::channel::payer::PayerMode;
use ting_core::envelope::EnvelopeType;
use ting_core::stream::epoch::{EpochError, EpochKey};
use ting_core::stream::keyx::{DeliveryNote, KeyGrant, KeyRefusal, KeyRequest};
use ting_core::stream::{StreamId, StreamTerms};
use ting_core::{topics, AccountId, Amount, ChannelId, MessagingKey, Payment, TxKind};

use super::error::{ChannelError, InboxError, QueueError, SendError, SubmitError};
use super::{Device, Inner};
use crate::error::DurableAcceptError;
use crate::payer::DurablePayer;

/// Chunks waiting for the broker, per device.
pub const STREAM_CHUNKS_QUEUED_MAX: usize = 4096;
/// Streams one device follows at once: with its inbox and the nodes' topics
/// this stays within the subscriptions a Ting broker grants one client (80).
pub const STREAMS_FOLLOWED_MAX: usize = 64;

/// The link's stream work: topics followed, new ones to subscribe to, and
/// chunks to publish.
#[derive(Debug, Default)]
pub(crate) struct StreamLink {
    followed: BTreeSet<String>,
    fresh: Vec<String>,
    outgoing: VecDeque<(String, Vec<u8>)>,
    dropped: u64,
    /// SUBSCRIBEs of this session the broker has not yet acknowledged.
    unacknowledged: u32,
    /// Whether a session is up.
    connected: bool,
    /// SUBSCRIBEs the broker refused (a stream topic it does not grant).
    refused: u64,
}

impl StreamLink {
    /// Every followed topic, for a new session's SUBSCRIBE; none is fresh after.
    pub(crate) fn resubscribe(&mut self) -> Vec<String> {
        self.fresh.clear();
        self.connected = true;
        // The session's one SUBSCRIBE (inbox, nodes and these); what an
        // earlier session had refused is asked again.
        self.unacknowledged = 1;
        self.refused = 0;
        self.followed.iter().cloned().collect()
    }

    /// A SUBSCRIBE was handed to the client.
    pub(crate) fn subscribing(&mut self) {
        self.unacknowledged = self.unacknowledged.saturating_add(1);
    }

    /// The broker answered a SUBSCRIBE, refusing some of it if `refused`.
    pub(crate) fn subscribed(&mut self, refused: bool) {
        self.unacknowledged = self.unacknowledged.saturating_sub(1);
        if refused {
            self.refused = self.refused.saturating_add(1);
        }
    }

    /// The session ended: whatever it subscribed is to be asked again.
    pub(crate) fn disconnected(&mut self) {
        self.connected = false;
    }

    pub(crate) fn take_fresh(&mut self) -> Vec<String> {
        std::mem::take(&mut self.fresh)
    }

    pub(crate) fn refresh(&mut self, topic: String) {
        self.fresh.push(topic);
    }

    pub(crate) fn follows(&self, topic: &str) -> bool {
        self.followed.contains(topic)
    }

    /// Whether a call topic falls under a followed call filter.
    pub(crate) fn follows_call(&self, topic: &str) -> bool {
        self.followed
            .range(topics::CALLS_PREFIX.to_owned()..)
            .take_while(|f| f.starts_with(topics::CALLS_PREFIX))
            .any(|f| topics::filter_matches(f, topic))
    }

    pub(crate) fn followed_count(&self) -> usize {
        self.followed.len()
    }

    /// Follows `topic` (a topic or a filter) from now on.
    pub(crate) fn follow(&mut self, topic: String) {
        self.followed.insert(topic.clone());
        self.fresh.push(topic);
    }

    /// Queues a publish; past `max` waiting, the oldest is dropped and counted.
    pub(crate) fn push_outgoing(&mut self, topic: String, bytes: Vec<u8>, max: usize) {
        if self.outgoing.len() >= max {
            self.outgoing.pop_front();
            self.dropped = self.dropped.saturating_add(1);
        }
        self.outgoing.push_back((topic, bytes));
    }

    pub(crate) fn next_chunk(&mut self) -> Option<(String, Vec<u8>)> {
        self.outgoing.pop_front()
    }

    pub(crate) fn requeue_chunk(&mut self, topic: String, bytes: Vec<u8>) {
        self.outgoing.push_front((topic, bytes));
    }
}

impl Inner {
    pub(crate) fn streams(&self) -> std::sync::MutexGuard<'_, StreamLink> {
        self.streams
            .lock()
            .expect("the stream link lock is never poisoned")
    }
}

impl Device {
    /// Subscribes to the chunks of `seller`'s `stream` (now, and on every
    /// reconnect); they arrive as `Message::Chunk`. False if this device
    /// already follows [`STREAMS_FOLLOWED_MAX`] streams.
    pub fn follow_stream(&self, seller: &AccountId, stream: &StreamId) -> bool {
        let topic = topics::stream_chunks(seller, stream);
        {
            let mut streams = self.inner.streams();
            if streams.followed.contains(&topic) {
                return true;
            }
            if streams.followed.len() >= STREAMS_FOLLOWED_MAX {
                return false;
            }
            streams.follow(topic);
        }
        self.inner.wake.notify_one();
        true
    }

    /// Stops following a stream from the next session on.
    pub fn unfollow_stream(&self, seller: &AccountId, stream: &StreamId) {
        let topic = topics::stream_chunks(seller, stream);
        self.inner.streams().followed.remove(&topic);
    }

    /// Publishes a chunk of this device's own `stream`.
    pub fn publish_chunk(&self, stream: &StreamId, bytes: Vec<u8>) {
        let topic = topics::stream_chunks(&self.inner.me, stream);
        self.inner
            .streams()
            .push_outgoing(topic, bytes, STREAM_CHUNKS_QUEUED_MAX);
        self.inner.wake.notify_one();
    }

    /// Whether every stream followed so far is subscribed on the broker: a
    /// session is up and has its SUBACKs. Chunks published after that reach
    /// this device.
    pub fn streams_settled(&self) -> bool {
        let s = self.inner.streams();
        s.connected && s.fresh.is_empty() && s.unacknowledged == 0 && s.refused == 0
    }

    /// SUBSCRIBEs the broker refused: a followed stream whose chunks will
    /// not arrive (the broker's subscription limit, or its ACL).
    pub fn stream_subscriptions_refused(&self) -> u64 {
        self.inner.streams().refused
    }

    /// Chunks dropped because the broker was away too long.
    pub fn chunks_dropped(&self) -> u64 {
        self.inner.streams().dropped
    }

    pub async fn send_key_request(&self, to: AccountId, r: &KeyRequest) -> Result<(), SendError> {
        let payload = r.encode();
        self.inner
            .send_envelope(to, EnvelopeType::KEY_REQUEST, payload, false)
            .await
    }

    pub async fn send_key_grant(&self, to: AccountId, g: &KeyGrant) -> Result<(), SendError> {
        let payload = g.encode();
        self.inner
            .send_envelope(to, EnvelopeType::KEY_GRANT, payload, false)
            .await
    }

    pub async fn send_key_refusal(&self, to: AccountId, r: &KeyRefusal) -> Result<(), SendError> {
        let payload = r.encode();
        self.inner
            .send_envelope(to, EnvelopeType::KEY_REFUSAL, payload, false)
            .await
    }

    pub async fn send_delivery(&self, to: AccountId, n: &DeliveryNote) -> Result<(), SendError> {
        let payload = n.encode();
        self.inner
            .send_envelope(to, EnvelopeType::DELIVERY, payload, false)
            .await
    }

    /// Pays at least `amount` more into `channel` (this device its payer),
    /// durably, and returns the payment without sending it. A hash-chain
    /// channel pays whole ticks, so it rounds up to the next tick.
    pub async fn pay_into(
        &self,
        channel: &ChannelId,
        amount: Amount,
    ) -> Result<Payment, ChannelError> {
        let mut payers = self.inner.payers.lock().await;
        if !payers.contains_key(channel) {
            let payer = DurablePayer::open(&self.inner.state_dir, channel)?;
            payers.insert(*channel, payer);
        }
        let payer = payers.get_mut(channel).expect("inserted above");
        let payment = match payer.payer().state().mode {
            PayerMode::HashChain { price, .. } => {
                let units = amount.base_units().div_ceil(price.base_units().max(1));
                payer.pay(units, self.inner.clock.now())?
            }
            PayerMode::Voucher { .. } => {
                payer.pay_amount(amount, self.inner.clock.now(), &self.inner.key)?
            }
        };
        Ok(payment)
    }

    /// What this device has paid into `channel` in all, as its payer file says.
    pub async fn paid_into(&self, channel: &ChannelId) -> Result<Amount, ChannelError> {
        let mut payers = self.inner.payers.lock().await;
        if !payers.contains_key(channel) {
            let payer = DurablePayer::open(&self.inner.state_dir, channel)?;
            payers.insert(*channel, payer);
        }
        Ok(payers.get(channel).expect("inserted above").payer().paid())
    }

    /// The last payment this device made into `channel`, to show again.
    pub async fn last_payment(&self, channel: &ChannelId) -> Option<Payment> {
        let payers = self.inner.payers.lock().await;
        payers.get(channel).and_then(DurablePayer::last_payment)
    }

    /// Accepts `payment` from `from` into this device's payee file (durable
    /// before it returns) and answers the channel and all it has paid. A
    /// payment no better than one already accepted changes nothing and
    /// answers the same.
    pub fn accept_stream_payment(
        &self,
        from: &AccountId,
        payment: &Payment,
    ) -> Result<(ChannelId, Amount), InboxError> {
        let mut inbox = self.inner.inbox();
        let payee = inbox.payee(&payment.channel)?;
        if payee.payee().terms().payer != *from {
            return Err(InboxError::NotPayer);
        }
        match payee.accept_payment(payment, self.inner.clock.now()) {
            Ok(accepted) => Ok((payment.channel, accepted.total)),
            Err(DurableAcceptError::Refused(PaymentError::Replayed)) => {
                Ok((payment.channel, payee.payee().paid()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// What `channel` (this device its payee) has paid in all; its payer
    /// must be `from`.
    pub fn paid_by(&self, from: &AccountId, channel: &ChannelId) -> Result<Amount, InboxError> {
        let mut inbox = self.inner.inbox();
        let payee = inbox.payee(channel)?;
        if payee.payee().terms().payer != *from {
            return Err(InboxError::NotPayer);
        }
        Ok(payee.payee().paid())
    }

    /// Registers a stream this device sells (`stream_open`, which puts down
    /// the deposit) and waits until the ledger holds it; answers its id.
    pub async fn open_stream(&self, terms: StreamTerms) -> Result<StreamId, SubmitError> {
        let inner = &self.inner;
        let mut id = None;
        let ticket = inner
            .queue_with(|nonce| {
                id = Some(StreamId::derive(&inner.genesis_hash, &inner.me, nonce));
                Ok::<_, QueueError>(TxKind::StreamOpen { terms })
            })
            .await?;
        ticket.wait().await?;
        Ok(id.expect("set when the open was queued"))
    }

    /// Where this device keeps what it sells or buys on `stream`.
    pub fn stream_dir(&self, stream: &StreamId) -> std::path::PathBuf {
        self.inner.state_dir.join("streams").join(stream.to_hex())
    }

    /// `who`'s messaging key, read from the ledger with a proof.
    pub async fn messaging_key_of(&self, who: &AccountId) -> Result<MessagingKey, SendError> {
        self.inner.keys.get(&self.inner.http, who).await
    }

    /// The network's genesis hash.
    pub fn genesis_hash(&self) -> ting_core::Hash32 {
        self.inner.genesis_hash
    }

    /// Opens an epoch key a seller sealed to this device.
    pub fn open_epoch_key(&self, grant: &KeyGrant) -> Result<EpochKey, EpochError> {
        let inbox = self.inner.inbox();
        EpochKey::open_from(
            inbox.messaging().secret(),
            &grant.stream,
            grant.epoch,
            &grant.sealed_key,
        )
    }
}
