//! The device's channels: opening one as payer, paying through it as `PAYMENT`
//! envelopes, and taking one up as payee so its payments are accepted.
//!
//! Files live in the state directory (`payer/` and `payee/`, see `crate::dir`).
//! Chain seeds are derived from the device's key, the channel and the segment
//! number, as the CLI does, so a lost payer file never loses a seed.

use ting_core::channel::payee::{ClaimPolicy, Payee};
use ting_core::channel::payer::{derive_chain_seed, ChannelTerms, NewSegment, Payer};
use ting_core::envelope::EnvelopeType;
use ting_core::{AccountId, Amount, ChannelId, Payment, Timestamp, TxKind};

use super::error::{ChannelError, QueueError};
use super::Device;
use crate::dir::{channel_path, Role};
use crate::error::StoreError;
use crate::payee::DurablePayee;
use crate::payer::DurablePayer;

impl From<QueueError> for ChannelError {
    fn from(e: QueueError) -> Self {
        ChannelError::Submit(e.into())
    }
}

/// The terms a hash-chain channel opens with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelOffer {
    pub payee: AccountId,
    pub deposit: Amount,
    /// What one tick pays.
    pub price: Amount,
    /// Ticks in the chain; `deposit` must cover `ticks · price`.
    pub ticks: u32,
    pub expires_at: Timestamp,
}

impl Device {
    /// Opens a hash-chain channel and waits until the ledger holds it. The
    /// payer's file is written before the open is queued. If the ledger
    /// refuses the open for good, the file is removed; if the refusal
    /// depended on the state (`insufficient_funds`, ...), whoever holds the
    /// open's bytes could still make it apply until its `valid_until`, so the
    /// file (with the chain's seed) is kept until the device's next commit
    /// uses the open's nonce.
    pub async fn open_channel(&self, offer: ChannelOffer) -> Result<ChannelId, ChannelError> {
        let inner = &self.inner;
        let mut opened = None;
        let ticket = inner
            .queue_with(|nonce| {
                let channel = ChannelId::derive(&inner.genesis_hash, &inner.me, nonce);
                let terms = ChannelTerms {
                    network: inner.network,
                    channel,
                    payer: inner.me,
                    payee: offer.payee,
                    deposit: offer.deposit,
                    expires_at: offer.expires_at,
                };
                let segment = NewSegment {
                    seed: derive_chain_seed(&inner.key, &channel, 0),
                    len: offer.ticks,
                };
                let (payer, mode) = Payer::open_hash_chain(terms, offer.price, segment)
                    .map_err(|e| ChannelError::Terms(e.to_string()))?;
                DurablePayer::create(&inner.state_dir, payer)?;
                opened = Some(channel);
                Ok::<_, ChannelError>(TxKind::ChannelOpen {
                    payee: offer.payee,
                    deposit: offer.deposit,
                    expires_at: offer.expires_at,
                    mode,
                })
            })
            .await?;
        let channel = opened.expect("set when the open was queued");
        let nonce = ticket.nonce;
        match ticket.wait().await {
            Ok(_) => Ok(channel),
            Err(e) => {
                if e.is_final() {
                    // The channel can never exist, so its file must not either.
                    let _ =
                        std::fs::remove_file(channel_path(&inner.state_dir, Role::Payer, &channel));
                } else if matches!(e, super::TxError::Refused { .. }) {
                    inner
                        .refused_opens
                        .lock()
                        .expect("refused opens lock")
                        .insert(nonce, channel);
                }
                Err(ChannelError::Submit(e.into()))
            }
        }
    }

    /// Reveals `units` more ticks (durably) and sends the payment to the payee.
    pub async fn pay(&self, channel: &ChannelId, units: u64) -> Result<Payment, ChannelError> {
        let (payment, payee) = {
            let mut payers = self.inner.payers.lock().await;
            if !payers.contains_key(channel) {
                let payer = DurablePayer::open(&self.inner.state_dir, channel)?;
                payers.insert(*channel, payer);
            }
            let payer = payers.get_mut(channel).expect("inserted above");
            (
                payer.pay(units, self.inner.clock.now())?,
                payer.payer().terms().payee,
            )
        };
        self.inner
            .send_envelope(payee, EnvelopeType::PAYMENT, payment.encode(), false)
            .await?;
        Ok(payment)
    }

    /// Claims on the ledger what this device holds unclaimed on `channel`, if
    /// `policy` says it is time (`ClaimPolicy::ALWAYS`: now), in as many
    /// claims as the ledger's work bound needs. Each claim is recorded in the
    /// payee's file once the ledger holds it; a claim the ledger already holds
    /// (`stale_claim`, after a crash between commit and record) counts as done.
    /// Returns what the payee's file now counts as claimed.
    pub async fn claim(
        &self,
        channel: &ChannelId,
        policy: &ClaimPolicy,
    ) -> Result<Amount, ChannelError> {
        let payee_of = |inbox: &mut super::inbox::Inbox| {
            inbox
                .payee(channel)
                .map_err(|_| ChannelError::NotPayee(channel.to_hex()))
                .map(|p| {
                    (
                        p.claim_plan(self.inner.clock.now(), policy),
                        p.payee().claimed(),
                    )
                })
        };
        let (plan, mut claimed) = payee_of(&mut self.inner.inbox())?;
        for proof in plan? {
            let kind = TxKind::ChannelClaim {
                channel: *channel,
                proof,
            };
            match self.inner.queue(kind).await?.wait().await {
                Ok(_) => {}
                Err(e) if e.code() == "stale_claim" => {}
                Err(e) => return Err(ChannelError::Submit(e.into())),
            }
            let mut inbox = self.inner.inbox();
            let payee = inbox
                .payee(channel)
                .map_err(|_| ChannelError::NotPayee(channel.to_hex()))?;
            payee.record_claim(&proof)?;
            claimed = payee.payee().claimed();
        }
        Ok(claimed)
    }

    /// Takes up a channel the ledger opened to this device, so that its
    /// payments are accepted. Harmless if already taken up. Its terms come
    /// from a state proof the device checks, never from the node's word.
    pub async fn accept_channel(&self, channel: &ChannelId) -> Result<(), ChannelError> {
        let ledger = self
            .inner
            .http
            .channel(channel)
            .await
            .map_err(ChannelError::Lookup)?;
        let mode = ledger.open_mode.ok_or_else(|| {
            ChannelError::BadChannel(
                "the channel is past its first chain: take it up before a top-up".into(),
            )
        })?;
        if ledger.terms.payee != self.inner.me {
            return Err(ChannelError::NotParty("payee"));
        }
        match DurablePayee::create(&self.inner.state_dir, Payee::new(ledger.terms, mode)) {
            Ok(_) | Err(StoreError::Exists) => {}
            Err(e) => return Err(e.into()),
        }
        self.inner.inbox().forget_payee(channel);
        Ok(())
    }
}
