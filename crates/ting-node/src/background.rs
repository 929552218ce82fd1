//! Background work off the transaction path: indexing (here) and snapshots
//! (`snapshotter.rs`, which shares the supervision below).
//!
//! The indexer pulls durable blocks from the log and feeds the query index;
//! it may lag under load (queries fall back to scanning the unindexed blocks)
//! but never holds anything in memory beyond one batch.
//!
//! Both are supervised: a failure (a full disk, most often) is recorded in
//! [`Health`] for `/healthz`, and the worker tries again after a pause that
//! doubles while it keeps failing. The indexer reopens the index before each
//! new attempt (redb refuses everything after an I/O error until then); the
//! snapshotter asks the executor for a snapshot at the next block instead of
//! a whole interval later. The first success clears the trouble.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ting_core::limits::{INDEXER_RETRY_FIRST, INDEXER_RETRY_MAX};
use ting_core::{Block, BlockHeight};
use ting_store::{Index, LogReader};

use crate::health::Health;
use crate::metrics::Metrics;
use crate::pipeline::{Durable, Load};

/// Most blocks indexed in one write transaction.
const INDEX_BATCH_BLOCKS: u64 = 1024;
/// Most transactions indexed in one write transaction (bounds the batch's memory).
const INDEX_BATCH_TXS: usize = 65_536;
/// How long the indexer lets blocks gather before it writes them, while
/// transactions are queued (the machine is busy) and while they are not. Index
/// keys are hashes, so every insert touches a random page of the tree and
/// every commit rewrites each page it touched: larger commits cost several
/// times less CPU per transaction, which matters when verification needs every
/// core; smaller ones dirty fewer pages at once, which matters for the block
/// log's fsync latency when there is CPU to spare (measured: 250 ms commits
/// keep the peak at 0.71 of capacity, 50 ms ones bring half-load p99 near
/// 10 ms). Lookups cover the gap by scanning the few unindexed blocks.
const INDEX_COMMIT_EVERY_BUSY: Duration = Duration::from_millis(250);
const INDEX_COMMIT_EVERY_IDLE: Duration = Duration::from_millis(50);
/// Transactions queued in the pipeline above which the machine counts as busy
/// (a backlog, not just what is in flight at a moderate rate).
const INDEX_BUSY_QUEUE_TXS: usize = 1024;
/// How long a background thread sleeps before it looks at the stop flag again.
pub(crate) const POLL: Duration = Duration::from_millis(100);

/// A pause that doubles from `first` up to `max` while a worker keeps failing.
pub(crate) struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max,
            next: first,
        }
    }

    /// The pause to take now; the next one is twice as long.
    pub(crate) fn take(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }

    /// Progress: the next failure pauses briefly again.
    pub(crate) fn reset(&mut self) {
        self.next = self.first;
    }
}

/// Sleeps for `pause` unless the node stops meanwhile; false if it does.
pub(crate) fn pause_unless_stopped(pause: Duration, stopping: &AtomicBool) -> bool {
    let until = Instant::now() + pause;
    loop {
        if stopping.load(Ordering::Acquire) {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(POLL));
    }
}

/// How much less CPU priority background threads take than the pipeline
/// (a nice value): the query index and snapshots can wait, the executor and
/// the log's fsync cannot (with equal priority, the index commits were the
/// known cause of half-load p99 above 10 ms; BENCHMARKS.md has the figures).
const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority; on failure (a sandbox that
/// forbids it) the thread runs at normal priority and says so once.
pub(crate) fn lower_priority(what: &str) {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), BACKGROUND_NICE) {
        tracing::info!(error = %e, "the {what} thread runs at normal priority");
    }
}

/// What the indexer reads, writes and reports to.
pub struct IndexerParts {
    pub index: Arc<Index>,
    pub log: LogReader,
    pub durable: Arc<Durable>,
    pub stopping: Arc<AtomicBool>,
    pub load: Arc<Load>,
    pub health: Arc<Health>,
    pub metrics: Arc<Metrics>,
}

pub fn spawn_indexer(parts: IndexerParts) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("ting-indexer".into())
        .spawn(move || {
            lower_priority("indexer");
            supervise_indexer(&parts);
            if let Err(e) = parts.index.flush() {
                tracing::warn!(error = %e, "could not flush the index");
            }
        })
        .expect("spawn indexer thread")
}

/// Runs the indexer until the node stops; after a failure, pauses, reopens
/// the index and starts again.
fn supervise_indexer(p: &IndexerParts) {
    let mut backoff = Backoff::new(INDEXER_RETRY_FIRST, INDEXER_RETRY_MAX);
    let mut failed = None;
    // Set by a failure, cleared by the first durable commit after it.
    let mut recovering = false;
    loop {
        if let Some(error) = failed.take() {
            recovering = true;
            let pause = backoff.take();
            tracing::error!(%error, retry_in_ms = pause.as_millis(), "the indexer failed; it starts again after a pause");
            p.health.index_failed(format!(
                "the query index failed: {error}. Receipts and account histories may fail or miss recent blocks until it recovers; it reopens the index and starts again by itself (next in {} ms). If the disk that holds index.redb is full, free space there",
                pause.as_millis()
            ));
            if !pause_unless_stopped(pause, &p.stopping) {
                return;
            }
            p.metrics.indexer_restarts.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = p.index.reopen() {
                failed = Some(format!("could not reopen it: {e}"));
                continue;
            }
        }
        match index_until_stopped(p, &mut backoff, &mut recovering) {
            Ok(()) => return,
            Err(e) => failed = Some(e),
        }
    }
}

/// Indexes durable blocks as they come until the node stops. While
/// `recovering` from a failure, each step ends with a durable commit: redb
/// keeps commits that are not durable in memory, so only a durable one shows
/// that the disk takes writes again (a full disk otherwise shows only at the
/// next durable commit, `DURABLE_EVERY_BLOCKS` later).
fn index_until_stopped(
    p: &IndexerParts,
    backoff: &mut Backoff,
    recovering: &mut bool,
) -> Result<(), String> {
    let (index, durable) = (&p.index, &p.durable);
    let progress = |height: BlockHeight, recovering: &mut bool, backoff: &mut Backoff| {
        if *recovering {
            index.flush().map_err(|e| e.to_string())?;
            *recovering = false;
        }
        p.health.indexed(height.0);
        backoff.reset();
        Ok::<(), String>(())
    };
    let mut last_commit = Instant::now();
    loop {
        let have = index.indexed_height().map_err(|e| e.to_string())?;
        let target = durable.height();
        let stop = p.stopping.load(Ordering::Acquire);
        if have >= target {
            progress(have, recovering, backoff)?;
            if stop {
                return Ok(());
            }
            durable.wait_for(BlockHeight(have.0 + 1), POLL);
            continue;
        }
        let queued =
            p.load.verifying.load(Ordering::Acquire) + p.load.sequencing.load(Ordering::Acquire);
        let busy = queued > INDEX_BUSY_QUEUE_TXS;
        let every = if busy {
            INDEX_COMMIT_EVERY_BUSY
        } else {
            INDEX_COMMIT_EVERY_IDLE
        };
        let waited = last_commit.elapsed();
        if !stop && waited < every && target.0 - have.0 < INDEX_BATCH_BLOCKS {
            std::thread::sleep((every - waited).min(POLL));
            continue;
        }
        let blocks = read_batch(&p.log, have, target)?;
        index.index_blocks(&blocks).map_err(|e| e.to_string())?;
        if let Some(last) = blocks.last() {
            progress(last.header.height, recovering, backoff)?;
        }
        last_commit = Instant::now();
    }
}

/// The durable blocks after `have`, up to `target`, within one batch's limits.
fn read_batch(
    log: &LogReader,
    have: BlockHeight,
    target: BlockHeight,
) -> Result<Vec<Block>, String> {
    let last = target.0.min(have.0 + INDEX_BATCH_BLOCKS);
    let mut blocks = Vec::new();
    let mut txs = 0usize;
    for h in have.0 + 1..=last {
        match log.block(BlockHeight(h)).map_err(|e| e.to_string())? {
            Some(block) => {
                txs += block.txs.len();
                blocks.push(block);
            }
            None => return Err(format!("durable block {h} is missing from the log")),
        }
        if txs >= INDEX_BATCH_TXS {
            break;
        }
    }
    Ok(blocks)
}
