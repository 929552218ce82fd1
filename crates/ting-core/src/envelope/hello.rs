//! `0x0004 hello`: a node announcing on a broker that it serves there, or
//! that it has left.
//!
//! A node publishes a serving hello, retained, on `ting/v1/nodes/{its
//! sequencer key}` each time its subscription is granted and again every
//! `HELLO_INTERVAL_MS`; its MQTT last will, and its last word at a clean
//! shutdown, is a leaving hello with the same envelope id (one id per
//! gateway run). A device that finds a fresh serving hello signed by a
//! sequencer it trusts knows its transactions will be answered through this
//! broker; one that finds none within a few seconds has reached another
//! broker than its node's, and can say so rather than wait for ever.
//!
//! A hello is addressed to its own sender (it is for whoever reads the
//! topic) and is retained, so [`super::receive`]'s replay cache does not
//! apply. [`check_hello`] checks the signature, type, network, sender and
//! genesis, and that it is fresh (within `ENVELOPE_WINDOW_MS` of the
//! reader's clock): an old hello replayed on another broker is not believed
//! for long. A leaving hello counts only with the id of the serving one the
//! device believes, so an old run's last will cannot end a new run. An
//! empty retained message (which anyone may publish where the broker lets
//! them) clears nothing a device believes; the next announcement restores
//! what it deleted. It carries no secret and grants nothing.

use crate::prelude::*;

use thiserror::Error;

use super::{Envelope, EnvelopeId, EnvelopeType};
use crate::account::AccountId;
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::types::{BlockHeight, Timestamp};

/// How often a serving node announces itself again, so that its retained
/// hello stays fresh (well inside `ENVELOPE_WINDOW_MS`).
pub const HELLO_INTERVAL_MS: u64 = 60_000;

/// What a hello says: which network's node this is, how far it was, and
/// whether it serves or has left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelloPayload {
    /// The genesis hash of the network the node serves.
    pub genesis_hash: Hash32,
    /// The node's durable height when it announced itself.
    pub height: BlockHeight,
    /// `true`: it serves on this broker; `false`: it has left.
    pub serving: bool,
}

impl HelloPayload {
    /// Encoded size: genesis hash, height, state.
    pub const BYTES: usize = 32 + 8 + 1;

    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(Self::BYTES);
        w.hash(&self.genesis_hash)
            .u64(self.height.0)
            .u8(u8::from(self.serving));
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<HelloPayload, DecodeError> {
        let mut r = Reader::new(bytes);
        let genesis_hash = r.hash("genesis_hash")?;
        let height = BlockHeight(r.u64("height")?);
        let serving = match r.u8("state")? {
            0 => false,
            1 => true,
            _ => return Err(DecodeError::InvalidValue { what: "state" }),
        };
        r.finish("hello payload")?;
        Ok(HelloPayload {
            genesis_hash,
            height,
            serving,
        })
    }
}

/// A hello that passed [`check_hello`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The node's sequencer key.
    pub node: AccountId,
    /// One per gateway run: a leaving hello ends only the run it names.
    pub id: EnvelopeId,
    pub timestamp: Timestamp,
    pub payload: HelloPayload,
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
    #[error("the hello is signed by {0}, which is not a trusted sequencer")]
    Untrusted(AccountId),
    #[error("the hello is from a node of another genesis ({0})")]
    WrongGenesis(Hash32),
    #[error("the hello is stale: made at {0}, outside the receiver's window")]
    Stale(Timestamp),
}

impl HelloError {
    pub fn code(&self) -> &'static str {
        match self {
            HelloError::Malformed(_) => "malformed",
            HelloError::NotHello(_) => "wrong_type",
            HelloError::NotSelfAddressed => "wrong_recipient",
            HelloError::BadSignature => "bad_signature",
            HelloError::Untrusted(_) => "untrusted_sender",
            HelloError::WrongGenesis(_) => "wrong_genesis",
            HelloError::Stale(_) => "stale",
        }
    }
}

impl From<DecodeError> for HelloError {
    fn from(e: DecodeError) -> Self {
        HelloError::Malformed(e)
    }
}

/// Checks a hello read from `ting/v1/nodes/...`: a self-addressed `hello`
/// envelope of the network of `genesis`, signed by one of `sequencers`, and
/// (when serving) made within `window_ms` of `now`: `ENVELOPE_WINDOW_MS`,
/// or on an accelerated network its `LedgerClock::window_ms` of it.
pub fn check_hello(
    bytes: &[u8],
    genesis: &Hash32,
    sequencers: &[AccountId],
    now: Timestamp,
    window_ms: u64,
) -> Result<Hello, HelloError> {
    let envelope = Envelope::decode(bytes)?;
    let h = &envelope.header;
    if h.kind != EnvelopeType::HELLO {
        return Err(HelloError::NotHello(h.kind.name()));
    }
    if h.recipient != h.sender || h.encrypted {
        return Err(HelloError::NotSelfAddressed);
    }
    if h.genesis != *genesis {
        return Err(HelloError::WrongGenesis(h.genesis));
    }
    if !sequencers.contains(&h.sender) {
        return Err(HelloError::Untrusted(h.sender));
    }
    envelope.verify().map_err(|_| HelloError::BadSignature)?;
    let payload = HelloPayload::decode(&envelope.payload)?;
    if payload.genesis_hash != *genesis {
        return Err(HelloError::WrongGenesis(payload.genesis_hash));
    }
    // A leaving hello is the run's last will, signed when the run began: its
    // age says nothing, and it counts only against the run's own id.
    if payload.serving && h.timestamp.0.abs_diff(now.0) > window_ms {
        return Err(HelloError::Stale(h.timestamp));
    }
    Ok(Hello {
        node: h.sender,
        id: h.id,
        timestamp: h.timestamp,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::EnvelopeHeader;
    use crate::keys::Keypair;
    use crate::limits::ENVELOPE_WINDOW_MS;

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    /// A hello of the network whose genesis hash is 32 bytes of `g`.
    fn hello(key: &Keypair, g: u8, kind: EnvelopeType, to: AccountId, at: u64) -> Vec<u8> {
        let header = EnvelopeHeader {
            genesis: Hash32([g; 32]),
            sender: key.account(),
            recipient: to,
            kind,
            id: EnvelopeId::from_counter(1),
            timestamp: Timestamp(at),
            encrypted: false,
        };
        let payload = HelloPayload {
            genesis_hash: Hash32([g; 32]),
            height: BlockHeight(3),
            serving: true,
        };
        Envelope::sign(header, payload.encode(), key)
            .expect("signs")
            .encode()
    }

    const G: Hash32 = Hash32([7; 32]);

    #[test]
    fn a_trusted_nodes_fresh_hello_is_believed_and_every_other_is_refused_by_its_code() {
        let node = Keypair::from_seed([1; 32]);
        let other = Keypair::from_seed([2; 32]);
        let trusted = [node.account()];
        let me = node.account();
        let good = hello(&node, 7, EnvelopeType::HELLO, me, NOW.0);
        let seen = check_hello(&good, &G, &trusted, NOW, ENVELOPE_WINDOW_MS).expect("believed");
        assert_eq!((seen.node, seen.payload.height), (me, BlockHeight(3)));
        assert_eq!(seen.id, EnvelopeId::from_counter(1));

        let check = |bytes: &[u8]| {
            check_hello(bytes, &G, &trusted, NOW, ENVELOPE_WINDOW_MS)
                .expect_err("refused")
                .code()
        };
        let late = NOW.0 - ENVELOPE_WINDOW_MS - 1;
        assert_eq!(
            check(&hello(&node, 8, EnvelopeType::HELLO, me, NOW.0)),
            "wrong_genesis"
        );
        let stranger = hello(&other, 7, EnvelopeType::HELLO, other.account(), NOW.0);
        assert_eq!(check(&stranger), "untrusted_sender");
        assert_eq!(
            check(&hello(&node, 7, EnvelopeType::RECEIPT, me, NOW.0)),
            "wrong_type"
        );
        let to_other = hello(&node, 7, EnvelopeType::HELLO, other.account(), NOW.0);
        assert_eq!(check(&to_other), "wrong_recipient");
        assert_eq!(
            check(&hello(&node, 7, EnvelopeType::HELLO, me, late)),
            "stale"
        );
        let mut forged = good.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert_eq!(check(&forged), "bad_signature");
        assert_eq!(check(&good[..10]), "malformed");
    }

    #[test]
    fn a_hello_payload_is_exactly_forty_one_bytes_and_nothing_else_decodes() {
        for serving in [true, false] {
            let p = HelloPayload {
                genesis_hash: Hash32([1; 32]),
                height: BlockHeight(u64::MAX),
                serving,
            };
            let bytes = p.encode();
            assert_eq!(bytes.len(), HelloPayload::BYTES);
            assert_eq!(HelloPayload::decode(&bytes), Ok(p));
            assert!(HelloPayload::decode(&bytes[..40]).is_err());
            assert!(HelloPayload::decode(&[bytes.as_slice(), &[0]].concat()).is_err());
        }
        let mut bad_state = HelloPayload {
            genesis_hash: Hash32([1; 32]),
            height: BlockHeight(1),
            serving: true,
        }
        .encode();
        bad_state[40] = 2;
        assert!(HelloPayload::decode(&bad_state).is_err());
    }
}
