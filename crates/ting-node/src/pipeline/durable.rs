//! The durable writer: group commit of sealed blocks, then acknowledgements.
//!
//! It takes every block the executor has sealed since its last write, appends
//! them with one fsync (the log splits very large groups), and only then
//! advances the durable height, replies to the waiting submitters and
//! publishes the blocks as events. If the disk refuses a write or an fsync
//! the node stops at once: the in-memory state is already ahead of the log,
//! and retrying an fsync after a failure is not safe.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use ting_core::limits::WRITE_GROUP_BYTES_MAX;
use ting_core::{Block, Hash32};
use ting_store::BlockLog;
use tokio::sync::broadcast;

use super::{Committed, Durable, Outcome, Reply};
use crate::metrics::Metrics;

/// A block the executor has sealed, with the submitters waiting on it.
pub(crate) struct Sealed {
    pub block: Block,
    pub block_hash: Hash32,
    pub replies: Vec<Reply>,
}

/// A durable block, as published to event subscribers.
#[derive(Debug)]
pub struct CommittedBlock {
    pub block: Block,
    pub block_hash: Hash32,
}

/// The writer's shared parts.
pub(crate) struct WriterParts {
    pub durable: Arc<Durable>,
    pub events: broadcast::Sender<Arc<CommittedBlock>>,
    pub metrics: Arc<Metrics>,
}

pub(crate) fn spawn_writer(
    mut log: Box<dyn BlockLog>,
    sealed: mpsc::Receiver<Sealed>,
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

/// Waits for one sealed block, then takes whatever else is queued, within a group's bytes.
fn take_group(sealed: &mpsc::Receiver<Sealed>) -> Option<Vec<Sealed>> {
    let first = sealed.recv().ok()?;
    let mut bytes = approx_bytes(&first.block);
    let mut group = vec![first];
    while bytes < WRITE_GROUP_BYTES_MAX {
        match sealed.try_recv() {
            Ok(next) => {
                bytes += approx_bytes(&next.block);
                group.push(next);
            }
            Err(_) => break,
        }
    }
    Some(group)
}

fn approx_bytes(block: &Block) -> usize {
    ting_core::block::HEADER_BYTES + block.txs.iter().map(|t| 2 + t.bytes().len()).sum::<usize>()
}

fn write_group(log: &mut dyn BlockLog, group: Vec<Sealed>, parts: &WriterParts) {
    let mut blocks = Vec::with_capacity(group.len());
    let mut waiting = Vec::with_capacity(group.len());
    for s in group {
        waiting.push((s.block_hash, s.replies));
        blocks.push(s.block);
    }
    let started = Instant::now();
    if let Err(e) = log.append(&blocks) {
        tracing::error!(error = %e, "the block log refused a write; stopping the node so that nothing unwritten is acknowledged");
        std::process::abort();
    }
    parts
        .metrics
        .group_committed(blocks.len(), started.elapsed());
    let last = blocks.last().expect("a group has a block").header.height;
    parts.durable.advance(last);
    let publish = parts.events.receiver_count() > 0;
    for (block, (block_hash, replies)) in blocks.into_iter().zip(waiting) {
        parts.metrics.block_committed(block.txs.len());
        for ((index, tx), reply) in block.txs.iter().enumerate().zip(replies) {
            if let Some(reply) = reply {
                let committed = Committed {
                    tx_hash: tx.hash(),
                    height: block.header.height,
                    index: u32::try_from(index).expect("bounded by BLOCK_TXS_MAX"),
                    block_hash,
                };
                // A waiter that gave up is fine: the transaction is durable either way.
                let _ = reply.send(Outcome::Committed(committed));
            }
        }
        if publish {
            let _ = parts
                .events
                .send(Arc::new(CommittedBlock { block, block_hash }));
        }
    }
}
