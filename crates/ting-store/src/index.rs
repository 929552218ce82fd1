//! The query index, on redb: where each transaction is, and each account's history.
//!
//! It is derived data: it can always be rebuilt from the block log, and it records the
//! height it has indexed up to (`indexed_height`) so the node knows where to resume. So
//! its commits need not each be durable: most use `Durability::None`, and one in every
//! [`DURABLE_EVERY_BLOCKS`] blocks, [`Index::flush`] and dropping the index make them
//! durable. After a crash the index may be behind the log, never ahead of what it says.
//!
//! After an I/O error (a full disk) redb refuses every later operation until the
//! database is opened again: [`Index::reopen`] does that in place, so the node's
//! indexer can start again without a restart once the disk has room.
//!
//! # Tables (schema version 3)
//!
//! ```text
//! meta:         &str -> u64             "indexed_height", "schema_version"
//! tx_locations: tx hash [32] -> (height u64, index u32)
//! account_txs:  account [32] | height u64 BE | index u32 BE  (44 bytes)
//!               -> tx hash [32] | timestamp u64 BE | kind u8 | role u8 | flags u8
//!                  | other [32] | amount u64 BE  (83 bytes)
//! channels, account_channels: see [`channels`]
//! ```
//!
//! (In a history value `timestamp` starts at byte 32, `kind` is byte 40, `role` 41,
//! `flags` 42, `other` starts at 43 and `amount` at 75.)
//!
//! The account key is big-endian so that byte order is (account, height, index) order:
//! a reverse range scan from a cursor gives an account's history newest first. An
//! account's history holds the transactions it sent, those naming it as counterparty,
//! and every transaction on a channel it is a party to, each once.
//!
//! Each history value summarises the transaction for that account
//! ([`HistoryEntry`]), so a page of history with amounts and counterparties, or a
//! chart of flows, never reads a block:
//!
//! - `timestamp`: its block's timestamp, in milliseconds.
//! - `kind`: the kind's wire tag (`TxKind::tag`, docs/wire.md §5.2).
//! - `role`: the account's part in it ([`HistoryRole`]): 0 sender, 1 counterparty
//!   (`TxKind::counterparty`), 2 party to the channel it acts on.
//! - `flags`: bit 0 `other` is present, bit 1 `amount` is present, bit 2 the amount
//!   came into the account's balance, bit 3 it went out ([`Flow`]; at most one of
//!   bits 2 and 3, and only with bit 1); the other bits are zero.
//! - `other`: the other party ([`HistoryEntry::other`]); zeros when absent.
//! - `amount`: the amount the transaction names (`TxKind::amount`), in base units;
//!   zero when absent.
//!
//! Version 2 added the channel tables and channel parties in `account_txs`; version
//! 3 the summary in `account_txs`' values. An index of another version is emptied
//! when opened and rebuilt from the log.

mod backend;
mod channels;
mod history;

pub use channels::{AccountChannel, ChannelParties, ChannelRole, ACCOUNT_CHANNELS_PAGE_MAX};
pub use history::{AccountFlows, Flow, HistoryEntry, HistoryRole};

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard};

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use thiserror::Error;
use ting_core::{Block, BlockHeight, Hash32};

use channels::{ChannelBatch, ACCOUNT_CHANNELS, CHANNELS};
use history::{HistoryBatch, ACCOUNT_KEY_BYTES, HISTORY_VALUE_BYTES};

use crate::log::Faults;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const TX_LOCATIONS: TableDefinition<&[u8; 32], (u64, u32)> = TableDefinition::new("tx_locations");
const ACCOUNT_TXS: TableDefinition<&[u8; ACCOUNT_KEY_BYTES], &[u8; HISTORY_VALUE_BYTES]> =
    TableDefinition::new("account_txs");
const INDEXED_HEIGHT: &str = "indexed_height";
const SCHEMA_VERSION_KEY: &str = "schema_version";
const SCHEMA_VERSION: u64 = 3;

/// Blocks indexed between two durable commits: the most a crash makes the node re-index.
pub const DURABLE_EVERY_BLOCKS: u64 = 20_000;

/// The index's page cache. redb's default (1 GiB) let a node's memory grow by
/// about 600 MiB in a 10 s peak; 64 MiB bounded it but cost the indexer a
/// third more CPU (0.45 cores at peak, ratio 0.63); 256 MiB kept the ratio
/// (0.71, indexer 0.35 cores) with growth of about 350 MiB.
pub const INDEX_CACHE_BYTES_MAX: usize = 256 * 1024 * 1024;

/// Where a transaction is: its block's height and its position in the block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxLocation {
    pub height: BlockHeight,
    pub index: u32,
}

/// Why the index could not be opened, updated or read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IndexError {
    #[error("could not open the index at {path}: {source}; it is derived data: delete the file and the node rebuilds it from the block log")]
    Open {
        path: PathBuf,
        #[source]
        source: Box<redb::DatabaseError>,
    },
    #[error("the index at {path} failed to {action}: {source}; if this persists, delete the file and the node rebuilds it from the block log")]
    Store {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: Box<redb::Error>,
    },
    #[error("cannot index block {got}: the index holds blocks up to {}, so the next must be {expected}", expected.0 - 1)]
    HeightGap {
        expected: BlockHeight,
        got: BlockHeight,
    },
    #[error("a page of {requested} transactions was asked for; the limit is {max}")]
    PageTooLarge { requested: usize, max: usize },
    #[error("the index at {path} is closed: reopening it after a failure did not succeed; the node tries again by itself")]
    Closed { path: PathBuf },
    #[error("the index at {path} holds a damaged history entry ({what}); delete the file and the node rebuilds it from the block log")]
    Corrupt { path: PathBuf, what: &'static str },
}

impl IndexError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            IndexError::Open { .. } => "index_open",
            IndexError::Store { .. } => "index_store",
            IndexError::HeightGap { .. } => "index_height_gap",
            IndexError::PageTooLarge { .. } => "page_too_large",
            IndexError::Closed { .. } => "index_closed",
            IndexError::Corrupt { .. } => "index_corrupt",
        }
    }
}

/// The query index.
#[derive(Debug)]
pub struct Index {
    /// `None` only after a reopen failed. Every operation holds a read lock for its
    /// whole length, so a reopen (the write lock) waits for those in progress.
    db: RwLock<Option<Database>>,
    path: PathBuf,
    /// Faults a test armed for the index file (`FileKind::Index`); `None` in use.
    faults: Option<Arc<Faults>>,
    /// Locked before `db` whenever both are: writes and reopens hold it throughout.
    progress: Mutex<Progress>,
}

/// A read hold on the open database.
struct Db<'a>(RwLockReadGuard<'a, Option<Database>>);

impl Deref for Db<'_> {
    type Target = Database;

    fn deref(&self) -> &Database {
        self.0
            .as_ref()
            .expect("a Db is made only over an open database")
    }
}

/// What has been made durable, so `flush` and drop know whether there is work to do.
#[derive(Debug, Default)]
struct Progress {
    durable_height: u64,
    dirty: bool,
}

impl Index {
    /// Opens (creating if missing) the index file at `path`. An index of another
    /// schema version is emptied, to be rebuilt from the log.
    pub fn open(path: &Path) -> Result<Index, IndexError> {
        Index::open_with(path, None)
    }

    /// [`Index::open`] with faults a test can arm for the index file: the same
    /// handle as the block log's, with `FileKind::Index`.
    pub fn open_with(path: &Path, faults: Option<Arc<Faults>>) -> Result<Index, IndexError> {
        let index = Index {
            db: RwLock::new(Some(create(path, faults.as_ref())?)),
            path: path.to_path_buf(),
            faults,
            progress: Mutex::default(),
        };
        let schema = index.read_schema()?;
        match schema {
            Some(SCHEMA_VERSION) => {}
            Some(other) => {
                tracing::warn!(path = %path.display(), "index schema {other} is not {SCHEMA_VERSION}: emptying it to rebuild from the log");
                index.reset()?;
            }
            None => index.reset()?,
        }
        index.lock().durable_height = index.indexed_height()?.0;
        Ok(index)
    }

    /// Closes the database and opens it again from its file, as a start would.
    /// After an I/O error redb refuses every operation ("previous I/O error")
    /// until then. Commits that were not yet durable may be lost (the index is
    /// then behind, never ahead), so callers read `indexed_height` again after.
    /// If the open fails, every operation answers [`IndexError::Closed`] until a
    /// later reopen succeeds.
    pub fn reopen(&self) -> Result<(), IndexError> {
        let mut progress = self.lock();
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = db.take() {
            // After a failure the close is expected to fail too; the file is reopened anyway.
            if let Err(e) = old.close() {
                tracing::warn!(path = %self.path.display(), "closing the index before reopening it: {e}");
            }
        }
        let reopened = create(&self.path, self.faults.as_ref())?;
        let height = self.read_height(&reopened)?;
        *db = Some(reopened);
        *progress = Progress {
            durable_height: height.0,
            dirty: false,
        };
        Ok(())
    }

    /// The schema version the file records, if any (creating the meta table).
    fn read_schema(&self) -> Result<Option<u64>, IndexError> {
        let db = self.db()?;
        let txn = self.begin_write(&db, Durability::Immediate)?;
        let schema = {
            let meta = txn
                .open_table(META)
                .map_err(self.store("open the meta table"))?;
            let schema = meta
                .get(SCHEMA_VERSION_KEY)
                .map_err(self.store("read the schema"))?;
            schema.map(|v| v.value())
        };
        self.commit(txn)?;
        Ok(schema)
    }

    /// The height of the last block indexed; 0 when empty.
    pub fn indexed_height(&self) -> Result<BlockHeight, IndexError> {
        let db = self.db()?;
        self.read_height(&db)
    }

    fn read_height(&self, db: &Database) -> Result<BlockHeight, IndexError> {
        let txn = db.begin_read().map_err(self.store("begin a read"))?;
        let meta = txn
            .open_table(META)
            .map_err(self.store("open the meta table"))?;
        let height = meta
            .get(INDEXED_HEIGHT)
            .map_err(self.store("read the height"))?;
        Ok(BlockHeight(height.map_or(0, |v| v.value())))
    }

    /// Indexes these blocks (heights continue `indexed_height`) in one write transaction.
    pub fn index_blocks(&self, blocks: &[Block]) -> Result<(), IndexError> {
        let Some(last) = blocks.last() else {
            return Ok(());
        };
        let new_height = last.header.height.0;
        let mut progress = self.lock();
        let durable = new_height.saturating_sub(progress.durable_height) >= DURABLE_EVERY_BLOCKS;
        let db = self.db()?;
        let txn = self.begin_write(
            &db,
            if durable {
                Durability::Immediate
            } else {
                Durability::None
            },
        )?;
        self.insert_blocks(&txn, blocks)?;
        self.commit(txn)?;
        if durable {
            progress.durable_height = new_height;
            progress.dirty = false;
        } else {
            progress.dirty = true;
        }
        Ok(())
    }

    fn insert_blocks(&self, txn: &WriteTransaction, blocks: &[Block]) -> Result<(), IndexError> {
        let mut meta = txn
            .open_table(META)
            .map_err(self.store("open the meta table"))?;
        let indexed = meta
            .get(INDEXED_HEIGHT)
            .map_err(self.store("read the height"))?;
        let mut height = indexed.map_or(0, |v| v.value());
        let mut locations = txn
            .open_table(TX_LOCATIONS)
            .map_err(self.store("open the locations table"))?;
        let mut accounts = txn
            .open_table(ACCOUNT_TXS)
            .map_err(self.store("open the accounts table"))?;
        let mut channels = txn
            .open_table(CHANNELS)
            .map_err(self.store("open the channels table"))?;
        let mut batch = ChannelBatch::default();
        let write = self.store("write an entry");
        // Entries are gathered, sorted and then inserted in key order: random hash
        // keys inserted one by one touch a different page each time, sorted ones
        // walk the tree once. This is most of the index's cost under load.
        let mut located: Vec<([u8; 32], (u64, u32))> = Vec::new();
        let mut histories = HistoryBatch::default();
        for block in blocks {
            let expected = BlockHeight(height + 1);
            if block.header.height != expected {
                let got = block.header.height;
                return Err(IndexError::HeightGap { expected, got });
            }
            height = expected.0;
            for (index, tx) in (0u32..).zip(&block.txs) {
                let at = TxLocation {
                    height: expected,
                    index,
                };
                located.push((tx.hash().0, (at.height.0, at.index)));
                let parties = batch.parties(self, &channels, tx, at)?;
                histories.push(tx, parties, at, block.header.timestamp);
            }
        }
        located.sort_unstable_by_key(|e| e.0);
        for (hash, place) in &located {
            locations.insert(hash, *place).map_err(write)?;
        }
        for (key, value) in histories.sorted() {
            accounts.insert(key, value).map_err(write)?;
        }
        batch.write(self, txn, &mut channels)?;
        meta.insert(INDEXED_HEIGHT, height).map_err(write)?;
        Ok(())
    }

    /// Where the transaction with this hash is, if it has been indexed.
    pub fn tx_location(&self, tx_hash: &Hash32) -> Result<Option<TxLocation>, IndexError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(self.store("begin a read"))?;
        let table = txn
            .open_table(TX_LOCATIONS)
            .map_err(self.store("open the locations table"))?;
        let found = table
            .get(&tx_hash.0)
            .map_err(self.store("read a location"))?;
        Ok(found.map(|v| {
            let (height, index) = v.value();
            TxLocation {
                height: BlockHeight(height),
                index,
            }
        }))
    }

    /// Makes every commit so far durable.
    pub fn flush(&self) -> Result<(), IndexError> {
        let mut progress = self.lock();
        if !progress.dirty {
            return Ok(());
        }
        let db = self.db()?;
        let txn = self.begin_write(&db, Durability::Immediate)?;
        self.commit(txn)?;
        progress.durable_height = self.read_height(&db)?.0;
        progress.dirty = false;
        Ok(())
    }

    /// Deletes everything (used when the log was truncated below `indexed_height`), durably.
    pub fn reset(&self) -> Result<(), IndexError> {
        let mut progress = self.lock();
        let db = self.db()?;
        let txn = self.begin_write(&db, Durability::Immediate)?;
        let delete = self.store("delete a table");
        txn.delete_table(TX_LOCATIONS).map_err(delete)?;
        txn.delete_table(ACCOUNT_TXS).map_err(delete)?;
        txn.delete_table(CHANNELS).map_err(delete)?;
        txn.delete_table(ACCOUNT_CHANNELS).map_err(delete)?;
        {
            let create = self.store("create a table");
            txn.open_table(TX_LOCATIONS).map_err(create)?;
            txn.open_table(ACCOUNT_TXS).map_err(create)?;
            txn.open_table(CHANNELS).map_err(create)?;
            txn.open_table(ACCOUNT_CHANNELS).map_err(create)?;
            let mut meta = txn.open_table(META).map_err(create)?;
            let write = self.store("write the meta table");
            meta.insert(INDEXED_HEIGHT, 0).map_err(write)?;
            meta.insert(SCHEMA_VERSION_KEY, SCHEMA_VERSION)
                .map_err(write)?;
        }
        self.commit(txn)?;
        *progress = Progress::default();
        Ok(())
    }

    /// A read hold on the database, or [`IndexError::Closed`] after a failed reopen.
    fn db(&self) -> Result<Db<'_>, IndexError> {
        let guard = self.db.read().unwrap_or_else(PoisonError::into_inner);
        if guard.is_none() {
            return Err(IndexError::Closed {
                path: self.path.clone(),
            });
        }
        Ok(Db(guard))
    }

    fn begin_write(
        &self,
        db: &Database,
        durability: Durability,
    ) -> Result<WriteTransaction, IndexError> {
        let mut txn = db.begin_write().map_err(self.store("begin a write"))?;
        txn.set_durability(durability)
            .map_err(self.store("set the durability of a write"))?;
        Ok(txn)
    }

    fn commit(&self, txn: WriteTransaction) -> Result<(), IndexError> {
        txn.commit().map_err(self.store("commit"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        // Progress is two plain fields updated after a commit: a panic cannot tear them.
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Maps any redb error to [`IndexError::Store`], naming what was being done.
    fn store<E: Into<redb::Error>>(
        &self,
        action: &'static str,
    ) -> impl Fn(E) -> IndexError + Copy + '_ {
        move |e| IndexError::Store {
            path: self.path.clone(),
            action,
            source: Box::new(e.into()),
        }
    }
}

/// Opens (creating if missing) the redb file at `path` with the index's cache.
fn create(path: &Path, faults: Option<&Arc<Faults>>) -> Result<Database, IndexError> {
    let open_error = |source| IndexError::Open {
        path: path.to_path_buf(),
        source: Box::new(source),
    };
    let mut builder = redb::Builder::new();
    builder.set_cache_size(INDEX_CACHE_BYTES_MAX);
    let Some(faults) = faults else {
        return builder.create(path).map_err(open_error);
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| open_error(redb::DatabaseError::Storage(e.into())))?;
    let backend = backend::FaultyFile::new(file, Arc::clone(faults)).map_err(open_error)?;
    builder.create_with_backend(backend).map_err(open_error)
}

impl Drop for Index {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!(path = %self.path.display(), "could not make the index durable on close: {e}");
        }
    }
}

#[cfg(test)]
mod tests;
