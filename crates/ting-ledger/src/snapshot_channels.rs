//! The channel section of a snapshot (version 2 and later).
//!
//! Layout (little-endian, as the rest of the snapshot): u64 count, then per
//! channel sorted by id: id [32] and the channel's canonical record
//! (`ting_core::channel::record`, the same bytes the state map commits to).
//! Decoding checks each record's own invariants, so a damaged snapshot cannot
//! make a claim pay more than a deposit.

use ting_core::channel::record::CHANNEL_RECORD_BYTES_MIN;
use ting_core::encoding::{Reader, Writer};
use ting_core::{ChannelId, DecodeError};

use crate::channel::Channel;
use crate::error::SnapshotDecodeError;
use crate::state::State;

pub(crate) fn encode(state: &State, w: &mut Writer) {
    let mut channels: Vec<(&ChannelId, &Channel)> = state.channels.iter().collect();
    channels.sort_unstable_by_key(|(id, _)| **id);
    w.u64(channels.len() as u64);
    for (id, c) in channels {
        w.hash(&id.0);
        c.encode(w);
    }
}

pub(crate) fn decode(r: &mut Reader<'_>, state: &mut State) -> Result<(), SnapshotDecodeError> {
    let n = r.u64("channel count")?;
    let fits = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(32 + CHANNEL_RECORD_BYTES_MIN))
        .is_some_and(|b| b <= r.remaining());
    if !fits {
        return Err(DecodeError::InvalidValue {
            what: "channel count",
        }
        .into());
    }
    let mut last: Option<ChannelId> = None;
    for _ in 0..n {
        let id = ChannelId(r.hash("channel")?);
        if last.is_some_and(|prev| prev >= id) {
            return Err(SnapshotDecodeError::Unsorted);
        }
        last = Some(id);
        let channel = Channel::decode(r)?;
        if channel.closed.is_none() {
            let open = state.open_channels.entry(channel.payer).or_default();
            *open = open.saturating_add(1);
        }
        state.set_channel(id, channel);
    }
    Ok(())
}
