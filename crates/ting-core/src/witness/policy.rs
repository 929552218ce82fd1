//! A device's witness policy: which witnesses it trusts, and how many of
//! them must have attested a header before it takes anything under it.
//!
//! The check costs at most two signature checks per trusted witness, however
//! many attestations it is handed: attestations of strangers, of other
//! headers or of a witness already counted are passed over unchecked, and
//! after as many bad signatures as there are trusted witnesses it stops
//! looking. A bad attestation in a witness's name does not hide a good one
//! after it.

use crate::prelude::*;

use thiserror::Error;

use super::Attestation;
use crate::account::AccountId;
use crate::block::BlockHeader;

/// Most witnesses one policy names.
pub const WITNESSES_MAX: usize = 64;

/// Witnesses trusted, and how many of them must attest (k of n). The
/// default policy names none and needs none: headers are taken on the
/// sequencer's signature alone, as before witnesses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WitnessPolicy {
    /// Sorted, no account twice.
    witnesses: Vec<AccountId>,
    needed: usize,
}

/// Why a policy cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("a witness policy needs at least one attestation; to need none, name no witnesses")]
    NeedsNone,
    #[error("the policy needs {needed} attestations but names only {named} witnesses")]
    TooFewWitnesses { needed: usize, named: usize },
    #[error("the policy names {named} witnesses; at most {max} may be named")]
    TooManyWitnesses { named: usize, max: usize },
    #[error("witness {0} is named twice")]
    Duplicate(AccountId),
}

impl PolicyError {
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::NeedsNone => "needs_none",
            PolicyError::TooFewWitnesses { .. } => "too_few_witnesses",
            PolicyError::TooManyWitnesses { .. } => "too_many_witnesses",
            PolicyError::Duplicate(_) => "duplicate_witness",
        }
    }
}

/// Why a header is not attested enough.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum WitnessError {
    #[error(
        "the header at height {height} is attested by {have} of the {needed} trusted witnesses \
         needed ({refused} attestations of trusted witnesses did not verify)"
    )]
    NotAttested {
        height: u64,
        have: usize,
        needed: usize,
        refused: usize,
    },
}

impl WitnessError {
    pub fn code(&self) -> &'static str {
        match self {
            WitnessError::NotAttested { .. } => "not_attested",
        }
    }
}

impl WitnessPolicy {
    /// Trust `witnesses`, needing `needed` of them to attest.
    ///
    /// # Errors
    /// `needed` is zero or more than the witnesses named, more than
    /// [`WITNESSES_MAX`] are named, or one is named twice.
    pub fn new(mut witnesses: Vec<AccountId>, needed: usize) -> Result<WitnessPolicy, PolicyError> {
        let named = witnesses.len();
        if named > WITNESSES_MAX {
            return Err(PolicyError::TooManyWitnesses {
                named,
                max: WITNESSES_MAX,
            });
        }
        if needed == 0 {
            return Err(PolicyError::NeedsNone);
        }
        if needed > named {
            return Err(PolicyError::TooFewWitnesses { needed, named });
        }
        witnesses.sort_unstable();
        if let Some(pair) = witnesses.windows(2).find(|p| p[0] == p[1]) {
            return Err(PolicyError::Duplicate(pair[0]));
        }
        Ok(WitnessPolicy { witnesses, needed })
    }

    /// The witnesses trusted, sorted.
    pub fn witnesses(&self) -> &[AccountId] {
        &self.witnesses
    }

    /// How many of them must attest a header.
    pub fn needed(&self) -> usize {
        self.needed
    }

    /// Whether the policy asks for anything (the default does not).
    pub fn is_required(&self) -> bool {
        self.needed > 0
    }

    /// Whether `account` is one of the trusted witnesses.
    pub fn trusts(&self, account: &AccountId) -> bool {
        self.witnesses.binary_search(account).is_ok()
    }

    /// Checks that at least [`needed`](Self::needed) distinct trusted
    /// witnesses attested `header` among `attestations`; answers how many
    /// were counted (it stops counting at `needed`).
    ///
    /// # Errors
    /// Too few trusted witnesses attested this very header with a good
    /// signature.
    pub fn check(
        &self,
        header: &BlockHeader,
        attestations: &[Attestation],
    ) -> Result<usize, WitnessError> {
        if self.needed == 0 {
            return Ok(0);
        }
        let hash = header.hash();
        let mut counted = vec![false; self.witnesses.len()];
        let (mut have, mut refused) = (0usize, 0usize);
        for a in attestations {
            if refused >= self.witnesses.len() {
                break;
            }
            let Ok(i) = self.witnesses.binary_search(&a.witness) else {
                continue;
            };
            if counted[i]
                || a.header != hash
                || a.genesis != header.genesis
                || a.height != header.height
                || a.epoch != header.epoch
            {
                continue;
            }
            if a.verify().is_ok() {
                counted[i] = true;
                have = have.saturating_add(1);
                if have == self.needed {
                    return Ok(have);
                }
            } else {
                refused = refused.saturating_add(1);
            }
        }
        Err(WitnessError::NotAttested {
            height: header.height.0,
            have,
            needed: self.needed,
            refused,
        })
    }
}
