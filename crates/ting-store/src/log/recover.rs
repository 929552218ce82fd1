//! Recovery of the block log at open: scan and check every record, then decide what to
//! do with the first bad one.
//!
//! Only the last group commit can be torn, because every earlier group was fsynced
//! before the next one was written, and a group is at most `WRITE_GROUP_BYTES_MAX`
//! bytes. So damage that starts within that distance of the end of the file, or that
//! no valid record follows, is an unacknowledged torn tail: it is cut off. Damage
//! followed, further away than that, by a record whose checksum holds means acknowledged
//! blocks lie beyond it: the log is refused, never silently truncated, and no block past
//! the damage is replayed.

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use ting_core::{Block, BlockHeight, Hash32};

use super::format::{self, RECORDS_START, RECORD_HEADER_BYTES, RECORD_MAGIC};
use super::{io_error, LogError};
use crate::chain::ChainRules;

/// Bytes read at once by the sequential scan and by the search for a valid record.
const READ_CHUNK_BYTES: usize = 1 << 20;

/// The first bad record: where it starts and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Damage {
    pub offset: u64,
    pub reason: String,
}

/// What a scan found: the good prefix of the log and, maybe, where it went bad.
#[derive(Debug)]
pub(super) struct Scanned {
    /// Offset of the record of each height, from height 1.
    pub offsets: Vec<u64>,
    pub tip: (BlockHeight, Hash32),
    /// The end of the last good record.
    pub end: u64,
    pub damage: Option<Damage>,
    pub file_len: u64,
    pub visit_ms: u64,
}

/// Reads every record after the file header, checks it against the chain and hands it
/// to `visit`, stopping at the first bad record.
pub(super) fn scan(
    file: &File,
    path: &Path,
    rules: &ChainRules,
    visit: &mut dyn FnMut(&Block) -> Result<(), String>,
) -> Result<Scanned, LogError> {
    let file_len = file
        .metadata()
        .map_err(io_error("read the size of", path))?
        .len();
    let mut handle = file.try_clone().map_err(io_error("open", path))?;
    handle
        .seek(SeekFrom::Start(RECORDS_START))
        .map_err(io_error("seek in", path))?;
    let mut reader = BufReader::with_capacity(READ_CHUNK_BYTES, handle);
    let mut scanned = Scanned {
        offsets: Vec::new(),
        tip: rules.empty_tip(),
        end: RECORDS_START,
        damage: None,
        file_len,
        visit_ms: 0,
    };
    let mut payload = Vec::new();
    // Bounded: every turn consumes at least one record header, or stops.
    while scanned.end < file_len {
        let offset = scanned.end;
        let read = format::read_record(&mut reader, file_len - offset, &mut payload)
            .map_err(io_error("read", path))?;
        let checked = read.and_then(|(block, len)| {
            rules
                .check_next(scanned.tip, &block)
                .map(|()| (block, len))
                .map_err(|e| format!("a well-formed record breaks the chain: {e}"))
        });
        let (block, len) = match checked {
            Ok(good) => good,
            Err(reason) => {
                scanned.damage = Some(Damage { offset, reason });
                break;
            }
        };
        let started = Instant::now();
        visit(&block).map_err(|message| LogError::Replay {
            height: block.header.height,
            message,
        })?;
        scanned.visit_ms += elapsed_ms(started);
        scanned.offsets.push(offset);
        scanned.tip = (block.header.height, block.header.hash());
        scanned.end = offset + len;
    }
    Ok(scanned)
}

/// Cuts a torn tail off at `damage.offset` and returns the bytes dropped, or refuses a
/// log damaged in the middle. `window_bytes` is the largest group commit.
pub(super) fn cut_or_refuse(
    file: &File,
    path: &Path,
    damage: &Damage,
    file_len: u64,
    window_bytes: u64,
) -> Result<u64, LogError> {
    let dropped_bytes = file_len - damage.offset;
    if dropped_bytes > window_bytes {
        let next = find_valid_record_after(file, damage.offset + 1, file_len)
            .map_err(io_error("search for valid records in", path))?;
        if let Some(next_valid_offset) = next {
            return Err(LogError::Damaged {
                path: path.to_path_buf(),
                offset: damage.offset,
                reason: damage.reason.clone(),
                next_valid_offset,
            });
        }
    }
    file.set_len(damage.offset)
        .map_err(io_error("truncate", path))?;
    file.sync_all().map_err(io_error("fsync", path))?;
    tracing::warn!(
        path = %path.display(),
        offset = damage.offset,
        dropped_bytes,
        reason = %damage.reason,
        "block log: cut off a torn or damaged tail at byte {} ({} bytes dropped): {}",
        damage.offset,
        dropped_bytes,
        damage.reason,
    );
    Ok(dropped_bytes)
}

/// The offset of the first record at or after `start` whose framing and checksum hold,
/// found by looking for the record magic at every byte.
pub(super) fn find_valid_record_after(
    file: &File,
    start: u64,
    file_len: u64,
) -> std::io::Result<Option<u64>> {
    let magic = RECORD_MAGIC.to_le_bytes();
    let mut chunk = Vec::new();
    let mut pos = start;
    // Bounded: `pos` advances by at least one record header per turn, up to `file_len`.
    while pos + RECORD_HEADER_BYTES as u64 <= file_len {
        let len =
            usize::try_from(file_len - pos).map_or(READ_CHUNK_BYTES, |n| n.min(READ_CHUNK_BYTES));
        chunk.resize(len, 0);
        file.read_exact_at(&mut chunk, pos)?;
        for (i, window) in chunk.windows(magic.len()).enumerate() {
            if window == magic && record_is_valid_at(file, pos + i as u64, file_len)? {
                return Ok(Some(pos + i as u64));
            }
        }
        let len = len as u64;
        if pos + len >= file_len {
            break;
        }
        // Overlap by three bytes so that a magic split across two chunks is still seen.
        pos += len - (magic.len() as u64 - 1);
    }
    Ok(None)
}

fn record_is_valid_at(file: &File, offset: u64, file_len: u64) -> std::io::Result<bool> {
    let remaining = file_len - offset;
    if remaining < RECORD_HEADER_BYTES as u64 {
        return Ok(false);
    }
    let mut framing = [0u8; RECORD_HEADER_BYTES];
    file.read_exact_at(&mut framing, offset)?;
    let Ok(header) = format::parse_record_header(&framing, remaining) else {
        return Ok(false);
    };
    let mut payload = vec![0u8; header.payload_len];
    file.read_exact_at(&mut payload, offset + RECORD_HEADER_BYTES as u64)?;
    Ok(crc32c::crc32c(&payload) == header.crc)
}

pub(super) fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
