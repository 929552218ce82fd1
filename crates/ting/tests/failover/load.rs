//! The load: one thread sending batches of signed transfers (one per
//! account) to any live node, leader or follower, and recording what was
//! acknowledged as committed.
//!
//! A batch without a definite answer for a transaction (the node died, no
//! leader yet, busy) is sent again with the same signed bytes, to any node,
//! until it is answered: resubmitting is safe, since the same bytes apply
//! at most once. A resubmission refused `bad_nonce` was committed earlier
//! without its answer arriving; the transaction is then looked up by hash.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use serde_json::Value;
use ting_core::{AccountId, Hash32, Keypair, SignedTx};

use super::common::{batch_body, poll, request, request_within, transfer, Rng};
use super::nodes::{Nodes, ACCOUNTS, START_BALANCE};
use super::LOOK;

/// How long the load waits for a batch's answer before sending it again
/// (a node paused with its request, a follower forwarding to a paused leader).
const ANSWER_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// A transaction a node acknowledged as committed.
#[derive(Debug, Clone)]
pub struct Ack {
    pub hash: String,
    pub height: u64,
    pub block_hash: String,
}

#[derive(Default)]
struct Shared {
    acks: Vec<Ack>,
    failure: Option<String>,
}

/// The running load.
pub struct Load {
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    thread: Option<JoinHandle<()>>,
    accounts: Vec<AccountId>,
}

struct Sender {
    genesis: Hash32,
    users: Vec<Keypair>,
    addrs: Arc<RwLock<Vec<(SocketAddr, bool)>>>,
    rng: Rng,
    nonces: Vec<u64>,
    /// Each account's transaction waiting for a definite answer.
    pending: Vec<Option<SignedTx>>,
}

impl Load {
    pub fn start(nodes: &Nodes, seed: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let mut sender = Sender {
            genesis: nodes.net.genesis,
            users: nodes
                .net
                .users
                .iter()
                .map(|k| Keypair::from_seed(k.seed()))
                .collect(),
            addrs: Arc::clone(&nodes.net.addrs),
            rng: Rng::new(seed),
            nonces: vec![0; ACCOUNTS],
            pending: vec![None; ACCOUNTS],
        };
        let accounts = sender.users.iter().map(Keypair::account).collect();
        let (flag, out) = (Arc::clone(&stop), Arc::clone(&shared));
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Acquire) {
                if let Err(failure) = sender.round(&out) {
                    out.lock().expect("load").failure = Some(failure);
                    return;
                }
            }
        });
        Load {
            stop,
            shared,
            thread: Some(thread),
            accounts,
        }
    }

    /// Waits until `n` more transactions are acknowledged than now.
    pub fn wait_for_acks(&self, n: usize) {
        let from = self.shared.lock().expect("load").acks.len();
        poll("the load's acknowledgements", || {
            let s = self.shared.lock().expect("load");
            assert!(s.failure.is_none(), "the load failed: {:?}", s.failure);
            (s.acks.len() >= from + n).then_some(())
        });
    }

    /// Fails the test if the load stopped on an answer it could not take.
    pub fn check(&self) {
        let s = self.shared.lock().expect("load");
        assert!(s.failure.is_none(), "the load failed: {:?}", s.failure);
    }

    /// Transactions acknowledged so far.
    pub fn acks_count(&self) -> usize {
        let s = self.shared.lock().expect("load");
        assert!(s.failure.is_none(), "the load failed: {:?}", s.failure);
        s.acks.len()
    }

    /// Stops the load and answers every acknowledgement.
    pub fn stop(&mut self) -> Vec<Ack> {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.join().expect("the load thread");
        }
        let s = self.shared.lock().expect("load");
        assert!(s.failure.is_none(), "the load failed: {:?}", s.failure);
        s.acks.clone()
    }

    pub fn accounts(&self) -> &[AccountId] {
        &self.accounts
    }

    /// The accounts' sum, which transfers among them keep.
    pub fn total(&self) -> u64 {
        START_BALANCE * ACCOUNTS as u64
    }
}

impl Sender {
    /// Sends one batch to a node and takes in what it answered.
    fn round(&mut self, out: &Mutex<Shared>) -> Result<(), String> {
        for s in 0..ACCOUNTS {
            if self.pending[s].is_none() {
                let to = self.users[(s + 1) % ACCOUNTS].account();
                let amount = 1 + self.rng.below(50);
                let tx = transfer(&self.genesis, &self.users[s], self.nonces[s], to, amount);
                self.pending[s] = Some(tx);
            }
        }
        let txs: Vec<SignedTx> = self.pending.iter().flatten().cloned().collect();
        let addr = {
            let addrs = self.addrs.read().expect("addrs");
            let open: Vec<SocketAddr> = addrs.iter().filter(|a| a.1).map(|a| a.0).collect();
            open[self.rng.index(open.len())]
        };
        let path = "/v1/transactions/batch?wait=true";
        let sent = request_within(addr, "POST", path, Some(&batch_body(&txs)), ANSWER_WAIT);
        let reply = match sent {
            Ok(r) if r.status == 200 => r.body,
            // A node gone, starting, or without a leader yet: send again.
            _ => {
                std::thread::sleep(LOOK);
                return Ok(());
            }
        };
        let results = reply["results"].as_array().cloned().unwrap_or_default();
        for (s, result) in (0..ACCOUNTS).zip(results) {
            self.take(s, &result, addr, out)?;
        }
        Ok(())
    }

    fn take(
        &mut self,
        s: usize,
        result: &Value,
        addr: SocketAddr,
        out: &Mutex<Shared>,
    ) -> Result<(), String> {
        let Some(tx) = &self.pending[s] else {
            return Ok(());
        };
        let hash = tx.hash().to_hex();
        let ack = match (result["status"].as_str(), result["code"].as_str()) {
            (Some("committed"), _) => Some(Ack {
                hash: hash.clone(),
                height: result["height"]
                    .as_u64()
                    .ok_or("a commit without a height")?,
                block_hash: result["block_hash"]
                    .as_str()
                    .ok_or("a commit without a block hash")?
                    .to_owned(),
            }),
            // Committed before, its answer lost: find it.
            (Some("refused"), Some("bad_nonce")) => Some(self.look_up(&hash, addr)?),
            (Some("refused"), Some("busy" | "no_leader" | "already_pending" | "shutting_down")) => {
                None
            }
            (Some("refused"), code) => {
                return Err(format!("transaction {hash} was refused: {code:?} {result}"))
            }
            _ => None,
        };
        if let Some(ack) = ack {
            out.lock().expect("load").acks.push(ack);
            self.nonces[s] += 1;
            self.pending[s] = None;
        }
        Ok(())
    }

    /// A transaction the network holds, by hash, from the node that said so
    /// (it may still be applying the block).
    fn look_up(&self, hash: &str, addr: SocketAddr) -> Result<Ack, String> {
        eprintln!("failover test: {hash} was refused bad_nonce by {addr}; looking it up there");
        let found = poll("a committed transaction to be found", || {
            let r = request(addr, "GET", &format!("/v1/transactions/{hash}"), None).ok()?;
            (r.status == 200).then_some(r.body)
        });
        let header = &found["receipt"]["header"];
        Ok(Ack {
            hash: hash.to_owned(),
            height: header["height"].as_u64().ok_or("no height")?,
            block_hash: found["receipt"]["block_hash"]
                .as_str()
                .or_else(|| header["hash"].as_str())
                .ok_or("no block hash")?
                .to_owned(),
        })
    }
}
