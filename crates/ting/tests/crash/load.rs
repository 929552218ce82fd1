//! The load of the kill test: threads that submit signed transfers and faucet mints
//! until the node is killed, recording exactly what was acknowledged before.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use ting_core::{AccountId, Hash32, Keypair, SignedTx};

use super::common::{batch_body, poll, request, transfer, NodeProc, Rng};
use super::{Model, ACCOUNTS};

/// Threads submitting at once; each owns a disjoint set of senders, so nonces never race.
const LOAD_THREADS: usize = 2;
/// The kill comes this long at most after the round's first acknowledged batch.
const KILL_DELAY_MS_MAX: u64 = 300;
/// Senders in one batch, and transactions per sender in one batch, at most.
const BATCH_SENDERS_MAX: usize = 4;
const BATCH_TXS_PER_SENDER_MAX: u64 = 8;
/// One transfer moves at most this much; balances never run dry.
const TRANSFER_BASE_UNITS_MAX: u64 = 100;
/// One in this many load requests is a faucet mint instead of a batch.
const LOAD_GRANT_ONE_IN: u64 = 6;
const LOAD_GRANT_BASE_UNITS_MAX: u64 = 1_000;

/// A transaction the node acknowledged as committed before it was killed.
#[derive(Debug, Clone)]
pub struct Ack {
    pub hash: String,
    /// The sending account's index and nonce; `None` for a faucet mint.
    pub sent: Option<(usize, u64)>,
    pub height: u64,
    /// Given by transaction submissions (the faucet's answer names only the height).
    pub block_hash: Option<String>,
}

/// What the load threads learned during one round, read by the checks after the kill.
#[derive(Debug, Default)]
pub struct Progress {
    pub acks: Vec<Ack>,
    pub batches_acked: u64,
    pub grants_acked_base_units: u64,
    /// Mints sent without an answer: they may or may not have landed.
    pub grants_unknown_base_units: u64,
    /// Per account: one past the highest nonce ever signed (an upper bound for its nonce).
    pub signed_next: BTreeMap<usize, u64>,
    pub failure: Option<String>,
}

/// One load thread's share of a round.
struct Load {
    addr: SocketAddr,
    genesis: Hash32,
    keys: Vec<Keypair>,
    ids: Vec<AccountId>,
    senders: Vec<usize>,
    next_nonce: Vec<u64>,
    grants: bool,
    rng: Rng,
    stop: Arc<AtomicBool>,
    progress: Arc<Mutex<Progress>>,
}

impl Load {
    fn fail(&self, why: String) {
        self.progress
            .lock()
            .expect("progress")
            .failure
            .get_or_insert(why);
    }

    /// Submits until told to stop or the node goes away (any I/O error: it was killed).
    fn run(mut self) {
        while !self.stop.load(Ordering::Relaxed) {
            let going = if self.grants && self.rng.below(LOAD_GRANT_ONE_IN) == 0 {
                self.grant()
            } else {
                self.batch()
            };
            if !going {
                return;
            }
        }
    }

    fn grant(&mut self) -> bool {
        let to = self.rng.index(self.ids.len());
        let amount = 1 + self.rng.below(LOAD_GRANT_BASE_UNITS_MAX);
        self.progress
            .lock()
            .expect("progress")
            .grants_unknown_base_units += amount;
        let body = json!({ "to": self.ids[to].to_did(), "amount": amount });
        let Ok(reply) = request(self.addr, "POST", "/v1/faucet", Some(&body)) else {
            return false;
        };
        if reply.status != 200 || reply.body["status"] != "committed" {
            self.fail(format!(
                "the faucet refused a mint: {} {}",
                reply.status, reply.body
            ));
            return false;
        }
        let mut p = self.progress.lock().expect("progress");
        p.grants_unknown_base_units -= amount;
        p.grants_acked_base_units += amount;
        p.acks.push(Ack {
            hash: reply.body["tx_hash"].as_str().expect("tx_hash").to_owned(),
            sent: None,
            height: reply.body["height"].as_u64().expect("height"),
            block_hash: None,
        });
        true
    }

    /// Picks a few senders, signs a run of consecutive nonces for each, interleaves them.
    fn plan(&mut self) -> Vec<(usize, u64, SignedTx)> {
        let mut senders = self.senders.clone();
        let count = 1 + self.rng.index(BATCH_SENDERS_MAX.min(senders.len()));
        let mut runs = Vec::new();
        for _ in 0..count {
            let s = senders.swap_remove(self.rng.index(senders.len()));
            let txs = 1 + self.rng.below(BATCH_TXS_PER_SENDER_MAX);
            let first = self.next_nonce[s];
            runs.push((s, first..first + txs));
        }
        let mut planned = Vec::new();
        // Round-robin over the runs: each sender's nonces stay in order.
        while runs.iter().any(|(_, r)| !r.is_empty()) {
            for (s, nonces) in &mut runs {
                let Some(nonce) = nonces.next() else { continue };
                let mut to = self.rng.index(self.ids.len());
                if to == *s {
                    to = (to + 1) % self.ids.len();
                }
                let amount = 1 + self.rng.below(TRANSFER_BASE_UNITS_MAX);
                let tx = transfer(&self.genesis, &self.keys[*s], nonce, self.ids[to], amount);
                planned.push((*s, nonce, tx));
            }
        }
        planned
    }

    fn batch(&mut self) -> bool {
        let planned = self.plan();
        {
            let mut p = self.progress.lock().expect("progress");
            for (s, nonce, _) in &planned {
                let next = p.signed_next.entry(*s).or_insert(0);
                *next = (*next).max(nonce + 1);
            }
        }
        let txs: Vec<_> = planned.iter().map(|(_, _, t)| t.clone()).collect();
        let path = "/v1/transactions/batch?wait=true";
        let Ok(reply) = request(self.addr, "POST", path, Some(&batch_body(&txs))) else {
            return false;
        };
        let results = reply.body["results"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if reply.status != 200 || results.len() != planned.len() {
            self.fail(format!(
                "a batch was not answered in full: {} {}",
                reply.status, reply.body
            ));
            return false;
        }
        let mut acks = Vec::with_capacity(planned.len());
        for ((s, nonce, tx), r) in planned.iter().zip(&results) {
            if r["status"] != "committed" || r["tx_hash"] != tx.hash().to_hex().as_str() {
                self.fail(format!("transfer {s}/{nonce} was not committed: {r}"));
                return false;
            }
            self.next_nonce[*s] = nonce + 1;
            acks.push(Ack {
                hash: tx.hash().to_hex(),
                sent: Some((*s, *nonce)),
                height: r["height"].as_u64().expect("height"),
                block_hash: Some(r["block_hash"].as_str().expect("block_hash").to_owned()),
            });
        }
        let mut p = self.progress.lock().expect("progress");
        p.acks.extend(acks);
        p.batches_acked += 1;
        true
    }
}

/// Runs the load threads until the first batch is acknowledged, then for a random
/// moment more, and `kill -9`s the node. Returns what was acknowledged before the kill.
pub fn load_and_kill(node: &mut NodeProc, model: &Model, rng: &mut Rng) -> Progress {
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(Mutex::new(Progress::default()));
    let mut threads = Vec::new();
    for t in 0..LOAD_THREADS {
        let load = Load {
            addr: node.addr,
            genesis: model.genesis,
            keys: model.seeds.iter().map(|s| Keypair::from_seed(*s)).collect(),
            ids: model.ids.clone(),
            senders: (t..ACCOUNTS).step_by(LOAD_THREADS).collect(),
            next_nonce: model.nonces.clone(),
            grants: t == 0,
            rng: Rng::new(rng.next_u64()),
            stop: Arc::clone(&stop),
            progress: Arc::clone(&progress),
        };
        threads.push(std::thread::spawn(move || load.run()));
    }
    poll("the round's first acknowledged batch", || {
        let p = progress.lock().expect("progress");
        assert!(p.failure.is_none(), "load failed: {:?}", p.failure);
        (p.batches_acked > 0).then_some(())
    });
    // The random moment of the crash: not a wait for a condition.
    std::thread::sleep(Duration::from_millis(rng.below(KILL_DELAY_MS_MAX + 1)));
    node.kill9();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("a load thread panicked");
    }
    let progress = std::mem::take(&mut *progress.lock().expect("progress"));
    assert!(
        progress.failure.is_none(),
        "load failed: {:?}",
        progress.failure
    );
    progress
}
