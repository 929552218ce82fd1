//! `forwarded_per_s` and `forward_ratio`: transactions submitted one per
//! request, as a device or a small client sends them, to a follower (which
//! forwards them to the leader in batches) and, for the ceiling, to the
//! leader itself, by the same senders in the same run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use ting_core::{Hash32, Keypair};

use super::procs::{post_batch, Nodes, NODES};
use crate::bench::workload;

/// How long each target's submissions are counted.
const WINDOW: Duration = Duration::from_secs(3);

/// Commits a second through a follower and straight to the leader.
#[derive(Debug, Clone, Copy)]
pub struct Forwards {
    pub follower_per_s: f64,
    pub leader_per_s: f64,
}

/// Each of `nodes.forwarders` submits transfers one at a time, waiting for
/// each commit: for [`WINDOW`] to the leader, then as long to a follower.
pub fn measure(nodes: &Nodes) -> anyhow::Result<Forwards> {
    let (leader, _, _) = nodes.leader()?;
    let follower = (0..NODES).find(|i| *i != leader).expect("three nodes");
    let senders: Arc<Vec<Keypair>> = Arc::new(
        nodes
            .forwarders
            .iter()
            .map(|k| Keypair::from_seed(k.seed()))
            .collect(),
    );
    let mut next = vec![0u64; senders.len()];
    let leader_per_s = window(nodes.addr(leader), &senders, nodes.genesis, &mut next)?;
    let follower_per_s = window(nodes.addr(follower), &senders, nodes.genesis, &mut next)?;
    Ok(Forwards {
        follower_per_s,
        leader_per_s,
    })
}

/// One thread per sender for [`WINDOW`]; `next` holds each sender's next
/// nonce (each commits before its next is sent).
fn window(
    addr: std::net::SocketAddr,
    senders: &Arc<Vec<Keypair>>,
    genesis: Hash32,
    next: &mut [u64],
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let committed = Arc::new(AtomicU64::new(0));
    let n = senders.len() as u64;
    let threads: Vec<_> = (0..senders.len())
        .map(|s| {
            let (senders, stop, committed) = (
                Arc::clone(senders),
                Arc::clone(&stop),
                Arc::clone(&committed),
            );
            let first = next[s];
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let mut nonce = first;
                while !stop.load(Ordering::Acquire) {
                    let tx = workload::transfer(&senders, &genesis, nonce * n + s as u64, true);
                    let answer = post_batch(addr, std::slice::from_ref(&tx))?;
                    if answer.first().and_then(|r| r["status"].as_str()) != Some("committed") {
                        bail!("a single submission to {addr} was not committed: {answer:?}");
                    }
                    committed.fetch_add(1, Ordering::Relaxed);
                    nonce += 1;
                }
                Ok(nonce)
            })
        })
        .collect();
    std::thread::sleep(WINDOW);
    let counted = committed.load(Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Release);
    for (s, t) in threads.into_iter().enumerate() {
        match t.join() {
            Ok(done) => next[s] = done?,
            Err(_) => bail!("a submitting thread panicked"),
        }
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(counted as f64 / seconds)
}
