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
use crate::ledger_clock::LedgerClock;
use crate::limits::{
    CLOCK_SPEED_MAX, GENESIS_ALLOCATIONS_MAX, GENESIS_ISSUERS_MAX, GENESIS_NAME_BYTES_MAX,
    GENESIS_SEQUENCERS_MAX,
};
use crate::types::{NetworkId, Timestamp};

/// The version of a genesis on the real clock.
pub const GENESIS_VERSION: u8 = 1;
/// The version of a genesis that declares an accelerated clock (wire.md §8).
pub const GENESIS_VERSION_CLOCK: u8 = 2;
/// The clock byte of an accelerated clock in a version 2 genesis.
const CLOCK_ACCELERATED: u8 = 0x01;
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
    /// How ledger time relates to the wall clock.
    pub clock: LedgerClock,
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
    #[error("an accelerated clock runs 2 to {CLOCK_SPEED_MAX} times faster than the wall clock, not {0}")]
    BadClockSpeed(u32),
}

impl Genesis {
    /// Checks limits, keys and totals; a node refuses to start from a genesis that fails.
    pub fn validate(&self) -> Result<(), GenesisError> {
        if self.sequencers.is_empty() {
            return Err(GenesisError::NoSequencer);
        }
        if !self.clock.is_valid() {
            return Err(GenesisError::BadClockSpeed(self.clock.speed()));
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
        let version = match self.clock {
            LedgerClock::Real => GENESIS_VERSION,
            LedgerClock::Accelerated { .. } => GENESIS_VERSION_CLOCK,
        };
        w.u8(version).u32(self.network.0).u64(self.timestamp.0);
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
        if let LedgerClock::Accelerated { speed } = self.clock {
            w.u8(CLOCK_ACCELERATED).u32(speed);
        }
        w.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Result<Genesis, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("genesis version")?;
        if version != GENESIS_VERSION && version != GENESIS_VERSION_CLOCK {
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
        let clock = if version == GENESIS_VERSION_CLOCK {
            read_clock(&mut r)?
        } else {
            LedgerClock::Real
        };
        r.finish("genesis")?;
        Ok(Genesis {
            name,
            network,
            timestamp,
            issuers,
            sequencers,
            allocations,
            clock,
        })
    }

    /// Ledger time at wall time `wall` on this network.
    pub fn ledger_time(&self, wall: Timestamp) -> Timestamp {
        self.clock.ledger_time(self.timestamp, wall)
    }

    /// SHA-256 of `GENESIS_DOMAIN || encoding`: the previous hash of block 1.
    pub fn hash(&self) -> Hash32 {
        Hash32::digest(&[GENESIS_DOMAIN, &self.encode()])
    }
}

/// The clock of a version 2 genesis: only an accelerated one, so that each
/// genesis has one encoding (a real clock is version 1).
fn read_clock(r: &mut Reader<'_>) -> Result<LedgerClock, DecodeError> {
    if r.u8("clock")? != CLOCK_ACCELERATED {
        return Err(DecodeError::InvalidValue { what: "clock" });
    }
    let clock = LedgerClock::Accelerated {
        speed: r.u32("clock speed")?,
    };
    if !clock.is_valid() {
        return Err(DecodeError::InvalidValue {
            what: "clock speed",
        });
    }
    Ok(clock)
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
            clock: crate::LedgerClock::Real,
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
    fn a_real_clock_genesis_is_version_1_and_an_accelerated_one_version_2() {
        let real = sample();
        assert_eq!(real.encode()[0], GENESIS_VERSION);
        let mut fast = sample();
        fast.clock = LedgerClock::Accelerated { speed: 60 };
        let bytes = fast.encode();
        assert_eq!(bytes[0], GENESIS_VERSION_CLOCK);
        assert_eq!(bytes.len(), real.encode().len() + 5);
        assert_eq!(Genesis::decode(&bytes), Ok(fast.clone()));
        assert_ne!(fast.hash(), real.hash(), "the clock is part of the hash");
        assert_eq!(fast.validate(), Ok(()));
        assert_eq!(fast.ledger_time(Timestamp(1_005)), Timestamp(60_005));
    }

    #[test]
    fn a_version_2_genesis_must_declare_a_valid_accelerated_clock() {
        let mut fast = sample();
        fast.clock = LedgerClock::Accelerated { speed: 60 };
        let good = fast.encode();
        let clock_at = good.len() - 5;
        let mut real_in_v2 = good.clone();
        real_in_v2[clock_at] = 0x00;
        let mut slow = good.clone();
        slow[clock_at + 1..].copy_from_slice(&1u32.to_le_bytes());
        let mut cut = good.clone();
        cut.truncate(clock_at);
        for (what, bytes) in [
            ("real in v2", real_in_v2),
            ("speed 1", slow),
            ("no clock", cut),
        ] {
            assert!(Genesis::decode(&bytes).is_err(), "{what}");
        }
        fast.clock = LedgerClock::Accelerated {
            speed: CLOCK_SPEED_MAX + 1,
        };
        assert_eq!(
            fast.validate(),
            Err(GenesisError::BadClockSpeed(CLOCK_SPEED_MAX + 1))
        );
    }

    #[test]
    fn a_genesis_without_a_sequencer_is_refused() {
        let mut g = sample();
        g.sequencers.clear();
        assert_eq!(g.validate(), Err(GenesisError::NoSequencer));
    }
}
