//! Transactions: their kinds, canonical encoding, signing and verification.
//!
//! A signed transaction is `body || signature`, where the body is
//! `version u8 | network u32 | sender [32] | nonce u64 | kind u8 | fields`
//! and the signature is Ed25519 over `TX_DOMAIN || body`. The transaction
//! hash is SHA-256 of the whole signed encoding. docs/wire.md gives every
//! field; `docs/test-vectors/transactions.json` pins them.
//!
//! A [`Verified`] transaction can only be made by checking its signature, so
//! code that takes `Verified<SignedTx>` cannot be handed an unchecked one.

use std::ops::Deref;

use rand_core::CryptoRng;

use crate::account::AccountId;
use crate::amount::Amount;
use crate::channel::{ChainSegment, ChannelId, ChannelMode, ChannelProof};
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::keys::{self, BatchVerifier, Keypair, Signature, SignatureError};
use crate::limits::{MEMO_BYTES_MAX, METADATA_BYTES_MAX, TX_BYTES_MAX};
use crate::seal::MessagingKey;
use crate::types::{NetworkId, Nonce, Timestamp};

/// The only transaction version this code reads and writes.
pub const TX_VERSION: u8 = 1;
/// Prefix of every transaction signing message.
pub const TX_DOMAIN: &[u8] = b"ting:tx:v1";
/// Prefix of the message a device signs to accept an owner.
pub const DEVICE_DOMAIN: &[u8] = b"ting:device:v1";

const TAG_TRANSFER: u8 = 0x01;
const TAG_MINT: u8 = 0x02;
const TAG_REGISTER_DEVICE: u8 = 0x10;
const TAG_SET_SPEND_LIMIT: u8 = 0x11;
const TAG_FREEZE: u8 = 0x12;
const TAG_UNFREEZE: u8 = 0x13;
const TAG_SWEEP: u8 = 0x14;
const TAG_SET_MESSAGING_KEY: u8 = 0x15;
const TAG_CHANNEL_OPEN: u8 = 0x20;
const TAG_CHANNEL_CLAIM: u8 = 0x21;
const TAG_CHANNEL_TOP_UP: u8 = 0x22;
const TAG_CHANNEL_CLOSE: u8 = 0x23;
const TAG_CHANNEL_RECLAIM: u8 = 0x24;

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
}

impl TxKind {
    /// The kind's stable name, as used in JSON and docs.
    pub fn name(&self) -> &'static str {
        match self {
            TxKind::Transfer { .. } => "transfer",
            TxKind::Mint { .. } => "mint",
            TxKind::RegisterDevice { .. } => "register_device",
            TxKind::SetSpendLimit { .. } => "set_spend_limit",
            TxKind::Freeze { .. } => "freeze",
            TxKind::Unfreeze { .. } => "unfreeze",
            TxKind::Sweep { .. } => "sweep",
            TxKind::SetMessagingKey { .. } => "set_messaging_key",
            TxKind::ChannelOpen { .. } => "channel_open",
            TxKind::ChannelClaim { .. } => "channel_claim",
            TxKind::ChannelTopUp { .. } => "channel_top_up",
            TxKind::ChannelClose { .. } => "channel_close",
            TxKind::ChannelReclaim { .. } => "channel_reclaim",
        }
    }

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
            TxKind::SetMessagingKey { .. }
            | TxKind::ChannelClaim { .. }
            | TxKind::ChannelTopUp { .. }
            | TxKind::ChannelClose { .. }
            | TxKind::ChannelReclaim { .. } => None,
        }
    }

    fn encode(&self, w: &mut Writer) {
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
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<TxKind, DecodeError> {
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
            other => return Err(DecodeError::UnknownKind(other)),
        })
    }
}

/// The bytes a device signs to accept `owner` as its owner on `network`.
pub fn device_consent_message(
    network: NetworkId,
    owner: &AccountId,
    device: &AccountId,
    metadata: &[u8],
) -> Vec<u8> {
    let mut w = Writer::with_capacity(DEVICE_DOMAIN.len() + 4 + 64 + 2 + metadata.len());
    w.bytes(DEVICE_DOMAIN)
        .u32(network.0)
        .account(owner)
        .account(device);
    w.bytes_u16(metadata);
    w.into_bytes()
}

/// The unsigned part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxBody {
    pub network: NetworkId,
    pub sender: AccountId,
    pub nonce: Nonce,
    pub kind: TxKind,
}

impl TxBody {
    fn encode(&self, w: &mut Writer) {
        w.u8(TX_VERSION)
            .u32(self.network.0)
            .account(&self.sender)
            .u64(self.nonce.0);
        self.kind.encode(w);
    }

    /// Exactly the bytes given to Ed25519: `TX_DOMAIN || body`.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(160);
        w.bytes(TX_DOMAIN);
        self.encode(&mut w);
        w.into_bytes()
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
            network: NetworkId(r.u32("network")?),
            sender: r.account("sender")?,
            nonce: Nonce(r.u64("nonce")?),
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
    pub fn network(&self) -> NetworkId {
        self.body.network
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
            .then(|| ChannelId::derive(self.body.network, &self.body.sender, self.body.nonce))
    }

    /// Exactly the bytes given to Ed25519: `TX_DOMAIN || body`.
    pub fn signing_message(&self) -> Vec<u8> {
        let body = &self.bytes[..self.bytes.len() - 64];
        let mut msg = Vec::with_capacity(TX_DOMAIN.len() + body.len());
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

    fn transfer(key: &Keypair, nonce: u64) -> SignedTx {
        TxBody {
            network: NetworkId(7),
            sender: key.account(),
            nonce: Nonce(nonce),
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
        bytes[0] = 2;
        assert!(matches!(
            SignedTx::decode(&bytes),
            Err(DecodeError::UnsupportedVersion { version: 2, .. })
        ));
        let mut bytes = tx.bytes().to_vec();
        bytes[1 + 4 + 32 + 8] = 0x7f;
        assert_eq!(
            SignedTx::decode(&bytes).map(|_| ()),
            Err(DecodeError::UnknownKind(0x7f))
        );
    }

    #[test]
    fn a_memo_over_the_limit_is_refused() {
        let tx = transfer(&Keypair::from_seed([1; 32]), 3);
        let memo_len_at = 1 + 4 + 32 + 8 + 1 + 32 + 8;
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
            network: NetworkId(7),
            sender: key.account(),
            nonce: Nonce(0),
            kind: TxKind::SetMessagingKey {
                key: MessagingKey([0x42; 32]),
            },
        }
        .sign(&key);
        let kind_at = 1 + 4 + 32 + 8;
        assert_eq!(tx.bytes()[kind_at], 0x15);
        assert_eq!(&tx.bytes()[kind_at + 1..kind_at + 33], &[0x42; 32]);
        assert_eq!(tx.bytes().len(), kind_at + 33 + 64);
        assert_eq!(SignedTx::decode(tx.bytes()), Ok(tx.clone()));
        assert_eq!(tx.kind().name(), "set_messaging_key");
        assert_eq!(tx.kind().counterparty(), None);
    }
}
