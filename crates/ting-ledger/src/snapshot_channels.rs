//! The channel section of a snapshot (version 2 and later).
//!
//! Layout (little-endian, as the rest of the snapshot): u64 count, then per channel sorted by id: id [32], payer [32],
//! payee [32], deposit u64, claimed u64, opened_at u64, expires_at u64, mode
//! u8 (1 hash chain: price u64, segment u32, base u64, current anchor [32] and
//! length u32, next flag u8 and next anchor [32] and length u32 if set,
//! claimed index u64, claimed tick [32]; 2 voucher), closed flag u8 (and if
//! set: at u64, refunded u64, by u8: 1 payee, 2 reclaim). Decoding checks each
//! record's own invariants, so a damaged snapshot cannot make a claim pay
//! more than a deposit.

use ting_core::encoding::{Reader, Writer};
use ting_core::{ChainSegment, ChannelId, DecodeError, Timestamp};

use crate::channel::{Channel, ChannelTerms, CloseKind, Closed, HashChainState};
use crate::error::SnapshotDecodeError;
use crate::state::State;

const MODE_HASH_CHAIN: u8 = 1;
const MODE_VOUCHER: u8 = 2;
const BY_PAYEE: u8 = 1;
const BY_RECLAIM: u8 = 2;
/// The fewest bytes one channel record takes (a voucher channel, open).
const CHANNEL_BYTES_MIN: usize = 32 * 3 + 8 * 4 + 1 + 1;

pub(crate) fn encode(state: &State, w: &mut Writer) {
    let mut channels: Vec<(&ChannelId, &Channel)> = state.channels.iter().collect();
    channels.sort_unstable_by_key(|(id, _)| **id);
    w.u64(channels.len() as u64);
    for (id, c) in channels {
        w.hash(&id.0).account(&c.payer).account(&c.payee);
        w.amount(c.deposit)
            .amount(c.claimed)
            .u64(c.opened_at.0)
            .u64(c.expires_at.0);
        match &c.mode {
            ChannelTerms::HashChain(h) => {
                w.u8(MODE_HASH_CHAIN)
                    .amount(h.price)
                    .u32(h.segment)
                    .u64(h.base);
                segment(w, &h.current);
                if let Some(next) = &h.next {
                    w.u8(1);
                    segment(w, next);
                } else {
                    w.u8(0);
                }
                w.u64(h.claimed_index).hash(&h.claimed_tick);
            }
            ChannelTerms::Voucher => {
                w.u8(MODE_VOUCHER);
            }
        }
        if let Some(closed) = c.closed {
            let by = match closed.by {
                CloseKind::Payee => BY_PAYEE,
                CloseKind::Reclaim => BY_RECLAIM,
            };
            w.u8(1).u64(closed.at.0).amount(closed.refunded).u8(by);
        } else {
            w.u8(0);
        }
    }
}

fn segment(w: &mut Writer, s: &ChainSegment) {
    w.hash(&s.anchor).u32(s.len);
}

pub(crate) fn decode(r: &mut Reader<'_>, state: &mut State) -> Result<(), SnapshotDecodeError> {
    let n = r.u64("channel count")?;
    let fits = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(CHANNEL_BYTES_MIN))
        .is_some_and(|b| b <= r.remaining());
    if !fits {
        return Err(invalid("channel count"));
    }
    let mut last: Option<ChannelId> = None;
    for _ in 0..n {
        let id = ChannelId(r.hash("channel")?);
        if last.is_some_and(|prev| prev >= id) {
            return Err(SnapshotDecodeError::Unsorted);
        }
        last = Some(id);
        let channel = decode_channel(r)?;
        if channel.closed.is_none() {
            *state.open_channels.entry(channel.payer).or_default() += 1;
        }
        state.channels.insert(id, channel);
    }
    Ok(())
}

fn decode_channel(r: &mut Reader<'_>) -> Result<Channel, SnapshotDecodeError> {
    let payer = r.account("payer")?;
    let payee = r.account("payee")?;
    let deposit = r.amount("deposit")?;
    let claimed = r.amount("claimed")?;
    if claimed > deposit {
        return Err(invalid("claimed above deposit"));
    }
    let opened_at = Timestamp(r.u64("opened_at")?);
    let expires_at = Timestamp(r.u64("expires_at")?);
    let mode = match r.u8("channel mode")? {
        MODE_HASH_CHAIN => ChannelTerms::HashChain(decode_chain_state(r)?),
        MODE_VOUCHER => ChannelTerms::Voucher,
        _ => return Err(invalid("channel mode")),
    };
    let closed = match r.u8("closed flag")? {
        0 => None,
        1 => Some(Closed {
            at: Timestamp(r.u64("closed at")?),
            refunded: r.amount("refunded")?,
            by: match r.u8("closed by")? {
                BY_PAYEE => CloseKind::Payee,
                BY_RECLAIM => CloseKind::Reclaim,
                _ => return Err(invalid("closed by")),
            },
        }),
        _ => return Err(invalid("closed flag")),
    };
    Ok(Channel {
        payer,
        payee,
        deposit,
        claimed,
        opened_at,
        expires_at,
        mode,
        closed,
    })
}

fn decode_chain_state(r: &mut Reader<'_>) -> Result<HashChainState, SnapshotDecodeError> {
    let price = r.amount("price")?;
    let segment = r.u32("segment")?;
    let base = r.u64("base")?;
    let current = decode_segment(r)?;
    let next = match r.u8("next flag")? {
        0 => None,
        1 => Some(decode_segment(r)?),
        _ => return Err(invalid("next flag")),
    };
    let state = HashChainState {
        price,
        segment,
        base,
        current,
        next,
        claimed_index: r.u64("claimed index")?,
        claimed_tick: r.hash("claimed tick")?,
    };
    let end = state.total_ticks().ok_or_else(|| invalid("chain length"))?;
    if state.claimed_index < base || state.claimed_index > end {
        return Err(invalid("claimed index"));
    }
    Ok(state)
}

fn decode_segment(r: &mut Reader<'_>) -> Result<ChainSegment, SnapshotDecodeError> {
    Ok(ChainSegment {
        anchor: r.hash("anchor")?,
        len: r.u32("chain length")?,
    })
}

fn invalid(what: &'static str) -> SnapshotDecodeError {
    DecodeError::InvalidValue { what }.into()
}
