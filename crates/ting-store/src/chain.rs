//! The chain rules a log enforces on every block it stores or reads back.
//!
//! One function, [`ChainRules::check_next`], decides whether a block may follow the
//! current tip. The file log runs it on `append` and again on every record at open, and
//! [`MemLog`](crate::MemLog) runs it on `append`: a log that accepted a block its own
//! recovery would later refuse could turn an acknowledged block into "damage in the
//! middle" and stop the node from starting. So append and recovery share this one rule.

use thiserror::Error;
use ting_core::{AccountId, Block, BlockHeader, BlockHeight, Genesis, Hash32};

/// What a block must satisfy to extend a log: taken from the genesis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainRules {
    pub genesis_hash: Hash32,
    pub sequencers: Vec<AccountId>,
}

/// Why a block cannot follow the tip of a log.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ChainError {
    #[error("block height {got} does not continue the chain; the next height is {expected}")]
    HeightGap {
        expected: BlockHeight,
        got: BlockHeight,
    },
    #[error(
        "block {height} names previous hash {got}, but the block before it has hash {expected}"
    )]
    PrevHashMismatch {
        height: BlockHeight,
        expected: Hash32,
        got: Hash32,
    },
    #[error(
        "block {height} is for the network of genesis {got}, but this log's genesis is {expected}"
    )]
    WrongNetwork {
        height: BlockHeight,
        expected: Hash32,
        got: Hash32,
    },
    #[error(
        "block {height} is signed by {sequencer}, which the genesis does not name as a sequencer"
    )]
    UnknownSequencer {
        height: BlockHeight,
        sequencer: AccountId,
    },
    #[error("block {height}'s transactions do not match its header's Merkle root or count")]
    BodyMismatch { height: BlockHeight },
    #[error("block {height}'s sequencer signature does not verify")]
    BadSignature { height: BlockHeight },
}

impl ChainError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::HeightGap { .. } => "height_gap",
            ChainError::PrevHashMismatch { .. } => "prev_hash_mismatch",
            ChainError::WrongNetwork { .. } => "wrong_network",
            ChainError::UnknownSequencer { .. } => "unknown_sequencer",
            ChainError::BodyMismatch { .. } => "body_mismatch",
            ChainError::BadSignature { .. } => "bad_block_signature",
        }
    }
}

impl ChainRules {
    pub fn from_genesis(genesis: &Genesis) -> ChainRules {
        ChainRules {
            genesis_hash: genesis.hash(),
            sequencers: genesis.sequencers.clone(),
        }
    }

    /// The tip of an empty log: height 0 and the genesis hash.
    pub fn empty_tip(&self) -> (BlockHeight, Hash32) {
        (BlockHeight(0), self.genesis_hash)
    }

    /// Whether `block` may follow a log whose last block is `tip` (height, hash).
    /// Cheap checks run first; the signature last.
    pub fn check_next(&self, tip: (BlockHeight, Hash32), block: &Block) -> Result<(), ChainError> {
        self.check_link(tip, &block.header)?;
        self.check_sealed(block)
    }

    /// The checks of [`ChainRules::check_next`] that need only the header: height,
    /// previous hash, network. Recovery runs only these on the blocks a snapshot covers
    /// that it must read to reach the blocks above it: their records' checksums hold,
    /// and they were checked in full when appended.
    pub fn check_link(
        &self,
        tip: (BlockHeight, Hash32),
        header: &BlockHeader,
    ) -> Result<(), ChainError> {
        let height = header.height;
        let expected = tip.0.next().ok_or(ChainError::HeightGap {
            expected: tip.0,
            got: height,
        })?;
        if height != expected {
            return Err(ChainError::HeightGap {
                expected,
                got: height,
            });
        }
        if header.prev_hash != tip.1 {
            return Err(ChainError::PrevHashMismatch {
                height,
                expected: tip.1,
                got: header.prev_hash,
            });
        }
        if header.genesis != self.genesis_hash {
            return Err(ChainError::WrongNetwork {
                height,
                expected: self.genesis_hash,
                got: header.genesis,
            });
        }
        Ok(())
    }

    /// Whether `block`, wherever it stands in the chain, was sealed for this network by
    /// one of its sequencers: network, sequencer, body against header, signature.
    /// Recovery uses it to tell real blocks past damage from look-alike bytes.
    pub fn check_sealed(&self, block: &Block) -> Result<(), ChainError> {
        let header = &block.header;
        let height = header.height;
        if header.genesis != self.genesis_hash {
            return Err(ChainError::WrongNetwork {
                height,
                expected: self.genesis_hash,
                got: header.genesis,
            });
        }
        if !self.sequencers.contains(&header.sequencer) {
            return Err(ChainError::UnknownSequencer {
                height,
                sequencer: header.sequencer,
            });
        }
        if !block.body_matches_header() {
            return Err(ChainError::BodyMismatch { height });
        }
        header
            .verify_signature()
            .map_err(|_| ChainError::BadSignature { height })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Chain;
    use ting_core::{Keypair, Timestamp};

    /// Applies `spoil` to the second block of a fresh chain and expects `code`.
    fn check(spoil: impl FnOnce(&mut Block), code: &str) {
        let mut chain = Chain::new();
        let first = chain.push(1);
        let mut second = chain.push(2);
        let rules = ChainRules::from_genesis(&chain.genesis);
        assert_eq!(rules.check_next(rules.empty_tip(), &first), Ok(()));
        let tip = (first.header.height, first.header.hash());
        spoil(&mut second);
        let got = rules.check_next(tip, &second).map_err(|e| e.code());
        assert_eq!(got, if code == "ok" { Ok(()) } else { Err(code) });
    }

    #[test]
    fn a_well_formed_next_block_is_accepted() {
        check(|_| {}, "ok");
    }

    #[test]
    fn each_broken_rule_is_named_by_its_code() {
        check(|b| b.header.height = BlockHeight(3), "height_gap");
        check(|b| b.header.prev_hash = Hash32::ZERO, "prev_hash_mismatch");
        check(|b| b.header.genesis = Hash32([99; 32]), "wrong_network");
        check(|b| b.header.timestamp = Timestamp(1), "bad_block_signature");
        check(|b| drop(b.txs.pop()), "body_mismatch");
        check(
            |b| b.header.sign(&Keypair::from_seed([77; 32])),
            "unknown_sequencer",
        );
    }
}
