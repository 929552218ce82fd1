//! The watchers: `--watchers` SSE streams, `GET /v1/events?account=ID&skip_empty=true`,
//! each on a connection of its own and watching its own account, read on the
//! current runtime, each counting the events it carried.
//!
//! Which receipts a watcher must get is known exactly: a window's transfers
//! are a run `[a, a + c)` of the round-robin order, and sender `k` of `S`
//! sends transfer `i` when `i % S == k` and receives it when
//! `(i + 1) % S == k` ([`expected_receipts`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::StatusCode;
use ting_core::AccountId;
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::super::drive::Phase;
use super::super::spinner;
use super::client::{Conn, EventCounts, EventParser};

/// Streams opened at once.
const CONNECT_CONCURRENCY: usize = 64;
/// Longest wait after the window for the watchers' last receipts.
const DRAIN_MAX: Duration = Duration::from_secs(30);
/// How long no new receipt may come before the wait ends anyway.
const DRAIN_STALL: Duration = Duration::from_secs(3);
/// File descriptors the process needs beside two per watcher (client and server ends).
const FILES_BESIDE: u64 = 512;

/// What the streams of one window carried.
#[derive(Debug, Clone)]
pub struct Watched {
    /// Opening every stream, until each was answered.
    pub connect_s: f64,
    /// After the window, until the last expected receipt arrived.
    pub drain_s: f64,
    /// What each stream carried, and the receipts it had to get.
    pub counts: Vec<EventCounts>,
    pub expected: Vec<u64>,
}

/// Opens a stream for each of `accounts` (`(Some(k), id)`: sender `k` of
/// `senders`; `(None, id)`: an account the window never touches) on `rt`, runs `window`, which answers what it measured and
/// the run `[from, to)` of the round-robin order it committed, waits for
/// the receipts that run owes each watcher, and closes the streams.
pub fn around(
    (rt, addr): (&Runtime, SocketAddr),
    accounts: &[(Option<usize>, AccountId)],
    senders: usize,
    window: impl FnOnce() -> anyhow::Result<(Phase, (u64, u64))>,
) -> anyhow::Result<(Phase, Watched)> {
    let bar = spinner(&format!("opening {} event streams", accounts.len()));
    let opened = Instant::now();
    let streams = rt.block_on(open_all(addr, accounts))?;
    let connect_s = opened.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let (phase, run) = match window() {
        Ok(done) => done,
        Err(e) => {
            let _ = rt.block_on(streams.close());
            return Err(e);
        }
    };
    let expected: Vec<u64> = accounts
        .iter()
        .map(|(k, _)| k.map_or(0, |k| expected_receipts(run, senders as u64, k as u64)))
        .collect();
    let bar = spinner("waiting for the watchers' last receipts");
    let drained = Instant::now();
    streams.drain(&expected);
    let drain_s = drained.elapsed().as_secs_f64();
    let counts = rt.block_on(streams.close())?;
    bar.finish_and_clear();
    let watched = Watched {
        connect_s,
        drain_s,
        counts,
        expected,
    };
    Ok((phase, watched))
}

/// The receipts for sender `k` of `senders` among round-robin transfers
/// `[from, to)`: those it sent and those it received.
pub fn expected_receipts((from, to): (u64, u64), senders: u64, k: u64) -> u64 {
    before(to, senders, k) - before(from, senders, k)
}

/// The receipts for sender `k` among the first `c` transfers.
fn before(c: u64, senders: u64, k: u64) -> u64 {
    let count = |r: u64| c / senders + u64::from(r < c % senders);
    count(k) + count((k + senders - 1) % senders)
}

/// The open streams.
struct Streams {
    /// Receipts so far, per watcher.
    receipts: Vec<Arc<AtomicU64>>,
    tasks: JoinSet<(usize, anyhow::Result<EventCounts>)>,
    stop: watch::Sender<bool>,
}

impl Streams {
    /// Waits until every watcher has its expected receipts, or no receipt
    /// has come for `DRAIN_STALL` (a stream that lagged lost some), or `DRAIN_MAX`.
    fn drain(&self, expected: &[u64]) {
        let started = Instant::now();
        let (mut seen, mut moved) = (0, started);
        while started.elapsed() < DRAIN_MAX && moved.elapsed() < DRAIN_STALL {
            let mut short = false;
            let mut total = 0;
            for (got, want) in self.receipts.iter().zip(expected) {
                let got = got.load(Ordering::Relaxed);
                short |= got < *want;
                total += got;
            }
            if !short {
                return;
            }
            if total > seen {
                (seen, moved) = (total, Instant::now());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Closes every stream; what each carried, in watcher order.
    async fn close(mut self) -> anyhow::Result<Vec<EventCounts>> {
        self.stop.send_replace(true);
        let mut counts = vec![EventCounts::default(); self.receipts.len()];
        while let Some(joined) = self.tasks.join_next().await {
            let (j, result) = joined.context("a watcher's task panicked")?;
            counts[j] = result.with_context(|| format!("watcher {j}"))?;
        }
        Ok(counts)
    }
}

fn events_path(account: &AccountId) -> String {
    format!("/v1/events?account={}&skip_empty=true", account.to_did())
}

/// Opens a stream per account, `CONNECT_CONCURRENCY` at a time, each read
/// on the current runtime.
async fn open_all(
    addr: SocketAddr,
    accounts: &[(Option<usize>, AccountId)],
) -> anyhow::Result<Streams> {
    let (stop, stopped) = watch::channel(false);
    let mut streams = Streams {
        receipts: (0..accounts.len()).map(|_| Arc::default()).collect(),
        tasks: JoinSet::new(),
        stop,
    };
    let spawn = |streams: &mut Streams, j: usize, opened: (Conn, Incoming)| {
        let (receipts, stop) = (Arc::clone(&streams.receipts[j]), stopped.clone());
        streams
            .tasks
            .spawn(async move { (j, read(opened, receipts, stop).await) });
    };
    for batch in (0..accounts.len())
        .collect::<Vec<_>>()
        .chunks(CONNECT_CONCURRENCY)
    {
        let mut opening = JoinSet::new();
        for &j in batch {
            let path = events_path(&accounts[j].1);
            opening.spawn(async move { (j, open(addr, &path).await) });
        }
        while let Some(joined) = opening.join_next().await {
            let (j, result) = joined.context("opening a stream panicked")?;
            match result? {
                Ok(opened) => spawn(&mut streams, j, opened),
                Err((status, text)) => {
                    bail!("watcher {j}: GET /v1/events answered {status}: {text}")
                }
            }
        }
    }
    Ok(streams)
}

/// A stream opened: its connection and the body to read; or the refusal.
type Opened = Result<(Conn, Incoming), (StatusCode, String)>;

async fn open(addr: SocketAddr, path: &str) -> anyhow::Result<Opened> {
    let mut conn = Conn::open(addr).await?;
    let response = conn.start(path, "text/event-stream").await?;
    let status = response.status();
    if status == StatusCode::OK {
        return Ok(Ok((conn, response.into_body())));
    }
    let body = response.into_body().collect().await.map(|b| b.to_bytes());
    let text = body.map_or_else(
        |e| e.to_string(),
        |b| String::from_utf8_lossy(&b).chars().take(300).collect(),
    );
    Ok(Err((status, text)))
}

/// Reads one stream until told to stop, counting its events.
async fn read(
    (_conn, mut body): (Conn, Incoming),
    receipts: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<EventCounts> {
    let mut counts = EventCounts::default();
    let mut parser = EventParser::default();
    loop {
        tokio::select! {
            frame = body.frame() => match frame {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        parser.feed(data, &mut counts);
                        receipts.store(counts.receipts, Ordering::Relaxed);
                    }
                }
                Some(Err(e)) => bail!("the event stream failed: {e}"),
                None => bail!("the node ended the event stream"),
            },
            _ = stop.wait_for(|s| *s) => return Ok(counts),
        }
    }
}

/// Fails early, with what to do, when the process may not open a file per
/// connection end (two per watcher: the client's and the node's).
pub fn check_file_limit(watchers: usize) -> anyhow::Result<()> {
    let needed = 2 * watchers as u64 + FILES_BESIDE;
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<u64>().ok());
    match soft {
        Some(soft) if soft < needed => bail!(
            "{watchers} watchers need about {needed} open files and this process may open {soft}; \
             raise the limit first (ulimit -n {needed})"
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_receipts_count_what_each_sender_sent_and_received() {
        let cases = [
            (2u64, 0u64, 0u64),
            (2, 0, 5),
            (5, 3, 23),
            (64, 100, 1000),
            (300, 7, 1000),
        ];
        for (senders, from, to) in cases {
            for k in 0..senders {
                let by_hand = (from..to)
                    .filter(|i| i % senders == k || (i + 1) % senders == k)
                    .count() as u64;
                let counted = expected_receipts((from, to), senders, k);
                assert_eq!(counted, by_hand, "{senders} [{from}, {to}) {k}");
            }
        }
    }
}
