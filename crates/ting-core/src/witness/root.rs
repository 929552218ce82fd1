//! Evidence that a block's state root does not follow from its transactions
//! and the state before it: the parts, their bytes, and the checks that need
//! no ledger.
//!
//! It carries the block, the header before it (whose state root is the
//! state the block starts from), a [`MultiProof`] of every state-map key the
//! block's transactions read or write against that root, and the record of
//! each such key that holds one. Re-running the transactions on those
//! records gives the root the block should carry; the re-run is the
//! ledger's (`ting_ledger::evidence`). A block at height 1 starts from the
//! genesis: it needs no previous header and no proof, but the verifier must
//! hold the genesis.
//!
//! Bytes, after the evidence's version and kind: `previous flag u8 (1: the
//! header follows) | block length u32 | block | multi-proof | record count
//! u32 | (key [32] | u16 length | record) × count`, records sorted by key.

use crate::prelude::*;

use crate::block::{Block, BlockHeader};
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::state_tree::{MultiProof, MULTI_PROOF_BUCKETS_MAX};

use super::EvidenceError;

/// Longest record of one state-map key the evidence carries.
pub const STATE_RECORD_BYTES_MAX: usize = u16::MAX as usize;
/// Most records the evidence carries: one per key a full block may touch.
pub const ROOT_EVIDENCE_RECORDS_MAX: usize = MULTI_PROOF_BUCKETS_MAX;

/// A block, the header before it, and the state its transactions touch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootEvidence {
    /// The header the block follows; `None` at height 1 (the genesis).
    pub prev: Option<BlockHeader>,
    pub block: Block,
    /// Every key the block's transactions read or write, against the
    /// previous header's state root.
    pub proof: MultiProof,
    /// The record of each proven key that holds one, sorted by key.
    pub records: Vec<(Hash32, Vec<u8>)>,
}

impl RootEvidence {
    /// The block's header is signed and names the block's transactions.
    ///
    /// # Errors
    /// [`EvidenceError::BadSignature`] or [`EvidenceError::BodyMismatch`].
    pub fn check_block(&self) -> Result<(), EvidenceError> {
        self.block
            .header
            .verify_signature()
            .map_err(|_| EvidenceError::BadSignature)?;
        if self.block.body_matches_header() {
            Ok(())
        } else {
            Err(EvidenceError::BodyMismatch)
        }
    }

    /// The previous header is signed and is the one the block follows, in
    /// the same network; at height 1 there is none.
    ///
    /// # Errors
    /// The first of those that fails.
    pub fn check_prev(&self) -> Result<(), EvidenceError> {
        let header = &self.block.header;
        let Some(prev) = &self.prev else {
            return if header.height.0 == 1 {
                Ok(())
            } else {
                Err(EvidenceError::NoPrevious(header.height.0))
            };
        };
        if prev.genesis != header.genesis {
            return Err(EvidenceError::TwoNetworks);
        }
        if prev.height.next() != Some(header.height) || header.prev_hash != prev.hash() {
            return Err(EvidenceError::NotConsecutive(
                prev.height.0,
                header.height.0,
            ));
        }
        prev.verify_signature()
            .map_err(|_| EvidenceError::BadSignature)
    }

    /// The first transaction whose signature does not verify, if any: a
    /// block signed with one in it is a fault of its own.
    pub fn forged_tx(&self) -> Option<Hash32> {
        self.block
            .txs
            .iter()
            .find(|tx| {
                crate::keys::verify(&tx.body().sender, &tx.signing_message(), tx.signature())
                    .is_err()
            })
            .map(|tx| tx.hash())
    }

    /// The record given for `key`, if any.
    pub fn record(&self, key: &Hash32) -> Option<&[u8]> {
        self.records
            .binary_search_by_key(key, |(k, _)| *k)
            .ok()
            .map(|i| self.records[i].1.as_slice())
    }

    pub(crate) fn encode(&self, w: &mut Writer) {
        match &self.prev {
            Some(prev) => {
                w.u8(1);
                prev.encode(w);
            }
            None => {
                w.u8(0);
            }
        }
        let block = self.block.encode();
        w.count_u32(block.len()).bytes(&block);
        self.proof.encode(w);
        w.count_u32(self.records.len());
        for (key, record) in &self.records {
            w.hash(key).bytes_u16(record);
        }
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<RootEvidence, DecodeError> {
        let prev = match r.u8("evidence previous flag")? {
            0 => None,
            1 => Some(BlockHeader::decode(r)?),
            _ => {
                return Err(DecodeError::InvalidValue {
                    what: "evidence previous flag",
                })
            }
        };
        let len = r.u32("evidence block length")? as usize;
        let block = Block::decode(r.take(len, "evidence block")?)?;
        let proof = MultiProof::decode(r)?;
        let count = r.u32("evidence record count")? as usize;
        if count > ROOT_EVIDENCE_RECORDS_MAX {
            return Err(DecodeError::TooLong {
                what: "evidence records",
                len: count,
                max: ROOT_EVIDENCE_RECORDS_MAX,
            });
        }
        let mut records: Vec<(Hash32, Vec<u8>)> = Vec::with_capacity(count);
        for _ in 0..count {
            let key = r.hash("evidence record key")?;
            if records.last().is_some_and(|(k, _)| *k >= key) {
                return Err(DecodeError::InvalidValue {
                    what: "evidence record order",
                });
            }
            let record = r.bytes_u16("evidence record", STATE_RECORD_BYTES_MAX)?;
            records.push((key, record.to_vec()));
        }
        Ok(RootEvidence {
            prev,
            block,
            proof,
            records,
        })
    }
}
