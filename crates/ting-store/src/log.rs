//! The file block log: the node's durable, append-only record of every block.
//!
//! It is the source of truth: the ledger state, snapshots and the index are all derived
//! from it. Architecture invariant: `append` returns only after its blocks are fsynced,
//! and readers see only fsynced blocks, so nothing is acknowledged before it is durable.
//!
//! # File format (version 2)
//!
//! One file, `blocks.log`, in the log directory. All integers are little-endian.
//!
//! ```text
//! file    = header record*
//! header  = magic "TINGLOG1" (8 bytes) | version u32 (= 2) | genesis hash (32 bytes)   -- 44 bytes
//! record  = magic u32 (= 0x4b4c4254, the bytes "TBLK") | length u32 | group u64 | flags u8
//!           | crc32c u32 | payload                                         -- 21 + length bytes
//! payload = Block::encode() (ting-core's canonical block encoding), `length` bytes,
//!           at most limits::BLOCK_BYTES_MAX
//! group   = the number of the record's write group: 1 for the first group of the file,
//!           one more for each group after it
//! flags   = bit 0: the record is the last of its group; bits 1-7: zero
//! crc32c  = CRC-32C (Castagnoli) of the record's first 17 bytes (magic, length, group,
//!           flags) followed by the payload
//! ```
//!
//! Records follow each other with no padding; the record of block `h` is the `h`-th
//! (block 1 first). The file is created whole (header written to `blocks.log.tmp`,
//! fsynced, renamed, directory fsynced), so a file never has a partial header. Version 1
//! files (records without a group) are refused with [`LogError::UnsupportedVersion`].
//!
//! # Writing
//!
//! `append` checks every block against the chain ([`ChainRules`]) before writing any,
//! then writes them in groups of at most `limits::WRITE_GROUP_BYTES_MAX` bytes: one
//! positional write and one `fdatasync` per group, whose records carry the next group
//! number and whose last record carries the last-of-group flag. After an I/O error the
//! log takes no more appends (what reached the disk is unknown); reopening recovers.
//!
//! # Opening and recovery
//!
//! Open checks the header (magic, version, genesis hash), then reads every record and
//! checks its magic, length, flags, checksum, decoding, group number (the one after the
//! last complete group) and the chain rules (height continues, previous hash links,
//! network, known sequencer, Merkle root and count, signature). It hands blocks to the
//! caller's `visit` in order, a whole group at a time once the group's last record is
//! read. At the first bad record (or a file that ends inside a group), the damaged group
//! is the one after the last complete group. If a good record of a later group follows
//! the damage, the damaged group was fsynced before that one was written, so it holds
//! acknowledged blocks: open fails with [`LogError::Damaged`]. Otherwise it is the torn
//! last group, never acknowledged: the file is truncated to the end of the last complete
//! group, fsynced, and a warning logged. Damage at or below a height a snapshot covers
//! is refused either way ([`FileLog::open_above`]). See `recover.rs` for why the cut is
//! at a group boundary.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use thiserror::Error;
use ting_core::limits::{BLOCK_BYTES_MAX, WRITE_GROUP_BYTES_MAX};
use ting_core::{Block, BlockHeight, Genesis, Hash32};

use crate::chain::{ChainError, ChainRules};
use crate::{BlockLog, LogReader};

mod format;
mod reader;
mod recover;
#[cfg(test)]
mod tests;

use format::{Grouping, HeaderCheck, RECORDS_START};
pub use format::{FILE_HEADER_BYTES, FILE_NAME, FORMAT_VERSION, RECORD_HEADER_BYTES};
use reader::{Durable, Shared};

/// Why the block log could not be opened, appended to or read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LogError {
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} is not a Ting block log (it does not start with `TINGLOG1`): check the data directory")]
    NotALog { path: PathBuf },
    #[error("{path} was written by a Ting before wire version 2 (block-log format {found}), and this Ting reads only wire version 2: start a fresh network from a new genesis in a new data directory (no migration is offered before 1.0), or run the Ting release that wrote it")]
    WireVersion1 { path: PathBuf, found: u32 },
    #[error("{path} is in block-log format version {found}, but this build reads version {supported}: run a Ting release that reads it")]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path} holds the chain of genesis {found}, but the node was started with genesis {expected}: use the data directory of this network, or the genesis file of that one")]
    WrongGenesis {
        path: PathBuf,
        found: Hash32,
        expected: Hash32,
    },
    #[error("the block log {path} is damaged in the middle, at byte offset {offset} ({reason}); a record of a later write group follows at offset {next_valid_offset}, so the damaged blocks were acknowledged and the log was not truncated: restore {path} from a backup or a replica")]
    Damaged {
        path: PathBuf,
        offset: u64,
        reason: String,
        next_valid_offset: u64,
    },
    #[error("the block log {path} is damaged at byte offset {offset} ({reason}), in a write group that holds blocks at or below height {acknowledged}, which a snapshot shows were acknowledged; the log was not truncated: restore {path} from a backup or a replica")]
    DamagedBelowSnapshot {
        path: PathBuf,
        offset: u64,
        reason: String,
        acknowledged: BlockHeight,
    },
    #[error("replaying block {height} from the log failed: {message}")]
    Replay {
        height: BlockHeight,
        message: String,
    },
    #[error("refused to append: {0}")]
    Chain(#[from] ChainError),
    #[error("block {height} encodes to {bytes} bytes, over the limit of {max}")]
    BlockTooLarge {
        height: BlockHeight,
        bytes: usize,
        max: usize,
    },
    #[error("the block log {path} failed earlier ({cause}) and takes no more appends: restart the node, and recovery will find which blocks are durable")]
    Failed { path: PathBuf, cause: String },
    #[error("block {height} at offset {offset} of {path} no longer reads back as written ({reason}): the disk may be failing; restore the log from a backup or a replica")]
    CorruptRead {
        path: PathBuf,
        height: BlockHeight,
        offset: u64,
        reason: String,
    },
}

impl LogError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LogError::Io { .. } => "log_io",
            LogError::NotALog { .. } => "not_a_block_log",
            LogError::UnsupportedVersion { .. } => "unsupported_log_version",
            LogError::WireVersion1 { .. } => "wire_version_1_data",
            LogError::WrongGenesis { .. } => "wrong_genesis",
            LogError::Damaged { .. } | LogError::DamagedBelowSnapshot { .. } => "log_damaged",
            LogError::Replay { .. } => "replay_failed",
            LogError::Chain(e) => e.code(),
            LogError::BlockTooLarge { .. } => "block_too_large",
            LogError::Failed { .. } => "log_failed",
            LogError::CorruptRead { .. } => "log_corrupt_read",
        }
    }
}

/// Maps an I/O error to [`LogError::Io`], naming what was being done to which file.
pub(crate) fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> LogError + 'a {
    move |source| LogError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What opening the log found and did, for the operator and the recovery benchmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Good blocks found (and visited).
    pub blocks: u64,
    /// Height of the last good block; 0 when the log is empty.
    pub last_height: BlockHeight,
    /// Size of the file as found.
    pub file_bytes: u64,
    /// Bytes of good records read and checked.
    pub scanned_bytes: u64,
    /// Bytes cut off the end of the file; 0 when the tail was clean.
    pub truncated_bytes: u64,
    /// Why the tail was cut off, naming the offset.
    pub truncated_reason: Option<String>,
    /// Time spent in the whole open, `visit` included.
    pub scan_ms: u64,
    /// Time spent in the caller's `visit`.
    pub visit_ms: u64,
}

/// Counters of what this log has appended since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    pub blocks_appended: u64,
    pub bytes_appended: u64,
    /// Group commits, each ended by one fdatasync.
    pub groups_synced: u64,
}

/// The embedded block log: one append-only file, fsynced per group commit.
#[derive(Debug)]
pub struct FileLog {
    file: File,
    shared: Arc<Shared>,
    rules: ChainRules,
    tip: (BlockHeight, Hash32),
    end: u64,
    /// The number of the last write group in the file; 0 when it holds none.
    group: u64,
    group_bytes_max: usize,
    failed: Option<String>,
    stats: LogStats,
}

/// Blocks encoded for one group commit, framed once the group is complete.
struct Group {
    payloads: Vec<Vec<u8>>,
    /// The bytes of the group's records, framing included.
    bytes: usize,
    tip: (BlockHeight, Hash32),
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
        FileLog::open_with(dir, genesis, visit, WRITE_GROUP_BYTES_MAX, BlockHeight(0))
    }

    /// [`FileLog::open`] for a log whose blocks up to `acknowledged` are known to have
    /// been acknowledged (a snapshot covers them): damage at or below that height is
    /// never a torn tail, so it is refused instead of cut off.
    pub fn open_above(
        dir: &Path,
        genesis: &Genesis,
        acknowledged: BlockHeight,
        visit: &mut dyn FnMut(&Block) -> Result<(), String>,
    ) -> Result<(FileLog, RecoveryReport), LogError> {
        FileLog::open_with(dir, genesis, visit, WRITE_GROUP_BYTES_MAX, acknowledged)
    }

    /// [`FileLog::open`] with another group size for appends; tests make it small to
    /// write many groups without writing megabytes.
    pub(crate) fn open_with(
        dir: &Path,
        genesis: &Genesis,
        visit: &mut dyn FnMut(&Block) -> Result<(), String>,
        group_bytes_max: usize,
        acknowledged: BlockHeight,
    ) -> Result<(FileLog, RecoveryReport), LogError> {
        // Recovery refuses a group over the limit, so the writer must never write one.
        assert!(
            group_bytes_max <= WRITE_GROUP_BYTES_MAX,
            "group size over WRITE_GROUP_BYTES_MAX"
        );
        let started = Instant::now();
        let rules = ChainRules::from_genesis(genesis);
        let path = dir.join(FILE_NAME);
        fs::create_dir_all(dir).map_err(io_error("create the directory", dir))?;
        let tmp = dir.join(format!("{FILE_NAME}.tmp"));
        if !path.exists() {
            // A crash mid-creation leaves only `tmp`, which this overwrites.
            create_file(dir, &tmp, &path, &rules.genesis_hash)?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_error("open", &path))?;
        check_header(&file, &path, &rules.genesis_hash)?;
        let scanned = recover::scan(&file, &path, &rules, visit)?;
        let mut truncated = (0, None);
        if let Some(damage) = &scanned.damage {
            // A cut keeps the complete groups only, up to `scanned.tip`.
            if scanned.tip.0 < acknowledged {
                return Err(LogError::DamagedBelowSnapshot {
                    path,
                    offset: damage.offset,
                    reason: damage.reason.clone(),
                    acknowledged,
                });
            }
            let dropped = recover::cut_or_refuse(&file, &path, &rules, &scanned, damage)?;
            let reason = format!("at byte offset {}: {}", damage.offset, damage.reason);
            truncated = (dropped, Some(reason));
        }
        let report = RecoveryReport {
            blocks: scanned.offsets.len() as u64,
            last_height: scanned.tip.0,
            file_bytes: scanned.file_len,
            scanned_bytes: scanned.end - RECORDS_START,
            truncated_bytes: truncated.0,
            truncated_reason: truncated.1,
            scan_ms: recover::elapsed_ms(started),
            visit_ms: u64::try_from(scanned.visit.as_millis()).unwrap_or(u64::MAX),
        };
        let shared = Arc::new(Shared {
            path,
            file: file.try_clone().map_err(io_error("open", dir))?,
            durable: RwLock::new(Durable {
                offsets: scanned.offsets,
                end: scanned.end,
            }),
        });
        let log = FileLog {
            file,
            shared,
            rules,
            tip: scanned.tip,
            end: scanned.end,
            group: scanned.group,
            group_bytes_max,
            failed: None,
            stats: LogStats::default(),
        };
        Ok((log, report))
    }

    /// The path of the log file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// What this log has appended since it was opened.
    pub fn stats(&self) -> LogStats {
        self.stats
    }

    /// Checks every block against the chain and encodes them into group commits.
    fn plan_groups(&self, blocks: &[Block]) -> Result<Vec<Group>, LogError> {
        let mut groups = Vec::new();
        let mut group = Group::new(self.tip);
        for block in blocks {
            self.rules.check_next(group.tip, block)?;
            let payload = block.encode();
            if payload.len() > BLOCK_BYTES_MAX {
                return Err(LogError::BlockTooLarge {
                    height: block.header.height,
                    bytes: payload.len(),
                    max: BLOCK_BYTES_MAX,
                });
            }
            let record_len = RECORD_HEADER_BYTES + payload.len();
            if !group.payloads.is_empty() && group.bytes + record_len > self.group_bytes_max {
                let tip = group.tip;
                groups.push(std::mem::replace(&mut group, Group::new(tip)));
            }
            group.payloads.push(payload);
            group.bytes += record_len;
            group.tip = (block.header.height, block.header.hash());
        }
        if !group.payloads.is_empty() {
            groups.push(group);
        }
        Ok(groups)
    }

    /// Writes one group as the next group number, fsyncs it, and only then shows it to
    /// readers.
    fn commit_group(&mut self, group: &Group) -> Result<(), LogError> {
        let path = &self.shared.path;
        let number = self.group + 1;
        let (bytes, starts) = group.frame(number);
        self.file
            .write_all_at(&bytes, self.end)
            .map_err(io_error("append to", path))?;
        self.file.sync_data().map_err(io_error("fsync", path))?;
        let start = self.end;
        let end = start + bytes.len() as u64;
        {
            let mut durable = self.shared.write();
            durable.offsets.extend(starts.iter().map(|s| start + s));
            durable.end = end;
        }
        self.end = end;
        self.tip = group.tip;
        self.group = number;
        self.stats.blocks_appended += starts.len() as u64;
        self.stats.bytes_appended += bytes.len() as u64;
        self.stats.groups_synced += 1;
        Ok(())
    }
}

impl Group {
    fn new(tip: (BlockHeight, Hash32)) -> Group {
        Group {
            payloads: Vec::new(),
            bytes: 0,
            tip,
        }
    }

    /// The group's records as write group `number`, and where each starts in them.
    fn frame(&self, number: u64) -> (Vec<u8>, Vec<u64>) {
        let mut bytes = Vec::with_capacity(self.bytes);
        let mut starts = Vec::with_capacity(self.payloads.len());
        for (i, payload) in self.payloads.iter().enumerate() {
            starts.push(bytes.len() as u64);
            let grouping = Grouping {
                group: number,
                last: i + 1 == self.payloads.len(),
            };
            format::push_record(&mut bytes, payload, grouping);
        }
        assert_eq!(
            bytes.len(),
            self.bytes,
            "a group frames to its planned size"
        );
        (bytes, starts)
    }
}

impl BlockLog for FileLog {
    fn append(&mut self, blocks: &[Block]) -> Result<(), LogError> {
        if let Some(cause) = &self.failed {
            return Err(LogError::Failed {
                path: self.shared.path.clone(),
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

/// Creates the log file whole: header to a temporary file, fsync, rename, fsync the directory.
fn create_file(dir: &Path, tmp: &Path, path: &Path, genesis_hash: &Hash32) -> Result<(), LogError> {
    let file = File::create(tmp).map_err(io_error("create", tmp))?;
    file.write_all_at(&format::file_header(genesis_hash), 0)
        .map_err(io_error("write", tmp))?;
    file.sync_all().map_err(io_error("fsync", tmp))?;
    fs::rename(tmp, path).map_err(io_error("rename into place", tmp))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("fsync the directory", dir))
}

fn check_header(file: &File, path: &Path, expected: &Hash32) -> Result<(), LogError> {
    let mut bytes = [0u8; FILE_HEADER_BYTES];
    if let Err(e) = file.read_exact_at(&mut bytes, 0) {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return Err(LogError::NotALog {
                path: path.to_path_buf(),
            });
        }
        return Err(io_error("read the header of", path)(e));
    }
    match format::parse_file_header(&bytes) {
        HeaderCheck::Genesis(found) if found == *expected => Ok(()),
        HeaderCheck::Genesis(found) => Err(LogError::WrongGenesis {
            path: path.to_path_buf(),
            found,
            expected: *expected,
        }),
        HeaderCheck::NotALog => Err(LogError::NotALog {
            path: path.to_path_buf(),
        }),
        HeaderCheck::Version(found) if found <= format::FORMAT_VERSION_WIRE_1_MAX => {
            Err(LogError::WireVersion1 {
                path: path.to_path_buf(),
                found,
            })
        }
        HeaderCheck::Version(found) => Err(LogError::UnsupportedVersion {
            path: path.to_path_buf(),
            found,
            supported: FORMAT_VERSION,
        }),
    }
}
