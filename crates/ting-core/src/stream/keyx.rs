//! Buying an epoch's key: what a buyer sends the seller, and what comes
//! back (docs/wire.md §16, docs/streams.md). All three travel as signed
//! envelopes to the other side's inbox, so each side knows who sent them.
//!
//! - `0x0110 key request` (buyer → seller): the stream and epoch, a channel
//!   payment (absent when asking again for an epoch already paid for), the
//!   buyer's running delivery acknowledgement for the seller's record, and
//!   a certifier's attestation when the consent record admits buyers by
//!   category. Bytes: `version u8 | stream [32] | epoch u64 | flags u8 (bit
//!   0 payment, bit 1 acknowledgement, bit 2 attestation) | payment (u8
//!   len) | acknowledgement (buyer [32], epochs u64, paid u64, signature
//!   [64]) | attestation`, each part present only if its flag is set.
//! - `0x0111 key grant` (seller → buyer): `version u8 | stream [32] | epoch
//!   u64 | sealed key (u8 len)`, the epoch key sealed to the buyer's
//!   messaging key ([`super::epoch::EpochKey::seal_to`]).
//! - `0x0113 delivery` (buyer → seller): `version u8 | stream [32] |
//!   acknowledgement`, sent once a key is in hand, so the seller can put the
//!   buyer's running totals on the ledger as its delivery record.
//! - `0x0112 key refusal` (seller → buyer): `version u8 | stream [32] |
//!   epoch u64 | credit u64 | code (u8 len, ASCII) | message (u16 len,
//!   UTF-8)`; `credit` is what the buyer has paid on the channel and not
//!   yet spent on a key, so it can pay only the rest.

use crate::prelude::*;

use super::record::DeliveryAck;
use super::StreamId;
use crate::amount::Amount;
use crate::channel::Payment;
use crate::consent::attestation::SignedAttestation;
use crate::encoding::{DecodeError, Reader, Writer};
use crate::limits::{ENVELOPE_CODE_BYTES_MAX, ENVELOPE_MESSAGE_BYTES_MAX};

/// The only version of the three payloads this code reads and writes.
pub const KEYX_VERSION: u8 = 1;
const FLAG_PAYMENT: u8 = 0x01;
const FLAG_ACK: u8 = 0x02;
const FLAG_ATTESTATION: u8 = 0x04;
/// The longest sealed key a grant carries (HPKE `enc`, the key, the tag).
pub const SEALED_KEY_BYTES_MAX: usize = 32 + 32 + 16;

/// A buyer asks for the key of `epoch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRequest {
    pub stream: StreamId,
    pub epoch: u64,
    pub payment: Option<Payment>,
    pub ack: Option<DeliveryAck>,
    pub attestation: Option<SignedAttestation>,
}

/// A buyer's acknowledgement of what it has received and paid so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryNote {
    pub stream: StreamId,
    pub ack: DeliveryAck,
}

impl DeliveryNote {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(1 + 32 + 32 + 16 + 64);
        w.u8(KEYX_VERSION).hash(&self.stream.0);
        self.ack.encode(&mut w);
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<DeliveryNote, DecodeError> {
        let mut r = Reader::new(bytes);
        version(&mut r, "delivery note")?;
        let note = DeliveryNote {
            stream: StreamId(r.hash("stream")?),
            ack: DeliveryAck::decode(&mut r)?,
        };
        r.finish("delivery note")?;
        Ok(note)
    }
}

/// The seller's answer: the key, sealed to the buyer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyGrant {
    pub stream: StreamId,
    pub epoch: u64,
    pub sealed_key: Vec<u8>,
}

/// The seller's refusal, with what the buyer has to its credit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRefusal {
    pub stream: StreamId,
    pub epoch: u64,
    pub credit: Amount,
    pub code: String,
    pub message: String,
}

fn version(r: &mut Reader<'_>, what: &'static str) -> Result<(), DecodeError> {
    match r.u8("version")? {
        KEYX_VERSION => Ok(()),
        version => Err(DecodeError::UnsupportedVersion { what, version }),
    }
}

impl KeyRequest {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(256);
        w.u8(KEYX_VERSION).hash(&self.stream.0).u64(self.epoch);
        let flag = |set: bool, bit: u8| if set { bit } else { 0 };
        let flags = flag(self.payment.is_some(), FLAG_PAYMENT)
            | flag(self.ack.is_some(), FLAG_ACK)
            | flag(self.attestation.is_some(), FLAG_ATTESTATION);
        w.u8(flags);
        if let Some(p) = &self.payment {
            w.bytes_u8(&p.encode());
        }
        if let Some(ack) = &self.ack {
            ack.encode(&mut w);
        }
        if let Some(a) = &self.attestation {
            w.bytes(&a.encode());
        }
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<KeyRequest, DecodeError> {
        let mut r = Reader::new(bytes);
        version(&mut r, "key request")?;
        let stream = StreamId(r.hash("stream")?);
        let epoch = r.u64("epoch")?;
        let flags = r.u8("flags")?;
        if flags & !(FLAG_PAYMENT | FLAG_ACK | FLAG_ATTESTATION) != 0 {
            return Err(DecodeError::InvalidValue { what: "flags" });
        }
        let payment = if flags & FLAG_PAYMENT != 0 {
            Some(Payment::decode(r.bytes_u8("payment", Payment::BYTES_MAX)?)?)
        } else {
            None
        };
        let ack = if flags & FLAG_ACK != 0 {
            Some(DeliveryAck::decode(&mut r)?)
        } else {
            None
        };
        let attestation = if flags & FLAG_ATTESTATION != 0 {
            Some(SignedAttestation::read(&mut r)?)
        } else {
            None
        };
        r.finish("key request")?;
        Ok(KeyRequest {
            stream,
            epoch,
            payment,
            ack,
            attestation,
        })
    }
}

impl KeyGrant {
    pub fn encode(&self) -> Vec<u8> {
        assert!(
            self.sealed_key.len() <= SEALED_KEY_BYTES_MAX,
            "a sealed key"
        );
        let mut w = Writer::with_capacity(128);
        w.u8(KEYX_VERSION).hash(&self.stream.0).u64(self.epoch);
        w.bytes_u8(&self.sealed_key);
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<KeyGrant, DecodeError> {
        let mut r = Reader::new(bytes);
        version(&mut r, "key grant")?;
        let grant = KeyGrant {
            stream: StreamId(r.hash("stream")?),
            epoch: r.u64("epoch")?,
            sealed_key: r.bytes_u8("sealed key", SEALED_KEY_BYTES_MAX)?.to_vec(),
        };
        r.finish("key grant")?;
        Ok(grant)
    }
}

impl KeyRefusal {
    /// Encodes; a code or message over its limit is cut (a refusal must
    /// not itself fail).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(128);
        w.u8(KEYX_VERSION)
            .hash(&self.stream.0)
            .u64(self.epoch)
            .amount(self.credit);
        let code: String = self
            .code
            .chars()
            .filter(char::is_ascii)
            .take(ENVELOPE_CODE_BYTES_MAX)
            .collect();
        w.bytes_u8(code.as_bytes());
        let mut end = self.message.len().min(ENVELOPE_MESSAGE_BYTES_MAX);
        while !self.message.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        w.bytes_u16(&self.message.as_bytes()[..end]);
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<KeyRefusal, DecodeError> {
        let mut r = Reader::new(bytes);
        version(&mut r, "key refusal")?;
        let stream = StreamId(r.hash("stream")?);
        let epoch = r.u64("epoch")?;
        let credit = r.amount("credit")?;
        let code = r.bytes_u8("code", ENVELOPE_CODE_BYTES_MAX)?;
        if !code.is_ascii() {
            return Err(DecodeError::InvalidValue { what: "code" });
        }
        let message = core::str::from_utf8(r.bytes_u16("message", ENVELOPE_MESSAGE_BYTES_MAX)?)
            .map_err(|_| DecodeError::InvalidValue { what: "message" })?;
        r.finish("key refusal")?;
        Ok(KeyRefusal {
            stream,
            epoch,
            credit,
            code: String::from_utf8_lossy(code).into_owned(),
            message: message.to_owned(),
        })
    }
}
