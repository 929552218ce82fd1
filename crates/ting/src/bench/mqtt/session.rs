//! The benchmark's MQTT clients: each logs in with a fresh token, runs its
//! event loop on a task of its own, and hands what it receives to a sink;
//! and the counter that turns arrivals in a window into a rate.
//!
//! A login token is good for one connection (docs/mqtt.md §9), so a client
//! that loses its connection is not reconnected: it reports and stops, and
//! the window's count shows it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS};
use ting_agent::mqtt_login;
use ting_core::{Hash32, Keypair};
use tokio::sync::{mpsc, oneshot};

use super::WARM_UP;

/// The payer/receiver clients' MQTT request queue and in-flight window.
const CLIENT_INFLIGHT: u16 = 100;
/// Largest MQTT packet a benchmark client sends or takes.
const CLIENT_PACKET_BYTES_MAX: usize = 256 * 1024;
/// Keep-alive of a benchmark client.
const CLIENT_KEEP_ALIVE: Duration = Duration::from_secs(30);
/// How long a client waits for its CONNACK (and SUBACK).
pub(super) const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// Where the clients connect, and the network they log in to.
#[derive(Debug, Clone)]
pub(in crate::bench) struct Broker {
    pub host: String,
    pub port: u16,
    pub genesis_hash: Hash32,
    /// Whom the clients trust when the broker speaks TLS.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// What a benchmark client's socket carries, which decides whether Nagle's
/// algorithm may hold back its small writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::bench) enum Traffic {
    /// A steady stream, where coalescing small writes is what a client wants:
    /// the raw broker rate is measured so, as the broker's best.
    Stream,
    /// Requests answered one by one (a device's transfers, their receipts, a
    /// login): `TCP_NODELAY`, as a device waiting on an answer sets it. With
    /// Nagle, each small publish waits for the ACK of the one before, which
    /// the broker may delay by tens of milliseconds, and the benchmark
    /// measured those delays instead of the node (embedded broker: 6 500 tx/s
    /// with Nagle on the devices, 9 700 without).
    RequestReply,
}

/// A call on every incoming payload.
pub(in crate::bench) type OnPublish = Box<dyn FnMut(&[u8]) + Send>;

/// Where a client's incoming publishes go.
pub(in crate::bench) enum Sink {
    /// Nowhere: a publishing-only client.
    Ignore,
    /// A call on the client's event-loop task, for cheap per-message work.
    Call(OnPublish),
    /// A bounded queue drained by someone else; a full queue stops the event
    /// loop reading, so the broker sees the back-pressure.
    Queue(mpsc::Sender<Publish>),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sink::Ignore => "Sink::Ignore",
            Sink::Call(_) => "Sink::Call",
            Sink::Queue(_) => "Sink::Queue",
        })
    }
}

/// A connected client whose event loop runs on its own task.
#[derive(Debug)]
pub(in crate::bench) struct Session {
    pub client: AsyncClient,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// MQTT options for `key`'s client `{account}-{suffix}`, logged in with a
/// fresh token.
pub(super) fn login_options(
    broker: &Broker,
    key: &Keypair,
    suffix: &str,
) -> anyhow::Result<MqttOptions> {
    let login = mqtt_login(
        key,
        &broker.genesis_hash,
        Some(suffix),
        &ting_agent::clock::NetworkClock::REAL,
    )?;
    let mut opts = MqttOptions::new(login.client_id, broker.host.clone(), broker.port);
    opts.set_credentials(login.username, login.password);
    if let Some(config) = &broker.tls {
        let tls = rumqttc::TlsConfiguration::Rustls(Arc::clone(config));
        opts.set_transport(rumqttc::Transport::tls_with_config(tls));
    }
    opts.set_keep_alive(CLIENT_KEEP_ALIVE);
    opts.set_max_packet_size(CLIENT_PACKET_BYTES_MAX, CLIENT_PACKET_BYTES_MAX);
    Ok(opts)
}

/// Sets whether `events` may coalesce small writes, and how long it waits
/// for the broker to take its connection.
pub(super) fn set_traffic(events: &mut EventLoop, traffic: Traffic) {
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(traffic == Traffic::RequestReply);
    network.set_connection_timeout(CONNECT_WAIT.as_secs());
    events.set_network_options(network);
}

/// Connects `key`'s client `{account}-{suffix}`, logged in with a fresh
/// token; `sink` takes every message it receives. Returns once the broker has
/// acknowledged the login and `subscribe` (if any).
pub(in crate::bench) async fn connect(
    broker: &Broker,
    key: &Keypair,
    suffix: &str,
    traffic: Traffic,
    subscribe: Option<String>,
    sink: Sink,
) -> anyhow::Result<Session> {
    let mut opts = login_options(broker, key, suffix)?;
    opts.set_inflight(CLIENT_INFLIGHT);
    let (client, mut events) = AsyncClient::new(opts, usize::from(CLIENT_INFLIGHT));
    set_traffic(&mut events, traffic);
    let (ready_tx, ready_rx) = oneshot::channel();
    let want_suback = subscribe.is_some();
    let task = tokio::spawn(drive(events, want_suback, ready_tx, sink));
    if let Some(topic) = subscribe {
        client.subscribe(topic, QoS::AtLeastOnce).await?;
    }
    let ready = tokio::time::timeout(CONNECT_WAIT, ready_rx)
        .await
        .context("the broker did not answer the login in time")?
        .context("the client's event loop stopped")?;
    ready.map_err(|e| anyhow::anyhow!("client {suffix}: {e}"))?;
    Ok(Session { client, task })
}

/// Whether a client is ready, or why not.
type Ready = Result<(), String>;

/// Polls a client's event loop: answers `ready` on the first ConnAck (or
/// SubAck when subscribing) or on the first failure, and hands each incoming
/// publish to `sink`.
async fn drive(
    mut events: EventLoop,
    want_suback: bool,
    ready: oneshot::Sender<Ready>,
    mut sink: Sink,
) {
    let mut ready = Some(ready);
    let mut answer = |r: Ready| {
        if let Some(tx) = ready.take() {
            let _ = tx.send(r);
        }
    };
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) if !want_suback => answer(Ok(())),
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let refused = ack
                    .return_codes
                    .contains(&rumqttc::SubscribeReasonCode::Failure);
                answer(if refused {
                    Err("the broker refused the subscription".into())
                } else {
                    Ok(())
                });
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if !hand_over(&mut sink, p).await {
                    return;
                }
            }
            Ok(_) => {}
            Err(e) => {
                eprintln!("ting bench mqtt: a client's connection failed: {e}");
                answer(Err(e.to_string()));
                return;
            }
        }
    }
}

/// Gives `p` to `sink`; false once a queue's reader has gone.
async fn hand_over(sink: &mut Sink, p: Publish) -> bool {
    match sink {
        Sink::Ignore => true,
        Sink::Call(f) => {
            f(&p.payload);
            true
        }
        Sink::Queue(q) => q.send(p).await.is_ok(),
    }
}

/// Messages counted in a measured window.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rate {
    pub count: u64,
    pub seconds: f64,
}

impl Rate {
    pub fn per_s(self) -> f64 {
        self.count as f64 / self.seconds.max(1e-9)
    }
}

/// Counts what arrives during `[start + WARM_UP, start + WARM_UP + window)`,
/// and what was refused at any time.
#[derive(Debug, Default)]
pub(super) struct Counter {
    measuring: AtomicBool,
    count: AtomicU64,
    refused: AtomicU64,
}

impl Counter {
    pub fn hit(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        if self.measuring.load(Ordering::Relaxed) {
            self.count.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Envelopes a receiver refused: none should be, so any is reported.
    pub fn refuse(&self, n: u64) {
        self.refused.fetch_add(n, Ordering::Relaxed);
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Waits out the warm-up, counts for `window`, and returns the rate.
    pub async fn measure(&self, window: Duration) -> Rate {
        tokio::time::sleep(WARM_UP).await;
        self.measuring.store(true, Ordering::Relaxed);
        let started = Instant::now();
        tokio::time::sleep(window).await;
        self.measuring.store(false, Ordering::Relaxed);
        Rate {
            count: self.count.load(Ordering::Relaxed),
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}
