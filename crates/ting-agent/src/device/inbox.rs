//! The receive path: every byte string that arrives on the device's inbox
//! topic goes through [`Inbox::handle`], and only what passes reaches the app.
//!
//! Order of checks: docs/mqtt.md §3 through `ting_core::envelope::receive`
//! (decoding, network, recipient, signature, window, replay cache); then the
//! node's types (`0x0000`–`0x00ff`) only from a trusted sequencer key; then
//! decryption; then the payload must decode as its type says. A payment is
//! accepted into the channel's durable payee file (and synced) before the app
//! hears of it. Each refusal is counted under its code and nothing of the
//! envelope is handed on. The path never touches the network or the clock:
//! time is passed in, so it is tested without a broker.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use ting_core::channel::payee::Accepted;
use ting_core::envelope::{
    receive, EnvelopeType, ErrorPayload, ReceiptPayload, RefusalPayload, ReplayGuard,
};
use ting_core::market::cfp::{Accept, Counter, Decline, EvidenceNote, Proposal};
use ting_core::stream::keyx::{DeliveryNote, KeyGrant, KeyRefusal, KeyRequest};
use ting_core::{AccountId, ChannelId, Hash32, Payment, Timestamp};

use super::error::InboxError;
use super::messaging::Messaging;
use crate::error::StoreError;
use crate::payee::DurablePayee;

/// Envelopes remembered by the replay guard (each one is kept for the
/// window, five minutes); more live ones than this are refused, not let through.
pub const DEVICE_REPLAY_CACHE_MAX: usize = 16_384;
/// Payee channel files kept open at once.
const PAYEES_OPEN_MAX: usize = 256;

/// What the app receives. New kinds of message may come: match with a
/// `_` arm.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// Application bytes (`DATA`), decrypted if they came encrypted.
    Data {
        from: AccountId,
        payload: Vec<u8>,
        encrypted: bool,
    },
    /// A channel payment (`PAYMENT`), already durable in the payee's file.
    Payment {
        from: AccountId,
        channel: ChannelId,
        accepted: Accepted,
    },
    /// A buyer asks this device, a seller, for an epoch's key (`KEY_REQUEST`).
    /// Its payment is not yet accepted: `stream::Seller::answer` decides.
    KeyRequest {
        from: AccountId,
        request: Box<KeyRequest>,
    },
    /// A seller sent an epoch's key, sealed to this device (`KEY_GRANT`).
    KeyGrant { from: AccountId, grant: KeyGrant },
    /// A seller refused a key request (`KEY_REFUSAL`).
    KeyRefusal {
        from: AccountId,
        refusal: KeyRefusal,
    },
    /// A buyer acknowledged what it received of a stream this device sells (`DELIVERY`).
    Delivery { from: AccountId, note: DeliveryNote },
    /// A publish on a stream topic this device follows: a chunk as the
    /// broker delivered it, not yet checked (`stream::Buyer` checks it).
    Chunk { topic: String, bytes: Vec<u8> },
    /// A publish on a call topic this device follows: a call for proposals
    /// as the broker delivered it, not yet checked (`market::Provider`
    /// checks it).
    Call { topic: String, bytes: Vec<u8> },
    /// A provider proposes terms for one of this device's calls (`PROPOSAL`).
    Proposal { from: AccountId, proposal: Proposal },
    /// A buyer counters this device's proposal (`COUNTER`).
    Counter { from: AccountId, counter: Counter },
    /// A buyer took this device's proposal and names the hold (`ACCEPT`).
    Accept { from: AccountId, accept: Accept },
    /// The other side turned a call, proposal or counter down (`DECLINE`).
    Decline { from: AccountId, decline: Decline },
    /// A buyer passes on its device's evidence (`EVIDENCE`).
    Evidence {
        from: AccountId,
        note: Box<EvidenceNote>,
    },
}

/// What an envelope that passed every check turned out to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Received {
    Message(Message),
    Receipt(Box<ReceiptPayload>),
    Refusal(RefusalPayload),
    NodeError(ErrorPayload),
}

/// The receive path's state: who we are, whom we trust, what we have seen.
#[derive(Debug)]
pub struct Inbox {
    me: AccountId,
    /// The genesis hash of the device's network: envelopes name it.
    genesis: Hash32,
    sequencers: Vec<AccountId>,
    guard: ReplayGuard,
    messaging: Messaging,
    state_dir: PathBuf,
    payees: HashMap<ChannelId, DurablePayee>,
    refused: BTreeMap<&'static str, u64>,
}

impl Inbox {
    /// The same inbox for a network on `clock`: envelopes are fresh for the
    /// same wall time as on the real clock (`ReplayGuard::on_clock`).
    pub fn on_clock(mut self, clock: ting_core::LedgerClock) -> Inbox {
        self.guard = self.guard.on_clock(clock);
        self
    }

    pub fn new(
        me: AccountId,
        genesis: Hash32,
        sequencers: Vec<AccountId>,
        messaging: Messaging,
        state_dir: PathBuf,
    ) -> Inbox {
        // Strangers may not crowd out the receipts of the node it trusts.
        let guard =
            ReplayGuard::new(DEVICE_REPLAY_CACHE_MAX).reserve_for(sequencers.iter().copied());
        Inbox {
            me,
            genesis,
            sequencers,
            guard,
            messaging,
            state_dir,
            payees: HashMap::new(),
            refused: BTreeMap::new(),
        }
    }

    /// Runs every check on `bytes`; a refusal is counted under its code.
    pub fn handle(&mut self, bytes: &[u8], now: Timestamp) -> Result<Received, InboxError> {
        let result = self.check(bytes, now);
        if let Err(e) = &result {
            *self.refused.entry(e.code()).or_default() += 1;
        }
        result
    }

    /// How many envelopes were refused, by code.
    pub fn refused(&self) -> &BTreeMap<&'static str, u64> {
        &self.refused
    }

    /// The public half of this device's messaging key.
    pub fn messaging_key(&self) -> ting_core::seal::MessagingKey {
        self.messaging.public()
    }

    /// The messaging secret's holder, to open what was sealed to this device.
    pub(crate) fn messaging(&self) -> &Messaging {
        &self.messaging
    }

    /// Forgets an open payee file, so the next payment reads it again.
    pub fn forget_payee(&mut self, channel: &ChannelId) {
        self.payees.remove(channel);
    }

    fn check(&mut self, bytes: &[u8], now: Timestamp) -> Result<Received, InboxError> {
        let envelope = receive(bytes, &self.me, &self.genesis, &mut self.guard, now)?;
        let kind = envelope.header.kind;
        let from = envelope.header.sender;
        if kind.is_node_type() && !self.sequencers.contains(&from) {
            return Err(InboxError::UntrustedSender(kind.0));
        }
        let payload = self.messaging.open(&envelope)?;
        let bad = InboxError::BadPayload;
        match kind {
            EnvelopeType::RECEIPT => Ok(Received::Receipt(Box::new(
                ReceiptPayload::decode(&payload).map_err(bad)?,
            ))),
            EnvelopeType::REFUSAL => Ok(Received::Refusal(
                RefusalPayload::decode(&payload).map_err(bad)?,
            )),
            EnvelopeType::ERROR => Ok(Received::NodeError(
                ErrorPayload::decode(&payload).map_err(bad)?,
            )),
            EnvelopeType::DATA => Ok(Received::Message(Message::Data {
                from,
                payload,
                encrypted: envelope.header.encrypted,
            })),
            EnvelopeType::PAYMENT => {
                let payment = Payment::decode(&payload).map_err(bad)?;
                self.accept_payment(from, &payment, now)
            }
            EnvelopeType::KEY_REQUEST => Ok(Received::Message(Message::KeyRequest {
                from,
                request: Box::new(KeyRequest::decode(&payload).map_err(bad)?),
            })),
            EnvelopeType::KEY_GRANT => Ok(Received::Message(Message::KeyGrant {
                from,
                grant: KeyGrant::decode(&payload).map_err(bad)?,
            })),
            EnvelopeType::DELIVERY => Ok(Received::Message(Message::Delivery {
                from,
                note: DeliveryNote::decode(&payload).map_err(bad)?,
            })),
            EnvelopeType::KEY_REFUSAL => Ok(Received::Message(Message::KeyRefusal {
                from,
                refusal: KeyRefusal::decode(&payload).map_err(bad)?,
            })),
            EnvelopeType::PROPOSAL => Ok(Received::Message(Message::Proposal {
                from,
                proposal: Proposal::decode(&payload).map_err(bad)?,
            })),
            EnvelopeType::COUNTER => Ok(Received::Message(Message::Counter {
                from,
                counter: Counter::decode(&payload).map_err(bad)?,
            })),
            EnvelopeType::ACCEPT => Ok(Received::Message(Message::Accept {
                from,
                accept: Accept::decode(&payload).map_err(bad)?,
            })),
            EnvelopeType::DECLINE => Ok(Received::Message(Message::Decline {
                from,
                decline: Decline::decode(&payload).map_err(bad)?,
            })),
            EnvelopeType::EVIDENCE => Ok(Received::Message(Message::Evidence {
                from,
                note: Box::new(EvidenceNote::decode(&payload).map_err(bad)?),
            })),
            other => Err(InboxError::UnknownType(other.0)),
        }
    }

    fn accept_payment(
        &mut self,
        from: AccountId,
        payment: &Payment,
        now: Timestamp,
    ) -> Result<Received, InboxError> {
        let payee = self.payee(&payment.channel)?;
        if payee.payee().terms().payer != from {
            return Err(InboxError::NotPayer);
        }
        let accepted = payee.accept_payment(payment, now)?;
        Ok(Received::Message(Message::Payment {
            from,
            channel: payment.channel,
            accepted,
        }))
    }

    /// The payee file of `channel`, opened once and kept (the inbox is its only writer).
    pub(crate) fn payee(&mut self, channel: &ChannelId) -> Result<&mut DurablePayee, InboxError> {
        if !self.payees.contains_key(channel) {
            let payee = match DurablePayee::open(&self.state_dir, channel) {
                Err(StoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    return Err(InboxError::UnknownChannel)
                }
                other => other?,
            };
            if self.payees.len() >= PAYEES_OPEN_MAX {
                self.payees.clear();
            }
            self.payees.insert(*channel, payee);
        }
        Ok(self.payees.get_mut(channel).expect("inserted above"))
    }
}
