//! The payer's state transitions and invariants, as functions of the state.

use crate::prelude::*;

use super::{
    check_len, ChainKey, NewSegment, PayError, PayerMode, PayerSegment, PayerState, RestoreError,
    TickSource, TopUpError, SEGMENTS_HELD_MAX,
};
use crate::amount::Amount;
use crate::channel::ChannelProof;
use crate::types::Timestamp;

use super::ChannelTerms;

pub(super) use super::ticks_value as value_of;

/// Global index of the last tick of the last held segment.
pub(super) fn total_ticks(state: &PayerState) -> u64 {
    match &state.mode {
        PayerMode::HashChain { segments, .. } => segments.last().map_or(0, PayerSegment::end),
        PayerMode::Voucher { .. } => 0,
    }
}

pub(super) fn paid_value(state: &PayerState) -> Amount {
    match &state.mode {
        PayerMode::HashChain {
            price, paid_ticks, ..
        } => value_of(*price, *paid_ticks).expect("the deposit covers every tick paid"),
        PayerMode::Voucher { paid } => *paid,
    }
}

/// The deposit covers `price ×` every tick of every segment; `Err` says what it would need.
pub(super) fn check_covered(state: &PayerState) -> Result<(), Option<Amount>> {
    let PayerMode::HashChain { price, .. } = &state.mode else {
        return Ok(());
    };
    match value_of(*price, total_ticks(state)) {
        Some(needed) if needed <= state.terms.deposit => Ok(()),
        needed => Err(needed),
    }
}

pub(super) fn check_payable(
    terms: &ChannelTerms,
    nothing: bool,
    now: Timestamp,
) -> Result<(), PayError> {
    if nothing {
        return Err(PayError::NothingToPay);
    }
    if now >= terms.expires_at {
        return Err(PayError::Expired);
    }
    Ok(())
}

/// The state after revealing global tick `index`, dropping segments paid past.
pub(super) fn advanced_ticks(state: &PayerState, index: u64, proof: ChannelProof) -> PayerState {
    let mut next = state.clone();
    advance_ticks(&mut next, index, proof);
    next
}

/// Moves `state` past tick `index` in place, with no allocation; answers how
/// many spent segments it dropped from the front.
pub(super) fn advance_ticks(state: &mut PayerState, index: u64, proof: ChannelProof) -> usize {
    let PayerMode::HashChain {
        segments,
        paid_ticks,
        ..
    } = &mut state.mode
    else {
        unreachable!("only hash-chain payers reveal ticks");
    };
    assert!(index > *paid_ticks, "a payer never reveals a tick twice");
    *paid_ticks = index;
    let mut dropped = 0usize;
    while segments.len() > 1 && index > segments[0].end() {
        segments.remove(0);
        dropped = dropped.saturating_add(1);
    }
    state.last_proof = Some(proof);
    dropped
}

/// The state after a confirmed top-up, and the tick source of a queued segment.
pub(super) fn topped_up(
    state: &PayerState,
    amount: Amount,
    expires_at: Timestamp,
    extension: Option<NewSegment>,
) -> Result<(PayerState, Option<TickSource>), TopUpError> {
    let mut next = state.clone();
    next.terms = state.terms.topped_up(amount, expires_at)?;
    let Some(extension) = extension else {
        return Ok((next, None));
    };
    let channel = state.terms.channel;
    let PayerMode::HashChain { segments, .. } = &mut next.mode else {
        return Err(TopUpError::WrongMode);
    };
    if segments.len() >= SEGMENTS_HELD_MAX {
        return Err(TopUpError::SegmentQueued);
    }
    check_len(extension.len)?;
    let last = segments.last().expect("a hash-chain payer holds a segment");
    let segment = PayerSegment {
        number: last.number.checked_add(1).ok_or(TopUpError::Overflow)?,
        base: last.end(),
        len: extension.len,
        seed: extension.seed,
    };
    segment
        .base
        .checked_add(u64::from(segment.len))
        .ok_or(TopUpError::Overflow)?;
    segments.push(segment);
    check_covered(&next).map_err(|needed| TopUpError::DepositTooSmall { needed })?;
    let key = ChainKey::new(&channel, segment.number);
    Ok((next, Some(TickSource::new(key, segment.seed, segment.len))))
}

/// Checks everything a persisted state must satisfy before it is used.
pub(super) fn check_state(state: &PayerState) -> Result<(), RestoreError> {
    let bad = |what| Err(RestoreError { what });
    match (&state.mode, &state.last_proof) {
        (PayerMode::Voucher { paid }, proof) => {
            if *paid > state.terms.deposit {
                return bad("voucher amount past the deposit");
            }
            match proof {
                None if paid.is_zero() => Ok(()),
                Some(ChannelProof::Voucher { amount, .. }) if amount == paid => Ok(()),
                _ => bad("last voucher does not match the amount paid"),
            }
        }
        (
            PayerMode::HashChain {
                price,
                segments,
                paid_ticks,
            },
            proof,
        ) => {
            check_segments(segments)?;
            let first = &segments[0];
            let last = segments.last().expect("checked non-empty");
            if price.is_zero() {
                return bad("zero price");
            }
            if *paid_ticks < first.base || *paid_ticks > last.end() {
                return bad("paid position outside the held segments");
            }
            if segments.len() > 1 && *paid_ticks > first.end() {
                return bad("a segment paid past is still held");
            }
            if check_covered(state).is_err() {
                return bad("deposit does not cover the chain");
            }
            match proof {
                None if *paid_ticks == 0 => Ok(()),
                Some(ChannelProof::Tick { index, .. }) if index == paid_ticks => Ok(()),
                _ => bad("last tick does not match the position paid"),
            }
        }
    }
}

fn check_segments(segments: &[PayerSegment]) -> Result<(), RestoreError> {
    let layout: Vec<_> = segments.iter().map(|s| (s.number, s.base, s.len)).collect();
    super::check_segment_layout(&layout)
}
