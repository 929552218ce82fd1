//! The ceiling of `bench ledger`: this machine's Ed25519 verification capacity.
//!
//! The fastest verifier the node has is a ZIP-215 batch of
//! `VERIFY_BATCH_TXS_MAX` transactions through `SignedTx::verify_batch`, the
//! very call its verification workers make. This runs it on one thread per
//! core with nothing else running and reports verifications per second. Each
//! batch is cloned before its clock starts (the call consumes its input), so
//! the copy is not charged to verification.

use std::time::{Duration, Instant};

use ting_core::limits::VERIFY_BATCH_TXS_MAX;
use ting_core::SignedTx;

/// What the capacity run measured.
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    /// Verifications per second, summed over the threads.
    pub per_s: f64,
    pub threads: usize,
    pub verified: u64,
    /// Wall time of the measured part.
    pub seconds: f64,
}

/// Untimed batches each thread runs first, so caches and clocks settle.
const WARMUP_BATCHES: usize = 16;

/// Measures for about `seconds` on `threads` threads over batches cut from `sample`.
pub fn measure(sample: &[SignedTx], threads: usize, seconds: f64) -> Capacity {
    let batches: Vec<&[SignedTx]> = sample.chunks_exact(VERIFY_BATCH_TXS_MAX).collect();
    assert!(
        !batches.is_empty(),
        "the sample holds at least one full batch"
    );
    let started = Instant::now();
    let per_thread: Vec<(u64, Duration)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let batches = &batches;
                std::thread::Builder::new()
                    .name(format!("bench-verify-{t}"))
                    .spawn_scoped(scope, move || {
                        verify_for(batches, t, Duration::from_secs_f64(seconds))
                    })
                    .expect("spawn a capacity thread")
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a capacity thread panicked"))
            .collect()
    });
    let verified = per_thread.iter().map(|(n, _)| n).sum();
    let per_s = per_thread
        .iter()
        .map(|(n, busy)| *n as f64 / busy.as_secs_f64().max(1e-9))
        .sum();
    Capacity {
        per_s,
        threads,
        verified,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// One thread: verify batches until `length` has passed; returns (verified, time inside verification).
fn verify_for(batches: &[&[SignedTx]], offset: usize, length: Duration) -> (u64, Duration) {
    let mut rng = rand::rng();
    let mut verified = 0u64;
    let mut busy = Duration::ZERO;
    let mut started = None;
    for (i, batch) in batches.iter().cycle().skip(offset).enumerate() {
        let input = batch.to_vec();
        let t = Instant::now();
        let results = SignedTx::verify_batch(input, &mut rng);
        let took = t.elapsed();
        assert!(
            results.iter().all(Result::is_ok),
            "the sample is validly signed"
        );
        if i < WARMUP_BATCHES {
            continue;
        }
        let since = *started.get_or_insert(t);
        verified += results.len() as u64;
        busy += took;
        if since.elapsed() >= length {
            break;
        }
    }
    (verified, busy)
}
