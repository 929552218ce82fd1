//! The witness's follower: one thread that asks the sequencer for the next
//! blocks (`GET /v1/raw/blocks`), checks each, records the attestations
//! (synced) and stops attesting at the first fault. After a restart it
//! replays the blocks it attested before and compares each with its record.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use ting_core::limits::BLOCK_BYTES_MAX;
use ting_core::witness::Attestation;
use ting_core::{Block, BlockHeader, Genesis, Keypair};

use super::check::{compare, Checker, Fault};
use super::WitnessShared;

/// How long the follower waits before asking again when it is at the tip.
pub const FOLLOW_POLL: Duration = Duration::from_millis(100);
/// Blocks asked for at once.
const FETCH_BLOCKS: u64 = 100;
/// Longest answer taken from the sequencer (its own bound is 8 MiB and one block).
const ANSWER_BYTES_MAX: usize = (8 << 20) + BLOCK_BYTES_MAX + 4;
/// How long one request may take.
const FETCH_WAIT: Duration = Duration::from_secs(30);
/// Longest pause after failures to reach the sequencer.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The follower thread.
#[derive(Debug)]
pub struct Follower {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Follower {
    pub fn spawn(shared: Arc<WitnessShared>, genesis: &Genesis, key: Keypair) -> Follower {
        let stop = Arc::new(AtomicBool::new(false));
        let checker = Checker::new(genesis, key);
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ting-witness".into())
            .spawn(move || follow(&shared, checker, &flag))
            .expect("spawn the witness thread");
        Follower { stop, thread }
    }

    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.thread.join();
    }
}

fn follow(shared: &WitnessShared, mut checker: Checker, stop: &AtomicBool) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for the follower");
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let mut retry = FOLLOW_POLL;
    while !stop.load(Ordering::Acquire) {
        if stopped_attesting(shared) {
            return;
        }
        let from = checker.height() + 1;
        let fetched = runtime.block_on(fetch(&client, &shared.follow, from));
        let blocks = match fetched {
            Ok((blocks, durable)) => {
                let mut f = shared.findings.lock().expect("findings lock");
                f.sequencer_height = durable;
                f.unreachable = None;
                retry = FOLLOW_POLL;
                blocks
            }
            Err(e) => {
                note_unreachable(shared, &e);
                pause(stop, retry);
                retry = (retry * 2).min(RETRY_MAX);
                continue;
            }
        };
        if blocks.is_empty() {
            pause(stop, FOLLOW_POLL);
            continue;
        }
        if let Err(stopped) = take(shared, &mut checker, &blocks) {
            tracing::error!(code = stopped.0, reason = %stopped.1, "the witness stops attesting");
            shared.findings.lock().expect("findings lock").fault = Some(stopped);
            return;
        }
    }
}

/// Checks `blocks` in order and records their attestations; a fault (code,
/// message) ends the witness's attesting. Blocks at heights already
/// attested (a replay after a restart) are compared with the record first.
fn take(
    shared: &WitnessShared,
    checker: &mut Checker,
    blocks: &[Block],
) -> Result<(), (String, String)> {
    let mut replayed = 0;
    let mut rewrite = None;
    for block in blocks {
        let Some(attested) = attested_at(shared, block.header.height.0)? else {
            break;
        };
        if attested.hash() != block.header.hash() {
            rewrite = Some(rewritten(shared, &attested, &block.header));
            break;
        }
        replayed += 1;
    }
    let upto = if rewrite.is_some() {
        replayed
    } else {
        blocks.len()
    };
    let (attestations, fault) = checker.check_batch(&blocks[..upto], threads());
    let fresh: Vec<(BlockHeader, Attestation)> = blocks[..upto]
        .iter()
        .zip(attestations)
        .skip(replayed)
        .map(|(b, a)| (b.header.clone(), a))
        .collect();
    if !fresh.is_empty() {
        let mut record = shared.record.lock().expect("record lock");
        record
            .append(&fresh)
            .map_err(|e| ("record_failed".to_owned(), e.to_string()))?;
        drop(record);
        if let Some(p) = &shared.publisher {
            p.attested(fresh.into_iter().map(|(_, a)| a).collect());
        }
    }
    match (fault, rewrite) {
        (Some(fault), _) => Err(faulted(shared, checker, &fault)),
        (None, Some(rewrite)) => Err(rewrite),
        (None, None) => Ok(()),
    }
}

/// The fault that ends attesting, as (code, message); its evidence, when a
/// block can be shown guilty of it, written and published first.
fn faulted(shared: &WitnessShared, checker: &mut Checker, fault: &Fault) -> (String, String) {
    let said = match checker.take_found() {
        None => String::new(),
        Some(Ok(evidence)) => match shared.check(&evidence) {
            Err(why) => format!("; no self-contained evidence of it: {why}"),
            Ok(proven) => match shared.add_proven(evidence, proven) {
                Ok(_) => "; evidence is at GET /v1/evidence".to_owned(),
                Err(e) => format!("; the evidence could not be written: {e}"),
            },
        },
        Some(Err(why)) => format!("; no self-contained evidence of it: {why}"),
    };
    (fault.code().to_owned(), format!("{fault}{said}"))
}

/// Threads that check signatures at once: one per core.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn attested_at(
    shared: &WitnessShared,
    height: u64,
) -> Result<Option<BlockHeader>, (String, String)> {
    let record = shared.record.lock().expect("record lock");
    record
        .get(height)
        .map(|r| r.map(|(h, _)| h))
        .map_err(|e| ("record_failed".to_owned(), e.to_string()))
}

/// The sequencer now serves another block at a height this witness
/// attested: evidence if one key signed both in one epoch; either way the
/// chain the witness vouched for was rewritten.
fn rewritten(
    shared: &WitnessShared,
    attested: &BlockHeader,
    served: &BlockHeader,
) -> (String, String) {
    let height = attested.height.0;
    match compare(attested, served) {
        Some(evidence) => {
            if let Err(e) = shared.add_evidence(evidence) {
                tracing::error!(error = %e, "could not write the evidence");
            }
            (
                "equivocation".to_owned(),
                format!("the sequencer now serves another block at height {height}, which this witness attested; evidence is at GET /v1/evidence"),
            )
        }
        None => (
            "history_rewritten".to_owned(),
            format!(
                "the sequencer now serves another block at height {height} (epoch {} where this \
                 witness attested epoch {}): the chain it vouched for was rewritten",
                served.epoch, attested.epoch
            ),
        ),
    }
}

/// Whether a fault or evidence (found here, handed in, or kept from an
/// earlier run) has ended this witness's attesting.
fn stopped_attesting(shared: &WitnessShared) -> bool {
    let f = shared.findings.lock().expect("findings lock");
    if f.fault.is_some() {
        return true;
    }
    if !f.evidence.is_empty() {
        tracing::error!(
            "evidence against the sequencer is in the data directory: this witness attests no more"
        );
        return true;
    }
    false
}

fn note_unreachable(shared: &WitnessShared, e: &str) {
    let mut f = shared.findings.lock().expect("findings lock");
    if f.unreachable.as_deref() != Some(e) {
        tracing::warn!(sequencer = %shared.follow, error = %e, "cannot reach the sequencer; trying again");
    }
    f.unreachable = Some(e.to_owned());
}

fn pause(stop: &AtomicBool, total: Duration) {
    let until = Instant::now() + total;
    while !stop.load(Ordering::Acquire) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

/// The blocks from `from` on, and the sequencer's durable height.
async fn fetch(
    client: &Client<HttpConnector, Empty<Bytes>>,
    base: &str,
    from: u64,
) -> Result<(Vec<Block>, u64), String> {
    let url = format!("{base}/v1/raw/blocks?from={from}&limit={FETCH_BLOCKS}");
    let uri: hyper::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let answer = tokio::time::timeout(FETCH_WAIT, async {
        let response = client.get(uri).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let durable = response
            .headers()
            .get("x-ting-durable-height")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let body = Limited::new(response.into_body(), ANSWER_BYTES_MAX)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok::<_, String>((status, durable, body))
    })
    .await
    .map_err(|_| format!("no answer from {base} within {FETCH_WAIT:?}"))??;
    let (status, durable, body) = answer;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        return Err(format!("{url} answered {status}: {text}"));
    }
    let durable = durable
        .ok_or_else(|| format!("{url} did not name its durable height; is it a Ting node?"))?;
    let blocks = split(&body).map_err(|e| format!("{url}: {e}"))?;
    Ok((blocks, durable))
}

/// The blocks of a raw range: `(u32 LE length, block)` repeated.
fn split(mut body: &[u8]) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    while !body.is_empty() {
        let Some((len, rest)) = body.split_first_chunk::<4>() else {
            return Err("a block's length is cut short".into());
        };
        let len = u32::from_le_bytes(*len) as usize;
        if len > BLOCK_BYTES_MAX || len > rest.len() {
            return Err(format!(
                "a block of {len} bytes is cut short or over the limit"
            ));
        }
        let (bytes, next) = rest.split_at(len);
        blocks.push(Block::decode(bytes).map_err(|e| format!("a block does not decode: {e}"))?);
        body = next;
    }
    Ok(blocks)
}
