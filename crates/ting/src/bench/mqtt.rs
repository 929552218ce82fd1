//! `ting bench mqtt`: signed transactions and device messages through a real
//! broker, each beside that broker's raw publish/subscribe rate for the same
//! payload size, measured in the same run.
//!
//! A node runs in-process with its MQTT gateway, on the embedded broker (a free
//! port) or on `--mqtt-broker mqtt://HOST:PORT`. Clients are plain MQTT 3.1.1
//! clients (`rumqttc`), as devices are. Three measurements, one after another,
//! each over `--seconds` after a warm-up:
//!
//! - **raw**: one client publishes QoS 1 messages of a given size to a topic
//!   another client subscribes to; the rate is what the subscriber receives.
//!   Measured at the size of a signed transfer and of a data envelope.
//! - **transactions**: `--devices` clients publish pre-signed transfers to
//!   `ting/v1/tx`, each keeping `TX_WINDOW` unanswered; the rate counts
//!   `receipt` envelopes arriving in their inboxes, each decoded and checked
//!   against the node's key (a receipt is sent only once its block is durable).
//! - **messages**: `--devices` senders publish pre-signed data envelopes
//!   (`MSG_PAYLOAD_BYTES` of payload) to as many receivers' inboxes; a
//!   receiver counts an envelope once `envelope::receive` has accepted it
//!   (strict decode, recipient, signature, window, replay cache).
//!
//! Signing is done before each window, on every core, and not counted: it is
//! the device's cost, not the broker's or the node's. All of it shares this
//! machine's cores with the broker and the node, so the ratios, not the
//! absolute rates, are the figures to compare between machines.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde_json::json;
use ting_core::envelope::{
    receive, Envelope, EnvelopeHeader, EnvelopeId, EnvelopeType, ReplayGuard,
};
use ting_core::{AccountId, Keypair, SignedTx, Timestamp};
use ting_node::mqtt::{Gateway, GatewayConfig, MqttMode};
use ting_node::{Node, NodeConfig};

use super::workload::{self, Accounts, BENCH_NETWORK};
use super::{now_ms, TempDir};

/// Transfers each device keeps published but unanswered.
const TX_WINDOW: usize = 64;
/// Payload bytes of each benchmark data envelope (a reading with some context).
const MSG_PAYLOAD_BYTES: usize = 100;
/// Warm-up before each measured window.
const WARM_UP: Duration = Duration::from_millis(500);
/// The payer/receiver clients' MQTT request queue and in-flight window.
const CLIENT_INFLIGHT: u16 = 100;
/// Target of DESIGN.md §8: paid data points over MQTT at least half the broker's raw rate.
const TARGET_RATIO: f64 = 0.5;

#[derive(Debug, Args)]
pub struct MqttArgs {
    /// Length of each measured window.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Device clients publishing transactions, and sender/receiver pairs of messages.
    #[arg(long, default_value_t = 8)]
    pub devices: usize,
    /// Use this broker instead of embedding one: mqtt://HOST:PORT.
    #[arg(long, value_name = "URL")]
    pub mqtt_broker: Option<String>,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

/// Messages counted in a measured window.
#[derive(Debug, Clone, Copy)]
struct Rate {
    count: u64,
    seconds: f64,
}

impl Rate {
    fn per_s(self) -> f64 {
        self.count as f64 / self.seconds.max(1e-9)
    }
}

pub fn run(args: &MqttArgs) -> anyhow::Result<()> {
    if args.devices == 0 {
        bail!("--devices must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let dir = TempDir::new("mqtt")?;
    let accounts = workload::accounts(2 * args.devices);
    let node_account = accounts.node_key.account();
    let cfg = NodeConfig::new(
        dir.path().join("node"),
        accounts.genesis.clone(),
        Keypair::from_seed(accounts.node_key.seed()),
    );
    let node = Node::start(cfg)?;
    let mode = match &args.mqtt_broker {
        Some(url) => ting_node::mqtt::parse_broker_url(url)?,
        None => MqttMode::Embedded {
            listen: "127.0.0.1:0".parse().expect("an address"),
        },
    };
    let gateway_cfg = GatewayConfig {
        mode,
        key: Keypair::from_seed(accounts.node_key.seed()),
        client_id: None,
        connections_per_source: ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX,
    };
    let gateway = runtime.block_on(Gateway::start(Arc::clone(node.shared()), gateway_cfg))?;
    let broker = gateway.broker().to_owned();
    let (host, port) = host_port(&broker)?;
    eprintln!(
        "ting bench mqtt: broker {broker}, {} devices, {} s windows",
        args.devices, args.seconds
    );
    let window = Duration::from_secs(args.seconds);
    let tx_size = workload::transfer(&accounts.senders, 0, true).bytes().len();
    let sample = data_envelope(&accounts.senders[0], node_account, 0);
    let msg_size = sample.encode().len();
    let result = runtime.block_on(async {
        let raw_tx = raw_rate(&host, port, tx_size, window).await?;
        let raw_msg = raw_rate(&host, port, msg_size, window).await?;
        let txs = tx_rate(&host, port, &accounts, node_account, args.devices, window).await?;
        let msgs = msg_rate(&host, port, &accounts, args.devices, window).await?;
        anyhow::Ok((raw_tx, raw_msg, txs, msgs))
    });
    node.shutdown();
    runtime.block_on(gateway.shutdown());
    let (raw_tx, raw_msg, txs, msgs) = result?;
    let report = Report {
        broker,
        tx_size,
        msg_size,
        raw_tx,
        raw_msg,
        txs,
        msgs,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print();
    }
    Ok(())
}

fn host_port(broker: &str) -> anyhow::Result<(String, u16)> {
    let b = ting_core::broker_url::BrokerUrl::parse(broker)
        .context("the gateway names its broker mqtt://HOST:PORT")?;
    Ok((b.host, b.port))
}

/// What a benchmark client's socket carries, which decides whether Nagle's
/// algorithm may hold back its small writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Traffic {
    /// A steady stream, where coalescing small writes is what a client wants:
    /// the raw broker rate is measured so, as the broker's best.
    Stream,
    /// Requests answered one by one (a device's transfers, their receipts):
    /// `TCP_NODELAY`, as a device waiting on an answer sets it. With Nagle,
    /// each small publish waits for the ACK of the one before, which the
    /// broker may delay by tens of milliseconds, and the benchmark measured
    /// those delays instead of the node (embedded broker: 6 500 tx/s with
    /// Nagle on the devices, 9 700 without).
    RequestReply,
}

/// A connected client whose event loop runs on its own task.
struct Session {
    client: AsyncClient,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Connects a client; `on_publish` sees every message it receives. Returns
/// once the broker has acknowledged `subscribe` (if any).
async fn connect(
    host: &str,
    port: u16,
    id: &str,
    traffic: Traffic,
    subscribe: Option<String>,
    on_publish: impl FnMut(&[u8]) + Send + 'static,
) -> anyhow::Result<Session> {
    let mut opts = MqttOptions::new(id, host, port);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_max_packet_size(256 * 1024, 256 * 1024);
    opts.set_inflight(CLIENT_INFLIGHT);
    let (client, mut events) = AsyncClient::new(opts, usize::from(CLIENT_INFLIGHT));
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(traffic == Traffic::RequestReply);
    events.set_network_options(network);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let want_suback = subscribe.is_some();
    let task = tokio::spawn(drive(events, want_suback, ready_tx, on_publish));
    if let Some(topic) = subscribe {
        client.subscribe(topic, QoS::AtLeastOnce).await?;
    }
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .context("the broker did not answer within 10 s")?
        .context("the client's connection failed")?;
    Ok(Session { client, task })
}

/// Polls a client's event loop: signals `ready` on the first ConnAck (or SubAck
/// when subscribing), and hands each incoming publish to `on_publish`.
async fn drive(
    mut events: EventLoop,
    want_suback: bool,
    ready: tokio::sync::oneshot::Sender<()>,
    mut on_publish: impl FnMut(&[u8]),
) {
    let mut ready = Some(ready);
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) if !want_suback => {
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(());
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => on_publish(&p.payload),
            Ok(_) => {}
            Err(e) => {
                eprintln!("ting bench mqtt: a client's connection failed: {e}");
                return;
            }
        }
    }
}

/// Counts what arrives during `[start + WARM_UP, start + WARM_UP + window)`.
#[derive(Debug, Default)]
struct Counter {
    measuring: AtomicBool,
    count: AtomicU64,
}

impl Counter {
    fn hit(&self) {
        if self.measuring.load(Ordering::Relaxed) {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits out the warm-up, counts for `window`, and returns the rate.
    async fn measure(&self, window: Duration) -> Rate {
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

/// The broker alone: one QoS 1 publisher, one subscriber, `size`-byte payloads.
async fn raw_rate(host: &str, port: u16, size: usize, window: Duration) -> anyhow::Result<Rate> {
    let topic = format!("ting-bench/raw/{}/{size}", now_ms());
    let counter = Arc::new(Counter::default());
    let seen = Arc::clone(&counter);
    let _sub = connect(
        host,
        port,
        &format!("bench-raw-sub-{size}"),
        Traffic::Stream,
        Some(topic.clone()),
        move |_| {
            seen.hit();
        },
    )
    .await?;
    let publisher = connect(
        host,
        port,
        &format!("bench-raw-pub-{size}"),
        Traffic::Stream,
        None,
        |_| {},
    )
    .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let pump = {
        let (client, stop, topic) = (publisher.client.clone(), Arc::clone(&stop), topic.clone());
        let payload = vec![0xa5u8; size];
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if client
                    .publish(&topic, QoS::AtLeastOnce, false, payload.clone())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        })
    };
    let rate = counter.measure(window).await;
    stop.store(true, Ordering::Relaxed);
    let _ = pump.await;
    Ok(rate)
}

/// Signed transfers through `ting/v1/tx`, counted as verified receipts in the inboxes.
async fn tx_rate(
    host: &str,
    port: u16,
    accounts: &Accounts,
    node: AccountId,
    devices: usize,
    window: Duration,
) -> anyhow::Result<Rate> {
    // Enough pre-signed transfers that no device runs dry: a generous guess of the
    // rate this machine can reach, over the warm-up and the window.
    let per_device = usize::try_from(window.as_secs() + 2).unwrap_or(8) * 40_000 / devices;
    let senders = &accounts.senders[..devices];
    let signed = presign(devices, per_device, "signing transfers", |d, n| {
        own_transfer(senders, d, n)
    });
    let counter = Arc::new(Counter::default());
    let mut tasks = Vec::new();
    let mut sessions = Vec::new();
    for (d, txs) in signed.into_iter().enumerate() {
        let key = &senders[d];
        let window_slots = Arc::new(tokio::sync::Semaphore::new(TX_WINDOW));
        let (seen, slots) = (Arc::clone(&counter), Arc::clone(&window_slots));
        let inbox = ting_core::topics::inbox(&key.account());
        let me = key.account();
        let mut guard = ReplayGuard::new(1 << 16);
        let session = connect(
            host,
            port,
            &format!("bench-dev-{d}"),
            Traffic::RequestReply,
            Some(inbox),
            move |bytes| {
                let now = Timestamp(now_ms());
                if let Ok(env) = receive(bytes, &me, BENCH_NETWORK, &mut guard, now) {
                    if env.header.sender == node && env.header.kind == EnvelopeType::RECEIPT {
                        seen.hit();
                        slots.add_permits(1);
                    }
                }
            },
        )
        .await?;
        let client = session.client.clone();
        tasks.push(tokio::spawn(async move {
            for tx in txs {
                let Ok(permit) = window_slots.acquire().await else {
                    return;
                };
                permit.forget();
                let topic = ting_core::topics::TX_TOPIC;
                if client
                    .publish(topic, QoS::AtLeastOnce, false, tx.bytes().to_vec())
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }));
        sessions.push(session);
    }
    Ok(measure_then_stop(&counter, window, tasks, sessions).await)
}

/// `groups` lists of `per_group` items made by `make(group, n)`, on every core,
/// before a window: signing is the device's cost, not what is measured.
fn presign<T: Send>(
    groups: usize,
    per_group: usize,
    what: &str,
    make: impl Fn(usize, u64) -> T + Sync,
) -> Vec<Vec<T>> {
    let bar = super::progress((per_group * groups) as u64, what);
    let out = workload::par_map(groups, &bar, |g| {
        (0..per_group as u64)
            .map(|n| {
                bar.inc(1);
                make(g, n)
            })
            .collect()
    });
    bar.finish_and_clear();
    out
}

/// Measures `counter` over `window`, then stops the publishing tasks and the clients.
async fn measure_then_stop(
    counter: &Counter,
    window: Duration,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    sessions: Vec<Session>,
) -> Rate {
    let rate = counter.measure(window).await;
    for t in &tasks {
        t.abort();
    }
    drop(sessions);
    rate
}

/// Transfer `n` of device `d`, to the next device, with nonce `n`.
fn own_transfer(senders: &[Keypair], d: usize, n: u64) -> SignedTx {
    let from = &senders[d];
    let to = senders[(d + 1) % senders.len()].account();
    ting_core::TxBody {
        network: BENCH_NETWORK,
        sender: from.account(),
        nonce: ting_core::Nonce(n),
        kind: ting_core::TxKind::Transfer {
            to,
            amount: ting_core::Amount::new(1),
            memo: Vec::new(),
        },
    }
    .sign(from)
}

/// A data envelope from `from` to `to`, numbered `n`.
fn data_envelope(from: &Keypair, to: AccountId, n: u64) -> Envelope {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&n.to_le_bytes());
    let header = EnvelopeHeader {
        network: BENCH_NETWORK,
        sender: from.account(),
        recipient: to,
        kind: EnvelopeType::DATA,
        id: EnvelopeId(id),
        timestamp: Timestamp(now_ms()),
        encrypted: false,
    };
    Envelope::sign(header, vec![0x42; MSG_PAYLOAD_BYTES], from).expect("a small payload")
}

/// Signed device-to-device envelopes, counted once each receiver accepted them.
async fn msg_rate(
    host: &str,
    port: u16,
    accounts: &Accounts,
    pairs: usize,
    window: Duration,
) -> anyhow::Result<Rate> {
    let per_pair = usize::try_from(window.as_secs() + 2).unwrap_or(8) * 60_000 / pairs;
    let senders = &accounts.senders[..pairs];
    let receivers = &accounts.senders[pairs..2 * pairs];
    let signed = presign(pairs, per_pair, "signing envelopes", |p, n| {
        data_envelope(&senders[p], receivers[p].account(), n).encode()
    });
    let counter = Arc::new(Counter::default());
    let mut sessions = Vec::new();
    for (p, receiver) in receivers.iter().enumerate() {
        let seen = Arc::clone(&counter);
        let me = receiver.account();
        let mut guard = ReplayGuard::new(ting_core::limits::REPLAY_CACHE_MAX);
        let inbox = ting_core::topics::inbox(&me);
        sessions.push(
            connect(
                host,
                port,
                &format!("bench-rx-{p}"),
                Traffic::Stream,
                Some(inbox),
                move |bytes| {
                    let now = Timestamp(now_ms());
                    if receive(bytes, &me, BENCH_NETWORK, &mut guard, now).is_ok() {
                        seen.hit();
                    }
                },
            )
            .await?,
        );
    }
    let mut tasks = Vec::new();
    for (p, envelopes) in signed.into_iter().enumerate() {
        let session = connect(
            host,
            port,
            &format!("bench-tx-{p}"),
            Traffic::Stream,
            None,
            |_| {},
        )
        .await?;
        let client = session.client.clone();
        let topic = ting_core::topics::inbox(&receivers[p].account());
        tasks.push(tokio::spawn(async move {
            for bytes in envelopes {
                if client
                    .publish(&topic, QoS::AtLeastOnce, false, bytes)
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }));
        sessions.push(session);
    }
    Ok(measure_then_stop(&counter, window, tasks, sessions).await)
}

struct Report {
    broker: String,
    tx_size: usize,
    msg_size: usize,
    raw_tx: Rate,
    raw_msg: Rate,
    txs: Rate,
    msgs: Rate,
}

impl Report {
    fn ratio(&self) -> f64 {
        self.msgs.per_s() / self.raw_msg.per_s().max(1e-9)
    }

    fn tx_ratio(&self) -> f64 {
        self.txs.per_s() / self.raw_tx.per_s().max(1e-9)
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "broker": self.broker,
            "mqtt_tx_per_s": self.txs.per_s(),
            "msgs_per_s": self.msgs.per_s(),
            "broker_raw_per_s": self.raw_msg.per_s(),
            "ratio": self.ratio(),
            "broker_raw_tx_size_per_s": self.raw_tx.per_s(),
            "tx_ratio": self.tx_ratio(),
            "tx_bytes": self.tx_size,
            "msg_bytes": self.msg_size,
            "target_ratio": TARGET_RATIO,
        })
    }

    fn print(&self) {
        println!("ting bench mqtt: broker {}", self.broker);
        println!(
            "  broker raw, {:>3} B (a signed transfer)   {:>9.0} msg/s",
            self.tx_size,
            self.raw_tx.per_s()
        );
        println!(
            "  transactions over MQTT, durable receipt  {:>9.0} tx/s   = {:.3} of raw",
            self.txs.per_s(),
            self.tx_ratio()
        );
        println!(
            "  broker raw, {:>3} B (a data envelope)    {:>9.0} msg/s",
            self.msg_size,
            self.raw_msg.per_s()
        );
        let verdict = if self.ratio() >= TARGET_RATIO {
            "MET"
        } else {
            "MISSED"
        };
        println!(
            "  signed messages, verified on receipt     {:>9.0} msg/s  = {:.3} of raw (target >= {TARGET_RATIO}: {verdict})",
            self.msgs.per_s(),
            self.ratio()
        );
    }
}
