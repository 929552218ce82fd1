//! The payer's side of a channel, as a pure state machine.
//!
//! [`PayerState`] is everything the payer must not forget: the channel's
//! terms, the secret seeds of the hash-chain segments still in use, and how
//! far it has paid. It is what the device persists. [`Payer`] wraps it with
//! the [`TickSource`] caches, which are rebuilt from the seeds, never stored.
//!
//! Every change goes through two steps so that a durable wrapper can order
//! its writes: `prepare_*` computes the next state and its output without
//! changing anything; the caller persists [`Prepared::state`], then calls
//! [`Payer::commit`], which installs the state and only then hands out the
//! output (the payment). A crash between the two loses at most one payment
//! that was never sent; it never reveals one tick for two purchases.
//!
//! Segments mirror the ledger: segment 0 is the chain given at open; a top-up
//! may queue one further segment, whose ticks continue the global index.
//! Global tick `g` of segment `s` lies in `(base_s, base_s + len_s]`. The
//! payer holds at most [`SEGMENTS_HELD_MAX`] segments: the one it pays from
//! and one queued; a segment is dropped once the payer has paid past its end.

use crate::prelude::*;

use thiserror::Error;

use super::chain::ChainKey;
use super::payee::PAYMENT_HASHES_MAX;
use super::ticks::TickSource;
use super::{sign_voucher, ChainSegment, ChannelId, ChannelMode, ChannelProof, Payment};
use crate::account::AccountId;
use crate::amount::Amount;
use crate::hash::Hash32;
use crate::keys::Keypair;
use crate::limits::CHAIN_LEN_MAX;
use crate::types::{NetworkId, Timestamp};

/// Prefix of the hash that derives a chain's seed from the payer's key.
pub const CHAIN_SEED_DOMAIN: &[u8] = b"ting:chain-seed:v1";

/// The seed of chain `segment` of `channel`, derived from the payer's secret
/// key: a payer that loses its channel file (or crashes between a top-up's
/// commit and its local record) makes the same seed again. The CLI and the
/// device SDK both use it, so either can pay from the other's channels.
pub fn derive_chain_seed(key: &Keypair, channel: &ChannelId, segment: u32) -> Hash32 {
    Hash32::digest(&[
        CHAIN_SEED_DOMAIN,
        &key.seed(),
        &channel.0 .0,
        &segment.to_le_bytes(),
    ])
}

/// Checks the layout shared by the payer's and the payee's held segments,
/// each given as `(number, base, len)`: one or two, lengths within limits,
/// segment 0 starting at tick 0, each following the previous one.
pub(crate) fn check_segment_layout(layout: &[(u32, u64, u32)]) -> Result<(), RestoreError> {
    let bad = |what| Err(RestoreError { what });
    if layout.is_empty() || layout.len() > SEGMENTS_HELD_MAX {
        return bad("number of held segments");
    }
    if layout[0].0 == 0 && layout[0].1 != 0 {
        return bad("segment 0 does not start at tick 0");
    }
    let mut end = None;
    for &(number, base, len) in layout {
        if check_len(len).is_err() {
            return bad("segment length");
        }
        let Some(this_end) = base.checked_add(u64::from(len)) else {
            return bad("segment length");
        };
        if let Some((last_number, last_end)) = end {
            if u32::checked_add(last_number, 1) != Some(number) || last_end != base {
                return bad("segments do not follow one another");
            }
        }
        end = Some((number, this_end));
    }
    Ok(())
}

/// Most hash-chain segments a payer or payee holds at once: the one being
/// paid from and the one a top-up queued. The ledger queues at most one.
pub const SEGMENTS_HELD_MAX: usize = 2;

/// What both sides agree on when the channel opens (and top-ups change).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelTerms {
    pub network: NetworkId,
    pub channel: ChannelId,
    pub payer: AccountId,
    pub payee: AccountId,
    pub deposit: Amount,
    pub expires_at: Timestamp,
}

impl ChannelTerms {
    /// The terms after a top-up of `amount` that moves the expiry to `expires_at`.
    pub fn topped_up(
        &self,
        amount: Amount,
        expires_at: Timestamp,
    ) -> Result<ChannelTerms, TopUpError> {
        if expires_at < self.expires_at {
            return Err(TopUpError::ExpiryEarlier);
        }
        let deposit = self
            .deposit
            .checked_add(amount)
            .ok_or(TopUpError::Overflow)?;
        Ok(ChannelTerms {
            deposit,
            expires_at,
            ..*self
        })
    }
}

/// One segment as the payer holds it: its number, where it starts in the
/// global index, its length and its secret seed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PayerSegment {
    pub number: u32,
    /// Global index of the segment's anchor: its local tick `i` is global `base + i`.
    pub base: u64,
    pub len: u32,
    pub seed: Hash32,
}

impl PayerSegment {
    /// Global index of the segment's last tick (its seed).
    pub fn end(&self) -> u64 {
        self.base.saturating_add(u64::from(self.len))
    }
}

impl core::fmt::Debug for PayerSegment {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The seed is the payer's money: never print it.
        f.debug_struct("PayerSegment")
            .field("number", &self.number)
            .field("base", &self.base)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// How the payer pays, and how far it has paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayerMode {
    HashChain {
        price: Amount,
        /// Held segments, in order, at most `SEGMENTS_HELD_MAX`.
        segments: Vec<PayerSegment>,
        /// Global index of the last tick revealed (0: none).
        paid_ticks: u64,
    },
    Voucher {
        /// Cumulative amount of the last voucher signed.
        paid: Amount,
    },
}

/// Everything the payer persists about one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayerState {
    pub terms: ChannelTerms,
    pub mode: PayerMode,
    /// The proof of the last payment, so it can be sent again after a crash.
    pub last_proof: Option<ChannelProof>,
}

/// A fresh segment for an open or a top-up: its secret seed and length.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NewSegment {
    pub seed: Hash32,
    pub len: u32,
}

impl core::fmt::Debug for NewSegment {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NewSegment")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// The anchor and length of segment `number` of `channel` grown from `seed`:
/// what an open or top-up transaction carries. Costs `len` hash steps.
pub fn chain_segment(
    channel: &ChannelId,
    number: u32,
    segment: NewSegment,
) -> Result<ChainSegment, ChainLenError> {
    check_len(segment.len)?;
    let key = ChainKey::new(channel, number);
    Ok(ChainSegment {
        anchor: key.walk(&segment.seed, u64::from(segment.len)),
        len: segment.len,
    })
}

/// The value of `ticks` ticks at `price` each, or `None` on overflow.
pub fn ticks_value(price: Amount, ticks: u64) -> Option<Amount> {
    price.base_units().checked_mul(ticks).map(Amount::new)
}

/// A chain length outside `1..=CHAIN_LEN_MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("a chain must have 1 to {max} ticks, not {len}", max = CHAIN_LEN_MAX)]
pub struct ChainLenError {
    pub len: u32,
}

impl ChainLenError {
    pub fn code(&self) -> &'static str {
        "bad_chain_length"
    }
}

fn check_len(len: u32) -> Result<(), ChainLenError> {
    if (1..=CHAIN_LEN_MAX).contains(&len) {
        Ok(())
    } else {
        Err(ChainLenError { len })
    }
}

/// A computed next state and its output, not yet installed.
#[derive(Debug)]
#[must_use = "nothing changes until the caller commits it"]
pub struct Prepared<T> {
    prior: PayerState,
    next: PayerState,
    output: T,
    /// A tick source for a newly queued segment.
    source: Option<TickSource>,
}

impl<T> Prepared<T> {
    /// The state to persist before committing.
    pub fn state(&self) -> &PayerState {
        &self.next
    }
}

/// The payer of one channel: its state and the caches to compute ticks.
#[derive(Debug)]
pub struct Payer {
    state: PayerState,
    /// One per held segment, in the same order.
    sources: Vec<TickSource>,
}

mod errors;
mod ops;

pub use errors::{OpenError, PayError, RestoreError, TopUpError};

impl Payer {
    /// A hash-chain channel about to be opened, and the mode its open
    /// transaction carries. Costs `len` hash steps.
    pub fn open_hash_chain(
        terms: ChannelTerms,
        price: Amount,
        segment: NewSegment,
    ) -> Result<(Payer, ChannelMode), OpenError> {
        let chain = chain_segment(&terms.channel, 0, segment)?;
        let state = PayerState {
            terms,
            mode: PayerMode::HashChain {
                price,
                segments: vec![PayerSegment {
                    number: 0,
                    base: 0,
                    len: segment.len,
                    seed: segment.seed,
                }],
                paid_ticks: 0,
            },
            last_proof: None,
        };
        ops::check_covered(&state).map_err(|_| OpenError::DepositTooSmall)?;
        if price.is_zero() {
            return Err(OpenError::ZeroPrice);
        }
        Ok((
            Payer::restore(state)?,
            ChannelMode::HashChain { chain, price },
        ))
    }

    /// A voucher channel about to be opened.
    pub fn open_voucher(terms: ChannelTerms) -> Payer {
        let state = PayerState {
            terms,
            mode: PayerMode::Voucher { paid: Amount::ZERO },
            last_proof: None,
        };
        Payer {
            state,
            sources: Vec::new(),
        }
    }

    /// Rebuilds a payer from a persisted state, checking that it holds
    /// together. Costs one walk of every held segment.
    pub fn restore(state: PayerState) -> Result<Payer, RestoreError> {
        ops::check_state(&state)?;
        let sources = match &state.mode {
            PayerMode::HashChain { segments, .. } => segments
                .iter()
                .map(|s| {
                    TickSource::new(ChainKey::new(&state.terms.channel, s.number), s.seed, s.len)
                })
                .collect(),
            PayerMode::Voucher { .. } => Vec::new(),
        };
        Ok(Payer { state, sources })
    }

    pub fn state(&self) -> &PayerState {
        &self.state
    }

    pub fn terms(&self) -> &ChannelTerms {
        &self.state.terms
    }

    /// Total value revealed so far: ticks × price, or the last voucher's amount.
    pub fn paid(&self) -> Amount {
        ops::paid_value(&self.state)
    }

    /// The last payment made, to send again when its delivery is in doubt.
    pub fn last_payment(&self) -> Option<Payment> {
        self.state.last_proof.map(|proof| self.payment(proof))
    }

    /// The number the next queued segment must carry.
    pub fn next_segment_number(&self) -> Option<u32> {
        match &self.state.mode {
            PayerMode::HashChain { segments, .. } => {
                segments.last().and_then(|s| s.number.checked_add(1))
            }
            PayerMode::Voucher { .. } => None,
        }
    }

    /// Prepares revealing the tick `units` ticks past the last one paid,
    /// crossing into the queued segment when the current one runs out.
    pub fn prepare_pay(
        &mut self,
        units: u64,
        now: Timestamp,
    ) -> Result<Prepared<Payment>, PayError> {
        let index = self.payable_tick(units, now)?;
        let preimage = self.tick(index);
        let proof = ChannelProof::Tick { index, preimage };
        let next = ops::advanced_ticks(&self.state, index, proof);
        Ok(self.prepared(next, self.payment(proof), None))
    }

    /// Reveals the tick `units` ticks past the last one paid and moves the
    /// payer past it at once, with no allocation: [`Payer::prepare_pay`] and
    /// [`Payer::commit`] in one step, for firmware. The caller persists
    /// [`Payer::state`] before it sends the payment; if it loses that state
    /// it can only reveal a tick already paid, which moves no money.
    pub fn pay_ticks(&mut self, units: u64, now: Timestamp) -> Result<Payment, PayError> {
        let index = self.payable_tick(units, now)?;
        let preimage = self.tick(index);
        let proof = ChannelProof::Tick { index, preimage };
        let dropped = ops::advance_ticks(&mut self.state, index, proof);
        self.sources.drain(..dropped);
        Ok(self.payment(proof))
    }

    /// The global index of the tick `units` past the last one paid, if it
    /// may be paid now.
    fn payable_tick(&self, units: u64, now: Timestamp) -> Result<u64, PayError> {
        let (price, paid_ticks) = match &self.state.mode {
            PayerMode::HashChain {
                price, paid_ticks, ..
            } => (*price, *paid_ticks),
            PayerMode::Voucher { .. } => return Err(PayError::WrongMode),
        };
        ops::check_payable(&self.state.terms, units == 0, now)?;
        if units > PAYMENT_HASHES_MAX {
            return Err(PayError::TooLarge {
                units,
                max: PAYMENT_HASHES_MAX,
            });
        }
        let total = ops::total_ticks(&self.state);
        let index = paid_ticks
            .checked_add(units)
            .filter(|i| *i <= total)
            .ok_or(PayError::ChainExhausted {
                remaining: total.saturating_sub(paid_ticks),
            })?;
        ops::value_of(price, index)
            .filter(|v| *v <= self.state.terms.deposit)
            .ok_or(PayError::OverDeposit)?;
        Ok(index)
    }

    /// Prepares a voucher for `amount` more than the last one, signed by `key`.
    pub fn prepare_pay_amount(
        &self,
        amount: Amount,
        now: Timestamp,
        key: &Keypair,
    ) -> Result<Prepared<Payment>, PayError> {
        let PayerMode::Voucher { paid } = self.state.mode else {
            return Err(PayError::WrongMode);
        };
        let terms = &self.state.terms;
        ops::check_payable(terms, amount.is_zero(), now)?;
        if key.account() != terms.payer {
            return Err(PayError::WrongKey);
        }
        let total = paid
            .checked_add(amount)
            .filter(|t| *t <= terms.deposit)
            .ok_or(PayError::OverDeposit)?;
        let proof = sign_voucher(key, terms.network, &terms.channel, total);
        let mut next = self.state.clone();
        next.mode = PayerMode::Voucher { paid: total };
        next.last_proof = Some(proof);
        Ok(self.prepared(next, self.payment(proof), None))
    }

    /// Prepares recording a confirmed top-up: `amount` more deposit, expiry
    /// moved to `expires_at` (never earlier) and, for a hash-chain channel,
    /// optionally a queued segment numbered [`Payer::next_segment_number`].
    pub fn prepare_top_up(
        &self,
        amount: Amount,
        expires_at: Timestamp,
        extension: Option<NewSegment>,
    ) -> Result<Prepared<()>, TopUpError> {
        let (next, source) = ops::topped_up(&self.state, amount, expires_at, extension)?;
        Ok(self.prepared(next, (), source))
    }

    /// Installs a prepared state (persist it first) and returns its output.
    ///
    /// Panics if the payer changed since `prepared` was made: a stale state
    /// would move the payer backwards.
    pub fn commit<T>(&mut self, prepared: Prepared<T>) -> T {
        assert!(
            prepared.prior == self.state,
            "a prepared payer state was committed after another change"
        );
        if let PayerMode::HashChain { segments, .. } = &prepared.next.mode {
            // The next segments are a suffix of the held ones plus any new one.
            self.sources.extend(prepared.source);
            let gone = self.sources.len().saturating_sub(segments.len());
            self.sources.drain(..gone);
        }
        self.state = prepared.next;
        prepared.output
    }

    fn prepared<T>(&self, next: PayerState, output: T, source: Option<TickSource>) -> Prepared<T> {
        Prepared {
            prior: self.state.clone(),
            next,
            output,
            source,
        }
    }

    fn payment(&self, proof: ChannelProof) -> Payment {
        Payment {
            network: self.state.terms.network,
            channel: self.state.terms.channel,
            proof,
        }
    }

    /// Global tick `index`, which a held segment must contain.
    fn tick(&mut self, index: u64) -> Hash32 {
        let PayerMode::HashChain { segments, .. } = &self.state.mode else {
            unreachable!("only hash-chain payers have ticks");
        };
        let at = segments
            .iter()
            .position(|s| s.base < index && index <= s.end())
            .expect("a held segment contains every payable tick");
        let local = u32::try_from(index.saturating_sub(segments[at].base))
            .expect("a local index fits the length");
        self.sources[at].tick(local)
    }
}

#[cfg(test)]
mod tests;
