//! The snapshotter: its own copy of the state, following the durable log, so
//! that a snapshot never stalls the executor.
//!
//! At start it takes the recovered state (before the pipeline runs) without
//! its state map. From then on it replays each durable block from the log in
//! the background, as recovery would (replay is exact: invariant 2). When the
//! executor says a snapshot is due at a height, the copy reaches that height
//! (or the next block it replays past it) and writes itself; the executor
//! never copies its state or holds its lock for a snapshot. The price is a
//! second copy of the ledger's maps in memory (not of the state map) and the
//! replay's CPU, about a microsecond per transaction, spread over time.
//!
//! Supervised like the indexer (`background.rs`): a failed write is recorded
//! in [`Health`], the thread pauses (doubling) and then asks the executor for
//! a snapshot at the next block. A copy that no longer follows the log (a
//! bug, or a block the log cannot give back) stops taking snapshots and says
//! so; recovery from the log is unaffected.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Instant;

use ting_core::limits::{SNAPSHOT_RETRY_FIRST, SNAPSHOT_RETRY_MAX};
use ting_core::BlockHeight;
use ting_ledger::State;
use ting_store::{LogReader, SnapshotStore};

use crate::background::{lower_priority, pause_unless_stopped, Backoff, POLL};
use crate::health::Health;
use crate::pipeline::{Durable, SnapshotRequest};

/// Blocks replayed between two looks at the stop flag and the requests.
const REPLAY_BATCH_BLOCKS: u64 = 64;

/// What the snapshotter reads, takes requests from, writes to and reports to.
pub struct SnapshotterParts {
    pub store: Arc<SnapshotStore>,
    pub log: LogReader,
    pub requests: mpsc::Receiver<SnapshotRequest>,
    pub durable: Arc<Durable>,
    pub stopping: Arc<AtomicBool>,
    /// Set while a snapshot is wanted or being written (or paused after a failure).
    pub busy: Arc<AtomicBool>,
    /// Set after a failure and its pause: the executor asks again at once.
    pub retry: Arc<AtomicBool>,
    pub health: Arc<Health>,
}

/// Starts the snapshot thread with `state`, the state the node recovered.
pub fn spawn_snapshotter(state: State, parts: SnapshotterParts) -> JoinHandle<()> {
    let replica = state.into_replica();
    std::thread::Builder::new()
        .name("ting-snapshot".into())
        .spawn(move || {
            lower_priority("snapshot");
            follow(replica, &parts);
        })
        .expect("spawn snapshot thread")
}

fn follow(mut replica: State, p: &SnapshotterParts) {
    let mut backoff = Backoff::new(SNAPSHOT_RETRY_FIRST, SNAPSHOT_RETRY_MAX);
    // The height the executor last asked for: the copy reaches it, then writes.
    let mut wanted: Option<BlockHeight> = None;
    loop {
        if wanted.is_none() {
            wanted = p.requests.try_recv().ok().map(|r| r.height);
        }
        if wanted.is_some_and(|h| replica.height() >= h) {
            wanted = None;
            if !write(&replica, p, &mut backoff) {
                return;
            }
            continue;
        }
        let durable = p.durable.height();
        if replica.height() < durable {
            let step = replica.height().0.saturating_add(REPLAY_BATCH_BLOCKS);
            if let Err(message) = replay(&mut replica, &p.log, BlockHeight(durable.0.min(step))) {
                tracing::error!(%message, "the snapshotter's copy stopped following the log; no more snapshots until a restart");
                p.health.snapshot_failed(format!(
                    "the snapshotter's copy of the state no longer follows the block log ({message}); no snapshot is taken until the node restarts, so restarts replay more of the log. This is a bug: report it with the node's log"
                ));
                return;
            }
            continue;
        }
        if p.stopping.load(Ordering::Acquire) {
            return;
        }
        p.durable.wait_for(after(replica.height()), POLL);
    }
}

fn after(h: BlockHeight) -> BlockHeight {
    BlockHeight(h.0.saturating_add(1))
}

/// Applies the durable blocks after the copy's height, up to `to`.
fn replay(replica: &mut State, log: &LogReader, to: BlockHeight) -> Result<(), String> {
    while replica.height() < to {
        let h = after(replica.height());
        let block = log
            .block(h)
            .map_err(|e| format!("reading durable block {h}: {e}"))?
            .ok_or_else(|| format!("durable block {h} is missing from the log"))?;
        let receipts = replica
            .apply_block(&block)
            .map_err(|e| format!("block {h} does not follow the copy: {e}"))?;
        if let Some((i, Err(e))) = receipts.iter().enumerate().find(|(_, r)| r.is_err()) {
            return Err(format!(
                "block {h}, transaction {i} was refused by the copy: {e}"
            ));
        }
    }
    Ok(())
}

/// Writes a snapshot of the copy, then lets the executor ask for the next;
/// after a failure, records it and pauses before asking for the next at once.
/// False if the node stopped during the pause.
fn write(replica: &State, p: &SnapshotterParts, backoff: &mut Backoff) -> bool {
    let started = Instant::now();
    let height = replica.height();
    let bytes = replica.encode();
    match p.store.write(height, replica.tip_hash(), &bytes) {
        Ok(()) => {
            tracing::info!(
                height = height.0,
                bytes = bytes.len(),
                ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "wrote a state snapshot"
            );
            p.health.snapshot_written(height.0);
            backoff.reset();
            p.busy.store(false, Ordering::Release);
            true
        }
        Err(e) => {
            let pause = backoff.take();
            tracing::warn!(error = %e, retry_in_ms = pause.as_millis(), "could not write a state snapshot");
            let failed = |when: String| {
                format!(
                    "could not write the state snapshot at height {}: {e}. Restarts replay more of the block log until one is written; it tries again {when}. If the disk that holds snapshots/ is full, free space there",
                    height.0
                )
            };
            p.health
                .snapshot_failed(failed(format!("in {} ms", pause.as_millis())));
            if !pause_unless_stopped(pause, &p.stopping) {
                return false;
            }
            p.retry.store(true, Ordering::Release);
            p.busy.store(false, Ordering::Release);
            p.health
                .snapshot_failed(failed("with the next block".into()));
            true
        }
    }
}
