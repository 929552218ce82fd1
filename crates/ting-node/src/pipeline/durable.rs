//! The durable writer: group commit of sealed blocks, then acknowledgements.
//!
//! It takes every block the executor has sealed since its last write, appends
//! them with one fsync (the log splits very large groups), and only then
//! advances the durable height, replies to the waiting submitters and
//! publishes the blocks as events. If the disk refuses a write or an fsync
//! the node stops at once: the in-memory state is already ahead of the log,
//! and retrying an fsync after a failure is not safe.

use std::sync::{mpsc, Arc, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::Instant;

use ting_core::limits::WRITE_GROUP_BYTES_MAX;
use ting_core::merkle::MerkleTree;
use ting_core::{Block, Hash32};
use ting_ledger::State;
use ting_store::BlockLog;
use tokio::sync::broadcast;

use super::touched::{channel_parties, Touched};
use super::{Committed, Durable, Outcome, Refusal, Reply};
use crate::metrics::Metrics;
use crate::refusals::Refusals;

/// A block the executor has sealed, with the submitters waiting on it, and the
/// refusals decided while it was open (they depend on its transactions).
pub(crate) struct Sealed {
    pub block: Block,
    pub block_hash: Hash32,
    pub replies: Vec<Reply>,
    pub refusals: Vec<(Refusal, Reply)>,
}

/// What the executor hands the writer, in order.
pub(crate) enum ToWriter {
    Block(Box<Sealed>),
    /// Refusals decided on a state whose blocks are queued here but may not be
    /// durable yet: answered once everything queued before them is.
    Refusals(Vec<(Refusal, Reply)>),
}

/// A durable block, as published to event subscribers, with what its
/// subscribers work out from it once for all of them, when the first needs it.
#[derive(Debug)]
pub struct CommittedBlock {
    pub block: Block,
    pub block_hash: Hash32,
    touched: OnceLock<Touched>,
    block_event: OnceLock<Arc<str>>,
}

impl CommittedBlock {
    pub fn new(block: Block, block_hash: Hash32) -> CommittedBlock {
        CommittedBlock {
            block,
            block_hash,
            touched: OnceLock::new(),
            block_event: OnceLock::new(),
        }
    }

    /// Which accounts each transaction touches (`touched.rs`), built by the
    /// first caller (reading channel parties from `state`), shared by the rest.
    pub fn touched(&self, state: &RwLock<State>) -> &Touched {
        self.touched
            .get_or_init(|| Touched::of(&self.block, &channel_parties(&self.block, state)))
    }

    /// The block's `block` event data, rendered by the first stream that
    /// sends it (`http/events.rs`), shared by the rest.
    pub(crate) fn block_event(&self, render: impl FnOnce(&CommittedBlock) -> String) -> Arc<str> {
        Arc::clone(self.block_event.get_or_init(|| render(self).into()))
    }
}

/// The writer's shared parts.
pub(crate) struct WriterParts {
    pub durable: Arc<Durable>,
    pub refusals: Arc<Refusals>,
    pub events: broadcast::Sender<Arc<CommittedBlock>>,
    pub metrics: Arc<Metrics>,
}

pub(crate) fn spawn_writer(
    mut log: Box<dyn BlockLog>,
    sealed: mpsc::Receiver<ToWriter>,
    parts: WriterParts,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("ting-writer".into())
        .spawn(move || {
            while let Some(group) = take_group(&sealed) {
                write_group(log.as_mut(), group, &parts);
            }
        })
        .expect("spawn writer thread")
}

/// Waits for one message, then takes whatever else is queued, within a group's bytes.
fn take_group(sealed: &mpsc::Receiver<ToWriter>) -> Option<Vec<ToWriter>> {
    let first = sealed.recv().ok()?;
    let mut bytes = message_bytes(&first);
    let mut group = vec![first];
    while bytes < WRITE_GROUP_BYTES_MAX {
        match sealed.try_recv() {
            Ok(next) => {
                bytes += message_bytes(&next);
                group.push(next);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

fn message_bytes(m: &ToWriter) -> usize {
    match m {
        ToWriter::Block(s) => approx_bytes(&s.block),
        ToWriter::Refusals(_) => 0,
    }
}

fn approx_bytes(block: &Block) -> usize {
    ting_core::block::HEADER_BYTES + block.txs.iter().map(|t| 2 + t.bytes().len()).sum::<usize>()
}

/// Answers refusals and records them for lookups by hash.
pub(crate) fn deliver_refusals(refusals: Vec<(Refusal, Reply)>, memory: &Refusals) {
    for (refusal, reply) in refusals {
        memory.insert(refusal.clone());
        if let Some(reply) = reply {
            // The waiter may have gone away; the refusal is still recorded.
            let _ = reply.send(Outcome::Refused(refusal));
        }
    }
}

fn write_group(log: &mut dyn BlockLog, group: Vec<ToWriter>, parts: &WriterParts) {
    let mut blocks = Vec::with_capacity(group.len());
    let mut after = Vec::with_capacity(group.len());
    for message in group {
        match message {
            ToWriter::Block(s) => {
                let s = *s;
                after.push((Some(s.block_hash), s.replies, s.refusals));
                blocks.push(s.block);
            }
            ToWriter::Refusals(r) => after.push((None, Vec::new(), r)),
        }
    }
    if !blocks.is_empty() {
        let started = Instant::now();
        if let Err(e) = log.append(&blocks) {
            // Only the log in PostgreSQL answers these: the database refused
            // the blocks, or could not be reached. A restart follows whoever leads.
            if matches!(
                e,
                ting_store::LogError::Fenced { .. }
                    | ting_store::LogError::TipMoved { .. }
                    | ting_store::LogError::Database { .. }
            ) {
                crate::lead::step_down(&format!(
                    "the database did not take this node's blocks: {e}"
                ));
            }
            tracing::error!(error = %e, "the block log refused a write; stopping the node so that nothing unwritten is acknowledged");
            std::process::abort();
        }
        parts
            .metrics
            .group_committed(blocks.len(), started.elapsed());
        let last = blocks.last().expect("not empty").header.height;
        parts.durable.advance(last);
    }
    let publish = parts.events.receiver_count() > 0;
    let mut blocks = blocks.into_iter();
    for (block_hash, replies, refusals) in after {
        if let Some(block_hash) = block_hash {
            let block = blocks.next().expect("one block per block message");
            acknowledge(&block, block_hash, replies, &parts.metrics);
            if publish {
                let _ = parts
                    .events
                    .send(Arc::new(CommittedBlock::new(block, block_hash)));
            }
        }
        deliver_refusals(refusals, &parts.refusals);
    }
}

fn acknowledge(block: &Block, block_hash: Hash32, replies: Vec<Reply>, metrics: &Metrics) {
    metrics.block_committed(block.txs.len());
    // The proofs cost one tree per block, built only when someone waits.
    if replies.iter().all(Option::is_none) {
        return;
    }
    let hashes = block.tx_hashes();
    let tree = MerkleTree::new(&hashes);
    let header = Arc::new(block.header.clone());
    for ((index, tx_hash), reply) in hashes.iter().enumerate().zip(replies) {
        if let Some(reply) = reply {
            let committed = Committed {
                tx_hash: *tx_hash,
                height: block.header.height,
                index: u32::try_from(index).expect("bounded by BLOCK_TXS_MAX"),
                block_hash,
                header: Arc::clone(&header),
                proof: tree.proof(index).expect("an index of the block"),
                resent: false,
            };
            // A waiter that gave up is fine: the transaction is durable either way.
            let _ = reply.send(Outcome::Committed(committed));
        }
    }
}
