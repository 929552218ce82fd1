//! [`PgLog`]: the block log in a PostgreSQL database (see the module docs
//! of `pg`), and [`PgReader`], its blocks read back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use postgres::types::Type;
use postgres::Client;
use ting_core::{Block, BlockHeader, BlockHeight, Genesis, Hash32};

use super::schema;
use super::worker::{database, describe, Worker};
use crate::chain::ChainRules;
use crate::{BlockLog, BlockSource, LogError, LogReader};

/// The channel each append notifies with its last height (`LISTEN ting_blocks`).
pub const NOTIFY_CHANNEL: &str = "ting_blocks";

/// How long an append's transaction may sit idle before the server ends
/// it (milliseconds; set for that transaction only, so it holds through a
/// pooler in transaction mode).
const APPEND_IDLE_LIMIT: &str = "SET LOCAL idle_in_transaction_session_timeout = 2000";

/// The blocks of one append, as columns for one multi-row insert.
#[derive(Debug, Default)]
struct Rows {
    height: Vec<i64>,
    hash: Vec<Vec<u8>>,
    prev_hash: Vec<Vec<u8>>,
    epoch: Vec<i64>,
    time_ms: Vec<i64>,
    tx_count: Vec<i32>,
    header: Vec<Vec<u8>>,
    block: Vec<Vec<u8>>,
}

const INSERT: &str = "INSERT INTO ting_blocks
         (height, hash, prev_hash, epoch, block_time, tx_count, header, block)
     SELECT h, hs, p, e, to_timestamp(t / 1000.0), n, hd, b
     FROM unnest($1::bigint[], $2::bytea[], $3::bytea[], $4::bigint[], $5::bigint[],
                 $6::integer[], $7::bytea[], $8::bytea[]) AS u(h, hs, p, e, t, n, hd, b)";

/// The block log in PostgreSQL, appending as the leader of `epoch`.
#[derive(Debug)]
pub struct PgLog {
    rules: ChainRules,
    epoch: u64,
    writer: Worker,
    reader: Arc<PgReader>,
    tip: (BlockHeight, Hash32),
    /// Why an append failed, after which the log takes no more.
    failed: Option<String>,
}

/// Reads the durable blocks of a [`PgLog`] on a connection of its own.
#[derive(Debug)]
pub struct PgReader {
    worker: Worker,
    height: AtomicU64,
}

impl PgLog {
    /// Opens the log in the database at `url` (migrated to this build's
    /// schema) for the network of `genesis`, to append blocks of `epoch`.
    /// An empty database takes the network; one of another network is refused.
    ///
    /// # Errors
    /// The database cannot be reached, its schema is not this build's
    /// (`ting migrate`), or it holds another network's chain.
    pub fn open(url: &str, genesis: &Genesis, epoch: u64) -> Result<PgLog, LogError> {
        let rules = ChainRules::from_genesis(genesis);
        let writer = Worker::connect(url, "ting-pg-writer")?;
        let expected = rules.genesis_hash;
        let tip = writer.run(move |c| {
            schema::check(c)?;
            bind_network(c, expected)?;
            stored_tip(c)
        })??;
        let tip = tip.unwrap_or_else(|| rules.empty_tip());
        let reader = Arc::new(PgReader {
            worker: Worker::connect(url, "ting-pg-reader")?,
            height: AtomicU64::new(tip.0 .0),
        });
        Ok(PgLog {
            rules,
            epoch,
            writer,
            reader,
            tip,
            failed: None,
        })
    }

    /// Makes this log append in `epoch` (a lease just taken), from the tip
    /// stored now: after the lease moved, no append of an earlier epoch can
    /// commit, so that tip is final for them. An earlier failure is forgotten.
    ///
    /// # Errors
    /// A database error.
    pub fn lead(&mut self, epoch: u64) -> Result<(BlockHeight, Hash32), LogError> {
        let tip = self.writer.run(stored_tip)??;
        self.tip = tip.unwrap_or_else(|| self.rules.empty_tip());
        self.reader.height.store(self.tip.0 .0, Ordering::Release);
        self.epoch = epoch;
        self.failed = None;
        Ok(self.tip)
    }

    /// The log's reader, for what only the database offers (ranges).
    pub fn pg_reader(&self) -> &PgReader {
        &self.reader
    }
}

/// The most blocks [`PgReader::range`] reads in one query: full blocks are
/// about a megabyte each.
pub const RANGE_BLOCKS_MAX: u64 = 16;

/// Records the network on an empty database, or checks it is this one.
fn bind_network(c: &mut Client, expected: Hash32) -> Result<(), LogError> {
    let fail = |e: postgres::Error| database("read the database's network", &describe(&e));
    c.execute_typed(
        "INSERT INTO ting_network (genesis_hash) VALUES ($1) ON CONFLICT DO NOTHING",
        &[(&expected.0.as_slice(), Type::BYTEA)],
    )
    .map_err(fail)?;
    let found: Vec<u8> = c
        .query_typed_one("SELECT genesis_hash FROM ting_network", &[])
        .map_err(fail)?
        .get(0);
    if found == expected.0 {
        Ok(())
    } else {
        Err(LogError::DatabaseGenesis {
            found: hash_of(&found),
            expected,
        })
    }
}

/// The stored tip (height, hash), if any block is stored.
fn stored_tip(
    c: &mut impl postgres::GenericClient,
) -> Result<Option<(BlockHeight, Hash32)>, LogError> {
    let row = c
        .query_typed_opt(
            "SELECT height, hash FROM ting_blocks ORDER BY height DESC LIMIT 1",
            &[],
        )
        .map_err(|e| database("read the tip", &describe(&e)))?;
    Ok(row.map(|r| {
        let height: i64 = r.get(0);
        let hash: Vec<u8> = r.get(1);
        (
            BlockHeight(u64::try_from(height).unwrap_or(0)),
            hash_of(&hash),
        )
    }))
}

fn hash_of(bytes: &[u8]) -> Hash32 {
    let mut h = [0u8; 32];
    if bytes.len() == 32 {
        h.copy_from_slice(bytes);
    }
    Hash32(h)
}

/// Inserts `rows` in one transaction if the lease's epoch is `epoch` and
/// the stored tip is `after`; the database decides, not this node's belief.
fn insert(
    c: &mut Client,
    epoch: u64,
    after: (BlockHeight, Hash32),
    rows: Rows,
) -> Result<(), LogError> {
    let fail = |e: postgres::Error| database("append blocks", &describe(&e));
    let mut tx = c.transaction().map_err(fail)?;
    // A writer paused inside this transaction (SIGSTOP, a stalled VM)
    // would hold the lease row's share lock, and no follower could take
    // the lease: the server ends such a transaction instead.
    tx.batch_execute(APPEND_IDLE_LIMIT).map_err(fail)?;
    let current: i64 = tx
        .query_typed_one("SELECT epoch FROM ting_lease FOR SHARE", &[])
        .map_err(fail)?
        .get(0);
    let current = u64::try_from(current).unwrap_or(0);
    if current != epoch {
        return Err(LogError::Fenced { epoch, current });
    }
    let stored = stored_tip(&mut tx)?;
    let is_tip = match stored {
        Some(tip) => tip == after,
        None => after.0 == BlockHeight(0),
    };
    if !is_tip {
        return Err(LogError::TipMoved {
            expected: after.0,
            found: stored.map_or(BlockHeight(0), |t| t.0),
        });
    }
    tx.execute_typed(
        INSERT,
        &[
            (&rows.height, Type::INT8_ARRAY),
            (&rows.hash, Type::BYTEA_ARRAY),
            (&rows.prev_hash, Type::BYTEA_ARRAY),
            (&rows.epoch, Type::INT8_ARRAY),
            (&rows.time_ms, Type::INT8_ARRAY),
            (&rows.tx_count, Type::INT4_ARRAY),
            (&rows.header, Type::BYTEA_ARRAY),
            (&rows.block, Type::BYTEA_ARRAY),
        ],
    )
    .map_err(fail)?;
    // Followers listening hear of the new tip when, and only if, it commits.
    let last = rows.height.last().copied().unwrap_or(0).to_string();
    tx.execute_typed(
        "SELECT pg_notify($1, $2)",
        &[(&NOTIFY_CHANNEL, Type::TEXT), (&last, Type::TEXT)],
    )
    .map_err(fail)?;
    tx.commit().map_err(fail)
}

impl BlockLog for PgLog {
    fn append(&mut self, blocks: &[Block]) -> Result<(), LogError> {
        if let Some(cause) = &self.failed {
            return Err(database(
                "append blocks",
                &format!("an earlier append failed ({cause}); reopen the log"),
            ));
        }
        let Some(first) = blocks.first() else {
            return Ok(());
        };
        let mut tip = self.tip;
        let mut rows = Rows::default();
        for block in blocks {
            self.rules.check_next(tip, block)?;
            let h = &block.header;
            if h.epoch != self.epoch {
                return Err(LogError::Fenced {
                    epoch: h.epoch,
                    current: self.epoch,
                });
            }
            tip = (h.height, h.hash());
            rows.height
                .push(i64::try_from(h.height.0).unwrap_or(i64::MAX));
            rows.hash.push(tip.1 .0.to_vec());
            rows.prev_hash.push(h.prev_hash.0.to_vec());
            rows.epoch.push(i64::try_from(h.epoch).unwrap_or(i64::MAX));
            rows.time_ms
                .push(i64::try_from(h.timestamp.0).unwrap_or(i64::MAX));
            rows.tx_count
                .push(i32::try_from(h.tx_count).unwrap_or(i32::MAX));
            rows.header.push(h.to_bytes());
            rows.block.push(block.encode());
        }
        let (epoch, after) = (
            self.epoch,
            (
                BlockHeight(first.header.height.0 - 1),
                first.header.prev_hash,
            ),
        );
        match self.writer.run(move |c| insert(c, epoch, after, rows)) {
            Ok(Ok(())) => {
                self.tip = tip;
                self.reader.height.store(tip.0 .0, Ordering::Release);
                Ok(())
            }
            Ok(Err(e)) | Err(e) => {
                self.failed = Some(e.to_string());
                Err(e)
            }
        }
    }

    fn tip(&self) -> (BlockHeight, Hash32) {
        self.tip
    }

    fn reader(&self) -> LogReader {
        LogReader::new(self.reader.clone())
    }
}

impl PgReader {
    /// Reads the stored tip's height (a follower's view of the leader's
    /// appends) and makes it the height reads stop at.
    ///
    /// # Errors
    /// A database error.
    pub fn refresh(&self) -> Result<BlockHeight, LogError> {
        let height: Option<i64> = self.worker.read(|c| {
            c.query_typed_one("SELECT max(height) FROM ting_blocks", &[])
                .map(|r| r.get(0))
                .map_err(|e| database("read the tip", &describe(&e)))
        })?;
        let height = height.map_or(0, |h| u64::try_from(h).unwrap_or(0));
        self.height.fetch_max(height, Ordering::AcqRel);
        Ok(BlockHeight(height))
    }

    /// The durable blocks `from..=to` (at most [`RANGE_BLOCKS_MAX`] of
    /// them, clipped to the durable height), each with its stored size, in
    /// one query: recovery reads the log this way.
    ///
    /// # Errors
    /// A database error, a gap in the heights, or a block that does not decode.
    pub fn range(
        &self,
        from: BlockHeight,
        to: BlockHeight,
    ) -> Result<Vec<(Block, usize)>, LogError> {
        let from = from.0.max(1);
        let to =
            to.0.min(self.height().0)
                .min(from.saturating_add(RANGE_BLOCKS_MAX - 1));
        if from > to {
            return Ok(Vec::new());
        }
        let (lo, hi) = (
            i64::try_from(from).unwrap_or(i64::MAX),
            i64::try_from(to).unwrap_or(i64::MAX),
        );
        let rows = self.worker.read(move |c| {
            c.query_typed(
                "SELECT height, block FROM ting_blocks
                 WHERE height BETWEEN $1 AND $2 ORDER BY height",
                &[(&lo, Type::INT8), (&hi, Type::INT8)],
            )
            .map_err(|e| database("read blocks", &describe(&e)))
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for (want, row) in (from..=to).zip(&rows) {
            let (got, bytes): (i64, Vec<u8>) = (row.get(0), row.get(1));
            let height = BlockHeight(want);
            if u64::try_from(got).ok() != Some(want) {
                return Err(LogError::Replay {
                    height,
                    message: "the database holds no block at this height, below its tip".into(),
                });
            }
            let block = Block::decode(&bytes).map_err(|e| LogError::Replay {
                height,
                message: format!("the stored block does not decode: {e}"),
            })?;
            out.push((block, bytes.len()));
        }
        if out.len() as u64 != to - from + 1 {
            return Err(LogError::Replay {
                height: BlockHeight(from + out.len() as u64),
                message: "the database holds no block at this height, below its tip".into(),
            });
        }
        Ok(out)
    }

    fn bytes(
        &self,
        column: &'static str,
        height: BlockHeight,
    ) -> Result<Option<Vec<u8>>, LogError> {
        if height.0 == 0 || height.0 > self.height().0 {
            return Ok(None);
        }
        let h = i64::try_from(height.0).unwrap_or(i64::MAX);
        let sql = format!("SELECT {column} FROM ting_blocks WHERE height = $1");
        self.worker.read(move |c| {
            c.query_typed_opt(sql.as_str(), &[(&h, Type::INT8)])
                .map(|row| row.map(|r| r.get::<_, Vec<u8>>(0)))
                .map_err(|e| database("read a block", &describe(&e)))
        })
    }
}

impl BlockSource for PgReader {
    fn block(&self, height: BlockHeight) -> Result<Option<Block>, LogError> {
        let Some(bytes) = self.bytes("block", height)? else {
            return Ok(None);
        };
        Block::decode(&bytes)
            .map(Some)
            .map_err(|e| LogError::Replay {
                height,
                message: format!("the stored block does not decode: {e}"),
            })
    }

    fn header(&self, height: BlockHeight) -> Result<Option<BlockHeader>, LogError> {
        let Some(bytes) = self.bytes("header", height)? else {
            return Ok(None);
        };
        BlockHeader::from_bytes(&bytes)
            .map(Some)
            .map_err(|e| LogError::Replay {
                height,
                message: format!("the stored header does not decode: {e}"),
            })
    }

    fn height(&self) -> BlockHeight {
        BlockHeight(self.height.load(Ordering::Acquire))
    }
}
