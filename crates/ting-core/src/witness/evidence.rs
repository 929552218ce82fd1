//! Evidence against a sequencer, checkable by anyone with no trust in who
//! presents it.
//!
//! One kind so far, an **equivocation**: two different headers, both
//! signed by one sequencer key, at one height in one epoch. Only one node
//! leads an epoch and a leader appends each height once, so an honest
//! sequencer never signs two (a leader fenced before its block was stored
//! never showed that block to anyone; the next leader signs in a later
//! epoch, which is not evidence).
//!
//! Bytes: version `u8` ‖ kind `u8` (1: equivocation) ‖ header ‖ header,
//! the two headers ordered by hash so that a pair has one encoding.

use crate::prelude::*;

use thiserror::Error;

use crate::account::AccountId;
use crate::block::{BlockHeader, HEADER_BYTES};
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::types::BlockHeight;

/// The evidence format this code writes and reads.
pub const EVIDENCE_VERSION: u8 = 1;
/// Longest evidence this code reads.
pub const EVIDENCE_BYTES_MAX: usize = 2 + 2 * HEADER_BYTES;
const KIND_EQUIVOCATION: u8 = 1;

/// Self-contained proof that a sequencer broke the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Evidence {
    /// Two different headers at one height and epoch, one signer.
    Equivocation {
        first: BlockHeader,
        second: BlockHeader,
    },
}

/// What checked evidence proves: `sequencer` of the network of `genesis`
/// signed two blocks at `height` in `epoch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proven {
    pub genesis: Hash32,
    pub sequencer: AccountId,
    pub height: BlockHeight,
    pub epoch: u64,
}

/// Why evidence proves nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EvidenceError {
    #[error("the two headers are the same block")]
    SameBlock,
    #[error("the headers are of two networks")]
    TwoNetworks,
    #[error("the headers are at heights {0} and {1}: only two blocks at one height conflict")]
    TwoHeights(u64, u64),
    #[error(
        "the headers are of epochs {0} and {1}: a later epoch's leader may sign a height again \
         (a failover), so this is not evidence"
    )]
    TwoEpochs(u64, u64),
    #[error("the headers were signed by two keys ({0} and {1}), not one sequencer twice")]
    TwoSigners(AccountId, AccountId),
    #[error("a header's signature does not verify: the sequencer did not sign it")]
    BadSignature,
    #[error("the evidence does not decode: {0}")]
    Malformed(DecodeError),
}

impl EvidenceError {
    pub fn code(&self) -> &'static str {
        match self {
            EvidenceError::SameBlock => "same_block",
            EvidenceError::TwoNetworks => "two_networks",
            EvidenceError::TwoHeights(..) => "two_heights",
            EvidenceError::TwoEpochs(..) => "two_epochs",
            EvidenceError::TwoSigners(..) => "two_signers",
            EvidenceError::BadSignature => "bad_signature",
            EvidenceError::Malformed(e) => e.code(),
        }
    }
}

impl Evidence {
    /// The equivocation of `a` and `b`, in canonical order; not yet checked.
    pub fn equivocation(a: BlockHeader, b: BlockHeader) -> Evidence {
        let (first, second) = if a.hash() <= b.hash() { (a, b) } else { (b, a) };
        Evidence::Equivocation { first, second }
    }

    /// Checks the evidence on its own: what it proves, or why it proves
    /// nothing. Whether the sequencer is one of a given network's is the
    /// caller's to compare ([`Proven::genesis`], [`Proven::sequencer`]).
    ///
    /// # Errors
    /// The headers do not conflict, or a signature does not verify.
    pub fn verify(&self) -> Result<Proven, EvidenceError> {
        let Evidence::Equivocation { first, second } = self;
        let (h1, h2) = (first.hash(), second.hash());
        if h1 == h2 {
            return Err(EvidenceError::SameBlock);
        }
        if first.genesis != second.genesis {
            return Err(EvidenceError::TwoNetworks);
        }
        if first.height != second.height {
            return Err(EvidenceError::TwoHeights(first.height.0, second.height.0));
        }
        if first.epoch != second.epoch {
            return Err(EvidenceError::TwoEpochs(first.epoch, second.epoch));
        }
        if first.sequencer != second.sequencer {
            return Err(EvidenceError::TwoSigners(first.sequencer, second.sequencer));
        }
        first
            .verify_signature()
            .and_then(|()| second.verify_signature())
            .map_err(|_| EvidenceError::BadSignature)?;
        Ok(Proven {
            genesis: first.genesis,
            sequencer: first.sequencer,
            height: first.height,
            epoch: first.epoch,
        })
    }

    /// The evidence's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let Evidence::Equivocation { first, second } = self;
        let mut w = Writer::with_capacity(EVIDENCE_BYTES_MAX);
        w.u8(EVIDENCE_VERSION).u8(KIND_EQUIVOCATION);
        first.encode(&mut w);
        second.encode(&mut w);
        w.into_bytes()
    }

    /// Reads evidence; it is still to be [verified](Self::verify).
    ///
    /// # Errors
    /// Too long, another version or kind, a header that does not decode,
    /// headers out of order, or bytes left over.
    pub fn from_bytes(bytes: &[u8]) -> Result<Evidence, EvidenceError> {
        let bad = EvidenceError::Malformed;
        if bytes.len() > EVIDENCE_BYTES_MAX {
            return Err(bad(DecodeError::TooLong {
                what: "evidence",
                len: bytes.len(),
                max: EVIDENCE_BYTES_MAX,
            }));
        }
        let mut r = Reader::new(bytes);
        let version = r.u8("evidence version").map_err(bad)?;
        if version != EVIDENCE_VERSION {
            return Err(bad(DecodeError::UnsupportedVersion {
                what: "evidence",
                version,
            }));
        }
        if r.u8("evidence kind").map_err(bad)? != KIND_EQUIVOCATION {
            return Err(bad(DecodeError::InvalidValue {
                what: "evidence kind",
            }));
        }
        let first = BlockHeader::decode(&mut r).map_err(bad)?;
        let second = BlockHeader::decode(&mut r).map_err(bad)?;
        r.finish("evidence").map_err(bad)?;
        if first.hash() > second.hash() {
            return Err(bad(DecodeError::InvalidValue {
                what: "evidence header order",
            }));
        }
        Ok(Evidence::Equivocation { first, second })
    }
}
