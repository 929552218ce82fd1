//! `0x0004 hello`: a node announcing on a broker that it serves there.
//!
//! The node publishes one, retained, on `ting/v1/nodes/{its sequencer key}`
//! each time it connects, and clears it (an empty retained message, also its
//! MQTT last will) when it leaves. A device that finds a hello signed by a
//! sequencer it trusts knows its transactions will be answered through this
//! broker; one that finds none within a few seconds has reached another
//! broker than its node's, and can say so rather than wait for ever.
//!
//! A hello is addressed to its own sender (it is for whoever reads the
//! topic) and is retained, so the receive window and replay cache of
//! [`super::receive`] do not apply: [`check_hello`] checks the signature,
//! the type, the network, the sender and the genesis instead. It carries no
//! secret and grants nothing; a stale one at worst makes a device wait for
//! its first answer as it would have anyway.

use thiserror::Error;

use super::{Envelope, EnvelopeType};
use crate::account::AccountId;
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::types::{BlockHeight, NetworkId};

/// What a hello says: which network's node this is, and how far it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelloPayload {
    /// The genesis hash of the network the node serves.
    pub genesis_hash: Hash32,
    /// The node's durable height when it announced itself.
    pub height: BlockHeight,
}

impl HelloPayload {
    /// Encoded size: genesis hash, height.
    pub const BYTES: usize = 32 + 8;

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::BYTES);
        w.hash(&self.genesis_hash).u64(self.height.0);
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<HelloPayload, DecodeError> {
        let mut r = Reader::new(bytes);
        let out = HelloPayload {
            genesis_hash: r.hash("genesis_hash")?,
            height: BlockHeight(r.u64("height")?),
        };
        r.finish("hello payload")?;
        Ok(out)
    }
}

/// Why a hello is not believed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HelloError {
    #[error("not a canonical hello envelope: {0}")]
    Malformed(DecodeError),
    #[error("the envelope is a {0}, not a hello")]
    NotHello(&'static str),
    #[error("the hello is not addressed to its own sender")]
    NotSelfAddressed,
    #[error("the hello's signature does not verify")]
    BadSignature,
    #[error("the hello is from a node of network {0}")]
    WrongNetwork(NetworkId),
    #[error("the hello is signed by {0}, which is not a trusted sequencer")]
    Untrusted(AccountId),
    #[error("the hello is from a node of another genesis ({0})")]
    WrongGenesis(Hash32),
}

impl HelloError {
    pub fn code(&self) -> &'static str {
        match self {
            HelloError::Malformed(_) => "malformed",
            HelloError::NotHello(_) => "wrong_type",
            HelloError::NotSelfAddressed => "wrong_recipient",
            HelloError::BadSignature => "bad_signature",
            HelloError::WrongNetwork(_) => "wrong_network",
            HelloError::Untrusted(_) => "untrusted_sender",
            HelloError::WrongGenesis(_) => "wrong_genesis",
        }
    }
}

impl From<DecodeError> for HelloError {
    fn from(e: DecodeError) -> Self {
        HelloError::Malformed(e)
    }
}

/// Checks a hello read from `ting/v1/nodes/...`: a self-addressed `hello`
/// envelope of `network`, signed by one of `sequencers`, for `genesis` when
/// the reader knows it. Answers the node's key and what it said.
pub fn check_hello(
    bytes: &[u8],
    network: NetworkId,
    sequencers: &[AccountId],
    genesis: Option<Hash32>,
) -> Result<(AccountId, HelloPayload), HelloError> {
    let envelope = Envelope::decode(bytes)?;
    let h = &envelope.header;
    if h.kind != EnvelopeType::HELLO {
        return Err(HelloError::NotHello(h.kind.name()));
    }
    if h.recipient != h.sender || h.encrypted {
        return Err(HelloError::NotSelfAddressed);
    }
    if h.network != network {
        return Err(HelloError::WrongNetwork(h.network));
    }
    if !sequencers.contains(&h.sender) {
        return Err(HelloError::Untrusted(h.sender));
    }
    envelope.verify().map_err(|_| HelloError::BadSignature)?;
    let payload = HelloPayload::decode(&envelope.payload)?;
    if genesis.is_some_and(|g| g != payload.genesis_hash) {
        return Err(HelloError::WrongGenesis(payload.genesis_hash));
    }
    Ok((h.sender, payload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{EnvelopeHeader, EnvelopeId};
    use crate::keys::Keypair;
    use crate::types::Timestamp;

    fn hello(key: &Keypair, network: u32, kind: EnvelopeType, to: AccountId) -> Vec<u8> {
        let header = EnvelopeHeader {
            network: NetworkId(network),
            sender: key.account(),
            recipient: to,
            kind,
            id: EnvelopeId::from_counter(1),
            timestamp: Timestamp(5),
            encrypted: false,
        };
        let payload = HelloPayload {
            genesis_hash: Hash32([7; 32]),
            height: BlockHeight(3),
        };
        Envelope::sign(header, payload.encode(), key)
            .expect("signs")
            .encode()
    }

    #[test]
    fn a_trusted_nodes_hello_is_believed_and_every_other_is_refused_by_its_code() {
        let node = Keypair::from_seed([1; 32]);
        let other = Keypair::from_seed([2; 32]);
        let trusted = [node.account()];
        let good = hello(&node, 9, EnvelopeType::HELLO, node.account());
        let (sender, said) =
            check_hello(&good, NetworkId(9), &trusted, Some(Hash32([7; 32]))).expect("believed");
        assert_eq!((sender, said.height), (node.account(), BlockHeight(3)));

        let check = |bytes: &[u8], genesis| {
            check_hello(bytes, NetworkId(9), &trusted, genesis)
                .expect_err("refused")
                .code()
        };
        assert_eq!(check(&good, Some(Hash32([8; 32]))), "wrong_genesis");
        assert_eq!(
            check(&hello(&node, 8, EnvelopeType::HELLO, node.account()), None),
            "wrong_network"
        );
        assert_eq!(
            check(
                &hello(&other, 9, EnvelopeType::HELLO, other.account()),
                None
            ),
            "untrusted_sender"
        );
        assert_eq!(
            check(
                &hello(&node, 9, EnvelopeType::RECEIPT, node.account()),
                None
            ),
            "wrong_type"
        );
        assert_eq!(
            check(&hello(&node, 9, EnvelopeType::HELLO, other.account()), None),
            "wrong_recipient"
        );
        let mut forged = good.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(check(&forged, None), "bad_signature");
        assert_eq!(check(&good[..10], None), "malformed");
    }

    #[test]
    fn a_hello_payload_is_exactly_forty_bytes_and_nothing_else_decodes() {
        let p = HelloPayload {
            genesis_hash: Hash32([1; 32]),
            height: BlockHeight(u64::MAX),
        };
        let bytes = p.encode();
        assert_eq!(bytes.len(), HelloPayload::BYTES);
        assert_eq!(HelloPayload::decode(&bytes), Ok(p));
        assert!(HelloPayload::decode(&bytes[..39]).is_err());
        assert!(HelloPayload::decode(&[bytes.as_slice(), &[0]].concat()).is_err());
    }
}
