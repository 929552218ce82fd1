//! Why the block log could not be opened, appended to or read: one enum, a stable code
//! per kind of failure, and a message that says what to do.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;
use ting_core::{BlockHeight, Hash32};

use crate::chain::ChainError;

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
    #[error("{path} is not a Ting block log segment (it does not start with `TINGLOG1`): check the data directory")]
    NotALog { path: PathBuf },
    #[error("{path} was written by a Ting before wire version 2 (block-log format {found}), and this Ting reads only wire version 2: start a fresh network from a new genesis in a new data directory (no migration is offered before 1.0), or run the Ting release that wrote it")]
    WireVersion1 { path: PathBuf, found: u32 },
    #[error("{path} is in block-log format version {found}, but this build reads version {supported}: run a Ting release that reads it")]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path} is a single-file block log (format {found}) of an earlier Ting; this Ting keeps the log in segments with a manifest (format {supported}) and offers no migration before 1.0: start a fresh network from a new genesis in a new data directory, or run the Ting release that wrote it")]
    SingleFileLayout {
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
    #[error("the sealed segment {path} is damaged at byte offset {offset} ({reason}); the manifest lists it as sealed, so its blocks were acknowledged: restore it from a backup or a replica")]
    DamagedSealed {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
    #[error("the block log's manifest {path} cannot be read ({reason}): restore it from the backup its segments were taken with")]
    ManifestDamaged { path: PathBuf, reason: String },
    #[error("{path}, which holds {heights}, is missing: restore it from a backup or from the archive it was moved to (only segments wholly below the snapshot the node starts from may be archived)")]
    SegmentMissing { path: PathBuf, heights: String },
    #[error("{path} does not match the block log's manifest ({reason}): restore it (or the manifest) from the backup they were taken with")]
    SegmentMismatch { path: PathBuf, reason: String },
    #[error("block {height} is in the segment {path}, which is not in the log directory (archived): restore it from the archive to read that block")]
    Archived { height: BlockHeight, path: PathBuf },
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
    #[error("could not {action}: {reason}")]
    Database {
        action: &'static str,
        reason: String,
    },
    #[error("the database's schema is version {found}, and this build uses version {supported}: run `ting migrate --store URL` (a newer schema needs a newer Ting)")]
    Schema { found: u32, supported: u32 },
    #[error("the database holds the chain of genesis {found}, but the node was started with genesis {expected}: use this network's database, or that network's genesis file")]
    DatabaseGenesis { found: Hash32, expected: Hash32 },
    #[error("fenced: this node appends in epoch {epoch}, and the lease's epoch is {current}: another node leads now")]
    Fenced { epoch: u64, current: u64 },
    #[error("the database's tip is block {found}, not {expected} as this node believed: another node appended, so this one no longer leads")]
    TipMoved {
        expected: BlockHeight,
        found: BlockHeight,
    },
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
            LogError::UnsupportedVersion { .. } | LogError::SingleFileLayout { .. } => {
                "unsupported_log_version"
            }
            LogError::WireVersion1 { .. } => "wire_version_1_data",
            LogError::WrongGenesis { .. } => "wrong_genesis",
            LogError::Damaged { .. }
            | LogError::DamagedBelowSnapshot { .. }
            | LogError::DamagedSealed { .. } => "log_damaged",
            LogError::ManifestDamaged { .. } => "log_manifest_damaged",
            LogError::SegmentMissing { .. } => "log_segment_missing",
            LogError::SegmentMismatch { .. } => "log_segment_mismatch",
            LogError::Archived { .. } => "log_archived",
            LogError::Replay { .. } => "replay_failed",
            LogError::Chain(e) => e.code(),
            LogError::BlockTooLarge { .. } => "block_too_large",
            LogError::Failed { .. } => "log_failed",
            LogError::CorruptRead { .. } => "log_corrupt_read",
            LogError::Database { .. } => "log_database",
            LogError::Schema { .. } => "log_schema",
            LogError::DatabaseGenesis { .. } => "wrong_genesis",
            LogError::Fenced { .. } => "log_fenced",
            LogError::TipMoved { .. } => "log_tip_moved",
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
