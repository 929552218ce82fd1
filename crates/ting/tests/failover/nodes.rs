//! The test's nodes: `ting node` processes on one database, each with its
//! own key (all named sequencers in the genesis), data directory and port.

use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, RwLock};

use serde_json::Value;
use ting_agent::files::{write_genesis, write_key};
use ting_core::{Amount, Genesis, Hash32, Keypair, LedgerClock, NetworkId, Timestamp};

use super::common::{free_addr, poll, request, request_within, Rng};
use super::load::Load;

/// Nodes on the database.
pub const NODES: usize = 3;
/// Accounts the load moves money between.
pub const ACCOUNTS: usize = 8;
/// What each account starts with.
pub const START_BALANCE: u64 = 1_000_000_000;
/// How long a look at a node's status waits for its answer.
const STATUS_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
/// The lease: short, so that the test's takeovers are quick.
const LEASE: &str = "1s";

/// The network the nodes serve and the test's accounts on it.
pub struct Network {
    pub genesis: Hash32,
    pub users: Vec<Keypair>,
    /// Where each node answers now (a restarted node gets a new port), and
    /// whether the load may send there (not to a paused process, which
    /// would hold its requests until they time out).
    pub addrs: Arc<RwLock<Vec<(SocketAddr, bool)>>>,
}

struct Proc {
    child: Child,
    exited: Option<ExitStatus>,
    /// Stopped with SIGSTOP: it accepts connections and answers nothing.
    paused: bool,
}

/// The node processes.
pub struct Nodes {
    dir: tempfile::TempDir,
    url: String,
    listen_url: Option<String>,
    /// The MQTT broker every node's gateway shares; none: `--no-mqtt`.
    broker: Option<SocketAddr>,
    procs: Vec<Proc>,
    pub net: Network,
}

impl Nodes {
    /// Writes the keys and genesis and starts every node; one of them leads.
    pub fn start(url: &str, listen_url: Option<&str>) -> Nodes {
        Nodes::start_with(url, listen_url, None)
    }

    /// [`Nodes::start`], each node's MQTT gateway on `broker` when given.
    pub fn start_with(url: &str, listen_url: Option<&str>, broker: Option<SocketAddr>) -> Nodes {
        let dir = tempfile::tempdir().expect("a directory");
        let mut rng = Rng::new(0x7e57_fa11);
        let keys: Vec<Keypair> = (0..NODES)
            .map(|_| Keypair::from_seed(rng.seed32()))
            .collect();
        let users: Vec<Keypair> = (0..ACCOUNTS)
            .map(|_| Keypair::from_seed(rng.seed32()))
            .collect();
        let genesis = Genesis {
            name: "failover".into(),
            network: NetworkId(0x0fa1),
            timestamp: Timestamp(1_700_000_000_000),
            issuers: Vec::new(),
            sequencers: keys.iter().map(Keypair::account).collect(),
            allocations: users
                .iter()
                .map(|u| (u.account(), Amount::new(START_BALANCE)))
                .collect(),
            clock: LedgerClock::Real,
        };
        write_genesis(&dir.path().join("genesis.json"), &genesis).expect("genesis written");
        for (i, key) in keys.iter().enumerate() {
            write_key(&dir.path().join(format!("node{i}.key")), key).expect("key written");
        }
        let addrs = (0..NODES).map(|_| (free_addr(), true)).collect();
        let mut nodes = Nodes {
            dir,
            url: url.to_owned(),
            listen_url: listen_url.map(str::to_owned),
            broker,
            procs: Vec::new(),
            net: Network {
                genesis: genesis.hash(),
                users,
                addrs: Arc::new(RwLock::new(addrs)),
            },
        };
        for i in 0..NODES {
            let child = nodes.spawn(i);
            nodes.procs.push(Proc {
                child,
                exited: None,
                paused: false,
            });
            nodes.wait_serving(i);
        }
        nodes.leader();
        nodes
    }

    fn spawn(&self, i: usize) -> Child {
        let d = self.dir.path();
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(i))
            .expect("a log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ting"));
        if let Some(listen) = &self.listen_url {
            cmd.arg("node").arg("--listen-url").arg(listen);
        } else {
            cmd.arg("node");
        }
        cmd.arg("--genesis")
            .arg(d.join("genesis.json"))
            .arg("--key")
            .arg(d.join(format!("node{i}.key")))
            .arg("--data-dir")
            .arg(d.join(format!("data{i}")))
            .arg("--http")
            .arg(self.addr(i).to_string());
        match self.broker {
            Some(broker) => cmd.arg("--mqtt-broker").arg(format!("mqtt://{broker}")),
            None => cmd.arg("--no-mqtt"),
        };
        cmd.arg("--store")
            .arg(&self.url)
            .arg("--lease-ttl")
            .arg(LEASE)
            .env("TING_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn the ting binary")
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("node{i}.log"))
    }

    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.log_path(i)).unwrap_or_default()
    }

    pub fn addr(&self, i: usize) -> SocketAddr {
        self.net.addrs.read().expect("addrs")[i].0
    }

    fn wait_serving(&mut self, i: usize) {
        poll(&format!("node {i} to serve"), || {
            if let Some(status) = self.procs[i].child.try_wait().expect("try_wait") {
                panic!(
                    "node {i} exited ({status}) before serving:\n{}",
                    self.log(i)
                );
            }
            let r = request(self.addr(i), "GET", "/healthz", None).ok()?;
            (r.status == 200).then_some(())
        });
    }

    /// The nodes whose process runs (and is not paused).
    pub fn live(&self) -> Vec<usize> {
        (0..NODES)
            .filter(|i| self.procs[*i].exited.is_none() && !self.procs[*i].paused)
            .collect()
    }

    pub fn status(&self, i: usize) -> Option<Value> {
        let r = request_within(self.addr(i), "GET", "/v1/status", None, STATUS_WAIT).ok()?;
        (r.status == 200).then_some(r.body)
    }

    pub fn get(&self, i: usize, path: &str) -> Value {
        poll(&format!("GET {path} on node {i}"), || {
            let r = request(self.addr(i), "GET", path, None).ok()?;
            (r.status == 200).then_some(r.body)
        })
    }

    /// The value of the counter `name` on node `i`'s `/metrics` (text, not JSON).
    pub fn metric(&self, i: usize, name: &str) -> u64 {
        self.counter(i, name)
            .unwrap_or_else(|| panic!("node {i} reports {name}"))
    }

    /// [`Nodes::metric`], `None` when the node does not report it (a
    /// labelled counter appears at its first count).
    pub fn counter(&self, i: usize, name: &str) -> Option<u64> {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(self.addr(i)).expect("node answers");
        stream.set_read_timeout(Some(STATUS_WAIT)).expect("timeout");
        let head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        stream.write_all(head).expect("asked for metrics");
        let mut text = String::new();
        stream.read_to_string(&mut text).expect("metrics");
        let prefix = format!("{name} ");
        text.lines()
            .find_map(|l| l.strip_prefix(prefix.as_str())?.trim().parse().ok())
    }

    pub fn height(&self, i: usize) -> u64 {
        self.get(i, "/v1/status")["durable_height"]
            .as_u64()
            .expect("a height")
    }

    /// The one node that says it leads, and its epoch, once every live node
    /// agrees (the followers name it).
    pub fn leader(&self) -> (usize, u64) {
        poll("one leader the others follow", || {
            let roles: Vec<(usize, Value)> = self
                .live()
                .into_iter()
                .map(|i| Some((i, self.status(i)?["role"].clone())))
                .collect::<Option<_>>()?;
            let leaders: Vec<(usize, u64)> = roles
                .iter()
                .filter(|(_, r)| r["kind"] == "leader")
                .map(|(i, r)| (*i, r["epoch"].as_u64().unwrap_or(0)))
                .collect();
            let [(leader, epoch)] = leaders[..] else {
                return None;
            };
            let followed = roles
                .iter()
                .all(|(i, r)| *i == leader || r["leader"]["epoch"].as_u64() == Some(epoch));
            followed.then_some((leader, epoch))
        })
    }

    /// Waits until a node leads in an epoch after `epoch` and the chain has
    /// grown past `height`: the new leader's first block.
    pub fn new_leader_after(&self, epoch: u64, height: u64, load: &Load) -> (usize, u64) {
        poll("a new leader's first block", || {
            load.check();
            self.live().into_iter().find_map(|i| {
                let s = self.status(i)?;
                let e = s["role"]["epoch"].as_u64()?;
                let h = s["durable_height"].as_u64()?;
                (s["role"]["kind"] == "leader" && e > epoch && h > height).then_some((i, e))
            })
        })
    }

    /// A live follower other than `not`.
    pub fn follower_other_than(&self, not: usize) -> usize {
        self.live()
            .into_iter()
            .find(|i| *i != not)
            .expect("a second live node")
    }

    pub fn kill9(&mut self, i: usize) {
        let p = &mut self.procs[i];
        if p.exited.is_none() {
            let _ = p.child.kill();
            p.exited = Some(p.child.wait().expect("reap the node"));
        }
    }

    /// Sends `kill -SIG` to node `i`; the load and the test's looks keep
    /// away from it while it is stopped.
    pub fn signal(&mut self, i: usize, sig: &str) {
        self.net.addrs.write().expect("addrs")[i].1 = sig != "STOP";
        self.procs[i].paused = sig == "STOP";
        let sent = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.procs[i].child.id().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{sig}");
    }

    pub fn wait_exit(&mut self, i: usize) -> ExitStatus {
        let p = &mut self.procs[i];
        let status = poll("the node to exit", || p.child.try_wait().expect("try_wait"));
        p.exited = Some(status);
        status
    }

    /// Starts again every node whose process exited by itself (a supervisor's job).
    pub fn restart_exited(&mut self) {
        for i in 0..NODES {
            let p = &mut self.procs[i];
            if p.exited.is_none() && !p.paused {
                if let Some(status) = p.child.try_wait().expect("try_wait") {
                    eprintln!("failover test: node {i} exited ({status}); restarting it");
                    p.exited = Some(status);
                }
            }
            if self.procs[i].exited.is_some() {
                self.restart(i);
            }
        }
    }

    /// Whether one live node says it leads.
    pub fn has_leader(&self) -> bool {
        self.live().into_iter().any(|i| {
            self.status(i)
                .is_some_and(|s| s["role"]["kind"] == "leader")
        })
    }

    /// Starts node `i` again, over its data directory, on a new port (the
    /// load is told), or on its old one for nodes on a broker (devices keep
    /// the node they were given).
    pub fn restart(&mut self, i: usize) {
        assert!(self.procs[i].exited.is_some(), "node {i} is stopped first");
        let addr = match self.broker {
            Some(_) => self.addr(i),
            None => free_addr(),
        };
        self.net.addrs.write().expect("addrs")[i] = (addr, true);
        let child = self.spawn(i);
        self.procs[i] = Proc {
            child,
            exited: None,
            paused: false,
        };
        self.wait_serving(i);
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for i in 0..NODES {
            self.signal_quietly(i);
        }
        if std::thread::panicking() {
            for i in 0..NODES {
                let log = self.log(i);
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("--- node {i}, last lines ---");
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

impl Nodes {
    fn signal_quietly(&mut self, i: usize) {
        let p = &mut self.procs[i];
        if p.exited.is_none() {
            let _ = Command::new("kill")
                .arg("-CONT")
                .arg(p.child.id().to_string())
                .status();
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}
