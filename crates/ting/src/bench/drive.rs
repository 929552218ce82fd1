//! Driving a node in-process: a peak phase that keeps the pipeline full, and a paced phase.
//!
//! One submitter (the calling thread) hands chunks of `VERIFY_BATCH_TXS_MAX`
//! transfers to `Shared::submit` in workload order; a collector thread waits
//! on every transaction's reply, in the same order, and records the time from
//! submission to the durable reply. `Shared::submit` consumes the chunk it is
//! given, so a chunk the node answered `busy` would be lost; instead the
//! submitter reads the node's own admission counters and backs off briefly
//! while the next chunk would not fit, which is exactly when the node would
//! answer `busy`. With one submitter the counters only fall between the check
//! and the call, so the node never has to refuse.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use ting_core::limits::{QUEUE_TXS_MAX, VERIFY_QUEUE_TXS_MAX};
use ting_core::SignedTx;
use ting_node::pipeline::Outcome;
use ting_node::Shared;
use tokio::sync::oneshot;

use super::stats::{Counters, Latency, MachineCpu, ThreadCpu, ThreadUse, Window};

/// How long the submitter sleeps when the pipeline is full: short beside the
/// half second of work a full pipeline holds, long enough not to spin.
pub const BACKOFF: Duration = Duration::from_millis(1);

/// What one phase measured.
#[derive(Debug, Clone)]
pub struct Phase {
    pub window: Window,
    pub latency: Latency,
    /// Cores used per thread group during the window.
    pub cpu: Vec<ThreadUse>,
    /// Times the submitter backed off because the pipeline was full.
    pub backoffs: u64,
    /// Resident memory at the end of the window.
    pub rss_mib: f64,
    /// Cores busy in this process, busy in other processes, and idle, during the window.
    pub machine: (f64, f64, f64),
}

/// The start and end of a measured window.
pub struct Marks {
    start: Option<(Counters, ThreadCpu, MachineCpu)>,
}

impl Marks {
    pub fn new() -> Marks {
        Marks { start: None }
    }

    pub fn started(&self) -> bool {
        self.start.is_some()
    }

    pub fn start(&mut self, shared: &Shared) {
        self.start = Some((
            Counters::read(shared),
            ThreadCpu::read(),
            MachineCpu::read(),
        ));
    }

    /// Closes the window (latencies are filled in later); fails if it never opened.
    pub fn finish(self, shared: &Shared, backoffs: u64) -> anyhow::Result<Phase> {
        let Some((c0, cpu0, m0)) = self.start else {
            bail!(
                "the prepared transfers ran out before the measured window began; the verification \
                 capacity that sizes them was probably measured while other work ran: run again"
            );
        };
        let (c1, cpu1, m1) = (
            Counters::read(shared),
            ThreadCpu::read(),
            MachineCpu::read(),
        );
        let window = Window::between(&c0, &c1);
        Ok(Phase {
            cpu: cpu0.cores_since(&cpu1, window.seconds),
            window,
            latency: Latency::default(),
            backoffs,
            rss_mib: super::rss_mib(),
            machine: m0.split_since(&m1),
        })
    }
}

/// Longest the benchmark waits for the indexer to catch up between phases.
const SETTLE_MAX: Duration = Duration::from_secs(120);

/// Waits until the query index has caught up with the durable blocks, so the paced
/// phase measures the steady state at half load rather than the peak's backlog;
/// returns how long that took.
pub fn settle(shared: &Shared) -> Duration {
    let started = Instant::now();
    while started.elapsed() < SETTLE_MAX {
        let durable = shared.durable.height();
        if shared.index.indexed_height().is_ok_and(|h| h >= durable) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

struct Sent {
    at: Instant,
    measured: bool,
    receivers: Vec<oneshot::Receiver<Outcome>>,
}

enum ToCollector {
    Sent(Sent),
    /// Answer once every earlier reply has arrived, with the latencies since the last flush.
    Flush(mpsc::Sender<Collected>),
}

/// The collector's findings since its last flush.
#[derive(Debug, Default)]
pub struct Collected {
    pub latencies_us: Vec<u32>,
    pub refused: u64,
    pub first_refusal: Option<String>,
}

/// The in-process driver.
pub struct Direct {
    shared: Arc<Shared>,
    chunks: std::vec::IntoIter<Vec<SignedTx>>,
    to_collector: mpsc::Sender<ToCollector>,
    collector: JoinHandle<()>,
    backoffs: u64,
}

impl Direct {
    pub fn new(shared: Arc<Shared>, chunks: Vec<Vec<SignedTx>>) -> Direct {
        let (to_collector, rx) = mpsc::channel();
        let collector = std::thread::Builder::new()
            .name("bench-collect".into())
            .spawn(move || collect(&rx))
            .expect("spawn the collector");
        Direct {
            shared,
            chunks: chunks.into_iter(),
            to_collector,
            collector,
            backoffs: 0,
        }
    }

    /// Whether `n` more transactions fit without the node answering `busy`.
    fn room_for(&self, n: usize) -> bool {
        use std::sync::atomic::Ordering::Acquire;
        let load = self.shared.ingress.load();
        let inside = load.verifying.load(Acquire) + load.sequencing.load(Acquire);
        inside + n <= QUEUE_TXS_MAX.min(VERIFY_QUEUE_TXS_MAX)
    }

    /// Submits the next chunk (backing off while it would not fit), timed from `at`.
    fn submit_next(&mut self, at: Option<Instant>, measured: bool) -> anyhow::Result<bool> {
        let Some(chunk) = self.chunks.next() else {
            return Ok(false);
        };
        while !self.room_for(chunk.len()) {
            self.backoffs += 1;
            std::thread::sleep(BACKOFF);
        }
        let at = at.unwrap_or_else(Instant::now);
        let receivers = self
            .shared
            .submit(chunk)
            .map_err(|e| anyhow!("the node refused a chunk the benchmark had room for: {e}"))?;
        let sent = Sent {
            at,
            measured,
            receivers,
        };
        self.to_collector
            .send(ToCollector::Sent(sent))
            .map_err(|_| anyhow!("the collector thread stopped"))?;
        Ok(true)
    }

    /// Keeps the pipeline full for `warmup`, then measures for `length`.
    pub fn peak(&mut self, warmup: Duration, length: Duration) -> anyhow::Result<Phase> {
        let started = Instant::now();
        let (warm_end, end) = (started + warmup, started + warmup + length);
        let mut marks = Marks::new();
        let backoffs = self.backoffs;
        loop {
            let now = Instant::now();
            if !marks.started() && now >= warm_end {
                marks.start(&self.shared);
            }
            if now >= end || !self.submit_next(None, marks.started())? {
                break;
            }
        }
        let phase = marks.finish(&self.shared, self.backoffs - backoffs)?;
        let collected = self.flush()?;
        Ok(Phase {
            latency: Latency::of(collected.latencies_us),
            ..phase
        })
    }

    /// Submits chunks of `chunk` transactions at `rate` per second; measures after `warmup`.
    pub fn paced(
        &mut self,
        rate: f64,
        chunk: usize,
        warmup: Duration,
        length: Duration,
    ) -> anyhow::Result<Phase> {
        let interval = Duration::from_secs_f64(chunk as f64 / rate);
        let started = Instant::now();
        let (warm_end, end) = (started + warmup, started + warmup + length);
        let mut marks = Marks::new();
        let backoffs = self.backoffs;
        for k in 0u32.. {
            let due = started + interval * k;
            if due >= end {
                break;
            }
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            if !marks.started() && due >= warm_end {
                marks.start(&self.shared);
            }
            // Timed from when it was due, so a late submitter cannot hide queueing.
            if !self.submit_next(Some(due), marks.started())? {
                break;
            }
        }
        let phase = marks.finish(&self.shared, self.backoffs - backoffs)?;
        let collected = self.flush()?;
        Ok(Phase {
            latency: Latency::of(collected.latencies_us),
            ..phase
        })
    }

    /// Waits until everything submitted so far is answered; fails on any refusal.
    fn flush(&self) -> anyhow::Result<Collected> {
        let (tx, rx) = mpsc::channel();
        self.to_collector
            .send(ToCollector::Flush(tx))
            .map_err(|_| anyhow!("the collector thread stopped"))?;
        let collected = rx
            .recv()
            .map_err(|_| anyhow!("the collector thread stopped"))?;
        if let Some(first) = &collected.first_refusal {
            bail!(
                "the node refused {} benchmark transfers (first: {first}); this is a benchmark bug",
                collected.refused
            );
        }
        Ok(collected)
    }

    /// Stops the collector; unsent chunks are dropped.
    pub fn finish(self) {
        drop(self.to_collector);
        let _ = self.collector.join();
    }
}

/// A reply, taken without parking when it has already arrived (most of a block's have).
fn wait(mut receiver: oneshot::Receiver<Outcome>) -> Result<Outcome, oneshot::error::RecvError> {
    match receiver.try_recv() {
        Ok(outcome) => Ok(outcome),
        // Empty: park until it comes; closed: `blocking_recv` reports the same error.
        Err(_) => receiver.blocking_recv(),
    }
}

fn collect(rx: &mpsc::Receiver<ToCollector>) {
    let mut found = Collected::default();
    for msg in rx {
        match msg {
            ToCollector::Sent(sent) => {
                for receiver in sent.receivers {
                    let outcome = wait(receiver);
                    let done = Instant::now();
                    match outcome {
                        Ok(Outcome::Committed(_)) if sent.measured => {
                            let us = (done - sent.at).as_micros();
                            found
                                .latencies_us
                                .push(u32::try_from(us).unwrap_or(u32::MAX));
                        }
                        Ok(Outcome::Committed(_)) => {}
                        Ok(Outcome::Refused(r)) => {
                            found.refused += 1;
                            found
                                .first_refusal
                                .get_or_insert(format!("{}: {}", r.code, r.message));
                        }
                        Err(_) => {
                            found.refused += 1;
                            found
                                .first_refusal
                                .get_or_insert("the node stopped before answering".into());
                        }
                    }
                }
            }
            ToCollector::Flush(reply) => {
                let _ = reply.send(std::mem::take(&mut found));
            }
        }
    }
}
