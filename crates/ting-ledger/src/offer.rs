//! Service offers in the ledger state: open, update, close; and the
//! reputations that holds' outcomes build.
//!
//! An offer holds its provider's deposit while it is listed; closing it
//! moves the deposit back and takes the record out of the state, so what a
//! provider can make the state hold is bounded by the deposits it put down.
//! A reputation record is written only when an accepted hold between
//! unrelated parties ends, so each one stands for money that moved.

use ting_core::limits::{OFFERS_OPEN_PER_PROVIDER_MAX, OFFER_DEPOSIT};
use ting_core::market::reputation::Outcome;
use ting_core::market::{category_covers, Offer, OfferId, OfferTerms, Reputation};
use ting_core::state_map::reputation_key;
use ting_core::{AccountId, Amount, Nonce, Timestamp};

use crate::apply::debited;
use crate::channel::Sender;
use crate::error::TxError;
use crate::state::State;

impl State {
    /// Every listed offer, in no particular order.
    pub fn offers(&self) -> impl Iterator<Item = (&OfferId, &Offer)> {
        self.offers.iter()
    }

    pub fn offer(&self, id: &OfferId) -> Option<&Offer> {
        self.offers.get(id)
    }

    /// How many offers `provider` has listed.
    pub fn open_offer_count(&self, provider: &AccountId) -> usize {
        self.open_offers.get(provider).map_or(0, |&n| n as usize)
    }

    /// `provider`'s reputation in exactly `category`, if any outcome was recorded.
    pub fn reputation(&self, provider: &AccountId, category: &str) -> Option<&Reputation> {
        self.reputations.get(&reputation_key(provider, category))
    }

    /// `provider`'s reputations in every category under `prefix` (all of
    /// them for an empty prefix), in no particular order. It walks every
    /// reputation record: a query, not for the state machine's hot path.
    pub fn reputations_of<'a>(
        &'a self,
        provider: &'a AccountId,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a Reputation> + 'a {
        self.reputations
            .values()
            .filter(move |r| r.provider == *provider && category_covers(prefix, &r.category))
    }

    pub(crate) fn offer_open(
        &mut self,
        (id, account, next): Sender,
        nonce: Nonce,
        terms: &OfferTerms,
        at: Timestamp,
    ) -> Result<(), TxError> {
        terms
            .check()
            .map_err(|e| TxError::InvalidOffer(e.0.to_owned()))?;
        let open = self.open_offers.get(&id).copied().unwrap_or(0);
        if open as usize >= OFFERS_OPEN_PER_PROVIDER_MAX {
            return Err(TxError::TooManyOffers {
                provider: id,
                max: OFFERS_OPEN_PER_PROVIDER_MAX,
            });
        }
        let offer_id = OfferId::derive(&self.genesis_hash, &id, nonce);
        if self.offers.contains_key(&offer_id) {
            return Err(TxError::OfferExists(offer_id));
        }
        let deposit = Amount::new(OFFER_DEPOSIT);
        let balance = debited(&account, deposit)?;
        let spend = self.spend_check(&id, deposit, at)?;
        self.put(id, balance, next);
        self.record_spend(&id, spend);
        self.open_offers.insert(id, open.saturating_add(1));
        self.note_offer(&offer_id);
        self.set_offer(
            offer_id,
            Some(Offer {
                provider: id,
                deposit,
                opened_at: at,
                terms: terms.clone(),
            }),
        );
        Ok(())
    }

    pub(crate) fn offer_update(
        &mut self,
        sender: Sender,
        id: &OfferId,
        terms: &OfferTerms,
    ) -> Result<(), TxError> {
        let offer = self.offers.get(id).ok_or(TxError::UnknownOffer(*id))?;
        if offer.provider != sender.0 {
            return Err(TxError::NotProvider(*id));
        }
        terms
            .check()
            .map_err(|e| TxError::InvalidOffer(e.0.to_owned()))?;
        let mut updated = offer.clone();
        updated.terms = terms.clone();
        self.touch(sender);
        self.note_offer(id);
        self.set_offer(*id, Some(updated));
        Ok(())
    }

    pub(crate) fn offer_close(&mut self, sender: Sender, id: &OfferId) -> Result<(), TxError> {
        let offer = self.offers.get(id).ok_or(TxError::UnknownOffer(*id))?;
        let provider = offer.provider;
        let owner_sent = self
            .devices
            .get(&provider)
            .is_some_and(|d| d.owner == sender.0);
        if provider != sender.0 && !owner_sent {
            return Err(TxError::NotProvider(*id));
        }
        self.pay_out(sender, &[(provider, offer.deposit)])?;
        let open = self.open_offers.get(&provider).copied().unwrap_or(0);
        if open <= 1 {
            self.open_offers.remove(&provider);
        } else {
            self.open_offers.insert(provider, open.saturating_sub(1));
        }
        self.note_offer(id);
        self.set_offer(*id, None);
        Ok(())
    }

    /// Counts one outcome in `provider`'s reputation in `category`.
    pub(crate) fn record_outcome(
        &mut self,
        provider: &AccountId,
        category: &str,
        outcome: Outcome,
        value: Amount,
        buyer: AccountId,
        at: Timestamp,
    ) {
        let key = reputation_key(provider, category);
        self.note_reputation(&key);
        self.reputations
            .entry(key)
            .or_insert_with(|| Reputation::new(*provider, category.to_owned()))
            .record(outcome, value, buyer, at);
    }
}
