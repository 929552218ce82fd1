//! The payee's side of a channel, as a pure state machine.
//!
//! [`PayeeState`] is what the payee must not lose: the channel's terms as the
//! ledger knows them, the best proof received so far and how much of it the
//! ledger has paid out. [`Payee::accept`] checks a payment with one signature
//! check (voucher) or `k` hash steps from the best tick held, or from the
//! anchor of the tick's segment (hash chain), never more than
//! [`PAYMENT_HASHES_MAX`]. [`Payee::claim_plan`] decides when to claim and
//! splits the claims so that each makes the ledger hash at most
//! `CLAIM_HASHES_MAX` steps.
//!
//! The checks mirror the ledger's: a payment counts only before the expiry
//! (the grace period after it is for claiming), never past the deposit, and
//! a tick in the queued segment is checked from that segment's anchor.
//! `Payee` is small and `Clone`, so a durable wrapper can run `accept` on a
//! copy, persist the copy's state and only then keep it.

use crate::prelude::*;

use thiserror::Error;

use super::chain::ChainKey;
use super::payer::{ticks_value, ChannelTerms, RestoreError, TopUpError, SEGMENTS_HELD_MAX};
use super::{verify_voucher, ChainSegment, ChannelMode, ChannelProof, Payment};
use crate::amount::Amount;
use crate::hash::Hash32;
use crate::types::Timestamp;

mod plan;

pub use plan::{ClaimPolicy, PlanError};

/// Most hash steps the payee spends checking one payment. A payment of more
/// units than this is refused, so one bad payment costs the payee at most
/// about 50 ms of one core (at about 20 M steps/s); a payer paying more at
/// once splits it. It is 256 times `CLAIM_HASHES_MAX`: the payee checks
/// off-ledger what the ledger later checks in steps.
pub const PAYMENT_HASHES_MAX: u64 = 1 << 20;

/// One hash-chain segment as the ledger announced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayeeSegment {
    pub number: u32,
    /// Global index of the anchor: local tick `i` is global `base + i`.
    pub base: u64,
    pub chain: ChainSegment,
}

impl PayeeSegment {
    /// Global index of the segment's last tick.
    pub fn end(&self) -> u64 {
        self.base.saturating_add(u64::from(self.chain.len))
    }

    fn contains(&self, index: u64) -> bool {
        self.base < index && index <= self.end()
    }
}

/// How the payee is paid and how much the ledger has paid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayeeMode {
    HashChain {
        price: Amount,
        /// Held segments, in order, at most `SEGMENTS_HELD_MAX`.
        segments: Vec<PayeeSegment>,
        /// Global index of the last tick the ledger confirmed claimed (0: none).
        claimed_ticks: u64,
    },
    Voucher {
        /// Cumulative amount the ledger confirmed claimed.
        claimed: Amount,
    },
}

/// Everything the payee persists about one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayeeState {
    pub terms: ChannelTerms,
    pub mode: PayeeMode,
    /// The most valuable proof received (or claimed) so far.
    pub best: Option<ChannelProof>,
}

/// What an accepted payment was worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Value beyond the previous best proof: what this payment paid.
    pub newly_paid: Amount,
    /// Value of the new best proof: all the payer has paid on the channel.
    pub total: Amount,
}

/// Why a payment was refused. Nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PaymentError {
    #[error("the payment is for another network")]
    WrongNetwork,
    #[error("the payment is for another channel")]
    WrongChannel,
    #[error("the payment's kind does not match the channel (tick versus voucher)")]
    WrongMode,
    #[error("the channel has expired")]
    Expired,
    #[error("the payment is not more than one already received")]
    Replayed,
    #[error("the payment is worth more than the deposit")]
    OverDeposit,
    #[error("the tick lies in no segment the ledger announced")]
    UnknownSegment,
    #[error("checking the tick would take {steps} hash steps; the limit is {max}")]
    TooFar { steps: u64, max: u64 },
    #[error("the preimage does not hash to the chain")]
    BadPreimage,
    #[error("the voucher's signature is not the payer's")]
    BadSignature,
}

impl PaymentError {
    pub fn code(&self) -> &'static str {
        match self {
            PaymentError::WrongNetwork => "wrong_network",
            PaymentError::WrongChannel => "wrong_channel",
            PaymentError::WrongMode => "wrong_mode",
            PaymentError::Expired => "channel_expired",
            PaymentError::Replayed => "replayed",
            PaymentError::OverDeposit => "over_deposit",
            PaymentError::UnknownSegment => "unknown_segment",
            PaymentError::TooFar { .. } => "too_far",
            PaymentError::BadPreimage => "bad_preimage",
            PaymentError::BadSignature => "bad_signature",
        }
    }
}

/// Why a ledger-confirmed claim could not be recorded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ClaimedError {
    #[error("the claim's kind does not match the channel (tick versus voucher)")]
    WrongMode,
    #[error("the claimed tick lies in no segment held; record the top-up first")]
    UnknownSegment,
}

impl ClaimedError {
    pub fn code(&self) -> &'static str {
        match self {
            ClaimedError::WrongMode => "wrong_mode",
            ClaimedError::UnknownSegment => "unknown_segment",
        }
    }
}

/// The payee of one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payee {
    state: PayeeState,
}

impl Payee {
    /// A payee for a channel the ledger opened with these terms and mode.
    pub fn new(terms: ChannelTerms, mode: ChannelMode) -> Payee {
        let mode = match mode {
            ChannelMode::HashChain { chain, price } => PayeeMode::HashChain {
                price,
                segments: vec![PayeeSegment {
                    number: 0,
                    base: 0,
                    chain,
                }],
                claimed_ticks: 0,
            },
            ChannelMode::Voucher => PayeeMode::Voucher {
                claimed: Amount::ZERO,
            },
        };
        Payee {
            state: PayeeState {
                terms,
                mode,
                best: None,
            },
        }
    }

    /// A payee from a persisted state, checked to hold together.
    pub fn restore(state: PayeeState) -> Result<Payee, RestoreError> {
        check_state(&state)?;
        Ok(Payee { state })
    }

    pub fn state(&self) -> &PayeeState {
        &self.state
    }

    pub fn terms(&self) -> &ChannelTerms {
        &self.state.terms
    }

    /// Value of the best proof held: everything the payer has paid.
    pub fn paid(&self) -> Amount {
        self.value_of(self.state.best.as_ref())
    }

    /// Value the ledger has paid out.
    pub fn claimed(&self) -> Amount {
        match &self.state.mode {
            PayeeMode::HashChain {
                price,
                claimed_ticks,
                ..
            } => ticks_value(*price, *claimed_ticks).expect("claims stay within the deposit"),
            PayeeMode::Voucher { claimed } => *claimed,
        }
    }

    /// Value held but not yet paid out by the ledger: what a lost device would lose.
    pub fn unclaimed(&self) -> Amount {
        self.paid()
            .checked_sub(self.claimed())
            .expect("the best proof is worth at least what was claimed")
    }

    /// Checks `payment` and, if it pays more than the best proof, keeps it.
    pub fn accept(&mut self, payment: &Payment, now: Timestamp) -> Result<Accepted, PaymentError> {
        let terms = &self.state.terms;
        if payment.network != terms.network {
            return Err(PaymentError::WrongNetwork);
        }
        if payment.channel != terms.channel {
            return Err(PaymentError::WrongChannel);
        }
        if now >= terms.expires_at {
            return Err(PaymentError::Expired);
        }
        let before = self.paid();
        let total = match (&self.state.mode, payment.proof) {
            (
                PayeeMode::HashChain {
                    price, segments, ..
                },
                ChannelProof::Tick { index, preimage },
            ) => self.check_tick(*price, segments, index, &preimage)?,
            (PayeeMode::Voucher { .. }, ChannelProof::Voucher { amount, signature }) => {
                if amount <= before {
                    return Err(PaymentError::Replayed);
                }
                if amount > terms.deposit {
                    return Err(PaymentError::OverDeposit);
                }
                verify_voucher(
                    &terms.payer,
                    terms.network,
                    &terms.channel,
                    amount,
                    &signature,
                )
                .map_err(|_| PaymentError::BadSignature)?;
                amount
            }
            _ => return Err(PaymentError::WrongMode),
        };
        self.state.best = Some(payment.proof);
        Ok(Accepted {
            newly_paid: total
                .checked_sub(before)
                .expect("accepted payments increase"),
            total,
        })
    }

    /// Records a claim the ledger confirmed (by anyone): raises what was
    /// claimed and, if the claim is ahead of the best proof, the best proof.
    pub fn record_claim(&mut self, proof: &ChannelProof) -> Result<(), ClaimedError> {
        let best_index = self.best_tick().map_or(0, |(i, _)| i);
        let best_amount = self.paid();
        match (&mut self.state.mode, *proof) {
            (
                PayeeMode::HashChain {
                    segments,
                    claimed_ticks,
                    ..
                },
                ChannelProof::Tick { index, .. },
            ) => {
                if index > segments.last().map_or(0, PayeeSegment::end) {
                    return Err(ClaimedError::UnknownSegment);
                }
                *claimed_ticks = (*claimed_ticks).max(index);
                while segments.len() > 1 && *claimed_ticks >= segments[0].end() {
                    segments.remove(0);
                }
                if index > best_index {
                    self.state.best = Some(*proof);
                }
            }
            (PayeeMode::Voucher { claimed }, ChannelProof::Voucher { amount, .. }) => {
                *claimed = (*claimed).max(amount);
                if amount > best_amount {
                    self.state.best = Some(*proof);
                }
            }
            _ => return Err(ClaimedError::WrongMode),
        }
        Ok(())
    }

    /// Records a confirmed top-up: more deposit, a later expiry and, for a
    /// hash-chain channel, perhaps a queued segment (which must be numbered
    /// one past the last held).
    pub fn record_top_up(
        &mut self,
        amount: Amount,
        expires_at: Timestamp,
        extension: Option<(u32, ChainSegment)>,
    ) -> Result<(), TopUpError> {
        let mut next = self.state.clone();
        next.terms = next.terms.topped_up(amount, expires_at)?;
        if let Some((number, chain)) = extension {
            let PayeeMode::HashChain { segments, .. } = &mut next.mode else {
                return Err(TopUpError::WrongMode);
            };
            if segments.len() >= SEGMENTS_HELD_MAX {
                return Err(TopUpError::SegmentQueued);
            }
            let last = *segments.last().expect("a hash-chain payee holds a segment");
            if last.number.checked_add(1) != Some(number) {
                return Err(TopUpError::SegmentQueued);
            }
            segments.push(PayeeSegment {
                number,
                base: last.end(),
                chain,
            });
        }
        check_state(&next).map_err(|_| TopUpError::DepositTooSmall { needed: None })?;
        self.state = next;
        Ok(())
    }

    /// Checks a tick against the best tick held or its segment's anchor and
    /// returns its total value.
    fn check_tick(
        &self,
        price: Amount,
        segments: &[PayeeSegment],
        index: u64,
        preimage: &Hash32,
    ) -> Result<Amount, PaymentError> {
        let best = self.best_tick();
        let best_index = best.map_or(0, |(i, _)| i);
        if index <= best_index {
            return Err(PaymentError::Replayed);
        }
        let segment = segments
            .iter()
            .find(|s| s.contains(index))
            .ok_or(PaymentError::UnknownSegment)?;
        let total = ticks_value(price, index)
            .filter(|v| *v <= self.state.terms.deposit)
            .ok_or(PaymentError::OverDeposit)?;
        let (steps, reference) = match best {
            Some((i, p)) if segment.contains(i) => (index.saturating_sub(i), p),
            _ => (index.saturating_sub(segment.base), segment.chain.anchor),
        };
        if steps > PAYMENT_HASHES_MAX {
            return Err(PaymentError::TooFar {
                steps,
                max: PAYMENT_HASHES_MAX,
            });
        }
        let key = ChainKey::new(&self.state.terms.channel, segment.number);
        if !key.links(preimage, steps, &reference) {
            return Err(PaymentError::BadPreimage);
        }
        Ok(total)
    }

    fn best_tick(&self) -> Option<(u64, Hash32)> {
        match self.state.best {
            Some(ChannelProof::Tick { index, preimage }) => Some((index, preimage)),
            _ => None,
        }
    }

    fn value_of(&self, proof: Option<&ChannelProof>) -> Amount {
        match (&self.state.mode, proof) {
            (PayeeMode::HashChain { price, .. }, Some(ChannelProof::Tick { index, .. })) => {
                ticks_value(*price, *index).expect("held ticks stay within the deposit")
            }
            (PayeeMode::Voucher { .. }, Some(ChannelProof::Voucher { amount, .. })) => *amount,
            _ => Amount::ZERO,
        }
    }
}

/// Checks everything a persisted payee state must satisfy before it is used.
fn check_state(state: &PayeeState) -> Result<(), RestoreError> {
    let bad = |what| Err(RestoreError { what });
    let deposit = state.terms.deposit;
    match (&state.mode, &state.best) {
        (PayeeMode::Voucher { claimed }, best) => {
            let best_amount = match best {
                None => Amount::ZERO,
                Some(ChannelProof::Voucher { amount, .. }) => *amount,
                Some(_) => return bad("best proof is not a voucher"),
            };
            if *claimed > best_amount || best_amount > deposit {
                return bad("voucher amounts out of order");
            }
            Ok(())
        }
        (
            PayeeMode::HashChain {
                price,
                segments,
                claimed_ticks,
            },
            best,
        ) => {
            let best_index = match best {
                None => 0,
                Some(ChannelProof::Tick { index, .. }) => *index,
                Some(_) => return bad("best proof is not a tick"),
            };
            check_segments(segments)?;
            let first = &segments[0];
            let total = segments.last().expect("checked non-empty").end();
            if price.is_zero() || ticks_value(*price, total).is_none_or(|v| v > deposit) {
                return bad("deposit does not cover the chain");
            }
            if *claimed_ticks > best_index || best_index > total || *claimed_ticks < first.base {
                return bad("claimed and best ticks out of order");
            }
            Ok(())
        }
    }
}

fn check_segments(segments: &[PayeeSegment]) -> Result<(), RestoreError> {
    let layout: Vec<_> = segments
        .iter()
        .map(|s| (s.number, s.base, s.chain.len))
        .collect();
    super::payer::check_segment_layout(&layout)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod model_tests;
