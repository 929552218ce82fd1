//! The ceiling of the messages run: this machine's rate of batch-verifying
//! envelope signatures, on every core, with nothing else running.
//!
//! A receiver checks what has queued in its inbox with
//! `envelope::receive_batch`, whose cost is one `BatchVerifier` over the
//! envelopes' signatures. This measures that verifier alone, in batches of
//! `MSG_BATCH_MAX` data envelopes (the most a bench receiver drains at
//! once), the way `bench ledger`'s capacity run (`super::super::capacity`)
//! measures `SignedTx::verify_batch`: one thread per core, a few untimed
//! batches first, and the rate summed over the threads' time inside
//! verification. Decoding is done before the clock starts; building each
//! envelope's signing message and hashing it are part of verifying it.

use std::time::{Duration, Instant};

use ting_core::envelope::Envelope;
use ting_core::keys::BatchVerifier;

use super::super::capacity::Capacity;
use super::MSG_BATCH_MAX;

/// Untimed batches each thread runs first, so caches and clocks settle.
const WARMUP_BATCHES: usize = 16;

/// Measures for about `length` on `threads` threads over batches cut from
/// `sample`, which holds at least one full batch of validly signed envelopes.
pub(super) fn measure(sample: &[Envelope], threads: usize, length: Duration) -> Capacity {
    let batches: Vec<&[Envelope]> = sample.chunks_exact(MSG_BATCH_MAX).collect();
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
                    .name(format!("bench-env-verify-{t}"))
                    .spawn_scoped(scope, move || verify_for(batches, t, length))
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

/// One thread: verify batches until `length` has passed; returns (verified,
/// time inside verification).
fn verify_for(batches: &[&[Envelope]], offset: usize, length: Duration) -> (u64, Duration) {
    let mut rng = rand::rng();
    let mut verified = 0u64;
    let mut busy = Duration::ZERO;
    let mut started = None;
    for (i, batch) in batches.iter().cycle().skip(offset).enumerate() {
        let t = Instant::now();
        let mut verifier = BatchVerifier::with_capacity(batch.len());
        for envelope in *batch {
            let h = &envelope.header;
            verifier.queue(&h.sender, &envelope.signing_message(), &envelope.signature);
        }
        let valid = verifier.verify(&mut rng);
        let took = t.elapsed();
        assert!(valid.iter().all(|ok| *ok), "the sample is validly signed");
        if i < WARMUP_BATCHES {
            continue;
        }
        let since = *started.get_or_insert(t);
        verified += valid.len() as u64;
        busy += took;
        if since.elapsed() >= length {
            break;
        }
    }
    (verified, busy)
}
