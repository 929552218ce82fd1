//! The follower: applies the leader's blocks as they commit, and takes the
//! lease when it is free (see the module docs of `lead`).
//!
//! Each block read from the database is checked against the chain (height,
//! previous hash, network, a genesis sequencer's signature) before it is
//! applied; a block that does not apply as its leader applied it means this
//! node cannot follow the chain, and the thread panics (which stops the
//! process: `node.rs`). Database errors only pause it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ting_core::{Block, BlockHeight, Hash32};
use ting_ledger::State;
use ting_store::{ChainRules, Leases, Listener, LogError, PgLog};
use tokio::sync::broadcast;

use super::keeper::{spawn_keeper, Held};
use super::{step_down, LeaderInfo, LeaseConfig, Role, Roles, FOLLOW_POLL};
use crate::metrics::Metrics;
use crate::pipeline::{
    spawn_executor, spawn_writer, CommittedBlock, Durable, ExecutorConfig, ExecutorParts,
    SnapshotRequest, ToWriter, WriterParts,
};

/// How long a follower waits after a database error before trying again.
const RETRY: Duration = Duration::from_millis(500);

/// The pipeline's last two stages, started when the node takes the lease.
pub(crate) struct Standby {
    pub executor: ExecutorConfig,
    pub executor_parts: ExecutorParts,
    pub sealed: mpsc::Receiver<ToWriter>,
    pub writer_parts: WriterParts,
}

/// What the follower reads, applies to and publishes to.
pub(crate) struct FollowerParts {
    pub url: String,
    /// This node's name in the lease: its sequencer account.
    pub holder: String,
    pub lease: LeaseConfig,
    pub rules: ChainRules,
    pub log: PgLog,
    pub state: Arc<RwLock<State>>,
    pub durable: Arc<Durable>,
    pub events: broadcast::Sender<Arc<CommittedBlock>>,
    pub metrics: Arc<Metrics>,
    pub roles: Arc<Roles>,
    /// Set when the node shuts down.
    pub closing: Arc<AtomicBool>,
    pub snapshot_every_blocks: u64,
    pub standby: Standby,
    /// Told once the node has first looked at the lease (and, if it took
    /// it, leads): `Node::start` waits for it, so that a lone node sequences
    /// as soon as it has started.
    pub settled: mpsc::Sender<()>,
}

struct Follower {
    p: FollowerParts,
    tip: (BlockHeight, Hash32),
    blocks_since_snapshot: u64,
}

pub(crate) fn spawn_follower(parts: FollowerParts) -> JoinHandle<()> {
    let tip = {
        let state = parts.state.read().expect("state lock");
        (state.height(), state.tip_hash())
    };
    let follower = Follower {
        p: parts,
        tip,
        blocks_since_snapshot: 0,
    };
    std::thread::Builder::new()
        .name("ting-follower".into())
        .spawn(move || follower.run())
        .expect("spawn follower thread")
}

impl Follower {
    fn run(mut self) {
        let Some(leases) = self.connect(Leases::connect, &self.p.url.clone()) else {
            return;
        };
        let listen_url = self
            .p
            .lease
            .listen_url
            .clone()
            .unwrap_or(self.p.url.clone());
        let mut listener: Option<Listener> = None;
        let mut next_look = Instant::now();
        while !self.closing() {
            if let Err(e) = self.catch_up() {
                tracing::warn!(error = %e, "could not read the leader's blocks; trying again");
                std::thread::sleep(RETRY);
                continue;
            }
            if Instant::now() >= next_look {
                match self.look_at_lease(&leases) {
                    Ok(Look::Taken(epoch, asked)) => return self.lead(leases, epoch, asked),
                    Ok(Look::Again(after)) => next_look = Instant::now() + after,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read the lease; trying again");
                        next_look = Instant::now() + RETRY;
                    }
                }
                let _ = self.p.settled.send(());
            }
            let wait = FOLLOW_POLL.min(next_look.saturating_duration_since(Instant::now()));
            if listener.is_none() {
                listener = Listener::connect(&listen_url).ok();
            }
            match &listener {
                Some(l) => {
                    if l.wait(wait).is_err() {
                        listener = None;
                    }
                }
                None => std::thread::sleep(wait),
            }
        }
    }

    fn closing(&self) -> bool {
        self.p.closing.load(Ordering::Acquire)
    }

    /// Connects with `connect`, retrying until it works or the node closes.
    fn connect<T>(&self, connect: impl Fn(&str) -> Result<T, LogError>, url: &str) -> Option<T> {
        loop {
            match connect(url) {
                Ok(t) => return Some(t),
                Err(e) if !self.closing() => {
                    tracing::warn!(error = %e, "could not connect to the database; trying again");
                    std::thread::sleep(RETRY);
                }
                Err(_) => return None,
            }
        }
    }

    /// Applies every block stored above this node's tip.
    fn catch_up(&mut self) -> Result<(), LogError> {
        let stored = self.p.log.pg_reader().refresh()?;
        while self.tip.0 < stored {
            let from = BlockHeight(self.tip.0 .0 + 1);
            let blocks = self.p.log.pg_reader().range(from, stored)?;
            if blocks.is_empty() {
                return Err(LogError::Replay {
                    height: from,
                    message: "the database holds no block at this height, below its tip".into(),
                });
            }
            for (block, _) in blocks {
                self.apply(block);
            }
        }
        Ok(())
    }

    /// Checks and applies one block, then publishes it as the writer would.
    fn apply(&mut self, block: Block) {
        let height = block.header.height;
        if let Err(e) = self.p.rules.check_next(self.tip, &block) {
            panic!("the database's block {height} does not follow this node's chain: {e}");
        }
        let receipts = self
            .p
            .state
            .write()
            .expect("state lock")
            .apply_block(&block)
            .unwrap_or_else(|e| panic!("block {height} does not apply to this node's state: {e}"));
        if let Some((i, Err(e))) = receipts.iter().enumerate().find(|(_, r)| r.is_err()) {
            panic!("block {height}, transaction {i} was refused here but not by its leader: {e}");
        }
        let hash = block.header.hash();
        self.tip = (height, hash);
        self.p.durable.advance(height);
        self.p.metrics.block_committed(block.txs.len());
        if self.p.events.receiver_count() > 0 {
            let _ = self
                .p
                .events
                .send(Arc::new(CommittedBlock::new(block, hash)));
        }
        self.maybe_snapshot(height);
    }

    /// Asks the snapshotter for a snapshot every so many blocks, as the executor does.
    fn maybe_snapshot(&mut self, height: BlockHeight) {
        self.blocks_since_snapshot += 1;
        let parts = &self.p.standby.executor_parts;
        if self.blocks_since_snapshot < self.p.snapshot_every_blocks
            || parts.snapshot_busy.load(Ordering::Acquire)
        {
            return;
        }
        parts.snapshot_busy.store(true, Ordering::Release);
        if parts.snapshots.try_send(SnapshotRequest { height }).is_ok() {
            self.blocks_since_snapshot = 0;
        } else {
            parts.snapshot_busy.store(false, Ordering::Release);
        }
    }

    /// Takes the lease if it is free or already this node's; otherwise
    /// notes the leader and says when to look again.
    fn look_at_lease(&mut self, leases: &Leases) -> Result<Look, LogError> {
        let ttl = self.p.lease.ttl;
        let now = leases.state()?;
        let running = now.expires_in_ms.filter(|ms| *ms >= 0);
        let mine = now.holder.as_deref() == Some(self.p.holder.as_str());
        if running.is_none() || now.holder.is_none() || mine {
            let asked = Instant::now();
            if let Some(epoch) = leases.take(&self.p.holder, &self.p.lease.address, ttl)? {
                return Ok(Look::Taken(epoch, asked));
            }
            return Ok(Look::Again(Duration::ZERO));
        }
        self.p.roles.set(Role::Following {
            leader: Some(LeaderInfo {
                epoch: now.epoch,
                holder: now.holder.unwrap_or_default(),
                address: now.address.unwrap_or_default(),
            }),
        });
        // Look again soon after it would run out, and now and then before.
        let left = Duration::from_millis(running.map_or(0, |ms| ms.unsigned_abs()));
        Ok(Look::Again((left + Duration::from_millis(5)).min(ttl / 4)))
    }

    /// Leads in `epoch`: applies what earlier leaders stored, then starts
    /// the executor and the writer, and keeps the lease until shutdown.
    /// `asked` is when this node asked for the lease: the database counts it
    /// from a later moment, so this node never believes it longer than it runs.
    fn lead(mut self, leases: Leases, epoch: u64, asked: Instant) {
        let tip = self.p.log.lead(epoch).unwrap_or_else(|e| {
            step_down(&format!(
                "could not read the tip after taking the lease: {e}"
            ))
        });
        while self.tip.0 < tip.0 {
            if let Err(e) = self.catch_up() {
                step_down(&format!("could not read the blocks below the tip: {e}"));
            }
        }
        if self.tip != tip {
            step_down("the database's tip is not the chain this node applied");
        }
        let keeper = spawn_keeper(Held {
            leases,
            holder: self.p.holder.clone(),
            epoch,
            ttl: self.p.lease.ttl,
            taken: asked,
        });
        let Standby {
            mut executor,
            executor_parts,
            sealed,
            writer_parts,
        } = self.p.standby;
        executor.epoch = epoch;
        let rows = super::rows::spawn_rows(self.p.url.clone(), Arc::clone(&self.p.durable));
        let executor = spawn_executor(executor, executor_parts);
        let writer = spawn_writer(Box::new(self.p.log), sealed, writer_parts);
        self.p.roles.set(Role::Leading { epoch });
        let _ = self.p.settled.send(());
        tracing::info!(epoch, height = tip.0 .0, "took the lease: this node leads");
        // Both end when the node shuts down and its ingress closes.
        let _ = executor.join();
        let _ = writer.join();
        // The lease first: the next leader need not wait while the rows
        // catch up (two row writers never write a block twice: `RowWriter`).
        keeper.release();
        rows.finish();
    }
}

/// What a look at the lease found.
enum Look {
    /// Taken in this epoch; the lease counts from when it was asked for.
    Taken(u64, Instant),
    Again(Duration),
}
