//! Recovery of one segment of the block log at open: scan and check its records, then
//! decide what to do with the first bad one.
//!
//! Only the open segment can hold a torn write: a segment is sealed at a group boundary,
//! after that group's fsync, and listed in the manifest before anything is written after
//! it. So a sealed segment must scan clean to its end, and what follows is about the open
//! one. Records of blocks a snapshot covers are checked for their framing, checksum and
//! place in the chain (height, previous hash, network) but not decoded whole; the blocks
//! from the snapshot's height on get every check, signature included.
//!
//! Every record carries the number of its write group, and the last record of a group
//! says so. A group is written only after the group before it was fsynced, so a crash can
//! tear only the last group of the file, and every earlier group was acknowledged.
//!
//! The scan hands blocks to `visit` a whole group at a time, once the group's last record
//! has been read, so blocks that recovery cuts off were never replayed. Every group left
//! in the file is complete (see below), so the first bad record always lies in the group
//! after the last complete one: the *damaged group*. Past the damage, a record of a later
//! group (its checksum holds, and it is a block sealed by this network's sequencer above
//! the good prefix) proves the damaged group was fsynced, hence acknowledged: the log is
//! refused, never silently truncated. Otherwise the damage is in the last group, which
//! was never acknowledged: the file is cut back to the end of the last complete group.
//!
//! The cut is at that group boundary rather than at the bad record so that the file never
//! holds an incomplete group followed by a later one. If it did, damage at the start of
//! the later group would look like damage in the earlier, acknowledged one, and a log torn
//! by an ordinary crash would be refused.

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use ting_core::limits::WRITE_GROUP_BYTES_MAX;
use ting_core::{Block, BlockHeight, Hash32};

use super::disk::{Disk, FileKind};
use super::format::{self, Body, Record, RECORDS_START, RECORD_HEADER_BYTES, RECORD_MAGIC};
use super::{io_error, LogError};
use crate::chain::ChainRules;

/// Bytes read at once by the sequential scan and by the search for later records.
const READ_CHUNK_BYTES: usize = 1 << 20;

/// The first bad record: where it starts and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Damage {
    pub offset: u64,
    pub reason: String,
}

/// One segment to scan, and what the scan must know of the log around it.
#[derive(Debug)]
pub(super) struct Segment<'a> {
    pub file: &'a File,
    pub path: &'a Path,
    pub disk: &'a Disk,
    /// `Segment` for the open segment, `Sealed` for a sealed one.
    pub kind: FileKind,
    /// The last block before the segment's first: height 0 and the genesis hash if none.
    pub tip: (BlockHeight, Hash32),
    /// Blocks up to this height are covered by a snapshot: below it only their place in
    /// the chain is checked, and only blocks from it on are handed to `visit`.
    pub acknowledged: BlockHeight,
    /// CRC-32C of the segment's header, where the running checksum starts.
    pub header_crc: u32,
    /// Keep the offset of every record (for the open segment only).
    pub keep_offsets: bool,
}

/// What a scan found: the complete groups at the start of the segment and, maybe, where
/// it went bad.
#[derive(Debug)]
pub(super) struct Scanned {
    /// Offset of each record, in height order (when kept).
    pub offsets: Vec<u64>,
    /// Good blocks in the complete groups.
    pub blocks: u64,
    /// Blocks handed to `visit`.
    pub visited: u64,
    /// The last block of the last complete group; the segment's `tip` if none.
    pub tip: (BlockHeight, Hash32),
    /// The end of the last complete group: where a cut leaves the file.
    pub end: u64,
    /// Where the last record of the last complete group starts.
    pub last_offset: u64,
    /// CRC-32C of the file's bytes up to `end`.
    pub crc: u32,
    /// The number of the last complete group; 0 if none.
    pub group: u64,
    pub damage: Option<Damage>,
    pub file_len: u64,
    /// Time spent in the caller's `visit`, summed exactly (rounded once, at the end).
    pub visit: Duration,
}

/// The good records read past the last complete group, held back until it ends.
/// Bounded: a group holds at most `WRITE_GROUP_BYTES_MAX` bytes of records.
struct OpenGroup {
    records: Vec<(u64, Body)>,
    tip: (BlockHeight, Hash32),
    /// The end of its last good record.
    end: u64,
    crc: u32,
}

/// Reads every record of a segment after its header, checks it against the chain and
/// its write group, and hands each complete group's blocks from `acknowledged` on to
/// `visit`, stopping at the first bad record. A file that ends inside a group is
/// damaged at its end.
pub(super) fn scan(
    segment: &Segment<'_>,
    rules: &ChainRules,
    visit: &mut dyn FnMut(&Block) -> Result<(), String>,
) -> Result<Scanned, LogError> {
    let path = segment.path;
    let file_len = segment
        .file
        .metadata()
        .map_err(io_error("read the size of", path))?
        .len();
    let mut handle = segment.file.try_clone().map_err(io_error("open", path))?;
    handle
        .seek(SeekFrom::Start(RECORDS_START))
        .map_err(io_error("seek in", path))?;
    let mut reader =
        BufReader::with_capacity(READ_CHUNK_BYTES, segment.disk.reader(segment.kind, handle));
    let mut scanned = Scanned {
        offsets: Vec::new(),
        blocks: 0,
        visited: 0,
        tip: segment.tip,
        end: RECORDS_START,
        last_offset: 0,
        crc: segment.header_crc,
        group: 0,
        damage: None,
        file_len,
        visit: Duration::ZERO,
    };
    let mut open = OpenGroup {
        records: Vec::new(),
        tip: scanned.tip,
        end: scanned.end,
        crc: scanned.crc,
    };
    let mut payload = Vec::new();
    // Bounded: every turn consumes at least one record header, or stops.
    while open.end < file_len {
        let offset = open.end;
        let full = open.tip.0 .0 + 1 >= segment.acknowledged.0;
        let read = format::read_record(
            &mut reader,
            file_len - offset,
            &mut payload,
            full,
            &mut open.crc,
        )
        .map_err(io_error("read", path))?;
        match read.and_then(|(record, len)| check_in_group(rules, &scanned, &open, record, len)) {
            Ok((record, len)) => {
                let header = record.body.header();
                open.tip = (header.height, header.hash());
                open.end = offset + len;
                let last = record.grouping.last;
                open.records.push((offset, record.body));
                if last {
                    close_group(&mut scanned, &mut open, segment, visit)?;
                }
            }
            Err(reason) => {
                scanned.damage = Some(Damage { offset, reason });
                break;
            }
        }
    }
    if scanned.damage.is_none() && !open.records.is_empty() {
        let reason = format!(
            "the file ends inside write group {}, before the record that ends it",
            scanned.group + 1
        );
        scanned.damage = Some(Damage {
            offset: file_len,
            reason,
        });
    }
    Ok(scanned)
}

/// Checks that a good record belongs where it lies: in the group after the last
/// complete one, within the group size limit, continuing the chain.
fn check_in_group(
    rules: &ChainRules,
    scanned: &Scanned,
    open: &OpenGroup,
    record: Record,
    len: u64,
) -> Result<(Record, u64), String> {
    let expected = scanned.group + 1;
    let group = record.grouping.group;
    if group != expected {
        return Err(format!(
            "the record is in write group {group} where write group {expected} must continue"
        ));
    }
    if open.end + len - scanned.end > WRITE_GROUP_BYTES_MAX as u64 {
        return Err(format!(
            "write group {group} grows past {WRITE_GROUP_BYTES_MAX} bytes"
        ));
    }
    let checked = match &record.body {
        Body::Block(block) => rules.check_next(open.tip, block),
        Body::Header(header) => rules.check_link(open.tip, header),
    };
    checked.map_err(|e| format!("a well-formed record breaks the chain: {e}"))?;
    Ok((record, len))
}

/// Hands the open group's blocks from `acknowledged` on to `visit` and makes it the
/// last complete group.
fn close_group(
    scanned: &mut Scanned,
    open: &mut OpenGroup,
    segment: &Segment<'_>,
    visit: &mut dyn FnMut(&Block) -> Result<(), String>,
) -> Result<(), LogError> {
    let started = Instant::now();
    for (offset, body) in open.records.drain(..) {
        if let Body::Block(block) = &body {
            if block.header.height >= segment.acknowledged {
                visit(block).map_err(|message| LogError::Replay {
                    height: block.header.height,
                    message,
                })?;
                scanned.visited += 1;
            }
        }
        if segment.keep_offsets {
            scanned.offsets.push(offset);
        }
        scanned.last_offset = offset;
        scanned.blocks += 1;
    }
    scanned.visit += started.elapsed();
    scanned.tip = open.tip;
    scanned.end = open.end;
    scanned.crc = open.crc;
    scanned.group += 1;
    Ok(())
}

/// Cuts the log back to its last complete group and returns the bytes dropped, or
/// refuses it if a later group follows the damage.
pub(super) fn cut_or_refuse(
    segment: &Segment<'_>,
    rules: &ChainRules,
    scanned: &Scanned,
    damage: &Damage,
) -> Result<u64, LogError> {
    let path = segment.path;
    let damaged_group = scanned.group + 1;
    let read =
        |buf: &mut [u8], off: u64| segment.disk.read_at(segment.kind, segment.file, buf, off);
    let later = find_later_group(&read, rules, damage.offset, scanned, damaged_group)
        .map_err(io_error("search for valid records in", path))?;
    if let Some(next_valid_offset) = later {
        return Err(LogError::Damaged {
            path: path.to_path_buf(),
            offset: damage.offset,
            reason: damage.reason.clone(),
            next_valid_offset,
        });
    }
    let cut = scanned.end;
    let dropped_bytes = scanned.file_len - cut;
    segment
        .disk
        .truncate(FileKind::Segment, (segment.file, path), cut)?;
    tracing::warn!(
        path = %path.display(),
        offset = damage.offset,
        cut,
        dropped_bytes,
        reason = %damage.reason,
        "block log: cut off the torn last write group (group {damaged_group}) at byte {cut} \
         ({dropped_bytes} bytes dropped); its first bad record is at byte {}: {}",
        damage.offset,
        damage.reason,
    );
    Ok(dropped_bytes)
}

/// The offset of the first record at or after `start` that belongs to a group after
/// `damaged_group`: its framing and checksum hold, and it is a block sealed for this
/// network above the complete groups. Found by looking for the record magic at every
/// byte, stepping over whole records whose checksum holds.
///
/// The block checks keep look-alike bytes from refusing a log with a torn last group:
/// bytes inside a transaction (a memo, device metadata) can form a well-framed record
/// naming any group, even one carrying a copy of a real block, but only of a block
/// acknowledged before that transaction was sent, so one within the good prefix.
fn find_later_group(
    read: format::ReadAt<'_>,
    rules: &ChainRules,
    start: u64,
    scanned: &Scanned,
    damaged_group: u64,
) -> std::io::Result<Option<u64>> {
    let mut search = MagicSearch::new(read, scanned.file_len);
    let mut pos = start;
    // Bounded: `pos` grows every turn, up to the end of the file.
    while let Some(at) = search.next_at_or_after(pos)? {
        let Some((header, payload)) = format::read_framed_at(read, at, scanned.file_len)? else {
            pos = at + 1;
            continue;
        };
        let later = header.grouping.group > damaged_group
            && Block::decode(&payload).is_ok_and(|block| {
                block.header.height > scanned.tip.0 && rules.check_sealed(&block).is_ok()
            });
        if later {
            return Ok(Some(at));
        }
        pos = at + header.record_len();
    }
    Ok(None)
}

/// A forward search for the record magic, reading the file a chunk at a time.
struct MagicSearch<'a> {
    read: format::ReadAt<'a>,
    file_len: u64,
    chunk: Vec<u8>,
    chunk_start: u64,
}

impl<'a> MagicSearch<'a> {
    fn new(read: format::ReadAt<'a>, file_len: u64) -> MagicSearch<'a> {
        MagicSearch {
            read,
            file_len,
            chunk: Vec::new(),
            chunk_start: 0,
        }
    }

    /// The offset of the first record magic at or after `from` with room for a record
    /// header after it.
    fn next_at_or_after(&mut self, mut from: u64) -> std::io::Result<Option<u64>> {
        let magic = RECORD_MAGIC.to_le_bytes();
        let width = magic.len() as u64;
        // Bounded: each turn returns, or moves `from` to the end of the chunk less three
        // bytes (so a magic split across two chunks is still seen), or reads a chunk of at
        // least four bytes starting at `from`.
        while from + RECORD_HEADER_BYTES as u64 <= self.file_len {
            let chunk_end = self.chunk_start + self.chunk.len() as u64;
            if from < self.chunk_start || from + width > chunk_end {
                self.read_chunk_at(from)?;
                continue;
            }
            let skip = usize::try_from(from - self.chunk_start).expect("within a chunk");
            let found = self.chunk[skip..]
                .windows(magic.len())
                .position(|w| w == magic);
            if let Some(i) = found {
                let at = from + i as u64;
                return Ok((at + RECORD_HEADER_BYTES as u64 <= self.file_len).then_some(at));
            }
            from = chunk_end - (width - 1);
        }
        Ok(None)
    }

    fn read_chunk_at(&mut self, from: u64) -> std::io::Result<()> {
        let len = usize::try_from(self.file_len - from)
            .map_or(READ_CHUNK_BYTES, |n| n.min(READ_CHUNK_BYTES));
        self.chunk.resize(len, 0);
        (self.read)(&mut self.chunk, from)?;
        self.chunk_start = from;
        Ok(())
    }
}

pub(super) fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
