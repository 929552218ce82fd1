//! The node's MQTT gateway (docs/mqtt.md §5 onwards).
//!
//! ```text
//!  devices ─► broker ─► ting/v1/tx ─► Connection ─► Gate ─► Shared::submit_with ─► pipeline
//!                                                    │ (drops: counted, error notice)      │
//!  devices ◄─ ting/v1/inbox/{hex} ◄─ publisher ◄─ Outbox (bounded) ◄─ outcome tasks ◄──────┘
//!  anyone  ◄─ ting/v1/blocks (retained) ◄─ publisher ◄─ durable block events
//!  anyone  ◄─ ting/v1/books/… (retained) ◄─ book publisher ◄─ durable block events
//! ```
//!
//! By default the node embeds a broker (rmqtt, [`broker`], which logs every
//! client in and applies the topic table of docs/mqtt.md §10) and connects to
//! it as a client like any other; `MqttMode::External` uses a broker already
//! running instead. Either way the node subscribes through the shared
//! subscription `$share/ting-nodes/ting/v1/tx`, so several nodes on one broker
//! split the transactions rather than each taking all of them.
//!
//! Architecture invariant: MQTT never slows the pipeline. Every queue between
//! them is bounded and offered to without waiting; what does not fit is
//! dropped and counted, and HTTP remains the source of truth for outcomes.

mod books;
mod broker;
pub(crate) mod client;
mod connection;
mod ingress;
pub mod limits;
mod notice_rate;
mod notices;
mod outbox;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use thiserror::Error;
use ting_core::broker_url::BrokerUrl;
use ting_core::envelope::{EnvelopeId, HELLO_INTERVAL_MS};
use ting_core::Keypair;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};
use tokio::task::JoinHandle;

pub use broker::claim as claim_listen;
pub use broker::Refusals as BrokerRefusals;
pub use client::Protocol;
pub use notices::notice_id;

use client::Qos;
use connection::{Connection, Progress};
use ingress::Gate;
use limits::{MQTT_FLUSH_WAIT, MQTT_OUTCOMES_MAX, MQTT_START_WAIT};
use notices::{Announcer, Signer};
use outbox::{Outbox, Sources};

use crate::node::Shared;

/// Where the node's MQTT broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MqttMode {
    /// Embed a broker listening on this address (port 0: any free port).
    Embedded { listen: SocketAddr },
    /// Use a broker already running there, over TLS when `tls` (an
    /// `mqtts://` address; [`GatewayConfig::broker_tls`] says whom to trust).
    External { host: String, port: u16, tls: bool },
}

/// Everything the gateway needs besides the node.
#[derive(Debug)]
pub struct GatewayConfig {
    pub mode: MqttMode,
    /// Signs inbox notices: the node's sequencer key.
    pub key: Keypair,
    /// The client id; default the key's account id, `-node-` and 8 random
    /// hex digits (docs/mqtt.md §9: a client id must be the account's).
    pub client_id: Option<String>,
    /// The embedded broker's limit on connections from one IP address.
    pub connections_per_source: usize,
    /// The embedded broker's limit on logins checked a second.
    pub logins_per_s: u32,
    /// The embedded broker serves devices over TLS with this identity (the
    /// node's own client then uses a plain listener on loopback).
    pub tls: Option<crate::tls::ServerTls>,
    /// Whom the node's client trusts when an external broker speaks TLS
    /// (`mqtts://`); required then, unused otherwise.
    pub broker_tls: Option<Arc<rustls::ClientConfig>>,
}

/// Why the gateway could not start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MqttStartError {
    #[error("the MQTT address {addr} is already in use (another broker, such as Mosquitto, may be listening there); give --mqtt-listen another address, e.g. --mqtt-listen 127.0.0.1:0 for any free port, or use the broker that is there with --mqtt-broker mqtt://{addr}, or run without MQTT with --no-mqtt")]
    ListenTaken { addr: SocketAddr },
    #[error("cannot listen for MQTT on {addr}: {source}; give --mqtt-listen another address")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{url:?} is not a broker address; write it as mqtt://HOST:PORT")]
    BadBrokerUrl { url: String },
    #[error("the broker {url} speaks TLS and nothing says which certificate to trust; give --mqtt-tls-ca FILE or --mqtt-tls-pin SHA256 (or trust the system's CAs)")]
    NoBrokerTrust { url: String },
    #[error("the MQTT broker at {broker} did not accept the node within {secs} s ({reason}); check that it runs and listens there")]
    Unreachable {
        broker: String,
        secs: u64,
        reason: String,
    },
    #[error("the MQTT broker at {broker} refused the subscription to {filter}; it must allow MQTT 5 shared subscriptions")]
    SubscriptionRefused { broker: String, filter: String },
}

impl MqttStartError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            MqttStartError::ListenTaken { .. } => "mqtt_listen_taken",
            MqttStartError::Bind { .. } => "mqtt_bind",
            MqttStartError::BadBrokerUrl { .. } => "mqtt_bad_broker_url",
            MqttStartError::NoBrokerTrust { .. } => "mqtt_no_broker_trust",
            MqttStartError::Unreachable { .. } => "mqtt_unreachable",
            MqttStartError::SubscriptionRefused { .. } => "mqtt_subscription_refused",
        }
    }
}

/// Parses `mqtt://HOST:PORT` (the port defaults to 1883) or
/// `mqtts://HOST:PORT` (8883).
pub fn parse_broker_url(url: &str) -> Result<MqttMode, MqttStartError> {
    let b =
        BrokerUrl::parse(url).ok_or_else(|| MqttStartError::BadBrokerUrl { url: url.into() })?;
    Ok(MqttMode::External {
        host: b.host,
        port: b.port,
        tls: b.tls,
    })
}

/// `mqtt://ADDR`, or `mqtts://ADDR` when devices connect with TLS.
fn advertised(addr: SocketAddr, tls: bool) -> String {
    BrokerUrl {
        host: addr.ip().to_string(),
        port: addr.port(),
        tls,
    }
    .to_string()
}

/// What the gateway's tasks are made from.
struct Parts {
    shared: Arc<Shared>,
    client: client::Client,
    events: client::Events,
    signer: Signer,
    announcer: Arc<Announcer>,
    broker: String,
    embedded: Option<broker::EmbeddedBroker>,
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    /// How the node announces itself; it says it left on shutdown.
    announcer: Arc<Announcer>,
    shared: Arc<Shared>,
    reannounce: JoinHandle<()>,
    broker: String,
    listen: Option<SocketAddr>,
    embedded: Option<broker::EmbeddedBroker>,
    client: client::Client,
    outcomes: Arc<Semaphore>,
    flush: mpsc::Sender<outbox::Flush>,
    stopping: Arc<AtomicBool>,
    received: Arc<AtomicU64>,
    connection: JoinHandle<()>,
    publisher: JoinHandle<()>,
    books: JoinHandle<()>,
}

impl Gateway {
    /// Starts the broker (when embedded), connects, subscribes, and waits until
    /// the broker has granted the subscription. Call inside a Tokio runtime.
    pub async fn start(shared: Arc<Shared>, cfg: GatewayConfig) -> Result<Gateway, MqttStartError> {
        let (embedded, host, port, protocol, tls) = match &cfg.mode {
            MqttMode::Embedded { listen } => {
                let policy = broker::Policy {
                    genesis_hash: shared.genesis_hash,
                    time: shared.time,
                    sequencers: shared.genesis.sequencers.iter().copied().collect(),
                    connections_per_source: cfg.connections_per_source,
                    logins_per_s: cfg.logins_per_s,
                };
                let embedded = broker::start(
                    *listen,
                    cfg.tls.clone(),
                    policy,
                    Arc::clone(&shared.metrics.mqtt.broker_refusals),
                )
                .await?;
                let inner = embedded.internal_addr();
                (
                    Some(embedded),
                    inner.ip().to_string(),
                    inner.port(),
                    Protocol::V311,
                    false,
                )
            }
            MqttMode::External { host, port, tls } => {
                (None, host.clone(), *port, Protocol::V5, *tls)
            }
        };
        // The address devices are told: the embedded broker's public listener.
        let broker = match &embedded {
            Some(b) => advertised(b.addr(), b.tls()),
            None => BrokerUrl {
                host: host.clone(),
                port,
                tls,
            }
            .to_string(),
        };
        let trust = match (tls, &cfg.broker_tls) {
            (false, _) => None,
            (true, Some(config)) => Some(config),
            (true, None) => return Err(MqttStartError::NoBrokerTrust { url: broker }),
        };
        let account = cfg.key.account();
        let id = cfg.client_id.unwrap_or_else(|| {
            let suffix = format!("node-{:08x}", rand::random::<u32>());
            ting_core::login::client_id(&account, Some(&suffix)).expect("a valid suffix")
        });
        let announcer = Arc::new(Announcer {
            key: Keypair::from_seed(cfg.key.seed()),
            topic: ting_core::topics::node(&cfg.key.account()),
            run: EnvelopeId(rand::random()),
            time: shared.time,
        });
        // The last will: this run's leaving hello, so a node that dies says so.
        let height = shared.durable.height();
        let will = notices::hello(&announcer, shared.genesis_hash, height, false);
        let login = client::Login {
            key: Keypair::from_seed(cfg.key.seed()),
            genesis_hash: shared.genesis_hash,
            client_id: id,
            time: shared.time,
        };
        let endpoint = client::Endpoint {
            host: &host,
            port,
            tls: trust,
        };
        let (client, events) = client::connect(login, endpoint, protocol, (&announcer.topic, will));
        // Devices learn where to connect from /v1/status, unless the operator said otherwise.
        let _ = shared.mqtt_broker.set(broker.clone());
        let signer = Signer {
            key: cfg.key,
            genesis: shared.genesis_hash,
            time: shared.time,
        };
        let (gateway, mut watch_rx) = Gateway::spawn(Parts {
            shared,
            client,
            events,
            signer,
            announcer,
            broker,
            embedded,
        });
        match wait_subscribed(&mut watch_rx).await {
            Ok(()) => Ok(gateway),
            Err(reason) => Err(gateway.abort(reason)),
        }
    }

    /// Starts the gateway's tasks: the publisher, the re-announcer and the
    /// connection.
    fn spawn(p: Parts) -> (Gateway, watch::Receiver<Progress>) {
        let (shared, client, announcer) = (p.shared, p.client, p.announcer);
        let outcomes = Arc::new(Semaphore::new(MQTT_OUTCOMES_MAX));
        let (outbox, notices) = Outbox::new(Arc::clone(&shared.metrics));
        let (flush, flush_rx) = mpsc::channel(1);
        let sources = Sources {
            notices,
            blocks: shared.events.subscribe(),
            flush: flush_rx,
            roles: Arc::clone(&shared.roles),
        };
        let metrics = Arc::clone(&shared.metrics);
        let publisher = tokio::spawn(outbox::publish(client.clone(), p.signer, metrics, sources));
        let books = tokio::spawn(books::publish(
            client.clone(),
            Arc::clone(&shared),
            shared.events.subscribe(),
        ));
        let (progress, watch_rx) = watch::channel(Progress::Connecting { last_error: None });
        let stopping = Arc::new(AtomicBool::new(false));
        let received = Arc::new(AtomicU64::new(0));
        let reannounce = tokio::spawn(reannounce(
            client.clone(),
            Arc::clone(&announcer),
            Arc::clone(&shared),
            Arc::clone(&stopping),
        ));
        let gate = Gate {
            shared: Arc::clone(&shared),
            outbox,
            outcomes: Arc::clone(&outcomes),
        };
        let connection = tokio::spawn(
            Connection {
                events: p.events,
                client: client.clone(),
                gate,
                progress,
                stopping: Arc::clone(&stopping),
                received: Arc::clone(&received),
                announcer: Arc::clone(&announcer),
                calls_pending: false,
            }
            .run(),
        );
        let gateway = Gateway {
            announcer,
            shared,
            reannounce,
            broker: p.broker,
            listen: p.embedded.as_ref().map(|b| b.addr()),
            embedded: p.embedded,
            client,
            outcomes,
            flush,
            stopping,
            received,
            connection,
            publisher,
            books,
        };
        (gateway, watch_rx)
    }

    fn abort(mut self, reason: Option<String>) -> MqttStartError {
        if let Some(b) = self.embedded.take() {
            b.stop_soon();
        }
        self.reannounce.abort();
        self.connection.abort();
        self.publisher.abort();
        self.books.abort();
        match reason {
            None => MqttStartError::SubscriptionRefused {
                broker: self.broker,
                filter: ting_core::topics::TX_SHARED_FILTER.into(),
            },
            Some(reason) => MqttStartError::Unreachable {
                broker: self.broker,
                secs: MQTT_START_WAIT.as_secs(),
                reason,
            },
        }
    }

    /// The embedded broker's address (`None` with an external broker).
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen
    }

    /// The broker the node is connected to, as `mqtt://HOST:PORT`.
    pub fn broker(&self) -> &str {
        &self.broker
    }

    /// What the embedded broker has refused (`None` with an external broker).
    pub fn broker_refusals(&self) -> Option<Arc<broker::Refusals>> {
        self.embedded.as_ref().map(|b| b.refusals())
    }

    /// Transactions this gateway has received (several gateways may share a node).
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Call after `Node::shutdown`: waits (up to `MQTT_FLUSH_WAIT`) for every
    /// outcome to be answered and every notice handed to the client, then
    /// disconnects, and stops the embedded broker.
    pub async fn shutdown(mut self) {
        let deadline = tokio::time::Instant::now() + MQTT_FLUSH_WAIT;
        let all = u32::try_from(MQTT_OUTCOMES_MAX).expect("the outcome limit fits u32");
        let answered = tokio::time::timeout_at(deadline, self.outcomes.acquire_many(all)).await;
        if answered.is_err() {
            tracing::warn!("MQTT: gave up waiting for outcomes to be answered");
        }
        let (done, flushed) = oneshot::channel();
        if self.flush.send(done).await.is_ok()
            && tokio::time::timeout_at(deadline, flushed).await.is_err()
        {
            tracing::warn!("MQTT: gave up publishing the last inbox notices");
        }
        // No serving hello from here on; a clean disconnect does not fire the
        // last will, so the node says itself that it left.
        self.stopping.store(true, Ordering::Release);
        self.reannounce.abort();
        let a = &self.announcer;
        let leaving = notices::hello(
            a,
            self.shared.genesis_hash,
            self.shared.durable.height(),
            false,
        );
        let said = self
            .client
            .publish(a.topic.clone(), Qos::AtLeastOnce, true, leaving)
            .await;
        if let Err(e) = said {
            tracing::warn!(error = %e, "MQTT: could not announce that the node left");
        }
        let _ = self.client.disconnect().await;
        let mut connection = self.connection;
        if tokio::time::timeout_at(deadline, &mut connection)
            .await
            .is_err()
        {
            connection.abort();
        }
        self.publisher.abort();
        self.books.abort();
        if let Some(b) = self.embedded.take() {
            let _ = tokio::task::spawn_blocking(move || b.stop()).await;
        }
    }
}

/// Announces the node again every `HELLO_INTERVAL_MS` while it is connected,
/// so that its retained hello stays fresh for devices that check its age.
async fn reannounce(
    client: client::Client,
    announcer: Arc<Announcer>,
    shared: Arc<Shared>,
    stopping: Arc<AtomicBool>,
) {
    let mut every = tokio::time::interval(std::time::Duration::from_millis(HELLO_INTERVAL_MS));
    every.tick().await;
    loop {
        every.tick().await;
        let connected = shared.metrics.mqtt.connected.load(Ordering::Relaxed) == 1;
        if stopping.load(Ordering::Acquire) {
            return;
        }
        if connected {
            connection::announce(&client, &announcer, &shared, true);
        }
    }
}

/// Waits for the subscription's answer: `Err(Some(last error))` when the broker
/// could not be reached in time, `Err(None)` when it refused the subscription.
async fn wait_subscribed(rx: &mut watch::Receiver<Progress>) -> Result<(), Option<String>> {
    let waited = tokio::time::timeout(
        MQTT_START_WAIT,
        rx.wait_for(|p| !matches!(p, Progress::Connecting { .. })),
    )
    .await
    .map(|r| r.map(|p| p.clone()));
    match waited {
        Ok(Ok(Progress::Subscribed)) => Ok(()),
        Ok(_) => Err(None),
        Err(_) => match &*rx.borrow() {
            Progress::Connecting {
                last_error: Some(e),
            } => Err(Some(e.clone())),
            _ => Err(Some("no answer".into())),
        },
    }
}
