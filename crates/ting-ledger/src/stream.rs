//! Data streams in the ledger state: the four transactions that act on
//! them (open, consent, delivery, close).
//!
//! Money conservation: an open stream holds its seller's deposit; closing
//! it moves the deposit back to the seller and takes the record out of the
//! state, so what a seller can make the state hold is bounded by the
//! deposits it has put down. A closed stream's history stays in the
//! blocks (the node's index answers it), not in the state.

use ting_core::limits::{STREAMS_OPEN_PER_SELLER_MAX, STREAM_BUYERS_MAX, STREAM_DEPOSIT};
use ting_core::stream::{DeliveryAck, Stream, StreamId, StreamTerms};
use ting_core::{AccountId, Amount, Hash32, Nonce, Timestamp};

use crate::apply::debited;
use crate::channel::Sender;
use crate::error::TxError;
use crate::state::State;

impl State {
    /// Every open stream, in no particular order.
    pub fn streams(&self) -> impl Iterator<Item = (&StreamId, &Stream)> {
        self.streams.iter()
    }

    pub fn stream(&self, id: &StreamId) -> Option<&Stream> {
        self.streams.get(id)
    }

    /// How many streams `seller` has open.
    pub fn open_stream_count(&self, seller: &AccountId) -> usize {
        self.open_streams.get(seller).map_or(0, |&n| n as usize)
    }

    pub(crate) fn stream_open(
        &mut self,
        (id, account, next): Sender,
        nonce: Nonce,
        terms: &StreamTerms,
        at: Timestamp,
    ) -> Result<(), TxError> {
        let owner = self
            .devices
            .get(&id)
            .map(|d| d.owner)
            .ok_or(TxError::NotADevice(id))?;
        let open = self.open_streams.get(&id).copied().unwrap_or(0);
        if open as usize >= STREAMS_OPEN_PER_SELLER_MAX {
            return Err(TxError::TooManyStreams {
                seller: id,
                max: STREAMS_OPEN_PER_SELLER_MAX,
            });
        }
        let stream_id = StreamId::derive(&self.genesis_hash, &id, nonce);
        if self.streams.contains_key(&stream_id) {
            return Err(TxError::StreamExists(stream_id));
        }
        let deposit = Amount::new(STREAM_DEPOSIT);
        let balance = debited(&account, deposit)?;
        let spend = self.spend_check(&id, deposit, at)?;
        self.put(id, balance, next);
        self.record_spend(&id, spend);
        self.open_streams.insert(id, open.saturating_add(1));
        self.note_stream(&stream_id);
        self.set_stream(
            stream_id,
            Some(Stream {
                seller: id,
                owner,
                deposit,
                opened_at: at,
                terms: terms.clone(),
                buyers: Vec::new(),
            }),
        );
        Ok(())
    }

    /// The open stream `id`, if the sender is its seller or the seller's owner.
    fn stream_of_party(&self, sender: &AccountId, id: &StreamId) -> Result<&Stream, TxError> {
        let stream = self.streams.get(id).ok_or(TxError::UnknownStream(*id))?;
        if stream.seller != *sender && stream.owner != *sender {
            return Err(TxError::NotSeller(*id));
        }
        Ok(stream)
    }

    pub(crate) fn stream_consent(
        &mut self,
        sender: Sender,
        id: &StreamId,
        consent: &Hash32,
    ) -> Result<(), TxError> {
        let mut updated = self.stream_of_party(&sender.0, id)?.clone();
        updated.terms.consent = *consent;
        self.touch(sender);
        self.note_stream(id);
        self.set_stream(*id, Some(updated));
        Ok(())
    }

    pub(crate) fn stream_delivery(
        &mut self,
        sender: Sender,
        id: &StreamId,
        ack: &DeliveryAck,
    ) -> Result<(), TxError> {
        let stream = self.streams.get(id).ok_or(TxError::UnknownStream(*id))?;
        if stream.seller != sender.0 {
            return Err(TxError::NotSeller(*id));
        }
        let d = ack.delivery;
        if d.buyer == stream.seller || !self.accounts.contains_key(&d.buyer) {
            return Err(TxError::UnknownBuyer(d.buyer));
        }
        ack.verify(&self.genesis_hash, id)
            .map_err(|_| TxError::BadDeliverySignature(*id))?;
        let mut updated = stream.clone();
        match updated.buyers.binary_search_by_key(&d.buyer, |b| b.buyer) {
            Ok(i) => {
                let before = updated.buyers[i];
                if d.epochs < before.epochs
                    || d.paid < before.paid
                    || (d.epochs, d.paid) == (before.epochs, before.paid)
                {
                    return Err(TxError::StaleDelivery(*id));
                }
                updated.buyers[i] = d;
            }
            // A first acknowledgement must acknowledge something: an empty
            // one would only take a buyer's slot.
            Err(_) if d.epochs == 0 => return Err(TxError::StaleDelivery(*id)),
            Err(_) if updated.buyers.len() >= STREAM_BUYERS_MAX => {
                return Err(TxError::TooManyBuyers {
                    stream: *id,
                    max: STREAM_BUYERS_MAX,
                })
            }
            Err(i) => updated.buyers.insert(i, d),
        }
        self.touch(sender);
        self.note_stream(id);
        self.set_stream(*id, Some(updated));
        Ok(())
    }

    pub(crate) fn stream_close(&mut self, sender: Sender, id: &StreamId) -> Result<(), TxError> {
        let stream = self.stream_of_party(&sender.0, id)?;
        let (seller, deposit) = (stream.seller, stream.deposit);
        let open = self.open_streams.get(&seller).copied().unwrap_or(0);
        if seller == sender.0 {
            let balance = sender
                .1
                .balance
                .checked_add(deposit)
                .ok_or(TxError::Overflow)?;
            self.put(sender.0, balance, sender.2);
        } else {
            let (credited, seller_nonce) = self.credited(&seller, deposit)?;
            self.touch(sender);
            self.put(seller, credited, seller_nonce);
        }
        if open <= 1 {
            self.open_streams.remove(&seller);
        } else {
            self.open_streams.insert(seller, open.saturating_sub(1));
        }
        self.note_stream(id);
        self.set_stream(*id, None);
        Ok(())
    }
}
