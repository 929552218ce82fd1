//! What the live tests share: a real Mosquitto on a free port, a real node in
//! this process (HTTP on a free port, its MQTT gateway on that Mosquitto, as
//! `ting node --mqtt-broker` runs it), fixed keys, and waits with deadlines.
#![allow(dead_code)]

pub mod dev_node;
pub mod net;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use ting_core::{AccountId, Amount, Genesis, Keypair, NetworkId, Timestamp};
use ting_node::mqtt::{Gateway, GatewayConfig, MqttMode};
use ting_node::{Node, NodeConfig, Shared};

pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";
pub const INSTALL: &str = "apt-get install -y mosquitto";
pub const NET: NetworkId = NetworkId(4343);
pub const FUNDS: u64 = 10_000_000;
pub const DEADLINE: Duration = Duration::from_secs(60);

pub fn sequencer() -> Keypair {
    Keypair::from_seed([2; 32])
}
pub fn device_key() -> Keypair {
    Keypair::from_seed([20; 32])
}
pub fn recipient() -> AccountId {
    Keypair::from_seed([21; 32]).account()
}

/// A Mosquitto on `port`, stopped (killed and reaped) on drop.
pub struct Mosquitto {
    child: Child,
    _dir: TempDir,
}

impl Mosquitto {
    pub fn start(port: u16) -> Mosquitto {
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

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Polls `cond` until it holds, failing the test past [`DEADLINE`].
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = tokio::time::Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A node whose genesis funds `device_key()` with `FUNDS`, and `extra` accounts.
pub fn node(dir: &Path, extra: &[(AccountId, u64)]) -> Node {
    let genesis = Genesis {
        name: "ting-agent-outage".into(),
        network: NET,
        timestamp: Timestamp(1_700_000_000_000),
        issuers: vec![sequencer().account()],
        sequencers: vec![sequencer().account()],
        allocations: std::iter::once((device_key().account(), FUNDS))
            .chain(extra.iter().copied())
            .map(|(who, amount)| (who, Amount::new(amount)))
            .collect(),
        clock: ting_core::LedgerClock::Real,
    };
    let mut cfg = NodeConfig::new(dir.to_path_buf(), genesis, sequencer());
    cfg.verify_workers = 1;
    Node::start(cfg).expect("the node starts")
}

/// Serves the node's HTTP API on a free port; returns its URL.
pub async fn serve_http(shared: Arc<Shared>) -> String {
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

pub async fn gateway(shared: Arc<Shared>, port: u16) -> Gateway {
    let cfg = GatewayConfig {
        mode: MqttMode::External {
            host: "127.0.0.1".into(),
            port,
            tls: false,
        },
        key: sequencer(),
        client_id: Some("ting-node-outage".into()),
        connections_per_source: ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX,
        logins_per_s: ting_node::mqtt::limits::MQTT_LOGINS_PER_S,
        tls: None,
        broker_tls: None,
    };
    Gateway::start(shared, cfg)
        .await
        .expect("the gateway starts")
}

/// A device of `key` that learns its network from the node at `url` and
/// talks to it over the plain MQTT broker on `port`.
pub async fn mqtt_device(key: Keypair, dir: &Path, url: &str, port: u16) -> ting_agent::Device {
    let mut config = ting_agent::DeviceConfig::discover(key, dir.to_path_buf(), url)
        .await
        .expect("the node's status");
    config.broker = Some(ting_agent::Broker {
        host: "127.0.0.1".into(),
        port,
        tls: false,
    });
    ting_agent::Device::start(config).expect("the device starts")
}
