//! The in-process driver of the transaction runs: pre-signed chunks handed
//! to `Shared::submit` in order, at most `inflight` transactions
//! unanswered, for a warm-up and a measured window read from the node's
//! own counters (`drive::Marks`, as `bench ledger` reads them).
//!
//! `drive::Direct` keeps the node's whole admission queue full (65,536
//! transactions), so a run needs at least that many signed before it
//! starts: seconds of signing in a release build, minutes in a debug one,
//! where the CI runs this benchmark. A window of a quarter second of the
//! machine's verification capacity keeps the pipeline as busy (the node
//! never waits for work) at a fraction of the preparation. Transfers and
//! holds go through this same driver, so their ratio compares like with
//! like. As in `Direct`, a collector thread takes the replies, so the
//! submitter looks at the clock at least every `BACKOFF`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use ting_core::SignedTx;
use ting_node::pipeline::Outcome;
use ting_node::Shared;
use tokio::sync::oneshot;

use super::drive::{Marks, Phase, BACKOFF};

/// One submitted chunk's replies.
type Replies = Vec<oneshot::Receiver<Outcome>>;

/// Submits `chunks` in order with at most `inflight` transactions
/// unanswered, measuring over `window` after `warmup` (from the start when
/// it is zero); stops at the end of the window or of the chunks, waits for
/// every reply, and fails on any refusal.
pub fn run(
    shared: &Arc<Shared>,
    chunks: Vec<Vec<SignedTx>>,
    inflight: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<Phase> {
    drive(shared, chunks, inflight, warmup, window).map(|(phase, _)| phase)
}

/// [`run`] for a workload sized to outlast its window: fails when the
/// chunks ran out before the window closed, since the node then waited
/// for work and the figure would be the workload's, not the node's.
pub fn run_full_window(
    shared: &Arc<Shared>,
    chunks: Vec<Vec<SignedTx>>,
    inflight: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<Phase> {
    let (phase, ran_out) = drive(shared, chunks, inflight, warmup, window)?;
    if let Some(early) = ran_out {
        bail!(
            "the prepared transactions ran out {early:?} before the measured window closed; \
             this is a benchmark bug (its workload is sized too small)"
        );
    }
    Ok(phase)
}

/// [`run`], also answering how long before the window closed the chunks
/// ran out, if they did.
fn drive(
    shared: &Arc<Shared>,
    chunks: Vec<Vec<SignedTx>>,
    inflight: usize,
    warmup: Duration,
    window: Duration,
) -> anyhow::Result<(Phase, Option<Duration>)> {
    let unanswered = Arc::new(AtomicUsize::new(0));
    let (to_collector, from_submitter) = mpsc::channel::<Replies>();
    let collector = {
        let unanswered = Arc::clone(&unanswered);
        std::thread::Builder::new()
            .name("bench-collect".into())
            .spawn(move || collect(&from_submitter, &unanswered))?
    };
    let started = Instant::now();
    let (warm_end, end) = (started + warmup, started + warmup + window);
    let mut marks = Marks::new();
    let mut chunks = chunks.into_iter().peekable();
    let mut backoffs = 0u64;
    while let Some(next) = chunks.peek() {
        let now = Instant::now();
        if !marks.started() && now >= warm_end {
            marks.start(shared);
        }
        if now >= end {
            break;
        }
        let len = next.len();
        if unanswered.load(Ordering::Acquire) + len > inflight.max(len) {
            backoffs += 1;
            std::thread::sleep(BACKOFF);
            continue;
        }
        let chunk = chunks.next().expect("peeked");
        unanswered.fetch_add(len, Ordering::AcqRel);
        let replies = shared
            .submit(chunk)
            .map_err(|e| anyhow!("the node refused a chunk the benchmark had room for: {e}"))?;
        to_collector
            .send(replies)
            .map_err(|_| anyhow!("the collector thread stopped"))?;
    }
    let ran_out = chunks
        .peek()
        .is_none()
        .then(|| end.saturating_duration_since(Instant::now()))
        .filter(|left| !left.is_zero());
    if warmup.is_zero() && !marks.started() {
        marks.start(shared);
    }
    let phase = marks.finish(shared, backoffs);
    drop(to_collector);
    let refusal = collector
        .join()
        .map_err(|_| anyhow!("the collector thread panicked"))?;
    if let Some(refusal) = refusal {
        bail!("the node refused a benchmark transaction ({refusal}); this is a benchmark bug");
    }
    Ok((phase?, ran_out))
}

/// Waits for every reply in order, counting each off `unanswered`; answers
/// the first refusal, if any.
fn collect(from: &mpsc::Receiver<Replies>, unanswered: &AtomicUsize) -> Option<String> {
    let mut first = None;
    for replies in from {
        for reply in replies {
            let refused = match reply.blocking_recv() {
                Ok(Outcome::Committed(_)) => None,
                Ok(Outcome::Refused(r)) => Some(format!("{}: {}", r.code, r.message)),
                Err(_) => Some("the node stopped before answering".into()),
            };
            if first.is_none() {
                first = refused;
            }
            unanswered.fetch_sub(1, Ordering::AcqRel);
        }
    }
    first
}
