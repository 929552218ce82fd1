//! Transaction kinds: what each does, its fields, and their canonical encoding
//! (the `kind u8 | fields` part of a transaction body, docs/wire.md §5.2–5.3).

use crate::prelude::*;

use crate::account::AccountId;
use crate::amount::Amount;
use crate::channel::{ChainSegment, ChannelId, ChannelMode, ChannelProof};
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
use crate::keys::Signature;
use crate::limits::{MEMO_BYTES_MAX, METADATA_BYTES_MAX};
use crate::market::{HoldId, HoldTerms, OfferId, OfferTerms, SignedEvidence};
use crate::resource::{LeaseId, OrderId, OrderTerms};
use crate::seal::MessagingKey;
use crate::stream::{DeliveryAck, StreamId, StreamTerms};
use crate::types::Timestamp;

pub(super) const TAG_TRANSFER: u8 = 0x01;
pub(super) const TAG_MINT: u8 = 0x02;
pub(super) const TAG_REGISTER_DEVICE: u8 = 0x10;
pub(super) const TAG_SET_SPEND_LIMIT: u8 = 0x11;
pub(super) const TAG_FREEZE: u8 = 0x12;
pub(super) const TAG_UNFREEZE: u8 = 0x13;
pub(super) const TAG_SWEEP: u8 = 0x14;
pub(super) const TAG_SET_MESSAGING_KEY: u8 = 0x15;
pub(super) const TAG_CHANNEL_OPEN: u8 = 0x20;
pub(super) const TAG_CHANNEL_CLAIM: u8 = 0x21;
pub(super) const TAG_CHANNEL_TOP_UP: u8 = 0x22;
pub(super) const TAG_CHANNEL_CLOSE: u8 = 0x23;
pub(super) const TAG_CHANNEL_RECLAIM: u8 = 0x24;
pub(super) const TAG_STREAM_OPEN: u8 = 0x30;
pub(super) const TAG_STREAM_CONSENT: u8 = 0x31;
pub(super) const TAG_STREAM_DELIVERY: u8 = 0x32;
pub(super) const TAG_STREAM_CLOSE: u8 = 0x33;
pub(super) const TAG_HOLD_CREATE: u8 = 0x40;
pub(super) const TAG_HOLD_ACCEPT: u8 = 0x41;
pub(super) const TAG_HOLD_RELEASE: u8 = 0x42;
pub(super) const TAG_HOLD_REFUND: u8 = 0x43;
pub(super) const TAG_HOLD_DISPUTE: u8 = 0x44;
pub(super) const TAG_HOLD_DECIDE: u8 = 0x45;
pub(super) const TAG_OFFER_OPEN: u8 = 0x48;
pub(super) const TAG_OFFER_UPDATE: u8 = 0x49;
pub(super) const TAG_OFFER_CLOSE: u8 = 0x4a;
pub(super) const TAG_CLASS_REGISTER: u8 = 0x50;
pub(super) const TAG_ORDER_PLACE: u8 = 0x51;
pub(super) const TAG_ORDER_CANCEL: u8 = 0x52;
pub(super) const TAG_LEASE_SETTLE: u8 = 0x53;
pub(super) const TAG_LEASE_CLOSE: u8 = 0x54;

/// What a transaction does, with its fields.
///
/// Deliberately exhaustive: a new kind is a protocol change, and every match
/// on kinds (the state machine first) must be made to handle it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxKind {
    /// Moves `amount` from the sender to `to`.
    Transfer {
        to: AccountId,
        amount: Amount,
        memo: Vec<u8>,
    },
    /// Creates `amount` for `to`; only an issuer named in the genesis may send it.
    Mint { to: AccountId, amount: Amount },
    /// Binds `device` to the sender as its owner; the device co-signs.
    RegisterDevice {
        device: AccountId,
        metadata: Vec<u8>,
        device_signature: Signature,
    },
    /// Caps what `device` may send per UTC day; `None` removes the cap.
    SetSpendLimit {
        device: AccountId,
        per_day: Option<Amount>,
    },
    /// Stops `device` from sending; it can still receive.
    Freeze { device: AccountId },
    /// Lets a frozen `device` send again.
    Unfreeze { device: AccountId },
    /// Moves `amount` from `device` to its owner, the sender, frozen or not.
    Sweep { device: AccountId, amount: Amount },
    /// Publishes the sender's X25519 key for encrypted envelopes
    /// (docs/mqtt.md §4), replacing any earlier one. It moves no money, so a
    /// frozen device may send it too.
    SetMessagingKey { key: MessagingKey },
    /// Locks `deposit` from the sender (the payer) in a channel to `payee`
    /// until `expires_at`; the channel's id is `ChannelId::derive` of the
    /// network, the sender and this transaction's nonce.
    ChannelOpen {
        payee: AccountId,
        deposit: Amount,
        expires_at: Timestamp,
        mode: ChannelMode,
    },
    /// Pays the channel's payee what `proof` shows beyond the last claim.
    /// Anyone may send it; the money only ever goes to the payee.
    ChannelClaim {
        channel: ChannelId,
        proof: ChannelProof,
    },
    /// The payer adds `amount` to the deposit, moves the expiry to
    /// `expires_at` (never earlier) and, for a hash-chain channel, may queue
    /// a further chain that continues the current one.
    ChannelTopUp {
        channel: ChannelId,
        amount: Amount,
        expires_at: Timestamp,
        extension: Option<ChainSegment>,
    },
    /// The payee settles: a last claim if `proof` is given, the rest back to the payer.
    ChannelClose {
        channel: ChannelId,
        proof: Option<ChannelProof>,
    },
    /// After expiry and the grace period, the payer takes back what was not claimed.
    ChannelReclaim { channel: ChannelId },
    /// The sender, a device with an owner, registers a data stream and puts
    /// down `limits::STREAM_DEPOSIT`; the stream's id is `StreamId::derive`
    /// of the network, the sender and this transaction's nonce.
    StreamOpen { terms: StreamTerms },
    /// The seller or its owner names the consent record now in force.
    StreamConsent { stream: StreamId, consent: Hash32 },
    /// The seller records a buyer's signed acknowledgement of what it has
    /// received and paid so far; the totals may only grow.
    StreamDelivery { stream: StreamId, ack: DeliveryAck },
    /// The seller or its owner closes the stream; the deposit goes back to
    /// the seller and the record leaves the state.
    StreamClose { stream: StreamId },
    /// Locks `terms.amount` and `limits::HOLD_DEPOSIT` from the sender (the
    /// payer) for `terms.payee`; the hold's id is `HoldId::derive` of the
    /// network, the sender and this transaction's nonce.
    HoldCreate { terms: HoldTerms },
    /// The payee takes the job on: from now the payer cannot cancel before
    /// the deadline, and the outcome counts for the payee's reputation.
    HoldAccept { hold: HoldId },
    /// Pays the amount to the payee and the deposit back to the payer: sent
    /// by the payer (or its owner), by the arbiter under an arbiter rule, or
    /// by anyone with `evidence` that meets an evidence rule.
    HoldRelease {
        hold: HoldId,
        evidence: Option<SignedEvidence>,
    },
    /// Gives amount and deposit back to the payer: the payee may at any
    /// time; the payer may before the payee accepts, after the deadline and
    /// grace, or after a dispute's arbiter window.
    HoldRefund { hold: HoldId },
    /// The payer or payee hands an accepted hold to its arbiter; `reason` is
    /// the hash of the party's statement.
    HoldDispute { hold: HoldId, reason: Hash32 },
    /// The arbiter of a disputed hold pays `to_payee` to the payee and the
    /// rest, with the deposit, back to the payer.
    HoldDecide { hold: HoldId, to_payee: Amount },
    /// The sender lists a service offer and puts down
    /// `limits::OFFER_DEPOSIT`; the offer's id is `OfferId::derive` of the
    /// network, the sender and this transaction's nonce.
    OfferOpen { terms: OfferTerms },
    /// The provider replaces an offer's terms.
    OfferUpdate { offer: OfferId, terms: OfferTerms },
    /// The provider (or its owner) withdraws an offer; the deposit goes back
    /// to the provider.
    OfferClose { offer: OfferId },
    /// An issuer names a resource class that orders may then trade; the
    /// name is taken for good.
    ClassRegister {
        name: String,
        unit: String,
        lease_ms: u64,
    },
    /// Places a limit order: it fills what crosses on the class's book and
    /// the rest rests, with `limits::ORDER_DEPOSIT` (and, for a bid, the
    /// price of what rests) locked. The order's id is `OrderId::derive` of
    /// the network, the sender and this transaction's nonce.
    OrderPlace { terms: OrderTerms },
    /// Ends a resting order and gives back what it locks: its owner (or
    /// the owner's owner) at any time, anyone once it has expired.
    OrderCancel { order: OrderId },
    /// Pays a lease's provider for the units above the last count: `count`
    /// is the buyer's signed cumulative delivery count. Anyone may send it;
    /// the money only ever goes to the provider.
    LeaseSettle {
        lease: LeaseId,
        count: u64,
        signature: Signature,
    },
    /// Ends a lease, after a last count if one is given: what was not
    /// delivered goes back to the buyer. The provider may close at any
    /// time, anyone once the lease's end and grace have passed.
    LeaseClose {
        lease: LeaseId,
        count: Option<(u64, Signature)>,
    },
}

impl TxKind {
    /// The channel a channel transaction acts on; `None` for other kinds.
    /// For `ChannelOpen` it is not in the transaction: see `SignedTx::opened_channel`.
    pub fn channel(&self) -> Option<ChannelId> {
        match self {
            TxKind::ChannelClaim { channel, .. }
            | TxKind::ChannelTopUp { channel, .. }
            | TxKind::ChannelClose { channel, .. }
            | TxKind::ChannelReclaim { channel } => Some(*channel),
            _ => None,
        }
    }

    /// The stream a stream transaction acts on; `None` for other kinds.
    /// For `StreamOpen` it is not in the transaction: see `SignedTx::opened_stream`.
    pub fn stream(&self) -> Option<StreamId> {
        match self {
            TxKind::StreamConsent { stream, .. }
            | TxKind::StreamDelivery { stream, .. }
            | TxKind::StreamClose { stream } => Some(*stream),
            _ => None,
        }
    }

    /// The hold a hold transaction acts on; `None` for other kinds.
    /// For `HoldCreate` it is not in the transaction: see `SignedTx::opened_hold`.
    pub fn hold(&self) -> Option<HoldId> {
        match self {
            TxKind::HoldAccept { hold }
            | TxKind::HoldRelease { hold, .. }
            | TxKind::HoldRefund { hold }
            | TxKind::HoldDispute { hold, .. }
            | TxKind::HoldDecide { hold, .. } => Some(*hold),
            _ => None,
        }
    }

    /// The offer an offer transaction acts on; `None` for other kinds.
    /// For `OfferOpen` it is not in the transaction: see `SignedTx::opened_offer`.
    pub fn offer(&self) -> Option<OfferId> {
        match self {
            TxKind::OfferUpdate { offer, .. } | TxKind::OfferClose { offer } => Some(*offer),
            _ => None,
        }
    }

    /// The amount this transaction names, if it names one: what a transfer,
    /// mint or sweep moves, what a channel open or top-up locks, what a hold
    /// locks for its payee, what an arbiter awards. Claims, settlements and
    /// closes move what the ledger works out from its state, so they name none.
    pub fn amount(&self) -> Option<Amount> {
        match self {
            TxKind::Transfer { amount, .. }
            | TxKind::Mint { amount, .. }
            | TxKind::Sweep { amount, .. }
            | TxKind::ChannelTopUp { amount, .. } => Some(*amount),
            TxKind::ChannelOpen { deposit, .. } => Some(*deposit),
            TxKind::HoldCreate { terms } => Some(terms.amount),
            TxKind::HoldDecide { to_payee, .. } => Some(*to_payee),
            TxKind::RegisterDevice { .. }
            | TxKind::SetSpendLimit { .. }
            | TxKind::Freeze { .. }
            | TxKind::Unfreeze { .. }
            | TxKind::SetMessagingKey { .. }
            | TxKind::ChannelClaim { .. }
            | TxKind::ChannelClose { .. }
            | TxKind::ChannelReclaim { .. }
            | TxKind::StreamOpen { .. }
            | TxKind::StreamConsent { .. }
            | TxKind::StreamDelivery { .. }
            | TxKind::StreamClose { .. }
            | TxKind::HoldAccept { .. }
            | TxKind::HoldRelease { .. }
            | TxKind::HoldRefund { .. }
            | TxKind::HoldDispute { .. }
            | TxKind::OfferOpen { .. }
            | TxKind::OfferUpdate { .. }
            | TxKind::OfferClose { .. }
            | TxKind::ClassRegister { .. }
            | TxKind::OrderPlace { .. }
            | TxKind::OrderCancel { .. }
            | TxKind::LeaseSettle { .. }
            | TxKind::LeaseClose { .. } => None,
        }
    }

    /// The account this transaction names besides the sender, if it names one.
    /// Channel transactions after the open name only the channel, whose
    /// parties are in the ledger's state.
    pub fn counterparty(&self) -> Option<AccountId> {
        match self {
            TxKind::Transfer { to, .. } | TxKind::Mint { to, .. } => Some(*to),
            TxKind::RegisterDevice { device, .. }
            | TxKind::SetSpendLimit { device, .. }
            | TxKind::Freeze { device }
            | TxKind::Unfreeze { device }
            | TxKind::Sweep { device, .. } => Some(*device),
            TxKind::ChannelOpen { payee, .. } => Some(*payee),
            TxKind::StreamDelivery { ack, .. } => Some(ack.delivery.buyer),
            TxKind::HoldCreate { terms } => Some(terms.payee),
            TxKind::SetMessagingKey { .. }
            | TxKind::StreamOpen { .. }
            | TxKind::StreamConsent { .. }
            | TxKind::StreamClose { .. }
            | TxKind::ChannelClaim { .. }
            | TxKind::ChannelTopUp { .. }
            | TxKind::ChannelClose { .. }
            | TxKind::ChannelReclaim { .. }
            | TxKind::HoldAccept { .. }
            | TxKind::HoldRelease { .. }
            | TxKind::HoldRefund { .. }
            | TxKind::HoldDispute { .. }
            | TxKind::HoldDecide { .. }
            | TxKind::OfferOpen { .. }
            | TxKind::OfferUpdate { .. }
            | TxKind::OfferClose { .. }
            | TxKind::ClassRegister { .. }
            | TxKind::OrderPlace { .. }
            | TxKind::OrderCancel { .. }
            | TxKind::LeaseSettle { .. }
            | TxKind::LeaseClose { .. } => None,
        }
    }

    pub(super) fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        match self {
            TxKind::Transfer { to, amount, memo } => {
                assert!(memo.len() <= MEMO_BYTES_MAX, "memo over limit");
                w.u8(TAG_TRANSFER).account(to).amount(*amount);
                w.bytes_u8(memo);
            }
            TxKind::Mint { to, amount } => {
                w.u8(TAG_MINT).account(to).amount(*amount);
            }
            TxKind::RegisterDevice {
                device,
                metadata,
                device_signature,
            } => {
                assert!(metadata.len() <= METADATA_BYTES_MAX, "metadata over limit");
                w.u8(TAG_REGISTER_DEVICE).account(device);
                w.bytes_u16(metadata);
                w.signature(device_signature);
            }
            TxKind::SetSpendLimit { device, per_day } => {
                w.u8(TAG_SET_SPEND_LIMIT).account(device);
                match per_day {
                    None => w.u8(0),
                    Some(limit) => w.u8(1).amount(*limit),
                };
            }
            TxKind::Freeze { device } => {
                w.u8(TAG_FREEZE).account(device);
            }
            TxKind::Unfreeze { device } => {
                w.u8(TAG_UNFREEZE).account(device);
            }
            TxKind::Sweep { device, amount } => {
                w.u8(TAG_SWEEP).account(device).amount(*amount);
            }
            TxKind::SetMessagingKey { key } => {
                w.u8(TAG_SET_MESSAGING_KEY).bytes(&key.0);
            }
            TxKind::ChannelOpen {
                payee,
                deposit,
                expires_at,
                mode,
            } => {
                w.u8(TAG_CHANNEL_OPEN)
                    .account(payee)
                    .amount(*deposit)
                    .u64(expires_at.0);
                mode.encode(w);
            }
            TxKind::ChannelClaim { channel, proof } => {
                w.u8(TAG_CHANNEL_CLAIM).hash(&channel.0);
                proof.encode(w);
            }
            TxKind::ChannelTopUp {
                channel,
                amount,
                expires_at,
                extension,
            } => {
                w.u8(TAG_CHANNEL_TOP_UP)
                    .hash(&channel.0)
                    .amount(*amount)
                    .u64(expires_at.0);
                match extension {
                    None => w.u8(0),
                    Some(segment) => {
                        w.u8(1);
                        segment.encode(w);
                        w
                    }
                };
            }
            TxKind::ChannelClose { channel, proof } => {
                w.u8(TAG_CHANNEL_CLOSE).hash(&channel.0);
                match proof {
                    None => w.u8(0),
                    Some(proof) => {
                        w.u8(1);
                        proof.encode(w);
                        w
                    }
                };
            }
            TxKind::ChannelReclaim { channel } => {
                w.u8(TAG_CHANNEL_RECLAIM).hash(&channel.0);
            }
            TxKind::StreamOpen { terms } => {
                assert!(
                    terms.check().is_ok(),
                    "stream terms are checked before signing"
                );
                w.u8(TAG_STREAM_OPEN);
                terms.encode(w);
            }
            TxKind::StreamConsent { stream, consent } => {
                w.u8(TAG_STREAM_CONSENT).hash(&stream.0).hash(consent);
            }
            TxKind::StreamDelivery { stream, ack } => {
                w.u8(TAG_STREAM_DELIVERY).hash(&stream.0);
                ack.encode(w);
            }
            TxKind::StreamClose { stream } => {
                w.u8(TAG_STREAM_CLOSE).hash(&stream.0);
            }
            TxKind::HoldCreate { terms } => {
                assert!(
                    terms.check().is_ok(),
                    "hold terms are checked before signing"
                );
                w.u8(TAG_HOLD_CREATE);
                terms.encode(w);
            }
            TxKind::HoldAccept { hold } => {
                w.u8(TAG_HOLD_ACCEPT).hash(&hold.0);
            }
            TxKind::HoldRelease { hold, evidence } => {
                w.u8(TAG_HOLD_RELEASE).hash(&hold.0);
                match evidence {
                    None => w.u8(0),
                    Some(e) => {
                        assert!(
                            e.evidence.check().is_ok(),
                            "evidence is checked before signing"
                        );
                        w.u8(1);
                        e.encode(w);
                        w
                    }
                };
            }
            TxKind::HoldRefund { hold } => {
                w.u8(TAG_HOLD_REFUND).hash(&hold.0);
            }
            TxKind::HoldDispute { hold, reason } => {
                w.u8(TAG_HOLD_DISPUTE).hash(&hold.0).hash(reason);
            }
            TxKind::HoldDecide { hold, to_payee } => {
                w.u8(TAG_HOLD_DECIDE).hash(&hold.0).amount(*to_payee);
            }
            TxKind::OfferOpen { terms } => {
                assert!(
                    terms.check().is_ok(),
                    "offer terms are checked before signing"
                );
                w.u8(TAG_OFFER_OPEN);
                terms.encode(w);
            }
            TxKind::OfferUpdate { offer, terms } => {
                assert!(
                    terms.check().is_ok(),
                    "offer terms are checked before signing"
                );
                w.u8(TAG_OFFER_UPDATE).hash(&offer.0);
                terms.encode(w);
            }
            TxKind::OfferClose { offer } => {
                w.u8(TAG_OFFER_CLOSE).hash(&offer.0);
            }
            TxKind::ClassRegister { .. }
            | TxKind::OrderPlace { .. }
            | TxKind::OrderCancel { .. }
            | TxKind::LeaseSettle { .. }
            | TxKind::LeaseClose { .. } => super::resource::encode(self, w),
        }
    }

    pub(super) fn decode(r: &mut Reader<'_>) -> Result<TxKind, DecodeError> {
        let tag = r.u8("kind")?;
        Ok(match tag {
            TAG_TRANSFER => TxKind::Transfer {
                to: r.account("to")?,
                amount: r.amount("amount")?,
                memo: r.bytes_u8("memo", MEMO_BYTES_MAX)?.to_vec(),
            },
            TAG_MINT => TxKind::Mint {
                to: r.account("to")?,
                amount: r.amount("amount")?,
            },
            TAG_REGISTER_DEVICE => TxKind::RegisterDevice {
                device: r.account("device")?,
                metadata: r.bytes_u16("metadata", METADATA_BYTES_MAX)?.to_vec(),
                device_signature: r.signature("device_signature")?,
            },
            TAG_SET_SPEND_LIMIT => TxKind::SetSpendLimit {
                device: r.account("device")?,
                per_day: match r.u8("limit flag")? {
                    0 => None,
                    1 => Some(r.amount("per_day")?),
                    _ => return Err(DecodeError::InvalidValue { what: "limit flag" }),
                },
            },
            TAG_FREEZE => TxKind::Freeze {
                device: r.account("device")?,
            },
            TAG_UNFREEZE => TxKind::Unfreeze {
                device: r.account("device")?,
            },
            TAG_SWEEP => TxKind::Sweep {
                device: r.account("device")?,
                amount: r.amount("amount")?,
            },
            TAG_SET_MESSAGING_KEY => TxKind::SetMessagingKey {
                key: MessagingKey(r.hash("messaging key")?.0),
            },
            TAG_CHANNEL_OPEN => TxKind::ChannelOpen {
                payee: r.account("payee")?,
                deposit: r.amount("deposit")?,
                expires_at: Timestamp(r.u64("expires_at")?),
                mode: ChannelMode::decode(r)?,
            },
            TAG_CHANNEL_CLAIM => TxKind::ChannelClaim {
                channel: ChannelId(r.hash("channel")?),
                proof: ChannelProof::decode(r)?,
            },
            TAG_CHANNEL_TOP_UP => TxKind::ChannelTopUp {
                channel: ChannelId(r.hash("channel")?),
                amount: r.amount("amount")?,
                expires_at: Timestamp(r.u64("expires_at")?),
                extension: match r.u8("extension flag")? {
                    0 => None,
                    1 => Some(ChainSegment::decode(r)?),
                    _ => {
                        return Err(DecodeError::InvalidValue {
                            what: "extension flag",
                        })
                    }
                },
            },
            TAG_CHANNEL_CLOSE => TxKind::ChannelClose {
                channel: ChannelId(r.hash("channel")?),
                proof: match r.u8("proof flag")? {
                    0 => None,
                    1 => Some(ChannelProof::decode(r)?),
                    _ => return Err(DecodeError::InvalidValue { what: "proof flag" }),
                },
            },
            TAG_CHANNEL_RECLAIM => TxKind::ChannelReclaim {
                channel: ChannelId(r.hash("channel")?),
            },
            TAG_STREAM_OPEN => TxKind::StreamOpen {
                terms: StreamTerms::decode(r)?,
            },
            TAG_STREAM_CONSENT => TxKind::StreamConsent {
                stream: StreamId(r.hash("stream")?),
                consent: r.hash("consent")?,
            },
            TAG_STREAM_DELIVERY => TxKind::StreamDelivery {
                stream: StreamId(r.hash("stream")?),
                ack: DeliveryAck::decode(r)?,
            },
            TAG_STREAM_CLOSE => TxKind::StreamClose {
                stream: StreamId(r.hash("stream")?),
            },
            TAG_HOLD_CREATE => TxKind::HoldCreate {
                terms: HoldTerms::decode(r)?,
            },
            TAG_HOLD_ACCEPT => TxKind::HoldAccept {
                hold: HoldId(r.hash("hold")?),
            },
            TAG_HOLD_RELEASE => TxKind::HoldRelease {
                hold: HoldId(r.hash("hold")?),
                evidence: match r.u8("evidence flag")? {
                    0 => None,
                    1 => Some(SignedEvidence::decode(r)?),
                    _ => {
                        return Err(DecodeError::InvalidValue {
                            what: "evidence flag",
                        })
                    }
                },
            },
            TAG_HOLD_REFUND => TxKind::HoldRefund {
                hold: HoldId(r.hash("hold")?),
            },
            TAG_HOLD_DISPUTE => TxKind::HoldDispute {
                hold: HoldId(r.hash("hold")?),
                reason: r.hash("reason")?,
            },
            TAG_HOLD_DECIDE => TxKind::HoldDecide {
                hold: HoldId(r.hash("hold")?),
                to_payee: r.amount("to_payee")?,
            },
            TAG_OFFER_OPEN => TxKind::OfferOpen {
                terms: OfferTerms::decode(r)?,
            },
            TAG_OFFER_UPDATE => TxKind::OfferUpdate {
                offer: OfferId(r.hash("offer")?),
                terms: OfferTerms::decode(r)?,
            },
            TAG_OFFER_CLOSE => TxKind::OfferClose {
                offer: OfferId(r.hash("offer")?),
            },
            TAG_CLASS_REGISTER | TAG_ORDER_PLACE | TAG_ORDER_CANCEL | TAG_LEASE_SETTLE
            | TAG_LEASE_CLOSE => super::resource::decode(tag, r)?,
            other => return Err(DecodeError::UnknownKind(other)),
        })
    }
}
