//! The executor: the one thread that orders, applies and cuts blocks.
//!
//! It takes verified chunks in submission order (a small reorder buffer
//! absorbs workers finishing out of order), applies each transaction to the
//! in-memory state at the open block's timestamp, answers refusals at once,
//! and cuts the block when it is full or `block_cut` after it opened. Sealed
//! blocks go to the durable writer through a bounded queue, so a slow disk
//! slows the executor instead of growing memory. Every so often it hands a
//! asks the snapshot thread, which keeps its own copy of the state, for a snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ting_core::limits::BLOCK_TXS_MAX;
use ting_core::{Block, BlockDraft, BlockHeight, Hash32, Keypair, SignedTx, Timestamp};
use ting_ledger::State;

use super::durable::deliver_refusals;
use super::parked::Parked;
use super::Checked;
use super::{Durable, Sealed, ToWriter};
use super::{Load, Outcome, Refusal, Reply};
use crate::admission::{over_budget, Admission, Source};
use crate::clock::{Clock, ClockStatus, TimeGuard, CLOCK_RECHECK};
use crate::metrics::Metrics;
use crate::refusals::Refusals;

/// How the executor cuts blocks and when it asks for snapshots, and the
/// clock it stamps them with.
#[derive(Debug)]
pub struct ExecutorConfig {
    pub key: Keypair,
    pub block_cut: Duration,
    pub snapshot_every_blocks: u64,
    pub snapshot_every_txs: u64,
    pub clock: Arc<dyn Clock>,
    pub guard: TimeGuard,
    pub clock_status: Arc<ClockStatus>,
    /// The leader epoch every block carries: 0 on a single node, the
    /// lease's on nodes sharing PostgreSQL (`crate::lead`).
    pub epoch: u64,
}

/// A snapshot is due at block `height`: the snapshotter's own copy of the
/// state writes itself once it has replayed that block.
#[derive(Debug)]
pub struct SnapshotRequest {
    pub height: BlockHeight,
}

struct OpenBlock {
    timestamp: Timestamp,
    deadline: Instant,
    txs: Vec<SignedTx>,
    replies: Vec<Reply>,
    /// Refusals decided on a state that includes this block's transactions.
    refusals: Vec<(Refusal, Reply)>,
}

/// The channels and shared parts the executor works with.
pub(crate) struct ExecutorParts {
    pub state: Arc<RwLock<State>>,
    pub checked: mpsc::Receiver<Checked>,
    pub to_writer: mpsc::SyncSender<ToWriter>,
    pub snapshots: mpsc::SyncSender<SnapshotRequest>,
    /// Set while a snapshot is wanted or being written, so it is not asked for twice.
    pub snapshot_busy: Arc<AtomicBool>,
    /// Set by the snapshotter after a failed write (and its pause): the next
    /// cut asks again instead of waiting a whole interval.
    pub snapshot_retry: Arc<AtomicBool>,
    pub durable: Arc<Durable>,
    pub load: Arc<Load>,
    pub refusals: Arc<Refusals>,
    pub admission: Arc<Admission>,
    pub metrics: Arc<Metrics>,
}

struct Executor {
    cfg: ExecutorConfig,
    parts: ExecutorParts,
    open: Option<OpenBlock>,
    reorder: BTreeMap<u64, Checked>,
    next_seq: u64,
    outbox: Vec<ToWriter>,
    blocks_since_snapshot: u64,
    txs_since_snapshot: u64,
    /// The ledger time a block opened now gets, from the last clock check.
    block_time: Timestamp,
    /// Transactions wait in `reorder` because the clock jumped.
    clock_held: bool,
    /// Transactions ahead of their sender's nonce, waiting for those before.
    parked: Parked,
    /// A test build's armed fault (`super::fault`).
    #[cfg(all(feature = "fault-injection", debug_assertions))]
    fault: super::fault::Fault,
}

pub(crate) fn spawn_executor(cfg: ExecutorConfig, parts: ExecutorParts) -> JoinHandle<()> {
    #[cfg(all(feature = "fault-injection", debug_assertions))]
    let fault = super::fault::Fault::from_env(parts.state.read().expect("state lock").height());
    let executor = Executor {
        cfg,
        parts,
        open: None,
        reorder: BTreeMap::new(),
        next_seq: 0,
        outbox: Vec::new(),
        blocks_since_snapshot: 0,
        txs_since_snapshot: 0,
        block_time: Timestamp(0),
        clock_held: false,
        parked: Parked::default(),
        #[cfg(all(feature = "fault-injection", debug_assertions))]
        fault,
    };
    std::thread::Builder::new()
        .name("ting-executor".into())
        .spawn(move || executor.run())
        .expect("spawn executor thread")
}

impl Executor {
    fn run(mut self) {
        loop {
            let received = match self.wake_at() {
                Some(at) => {
                    let wait = at.saturating_duration_since(Instant::now());
                    self.parts.checked.recv_timeout(wait)
                }
                None => self
                    .parts
                    .checked
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
            };
            let closing = matches!(received, Err(RecvTimeoutError::Disconnected));
            if let Ok(checked) = received {
                self.reorder.insert(checked.seq, checked);
            }
            self.drain_ready();
            self.end_parking();
            let parked = self.parked.len();
            self.parts.load.parked.store(parked, Ordering::Relaxed);
            let due = self
                .open
                .as_ref()
                .is_some_and(|b| Instant::now() >= b.deadline);
            if due || (closing && self.open.is_some()) {
                let state = Arc::clone(&self.parts.state);
                let mut state = state.write().expect("state lock");
                self.cut(&mut state);
            }
            if !self.flush_outbox() || closing {
                return;
            }
        }
    }

    /// When the loop must look again without news: the open block's cut, a
    /// parked transaction's deadline, or (transactions held on it) the clock.
    fn wake_at(&self) -> Option<Instant> {
        let clock = self.clock_held.then(|| Instant::now() + CLOCK_RECHECK);
        [
            self.open.as_ref().map(|o| o.deadline),
            self.parked.next_deadline(),
            clock,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Applies, or else refuses, every parked transaction whose wait ended.
    fn end_parking(&mut self) {
        if self
            .parked
            .next_deadline()
            .is_none_or(|at| at > Instant::now())
        {
            return;
        }
        if self.open.is_none() && !self.check_clock() {
            return;
        }
        let now = Instant::now();
        let state = Arc::clone(&self.parts.state);
        let mut state = state.write().expect("state lock");
        for held in self.parked.expired(now) {
            self.apply(&mut state, held.tx, held.reply, held.source, now, false);
        }
    }

    /// Applies every chunk that is next in submission order, while the clock
    /// can stamp a block.
    fn drain_ready(&mut self) {
        while self.reorder.contains_key(&self.next_seq) {
            if self.open.is_none() && !self.check_clock() {
                return;
            }
            let Some(checked) = self.reorder.remove(&self.next_seq) else {
                return;
            };
            self.next_seq += 1;
            let n = checked.items.len();
            let source = checked.source;
            let now = Instant::now();
            let state = Arc::clone(&self.parts.state);
            let mut state = state.write().expect("state lock");
            for (result, reply) in checked.items {
                match result {
                    // Refused before the state was read (a bad signature, a spent
                    // budget): answer at once.
                    Err(refusal) => self.refuse_now(refusal, reply),
                    Ok(tx) => match self.parts.admission.sender_exhausted(&tx.sender(), now) {
                        // Costly refusals (a claim hashing far ahead) stop once
                        // their sender's budget is spent.
                        Some(wait) => {
                            self.refuse_now(over_budget(tx.hash(), "this sender", wait), reply)
                        }
                        None => self.apply(&mut state, tx.into_inner(), reply, source, now, true),
                    },
                }
            }
            drop(state);
            self.parts.load.sequencing.fetch_sub(n, Ordering::AcqRel);
            // Blocks cut while applying go to the writer now, not after the whole drain.
            if !self.flush_outbox() {
                return;
            }
        }
    }

    /// Reads the clock for the next block; false (and the transactions held)
    /// while it disagrees with its own count by more than the bound.
    fn check_clock(&mut self) -> bool {
        let outcome = self.cfg.guard.check(self.cfg.clock.read());
        self.cfg.clock_status.record(outcome);
        match outcome {
            Ok(t) => {
                self.block_time = t;
                self.clock_held = false;
                true
            }
            Err(_) => {
                self.clock_held = true;
                false
            }
        }
    }

    /// Applies `tx` to the open block, or refuses it; one whose nonce is
    /// ahead of its sender's is parked instead when `may_park`
    /// (`super::parked`).
    fn apply(
        &mut self,
        state: &mut State,
        tx: SignedTx,
        reply: Reply,
        source: Source,
        now: Instant,
        may_park: bool,
    ) {
        // A block opens with its first applied transaction, never with a refusal.
        let timestamp = match &self.open {
            Some(open) => open.timestamp,
            None => self.block_time.max(state.last_timestamp()),
        };
        if let Err(e) = state.apply_tx(&tx, timestamp) {
            let sender = tx.sender();
            let (tx, reply) =
                if may_park && e.code() == "bad_nonce" && tx.nonce() > state.next_nonce(&sender) {
                    match self.parked.park(tx, reply, source, now) {
                        None => return,
                        Some(back) => back,
                    }
                } else {
                    (tx, reply)
                };
            let refusal = self.refusal(tx.hash(), e.code(), e.to_string());
            let admission = &self.parts.admission;
            admission.refused(&refusal);
            // Anyone can replay a sender's old transactions into `bad_nonce`:
            // only the source pays for those.
            let charged = (refusal.code != "bad_nonce").then_some(&sender);
            admission.charge(source, charged, now);
            self.refuse_on_state(state, refusal, reply);
            return;
        }
        self.parts.admission.leave(&tx.hash());
        let sender = tx.sender();
        let cut_after = self.cfg.block_cut;
        if self.open.is_none() {
            self.parts.load.block_open.store(true, Ordering::Release);
        }
        let open = self.open.get_or_insert_with(|| OpenBlock {
            timestamp,
            deadline: Instant::now() + cut_after,
            txs: Vec::new(),
            replies: Vec::new(),
            refusals: Vec::new(),
        });
        open.txs.push(tx);
        open.replies.push(reply);
        if open.txs.len() >= BLOCK_TXS_MAX {
            self.cut(state);
        }
        // The sender's next transaction may be parked, waiting for this one.
        if self.parked.is_empty() {
            return;
        }
        if let Some(held) = self.parked.take(&sender, state.next_nonce(&sender)) {
            self.apply(state, held.tx, held.reply, held.source, now, true);
        }
    }

    /// Answers a refusal that depends on no state, at once. Bad signatures are
    /// not kept for receipt queries: anyone can make them, so they could flush
    /// the memory of real refusals (the admission memory keeps them apart).
    fn refuse_now(&self, refusal: Refusal, reply: Reply) {
        self.parts.metrics.refused(refusal.code);
        self.parts.admission.refused(&refusal);
        if let Some(reply) = reply {
            let _ = reply.send(Outcome::Refused(refusal));
        }
    }

    fn refusal(&self, tx_hash: Hash32, code: &'static str, message: String) -> Refusal {
        self.parts.metrics.refused(code);
        Refusal {
            tx_hash,
            code,
            message,
        }
    }

    /// Answers a refusal that the ledger decided on the current state only once
    /// that state is durable: a nonce or a balance it saw must not vanish in a
    /// crash after the client was told about it.
    fn refuse_on_state(&mut self, state: &State, refusal: Refusal, reply: Reply) {
        if let Some(open) = &mut self.open {
            open.refusals.push((refusal, reply));
        } else if self.parts.durable.height() >= state.height() {
            deliver_refusals(vec![(refusal, reply)], &self.parts.refusals);
        } else if let Some(ToWriter::Refusals(queued)) = self.outbox.last_mut() {
            queued.push((refusal, reply));
        } else {
            self.outbox.push(ToWriter::Refusals(vec![(refusal, reply)]));
        }
    }

    /// Seals the open block, moves the state's tip to it and queues it for the writer.
    fn cut(&mut self, state: &mut State) {
        let Some(open) = self.open.take() else { return };
        self.parts.load.block_open.store(false, Ordering::Release);
        let height = state.height().next().expect("height below u64::MAX");
        let count = open.txs.len() as u64;
        #[cfg(all(feature = "fault-injection", debug_assertions))]
        self.fault.before_root(state, height, &open.txs);
        let started = Instant::now();
        let state_root = state.update_root();
        self.parts.metrics.state_root_time(started.elapsed(), count);
        let draft = BlockDraft {
            genesis: state.genesis_hash(),
            height,
            epoch: self.cfg.epoch,
            prev_hash: state.tip_hash(),
            timestamp: open.timestamp,
            state_root,
        };
        let block = Block::seal(draft, open.txs, &self.cfg.key);
        state
            .commit_block(&block.header)
            .expect("the executor builds each block on its own tip");
        let block_hash = state.tip_hash();
        self.outbox.push(ToWriter::Block(Box::new(Sealed {
            block,
            block_hash,
            replies: open.replies,
            refusals: open.refusals,
        })));
        self.blocks_since_snapshot += 1;
        self.txs_since_snapshot += count;
        self.maybe_snapshot(height);
    }

    fn maybe_snapshot(&mut self, height: BlockHeight) {
        let due = self.blocks_since_snapshot >= self.cfg.snapshot_every_blocks
            || self.txs_since_snapshot >= self.cfg.snapshot_every_txs
            || self.parts.snapshot_retry.load(Ordering::Acquire);
        if !due || self.parts.snapshot_busy.load(Ordering::Acquire) {
            return;
        }
        let request = SnapshotRequest { height };
        self.parts.snapshot_busy.store(true, Ordering::Release);
        if self.parts.snapshots.try_send(request).is_ok() {
            self.blocks_since_snapshot = 0;
            self.txs_since_snapshot = 0;
            self.parts.snapshot_retry.store(false, Ordering::Release);
        } else {
            self.parts.snapshot_busy.store(false, Ordering::Release);
        }
    }

    /// Hands sealed blocks to the writer; false when the writer is gone.
    fn flush_outbox(&mut self) -> bool {
        for message in self.outbox.drain(..) {
            if self.parts.to_writer.send(message).is_err() {
                return false;
            }
        }
        true
    }
}
