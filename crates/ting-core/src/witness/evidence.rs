//! Evidence against a sequencer, checkable by anyone with no trust in who
//! presents it. Two kinds:
//!
//! - an **equivocation**: two different headers, both signed by one
//!   sequencer key, at one height in one epoch. Only one node leads an
//!   epoch and a leader appends each height once, so an honest sequencer
//!   never signs two (a leader fenced before its block was stored never
//!   showed that block to anyone; the next leader signs in a later epoch,
//!   which is not evidence). Checked here, in full.
//! - a **wrong state root** ([`RootEvidence`]): a signed block whose state
//!   root does not follow from its transactions and the state before it,
//!   or that holds a transaction whose signature does not verify. Its form
//!   is checked here; re-running the transactions is the ledger's
//!   (`ting_ledger::evidence::verify`), which also checks equivocations.
//!
//! Bytes: version `u8` ‖ kind `u8` ‖ the kind's parts. Kind 1: header ‖
//! header, the two ordered by hash so that a pair has one encoding. Kind 2:
//! [`RootEvidence`]'s layout.

use crate::prelude::*;
use alloc::boxed::Box;

use thiserror::Error;

use crate::account::AccountId;
use crate::block::{BlockHeader, HEADER_BYTES};
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::state_tree::MultiProofError;
use crate::types::BlockHeight;

use super::root::RootEvidence;

/// The evidence format this code writes and reads.
pub const EVIDENCE_VERSION: u8 = 1;
/// The length of an equivocation's bytes.
pub const EQUIVOCATION_BYTES: usize = 2 + 2 * HEADER_BYTES;
/// Longest evidence this code reads: a wrong state root carries a block and
/// proofs of the state it touched, tens of megabytes for a full block in a
/// state of a million keys.
pub const EVIDENCE_BYTES_MAX: usize = 64 << 20;
const KIND_EQUIVOCATION: u8 = 1;
const KIND_WRONG_STATE_ROOT: u8 = 2;

/// Self-contained proof that a sequencer broke the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
// Two headers inline: evidence is rare, and its common kind needs no box.
#[allow(clippy::large_enum_variant)]
pub enum Evidence {
    /// Two different headers at one height and epoch, one signer.
    Equivocation {
        first: BlockHeader,
        second: BlockHeader,
    },
    /// A block whose state root does not follow, with what shows it.
    WrongStateRoot(Box<RootEvidence>),
}

/// Which rule checked evidence shows broken.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProvenFault {
    /// Two blocks signed at one height in one epoch.
    Equivocation,
    /// The block's transactions lead from the previous state to `computed`;
    /// the header claims `claimed`.
    WrongStateRoot { claimed: Hash32, computed: Hash32 },
    /// The block holds transaction `tx`, whose signature does not verify.
    ForgedTransaction { tx: Hash32 },
}

impl ProvenFault {
    pub fn code(&self) -> &'static str {
        match self {
            ProvenFault::Equivocation => "equivocation",
            ProvenFault::WrongStateRoot { .. } => "wrong_state_root",
            ProvenFault::ForgedTransaction { .. } => "forged_transaction",
        }
    }
}

/// What checked evidence proves: `sequencer` of the network of `genesis`
/// broke `fault` at `height` in `epoch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proven {
    pub genesis: Hash32,
    pub sequencer: AccountId,
    pub height: BlockHeight,
    pub epoch: u64,
    pub fault: ProvenFault,
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
    #[error("the block's transactions are not the ones its header names")]
    BodyMismatch,
    #[error("the evidence is for block {0} and carries no header before it")]
    NoPrevious(u64),
    #[error("the previous header (height {0}) is not the one block {1} follows")]
    NotConsecutive(u64, u64),
    #[error("a wrong state root is checked by re-running the block: use the ledger's check")]
    NeedsLedger,
    #[error("the evidence is of network {0}, not this one")]
    OtherNetwork(Hash32),
    #[error("a header is signed by {0}, which is not a sequencer of this network")]
    UnknownSequencer(AccountId),
    #[error("block 1 starts from the genesis: checking it needs the genesis document")]
    NeedsGenesis,
    #[error("the state proof is malformed: {0}")]
    BadProof(MultiProofError),
    #[error("the state proof leads to another root than the previous header's")]
    WrongPrestate,
    #[error("the evidence proves no state for key {0}, which the block touches")]
    NotCovered(Hash32),
    #[error("the record given for key {0} is not the one the state map holds")]
    RecordMismatch(Hash32),
    #[error(
        "transaction {tx} ({kind}) reads state the state map does not commit to, so a \
         wrong root is not provable from proofs alone"
    )]
    Unprovable { tx: Hash32, kind: &'static str },
    #[error("the block's state root {0} is the one its transactions lead to: no fault")]
    RootFollows(Hash32),
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
            EvidenceError::BodyMismatch => "body_mismatch",
            EvidenceError::NoPrevious(_) => "no_previous",
            EvidenceError::NotConsecutive(..) => "not_consecutive",
            EvidenceError::NeedsLedger => "needs_ledger",
            EvidenceError::OtherNetwork(_) => "other_network",
            EvidenceError::UnknownSequencer(_) => "unknown_sequencer",
            EvidenceError::NeedsGenesis => "needs_genesis",
            EvidenceError::BadProof(e) => e.code(),
            EvidenceError::WrongPrestate => "wrong_prestate",
            EvidenceError::NotCovered(_) => "not_covered",
            EvidenceError::RecordMismatch(_) => "record_mismatch",
            EvidenceError::Unprovable { .. } => "unprovable",
            EvidenceError::RootFollows(_) => "root_follows",
        }
    }
}

impl Evidence {
    /// The equivocation of `a` and `b`, in canonical order; not yet checked.
    pub fn equivocation(a: BlockHeader, b: BlockHeader) -> Evidence {
        let (first, second) = if a.hash() <= b.hash() { (a, b) } else { (b, a) };
        Evidence::Equivocation { first, second }
    }

    /// The block evidence is about: the later header's height, epoch and
    /// signer, for naming it before it is checked.
    pub fn header(&self) -> &BlockHeader {
        match self {
            Evidence::Equivocation { first, .. } => first,
            Evidence::WrongStateRoot(root) => &root.block.header,
        }
    }

    /// Checks an equivocation on its own: what it proves, or why it proves
    /// nothing. Whether the sequencer is one of a given network's is the
    /// caller's to compare ([`Proven::genesis`], [`Proven::sequencer`]).
    /// A wrong state root needs the ledger: [`EvidenceError::NeedsLedger`].
    ///
    /// # Errors
    /// The headers do not conflict, or a signature does not verify.
    pub fn verify(&self) -> Result<Proven, EvidenceError> {
        let (first, second) = match self {
            Evidence::Equivocation { first, second } => (first, second),
            Evidence::WrongStateRoot(_) => return Err(EvidenceError::NeedsLedger),
        };
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
            fault: ProvenFault::Equivocation,
        })
    }

    /// The evidence's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(EQUIVOCATION_BYTES);
        w.u8(EVIDENCE_VERSION);
        match self {
            Evidence::Equivocation { first, second } => {
                w.u8(KIND_EQUIVOCATION);
                first.encode(&mut w);
                second.encode(&mut w);
            }
            Evidence::WrongStateRoot(root) => {
                w.u8(KIND_WRONG_STATE_ROOT);
                root.encode(&mut w);
            }
        }
        w.into_bytes()
    }

    /// Reads evidence; it is still to be [verified](Self::verify).
    ///
    /// # Errors
    /// Too long, another version or kind, a part that does not decode,
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
        let evidence = match r.u8("evidence kind").map_err(bad)? {
            KIND_EQUIVOCATION => Self::read_equivocation(&mut r)?,
            KIND_WRONG_STATE_ROOT => {
                Evidence::WrongStateRoot(Box::new(RootEvidence::decode(&mut r).map_err(bad)?))
            }
            _ => {
                return Err(bad(DecodeError::InvalidValue {
                    what: "evidence kind",
                }))
            }
        };
        r.finish("evidence").map_err(bad)?;
        Ok(evidence)
    }

    fn read_equivocation(r: &mut Reader<'_>) -> Result<Evidence, EvidenceError> {
        let bad = EvidenceError::Malformed;
        let first = BlockHeader::decode(r).map_err(bad)?;
        let second = BlockHeader::decode(r).map_err(bad)?;
        if first.hash() > second.hash() {
            return Err(bad(DecodeError::InvalidValue {
                what: "evidence header order",
            }));
        }
        Ok(Evidence::Equivocation { first, second })
    }
}
