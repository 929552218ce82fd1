//! The test: stop the broker in the middle of a run, keep submitting,
//! start it again: every transaction lands exactly once.
//!
//! A real Mosquitto (started here on a free port) and a real node in this
//! process (its HTTP API on a free port, its MQTT gateway on the Mosquitto, as
//! `ting node --mqtt-broker` runs it). The device submits over MQTT only.
//! Every wait has a deadline; amounts come from a seeded generator whose seed
//! is printed with any failure.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tempfile::TempDir;
use ting_agent::{Broker, Device, DeviceConfig, Ticket};
use ting_core::{AccountId, Amount, Genesis, Keypair, NetworkId, Nonce, Timestamp, TxKind};
use ting_node::mqtt::{Gateway, GatewayConfig, MqttMode};
use ting_node::{Node, NodeConfig, Shared};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";
const INSTALL: &str = "apt-get install -y mosquitto";
const NET: NetworkId = NetworkId(4343);
const FUNDS: u64 = 10_000_000;
const DEADLINE: Duration = Duration::from_secs(60);
/// Transactions queued while the broker is up, and while it is down.
const BEFORE: u64 = 30;
const DURING: u64 = 30;

fn sequencer() -> Keypair {
    Keypair::from_seed([2; 32])
}
fn device_key() -> Keypair {
    Keypair::from_seed([20; 32])
}
fn recipient() -> AccountId {
    Keypair::from_seed([21; 32]).account()
}

/// A Mosquitto on `port`, stopped (killed and reaped) on drop.
struct Mosquitto {
    child: Child,
    _dir: TempDir,
}

impl Mosquitto {
    fn start(port: u16) -> Mosquitto {
        assert!(
            Path::new(MOSQUITTO).exists(),
            "this test needs Mosquitto at {MOSQUITTO}; install it with `{INSTALL}`"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("mosquitto.conf");
        let text = format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n");
        std::fs::write(&conf, text).expect("write mosquitto.conf");
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_for("mosquitto to listen", || TcpStream::connect(addr).is_ok());
        Mosquitto { child, _dir: dir }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Polls `cond` until it holds, failing the test past [`DEADLINE`].
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = tokio::time::Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn node(dir: &Path) -> Node {
    let genesis = Genesis {
        name: "ting-agent-outage".into(),
        network: NET,
        timestamp: Timestamp(1_700_000_000_000),
        issuers: vec![sequencer().account()],
        sequencers: vec![sequencer().account()],
        allocations: vec![(device_key().account(), Amount::new(FUNDS))],
    };
    let mut cfg = NodeConfig::new(dir.to_path_buf(), genesis, sequencer());
    cfg.verify_workers = 1;
    Node::start(cfg).expect("the node starts")
}

/// Serves the node's HTTP API on a free port; returns its URL.
async fn serve_http(shared: Arc<Shared>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(ting_node::http::serve(
        listener,
        shared,
        std::future::pending(),
    ));
    url
}

async fn gateway(shared: Arc<Shared>, port: u16) -> Gateway {
    let cfg = GatewayConfig {
        mode: MqttMode::External {
            host: "127.0.0.1".into(),
            port,
        },
        key: sequencer(),
        client_id: Some("ting-node-outage".into()),
    };
    Gateway::start(shared, cfg)
        .await
        .expect("the gateway starts")
}

async fn queue_transfers(device: &Device, rng: &mut StdRng, n: u64, sum: &mut u64) -> Vec<Ticket> {
    let mut tickets = Vec::new();
    for _ in 0..n {
        let amount = rng.random_range(1..1_000u64);
        *sum += amount;
        let kind = TxKind::Transfer {
            to: recipient(),
            amount: Amount::new(amount),
            memo: Vec::new(),
        };
        tickets.push(device.queue(kind).await.expect("queued"));
    }
    tickets
}

#[test]
fn a_broker_outage_in_the_middle_of_a_run_loses_nothing_and_duplicates_nothing() {
    let seed: u64 = rand::random();
    eprintln!("seed {seed}");
    let node_dir = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut broker = Some(Mosquitto::start(port));
    let node = node(node_dir.path());
    let shared = Arc::clone(node.shared());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    runtime.block_on(async {
        let url = serve_http(Arc::clone(&shared)).await;
        let gateway = gateway(Arc::clone(&shared), port).await;
        let mut config = DeviceConfig::discover(device_key(), state.path().to_path_buf(), &url)
            .await
            .expect("the node's status");
        config.broker = Some(Broker {
            host: "127.0.0.1".into(),
            port,
        });
        config.seed = seed;
        let device = Device::start(config).expect("the device starts");
        let mut rng = StdRng::seed_from_u64(seed);
        let mut sum = 0;

        let mut tickets = queue_transfers(&device, &mut rng, BEFORE, &mut sum).await;
        // Stop the broker while the first batch is in flight: some answered, not all.
        let first = tickets.remove(0);
        first.wait().await.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        eprintln!("first answer after {:?}", started.elapsed());
        drop(broker.take());
        wait_until("the device to notice the broker is gone", || !device.stats().connected).await;

        let during = queue_transfers(&device, &mut rng, DURING, &mut sum).await;
        assert!(
            device.outbox_len() >= usize::try_from(DURING).expect("small"),
            "seed {seed}: what was queued during the outage waits in the outbox"
        );
        broker = Some(Mosquitto::start(port));
        eprintln!("broker back after {:?}", started.elapsed());

        let mut nonces = vec![0u64];
        for ticket in tickets.into_iter().chain(during) {
            let nonce = ticket.nonce;
            let outcome = tokio::time::timeout(DEADLINE, ticket.wait())
                .await
                .unwrap_or_else(|_| panic!("seed {seed}: nonce {nonce:?} had no answer in time"));
            outcome.unwrap_or_else(|e| panic!("seed {seed}: nonce {nonce:?}: {e}"));
            nonces.push(nonce.0);
        }
        nonces.sort_unstable();
        let total = BEFORE + DURING;
        assert_eq!(nonces, (0..total).collect::<Vec<_>>(), "seed {seed}: consecutive nonces");
        assert_eq!(device.outbox_len(), 0, "seed {seed}: the outbox drained");
        assert_eq!(
            device.ledger_nonce().await.expect("nonce"),
            Nonce(total),
            "seed {seed}: each transaction applied once"
        );
        assert_eq!(
            device.balance().await.expect("balance"),
            Amount::new(FUNDS - sum),
            "seed {seed}"
        );
        let theirs = device
            .http()
            .get(&format!("/v1/accounts/{}", recipient().to_hex()))
            .await
            .expect("recipient");
        assert_eq!(theirs["balance"].as_u64(), Some(sum), "seed {seed}");
        let stats = device.stats();
        eprintln!(
            "{total} transactions through one broker outage in {:?}: {} connects, {} failures, {} publishes",
            started.elapsed(),
            stats.connects,
            stats.failures,
            stats.published
        );
        assert!(stats.connects >= 2, "seed {seed}: the device reconnected");
        device.shutdown().await;
        gateway.shutdown().await;
    });
    drop(runtime);
    drop(shared);
    node.shutdown();
}
