//! The stream section of a snapshot (version 6 and later).
//!
//! Layout (little-endian, as the rest of the snapshot): u64 count, then per
//! open stream sorted by id: id [32] and the stream's canonical record
//! (`ting_core::stream::record`, the same bytes the state map commits to).

use ting_core::encoding::{Reader, Writer};
use ting_core::stream::{Stream, StreamId};
use ting_core::DecodeError;

use crate::error::SnapshotDecodeError;
use crate::state::State;

/// The fewest bytes one stream takes: id, seller, owner, deposit, opened_at,
/// terms with one location field of a one-character name and no unit (1 +
/// 2 + 1 + 1), a price, an epoch of points (1 + 4), a one-character area
/// and the consent hash, and no buyer.
const STREAM_BYTES_MIN: usize = 32 + 32 + 32 + 8 + 8 + (1 + 2 + 1 + 1 + 8 + 5 + 2 + 32) + 1;

pub(crate) fn encode(state: &State, w: &mut Writer) {
    let mut streams: Vec<(&StreamId, &Stream)> = state.streams.iter().collect();
    streams.sort_unstable_by_key(|(id, _)| **id);
    w.u64(streams.len() as u64);
    for (id, s) in streams {
        w.hash(&id.0);
        s.encode(w);
    }
}

pub(crate) fn decode(r: &mut Reader<'_>, state: &mut State) -> Result<(), SnapshotDecodeError> {
    let n = r.u64("stream count")?;
    let fits = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(STREAM_BYTES_MIN))
        .is_some_and(|b| b <= r.remaining());
    if !fits {
        return Err(DecodeError::InvalidValue {
            what: "stream count",
        }
        .into());
    }
    let mut last: Option<StreamId> = None;
    for _ in 0..n {
        let id = StreamId(r.hash("stream")?);
        if last.is_some_and(|prev| prev >= id) {
            return Err(SnapshotDecodeError::Unsorted);
        }
        last = Some(id);
        let stream = Stream::decode(r)?;
        let open = state.open_streams.entry(stream.seller).or_default();
        *open = open.saturating_add(1);
        state.set_stream(id, Some(stream));
    }
    Ok(())
}
