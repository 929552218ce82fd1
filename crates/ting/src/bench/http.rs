//! `bench ledger --via http`: the same two phases, through the node's HTTP API on 127.0.0.1.
//!
//! The API is served in-process (`ting_node::http::serve` on port 0) and fed
//! by concurrent client tasks, each posting `POST /v1/transactions/batch?wait=true`
//! with hex-encoded transfers and waiting for the durable answer. Request
//! bodies are built up front. Each client owns a fixed set of senders (body
//! `k` holds one block of senders, and every body of that block goes to the
//! same client), so clients never race each other on a sender's nonces and a
//! `busy` answer can simply be retried after a short pause.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use ting_core::{Hash32, Keypair};
use ting_node::Shared;
use tokio::sync::mpsc;

use super::drive::{Marks, Phase};
use super::stats::Latency;
use super::workload::{par_map, transfers};
use ting_agent::{HttpError, NodeClient};

const BATCH_PATH: &str = "/v1/transactions/batch?wait=true";
/// Pause before retrying a submission the node answered `busy`.
const BUSY_PAUSE: Duration = Duration::from_millis(1);

/// Request bodies, queued per client in the order each must send them.
#[derive(Debug)]
pub struct Bodies {
    pub per_client: Vec<VecDeque<Vec<u8>>>,
    pub batch: usize,
}

/// `n` bodies of `batch` signed transfers each, made on every core.
pub fn bodies(
    senders: &[Keypair],
    genesis: &Hash32,
    n: usize,
    batch: usize,
    clients: usize,
) -> anyhow::Result<Bodies> {
    if batch == 0 || !senders.len().is_multiple_of(batch) {
        bail!("the batch size must divide the {} senders", senders.len());
    }
    let blocks = senders.len() / batch;
    if clients == 0 || clients > blocks {
        bail!("--clients must be 1 to {blocks} with batches of {batch}");
    }
    let bar = super::progress((n * batch) as u64, "signing and encoding");
    let encoded = par_map(n, &bar, |k| {
        let body = encode(&transfers(
            senders,
            genesis,
            (k * batch) as u64,
            batch,
            true,
        ));
        bar.inc(batch as u64 - 1);
        body
    });
    bar.finish_and_clear();
    let mut per_client = vec![VecDeque::new(); clients];
    for (k, body) in encoded.into_iter().enumerate() {
        per_client[(k % blocks) % clients].push_back(body);
    }
    Ok(Bodies { per_client, batch })
}

fn encode(txs: &[ting_core::SignedTx]) -> Vec<u8> {
    let mut s = String::with_capacity(16 + txs.len() * (12 + 2 * 160));
    s.push_str("{\"txs\":[");
    for (i, tx) in txs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"hex\":\"");
        s.push_str(&hex::encode(tx.bytes()));
        s.push_str("\"}");
    }
    s.push_str("]}");
    s.into_bytes()
}

/// Serves the API over `shared` and runs the peak and the paced phase through it.
/// The peak phase, the paced phase, and the pause between them while the indexer caught up.
pub fn phases(
    shared: &Arc<Shared>,
    work: Bodies,
    timing: &super::ledger::Timing,
) -> anyhow::Result<(Phase, Phase, Duration)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(super::cores())
        .thread_name("bench-tokio")
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = ting_node::http::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(ting_node::http::serve(
            listener,
            Arc::clone(shared),
            async {
                let _ = stop_rx.await;
            },
        ));
        let client = NodeClient::new(&format!("http://{addr}"))?;
        let run = Run {
            shared,
            client,
            batch: work.batch,
            busy: Arc::new(AtomicU64::new(0)),
        };
        let (peak, queues) = run
            .peak(work.per_client, timing.warmup, timing.peak)
            .await?;
        let settle = tokio::task::block_in_place(|| super::drive::settle(shared));
        let half_rate = peak.window.rate() * 0.5;
        let half = run
            .paced(queues, half_rate, timing.half_warmup, timing.half)
            .await?;
        let _ = stop_tx.send(());
        server.await??;
        Ok((peak, half, settle))
    })
}

struct Run<'a> {
    shared: &'a Arc<Shared>,
    client: NodeClient,
    batch: usize,
    busy: Arc<AtomicU64>,
}

/// What a client task hands back: its unsent bodies and its latency samples.
type ClientDone = anyhow::Result<(VecDeque<Vec<u8>>, Vec<u32>)>;

impl Run<'_> {
    /// Every client posts back to back; measured after `warmup` for `length`.
    async fn peak(
        &self,
        queues: Vec<VecDeque<Vec<u8>>>,
        warmup: Duration,
        length: Duration,
    ) -> anyhow::Result<(Phase, Vec<VecDeque<Vec<u8>>>)> {
        let stop = Arc::new(AtomicBool::new(false));
        let measuring = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = queues
            .into_iter()
            .map(|queue| {
                let (client, busy, batch) =
                    (self.client.clone(), Arc::clone(&self.busy), self.batch);
                let (stop, measuring) = (Arc::clone(&stop), Arc::clone(&measuring));
                tokio::spawn(async move {
                    let mut queue = queue;
                    let mut lat = Vec::new();
                    while !stop.load(Ordering::Acquire) {
                        let Some(body) = queue.pop_front() else { break };
                        let measured = measuring.load(Ordering::Acquire);
                        let started = Instant::now();
                        post_until_admitted(&client, body, &busy).await?;
                        if measured {
                            push_latency(&mut lat, started, batch);
                        }
                    }
                    Ok((queue, lat))
                })
            })
            .collect();
        let busy0 = self.busy.load(Ordering::Relaxed);
        tokio::time::sleep(warmup).await;
        let mut marks = Marks::new();
        marks.start(self.shared);
        measuring.store(true, Ordering::Release);
        tokio::time::sleep(length).await;
        let phase = marks.finish(self.shared, self.busy.load(Ordering::Relaxed) - busy0)?;
        stop.store(true, Ordering::Release);
        let (queues, lat) = join(tasks).await?;
        Ok((
            Phase {
                latency: Latency::of(lat),
                ..phase
            },
            queues,
        ))
    }

    /// One request every `batch / rate` seconds, handed to the clients in turn.
    async fn paced(
        &self,
        queues: Vec<VecDeque<Vec<u8>>>,
        rate: f64,
        warmup: Duration,
        length: Duration,
    ) -> anyhow::Result<Phase> {
        let interval = Duration::from_secs_f64(self.batch as f64 / rate);
        let started = tokio::time::Instant::now();
        let (warm_end, end) = (started + warmup, started + warmup + length);
        let mut senders = Vec::new();
        let mut tasks = Vec::new();
        for queue in queues {
            let (tx, rx) = mpsc::unbounded_channel::<(Instant, bool)>();
            senders.push(tx);
            tasks.push(tokio::spawn(paced_client(
                self.client.clone(),
                queue,
                rx,
                Arc::clone(&self.busy),
                self.batch,
            )));
        }
        let busy0 = self.busy.load(Ordering::Relaxed);
        let mut marks = Marks::new();
        for k in 0u32.. {
            let due = started + interval * k;
            if due >= end {
                break;
            }
            tokio::time::sleep_until(due).await;
            if !marks.started() && due >= warm_end {
                marks.start(self.shared);
            }
            let client = usize::try_from(k).expect("fits") % senders.len();
            // Timed from when the request was due, so a late client cannot hide queueing.
            let _ = senders[client].send((due.into_std(), marks.started()));
        }
        let phase = marks.finish(self.shared, self.busy.load(Ordering::Relaxed) - busy0)?;
        drop(senders);
        let (_, lat) = join(tasks).await?;
        Ok(Phase {
            latency: Latency::of(lat),
            ..phase
        })
    }
}

async fn paced_client(
    client: NodeClient,
    mut queue: VecDeque<Vec<u8>>,
    mut due: mpsc::UnboundedReceiver<(Instant, bool)>,
    busy: Arc<AtomicU64>,
    batch: usize,
) -> ClientDone {
    let mut lat = Vec::new();
    while let Some((at, measured)) = due.recv().await {
        let body = queue
            .pop_front()
            .ok_or_else(|| anyhow!("the HTTP workload ran out; this is a benchmark bug"))?;
        post_until_admitted(&client, body, &busy).await?;
        if measured {
            push_latency(&mut lat, at, batch);
        }
    }
    Ok((queue, lat))
}

async fn join(
    tasks: Vec<tokio::task::JoinHandle<ClientDone>>,
) -> anyhow::Result<(Vec<VecDeque<Vec<u8>>>, Vec<u32>)> {
    let mut queues = Vec::with_capacity(tasks.len());
    let mut lat = Vec::new();
    for task in tasks {
        let (queue, l) = task.await??;
        queues.push(queue);
        lat.extend(l);
    }
    Ok((queues, lat))
}

/// Every transaction of a batch waited as long as the request did.
fn push_latency(lat: &mut Vec<u32>, since: Instant, batch: usize) {
    let us = u32::try_from(since.elapsed().as_micros()).unwrap_or(u32::MAX);
    lat.extend(std::iter::repeat_n(us, batch));
}

/// Posts `body` until the node admits it (retrying `busy`), and checks every transfer committed.
async fn post_until_admitted(
    client: &NodeClient,
    body: Vec<u8>,
    busy: &AtomicU64,
) -> anyhow::Result<()> {
    loop {
        match client
            .post_bytes(BATCH_PATH, body.clone(), "application/json")
            .await
        {
            Ok(answer) => return check_committed(&answer),
            Err(HttpError::Api { code, .. }) if code == "busy" => {
                busy.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(BUSY_PAUSE).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn check_committed(answer: &serde_json::Value) -> anyhow::Result<()> {
    let results = answer["results"]
        .as_array()
        .ok_or_else(|| anyhow!("the batch answer has no `results`"))?;
    if let Some(bad) = results.iter().find(|r| r["status"] != "committed") {
        bail!("the node did not commit a benchmark transfer ({bad}); this is a benchmark bug");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::workload::keypair;

    #[test]
    fn a_body_holds_each_transfer_as_hex_in_order() {
        let senders: Vec<Keypair> = (0..4).map(|i| keypair(0x5e, i)).collect();
        let txs = transfers(&senders, &Hash32([1; 32]), 0, 3, true);
        let body: serde_json::Value = serde_json::from_slice(&encode(&txs)).expect("JSON");
        let decoded: Vec<ting_core::SignedTx> = body["txs"]
            .as_array()
            .expect("txs")
            .iter()
            .map(|t| {
                ting_core::SignedTx::decode(
                    &hex::decode(t["hex"].as_str().expect("hex")).expect("hex"),
                )
                .expect("tx")
            })
            .collect();
        assert_eq!(decoded, txs);
    }

    #[test]
    fn each_sender_block_goes_to_one_client() {
        let senders: Vec<Keypair> = (0..8).map(|i| keypair(0x5e, i)).collect();
        let bodies = bodies(&senders, &Hash32([1; 32]), 12, 2, 3).expect("bodies");
        let sizes: Vec<usize> = bodies.per_client.iter().map(VecDeque::len).collect();
        // 4 sender blocks of 2; blocks 0 and 3 go to client 0, 1 to client 1, 2 to client 2.
        assert_eq!(sizes, vec![6, 3, 3]);
        assert!(
            super::bodies(&senders, &Hash32([1; 32]), 1, 3, 1).is_err(),
            "3 does not divide 8"
        );
    }
}
