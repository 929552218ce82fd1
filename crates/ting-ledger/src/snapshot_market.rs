//! The market sections of a snapshot (version 7 and later): open holds,
//! listed offers and reputations, each sorted by its key.
//!
//! Layout (little-endian, as the rest of the snapshot): u64 count, then per
//! hold `id [32] | record`; u64 count, then per offer `id [32] | record`;
//! u64 count, then per reputation its record alone, sorted by its state-map
//! key (which the provider and category in the record give). Records are
//! the canonical ones the state map commits to (`ting_core::market`).

use ting_core::encoding::{Reader, Writer};
use ting_core::market::{Hold, HoldId, Offer, OfferId, Reputation};
use ting_core::state_map::reputation_key;
use ting_core::{DecodeError, Hash32};

use crate::error::SnapshotDecodeError;
use crate::state::State;

/// The fewest bytes one hold takes: id, payer, deposit, created_at, phase,
/// unrelated flag, and terms with a one-character category, a payer rule
/// and no arbiter.
const HOLD_BYTES_MIN: usize = 32 + 32 + 8 + 8 + 1 + 1 + (32 + 8 + 8 + 32 + 2 + 1 + 1);
/// The fewest bytes one offer takes: id, provider, deposit, opened_at, and
/// terms with a one-character category and no area.
const OFFER_BYTES_MIN: usize = 32 + 32 + 8 + 8 + (2 + 1 + 8 * 3 + 32);
/// The fewest bytes one reputation takes: provider, a one-character
/// category, four tallies, last_at and no buyer.
const REPUTATION_BYTES_MIN: usize = 32 + 2 + 4 * 16 + 8 + 1;

pub(crate) fn encode(state: &State, w: &mut Writer) {
    let mut holds: Vec<(&HoldId, &Hold)> = state.holds.iter().collect();
    holds.sort_unstable_by_key(|(id, _)| **id);
    w.u64(holds.len() as u64);
    for (id, h) in holds {
        w.hash(&id.0);
        h.encode(w);
    }
    let mut offers: Vec<(&OfferId, &Offer)> = state.offers.iter().collect();
    offers.sort_unstable_by_key(|(id, _)| **id);
    w.u64(offers.len() as u64);
    for (id, o) in offers {
        w.hash(&id.0);
        o.encode(w);
    }
    let mut reputations: Vec<(&Hash32, &Reputation)> = state.reputations.iter().collect();
    reputations.sort_unstable_by_key(|(key, _)| **key);
    w.u64(reputations.len() as u64);
    for (_, r) in reputations {
        r.encode(w);
    }
}

/// A count that could not fit in the remaining bytes is refused before
/// anything is read.
pub(crate) fn count(
    r: &mut Reader<'_>,
    what: &'static str,
    each: usize,
) -> Result<u64, DecodeError> {
    let n = r.u64(what)?;
    let fits = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(each))
        .is_some_and(|b| b <= r.remaining());
    if fits {
        Ok(n)
    } else {
        Err(DecodeError::InvalidValue { what })
    }
}

pub(crate) fn sorted<K: Ord + Copy>(
    last: &mut Option<K>,
    key: K,
) -> Result<(), SnapshotDecodeError> {
    if last.is_some_and(|prev| prev >= key) {
        return Err(SnapshotDecodeError::Unsorted);
    }
    *last = Some(key);
    Ok(())
}

pub(crate) fn decode(r: &mut Reader<'_>, state: &mut State) -> Result<(), SnapshotDecodeError> {
    let mut last = None;
    for _ in 0..count(r, "hold count", HOLD_BYTES_MIN)? {
        let id = HoldId(r.hash("hold")?);
        sorted(&mut last, id)?;
        let hold = Hold::decode(r)?;
        if hold.locked().is_none() {
            return Err(DecodeError::InvalidValue {
                what: "hold amount and deposit",
            }
            .into());
        }
        let open = state.open_holds.entry(hold.payer).or_default();
        *open = open.saturating_add(1);
        state.set_hold(id, Some(hold));
    }
    let mut last = None;
    for _ in 0..count(r, "offer count", OFFER_BYTES_MIN)? {
        let id = OfferId(r.hash("offer")?);
        sorted(&mut last, id)?;
        let offer = Offer::decode(r)?;
        let open = state.open_offers.entry(offer.provider).or_default();
        *open = open.saturating_add(1);
        state.set_offer(id, Some(offer));
    }
    let mut last = None;
    for _ in 0..count(r, "reputation count", REPUTATION_BYTES_MIN)? {
        let rep = Reputation::decode(r)?;
        let key = reputation_key(&rep.provider, &rep.category);
        sorted(&mut last, key)?;
        state.reputations.insert(key, rep);
    }
    Ok(())
}
