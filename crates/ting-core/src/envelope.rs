//! The signed envelope that carries every inbox message over MQTT.
//!
//! docs/mqtt.md §2 is the agreed spec and docs/wire.md gives the bytes: a
//! fixed 124-byte header (version through flags), a length-prefixed payload of
//! at most `ENVELOPE_PAYLOAD_BYTES_MAX` bytes, and an Ed25519 signature by the
//! sender over `ENVELOPE_DOMAIN ‖` every byte before it. The header bytes are
//! also the associated data of an encrypted payload (see `seal`), so a
//! ciphertext cannot be moved to another envelope.
//!
//! [`receive`] applies the receiving rules of docs/mqtt.md §3 in their order,
//! except decryption, which needs the receiver's secret; [`receive_batch`]
//! applies the same rules to what has queued up, checking the signatures in
//! one batch. [`ReplayGuard`] is pure: the caller passes the clock in, and the
//! cache is bounded.

use crate::prelude::*;

use alloc::collections::{BTreeMap, BTreeSet};
use core::fmt;

use rand_core::CryptoRng;
use thiserror::Error;

use crate::account::AccountId;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
use crate::keys::{self, BatchVerifier, Keypair, Signature, SignatureError};
use crate::limits::{ENVELOPE_PAYLOAD_BYTES_MAX, ENVELOPE_WINDOW_MS, REPLAY_CACHE_MAX};
use crate::types::Timestamp;

mod hello;
mod payloads;

pub use hello::{check_hello, Hello, HelloError, HelloPayload, HELLO_INTERVAL_MS};
pub use payloads::{ErrorPayload, ReceiptPayload, RefusalPayload};

/// Prefix of every envelope signing message.
pub const ENVELOPE_DOMAIN: &[u8] = b"ting:envelope:v2";
/// The only envelope version this code reads and writes.
pub const ENVELOPE_VERSION: u8 = 2;
/// Bytes from version through flags: the HPKE associated data.
pub const HEADER_BYTES: usize = 1 + 32 + 32 + 32 + 2 + 16 + 8 + 1;
/// Flag bit 0: the payload is HPKE-encrypted to the recipient.
pub const FLAG_ENCRYPTED: u8 = 0x01;
/// Longest encoded envelope: header, payload length, payload, signature.
pub const ENVELOPE_BYTES_MAX: usize = HEADER_BYTES + 4 + ENVELOPE_PAYLOAD_BYTES_MAX + 64;

/// Chosen by the sender, unique per sender (random, or a counter).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvelopeId(pub [u8; 16]);

impl EnvelopeId {
    /// An id from a per-sender counter: the counter little-endian, zero-padded.
    pub fn from_counter(n: u64) -> EnvelopeId {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&n.to_le_bytes());
        EnvelopeId(id)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for EnvelopeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EnvelopeId({})", self.to_hex())
    }
}

/// What an envelope's payload is (docs/mqtt.md §2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EnvelopeType(pub u16);

impl EnvelopeType {
    /// A transaction became durable: [`ReceiptPayload`].
    pub const RECEIPT: Self = Self(0x0001);
    /// The ledger refused a transaction: [`RefusalPayload`].
    pub const REFUSAL: Self = Self(0x0002);
    /// The node could not take a payload: [`ErrorPayload`].
    pub const ERROR: Self = Self(0x0003);
    /// A node announces that it serves on this broker: [`HelloPayload`].
    pub const HELLO: Self = Self(0x0004);
    /// Application bytes between devices.
    pub const DATA: Self = Self(0x0100);
    /// A channel payment (wire.md §13.5).
    pub const PAYMENT: Self = Self(0x0101);
    /// A buyer asks a seller for an epoch's key ([`crate::stream::keyx::KeyRequest`]).
    pub const KEY_REQUEST: Self = Self(0x0110);
    /// A seller sends an epoch's key, sealed ([`crate::stream::keyx::KeyGrant`]).
    pub const KEY_GRANT: Self = Self(0x0111);
    /// A seller refuses a key request ([`crate::stream::keyx::KeyRefusal`]).
    pub const KEY_REFUSAL: Self = Self(0x0112);
    /// A buyer acknowledges what it received ([`crate::stream::keyx::DeliveryNote`]).
    pub const DELIVERY: Self = Self(0x0113);
    /// A provider proposes terms for a call ([`crate::market::cfp::Proposal`]).
    pub const PROPOSAL: Self = Self(0x0120);
    /// A buyer counters a proposal ([`crate::market::cfp::Counter`]).
    pub const COUNTER: Self = Self(0x0121);
    /// A buyer accepts a proposal, naming the hold ([`crate::market::cfp::Accept`]).
    pub const ACCEPT: Self = Self(0x0122);
    /// Either side turns the other down ([`crate::market::cfp::Decline`]).
    pub const DECLINE: Self = Self(0x0123);
    /// A buyer passes its device's evidence on ([`crate::market::cfp::EvidenceNote`]).
    pub const EVIDENCE: Self = Self(0x0124);

    /// Types `0x0000`–`0x00ff` are the node's; a device takes them only from
    /// the node it trusts.
    pub fn is_node_type(self) -> bool {
        self.0 < 0x0100
    }

    /// The type's stable name; `"unknown"` for a type this code does not know.
    pub fn name(self) -> &'static str {
        match self {
            Self::RECEIPT => "receipt",
            Self::REFUSAL => "refusal",
            Self::ERROR => "error",
            Self::HELLO => "hello",
            Self::DATA => "data",
            Self::PAYMENT => "payment",
            Self::KEY_REQUEST => "key_request",
            Self::KEY_GRANT => "key_grant",
            Self::KEY_REFUSAL => "key_refusal",
            Self::DELIVERY => "delivery",
            Self::PROPOSAL => "proposal",
            Self::COUNTER => "counter",
            Self::ACCEPT => "accept",
            Self::DECLINE => "decline",
            Self::EVIDENCE => "evidence",
            _ => "unknown",
        }
    }
}

/// Every field before the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvelopeHeader {
    /// The genesis hash of the network it belongs to.
    pub genesis: Hash32,
    pub sender: AccountId,
    pub recipient: AccountId,
    pub kind: EnvelopeType,
    pub id: EnvelopeId,
    /// Milliseconds since the Unix epoch, by the sender's clock.
    pub timestamp: Timestamp,
    /// The payload is HPKE-encrypted to the recipient (flags bit 0).
    pub encrypted: bool,
}

impl EnvelopeHeader {
    /// The header's canonical bytes, version through flags.
    pub fn to_bytes(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        let mut w = Writer::over(&mut out);
        self.encode(&mut w);
        let len = w.finish().expect("an envelope header has a fixed length");
        debug_assert_eq!(len, HEADER_BYTES);
        out
    }

    fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        let flags = if self.encrypted { FLAG_ENCRYPTED } else { 0 };
        w.u8(ENVELOPE_VERSION)
            .hash(&self.genesis)
            .account(&self.sender)
            .account(&self.recipient)
            .u16(self.kind.0)
            .bytes(&self.id.0)
            .u64(self.timestamp.0)
            .u8(flags);
    }

    fn decode(r: &mut Reader<'_>) -> Result<EnvelopeHeader, DecodeError> {
        let version = r.u8("envelope version")?;
        if version != ENVELOPE_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "envelope",
                version,
            });
        }
        let genesis = r.hash("genesis")?;
        let sender = r.account("sender")?;
        let recipient = r.account("recipient")?;
        let kind = EnvelopeType(r.u16("type")?);
        let mut id = [0u8; 16];
        id.copy_from_slice(r.take(16, "id")?);
        let timestamp = Timestamp(r.u64("timestamp")?);
        let encrypted = match r.u8("flags")? {
            0 => false,
            FLAG_ENCRYPTED => true,
            _ => return Err(DecodeError::InvalidValue { what: "flags" }),
        };
        Ok(EnvelopeHeader {
            genesis,
            sender,
            recipient,
            kind,
            id: EnvelopeId(id),
            timestamp,
            encrypted,
        })
    }
}

/// Why an envelope could not be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    #[error("the payload is {len} bytes; the limit is {max}")]
    PayloadTooLong { len: usize, max: usize },
    #[error("the signing key is not the header's sender")]
    WrongSigner,
    #[error("the recipient's messaging key is not canonical or has small order")]
    InvalidRecipientKey,
}

impl EnvelopeError {
    pub fn code(&self) -> &'static str {
        match self {
            EnvelopeError::PayloadTooLong { .. } => "payload_too_long",
            EnvelopeError::WrongSigner => "wrong_signer",
            EnvelopeError::InvalidRecipientKey => "invalid_messaging_key",
        }
    }
}

/// A signed envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub header: EnvelopeHeader,
    pub payload: Vec<u8>,
    pub signature: Signature,
}

impl Envelope {
    /// Signs `payload` under `header` with `key`, which must be the header's sender.
    pub fn sign(
        header: EnvelopeHeader,
        payload: Vec<u8>,
        key: &Keypair,
    ) -> Result<Envelope, EnvelopeError> {
        if payload.len() > ENVELOPE_PAYLOAD_BYTES_MAX {
            return Err(EnvelopeError::PayloadTooLong {
                len: payload.len(),
                max: ENVELOPE_PAYLOAD_BYTES_MAX,
            });
        }
        if key.account() != header.sender {
            return Err(EnvelopeError::WrongSigner);
        }
        let signature = with_signing_parts(&header, &payload, |m| key.sign_parts(m));
        Ok(Envelope {
            header,
            payload,
            signature,
        })
    }

    /// The canonical bytes, as published on an inbox topic.
    pub fn encode(&self) -> Vec<u8> {
        assert!(self.payload.len() <= ENVELOPE_PAYLOAD_BYTES_MAX);
        let mut w = Writer::with_capacity(
            HEADER_BYTES
                .saturating_add(68)
                .saturating_add(self.payload.len()),
        );
        write_unsigned(&mut w, &self.header, &self.payload);
        w.signature(&self.signature);
        w.into_bytes()
    }

    /// Decodes strictly: one version, no unknown flag, a bounded payload,
    /// no trailing bytes. Does not check the signature.
    pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
        if bytes.len() > ENVELOPE_BYTES_MAX {
            return Err(DecodeError::TooLong {
                what: "envelope",
                len: bytes.len(),
                max: ENVELOPE_BYTES_MAX,
            });
        }
        let mut r = Reader::new(bytes);
        let header = EnvelopeHeader::decode(&mut r)?;
        let len = usize::try_from(r.u32("payload length")?).unwrap_or(usize::MAX);
        if len > ENVELOPE_PAYLOAD_BYTES_MAX {
            return Err(DecodeError::TooLong {
                what: "payload",
                len,
                max: ENVELOPE_PAYLOAD_BYTES_MAX,
            });
        }
        let payload = r.take(len, "payload")?.to_vec();
        let signature = r.signature("signature")?;
        r.finish("envelope")?;
        Ok(Envelope {
            header,
            payload,
            signature,
        })
    }

    /// Checks the sender's signature under Ting's one rule (ZIP-215).
    pub fn verify(&self) -> Result<(), SignatureError> {
        with_signing_parts(&self.header, &self.payload, |m| {
            keys::verify_parts(&self.header.sender, m, &self.signature)
        })
    }

    /// Version through flags: the associated data of an encrypted payload.
    pub fn header_bytes(&self) -> Vec<u8> {
        self.header.to_bytes().to_vec()
    }

    /// The bytes the sender signs: `ENVELOPE_DOMAIN ‖` everything before the signature.
    pub fn signing_message(&self) -> Vec<u8> {
        signing_message(&self.header, &self.payload)
    }
}

fn write_unsigned(w: &mut Writer, header: &EnvelopeHeader, payload: &[u8]) {
    header.encode(w);
    w.count_u32(payload.len()).bytes(payload);
}

fn signing_message(header: &EnvelopeHeader, payload: &[u8]) -> Vec<u8> {
    with_signing_parts(header, payload, |m| m.concat())
}

/// Hands `ENVELOPE_DOMAIN || header || payload length || payload` to `f` in
/// pieces, so that signing and checking copy nothing (firmware has no heap
/// to spare for it).
fn with_signing_parts<R>(
    header: &EnvelopeHeader,
    payload: &[u8],
    f: impl FnOnce(&[&[u8]]) -> R,
) -> R {
    let head = header.to_bytes();
    let len = u32::try_from(payload.len())
        .expect("payload checked against its limit")
        .to_le_bytes();
    f(&[ENVELOPE_DOMAIN, &head, &len, payload])
}

/// Why a received envelope was dropped (docs/mqtt.md §3), in checking order.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ReceiveError {
    #[error("not a canonical envelope: {0}")]
    Malformed(DecodeError),
    #[error("the envelope is for another network")]
    WrongNetwork,
    #[error("the envelope is for another recipient")]
    WrongRecipient,
    #[error("the sender's signature does not verify")]
    BadSignature,
    #[error("the timestamp is outside the receiver's window")]
    Stale,
    #[error("this sender's envelope id was already seen")]
    Replayed,
    #[error("the replay cache is full of live entries")]
    ReplayCacheFull,
    #[error("this sender already holds its share of the replay cache")]
    SenderOverQuota,
    #[error("the encrypted payload does not decrypt")]
    BadCiphertext,
}

impl ReceiveError {
    pub fn code(&self) -> &'static str {
        match self {
            ReceiveError::Malformed(_) => "malformed",
            ReceiveError::WrongNetwork => "wrong_network",
            ReceiveError::WrongRecipient => "wrong_recipient",
            ReceiveError::BadSignature => "bad_signature",
            ReceiveError::Stale => "stale",
            ReceiveError::Replayed => "replayed",
            ReceiveError::ReplayCacheFull => "replay_cache_full",
            ReceiveError::SenderOverQuota => "sender_over_quota",
            ReceiveError::BadCiphertext => "bad_ciphertext",
        }
    }
}

impl From<DecodeError> for ReceiveError {
    fn from(e: DecodeError) -> Self {
        ReceiveError::Malformed(e)
    }
}

/// Applies docs/mqtt.md §3 in order, short of decryption: decodes, checks the
/// network (the genesis hash), the recipient, the signature, the window and
/// the replay cache. Only an envelope whose signature verified enters the cache.
pub fn receive(
    bytes: &[u8],
    me: &AccountId,
    genesis: &Hash32,
    guard: &mut ReplayGuard,
    now: Timestamp,
) -> Result<Envelope, ReceiveError> {
    let envelope = decode_addressed(bytes, me, genesis)?;
    envelope.verify().map_err(|_| ReceiveError::BadSignature)?;
    remember(envelope, guard, now)
}

/// Most envelopes one [`receive_batch`] call takes: a receiver drains at most
/// this many from its queue at a time. Past a few dozen, a larger batch saves
/// little verification time, and a forged envelope in it costs the batch a
/// check of every item alone.
pub const RECEIVE_BATCH_MAX: usize = 256;

/// [`receive`] over envelopes that have queued up, with the same checks in the
/// same order: `result[i]` is what `receive(items[i], ..)` would have answered
/// had the items been received one by one in order, at the same `now` and on
/// the same `guard`. Only the signature checks are done together, in one
/// [`BatchVerifier`] over the envelopes that pass decoding, network and
/// recipient, which costs about half of checking each alone; a batch that
/// fails is checked item by item, so a forgery refuses only itself. The
/// replay cache then sees the verified envelopes in their order, as
/// `receive` would have shown them.
///
/// `items` holds at most [`RECEIVE_BATCH_MAX`] envelopes (asserted: the
/// caller drains its queue in batches of at most that many).
pub fn receive_batch<R: CryptoRng>(
    items: &[&[u8]],
    me: &AccountId,
    genesis: &Hash32,
    guard: &mut ReplayGuard,
    now: Timestamp,
    rng: &mut R,
) -> Vec<Result<Envelope, ReceiveError>> {
    assert!(
        items.len() <= RECEIVE_BATCH_MAX,
        "a receive batch of {} envelopes is over RECEIVE_BATCH_MAX",
        items.len()
    );
    let addressed: Vec<Result<Envelope, ReceiveError>> = items
        .iter()
        .map(|bytes| decode_addressed(bytes, me, genesis))
        .collect();
    let mut batch = BatchVerifier::with_capacity(addressed.len());
    for envelope in addressed.iter().flatten() {
        batch.queue(
            &envelope.header.sender,
            &envelope.signing_message(),
            &envelope.signature,
        );
    }
    let queued = batch.len();
    let valid = batch.verify(rng);
    assert_eq!(valid.len(), queued, "one verdict per queued signature");
    let mut verdicts = valid.into_iter();
    addressed
        .into_iter()
        .map(|checked| {
            let envelope = checked?;
            let verified = verdicts.next().expect("a verdict for each queued envelope");
            if !verified {
                return Err(ReceiveError::BadSignature);
            }
            remember(envelope, guard, now)
        })
        .collect()
}

/// The checks before the signature: a canonical envelope, for this network
/// and this recipient.
fn decode_addressed(
    bytes: &[u8],
    me: &AccountId,
    genesis: &Hash32,
) -> Result<Envelope, ReceiveError> {
    let envelope = Envelope::decode(bytes)?;
    if envelope.header.genesis != *genesis {
        return Err(ReceiveError::WrongNetwork);
    }
    if envelope.header.recipient != *me {
        return Err(ReceiveError::WrongRecipient);
    }
    Ok(envelope)
}

/// The checks after the signature: the window and the replay cache. Only a
/// verified envelope may come here, so only such an envelope enters the cache.
fn remember(
    envelope: Envelope,
    guard: &mut ReplayGuard,
    now: Timestamp,
) -> Result<Envelope, ReceiveError> {
    let h = &envelope.header;
    guard.check(&h.sender, &h.id, h.timestamp, now)?;
    Ok(envelope)
}

/// Remembers `(sender, id)` of recent envelopes so that each is taken once.
///
/// An entry is kept while its envelope's timestamp is within the window of the
/// latest clock reading seen (`now_max`); after that the envelope would be
/// refused as stale anyway, so forgetting it lets no replay through. The guard
/// judges staleness against both `now` and `now_max`, so a clock stepping
/// backwards cannot revive an envelope whose entry was already forgotten.
///
/// Room is shared so that no stranger can crowd out the senders that matter:
/// each sender not named in [`ReplayGuard::reserve_for`] holds at most
/// [`REPLAY_SENDER_SHARE`] of the capacity, and such senders together at most
/// half of it; the other half is kept for the reserved senders (a device
/// reserves it for its network's sequencers, whose receipts it must take).
#[derive(Debug)]
pub struct ReplayGuard {
    capacity: usize,
    /// How long an envelope stays fresh, in the network's time:
    /// `ENVELOPE_WINDOW_MS`, times the speed of an accelerated clock.
    window_ms: u64,
    now_max: Timestamp,
    reserved: BTreeSet<AccountId>,
    seen: BTreeMap<(AccountId, EnvelopeId), Timestamp>,
    by_time: BTreeSet<(Timestamp, AccountId, EnvelopeId)>,
    per_sender: BTreeMap<AccountId, usize>,
    strangers: usize,
}

/// The share of a replay cache one sender that is not reserved may hold: 1/64.
pub const REPLAY_SENDER_SHARE: usize = 64;

impl ReplayGuard {
    /// A guard holding at most `capacity` entries, itself at most `REPLAY_CACHE_MAX`.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.min(REPLAY_CACHE_MAX);
        ReplayGuard {
            capacity,
            window_ms: ENVELOPE_WINDOW_MS,
            now_max: Timestamp(0),
            reserved: BTreeSet::new(),
            seen: BTreeMap::new(),
            by_time: BTreeSet::new(),
            per_sender: BTreeMap::new(),
            strangers: 0,
        }
    }

    /// The same guard for a network on `clock`: envelopes are stamped in its
    /// time, and their window lasts the same wall time as on the real clock
    /// ([`crate::LedgerClock::window_ms`]).
    pub fn on_clock(mut self, clock: crate::LedgerClock) -> Self {
        self.window_ms = clock.window_ms(ENVELOPE_WINDOW_MS);
        self
    }

    /// Keeps half the cache for `senders`, who are held to no per-sender share.
    pub fn reserve_for(mut self, senders: impl IntoIterator<Item = AccountId>) -> Self {
        self.reserved.extend(senders);
        self
    }

    /// Live entries now held.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Refuses a stale timestamp or a seen `(sender, id)`, or a sender over its
    /// share; otherwise records it.
    pub fn check(
        &mut self,
        sender: &AccountId,
        id: &EnvelopeId,
        timestamp: Timestamp,
        now: Timestamp,
    ) -> Result<(), ReceiveError> {
        self.now_max = self.now_max.max(now);
        let horizon = self.now_max.0.saturating_sub(self.window_ms);
        if timestamp.0.abs_diff(now.0) > self.window_ms || timestamp.0 < horizon {
            return Err(ReceiveError::Stale);
        }
        self.forget_before(Timestamp(horizon));
        let key = (*sender, *id);
        if self.seen.contains_key(&key) {
            return Err(ReceiveError::Replayed);
        }
        self.check_room(sender)?;
        self.seen.insert(key, timestamp);
        self.by_time.insert((timestamp, *sender, *id));
        let count = self.per_sender.entry(*sender).or_insert(0);
        *count = count.saturating_add(1);
        if !self.reserved.contains(sender) {
            self.strangers = self.strangers.saturating_add(1);
        }
        assert_eq!(self.seen.len(), self.by_time.len());
        Ok(())
    }

    fn check_room(&self, sender: &AccountId) -> Result<(), ReceiveError> {
        if self.seen.len() >= self.capacity {
            return Err(ReceiveError::ReplayCacheFull);
        }
        if self.reserved.contains(sender) {
            return Ok(());
        }
        let share = (self.capacity / REPLAY_SENDER_SHARE).max(1);
        if self.per_sender.get(sender).copied().unwrap_or(0) >= share {
            return Err(ReceiveError::SenderOverQuota);
        }
        if self.strangers >= self.capacity / 2 {
            return Err(ReceiveError::ReplayCacheFull);
        }
        Ok(())
    }

    fn forget_before(&mut self, horizon: Timestamp) {
        while let Some(&(ts, sender, id)) = self.by_time.first() {
            if ts >= horizon {
                break;
            }
            self.by_time.pop_first();
            self.seen.remove(&(sender, id));
            if let Some(n) = self.per_sender.get_mut(&sender) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.per_sender.remove(&sender);
                }
            }
            if !self.reserved.contains(&sender) {
                self.strangers = self.strangers.saturating_sub(1);
            }
        }
    }
}

impl Default for ReplayGuard {
    fn default() -> Self {
        ReplayGuard::new(REPLAY_CACHE_MAX)
    }
}

#[cfg(test)]
mod tests;
