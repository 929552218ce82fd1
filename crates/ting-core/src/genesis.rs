//! The genesis: what a network starts from and who may mint and sequence.
//!
//! A genesis names the network id, the issuer keys that may mint, the
//! sequencer keys that may sign blocks, and initial allocations. Its hash
//! (SHA-256 of `GENESIS_DOMAIN || canonical encoding`) is the previous-block
//! hash of block 1, so a log can never be replayed onto another genesis.

use crate::prelude::*;

use alloc::collections::BTreeSet;

use thiserror::Error;

use crate::account::{AccountError, AccountId};
use crate::amount::Amount;
use crate::encoding::{DecodeError, Reader, Writer};
use crate::hash::Hash32;
use crate::limits::{
    GENESIS_ALLOCATIONS_MAX, GENESIS_ISSUERS_MAX, GENESIS_NAME_BYTES_MAX, GENESIS_SEQUENCERS_MAX,
};
use crate::types::{NetworkId, Timestamp};

pub const GENESIS_VERSION: u8 = 1;
pub const GENESIS_DOMAIN: &[u8] = b"ting:genesis:v1";

/// The starting point of one network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Genesis {
    pub name: String,
    pub network: NetworkId,
    pub timestamp: Timestamp,
    pub issuers: Vec<AccountId>,
    pub sequencers: Vec<AccountId>,
    pub allocations: Vec<(AccountId, Amount)>,
}

/// Why a genesis cannot start a network.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum GenesisError {
    #[error("the genesis names no sequencer, so no block could ever be signed")]
    NoSequencer,
    #[error("{what}: {count} entries, the limit is {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("the network name is {0} bytes; the limit is {GENESIS_NAME_BYTES_MAX}")]
    NameTooLong(usize),
    #[error("{what} {id} is not a usable key: {source}")]
    BadKey {
        what: &'static str,
        id: AccountId,
        source: AccountError,
    },
    #[error("account {0} is allocated twice")]
    DuplicateAllocation(AccountId),
    #[error("the allocations add up to more than 2^64-1 base units")]
    SupplyOverflow,
}

impl Genesis {
    /// Checks limits, keys and totals; a node refuses to start from a genesis that fails.
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.sequencers.is_empty() {
            return Err(GenesisError::NoSequencer);
        }
        if self.name.len() > GENESIS_NAME_BYTES_MAX {
            return Err(GenesisError::NameTooLong(self.name.len()));
        }
        let counts = [
            ("issuers", self.issuers.len(), GENESIS_ISSUERS_MAX),
            ("sequencers", self.sequencers.len(), GENESIS_SEQUENCERS_MAX),
            (
                "allocations",
                self.allocations.len(),
                GENESIS_ALLOCATIONS_MAX,
            ),
        ];
        for (what, count, max) in counts {
            if count > max {
                return Err(GenesisError::TooMany { what, count, max });
            }
        }
        let keys = self.issuers.iter().map(|k| ("issuer", k));
        let keys = keys.chain(self.sequencers.iter().map(|k| ("sequencer", k)));
        let keys = keys.chain(self.allocations.iter().map(|(k, _)| ("allocation", k)));
        for (what, id) in keys {
            id.check_valid().map_err(|source| GenesisError::BadKey {
                what,
                id: *id,
                source,
            })?;
        }
        let mut seen = BTreeSet::new();
        let mut total = Amount::ZERO;
        for (id, amount) in &self.allocations {
            if !seen.insert(*id) {
                return Err(GenesisError::DuplicateAllocation(*id));
            }
            total = total
                .checked_add(*amount)
                .ok_or(GenesisError::SupplyOverflow)?;
        }
        Ok(())
    }

    /// The sum of all allocations; `None` if it overflows.
    pub fn initial_supply(&self) -> Option<Amount> {
        self.allocations
            .iter()
            .try_fold(Amount::ZERO, |acc, (_, a)| acc.checked_add(*a))
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut w =
            Writer::with_capacity(self.allocations.len().saturating_mul(40).saturating_add(64));
        w.u8(GENESIS_VERSION)
            .u32(self.network.0)
            .u64(self.timestamp.0);
        w.bytes_u8(self.name.as_bytes());
        w.count_u16(self.issuers.len());
        for id in &self.issuers {
            w.account(id);
        }
        w.count_u16(self.sequencers.len());
        for id in &self.sequencers {
            w.account(id);
        }
        w.count_u32(self.allocations.len());
        for (id, amount) in &self.allocations {
            w.account(id).amount(*amount);
        }
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Genesis, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("genesis version")?;
        if version != GENESIS_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "genesis",
                version,
            });
        }
        let network = NetworkId(r.u32("network")?);
        let timestamp = Timestamp(r.u64("timestamp")?);
        let name = r.bytes_u8("name", GENESIS_NAME_BYTES_MAX)?;
        let name = String::from_utf8(name.to_vec())
            .map_err(|_| DecodeError::InvalidValue { what: "name" })?;
        let issuers = read_keys(&mut r, "issuers", GENESIS_ISSUERS_MAX)?;
        let sequencers = read_keys(&mut r, "sequencers", GENESIS_SEQUENCERS_MAX)?;
        let count = r.u32("allocation count")? as usize;
        if count > GENESIS_ALLOCATIONS_MAX {
            return Err(DecodeError::TooLong {
                what: "allocations",
                len: count,
                max: GENESIS_ALLOCATIONS_MAX,
            });
        }
        let mut allocations = Vec::with_capacity(count.min(r.remaining() / 40));
        for _ in 0..count {
            allocations.push((r.account("allocation")?, r.amount("allocation")?));
        }
        r.finish("genesis")?;
        Ok(Genesis {
            name,
            network,
            timestamp,
            issuers,
            sequencers,
            allocations,
        })
    }

    /// SHA-256 of `GENESIS_DOMAIN || encoding`: the previous hash of block 1.
    pub fn hash(&self) -> Hash32 {
        Hash32::digest(&[GENESIS_DOMAIN, &self.encode()])
    }
}

fn read_keys(
    r: &mut Reader<'_>,
    what: &'static str,
    max: usize,
) -> Result<Vec<AccountId>, DecodeError> {
    let count = usize::from(r.u16(what)?);
    if count > max {
        return Err(DecodeError::TooLong {
            what,
            len: count,
            max,
        });
    }
    (0..count).map(|_| r.account(what)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keypair;

    fn sample() -> Genesis {
        let a = Keypair::from_seed([1; 32]).account();
        let b = Keypair::from_seed([2; 32]).account();
        Genesis {
            name: "test".into(),
            network: NetworkId(9),
            timestamp: Timestamp(5),
            issuers: vec![a],
            sequencers: vec![b],
            allocations: vec![(a, Amount::new(100)), (b, Amount::new(50))],
        }
    }

    #[test]
    fn a_genesis_round_trips_and_validates() {
        let g = sample();
        assert_eq!(Genesis::decode(&g.encode()), Ok(g.clone()));
        assert_eq!(g.validate(), Ok(()));
        assert_eq!(g.initial_supply(), Some(Amount::new(150)));
    }

    #[test]
    fn duplicate_allocations_and_overflowing_supply_are_refused() {
        let mut g = sample();
        g.allocations.push(g.allocations[0]);
        assert!(matches!(
            g.validate(),
            Err(GenesisError::DuplicateAllocation(_))
        ));
        let mut g = sample();
        g.allocations[0].1 = Amount::MAX;
        assert_eq!(g.validate(), Err(GenesisError::SupplyOverflow));
    }

    #[test]
    fn a_genesis_without_a_sequencer_is_refused() {
        let mut g = sample();
        g.sequencers.clear();
        assert_eq!(g.validate(), Err(GenesisError::NoSequencer));
    }
}
