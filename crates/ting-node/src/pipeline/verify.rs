//! The verification pool: one worker per core, each checking signatures in batches.
//!
//! A worker takes one chunk, then any chunks already waiting, up to
//! `VERIFY_BATCH_TXS_MAX` transactions, and checks them in one ZIP-215 batch
//! (a failed batch is halved until the bad ones are named; batch and single
//! checks agree by the rule). A chunk whose source has spent its refusal
//! budget is refused unchecked; each bad signature is charged to its source.
//! Results go to the executor tagged with each chunk's sequence number.

use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ting_core::limits::VERIFY_BATCH_TXS_MAX;
use ting_core::{SignedTx, Verified};

use super::{Chunk, Load, Refusal, Reply};
use crate::admission::{over_budget, Admission, Source};

/// One transaction after verification (or why it was refused), with its reply slot.
pub(crate) type CheckedItem = (Result<Verified<SignedTx>, Refusal>, Reply);

/// A chunk after verification: each transaction verified or refused.
pub(crate) struct Checked {
    pub seq: u64,
    pub source: Source,
    pub items: Vec<CheckedItem>,
}

/// Starts `workers` verification threads reading `chunks` and feeding `checked`.
pub(crate) fn spawn_verifiers(
    workers: usize,
    chunks: mpsc::Receiver<Chunk>,
    checked: mpsc::Sender<Checked>,
    load: Arc<Load>,
    admission: Arc<Admission>,
) -> Vec<JoinHandle<()>> {
    let chunks = Arc::new(Mutex::new(chunks));
    (0..workers.max(1))
        .map(|i| {
            let chunks = Arc::clone(&chunks);
            let checked = checked.clone();
            let load = Arc::clone(&load);
            let admission = Arc::clone(&admission);
            std::thread::Builder::new()
                .name(format!("ting-verify-{i}"))
                .spawn(move || worker(&chunks, &checked, &load, &admission))
                .expect("spawn verifier thread")
        })
        .collect()
}

/// Takes a chunk (waiting for one) and then whatever else is queued, up to a batch.
fn take_batch(chunks: &Mutex<mpsc::Receiver<Chunk>>) -> Option<Vec<Chunk>> {
    let rx = chunks.lock().expect("verify queue lock");
    let first = rx.recv().ok()?;
    let mut total = first.txs.len();
    let mut batch = vec![first];
    while total < VERIFY_BATCH_TXS_MAX {
        match rx.try_recv() {
            Ok(chunk) => {
                total += chunk.txs.len();
                batch.push(chunk);
            }
            Err(_) => break,
        }
    }
    Some(batch)
}

/// A chunk waiting for its batch's results, or refused unchecked because its
/// source spent its refusal budget.
struct Planned {
    seq: u64,
    source: Source,
    replies: Vec<Reply>,
    unchecked: Option<(Vec<SignedTx>, Duration)>,
}

fn worker(
    chunks: &Mutex<mpsc::Receiver<Chunk>>,
    checked: &mpsc::Sender<Checked>,
    load: &Load,
    admission: &Admission,
) {
    let mut rng = rand::rng();
    while let Some(batch) = take_batch(chunks) {
        let now = Instant::now();
        let mut all = Vec::new();
        let mut plans = Vec::with_capacity(batch.len());
        for chunk in batch {
            let unchecked = match admission.source_exhausted(chunk.source, now) {
                Some(wait) => Some((chunk.txs, wait)),
                None => {
                    all.extend(chunk.txs);
                    None
                }
            };
            plans.push(Planned {
                seq: chunk.seq,
                source: chunk.source,
                replies: chunk.replies,
                unchecked,
            });
        }
        let n: usize = plans.iter().map(|p| p.replies.len()).sum();
        let mut results = SignedTx::verify_batch(all, &mut rng).into_iter();
        load.sequencing.fetch_add(n, Ordering::AcqRel);
        load.verifying.fetch_sub(n, Ordering::AcqRel);
        for plan in plans {
            let items = answer(plan.unchecked, &mut results, plan.replies);
            for bad in items.iter().filter(|(r, _)| r.is_err()) {
                // Refused unchecked ones were charged when their budget was spent.
                if matches!(&bad.0, Err(r) if r.code != "refusal_budget") {
                    admission.charge(plan.source, None, now);
                }
            }
            let out = Checked {
                seq: plan.seq,
                source: plan.source,
                items,
            };
            if checked.send(out).is_err() {
                return;
            }
        }
    }
}

/// One chunk's items: its batch results in order, or all refused unchecked.
fn answer(
    unchecked: Option<(Vec<SignedTx>, Duration)>,
    results: &mut impl Iterator<
        Item = Result<Verified<SignedTx>, (ting_core::Hash32, ting_core::SignatureError)>,
    >,
    replies: Vec<Reply>,
) -> Vec<CheckedItem> {
    if let Some((txs, wait)) = unchecked {
        return txs
            .into_iter()
            .zip(replies)
            .map(|(tx, reply)| {
                let refusal = over_budget(tx.hash(), "this source address", wait);
                (Err(refusal), reply)
            })
            .collect();
    }
    replies
        .into_iter()
        .map(|reply| {
            let result =
                results
                    .next()
                    .expect("one result per transaction")
                    .map_err(|(tx_hash, e)| Refusal {
                        tx_hash,
                        code: e.code(),
                        message: e.to_string(),
                    });
            (result, reply)
        })
        .collect()
}
