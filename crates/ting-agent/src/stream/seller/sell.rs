//! The seller's side of a key request: who may buy, what the buyer's
//! channel has paid, the sale made durable before the key leaves, and the
//! buyers' acknowledgements put on the ledger as the delivery record.

use std::collections::BTreeMap;

use ting_core::stream::epoch::{derive_epoch_key, EpochKey};
use ting_core::stream::keyx::{DeliveryNote, KeyGrant, KeyRefusal, KeyRequest};
use ting_core::stream::sales::{Ask, Decision};
use ting_core::stream::DeliveryAck;
use ting_core::{AccountId, Amount, TxKind};

use super::guard::{payment_code, refusal_message};
use super::store::bind_channel;
use super::{Answered, Seller};
use crate::device::Device;
use crate::stream::SellerError;

impl Seller {
    /// Answers a key request from `from`: sells the epoch if the consent
    /// allows the buyer and its credit covers the price, sends the key
    /// again for an epoch it bought, refuses otherwise (saying why, with
    /// its credit). The sale is durable before the key is sent.
    pub async fn answer(
        &mut self,
        device: &Device,
        from: AccountId,
        request: &KeyRequest,
    ) -> Result<Answered, SellerError> {
        if let Some(ack) = &request.ack {
            self.take_ack(from, ack);
        }
        let allowed =
            self.consent
                .record
                .allows_buyer(&from, request.attestation.as_ref(), self.clock.now());
        if let Some(payment) = request.payment.as_ref().filter(|_| allowed) {
            // A channel this seller has not taken up yet: take it up from the
            // ledger (its terms from a state proof), so its payments count.
            // Only for a buyer the consent admits: a stranger's made-up
            // channel ids cost the seller no lookup.
            let unknown = matches!(
                device.paid_by(&from, &payment.channel),
                Err(crate::device::InboxError::UnknownChannel)
            );
            if unknown {
                let _ = device.accept_channel(&payment.channel).await;
            }
        }
        // The key is sealed to the buyer's messaging key: without one there
        // is nothing to sell, so it is looked up before any payment is taken.
        let needs_key = allowed || self.sales.bought(&self.stream, &from, request.epoch);
        let their_key = if needs_key {
            match device.messaging_key_of(&from).await {
                Ok(k) => Some(k),
                Err(_) => {
                    return self
                        .refuse(device, from, request, "no_messaging_key", Amount::ZERO)
                        .await
                }
            }
        } else {
            None
        };
        let decided = self.decide(device, from, request);
        let epoch = request.epoch;
        match decided {
            Ok((answered, key)) => {
                let their_key = their_key.expect("looked up for every buyer a key can go to");
                let sealed = key
                    .seal_to(&their_key, &self.stream, epoch, &mut rand::rng())
                    .map_err(|e| SellerError::Seal(e.to_string()))?;
                if let Answered::Sold { .. } = answered {
                    self.stats.keys_sold = self.stats.keys_sold.saturating_add(1);
                } else {
                    self.stats.keys_again = self.stats.keys_again.saturating_add(1);
                }
                let grant = KeyGrant {
                    stream: self.stream,
                    epoch,
                    sealed_key: sealed,
                };
                device.send_key_grant(from, &grant).await?;
                Ok(answered)
            }
            Err((code, credit)) => self.refuse(device, from, request, code, credit).await,
        }
    }

    async fn refuse(
        &mut self,
        device: &Device,
        to: AccountId,
        request: &KeyRequest,
        code: &'static str,
        credit: Amount,
    ) -> Result<Answered, SellerError> {
        *self.stats.refused.entry(code.to_owned()).or_default() += 1;
        if !self.refusals.allow(to, self.clock.now()) {
            // Each refusal is an envelope through the durable outbox: past a
            // few a minute to one sender, the rest are dropped and counted.
            *self.stats.refused.entry("not_answered".into()).or_default() += 1;
            return Ok(Answered::Refused { code });
        }
        let refusal = KeyRefusal {
            stream: request.stream,
            epoch: request.epoch,
            credit,
            code: code.to_owned(),
            message: refusal_message(code, self.terms.price_per_epoch, credit),
        };
        device.send_key_refusal(to, &refusal).await?;
        Ok(Answered::Refused { code })
    }

    /// The key to send and what it is, or the refusal's code and the credit.
    #[allow(clippy::type_complexity)]
    fn decide(
        &mut self,
        device: &Device,
        from: AccountId,
        request: &KeyRequest,
    ) -> Result<(Answered, EpochKey), (&'static str, Amount)> {
        let epoch = request.epoch;
        if request.stream != self.stream {
            return Err(("unknown_stream", Amount::ZERO));
        }
        if self.sales.bought(&self.stream, &from, epoch) {
            return Ok((
                Answered::Again { epoch },
                derive_epoch_key(&self.key, &self.stream, epoch),
            ));
        }
        let at = self.clock.now();
        let record = &self.consent.record;
        if !record.allows_buyer(&from, request.attestation.as_ref(), at) {
            return Err(("buyer_not_allowed", Amount::ZERO));
        }
        if !record.in_force(at) {
            return Err(("consent_not_in_force", Amount::ZERO));
        }
        if self.revoked_from_epoch.is_some_and(|f| epoch >= f) {
            return Err(("consent_revoked", Amount::ZERO));
        }
        if epoch > self.current_epoch(at).saturating_add(1) {
            return Err(("epoch_not_open", Amount::ZERO));
        }
        let Some(payment) = &request.payment else {
            return Err(("payment_required", Amount::ZERO));
        };
        let (channel, paid) = device
            .accept_stream_payment(&from, payment)
            .map_err(|e| (payment_code(&e), Amount::ZERO))?;
        // Credit is counted per channel, so a channel pays for one stream:
        // the same money must not buy keys of two.
        if !self.channel_is_ours(device, &channel) {
            return Err(("channel_in_use", Amount::ZERO));
        }
        let ask = Ask {
            stream: self.stream,
            buyer: from,
            epoch,
            price: self.terms.price_per_epoch,
            channel,
            paid,
        };
        match self.sales.decide(&ask) {
            Decision::Again => Ok((
                Answered::Again { epoch },
                derive_epoch_key(&self.key, &self.stream, epoch),
            )),
            Decision::Short { credit, .. } => Err(("insufficient_payment", credit)),
            Decision::Sell(sale) => {
                if self.sales_log.append_synced(&sale.encode()).is_err() {
                    return Err(("seller_store_failed", Amount::ZERO));
                }
                self.sales.record(&sale);
                Ok((
                    Answered::Sold {
                        epoch,
                        price: sale.price,
                    },
                    derive_epoch_key(&self.key, &self.stream, epoch),
                ))
            }
        }
    }

    /// Whether `channel` pays for this stream: it is bound to the first
    /// stream that sells a key over it (a file per channel, created once and
    /// synced, shared by every stream of the device).
    fn channel_is_ours(&mut self, device: &Device, channel: &ting_core::ChannelId) -> bool {
        if self.channels.contains(channel) {
            return true;
        }
        let Some(dir) = device
            .stream_dir(&self.stream)
            .parent()
            .map(|d| d.join("channels"))
        else {
            return false;
        };
        let ours = bind_channel(&dir, channel, &self.stream).unwrap_or(false);
        if ours {
            self.channels.insert(*channel);
        }
        ours
    }

    /// Takes a buyer's acknowledgement of what it received so far, for the
    /// delivery record ([`Seller::record_deliveries`]).
    pub fn on_delivery(&mut self, from: AccountId, note: &DeliveryNote) {
        if note.stream == self.stream {
            self.take_ack(from, &note.ack);
        }
    }

    fn take_ack(&mut self, from: AccountId, ack: &DeliveryAck) {
        // Only a buyer that bought something has a delivery to record: a
        // stranger's acknowledgements would only fill memory.
        if ack.delivery.buyer != from || !self.sales.has_buyer(&self.stream, &from) {
            return;
        }
        if ack.verify(&self.genesis, &self.stream).is_err() {
            return;
        }
        let newer = self.acks.get(&from).is_none_or(|old| {
            ack.delivery.epochs >= old.delivery.epochs && ack.delivery.paid >= old.delivery.paid
        });
        if newer {
            self.acks.insert(from, *ack);
        }
    }

    /// What each buyer has bought, by the sales book: epochs and money.
    pub fn earned(&self) -> BTreeMap<AccountId, (u64, Amount)> {
        self.sales.per_buyer(&self.stream)
    }

    /// Puts every buyer's newest acknowledgement that the ledger does not
    /// yet hold on the ledger (`stream_delivery`); answers how many.
    pub async fn record_deliveries(&mut self, device: &Device) -> Result<usize, SellerError> {
        let due: Vec<DeliveryAck> = self
            .acks
            .values()
            .filter(|a| a.delivery.epochs > 0)
            .filter(|a| {
                self.recorded
                    .get(&a.delivery.buyer)
                    .is_none_or(|r| (a.delivery.epochs, a.delivery.paid) != (r.epochs, r.paid))
            })
            .copied()
            .collect();
        let mut n = 0;
        for ack in due {
            let kind = TxKind::StreamDelivery {
                stream: self.stream,
                ack,
            };
            match device.submit(kind).await {
                Ok(_) => n += 1,
                Err(e) if e.code() == "stale_delivery" => {}
                Err(e) => return Err(SellerError::Submit(e.to_string())),
            }
            self.recorded.insert(ack.delivery.buyer, ack.delivery);
        }
        Ok(n)
    }
}
