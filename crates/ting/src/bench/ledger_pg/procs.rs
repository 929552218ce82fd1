//! Three `ting node` processes on one database, a light load of transfers
//! sent to any of them, and leader kills timed to the new leader's first block.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde_json::{json, Value};
use ting_agent::files::{write_genesis, write_key};
use ting_core::{Amount, Genesis, Hash32, Keypair, LedgerClock, NetworkId, SignedTx, Timestamp};

use crate::bench::workload::{self, keypair};
use crate::bench::TempDir;

/// Node processes sharing the database.
pub const NODES: usize = 3;
/// Accounts the load sends from, one transfer each per batch.
const SENDERS: usize = 64;
/// Accounts that submit one transaction per request (`super::forwards`): as
/// many as one address may have requests in flight at a node (the bench's
/// clients all come from 127.0.0.1).
const FORWARDERS: usize = 64;
/// How long any wait on the nodes may take.
const DEADLINE: Duration = Duration::from_secs(60);
/// How often the kill phase looks at the nodes.
const LOOK: Duration = Duration::from_millis(5);
/// How long one request waits for its answer (a dead node's never comes).
const ANSWER_WAIT: Duration = Duration::from_secs(5);
/// The largest answer read.
const ANSWER_BYTES_MAX: u64 = 4 << 20;

/// The node processes and what they serve.
pub struct Nodes {
    dir: TempDir,
    url: String,
    children: Vec<Option<Child>>,
    pub addrs: Arc<RwLock<Vec<SocketAddr>>>,
    pub genesis: Hash32,
    pub users: Vec<Keypair>,
    pub forwarders: Vec<Keypair>,
}

impl Nodes {
    /// Writes a genesis naming three sequencers and starts a node for each.
    pub fn start(url: &str) -> anyhow::Result<Nodes> {
        let dir = TempDir::new("ledger-pg-nodes")?;
        let keys: Vec<Keypair> = (0..NODES).map(|i| keypair(0x5e, i as u64)).collect();
        let users: Vec<Keypair> = (0..SENDERS).map(|i| keypair(0x5f, i as u64)).collect();
        let forwarders: Vec<Keypair> = (0..FORWARDERS).map(|i| keypair(0x60, i as u64)).collect();
        let genesis = Genesis {
            name: "bench-failover".into(),
            network: NetworkId(0x0fa2),
            timestamp: Timestamp(ting_agent::clock::now().0),
            issuers: Vec::new(),
            sequencers: keys.iter().map(Keypair::account).collect(),
            allocations: users
                .iter()
                .chain(&forwarders)
                .map(|u| (u.account(), Amount::new(1_000_000_000)))
                .collect(),
            clock: LedgerClock::Real,
        };
        write_genesis(&dir.path().join("genesis.json"), &genesis)?;
        for (i, key) in keys.iter().enumerate() {
            write_key(&dir.path().join(format!("node{i}.key")), key)?;
        }
        let addrs = (0..NODES)
            .map(|_| free_addr())
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut nodes = Nodes {
            dir,
            url: url.to_owned(),
            children: (0..NODES).map(|_| None).collect(),
            addrs: Arc::new(RwLock::new(addrs)),
            genesis: genesis.hash(),
            users,
            forwarders,
        };
        for i in 0..NODES {
            nodes.spawn(i)?;
        }
        nodes.leader()?;
        Ok(nodes)
    }

    pub fn addr(&self, i: usize) -> SocketAddr {
        self.addrs.read().expect("addrs")[i]
    }

    /// Starts node `i` and waits until it serves.
    fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join(format!("node{i}.log")))?;
        let child = Command::new(std::env::current_exe()?)
            .arg("node")
            .arg("--genesis")
            .arg(d.join("genesis.json"))
            .arg("--key")
            .arg(d.join(format!("node{i}.key")))
            .arg("--data-dir")
            .arg(d.join(format!("data{i}")))
            .arg("--http")
            .arg(self.addr(i).to_string())
            .args(["--no-mqtt", "--store", &self.url])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting a ting node process")?;
        self.children[i] = Some(child);
        let started = Instant::now();
        loop {
            if let Some(Some(status)) = self.children[i]
                .as_mut()
                .map(|c| c.try_wait().ok().flatten())
            {
                let log =
                    std::fs::read_to_string(d.join(format!("node{i}.log"))).unwrap_or_default();
                bail!("node {i} exited ({status}) before serving:\n{log}");
            }
            if get(self.addr(i), "/healthz").is_ok() {
                return Ok(());
            }
            if started.elapsed() > DEADLINE {
                bail!("node {i} did not serve within {DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn status(&self, i: usize) -> Option<Value> {
        self.children[i].as_ref()?;
        get(self.addr(i), "/v1/status").ok()
    }

    /// The node that leads, its epoch and durable height, once every node follows it.
    pub fn leader(&self) -> anyhow::Result<(usize, u64, u64)> {
        let started = Instant::now();
        loop {
            if let Some(found) = self.agreed_leader() {
                return Ok(found);
            }
            if started.elapsed() > DEADLINE {
                bail!("no leader that every node follows within {DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn agreed_leader(&self) -> Option<(usize, u64, u64)> {
        let statuses: Vec<Value> = (0..NODES).map(|i| self.status(i)).collect::<Option<_>>()?;
        let mut leaders = statuses
            .iter()
            .enumerate()
            .filter(|(_, s)| s["role"]["kind"] == "leader");
        let (l, s) = leaders.next()?;
        if leaders.next().is_some() {
            return None;
        }
        let epoch = s["role"]["epoch"].as_u64()?;
        let followed = statuses
            .iter()
            .enumerate()
            .all(|(i, s)| i == l || s["role"]["leader"]["epoch"].as_u64() == Some(epoch));
        followed.then(|| (l, epoch, s["durable_height"].as_u64().unwrap_or(0)))
    }

    /// Kills the leader `kills` times under the load; answers the time from
    /// each kill to the new leader's first block.
    pub fn failovers(&mut self, kills: u32, load: &Load) -> anyhow::Result<Vec<Duration>> {
        let mut out = Vec::new();
        for _ in 0..kills {
            load.wait_for_blocks(self)?;
            let (leader, epoch, height) = self.leader()?;
            let mut child = self.children[leader].take().expect("a running leader");
            let killed = Instant::now();
            let killed_ok = child.kill();
            child.wait()?;
            killed_ok?;
            out.push(self.first_block_after(epoch, height, killed)?);
            self.spawn(leader)?;
        }
        Ok(out)
    }

    fn first_block_after(
        &self,
        epoch: u64,
        height: u64,
        killed: Instant,
    ) -> anyhow::Result<Duration> {
        loop {
            for i in 0..NODES {
                let Some(s) = self.status(i) else { continue };
                let e = s["role"]["epoch"].as_u64().unwrap_or(0);
                let h = s["durable_height"].as_u64().unwrap_or(0);
                if s["role"]["kind"] == "leader" && e > epoch && h > height {
                    return Ok(killed.elapsed());
                }
            }
            if killed.elapsed() > DEADLINE {
                bail!("no new leader's block within {DEADLINE:?} of the kill");
            }
            std::thread::sleep(LOOK);
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Transfers sent to any node, each sent again until it is answered.
pub struct Load {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Load {
    pub fn start(nodes: &Nodes) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let addrs = Arc::clone(&nodes.addrs);
        let genesis = nodes.genesis;
        let users: Vec<Keypair> = nodes
            .users
            .iter()
            .map(|k| Keypair::from_seed(k.seed()))
            .collect();
        let thread = std::thread::spawn(move || {
            let mut nonces = vec![0u64; users.len()];
            let mut turn = 0usize;
            while !flag.load(Ordering::Acquire) {
                // The workload's transfer `i` is sender `i % n`'s of nonce `i / n`.
                let n = users.len() as u64;
                let txs: Vec<SignedTx> = (0..users.len())
                    .map(|s| workload::transfer(&users, &genesis, nonces[s] * n + s as u64, true))
                    .collect();
                let addr = {
                    let addrs = addrs.read().expect("addrs");
                    turn += 1;
                    addrs[turn % addrs.len()]
                };
                let Ok(answer) = post_batch(addr, &txs) else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                for (s, r) in answer.iter().enumerate().take(users.len()) {
                    let done = r["status"] == "committed" || r["code"] == "bad_nonce";
                    if done {
                        nonces[s] += 1;
                    }
                }
            }
        });
        Load {
            stop,
            thread: Some(thread),
        }
    }

    /// Waits until the leader has cut a few blocks since the last look.
    fn wait_for_blocks(&self, nodes: &Nodes) -> anyhow::Result<()> {
        let (_, _, from) = nodes.leader()?;
        let started = Instant::now();
        loop {
            let (_, _, now) = nodes.leader()?;
            if now >= from + 3 {
                return Ok(());
            }
            if started.elapsed() > DEADLINE {
                bail!("the load cut no block within {DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub(super) fn post_batch(addr: SocketAddr, txs: &[SignedTx]) -> anyhow::Result<Vec<Value>> {
    let stream = TcpStream::connect_timeout(&addr, ANSWER_WAIT)?;
    post_batch_on(stream, addr, txs)
}

/// [`post_batch`] on a connection already made (from a source address of
/// the caller's choosing); the results of `POST /v1/transactions/batch?wait=true`.
pub(crate) fn post_batch_on(
    stream: TcpStream,
    addr: SocketAddr,
    txs: &[SignedTx],
) -> anyhow::Result<Vec<Value>> {
    let body = json!({
        "txs": txs.iter().map(|t| json!({ "hex": hex::encode(t.bytes()) })).collect::<Vec<_>>()
    });
    let v = exchange_on(
        stream,
        addr,
        "POST",
        "/v1/transactions/batch?wait=true",
        Some(&body),
    )?;
    v["results"]
        .as_array()
        .cloned()
        .ok_or_else(|| anyhow!("no results: {v}"))
}

/// `GET path`, which must answer 200 with JSON.
pub fn get(addr: SocketAddr, path: &str) -> anyhow::Result<Value> {
    exchange(addr, "GET", path, None)
}

/// One HTTP/1.1 exchange with `Connection: close`; a 200 answer's JSON body.
fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let stream = TcpStream::connect_timeout(&addr, ANSWER_WAIT)?;
    exchange_on(stream, addr, method, path, body)
}

/// The exchange of [`exchange`] on a connection already made (from a
/// source address of the caller's choosing).
fn exchange_on(
    mut stream: TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    stream.set_read_timeout(Some(ANSWER_WAIT))?;
    stream.set_write_timeout(Some(ANSWER_WAIT))?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        payload.len()
    );
    if body.is_some() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str("\r\n");
    request.push_str(&payload);
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.take(ANSWER_BYTES_MAX).read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("an answer without a body"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    if !head.starts_with("HTTP/1.1 200") {
        bail!("{method} {path}: {}", head.lines().next().unwrap_or(""));
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        bail!("{method} {path}: a chunked answer");
    }
    Ok(serde_json::from_slice(&raw[split + 4..])?)
}

fn free_addr() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}
