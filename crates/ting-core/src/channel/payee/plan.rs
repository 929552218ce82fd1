//! When and how the payee claims: the claim policy and the claim plan.
//!
//! The ledger hashes at most `CLAIM_HASHES_MAX` steps per claim: a tick in
//! the current segment at most that far past the last claimed one, or a tick
//! in the queued segment at most that far past its anchor. A payee holding a
//! tick further ahead derives the ticks in between by hashing it down
//! (`H^(i-j)(tick_i) = tick_j`) and claims them in order. A plan holds at
//! most `CHAIN_LEN_MAX / CLAIM_HASHES_MAX + 1` claims (4097).

use crate::prelude::*;

use thiserror::Error;

use super::{Payee, PayeeMode, PayeeSegment};
use crate::amount::Amount;
use crate::channel::chain::ChainKey;
use crate::channel::ChannelProof;
use crate::limits::{CHANNEL_GRACE_MS, CLAIM_HASHES_MAX};
use crate::types::Timestamp;

/// When the payee claims what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimPolicy {
    /// Claim once this much is held unclaimed (what a lost device would lose).
    pub at_risk_min: Amount,
    /// Claim once the expiry is this close, in milliseconds, whatever the amount.
    pub expiry_margin_ms: u64,
}

impl ClaimPolicy {
    /// Claim whatever is unclaimed, now.
    pub const ALWAYS: ClaimPolicy = ClaimPolicy {
        at_risk_min: Amount::ZERO,
        expiry_margin_ms: 0,
    };
}

/// Why no plan can be made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PlanError {
    #[error("the claim window closed at expiry plus the grace period; the payer may reclaim")]
    WindowClosed,
}

impl PlanError {
    pub fn code(&self) -> &'static str {
        match self {
            PlanError::WindowClosed => "claim_window_closed",
        }
    }
}

impl Payee {
    /// The claims to send now, in order, or none if the policy says wait (or
    /// nothing is unclaimed). Each respects `CLAIM_HASHES_MAX`; together they
    /// pay exactly [`Payee::unclaimed`]. To close, send all but the last as
    /// claims and the last as the close's proof.
    pub fn claim_plan(
        &self,
        now: Timestamp,
        policy: &ClaimPolicy,
    ) -> Result<Vec<ChannelProof>, PlanError> {
        let expires_at = self.state.terms.expires_at.0;
        if now.0 >= expires_at.saturating_add(CHANNEL_GRACE_MS) {
            return Err(PlanError::WindowClosed);
        }
        let at_risk = self.unclaimed();
        let near_expiry = expires_at.saturating_sub(now.0) <= policy.expiry_margin_ms;
        if at_risk.is_zero() || (at_risk < policy.at_risk_min && !near_expiry) {
            return Ok(Vec::new());
        }
        let best = self
            .state
            .best
            .expect("something unclaimed means a proof is held");
        match (&self.state.mode, best) {
            (
                PayeeMode::HashChain {
                    segments,
                    claimed_ticks,
                    ..
                },
                ChannelProof::Tick { index, preimage },
            ) => {
                let segment = segments
                    .iter()
                    .find(|s| s.base < index && index <= s.end())
                    .expect("the best tick lies in a held segment");
                Ok(tick_claims(
                    &self.state.terms.channel,
                    segment,
                    *claimed_ticks,
                    index,
                    preimage,
                ))
            }
            (PayeeMode::Voucher { .. }, voucher) => Ok(vec![voucher]),
            _ => unreachable!("restore and accept keep the proof's kind that of the mode"),
        }
    }
}

/// Claims from `claimed` up to tick `best` of `segment`, at most
/// `CLAIM_HASHES_MAX` apart, each preimage hashed down from `best`.
fn tick_claims(
    channel: &crate::channel::ChannelId,
    segment: &PayeeSegment,
    claimed: u64,
    best: u64,
    best_preimage: crate::hash::Hash32,
) -> Vec<ChannelProof> {
    // Below the segment's base the ledger checks from the anchor, so the
    // first claim's work is its local index.
    let mut at = claimed.max(segment.base);
    let mut targets = Vec::new();
    while at < best {
        at = at.saturating_add(CLAIM_HASHES_MAX).min(best);
        targets.push(at);
    }
    let key = ChainKey::new(channel, segment.number);
    let mut claims = Vec::with_capacity(targets.len());
    let (mut index, mut preimage) = (best, best_preimage);
    for &target in targets.iter().rev() {
        let steps = index
            .checked_sub(target)
            .expect("targets are below the best index");
        preimage = key.walk(&preimage, steps);
        index = target;
        claims.push(ChannelProof::Tick { index, preimage });
    }
    claims.reverse();
    claims
}
