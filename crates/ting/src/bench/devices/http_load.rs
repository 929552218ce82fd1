//! The same transfers over HTTP batches: what the node's CPU costs per
//! transaction when nothing of MQTT is involved, measured in the same run.
//!
//! The transfers are signed before the window (the clients' cost, not the
//! node's), from accounts of their own, in round-robin nonce order, and
//! posted by a few clients at once as `POST /v1/transactions/batch?wait=true`
//! from a loopback address of their own (`HTTP_SOURCE`): the node bounds
//! connections per source address, and the SDK devices' own HTTP
//! connections come from 127.0.0.1.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ting_core::{Hash32, Keypair, SignedTx};

use crate::bench::ledger_pg::procs::post_batch_on;
use crate::bench::workload::signed_chunks;

/// Transfers per batch.
pub const HTTP_BATCH: usize = 256;
/// Clients posting batches at once.
pub const HTTP_CLIENTS: usize = 8;
/// Where the batches come from.
const HTTP_SOURCE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 250));

/// What the HTTP window came to.
#[derive(Debug, Default)]
pub struct HttpWindow {
    pub committed: u64,
    pub seconds: f64,
    /// The prepared transfers ran out before the window ended: the rate is a floor.
    pub ran_dry: bool,
}

/// Signed batches for about `expected` transfers from `senders`.
pub fn prepare(senders: &[Keypair], genesis: &Hash32, expected: usize) -> Vec<Vec<SignedTx>> {
    let chunks = expected.div_ceil(HTTP_BATCH).max(HTTP_CLIENTS);
    signed_chunks(senders, genesis, chunks, HTTP_BATCH)
}

/// Posts `batches` in order from one client, one every `HTTP_BATCH / rate`
/// seconds, for `seconds`: the node's cost per transfer at the rate the
/// MQTT window reached, where its per-block costs are shared by as few
/// transfers as they were there.
pub fn paced(addr: SocketAddr, batches: &[Vec<SignedTx>], rate: f64, seconds: f64) -> HttpWindow {
    let started = Instant::now();
    let period = Duration::from_secs_f64(HTTP_BATCH as f64 / rate.max(1.0));
    let mut committed = 0u64;
    let mut ran_dry = true;
    let rt = match client_runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench devices: no runtime for the HTTP client: {e}");
            return HttpWindow::default();
        }
    };
    for (i, batch) in batches.iter().enumerate() {
        let due = started + period.mul_f64(i as f64);
        if due >= started + Duration::from_secs_f64(seconds) {
            ran_dry = false;
            break;
        }
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        match post_batch(&rt, addr, batch) {
            Ok(results) => {
                committed += results
                    .iter()
                    .filter(|r| r["status"] == "committed")
                    .count() as u64;
            }
            Err(e) => {
                eprintln!("bench devices: an HTTP batch failed: {e:#}");
                break;
            }
        }
    }
    HttpWindow {
        committed,
        seconds: started.elapsed().as_secs_f64().max(1e-9),
        ran_dry,
    }
}

/// Posts `batches` in order from `HTTP_CLIENTS` clients for `seconds`.
pub fn run(addr: SocketAddr, batches: Vec<Vec<SignedTx>>, seconds: f64) -> HttpWindow {
    let next = AtomicUsize::new(0);
    let committed = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let dry = AtomicBool::new(false);
    let started = Instant::now();
    let end = started + Duration::from_secs_f64(seconds);
    std::thread::scope(|scope| {
        for _ in 0..HTTP_CLIENTS {
            let (batches, next, committed, stop, dry) = (&batches, &next, &committed, &stop, &dry);
            scope.spawn(move || {
                let rt = match client_runtime() {
                    Ok(rt) => rt,
                    Err(e) => {
                        eprintln!("bench devices: no runtime for an HTTP client: {e}");
                        stop.store(true, Ordering::Relaxed);
                        return;
                    }
                };
                while Instant::now() < end && !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(i) else {
                        dry.store(true, Ordering::Relaxed);
                        return;
                    };
                    match post_batch(&rt, addr, batch) {
                        Ok(results) => {
                            let n = results
                                .iter()
                                .filter(|r| r["status"] == "committed")
                                .count();
                            if Instant::now() <= end {
                                committed.fetch_add(n as u64, Ordering::Relaxed);
                            }
                        }
                        Err(e) => {
                            eprintln!("bench devices: an HTTP batch failed: {e:#}");
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    HttpWindow {
        committed: committed.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64().min(seconds).max(1e-9),
        ran_dry: dry.load(Ordering::Relaxed),
    }
}

/// One `POST /v1/transactions/batch?wait=true` from `HTTP_SOURCE`, the
/// connection made on `rt` (a client's own runtime, made once); the results
/// of its 200 answer.
fn post_batch(
    rt: &tokio::runtime::Runtime,
    addr: SocketAddr,
    txs: &[SignedTx],
) -> anyhow::Result<Vec<serde_json::Value>> {
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(HTTP_SOURCE, 0))?;
        socket.connect(addr).await
    })?;
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    post_batch_on(stream, addr, txs)
}

/// The runtime a client connects with.
fn client_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
}
