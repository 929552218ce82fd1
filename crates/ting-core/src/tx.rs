//! Transactions: their kinds, canonical encoding, signing and verification.
//!
//! A signed transaction is `body || signature`, where the body is
//! `version u8 | genesis [32] | sender [32] | nonce u64 | valid_until u64 |
//! kind u8 | fields` and the signature is Ed25519 over `TX_DOMAIN || body`.
//! The genesis hash binds it to one network; `valid_until` is the last ledger
//! time at which it may apply, so a refused transaction cannot be made to
//! apply later than that by whoever saw its bytes. The transaction
//! hash is SHA-256 of the whole signed encoding. docs/wire.md gives every
//! field; `docs/test-vectors/transactions.json` pins them.
//!
//! A [`Verified`] transaction can only be made by checking its signature, so
//! code that takes `Verified<SignedTx>` cannot be handed an unchecked one.

use crate::prelude::*;

use core::ops::Deref;

use rand_core::CryptoRng;

mod kind;
mod resource;
mod tag;

pub use kind::TxKind;

use crate::account::AccountId;
use crate::channel::ChannelId;
use crate::encoding::{BufferTooSmall, DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
use crate::keys::{self, BatchVerifier, Keypair, Signature, SignatureError};
use crate::limits::TX_BYTES_MAX;
use crate::types::{Nonce, Timestamp};

/// The only transaction version this code reads and writes.
pub const TX_VERSION: u8 = 2;
/// Prefix of every transaction signing message.
pub const TX_DOMAIN: &[u8] = b"ting:tx:v2";
/// Offset of the kind tag in an encoded transaction.
pub const TX_KIND_OFFSET: usize = 1 + 32 + 32 + 8 + 8;
/// Prefix of the message a device signs to accept an owner.
pub const DEVICE_DOMAIN: &[u8] = b"ting:device:v2";

/// Refusal codes that no later ledger state can change: a transaction refused
/// with one of them can never apply. Any other refusal (`insufficient_funds`,
/// `frozen`, `spend_limit_exceeded`, ...) depends on the state, so the same
/// signed bytes could still apply later, until their `valid_until` passes or
/// their nonce is used; `bad_nonce` is final only once the nonce is used.
pub const FINAL_REFUSAL_CODES: &[&str] = &[
    "wrong_network",
    "tx_expired",
    "bad_signature",
    "unknown_issuer",
    "zero_amount",
    "self_transfer",
    "invalid_recipient",
    "invalid_device",
    "bad_device_signature",
    "bad_chain",
    "deposit_too_small",
    "invalid_messaging_key",
    "malformed",
    "truncated",
    "trailing_bytes",
    "too_long",
    "unsupported_version",
    "unknown_kind",
    "invalid_value",
];

/// Whether a refusal with `code` means the transaction can never apply.
pub fn refusal_is_final(code: &str) -> bool {
    FINAL_REFUSAL_CODES.contains(&code)
}

/// The bytes a device signs to accept `owner` as its owner on the network of
/// `genesis`.
pub fn device_consent_message(
    genesis: &Hash32,
    owner: &AccountId,
    device: &AccountId,
    metadata: &[u8],
) -> Vec<u8> {
    let mut w = Writer::with_capacity(
        DEVICE_DOMAIN
            .len()
            .saturating_add(98)
            .saturating_add(metadata.len()),
    );
    w.bytes(DEVICE_DOMAIN)
        .hash(genesis)
        .account(owner)
        .account(device);
    w.bytes_u16(metadata);
    w.into_bytes()
}

/// The unsigned part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxBody {
    /// The hash of the genesis of the network it is for.
    pub genesis: Hash32,
    pub sender: AccountId,
    pub nonce: Nonce,
    /// The last ledger time (a block's timestamp) at which it may apply.
    pub valid_until: Timestamp,
    pub kind: TxKind,
}

impl TxBody {
    fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.u8(TX_VERSION)
            .hash(&self.genesis)
            .account(&self.sender)
            .u64(self.nonce.0)
            .u64(self.valid_until.0);
        self.kind.encode(w);
    }

    /// Exactly the bytes given to Ed25519: `TX_DOMAIN || body`.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(160);
        w.bytes(TX_DOMAIN);
        self.encode(&mut w);
        w.into_bytes()
    }

    /// Signs into the caller's buffer, with no allocation: writes the signed
    /// transaction's bytes (`body || signature`, as [`SignedTx::bytes`]
    /// gives them) to the front of `out` and returns their length, or
    /// `BufferTooSmall` with the length needed. A body whose encoding is over
    /// `TX_BYTES_MAX` (no kind's bounded fields reach it) panics, as in
    /// [`TxBody::sign`], once the buffer is large enough to hold it.
    pub fn sign_into(&self, key: &Keypair, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut w = Writer::over(out);
        self.encode(&mut w);
        w.signature(&Signature([0; 64]));
        let len = w.finish()?;
        assert!(len <= TX_BYTES_MAX, "encoded transaction over limit");
        let body_len = len.saturating_sub(64);
        let (body, sig) = out.split_at_mut(body_len);
        let signature = key.sign_parts(&[TX_DOMAIN, body]);
        sig[..64].copy_from_slice(&signature.0);
        Ok(len)
    }

    /// Writes the body's bytes, without a signature, to the front of `out`
    /// with no allocation, for a device whose key never leaves a secure
    /// element: it signs `TX_DOMAIN || out[..len]` there and appends the 64
    /// signature bytes, and those are the transaction's bytes.
    pub fn encode_into(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut w = Writer::over(out);
        self.encode(&mut w);
        w.finish()
    }

    /// Signs with `key`. The result verifies only if `key` is the sender's.
    pub fn sign(self, key: &Keypair) -> SignedTx {
        let signature = key.sign(&self.signing_message());
        SignedTx::from_parts(self, signature)
    }
}

/// A transaction with its signature, its canonical bytes and its hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTx {
    body: TxBody,
    signature: Signature,
    bytes: Vec<u8>,
    hash: Hash32,
}

impl SignedTx {
    /// Assembles a transaction from a body and a signature, valid or not.
    pub fn from_parts(body: TxBody, signature: Signature) -> SignedTx {
        let mut w = Writer::with_capacity(160);
        body.encode(&mut w);
        w.signature(&signature);
        let bytes = w.into_bytes();
        assert!(
            bytes.len() <= TX_BYTES_MAX,
            "encoded transaction over limit"
        );
        let hash = Hash32::digest(&[&bytes]);
        SignedTx {
            body,
            signature,
            bytes,
            hash,
        }
    }

    /// Decodes one signed transaction, strictly: limits, version, kind, no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<SignedTx, DecodeError> {
        if bytes.len() > TX_BYTES_MAX {
            return Err(DecodeError::TooLong {
                what: "transaction",
                len: bytes.len(),
                max: TX_BYTES_MAX,
            });
        }
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != TX_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "transaction",
                version,
            });
        }
        let body = TxBody {
            genesis: r.hash("genesis")?,
            sender: r.account("sender")?,
            nonce: Nonce(r.u64("nonce")?),
            valid_until: Timestamp(r.u64("valid_until")?),
            kind: TxKind::decode(&mut r)?,
        };
        let signature = r.signature("signature")?;
        r.finish("transaction")?;
        Ok(SignedTx {
            body,
            signature,
            bytes: bytes.to_vec(),
            hash: Hash32::digest(&[bytes]),
        })
    }

    pub fn body(&self) -> &TxBody {
        &self.body
    }
    pub fn sender(&self) -> AccountId {
        self.body.sender
    }
    pub fn nonce(&self) -> Nonce {
        self.body.nonce
    }
    /// The genesis hash of the network the transaction is for.
    pub fn genesis(&self) -> Hash32 {
        self.body.genesis
    }
    /// The last ledger time at which it may apply.
    pub fn valid_until(&self) -> Timestamp {
        self.body.valid_until
    }
    pub fn kind(&self) -> &TxKind {
        &self.body.kind
    }
    pub fn signature(&self) -> &Signature {
        &self.signature
    }
    /// The whole signed encoding.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// SHA-256 of the whole signed encoding.
    pub fn hash(&self) -> Hash32 {
        self.hash
    }

    /// The id of the channel this transaction opens, if it is a `ChannelOpen`.
    pub fn opened_channel(&self) -> Option<ChannelId> {
        matches!(self.body.kind, TxKind::ChannelOpen { .. })
            .then(|| ChannelId::derive(&self.body.genesis, &self.body.sender, self.body.nonce))
    }

    /// The id of the hold this transaction creates, if it is a `HoldCreate`.
    pub fn opened_hold(&self) -> Option<crate::market::HoldId> {
        matches!(self.body.kind, TxKind::HoldCreate { .. }).then(|| {
            crate::market::HoldId::derive(&self.body.genesis, &self.body.sender, self.body.nonce)
        })
    }

    /// The id of the order this transaction places, if it is an `OrderPlace`.
    pub fn placed_order(&self) -> Option<crate::resource::OrderId> {
        matches!(self.body.kind, TxKind::OrderPlace { .. }).then(|| {
            crate::resource::OrderId::derive(&self.body.genesis, &self.body.sender, self.body.nonce)
        })
    }

    /// The id of the offer this transaction lists, if it is an `OfferOpen`.
    pub fn opened_offer(&self) -> Option<crate::market::OfferId> {
        matches!(self.body.kind, TxKind::OfferOpen { .. }).then(|| {
            crate::market::OfferId::derive(&self.body.genesis, &self.body.sender, self.body.nonce)
        })
    }

    /// The id of the stream this transaction opens, if it is a `StreamOpen`.
    pub fn opened_stream(&self) -> Option<crate::stream::StreamId> {
        matches!(self.body.kind, TxKind::StreamOpen { .. }).then(|| {
            crate::stream::StreamId::derive(&self.body.genesis, &self.body.sender, self.body.nonce)
        })
    }

    /// Exactly the bytes given to Ed25519: `TX_DOMAIN || body`.
    pub fn signing_message(&self) -> Vec<u8> {
        let body = &self.bytes[..self.bytes.len().saturating_sub(64)];
        let mut msg = Vec::with_capacity(TX_DOMAIN.len().saturating_add(body.len()));
        msg.extend_from_slice(TX_DOMAIN);
        msg.extend_from_slice(body);
        msg
    }

    /// Checks the sender's signature alone.
    pub fn verify(self) -> Result<Verified<SignedTx>, SignatureError> {
        keys::verify(&self.body.sender, &self.signing_message(), &self.signature)?;
        Ok(Verified(self))
    }

    /// Checks many transactions' signatures in one batch; `result[i]` is about
    /// `txs[i]`, and a refusal names the refused transaction's hash.
    pub fn verify_batch<R: CryptoRng>(
        txs: Vec<SignedTx>,
        rng: &mut R,
    ) -> Vec<Result<Verified<SignedTx>, (Hash32, SignatureError)>> {
        let mut batch = BatchVerifier::with_capacity(txs.len());
        for tx in &txs {
            batch.queue(&tx.body.sender, &tx.signing_message(), &tx.signature);
        }
        let valid = batch.verify(rng);
        txs.into_iter()
            .zip(valid)
            .map(|(tx, ok)| {
                if ok {
                    Ok(Verified(tx))
                } else {
                    Err((tx.hash, SignatureError::Invalid))
                }
            })
            .collect()
    }
}

/// A value whose signature has been checked. Only verification makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified<T>(T);

impl<T> Verified<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_encoded_into_a_buffer_and_signed_apart_is_the_signed_transaction() {
        let key = Keypair::from_seed([3; 32]);
        let body = TxBody {
            genesis: Hash32([1; 32]),
            sender: key.account(),
            nonce: Nonce(4),
            valid_until: Timestamp(9),
            kind: TxKind::Transfer {
                to: Keypair::from_seed([5; 32]).account(),
                amount: Amount::new(6),
                memo: b"filter".to_vec(),
            },
        };
        let mut buf = [0u8; 300];
        let len = body.encode_into(&mut buf).expect("room");
        let signature = key.sign_parts(&[TX_DOMAIN, &buf[..len]]);
        buf[len..len + 64].copy_from_slice(&signature.0);
        assert_eq!(&buf[..len + 64], body.clone().sign(&key).bytes());
        let short = body.encode_into(&mut buf[..len - 1]);
        assert_eq!(
            short,
            Err(BufferTooSmall {
                need: len,
                have: len - 1
            })
        );
    }
    use crate::amount::Amount;
    use crate::seal::MessagingKey;

    fn transfer(key: &Keypair, nonce: u64) -> SignedTx {
        TxBody {
            genesis: Hash32([7; 32]),
            sender: key.account(),
            nonce: Nonce(nonce),
            valid_until: Timestamp(1_800_000_000_000),
            kind: TxKind::Transfer {
                to: Keypair::from_seed([9; 32]).account(),
                amount: Amount::new(5),
                memo: b"hi".to_vec(),
            },
        }
        .sign(key)
    }

    #[test]
    fn decode_inverts_encode_and_keeps_the_hash() {
        let tx = transfer(&Keypair::from_seed([1; 32]), 3);
        let decoded = SignedTx::decode(tx.bytes()).expect("decodes");
        assert_eq!(decoded, tx);
        assert_eq!(decoded.hash(), Hash32::digest(&[tx.bytes()]));
    }

    #[test]
    fn every_strict_prefix_and_any_extension_is_refused() {
        let tx = transfer(&Keypair::from_seed([1; 32]), 3);
        for len in 0..tx.bytes().len() {
            assert!(
                SignedTx::decode(&tx.bytes()[..len]).is_err(),
                "prefix {len}"
            );
        }
        let mut longer = tx.bytes().to_vec();
        longer.push(0);
        assert_eq!(
            SignedTx::decode(&longer).map(|_| ()),
            Err(DecodeError::TrailingBytes {
                what: "transaction",
                count: 1
            })
        );
    }

    #[test]
    fn a_tampered_transaction_fails_verification() {
        let tx = transfer(&Keypair::from_seed([1; 32]), 3);
        let mut bytes = tx.bytes().to_vec();
        bytes[20] ^= 1; // inside the sender key
        let tampered = SignedTx::decode(&bytes).expect("still well formed");
        assert!(tampered.verify().is_err());
        assert!(tx.verify().is_ok());
    }

    #[test]
    fn unknown_kinds_and_versions_are_refused() {
        let tx = transfer(&Keypair::from_seed([1; 32]), 3);
        let mut bytes = tx.bytes().to_vec();
        bytes[0] = 1;
        assert!(matches!(
            SignedTx::decode(&bytes),
            Err(DecodeError::UnsupportedVersion { version: 1, .. })
        ));
        let mut bytes = tx.bytes().to_vec();
        bytes[TX_KIND_OFFSET] = 0x7f;
        assert_eq!(
            SignedTx::decode(&bytes).map(|_| ()),
            Err(DecodeError::UnknownKind(0x7f))
        );
    }

    #[test]
    fn a_memo_over_the_limit_is_refused() {
        let tx = transfer(&Keypair::from_seed([1; 32]), 3);
        let memo_len_at = TX_KIND_OFFSET + 1 + 32 + 8;
        let mut bytes = tx.bytes()[..memo_len_at].to_vec();
        bytes.push(65);
        bytes.extend_from_slice(&[0; 65 + 64]);
        assert!(matches!(
            SignedTx::decode(&bytes),
            Err(DecodeError::TooLong { what: "memo", .. })
        ));
    }

    #[test]
    fn a_messaging_key_is_tag_0x15_then_the_32_key_bytes() {
        let key = Keypair::from_seed([1; 32]);
        let tx = TxBody {
            genesis: Hash32([7; 32]),
            sender: key.account(),
            nonce: Nonce(0),
            valid_until: Timestamp(1_800_000_000_000),
            kind: TxKind::SetMessagingKey {
                key: MessagingKey([0x42; 32]),
            },
        }
        .sign(&key);
        let kind_at = TX_KIND_OFFSET;
        assert_eq!(tx.bytes()[kind_at], 0x15);
        assert_eq!(&tx.bytes()[kind_at + 1..kind_at + 33], &[0x42; 32]);
        assert_eq!(tx.bytes().len(), kind_at + 33 + 64);
        assert_eq!(SignedTx::decode(tx.bytes()), Ok(tx.clone()));
        assert_eq!(tx.kind().name(), "set_messaging_key");
        assert_eq!(tx.kind().counterparty(), None);
    }
}
