//! The file block log: the node's durable, append-only record of every block.
//!
//! It is the source of truth: the ledger state, snapshots and the index are all derived
//! from it. Architecture invariant: `append` returns only after its blocks are fsynced,
//! and readers see only fsynced blocks, so nothing is acknowledged before it is durable.
//!
//! # Layout (format version 5)
//!
//! A directory of segment files, each holding the blocks of a run of heights, and a
//! manifest listing the sealed ones:
//!
//! ```text
//! blocks/
//!   MANIFEST                    the sealed segments (manifest.rs): file, first and last
//!                               height, length, last record's offset and block hash, crc32c
//!   00000000000000000001.log    a sealed segment: blocks 1 to 1000
//!   00000000000000000001.idx    its sparse index (segment.rs), derived, rebuilt if lost
//!   00000000000000001001.log    the open segment: blocks from 1001, appended to
//! ```
//!
//! A segment is named by its first height in 20 digits. All integers are little-endian.
//!
//! ```text
//! segment = header record*
//! header  = magic "TINGLOG1" (8 bytes) | version u32 (= 5) | genesis hash (32 bytes)
//!           | first height u64                                            -- 52 bytes
//! record  = magic u32 (= 0x4b4c4254, the bytes "TBLK") | length u32 | group u64 | flags u8
//!           | crc32c u32 | payload                                         -- 21 + length bytes
//! payload = Block::encode() (ting-core's canonical block encoding), `length` bytes,
//!           at most limits::BLOCK_BYTES_MAX
//! group   = the number of the record's write group: 1 for the first group of the
//!           segment, one more for each group after it
//! flags   = bit 0: the record is the last of its group; bits 1-7: zero
//! crc32c  = CRC-32C (Castagnoli) of the record's first 17 bytes (magic, length, group,
//!           flags) followed by the payload
//! ```
//!
//! Records follow each other with no padding; the `i`-th record of a segment holds block
//! `first + i`. Every file is created whole (written to `<name>.tmp`, fsynced, renamed,
//! directory fsynced), so none has a partial header. The single file `blocks.log` of
//! format 4 and earlier is refused with a message saying what to do (no migration before
//! 1.0); files of formats 1 to 3 hold blocks of an earlier wire format.
//!
//! # Writing and sealing
//!
//! `append` checks every block against the chain ([`ChainRules`]) before writing any,
//! then writes them in groups of at most `limits::WRITE_GROUP_BYTES_MAX` bytes: one
//! positional write and one `fdatasync` per group, whose records carry the next group
//! number and whose last record carries the last-of-group flag. Before a group, once the
//! open segment has passed `limits::LOG_SEGMENT_BYTES` (or [`LogOptions::segment_bytes`]),
//! it is sealed, at that group boundary: its sparse index is written, the next segment is
//! created whole, and the manifest is rewritten with it (the commit point of the seal,
//! with the segment's crc32c computed as it was written). After an I/O error the log
//! takes no more appends (what reached the disk is unknown); reopening recovers.
//!
//! # Opening and recovery
//!
//! [`FileLog::open_above`] is told the height `acknowledged` that a snapshot covers. The
//! manifest vouches for the sealed segments wholly at or below it: they are not read (a
//! `stat` checks that each is there with its length; one wholly below `acknowledged`
//! that is gone counts as archived). From the segment holding `acknowledged + 1` on,
//! every record is read and checked: magic, length, flags, checksum, group number, and
//! the chain (height continues, previous hash links, network; from `acknowledged` on
//! also the known sequencer, Merkle root and count, and signature); a sealed segment must
//! also end where, and with the block and crc32c, the manifest says. The first block
//! checked links to the manifest's hash of the block before it. The block at
//! `acknowledged` (read alone when it ends a sealed segment) and every block above it are
//! handed to the caller's `visit` in order, a whole group at a time once the group's
//! last record is read, so the caller can check its snapshot against the block at its
//! height before replaying the rest.
//!
//! Only the open segment can hold a torn write. At its first bad record (or a file that
//! ends inside a group), the damaged group is the one after the last complete group. If
//! a good record of a later group follows the damage, the damaged group was fsynced
//! before that one was written, so it holds acknowledged blocks: open fails with
//! [`LogError::Damaged`]. Otherwise it is the torn last group, never acknowledged: the
//! segment is truncated to the end of the last complete group, fsynced, and a warning
//! logged. Damage at or below `acknowledged` is refused either way, and any damage in a
//! sealed segment is refused. Damage in a sealed segment that recovery skips is found
//! when a block is read ([`LogError::CorruptRead`]). See `recover.rs` for why the cut is
//! at a group boundary.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ting_core::limits::{LOG_SEGMENT_BYTES, WRITE_GROUP_BYTES_MAX};
use ting_core::{Block, BlockHeight, Genesis, Hash32};

use crate::chain::ChainRules;
use crate::{BlockLog, LogReader};

pub(crate) mod disk;
mod error;
mod format;
mod manifest;
mod open;
mod reader;
mod recover;
mod segment;
#[cfg(test)]
mod tests;
mod writer;

pub use disk::{Fault, Faults, FileKind, Op};
pub(crate) use error::io_error;
pub use error::LogError;
pub use format::{
    segment_file_name, FORMAT_VERSION, LEGACY_FILE_NAME, MANIFEST_FILE_NAME, RECORD_HEADER_BYTES,
    SEGMENT_HEADER_BYTES, SEGMENT_SUFFIX,
};
pub use manifest::SegmentInfo;

use disk::Disk;
use reader::Shared;
use writer::OpenWriter;

/// What opening the log found and did, for the operator and the recovery benchmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Good blocks handed to `visit`: the block at the acknowledged height and those above.
    pub blocks: u64,
    /// Height of the last good block; 0 when the log is empty.
    pub last_height: BlockHeight,
    /// Size of the log as found: every segment's bytes.
    pub file_bytes: u64,
    /// Bytes of good records read and checked.
    pub scanned_bytes: u64,
    /// Bytes cut off the end of the open segment; 0 when the tail was clean.
    pub truncated_bytes: u64,
    /// Why the tail was cut off, naming the offset.
    pub truncated_reason: Option<String>,
    /// Time spent in the whole open, `visit` included.
    pub scan_ms: u64,
    /// Time spent in the caller's `visit`.
    pub visit_ms: u64,
    /// Sealed segments the manifest lists.
    pub segments_sealed: u64,
    /// Segments read and checked (the open one included).
    pub segments_read: u64,
    /// Sealed segments below the acknowledged height not in the directory (archived).
    pub segments_archived: u64,
    /// Bytes of sealed segments the manifest vouches for, not read.
    pub skipped_bytes: u64,
}

/// Counters of what this log has appended since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    pub blocks_appended: u64,
    pub bytes_appended: u64,
    /// Group commits, each ended by one fdatasync.
    pub groups_synced: u64,
    pub segments_sealed: u64,
}

/// How a log is opened: where its segments are sealed, and the faults of a test.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Size past which the open segment is sealed, at least `LOG_SEGMENT_BYTES_MIN`.
    pub segment_bytes: u64,
    /// Faults a test arms for the log's file operations; `None` outside tests.
    pub faults: Option<Arc<Faults>>,
    /// Most bytes per group commit; tests make it small to write many groups.
    pub(crate) group_bytes_max: usize,
}

impl Default for LogOptions {
    fn default() -> LogOptions {
        LogOptions {
            segment_bytes: LOG_SEGMENT_BYTES,
            faults: None,
            group_bytes_max: WRITE_GROUP_BYTES_MAX,
        }
    }
}

/// The embedded block log: a directory of append-only segments, fsynced per group commit.
#[derive(Debug)]
pub struct FileLog {
    dir: PathBuf,
    disk: Disk,
    shared: Arc<Shared>,
    rules: ChainRules,
    tip: (BlockHeight, Hash32),
    open: OpenWriter,
    segment_bytes: u64,
    group_bytes_max: usize,
    failed: Option<String>,
    stats: LogStats,
}

impl FileLog {
    /// Opens (creating if missing) the log in `dir` for the network of `genesis`,
    /// checking every block and handing each to `visit`, in order. An error from
    /// `visit` aborts the open with [`LogError::Replay`].
    pub fn open(
        dir: &Path,
        genesis: &Genesis,
        visit: &mut dyn FnMut(&Block) -> Result<(), String>,
    ) -> Result<(FileLog, RecoveryReport), LogError> {
        FileLog::open_above_with(dir, genesis, BlockHeight(0), &LogOptions::default(), visit)
    }

    /// [`FileLog::open`] for a log whose blocks up to `acknowledged` are known to have
    /// been acknowledged (a snapshot covers them): sealed segments wholly at or below it
    /// are not read, damage at or below it is never a torn tail (so it is refused instead
    /// of cut off), and only the block at `acknowledged` and those above it are handed to
    /// `visit`.
    pub fn open_above(
        dir: &Path,
        genesis: &Genesis,
        acknowledged: BlockHeight,
        visit: &mut dyn FnMut(&Block) -> Result<(), String>,
    ) -> Result<(FileLog, RecoveryReport), LogError> {
        FileLog::open_above_with(dir, genesis, acknowledged, &LogOptions::default(), visit)
    }

    /// [`FileLog::open_above`] with other options.
    pub fn open_above_with(
        dir: &Path,
        genesis: &Genesis,
        acknowledged: BlockHeight,
        options: &LogOptions,
        visit: &mut dyn FnMut(&Block) -> Result<(), String>,
    ) -> Result<(FileLog, RecoveryReport), LogError> {
        open::open(dir, genesis, acknowledged, options, visit)
    }

    /// [`FileLog::open`] with another group size for appends; tests make it small to
    /// write many groups without writing megabytes.
    #[cfg(test)]
    pub(crate) fn open_with(
        dir: &Path,
        genesis: &Genesis,
        visit: &mut dyn FnMut(&Block) -> Result<(), String>,
        group_bytes_max: usize,
        acknowledged: BlockHeight,
    ) -> Result<(FileLog, RecoveryReport), LogError> {
        let options = LogOptions {
            group_bytes_max,
            ..LogOptions::default()
        };
        open::open(dir, genesis, acknowledged, &options, visit)
    }

    /// The log's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// What this log has appended since it was opened.
    pub fn stats(&self) -> LogStats {
        self.stats
    }

    /// The sealed segments, as the manifest lists them.
    pub fn sealed_segments(&self) -> Vec<SegmentInfo> {
        let durable = self.shared.read();
        durable.sealed.iter().map(|s| s.info.clone()).collect()
    }
}

/// The sealed segments the manifest in `dir` lists, for operators' tools and tests
/// (the manifest's checksum is checked, its genesis is not).
pub fn manifest_segments(dir: &Path) -> Result<Vec<SegmentInfo>, LogError> {
    let path = dir.join(MANIFEST_FILE_NAME);
    let text = std::fs::read_to_string(&path).map_err(io_error("read", &path))?;
    match manifest::decode(&text) {
        Ok(manifest::Decoded::Manifest { segments, .. }) => Ok(segments),
        Ok(manifest::Decoded::Version(found)) => Err(LogError::UnsupportedVersion {
            path,
            found,
            supported: FORMAT_VERSION,
        }),
        Err(reason) => Err(LogError::ManifestDamaged { path, reason }),
    }
}

impl BlockLog for FileLog {
    fn append(&mut self, blocks: &[Block]) -> Result<(), LogError> {
        if let Some(cause) = &self.failed {
            return Err(LogError::Failed {
                path: self.dir.clone(),
                cause: cause.clone(),
            });
        }
        for group in self.plan_groups(blocks)? {
            if let Err(e) = self.commit_group(&group) {
                // What reached the disk is unknown (a failed fsync may have dropped dirty
                // pages): take no more appends, and let recovery at the next open decide.
                self.failed = Some(e.to_string());
                return Err(e);
            }
        }
        Ok(())
    }

    fn tip(&self) -> (BlockHeight, Hash32) {
        self.tip
    }

    fn reader(&self) -> LogReader {
        LogReader::new(self.shared.clone())
    }
}

/// Opens a segment file for appending and reading.
fn open_rw(path: &Path) -> Result<File, LogError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_error("open", path))
}
