//! The owner's policy that ranks proposals, and the ranking itself: pure,
//! so it is tested without a network.
//!
//! A proposal is eligible when it fits its call (price within the maximum,
//! delivery by the call's date, still valid), costs no more than the
//! policy's maximum, and its provider either has a score of at least
//! `min_score_ppm` in the call's category or is a newcomer (no buyer stands
//! behind a release yet) asking no more than `newcomer_max`. Eligible
//! proposals are ranked by cost: the price plus `value_of_hour` for every
//! started hour until delivery; ties go to the higher score, then to the
//! lower account id, so the order is total and the same on every run.

use ting_core::market::cfp::{Proposal, SignedCall};
use ting_core::market::Reputation;
use ting_core::{AccountId, Amount, Timestamp};

const HOUR_MS: u64 = 3_600_000;

/// What a buyer's owner sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The most the buyer pays for one call (the call's maximum is the least
    /// of this and what the need says).
    pub max_price: Amount,
    /// The least score a provider with a record must have.
    pub min_score_ppm: u32,
    /// The most put in escrow for a provider with no record yet.
    pub newcomer_max: Amount,
    /// What an hour sooner is worth, in base units.
    pub value_of_hour: Amount,
    /// Counter-offer to ask this price when the best proposal asks more
    /// (and the call allows another round).
    pub target_price: Option<Amount>,
    /// Counter-offer to ask at least this warranty.
    pub min_warranty_ms: u64,
    /// Providers never to choose (one that missed a deadline, say); at most
    /// [`AVOID_MAX`], the most recent kept ([`Policy::avoid`]).
    pub avoid: Vec<AccountId>,
}

/// Providers one policy avoids at most.
pub const AVOID_MAX: usize = 32;

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            max_price: Amount::MAX,
            min_score_ppm: 0,
            newcomer_max: Amount::MAX,
            value_of_hour: Amount::ZERO,
            target_price: None,
            min_warranty_ms: 0,
            avoid: Vec::new(),
        }
    }
}

/// One proposal and what the ledger says of its provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub provider: AccountId,
    pub proposal: Proposal,
    /// The provider's proved reputation in the call's category, if any.
    pub reputation: Option<Reputation>,
}

impl Candidate {
    fn score(&self) -> u32 {
        self.reputation.as_ref().map_or(0, Reputation::score_ppm)
    }

    fn newcomer(&self) -> bool {
        self.reputation.as_ref().is_none_or(|r| r.buyers.is_empty())
    }
}

/// Why a proposal was not taken, for the buyer's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    DoesNotFit(&'static str),
    Expired,
    OverBudget,
    LowScore,
    NewcomerOverLimit,
    Avoided,
}

impl Skip {
    pub fn code(self) -> &'static str {
        match self {
            Skip::DoesNotFit(_) => "does_not_fit",
            Skip::Expired => "expired",
            Skip::OverBudget => "over_budget",
            Skip::LowScore => "low_score",
            Skip::NewcomerOverLimit => "newcomer_over_limit",
            Skip::Avoided => "avoided",
        }
    }
}

impl Policy {
    /// Adds `provider` to the providers never chosen; past [`AVOID_MAX`]
    /// the oldest is forgotten.
    pub fn avoid(&mut self, provider: AccountId) {
        if self.avoid.contains(&provider) {
            return;
        }
        if self.avoid.len() >= AVOID_MAX {
            self.avoid.remove(0);
        }
        self.avoid.push(provider);
    }

    /// Whether `c` may be taken for `call` at `now`.
    pub fn eligible(&self, call: &SignedCall, c: &Candidate, now: Timestamp) -> Result<(), Skip> {
        c.proposal.fits(call).map_err(|e| Skip::DoesNotFit(e.0))?;
        if self.avoid.contains(&c.provider) {
            return Err(Skip::Avoided);
        }
        if c.proposal.valid_until < now {
            return Err(Skip::Expired);
        }
        if c.proposal.price > self.max_price {
            return Err(Skip::OverBudget);
        }
        if c.newcomer() {
            if c.proposal.price > self.newcomer_max {
                return Err(Skip::NewcomerOverLimit);
            }
        } else if c.score() < self.min_score_ppm {
            return Err(Skip::LowScore);
        }
        Ok(())
    }

    /// What the policy counts a proposal as costing at `now`.
    pub fn cost(&self, p: &Proposal, now: Timestamp) -> u128 {
        let hours = p.deliver_by.0.saturating_sub(now.0).div_ceil(HOUR_MS);
        u128::from(p.price.base_units()).saturating_add(
            u128::from(self.value_of_hour.base_units()).saturating_mul(u128::from(hours)),
        )
    }

    /// The eligible candidates, best first.
    pub fn rank<'a>(
        &self,
        call: &SignedCall,
        candidates: &'a [Candidate],
        now: Timestamp,
    ) -> Vec<&'a Candidate> {
        let mut eligible: Vec<&Candidate> = candidates
            .iter()
            .filter(|c| self.eligible(call, c, now).is_ok())
            .collect();
        eligible.sort_by(|a, b| {
            self.cost(&a.proposal, now)
                .cmp(&self.cost(&b.proposal, now))
                .then(b.score().cmp(&a.score()))
                .then(a.provider.cmp(&b.provider))
        });
        eligible
    }

    /// Whether the best proposal is worth a counter-offer: it asks more than
    /// the target price or less warranty than wanted.
    pub fn wants_better(&self, best: &Proposal) -> bool {
        self.target_price.is_some_and(|t| best.price > t) || best.warranty_ms < self.min_warranty_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::keys::Keypair;
    use ting_core::market::cfp::Call;
    use ting_core::market::reputation::Outcome;
    use ting_core::market::ReleaseRule;

    fn call() -> SignedCall {
        let buyer = Keypair::from_seed([1; 32]);
        Call {
            genesis: ting_core::Hash32([0; 32]),
            buyer: buyer.account(),
            id: 1,
            issued_at: Timestamp(0),
            answer_by: Timestamp(10_000),
            deliver_by: Timestamp(10 * HOUR_MS),
            grace_ms: 0,
            category: "water.cartridge.replace".into(),
            area: String::new(),
            spec: String::new(),
            max_price: Amount::new(1_000),
            rounds: 1,
            rule: ReleaseRule::Payer,
            arbiter: None,
        }
        .sign(&buyer)
    }

    fn candidate(seed: u8, price: u64, hours: u64, buyers: u8) -> Candidate {
        let provider = AccountId([seed; 32]);
        let mut reputation = None;
        if buyers > 0 {
            let mut r = Reputation::new(provider, "water.cartridge.replace".into());
            for b in 0..buyers {
                r.record(
                    Outcome::Released,
                    Amount::new(10),
                    AccountId([b + 100; 32]),
                    Timestamp(1),
                );
            }
            reputation = Some(r);
        }
        Candidate {
            provider,
            proposal: Proposal {
                call: call().hash(),
                round: 0,
                price: Amount::new(price),
                deliver_by: Timestamp(hours * HOUR_MS),
                warranty_ms: 0,
                valid_until: Timestamp(20_000),
                offer: None,
                note: String::new(),
            },
            reputation,
        }
    }

    #[test]
    fn the_cheapest_eligible_proposal_wins_with_time_priced_in() {
        let c = call();
        let cands = [candidate(1, 500, 9, 3), candidate(2, 400, 9, 3)];
        let policy = Policy::default();
        assert_eq!(
            policy.rank(&c, &cands, Timestamp(0))[0].provider,
            AccountId([2; 32])
        );
        // Five hours sooner at 30 an hour outweighs 100 in price.
        let cands = [candidate(1, 500, 4, 3), candidate(2, 400, 9, 3)];
        let policy = Policy {
            value_of_hour: Amount::new(30),
            ..Policy::default()
        };
        assert_eq!(
            policy.rank(&c, &cands, Timestamp(0))[0].provider,
            AccountId([1; 32])
        );
    }

    #[test]
    fn an_avoided_provider_is_never_chosen_and_the_list_is_bounded() {
        let c = call();
        let mut policy = Policy::default();
        let cands = [candidate(1, 400, 5, 3), candidate(2, 500, 5, 3)];
        assert_eq!(
            policy.rank(&c, &cands, Timestamp(0))[0].provider,
            AccountId([1; 32])
        );
        policy.avoid(AccountId([1; 32]));
        policy.avoid(AccountId([1; 32]));
        assert_eq!(policy.avoid.len(), 1, "a provider is listed once");
        assert_eq!(
            policy.eligible(&c, &cands[0], Timestamp(0)),
            Err(Skip::Avoided)
        );
        assert_eq!(
            policy.rank(&c, &cands, Timestamp(0))[0].provider,
            AccountId([2; 32])
        );
        for i in 0..AVOID_MAX {
            let byte = u8::try_from(100 + i).expect("AVOID_MAX is small");
            policy.avoid(AccountId([byte; 32]));
        }
        assert_eq!(policy.avoid.len(), AVOID_MAX);
        assert!(
            !policy.avoid.contains(&AccountId([1; 32])),
            "the oldest is forgotten"
        );
    }

    #[test]
    fn newcomers_are_capped_and_low_scores_are_skipped() {
        let c = call();
        let policy = Policy {
            min_score_ppm: 500_000,
            newcomer_max: Amount::new(300),
            ..Policy::default()
        };
        let newcomer = candidate(1, 400, 5, 0);
        assert_eq!(
            policy.eligible(&c, &newcomer, Timestamp(0)),
            Err(Skip::NewcomerOverLimit)
        );
        let cheap_newcomer = candidate(1, 250, 5, 0);
        assert_eq!(policy.eligible(&c, &cheap_newcomer, Timestamp(0)), Ok(()));
        // One buyer behind it scores a third: below the minimum.
        let thin = candidate(2, 200, 5, 1);
        assert_eq!(
            policy.eligible(&c, &thin, Timestamp(0)),
            Err(Skip::LowScore)
        );
        let solid = candidate(3, 200, 5, 4);
        assert_eq!(policy.eligible(&c, &solid, Timestamp(0)), Ok(()));
    }

    #[test]
    fn proposals_that_do_not_fit_or_expired_are_never_taken() {
        let c = call();
        let policy = Policy::default();
        let dear = candidate(1, 1_001, 5, 3);
        assert!(matches!(
            policy.eligible(&c, &dear, Timestamp(0)),
            Err(Skip::DoesNotFit(_))
        ));
        let late = candidate(1, 100, 11, 3);
        assert!(matches!(
            policy.eligible(&c, &late, Timestamp(0)),
            Err(Skip::DoesNotFit(_))
        ));
        let fine = candidate(1, 100, 5, 3);
        assert_eq!(
            policy.eligible(&c, &fine, Timestamp(20_001)),
            Err(Skip::Expired)
        );
        let both = [dear, late];
        assert!(policy.rank(&c, &both, Timestamp(0)).is_empty());
    }
}
