//! Submissions on a follower go to the leader.
//!
//! What passed this node's door and its signature check here is posted to the leader's
//! `POST /v1/transactions/batch?wait=true`, grouped into batches (`super::batcher`). A refusal is passed on as the
//! leader gave it (a refusal changes nothing, and the client may retry). A
//! commit is not taken on the leader's word: the answer waits until this
//! node has applied the block from the database (checked against the
//! genesis sequencers) and builds the proof from its own copy, so a reply
//! from a follower is as good as one from the leader, and what the client
//! reads next from this node already holds its transaction. An answer that
//! cannot be had (no leader, the leader gone mid-request) leaves the outcome
//! unknown: the client looks the transaction up by hash or resubmits it.
//!
//! A refusal the leader decided is charged here, to the client's source, as
//! this node's door charges its own; the leader charges it to no source,
//! since each batch proves it comes from a node (`super::peer`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde_json::{json, Value};
use ting_core::merkle::MerkleTree;
use ting_core::{BlockHeight, Hash32, Keypair, SignedTx};
use ting_store::LogReader;
use tokio::sync::oneshot;

use super::batcher::{Batcher, Parcel};
use super::{peer, LeaderInfo, Role, Roles};
use crate::admission::{Admission, Source};
use crate::pipeline::deliver_refusals;
use crate::pipeline::{Committed, Durable, Outcome, Refusal, Reply, SubmitError};
use crate::refusals::Refusals;

/// How long a forwarded submission waits for the leader and then for its block here.
const FORWARD_WAIT: Duration = Duration::from_secs(35);
/// The largest answer read from the leader: a full batch's results.
const ANSWER_BYTES_MAX: usize = 8 << 20;
/// The most distinct refusal codes kept (codes come from the leader; this bounds them).
const CODES_MAX: usize = 256;
/// The longest refusal code passed on.
const CODE_BYTES_MAX: usize = 48;

/// Forwards submissions to the leader; cheap to clone.
#[derive(Clone)]
pub(crate) struct Forwarder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder").finish_non_exhaustive()
    }
}

struct Inner {
    client: Client<HttpConnector, Full<Bytes>>,
    /// Signs each forwarded batch: this node's sequencer key.
    key: Keypair,
    genesis_hash: Hash32,
    roles: Arc<Roles>,
    durable: Arc<Durable>,
    log: LogReader,
    admission: Arc<Admission>,
    /// This node's memory of refusals, for lookups by hash here.
    refusals: Arc<Refusals>,
    batcher: Batcher,
    /// Forwards that got no answer from the leader.
    failed: AtomicU64,
    started: std::time::Instant,
    /// The second (since `started`) of the last warning.
    warned_at: AtomicU64,
}

/// The leader's answer for one transaction.
#[derive(Debug)]
enum Answer {
    Committed {
        height: BlockHeight,
        index: u32,
        /// The leader answered a copy of a transaction that had landed.
        resent: bool,
    },
    Refused {
        code: &'static str,
        message: String,
    },
    Unknown,
}

impl Forwarder {
    pub(crate) fn new(
        (key, genesis_hash): (Keypair, Hash32),
        roles: Arc<Roles>,
        durable: Arc<Durable>,
        log: LogReader,
        admission: Arc<Admission>,
        refusals: Arc<Refusals>,
    ) -> Forwarder {
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build_http();
        Forwarder {
            inner: Arc::new(Inner {
                client,
                key,
                genesis_hash,
                roles,
                durable,
                log,
                admission,
                refusals,
                batcher: Batcher::default(),
                failed: AtomicU64::new(0),
                started: std::time::Instant::now(),
                warned_at: AtomicU64::new(u64::MAX),
            }),
        }
    }

    /// Forwards that got no answer from the leader, since start.
    pub(crate) fn failed(&self) -> u64 {
        self.inner.failed.load(Ordering::Relaxed)
    }

    /// Sends `txs`, admitted at this node's door, to the leader; each reply
    /// is answered when this node holds the outcome.
    ///
    /// # Errors
    /// No node leads now, the caller runs outside an async runtime, or too
    /// many transactions wait to be forwarded (`busy`).
    pub(crate) fn forward(
        &self,
        source: Source,
        txs: Vec<SignedTx>,
        replies: Vec<Reply>,
    ) -> Result<(), SubmitError> {
        if !matches!(self.inner.roles.get(), Role::Following { leader: Some(_) }) {
            return Err(SubmitError::NoLeader);
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SubmitError::NoLeader)?;
        let n = txs.len();
        self.inner.batcher.reserve(n)?;
        let inner = Arc::clone(&self.inner);
        runtime.spawn(async move {
            let parcels = inner.verified(source, txs, replies).await;
            inner.batcher.release(n - parcels.len());
            if inner.batcher.push(parcels) {
                tokio::spawn(inner.dispatch());
            }
        });
        Ok(())
    }
}

impl Inner {
    /// Checks the signatures here, before the leader sees them: a bad one is
    /// refused to its sender and charged to its source at this node's door.
    /// Forwarded, it would cost the leader a verification and be charged to
    /// this node's address there, whose budget every client of this node shares.
    async fn verified(
        &self,
        source: Source,
        txs: Vec<SignedTx>,
        replies: Vec<Reply>,
    ) -> Vec<Parcel> {
        let hashes: Vec<Hash32> = txs.iter().map(SignedTx::hash).collect();
        let checked =
            tokio::task::spawn_blocking(move || SignedTx::verify_batch(txs, &mut rand::rng()))
                .await;
        let Ok(checked) = checked else {
            // The check did not finish (the runtime is stopping): nothing is answered.
            hashes.iter().for_each(|h| self.admission.leave(h));
            return Vec::new();
        };
        let now = std::time::Instant::now();
        let mut good = Vec::new();
        for (result, reply) in checked.into_iter().zip(replies) {
            match result {
                Ok(tx) => good.push(Parcel {
                    source,
                    tx: tx.into_inner(),
                    reply,
                }),
                Err((hash, e)) => {
                    let refusal = Refusal::new(hash, e.code(), e.to_string());
                    self.admission.charge(source, None, now);
                    self.admission.refused(&refusal);
                    deliver_refusals(vec![(refusal, reply)], &self.refusals);
                }
            }
        }
        good
    }

    /// Takes batches out of the queue and forwards each, until it is empty.
    async fn dispatch(self: Arc<Self>) {
        while let Some((batch, permit)) = self.batcher.next().await {
            let inner = Arc::clone(&self);
            tokio::spawn(async move {
                inner.run(batch).await;
                drop(permit);
            });
        }
    }

    /// Forwards one batch to the node that leads now.
    async fn run(self: Arc<Self>, batch: Vec<Parcel>) {
        let Role::Following {
            leader: Some(leader),
        } = self.roles.get()
        else {
            // No leader any more (or this node leads now): "not now", so clients resend.
            for p in batch {
                self.admission.leave(&p.tx.hash());
                if let Some(reply) = p.reply {
                    let e = SubmitError::NoLeader;
                    let _ = reply.send(Outcome::Refused(Refusal::new(
                        p.tx.hash(),
                        e.code(),
                        e.to_string(),
                    )));
                }
            }
            return;
        };
        let (mut txs, mut sources, mut replies) = (Vec::new(), Vec::new(), Vec::new());
        for p in batch {
            txs.push(p.tx);
            sources.push(p.source);
            replies.push(p.reply);
        }
        self.post_and_settle(&leader, txs, sources, replies).await;
    }

    async fn post_and_settle(
        &self,
        leader: &LeaderInfo,
        txs: Vec<SignedTx>,
        sources: Vec<Source>,
        replies: Vec<Reply>,
    ) {
        let address = leader.address.as_str();
        let hashes: Vec<Hash32> = txs.iter().map(SignedTx::hash).collect();
        // A leader that stops answering is replaced: waiting on it past its
        // epoch would keep these transactions pending at this node's door,
        // refusing their resubmission (`already_pending`) to the next leader.
        let answers = tokio::select! {
            answers = tokio::time::timeout(FORWARD_WAIT, self.post(address, &txs)) => answers,
            () = self.roles.wait_for(|r| !is_led_by(r, leader.epoch)) => {
                self.warn(|| tracing::warn!(leader = address, "the leader changed before it answered a forwarded batch"));
                for hash in &hashes {
                    self.admission.leave(hash);
                }
                return;
            }
        };
        match answers {
            Ok(Ok(answers)) if answers.len() == hashes.len() => {
                let items = hashes.iter().copied().zip(answers).zip(replies);
                self.settle(sources.into_iter().zip(items).collect()).await;
            }
            Ok(Ok(answers)) => tracing::warn!(
                sent = hashes.len(),
                answered = answers.len(),
                "the leader answered a forwarded batch with the wrong number of results"
            ),
            Ok(Err(e)) => self.warn(|| tracing::warn!(error = %e, leader = address, "could not forward to the leader; the outcome is unknown to the client, who resubmits")),
            Err(_) => self.warn(|| tracing::warn!(leader = address, "the leader did not answer a forwarded batch in time")),
        }
        for hash in &hashes {
            self.admission.leave(hash);
        }
    }

    /// Logs a failed forward at most once a second (a dead leader fails
    /// every forward until a new one leads); counts every one.
    fn warn(&self, log: impl FnOnce()) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        let now = self.started.elapsed().as_secs();
        if self.warned_at.swap(now, Ordering::Relaxed) != now {
            log();
        }
    }

    async fn post(&self, address: &str, txs: &[SignedTx]) -> Result<Vec<Answer>, String> {
        let body = json!({
            "txs": txs.iter().map(|t| json!({ "hex": hex::encode(t.bytes()) })).collect::<Vec<_>>()
        })
        .to_string();
        let uri = format!(
            "{}/v1/transactions/batch?wait=true",
            address.trim_end_matches('/')
        );
        let [node, at, signature] = peer::sign(
            &self.key,
            &self.genesis_hash,
            crate::clock::now(),
            body.as_bytes(),
        );
        let request = hyper::Request::post(uri)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(peer::NODE_HEADER, node)
            .header(peer::TIME_HEADER, at)
            .header(peer::SIGNATURE_HEADER, signature)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), ANSWER_BYTES_MAX)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if let Some(error) = v.get("error") {
            // The whole batch was turned away (busy, shutting down): each is refused for now.
            let answer = || refused(error);
            tracing::debug!(%status, "the leader turned a forwarded batch away");
            return Ok(txs.iter().map(|_| answer()).collect());
        }
        let results = v
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("the leader answered {status} without results"))?;
        Ok(results.iter().map(answer_of).collect())
    }

    /// Answers the replies: refusals at once, commits once this node holds
    /// their blocks, each block read and its tree built once for all its
    /// transactions (a forwarded batch mostly lands in one or two blocks).
    async fn settle(&self, items: Vec<Settled>) {
        let mut commits: BTreeMap<BlockHeight, Vec<Waiting>> = BTreeMap::new();
        let now = std::time::Instant::now();
        for (source, ((hash, answer), reply)) in items {
            match answer {
                Answer::Refused { code, message } => {
                    let refusal = Refusal::new(hash, code, message);
                    if refusal.is_transient() {
                        // About the moment, not the transaction: neither charged
                        // nor remembered as its refusal (a receipt query reports those).
                        if let Some(reply) = reply {
                            let _ = reply.send(Outcome::Refused(refusal));
                        }
                    } else {
                        self.admission.charge(source, None, now);
                        deliver_refusals(vec![(refusal, reply)], &self.refusals);
                    }
                }
                Answer::Committed {
                    height,
                    index,
                    resent,
                } => {
                    if let Some(reply) = reply {
                        let waiting = (hash, (index, resent), reply);
                        commits.entry(height).or_default().push(waiting);
                    }
                }
                Answer::Unknown => {}
            }
        }
        let deadline = tokio::time::Instant::now() + FORWARD_WAIT;
        for (height, waiting) in commits {
            if tokio::time::timeout_at(deadline, self.durable.reached(height))
                .await
                .is_err()
            {
                return;
            }
            let log = self.log.clone();
            let _ =
                tokio::task::spawn_blocking(move || answer_from_block(&log, height, waiting)).await;
        }
    }
}

/// One forwarded transaction's source, hash, the leader's answer and its reply slot.
type Settled = (Source, ((Hash32, Answer), Reply));

/// A reply waiting for its commit: the transaction, its index in the block,
/// and whether it was a copy of one that had landed.
type Waiting = (Hash32, (u32, bool), oneshot::Sender<Outcome>);

/// Whether `role` is following the leader of `epoch`.
fn is_led_by(role: &Role, epoch: u64) -> bool {
    matches!(role, Role::Following { leader: Some(l) } if l.epoch == epoch)
}

/// Answers each of `waiting` from this node's block `height`: its commit,
/// with a proof from this node's copy, when the block holds it where the
/// leader said; no answer (unknown) otherwise.
fn answer_from_block(log: &LogReader, height: BlockHeight, waiting: Vec<Waiting>) {
    let Ok(Some(block)) = log.block(height) else {
        tracing::warn!(
            height = height.0,
            "this node cannot read the block the leader named"
        );
        return;
    };
    let hashes = block.tx_hashes();
    let tree = MerkleTree::new(&hashes);
    let header = Arc::new(block.header.clone());
    let block_hash = block.header.hash();
    for (hash, (index, resent), reply) in waiting {
        let at = usize::try_from(index).unwrap_or(usize::MAX);
        let proof = (hashes.get(at) == Some(&hash))
            .then(|| tree.proof(at))
            .flatten();
        let Some(proof) = proof else {
            tracing::warn!(%hash, height = height.0, "the leader's commit is not in this node's block");
            continue;
        };
        let _ = reply.send(Outcome::Committed(Committed {
            tx_hash: hash,
            height,
            index,
            block_hash,
            header: Arc::clone(&header),
            proof,
            resent,
        }));
    }
}

fn answer_of(v: &Value) -> Answer {
    match v.get("status").and_then(Value::as_str) {
        Some("committed") => {
            let height = v.get("height").and_then(Value::as_u64);
            let index = v
                .get("index")
                .and_then(Value::as_u64)
                .and_then(|i| u32::try_from(i).ok());
            match (height, index) {
                (Some(h), Some(index)) => Answer::Committed {
                    height: BlockHeight(h),
                    index,
                    resent: v.get("resent").and_then(Value::as_bool) == Some(true),
                },
                _ => Answer::Unknown,
            }
        }
        Some("refused") => refused(v),
        _ => Answer::Unknown,
    }
}

fn refused(v: &Value) -> Answer {
    let code = v.get("code").and_then(Value::as_str).unwrap_or("refused");
    let message = v
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("refused by the leader");
    Answer::Refused {
        code: static_code(code),
        message: message.chars().take(512).collect(),
    }
}

/// A refusal code as the `'static` string refusals carry: each distinct
/// well-formed code is kept once, up to [`CODES_MAX`] of them.
fn static_code(code: &str) -> &'static str {
    static KNOWN: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let well_formed = !code.is_empty()
        && code.len() <= CODE_BYTES_MAX
        && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if !well_formed {
        return "refused";
    }
    let mut known = KNOWN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(found) = known.iter().find(|k| **k == code) {
        return found;
    }
    if known.len() >= CODES_MAX {
        return "refused";
    }
    let kept: &'static str = Box::leak(code.to_owned().into_boxed_str());
    known.push(kept);
    kept
}
