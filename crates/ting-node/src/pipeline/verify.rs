//! The verification pool: one worker per core, each checking signatures in batches.
//!
//! A worker takes one chunk, then any chunks already waiting, up to
//! `VERIFY_BATCH_TXS_MAX` transactions, and checks them in one ZIP-215 batch
//! (falling back to single checks to name a bad one; both agree by the rule).
//! Results go to the executor tagged with each chunk's sequence number.

use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use ting_core::limits::VERIFY_BATCH_TXS_MAX;
use ting_core::{Hash32, SignatureError, SignedTx, Verified};

use super::{Chunk, Load, Reply};

/// One transaction after verification (or its hash and why it was refused), with its reply slot.
pub(crate) type CheckedItem = (Result<Verified<SignedTx>, (Hash32, SignatureError)>, Reply);

/// A chunk after verification: each transaction verified or refused.
pub(crate) struct Checked {
    pub seq: u64,
    pub items: Vec<CheckedItem>,
}

/// Starts `workers` verification threads reading `chunks` and feeding `checked`.
pub(crate) fn spawn_verifiers(
    workers: usize,
    chunks: mpsc::Receiver<Chunk>,
    checked: mpsc::Sender<Checked>,
    load: Arc<Load>,
) -> Vec<JoinHandle<()>> {
    let chunks = Arc::new(Mutex::new(chunks));
    (0..workers.max(1))
        .map(|i| {
            let chunks = Arc::clone(&chunks);
            let checked = checked.clone();
            let load = Arc::clone(&load);
            std::thread::Builder::new()
                .name(format!("ting-verify-{i}"))
                .spawn(move || worker(&chunks, &checked, &load))
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

fn worker(chunks: &Mutex<mpsc::Receiver<Chunk>>, checked: &mpsc::Sender<Checked>, load: &Load) {
    let mut rng = rand::rng();
    while let Some(batch) = take_batch(chunks) {
        let mut all = Vec::new();
        let mut seqs = Vec::with_capacity(batch.len());
        for chunk in batch {
            seqs.push((chunk.seq, chunk.replies));
            all.extend(chunk.txs);
        }
        let n = all.len();
        let mut results = SignedTx::verify_batch(all, &mut rng).into_iter();
        load.sequencing.fetch_add(n, Ordering::AcqRel);
        load.verifying.fetch_sub(n, Ordering::AcqRel);
        for (seq, replies) in seqs {
            let items = replies
                .into_iter()
                .map(|reply| (results.next().expect("one result per transaction"), reply))
                .collect();
            if checked.send(Checked { seq, items }).is_err() {
                return;
            }
        }
    }
}
