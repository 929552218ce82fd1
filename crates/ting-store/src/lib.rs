//! Storage for a Ting node: the durable block log, state snapshots and the query index.
//!
//! Three stores, three kinds of data:
//!
//! - The **block log** ([`FileLog`], behind the [`BlockLog`] trait) is the source of truth.
//!   Architecture invariant: nothing is acknowledged before its block is durable, so
//!   [`BlockLog::append`] returns only after the group of blocks is fsynced, and readers
//!   ([`LogReader`]) never see a block that is not yet durable. The log is a directory of
//!   segments with a manifest of the sealed ones. On open everything from the segment
//!   holding the block above the newest snapshot is checked (checksums and the chain:
//!   heights, previous hashes, Merkle roots, sequencer signatures); the sealed segments
//!   below are vouched for by the manifest and checked when read. A torn last write group
//!   is cut off, and damage in any earlier group, which was acknowledged, is refused. All
//!   the log's file I/O passes through one seam where tests inject faults ([`Faults`]).
//! - **Snapshots** ([`SnapshotStore`]) hold the ledger's state, as opaque bytes, at some
//!   height, so that recovery replays only the blocks above it. They are written
//!   atomically and checksummed; a bad one falls back to an older one.
//! - The **query index** ([`Index`], on redb) maps transaction hashes to their place and
//!   accounts to their history, each entry with a summary ([`HistoryEntry`]: time, kind,
//!   role, other party, amount) so history pages and charts never read blocks. It is
//!   derived data, rebuilt from the log when lost, so most of its commits are not fsynced.
//!
//! [`MemLog`] is an in-memory [`BlockLog`] with the same checks, for other crates' tests.
//! [`PgLog`] keeps the block log in PostgreSQL, fenced by the leader's lease ([`pg`]).
//!
//! Deliberately absent: any interpretation of the ledger's state (owned by `ting-ledger`),
//! and a cross-process lock on the log directory (one node process owns its data directory).

use std::fmt;
use std::sync::Arc;

use ting_core::{Block, BlockHeader, BlockHeight, Hash32};

pub mod chain;
pub mod index;
pub mod log;
pub mod mem_log;
pub mod pg;
pub mod snapshot;

#[cfg(test)]
mod testkit;

pub use chain::{ChainError, ChainRules};
pub use index::{AccountFlows, Flow, HistoryEntry, HistoryRole, Index, IndexError, TxLocation};
pub use log::{
    Fault, Faults, FileKind, FileLog, LogError, LogOptions, LogStats, Op, RecoveryReport,
    SegmentInfo,
};
pub use mem_log::MemLog;
pub use pg::{Leases, Listener, PgLog, PgReader};
pub use snapshot::{Snapshot, SnapshotError, SnapshotStore};

/// Where blocks are made durable: the file log is the embedded default, [`PgLog`] keeps them in PostgreSQL.
pub trait BlockLog: Send {
    /// Appends blocks (heights must continue the chain) and makes them durable (one fsync
    /// per group of at most `limits::WRITE_GROUP_BYTES_MAX` bytes) before returning.
    ///
    /// Every block is checked against the chain before anything is written, so a refused
    /// call writes nothing. After an I/O error the log refuses further appends: reopen it
    /// to learn which blocks are durable.
    fn append(&mut self, blocks: &[Block]) -> Result<(), LogError>;

    /// Height and hash of the last durable block; height 0 and the genesis hash when empty.
    fn tip(&self) -> (BlockHeight, Hash32);

    /// A cheap, cloneable, thread-safe handle for reading durable blocks while appends go on.
    fn reader(&self) -> LogReader;
}

/// Read access to the durable blocks of a log. Implemented by each [`BlockLog`]'s reader.
pub trait BlockSource: Send + Sync + fmt::Debug {
    /// The block at `height`, or `None` above the durable height (and at height 0).
    fn block(&self, height: BlockHeight) -> Result<Option<Block>, LogError>;
    /// The header of the block at `height`, read without its transactions.
    fn header(&self, height: BlockHeight) -> Result<Option<BlockHeader>, LogError>;
    /// The height of the last durable block; 0 when the log is empty.
    fn height(&self) -> BlockHeight;
}

/// A cheap, cloneable, thread-safe handle on a log's durable blocks.
#[derive(Clone, Debug)]
pub struct LogReader {
    source: Arc<dyn BlockSource>,
}

impl LogReader {
    pub fn new(source: Arc<dyn BlockSource>) -> LogReader {
        LogReader { source }
    }

    /// The durable block at `height`; `None` above the durable height and at height 0.
    pub fn block(&self, height: BlockHeight) -> Result<Option<Block>, LogError> {
        self.source.block(height)
    }

    /// The durable header at `height`, cheaper than [`LogReader::block`] for big blocks.
    pub fn header(&self, height: BlockHeight) -> Result<Option<BlockHeader>, LogError> {
        self.source.header(height)
    }

    /// The height of the last durable block; 0 when the log is empty.
    pub fn height(&self) -> BlockHeight {
        self.source.height()
    }
}
