//! The transaction pipeline: ingress, verification, sequencing, execution, durability.
//!
//! ```text
//! submit ─► verify queue ─► verify workers (all cores, batched) ─► executor
//!           (bounded)        ZIP-215 batch verification              (one thread: reorders by
//!                                                                      submission order, applies,
//!                                                                      cuts blocks)
//!        ─► durable queue (bounded) ─► writer (group commit, fsync) ─► replies, events
//! ```
//!
//! Admission is counted: a submission that would take more than
//! `VERIFY_QUEUE_TXS_MAX` transactions into verification, or more than
//! `QUEUE_TXS_MAX` into the executor's queue, is refused with `busy` at once;
//! nothing is buffered without bound. Submission order is kept end to end:
//! each chunk gets a sequence number at admission and the executor applies
//! chunks in that order, whatever order the workers finish them in.
//! A transaction's reply is sent when its block is durable (or at once, if
//! refused); nothing is acknowledged earlier.

mod durable;
mod executor;
// Test builds only: debug assertions too, so no release build carries it.
#[cfg(all(feature = "fault-injection", debug_assertions))]
mod fault;
pub mod parked;
mod touched;
mod verify;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};

use thiserror::Error;
use ting_core::limits::{QUEUE_TXS_MAX, VERIFY_BATCH_TXS_MAX, VERIFY_QUEUE_TXS_MAX};
use ting_core::{BlockHeader, BlockHeight, Hash32, MerkleProof, Receipt, SignedTx};
use tokio::sync::{oneshot, watch};

use crate::admission::Source;

pub use durable::CommittedBlock;
pub(crate) use durable::{deliver_refusals, spawn_writer, Sealed, ToWriter, WriterParts};
pub(crate) use executor::{spawn_executor, ExecutorParts};
pub use executor::{ExecutorConfig, SnapshotRequest};
pub use touched::{channel_parties, ChannelParties, Touched};
pub(crate) use verify::{spawn_verifiers, Checked};

/// Where a committed transaction landed, with what proves it: its block's
/// signed header and its Merkle path to the header's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    pub tx_hash: Hash32,
    pub height: BlockHeight,
    pub index: u32,
    pub block_hash: Hash32,
    pub header: Arc<BlockHeader>,
    pub proof: MerkleProof,
    /// This was a copy of a transaction that had landed before: the commit
    /// is the first one's (`crate::landed`).
    pub resent: bool,
}

impl Committed {
    /// The receipt a client checks against the genesis sequencers.
    pub fn receipt(&self) -> Receipt {
        Receipt {
            tx_hash: self.tx_hash,
            proof: self.proof.clone(),
            header: (*self.header).clone(),
        }
    }
}

/// Why the pipeline refused a transaction; the state did not change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub tx_hash: Hash32,
    pub code: &'static str,
    pub message: String,
}

/// Refusal codes that say "not now" and nothing about the transaction: it
/// is in a pipeline already, its source or the node is busy, or no node
/// leads. On a follower they come back from the leader (`crate::lead`).
pub const TRANSIENT_REFUSAL_CODES: [&str; 6] = [
    "already_pending",
    "refusal_budget",
    "source_busy",
    "busy",
    "shutting_down",
    "no_leader",
];

impl Refusal {
    pub fn new(tx_hash: Hash32, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            tx_hash,
            code,
            message: message.into(),
        }
    }

    /// Whether the same transaction may be sent again as it is: the refusal
    /// was about the moment, not about it (`TRANSIENT_REFUSAL_CODES`).
    pub fn is_transient(&self) -> bool {
        TRANSIENT_REFUSAL_CODES.contains(&self.code)
    }
}

/// What became of one submitted transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Committed(Committed),
    Refused(Refusal),
}

/// Where a transaction's outcome goes; `None` when nobody waits for it.
pub type Reply = Option<oneshot::Sender<Outcome>>;

/// A run of transactions from one submission, in order.
pub(crate) struct Chunk {
    pub seq: u64,
    pub source: Source,
    pub txs: Vec<SignedTx>,
    pub replies: Vec<Reply>,
}

/// Why a submission was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SubmitError {
    #[error("the node is busy: {queued} transactions queued, the limit is {max}; retry shortly")]
    Busy { queued: usize, max: usize },
    #[error("the node is shutting down")]
    ShuttingDown,
    #[error(
        "no node leads the network right now (a leader is being chosen); retry in a few seconds"
    )]
    NoLeader,
}

impl SubmitError {
    pub fn code(&self) -> &'static str {
        match self {
            SubmitError::Busy { .. } => "busy",
            SubmitError::ShuttingDown => "shutting_down",
            SubmitError::NoLeader => "no_leader",
        }
    }
}

/// Counts of transactions inside the pipeline, for admission and metrics.
#[derive(Debug, Default)]
pub struct Load {
    /// Admitted, not yet verified.
    pub verifying: AtomicUsize,
    /// Verified, not yet taken by the executor.
    pub sequencing: AtomicUsize,
    /// Held by the executor for the transactions before them (`parked`).
    pub parked: AtomicUsize,
    /// Whether the executor has an open block: applied to the state, not yet sealed.
    /// Changed only under the state's write lock, so a reader holding the read lock
    /// sees it agree with the state (reads then wait for `height + 1` to be durable).
    pub block_open: std::sync::atomic::AtomicBool,
}

struct IngressInner {
    next_seq: u64,
    to_verify: Option<mpsc::Sender<Chunk>>,
}

/// The front door of the pipeline; cheap to share.
pub struct Ingress {
    inner: Mutex<IngressInner>,
    load: Arc<Load>,
}

impl std::fmt::Debug for Ingress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingress").field("load", &self.load).finish()
    }
}

impl Ingress {
    pub(crate) fn new(to_verify: mpsc::Sender<Chunk>, load: Arc<Load>) -> Ingress {
        Ingress {
            inner: Mutex::new(IngressInner {
                next_seq: 0,
                to_verify: Some(to_verify),
            }),
            load,
        }
    }

    /// Admits `txs` (with one reply slot each) in order, or refuses all of them.
    pub fn submit(
        &self,
        source: Source,
        txs: Vec<SignedTx>,
        mut replies: Vec<Reply>,
    ) -> Result<(), SubmitError> {
        assert_eq!(txs.len(), replies.len(), "one reply slot per transaction");
        let n = txs.len();
        let mut inner = self.inner.lock().expect("ingress lock");
        let Some(sender) = inner.to_verify.clone() else {
            return Err(SubmitError::ShuttingDown);
        };
        let verifying = self.load.verifying.load(Ordering::Acquire);
        let sequencing = self.load.sequencing.load(Ordering::Acquire);
        if verifying + n > VERIFY_QUEUE_TXS_MAX {
            return Err(SubmitError::Busy {
                queued: verifying,
                max: VERIFY_QUEUE_TXS_MAX,
            });
        }
        if sequencing >= QUEUE_TXS_MAX {
            return Err(SubmitError::Busy {
                queued: sequencing,
                max: QUEUE_TXS_MAX,
            });
        }
        self.load.verifying.fetch_add(n, Ordering::AcqRel);
        let mut txs = txs;
        while !txs.is_empty() {
            let rest = txs.split_off(txs.len().min(VERIFY_BATCH_TXS_MAX));
            let rest_replies = replies.split_off(txs.len());
            let chunk = Chunk {
                seq: inner.next_seq,
                source,
                txs: std::mem::replace(&mut txs, rest),
                replies: std::mem::replace(&mut replies, rest_replies),
            };
            inner.next_seq += 1;
            if sender.send(chunk).is_err() {
                return Err(SubmitError::ShuttingDown);
            }
        }
        Ok(())
    }

    /// Stops admitting; the pipeline drains what it already holds.
    pub fn close(&self) {
        self.inner.lock().expect("ingress lock").to_verify = None;
    }

    pub fn load(&self) -> &Load {
        &self.load
    }
}

/// The durable height, for threads (condvar) and async tasks (watch) alike.
#[derive(Debug)]
pub struct Durable {
    height: AtomicU64,
    lock: Mutex<()>,
    cvar: Condvar,
    watch: watch::Sender<u64>,
}

impl Durable {
    pub fn new(height: BlockHeight) -> Durable {
        Durable {
            height: AtomicU64::new(height.0),
            lock: Mutex::new(()),
            cvar: Condvar::new(),
            watch: watch::Sender::new(height.0),
        }
    }

    pub fn height(&self) -> BlockHeight {
        BlockHeight(self.height.load(Ordering::Acquire))
    }

    pub(crate) fn advance(&self, to: BlockHeight) {
        let _guard = self.lock.lock().expect("durable lock");
        self.height.store(to.0, Ordering::Release);
        self.cvar.notify_all();
        self.watch.send_replace(to.0);
    }

    /// Blocks the calling thread until the durable height reaches `h` or `timeout` passes.
    pub fn wait_for(&self, h: BlockHeight, timeout: std::time::Duration) -> bool {
        let guard = self.lock.lock().expect("durable lock");
        let (_guard, result) = self
            .cvar
            .wait_timeout_while(guard, timeout, |()| self.height() < h)
            .expect("durable lock");
        !result.timed_out()
    }

    /// Waits in a task until the durable height reaches `h`.
    pub async fn reached(&self, h: BlockHeight) {
        let mut rx = self.watch.subscribe();
        // The watch holds the latest height; an error means the node is gone.
        let _ = rx.wait_for(|v| *v >= h.0).await;
    }
}
