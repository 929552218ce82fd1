//! What a device needs to buy or sell a service: following calls for
//! proposals by category, publishing its own calls, sending the
//! negotiation's envelopes (docs/market.md §4), and creating a hold whose
//! id is known, and recorded by the caller, before the transaction is
//! queued. `crate::market` builds the provider and the buyer on these.
//!
//! Calls go out like stream chunks: through the link, QoS 1, once, while a
//! session is up (at most `STREAM_CHUNKS_QUEUED_MAX` wait for the broker).
//! The buyer keeps its call in its contract file and publishes it again
//! after a restart while proposals are still taken. Followed call filters
//! count with followed streams against `STREAMS_FOLLOWED_MAX`.

use ting_core::envelope::EnvelopeType;
use ting_core::market::cfp::{Accept, Counter, Decline, EvidenceNote, Proposal, SignedCall};
use ting_core::market::{is_category, HoldId, HoldTerms};
use ting_core::{topics, AccountId, TxKind};

use super::error::{QueueError, SendError};
use super::streams::{STREAMS_FOLLOWED_MAX, STREAM_CHUNKS_QUEUED_MAX};
use super::{Device, Ticket};

impl Device {
    /// The device's state directory (its contracts live under `market/`).
    pub fn state_dir(&self) -> &std::path::Path {
        &self.inner.state_dir
    }

    /// Subscribes to every buyer's calls in `category` and the categories
    /// under it (now, and on every reconnect); they arrive as
    /// `Message::Call`, not yet checked. False if `category` is not a
    /// category or this device already follows [`STREAMS_FOLLOWED_MAX`]
    /// streams and call filters.
    pub fn follow_calls(&self, category: &str) -> bool {
        if !is_category(category) {
            return false;
        }
        let filter = topics::calls_filter(category);
        {
            let mut link = self.inner.streams();
            if link.follows(&filter) {
                return true;
            }
            if link.followed_count() >= STREAMS_FOLLOWED_MAX {
                return false;
            }
            link.follow(filter);
        }
        self.inner.wake.notify_one();
        true
    }

    /// Publishes this device's signed call on its call topic. The call must
    /// be this device's own (the broker refuses any other topic).
    pub fn publish_call(&self, call: &SignedCall) {
        let topic = topics::calls(&self.inner.me, &call.call.category);
        self.inner
            .streams()
            .push_outgoing(topic, call.to_bytes(), STREAM_CHUNKS_QUEUED_MAX);
        self.inner.wake.notify_one();
    }

    pub async fn send_proposal(&self, to: AccountId, p: &Proposal) -> Result<(), SendError> {
        self.market_envelope(to, EnvelopeType::PROPOSAL, p.encode())
            .await
    }

    pub async fn send_counter(&self, to: AccountId, c: &Counter) -> Result<(), SendError> {
        self.market_envelope(to, EnvelopeType::COUNTER, c.encode())
            .await
    }

    pub async fn send_accept(&self, to: AccountId, a: &Accept) -> Result<(), SendError> {
        self.market_envelope(to, EnvelopeType::ACCEPT, a.encode())
            .await
    }

    pub async fn send_decline(&self, to: AccountId, d: &Decline) -> Result<(), SendError> {
        self.market_envelope(to, EnvelopeType::DECLINE, d.encode())
            .await
    }

    pub async fn send_evidence(&self, to: AccountId, n: &EvidenceNote) -> Result<(), SendError> {
        self.market_envelope(to, EnvelopeType::EVIDENCE, n.encode())
            .await
    }

    async fn market_envelope(
        &self,
        to: AccountId,
        kind: EnvelopeType,
        payload: Vec<u8>,
    ) -> Result<(), SendError> {
        self.inner.send_envelope(to, kind, payload, false).await
    }

    /// Queues a `hold_create`. `record` is told the hold's id before the
    /// transaction enters the outbox, so a contract file can name the hold
    /// before it can exist; an error from `record` queues nothing.
    pub async fn create_hold<E: From<QueueError>>(
        &self,
        terms: HoldTerms,
        record: impl FnOnce(HoldId) -> Result<(), E>,
    ) -> Result<(HoldId, Ticket), E> {
        let inner = &self.inner;
        let mut id = None;
        let ticket = inner
            .queue_with(|nonce| {
                let hold = HoldId::derive(&inner.genesis_hash, &inner.me, nonce);
                record(hold)?;
                id = Some(hold);
                Ok::<_, E>(TxKind::HoldCreate { terms })
            })
            .await?;
        Ok((id.expect("set when the hold was queued"), ticket))
    }
}
