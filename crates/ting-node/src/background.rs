//! Background work off the transaction path: indexing and snapshots.
//!
//! The indexer pulls durable blocks from the log and feeds the query index;
//! it may lag under load (queries fall back to scanning the unindexed blocks)
//! but never holds anything in memory beyond one batch. The snapshotter
//! writes state copies the executor hands it, each only once its block is
//! durable, so a snapshot is never ahead of the log.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ting_core::{Block, BlockHeight};
use ting_store::{Index, LogReader, SnapshotStore};

use crate::pipeline::{Durable, Load, SnapshotRequest};

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
const POLL: Duration = Duration::from_millis(100);

pub fn spawn_indexer(
    index: Arc<Index>,
    log: LogReader,
    durable: Arc<Durable>,
    stopping: Arc<AtomicBool>,
    load: Arc<Load>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("ting-indexer".into())
        .spawn(move || {
            if let Err(e) = index_until_stopped(&index, &log, &durable, &stopping, &load) {
                tracing::error!(error = %e, "the indexer stopped; queries by hash and account fall back to scanning");
            }
            if let Err(e) = index.flush() {
                tracing::warn!(error = %e, "could not flush the index");
            }
        })
        .expect("spawn indexer thread")
}

fn index_until_stopped(
    index: &Index,
    log: &LogReader,
    durable: &Durable,
    stopping: &AtomicBool,
    load: &Load,
) -> Result<(), String> {
    let mut last_commit = Instant::now();
    loop {
        let have = index.indexed_height().map_err(|e| e.to_string())?;
        let target = durable.height();
        let stop = stopping.load(Ordering::Acquire);
        if have >= target {
            if stop {
                return Ok(());
            }
            durable.wait_for(BlockHeight(have.0 + 1), POLL);
            continue;
        }
        let queued =
            load.verifying.load(Ordering::Acquire) + load.sequencing.load(Ordering::Acquire);
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
        let blocks = read_batch(log, have, target)?;
        index.index_blocks(&blocks).map_err(|e| e.to_string())?;
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

pub fn spawn_snapshotter(
    store: Arc<SnapshotStore>,
    requests: mpsc::Receiver<SnapshotRequest>,
    durable: Arc<Durable>,
    stopping: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("ting-snapshot".into())
        .spawn(move || {
            for req in requests {
                while !durable.wait_for(req.height, POLL) {
                    if stopping.load(Ordering::Acquire) {
                        return;
                    }
                }
                let started = Instant::now();
                let bytes = req.state.encode();
                match store.write(req.height, req.block_hash, &bytes) {
                    Ok(()) => tracing::info!(
                        height = req.height.0,
                        bytes = bytes.len(),
                        ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                        "wrote a state snapshot"
                    ),
                    Err(e) => tracing::warn!(error = %e, "could not write a state snapshot"),
                }
                busy.store(false, Ordering::Release);
            }
        })
        .expect("spawn snapshot thread")
}
