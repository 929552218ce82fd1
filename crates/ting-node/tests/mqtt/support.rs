//! Fixtures for the MQTT tests: a device client on a real broker, a Mosquitto
//! the test starts itself on a free port, and a metric reader.
//!
//! Every wait has a deadline ([`common::DEADLINE`]); nothing sleeps to synchronise.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, SubscribeReasonCode};
use tempfile::TempDir;
use ting_core::envelope::Envelope;
use ting_core::login::{self, LoginToken};
use ting_core::topics::{inbox, TX_TOPIC};
use ting_core::{Hash32, Keypair, Timestamp};
use ting_node::mqtt::limits::MQTT_PAYLOAD_BYTES_MAX;
use ting_node::mqtt::{Gateway, GatewayConfig, MqttMode};
use ting_node::Shared;
use tokio::sync::mpsc;

use crate::common::{call_text, get, sequencer, Deadline, DEADLINE};

/// Where the tests look for Mosquitto, and how to get it.
pub const MOSQUITTO: &str = "/usr/sbin/mosquitto";
pub const MOSQUITTO_INSTALL: &str = "sudo apt-get install -y mosquitto";

/// A gateway with its own embedded broker on a free port.
pub async fn embedded_gateway(shared: &Arc<Shared>) -> Gateway {
    let cfg = GatewayConfig {
        mode: MqttMode::Embedded {
            listen: "127.0.0.1:0".parse().expect("address"),
        },
        key: sequencer(),
        client_id: None,
        connections_per_source: ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX,
        logins_per_s: ting_node::mqtt::limits::MQTT_LOGINS_PER_S,
        tls: None,
        broker_tls: None,
    };
    Gateway::start(Arc::clone(shared), cfg)
        .await
        .expect("the gateway starts with an embedded broker")
}

/// A gateway on the broker at `addr`, as `ting node --mqtt-broker mqtt://ADDR` makes it.
pub async fn external_gateway(shared: &Arc<Shared>, addr: SocketAddr, id: &str) -> Gateway {
    let mode = ting_node::mqtt::parse_broker_url(&format!("mqtt://{addr}")).expect("url");
    let cfg = GatewayConfig {
        mode,
        key: sequencer(),
        client_id: Some(id.into()),
        connections_per_source: ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX,
        logins_per_s: ting_node::mqtt::limits::MQTT_LOGINS_PER_S,
        tls: None,
        broker_tls: None,
    };
    Gateway::start(Arc::clone(shared), cfg)
        .await
        .expect("the gateway starts on the external broker")
}

/// MQTT 3.1.1 clients standing in for devices, each logged in as its key's
/// account (docs/mqtt.md §9): they subscribe to some topics and hand every
/// publish they receive to the test.
pub struct Device {
    clients: Vec<AsyncClient>,
    incoming: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Device {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// MQTT options that log in as `key` on the network of `genesis`.
pub fn login_options(broker: SocketAddr, genesis: &Hash32, key: &Keypair) -> MqttOptions {
    let id = login::client_id(&key.account(), None).expect("a client id");
    let token = LoginToken::issue(key, genesis, &id, now(), rand::random());
    let mut o = MqttOptions::new(id, broker.ip().to_string(), broker.port());
    o.set_credentials(login::username(&key.account()), token.to_text());
    o.set_max_packet_size(MQTT_PAYLOAD_BYTES_MAX * 2, MQTT_PAYLOAD_BYTES_MAX * 2);
    o
}

/// The wall clock, as the node reads it.
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    Timestamp(u64::try_from(ms).expect("fits"))
}

impl Device {
    /// Logs in as `key` and subscribes to `filters`, waiting for every SUBACK;
    /// every filter must be granted.
    pub async fn connect(
        broker: SocketAddr,
        genesis: &Hash32,
        key: &Keypair,
        filters: &[String],
    ) -> Device {
        let (tx, incoming) = mpsc::unbounded_channel();
        let mut d = Device {
            clients: Vec::new(),
            incoming,
            tasks: Vec::new(),
        };
        d.add(broker, genesis, key, filters, tx).await;
        d
    }

    async fn add(
        &mut self,
        broker: SocketAddr,
        genesis: &Hash32,
        key: &Keypair,
        filters: &[String],
        tx: mpsc::UnboundedSender<(String, Vec<u8>)>,
    ) {
        let (client, mut events) = AsyncClient::new(login_options(broker, genesis, key), 64);
        let (subacks_tx, mut subacks) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = tx.send((p.topic, p.payload.to_vec()));
                    }
                    Ok(Event::Incoming(Packet::SubAck(ack))) => {
                        let _ = subacks_tx.send(ack.return_codes);
                    }
                    Ok(_) => {}
                    Err(e) => panic!("the device lost its broker: {e}"),
                }
            }
        });
        for f in filters {
            client
                .subscribe(f.as_str(), QoS::AtLeastOnce)
                .await
                .expect("subscribe");
        }
        for f in filters {
            let codes = tokio::time::timeout(DEADLINE, subacks.recv())
                .await
                .expect("a SUBACK in time")
                .expect("the device task runs");
            assert!(
                codes
                    .iter()
                    .all(|c| matches!(c, SubscribeReasonCode::Success(_))),
                "{f} granted: {codes:?}"
            );
        }
        self.clients.push(client);
        self.tasks.push(task);
    }

    /// Devices listening on the inboxes of `keys`, one login each; the first
    /// publishes.
    pub async fn inboxes(broker: SocketAddr, genesis: &Hash32, keys: &[&Keypair]) -> Device {
        let (tx, incoming) = mpsc::unbounded_channel();
        let mut d = Device {
            clients: Vec::new(),
            incoming,
            tasks: Vec::new(),
        };
        for k in keys {
            d.add(broker, genesis, k, &[inbox(&k.account())], tx.clone())
                .await;
        }
        d
    }

    pub async fn publish_tx(&self, payload: Vec<u8>) {
        self.clients[0]
            .publish(TX_TOPIC, QoS::AtLeastOnce, false, payload)
            .await
            .expect("publish");
    }

    /// The next message, failing the test past the deadline.
    pub async fn next(&mut self) -> (String, Vec<u8>) {
        tokio::time::timeout(DEADLINE, self.incoming.recv())
            .await
            .expect("a message within the deadline")
            .expect("the device task runs")
    }

    /// The next message, decoded as an envelope with a valid signature.
    pub async fn next_envelope(&mut self) -> (String, Envelope) {
        let (topic, bytes) = self.next().await;
        let env = Envelope::decode(&bytes).expect("an inbox message is an envelope");
        env.verify().expect("the envelope's signature verifies");
        (topic, env)
    }

    /// Whatever has arrived already, without waiting.
    pub fn try_next(&mut self) -> Option<(String, Vec<u8>)> {
        self.incoming.try_recv().ok()
    }
}

/// The value of the metric line starting with `series` (`name` or `name{label="x"}`), 0 if absent.
pub async fn metric(shared: &Arc<Shared>, series: &str) -> u64 {
    let (_, text) = call_text(shared, get("/metrics")).await;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |v| v.trim().parse().expect("an integer metric"))
}

/// Waits until `series` reaches `want`.
pub async fn metric_reaches(shared: &Arc<Shared>, series: &str, want: u64) {
    let deadline = Deadline::new(format!("{series} to reach {want}"));
    while metric(shared, series).await < want {
        deadline.tick().await;
    }
    assert_eq!(metric(shared, series).await, want, "{series}");
}

/// A free port on the loopback interface (free when asked; the caller binds it next).
pub fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address")
}

/// A Mosquitto the test started, on a free port, with no persistence; killed on drop.
pub struct Mosquitto {
    child: Child,
    pub addr: SocketAddr,
    _dir: TempDir,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Mosquitto {
    /// Starts Mosquitto and waits until it accepts connections. Fails (never skips)
    /// when it is not installed.
    pub fn start() -> Mosquitto {
        Mosquitto::start_on(free_port())
    }

    /// Starts Mosquitto on `addr` (a port it had before, to test reconnection).
    pub fn start_on(addr: SocketAddr) -> Mosquitto {
        assert!(
            PathBuf::from(MOSQUITTO).exists(),
            "these tests need Mosquitto at {MOSQUITTO}; install it with `{MOSQUITTO_INSTALL}` (scripts/test does this when run as root)"
        );
        let dir = tempfile::tempdir().expect("temporary directory");
        let conf = dir.path().join("mosquitto.conf");
        let text = format!(
            "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_packet_size {}\n",
            addr.port(),
            MQTT_PAYLOAD_BYTES_MAX * 2
        );
        std::fs::write(&conf, text).expect("write mosquitto.conf");
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mosquitto");
        let mut m = Mosquitto {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Deadline::new(format!("mosquitto to listen on {addr}"));
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = m.child.try_wait() {
                panic!("mosquitto exited at start-up ({status}); is port {addr} taken?");
            }
            deadline.tick_blocking();
        }
        m
    }
}
