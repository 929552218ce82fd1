//! Payment channels: ids, modes, proofs, vouchers and the payment message.
//!
//! A channel locks a deposit from a payer to a payee until an expiry. In
//! hash-chain mode (PayWord) the channel commits to the anchor of a SHA-256
//! chain ([`chain`]) and a unit price; a payment of `k` units reveals the tick
//! `k` steps further. In voucher mode a payment is the payer's signature over
//! the cumulative amount paid so far ([`voucher_message`]). Either proof
//! ([`ChannelProof`]) can be claimed on the ledger by anyone, and always pays
//! the payee. docs/wire.md gives every encoding here byte by byte.

use crate::prelude::*;

pub mod chain;
pub mod payee;
pub mod payer;
pub mod record;
pub mod state_bytes;
pub mod ticks;

use core::fmt;

use crate::account::AccountId;
use crate::amount::Amount;
use crate::encoding::{DecodeError, Reader, Sink, Writer};
use crate::hash::Hash32;
use crate::keys::{self, Keypair, Signature, SignatureError};
use crate::types::{NetworkId, Nonce};

pub use chain::ChainKey;
pub use record::{Channel, ChannelTerms, CloseKind, Closed, HashChainState};
pub use ticks::TickSource;

/// Prefix of the hash that names a channel.
pub const CHANNEL_ID_DOMAIN: &[u8] = b"ting:channel:v2";
/// Prefix of the message a voucher payer signs.
pub const VOUCHER_DOMAIN: &[u8] = b"ting:voucher:v1";
/// The only payment message version this code reads and writes.
pub const PAYMENT_VERSION: u8 = 1;

const MODE_HASH_CHAIN: u8 = 1;
const MODE_VOUCHER: u8 = 2;
const PROOF_TICK: u8 = 1;
const PROOF_VOUCHER: u8 = 2;

/// Names a channel: SHA-256 of the domain, the genesis hash of its network, the
/// payer and the nonce (u64 LE) of the transaction that opened it, so the payer
/// knows it in advance, no two channels share one, and everything signed over a
/// channel id (vouchers) is bound to one network.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelId(pub Hash32);

impl ChannelId {
    /// The id of the channel that `payer` opens with the transaction of nonce `nonce`.
    pub fn derive(genesis: &Hash32, payer: &AccountId, nonce: Nonce) -> ChannelId {
        ChannelId(Hash32::digest(&[
            CHANNEL_ID_DOMAIN,
            &genesis.0,
            payer.as_bytes(),
            &nonce.0.to_le_bytes(),
        ]))
    }

    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<ChannelId> {
        Hash32::from_hex(text).map(ChannelId)
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChannelId({})", self.to_hex())
    }
}

/// One hash chain of a hash-chain channel: its anchor `H^len(seed)` and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainSegment {
    pub anchor: Hash32,
    pub len: u32,
}

/// How a channel is paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelMode {
    /// Each tick of the chain is worth `price`.
    HashChain { chain: ChainSegment, price: Amount },
    /// Payments are signed cumulative amounts.
    Voucher,
}

impl ChannelMode {
    pub fn name(&self) -> &'static str {
        match self {
            ChannelMode::HashChain { .. } => "hash_chain",
            ChannelMode::Voucher => "voucher",
        }
    }

    pub(crate) fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        match self {
            ChannelMode::HashChain { chain, price } => {
                w.u8(MODE_HASH_CHAIN);
                chain.encode(w);
                w.amount(*price);
            }
            ChannelMode::Voucher => {
                w.u8(MODE_VOUCHER);
            }
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<ChannelMode, DecodeError> {
        match r.u8("channel mode")? {
            MODE_HASH_CHAIN => Ok(ChannelMode::HashChain {
                chain: ChainSegment::decode(r)?,
                price: r.amount("price")?,
            }),
            MODE_VOUCHER => Ok(ChannelMode::Voucher),
            _ => Err(DecodeError::InvalidValue {
                what: "channel mode",
            }),
        }
    }
}

impl ChainSegment {
    pub(crate) fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        w.hash(&self.anchor).u32(self.len);
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<ChainSegment, DecodeError> {
        Ok(ChainSegment {
            anchor: r.hash("anchor")?,
            len: r.u32("chain length")?,
        })
    }
}

/// What a payee shows to be paid: a tick of the chain or a signed voucher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelProof {
    /// Tick `index`, counted across every segment of the channel since it opened.
    Tick { index: u64, preimage: Hash32 },
    /// The payer's signature over a cumulative `amount`.
    Voucher {
        amount: Amount,
        signature: Signature,
    },
}

impl ChannelProof {
    pub fn name(&self) -> &'static str {
        match self {
            ChannelProof::Tick { .. } => "tick",
            ChannelProof::Voucher { .. } => "voucher",
        }
    }

    pub(crate) fn encode<S: Sink>(&self, w: &mut Writer<S>) {
        match self {
            ChannelProof::Tick { index, preimage } => {
                w.u8(PROOF_TICK).u64(*index).hash(preimage);
            }
            ChannelProof::Voucher { amount, signature } => {
                w.u8(PROOF_VOUCHER).amount(*amount).signature(signature);
            }
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<ChannelProof, DecodeError> {
        match r.u8("proof kind")? {
            PROOF_TICK => Ok(ChannelProof::Tick {
                index: r.u64("tick index")?,
                preimage: r.hash("preimage")?,
            }),
            PROOF_VOUCHER => Ok(ChannelProof::Voucher {
                amount: r.amount("voucher amount")?,
                signature: r.signature("voucher signature")?,
            }),
            _ => Err(DecodeError::InvalidValue { what: "proof kind" }),
        }
    }
}

/// The bytes a voucher payer signs: `VOUCHER_DOMAIN | network | channel | amount`.
pub fn voucher_message(network: NetworkId, channel: &ChannelId, amount: Amount) -> [u8; 59] {
    let mut out = [0u8; 59];
    let mut w = Writer::over(&mut out);
    w.bytes(VOUCHER_DOMAIN)
        .u32(network.0)
        .hash(&channel.0)
        .amount(amount);
    let len = w.finish().expect("a voucher message has a fixed length");
    debug_assert_eq!(len, 59);
    out
}

/// Signs a voucher for a cumulative `amount` on `channel`.
pub fn sign_voucher(
    key: &Keypair,
    network: NetworkId,
    channel: &ChannelId,
    amount: Amount,
) -> ChannelProof {
    ChannelProof::Voucher {
        amount,
        signature: key.sign(&voucher_message(network, channel, amount)),
    }
}

/// Checks a voucher's signature by `payer`.
pub fn verify_voucher(
    payer: &AccountId,
    network: NetworkId,
    channel: &ChannelId,
    amount: Amount,
    signature: &Signature,
) -> Result<(), SignatureError> {
    keys::verify(payer, &voucher_message(network, channel, amount), signature)
}

/// An off-ledger payment, as the messaging layer carries it from payer to payee:
/// `version u8 | network u32 | channel [32] | proof`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payment {
    pub network: NetworkId,
    pub channel: ChannelId,
    pub proof: ChannelProof,
}

impl Payment {
    /// Longest encoding: a voucher proof.
    pub const BYTES_MAX: usize = 1 + 4 + 32 + 1 + 8 + 64;

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::BYTES_MAX);
        w.u8(PAYMENT_VERSION)
            .u32(self.network.0)
            .hash(&self.channel.0);
        self.proof.encode(&mut w);
        w.into_bytes()
    }

    /// Decodes one payment, strictly: version, kind, no trailing bytes.
    pub fn decode(bytes: &[u8]) -> Result<Payment, DecodeError> {
        if bytes.len() > Self::BYTES_MAX {
            return Err(DecodeError::TooLong {
                what: "payment",
                len: bytes.len(),
                max: Self::BYTES_MAX,
            });
        }
        let mut r = Reader::new(bytes);
        let version = r.u8("version")?;
        if version != PAYMENT_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "payment",
                version,
            });
        }
        let payment = Payment {
            network: NetworkId(r.u32("network")?),
            channel: ChannelId(r.hash("channel")?),
            proof: ChannelProof::decode(&mut r)?,
        };
        r.finish("payment")?;
        Ok(payment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_ids_differ_by_network_payer_and_nonce() {
        let payer = Keypair::from_seed([1; 32]).account();
        let other = Keypair::from_seed([2; 32]).account();
        let (one, two) = (Hash32([1; 32]), Hash32([2; 32]));
        let id = ChannelId::derive(&one, &payer, Nonce(0));
        assert_eq!(id, ChannelId::derive(&one, &payer, Nonce(0)));
        assert_ne!(id, ChannelId::derive(&two, &payer, Nonce(0)));
        assert_ne!(id, ChannelId::derive(&one, &other, Nonce(0)));
        assert_ne!(id, ChannelId::derive(&one, &payer, Nonce(1)));
        assert_eq!(ChannelId::from_hex(&id.to_hex()), Some(id));
    }

    #[test]
    fn a_voucher_verifies_only_for_its_channel_network_and_amount() {
        let key = Keypair::from_seed([1; 32]);
        let channel = ChannelId(Hash32::digest(&[b"c"]));
        let net = NetworkId(9);
        let ChannelProof::Voucher { amount, signature } =
            sign_voucher(&key, net, &channel, Amount::new(42))
        else {
            unreachable!("sign_voucher makes vouchers")
        };
        let payer = key.account();
        assert!(verify_voucher(&payer, net, &channel, amount, &signature).is_ok());
        assert!(verify_voucher(&payer, NetworkId(8), &channel, amount, &signature).is_err());
        let other = ChannelId(Hash32::digest(&[b"d"]));
        assert!(verify_voucher(&payer, net, &other, amount, &signature).is_err());
        assert!(verify_voucher(&payer, net, &channel, Amount::new(43), &signature).is_err());
    }

    #[test]
    fn payments_round_trip_and_refuse_damage() {
        let key = Keypair::from_seed([1; 32]);
        let channel = ChannelId(Hash32::digest(&[b"c"]));
        let payments = [
            Payment {
                network: NetworkId(3),
                channel,
                proof: ChannelProof::Tick {
                    index: 17,
                    preimage: Hash32::digest(&[b"x"]),
                },
            },
            Payment {
                network: NetworkId(3),
                channel,
                proof: sign_voucher(&key, NetworkId(3), &channel, Amount::new(5)),
            },
        ];
        for p in payments {
            let bytes = p.encode();
            assert!(bytes.len() <= Payment::BYTES_MAX);
            assert_eq!(Payment::decode(&bytes), Ok(p));
            for len in 0..bytes.len() {
                assert!(Payment::decode(&bytes[..len]).is_err(), "prefix {len}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Payment::decode(&longer).is_err());
            let mut bad_kind = bytes;
            bad_kind[37] = 9;
            assert!(Payment::decode(&bad_kind).is_err());
        }
    }
}
