//! The node under test: a `ting node` process of its own with its embedded
//! broker, so that its memory and CPU are read from `/proc` apart from the
//! devices', and so that it can be restarted as an operator would.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ting_agent::files::{write_genesis, write_key};
use ting_core::{Amount, Genesis, Hash32, Keypair, LedgerClock, NetworkId, Timestamp};
use ting_node::tls::ServerTls;

use crate::bench::TempDir;

/// How long the node may take to serve after it is started.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// How long a stopping node may take before it is killed.
const STOP_DEADLINE: Duration = Duration::from_secs(30);
/// How the node's start message begins.
const SERVING_LINE: &str = "ting node: serving";
/// Names a file the node's log is copied to when the run ends.
const KEEP_LOG_ENV: &str = "TING_BENCH_NODE_LOG";
/// Every funded account's balance.
const FUNDS: u64 = 1_000_000_000_000;

/// The network the node serves.
#[derive(Debug)]
pub struct Network {
    pub genesis: Genesis,
    pub genesis_hash: Hash32,
    pub node_key: Keypair,
}

/// A genesis naming the node's key as the sequencer and funding `funded`.
pub fn network(funded: &[Keypair]) -> Network {
    let node_key = crate::bench::workload::keypair(0x71, 0);
    let genesis = Genesis {
        name: "bench-devices".into(),
        network: NetworkId(0x0de5),
        timestamp: Timestamp(ting_agent::clock::now().0),
        issuers: Vec::new(),
        sequencers: vec![node_key.account()],
        allocations: funded
            .iter()
            .map(|k| (k.account(), Amount::new(FUNDS)))
            .collect(),
        clock: LedgerClock::Real,
    };
    Network {
        genesis_hash: genesis.hash(),
        genesis,
        node_key,
    }
}

/// The node process, its files and its ports (kept across restarts).
pub struct NodeProc {
    dir: TempDir,
    child: Option<Child>,
    pub http: SocketAddr,
    pub mqtt: SocketAddr,
    logins_per_s: u32,
    per_source: u32,
    /// The certificate and key files the node serves TLS with.
    tls: Option<(PathBuf, PathBuf)>,
    /// Start messages in the log before the latest start.
    starts_before: usize,
}

impl NodeProc {
    /// Writes the network's files and starts the node; answers once it serves.
    pub fn start(
        net: &Network,
        logins_per_s: u32,
        per_source: u32,
        tls: Option<&ServerTls>,
    ) -> anyhow::Result<NodeProc> {
        let dir = TempDir::new("devices-node")?;
        write_genesis(&dir.path().join("genesis.json"), &net.genesis)?;
        write_key(&dir.path().join("node.key"), &net.node_key)?;
        let mut node = NodeProc {
            dir,
            child: None,
            http: free_addr()?,
            mqtt: free_addr()?,
            logins_per_s,
            per_source,
            tls: tls.map(|t| (t.cert_path.clone(), t.key_path.clone())),
            starts_before: 0,
        };
        node.spawn()?;
        Ok(node)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("node.log")
    }

    /// Starts the process and waits until its API answers.
    pub fn spawn(&mut self) -> anyhow::Result<()> {
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        self.starts_before = self.log().matches(SERVING_LINE).count();
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("node");
        if let Some((cert, key)) = &self.tls {
            command
                .arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key);
        }
        let child = command
            .arg("--genesis")
            .arg(d.join("genesis.json"))
            .arg("--key")
            .arg(d.join("node.key"))
            .arg("--data-dir")
            .arg(d.join("data"))
            .arg("--http")
            .arg(self.http.to_string())
            .arg("--mqtt-listen")
            .arg(self.mqtt.to_string())
            .arg("--mqtt-per-source")
            .arg(self.per_source.to_string())
            .arg("--mqtt-logins-per-s")
            .arg(self.logins_per_s.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting a ting node process")?;
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("the node exited ({status}) before serving:\n{}", self.log());
            }
            if self.serving() {
                return Ok(());
            }
            if started.elapsed() > START_DEADLINE {
                bail!(
                    "the node did not serve within {START_DEADLINE:?}:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the node answers: its health over plain HTTP, or with TLS
    /// (HTTPS, which this benchmark does not speak) its start message.
    fn serving(&self) -> bool {
        if self.tls.is_some() {
            return self.log().matches(SERVING_LINE).count() > self.starts_before;
        }
        crate::bench::ledger_pg::procs::get(self.http, "/healthz").is_ok()
    }

    /// Stops the node as an operator's restart does (SIGTERM: drain, say
    /// goodbye); kills it if it takes longer than `STOP_DEADLINE`.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        let started = Instant::now();
        while child.try_wait()?.is_none() {
            if started.elapsed() > STOP_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the node did not stop within {STOP_DEADLINE:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The node's resident memory, in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.pid().context("the node is not running")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS in the node's /proc status")
    }

    /// The open-file line of the node's start message.
    pub fn files_line(&self) -> String {
        self.log()
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("files "))
            .unwrap_or("(not reported)")
            .to_owned()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(keep) = std::env::var_os(KEEP_LOG_ENV) {
            let _ = std::fs::copy(self.log_path(), keep);
        }
    }
}

fn free_addr() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}
