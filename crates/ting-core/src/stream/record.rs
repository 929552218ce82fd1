//! A stream as the ledger holds it while it is open, and its canonical
//! record: the bytes a snapshot stores and the state map commits to, so a
//! buyer holding a proof reads the terms, the consent hash and the seller's
//! delivery record itself.
//!
//! Record layout (little-endian): seller [32], owner [32], deposit u64,
//! opened_at u64, terms ([`super::terms`]), buyer count u8, then per buyer
//! sorted by account: buyer [32], epochs u64, paid u64. The stream id is not
//! in the record: it is the key.

use crate::prelude::*;

use super::terms::StreamTerms;
use super::StreamId;
use crate::account::AccountId;
use crate::amount::Amount;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
use crate::keys::{self, Keypair, Signature, SignatureError};
pub use crate::limits::STREAM_BUYERS_MAX;
use crate::types::Timestamp;

/// The longest stream record: eight fields with the longest names and
/// units, time epochs, the longest area, and every buyer slot taken.
pub const STREAM_RECORD_BYTES_MAX: usize = 32 * 2
    + 8 * 2
    + (1 + crate::limits::STREAM_FIELDS_MAX
        * (1 + crate::limits::FIELD_NAME_BYTES_MAX + 1 + crate::limits::UNIT_BYTES_MAX + 2)
        + 8
        + 1
        + 8
        + 1
        + crate::limits::GEOHASH_CHARS_MAX as usize
        + 32)
    + 1
    + STREAM_BUYERS_MAX * (32 + 8 + 8);

/// Prefix of a stream id's preimage.
pub const STREAM_ID_DOMAIN: &[u8] = b"ting:stream-id:v1";
/// Prefix of a buyer's delivery acknowledgement.
pub const DELIVERY_DOMAIN: &[u8] = b"ting:stream-delivery:v1";

impl StreamId {
    /// The id of the stream `seller` opens with the transaction of nonce
    /// `nonce`: known in advance, never shared, bound to one network.
    pub fn derive(genesis: &Hash32, seller: &AccountId, nonce: crate::types::Nonce) -> StreamId {
        StreamId(Hash32::digest(&[
            STREAM_ID_DOMAIN,
            &genesis.0,
            seller.as_bytes(),
            &nonce.0.to_le_bytes(),
        ]))
    }

    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<StreamId> {
        Hash32::from_hex(text).map(StreamId)
    }
}

impl core::fmt::Display for StreamId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// What one buyer has acknowledged: how many epochs' keys it received and
/// what it paid for them, in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub buyer: AccountId,
    pub epochs: u64,
    pub paid: Amount,
}

/// A buyer's signed acknowledgement of a stream's delivery so far: its
/// running totals, which only ever grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryAck {
    pub delivery: Delivery,
    pub signature: Signature,
}

/// Bytes of a delivery acknowledgement's signed message.
pub const DELIVERY_MESSAGE_BYTES: usize = DELIVERY_DOMAIN.len() + 32 * 3 + 8 + 8;

/// The message a buyer signs: `DELIVERY_DOMAIN || genesis [32] || stream
/// [32] || buyer [32] || epochs u64 || paid u64` (135 bytes).
pub fn delivery_message(
    genesis: &Hash32,
    stream: &StreamId,
    d: &Delivery,
) -> [u8; DELIVERY_MESSAGE_BYTES] {
    let mut m = [0u8; DELIVERY_MESSAGE_BYTES];
    let mut w = Writer::over(&mut m);
    w.bytes(DELIVERY_DOMAIN)
        .hash(genesis)
        .hash(&stream.0)
        .account(&d.buyer)
        .u64(d.epochs)
        .amount(d.paid);
    let written = w.finish().expect("the message has a fixed size");
    assert_eq!(written, m.len(), "the message fills its array");
    m
}

impl DeliveryAck {
    /// The buyer's acknowledgement of `delivery` on `stream`.
    pub fn sign(
        buyer: &Keypair,
        genesis: &Hash32,
        stream: &StreamId,
        epochs: u64,
        paid: Amount,
    ) -> DeliveryAck {
        let delivery = Delivery {
            buyer: buyer.account(),
            epochs,
            paid,
        };
        let signature = buyer.sign(&delivery_message(genesis, stream, &delivery));
        DeliveryAck {
            delivery,
            signature,
        }
    }

    /// Checks the buyer's signature.
    pub fn verify(&self, genesis: &Hash32, stream: &StreamId) -> Result<(), SignatureError> {
        let message = delivery_message(genesis, stream, &self.delivery);
        keys::verify(&self.delivery.buyer, &message, &self.signature)
    }

    pub(crate) fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.account(&self.delivery.buyer)
            .u64(self.delivery.epochs)
            .amount(self.delivery.paid)
            .signature(&self.signature);
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<DeliveryAck, DecodeError> {
        Ok(DeliveryAck {
            delivery: Delivery {
                buyer: r.account("buyer")?,
                epochs: r.u64("epochs")?,
                paid: r.amount("paid")?,
            },
            signature: r.signature("buyer signature")?,
        })
    }
}

/// An open stream as the ledger holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stream {
    pub seller: AccountId,
    /// The seller's owner when it opened the stream.
    pub owner: AccountId,
    /// What the seller put down; it comes back when the stream closes.
    pub deposit: Amount,
    pub opened_at: Timestamp,
    pub terms: StreamTerms,
    /// Each buyer's acknowledged totals, sorted by buyer.
    pub buyers: Vec<Delivery>,
}

impl Stream {
    /// Epochs delivered and money paid over every buyer (saturating).
    pub fn delivered(&self) -> (u64, Amount) {
        self.buyers.iter().fold((0, Amount::ZERO), |(e, p), d| {
            (
                e.saturating_add(d.epochs),
                p.checked_add(d.paid).unwrap_or(Amount::MAX),
            )
        })
    }

    /// The canonical record.
    pub fn to_record(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(256);
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Appends the canonical record to `w`.
    pub fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.account(&self.seller)
            .account(&self.owner)
            .amount(self.deposit)
            .u64(self.opened_at.0);
        self.terms.encode(w);
        w.u8(u8::try_from(self.buyers.len()).expect("at most STREAM_BUYERS_MAX buyers"));
        for d in &self.buyers {
            w.account(&d.buyer).u64(d.epochs).amount(d.paid);
        }
    }

    /// Reads one record from `r` and checks its own rules (valid terms,
    /// buyers sorted and unique, within the limit).
    pub fn decode(r: &mut Reader<'_>) -> Result<Stream, DecodeError> {
        let seller = r.account("seller")?;
        let owner = r.account("owner")?;
        let deposit = r.amount("deposit")?;
        let opened_at = Timestamp(r.u64("opened_at")?);
        let terms = StreamTerms::decode(r)?;
        let count = usize::from(r.u8("buyer count")?);
        if count > STREAM_BUYERS_MAX {
            return Err(DecodeError::TooLong {
                what: "buyers",
                len: count,
                max: STREAM_BUYERS_MAX,
            });
        }
        let mut buyers: Vec<Delivery> = Vec::with_capacity(count);
        for _ in 0..count {
            let d = Delivery {
                buyer: r.account("buyer")?,
                epochs: r.u64("epochs")?,
                paid: r.amount("paid")?,
            };
            if buyers.last().is_some_and(|prev| prev.buyer >= d.buyer) {
                return Err(DecodeError::InvalidValue {
                    what: "buyers out of order",
                });
            }
            buyers.push(d);
        }
        Ok(Stream {
            seller,
            owner,
            deposit,
            opened_at,
            terms,
            buyers,
        })
    }

    /// Decodes a record that must be the whole of `bytes`.
    pub fn from_record(bytes: &[u8]) -> Result<Stream, DecodeError> {
        let mut r = Reader::new(bytes);
        let stream = Stream::decode(&mut r)?;
        r.finish("stream record")?;
        Ok(stream)
    }
}
