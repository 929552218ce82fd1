//! `ting bench mqtt`: device logins, signed transactions and device messages
//! through a real broker, each beside its ceiling measured in the same run.
//!
//! A node runs in-process with its MQTT gateway, on the embedded broker (a free
//! port), on `--mqtt-broker mqtt://HOST:PORT`, or on a Mosquitto the benchmark
//! starts (`--mosquitto`, with the `ting-mosquitto` plugin when
//! `--mosquitto-plugin` names it); `--tls` puts the embedded broker or that
//! Mosquitto behind TLS with a certificate every client pins (`target`). Clients are plain MQTT 3.1.1
//! clients (`rumqttc`), as devices are, and every one of them logs in as an
//! account with a fresh login token (docs/mqtt.md §9) and keeps to the topics
//! the ACL gives a device (§10). A broker that does not check logins (an
//! anonymous Mosquitto) ignores the credentials. One after another:
//!
//! - **verification capacity**: this machine's rate of batch-verifying
//!   envelope signatures on every core, nothing else running (`verify`).
//! - **logins**: devices with keys of their own connect with a fresh token,
//!   wait for the CONNACK and disconnect, several at once (`logins`).
//! - **raw**: `--devices` clients each publish QoS 1 opaque payloads of a
//!   given size to another client's inbox, which that client subscribes to;
//!   the rate is what the subscribers receive. Measured at the size of a
//!   signed transfer and of a data envelope.
//! - **transactions**: `--devices` clients publish pre-signed transfers to
//!   `ting/v1/tx`, each keeping a window unanswered; the rate counts
//!   `receipt` envelopes arriving in their inboxes, each decoded and checked
//!   against the node's key (a receipt is sent only once its block is durable).
//! - **messages**: `--devices` senders publish pre-signed data envelopes to as
//!   many receivers' inboxes; a receiver drains what has queued and checks it
//!   with `envelope::receive_batch` (`messages`). Its ratio is over the lower
//!   of the two ceilings: the broker's raw rate at that size, and the
//!   machine's verification capacity.
//!
//! Each broker run is over `--seconds` after a warm-up. Signing is done before
//! each window, on every core, and not counted: it is the device's cost, not
//! the broker's or the node's. All of it shares this machine's cores with the
//! broker and the node, so the ratios, not the absolute rates, are the figures
//! to compare between machines.

mod flows;
mod logins;
mod messages;
mod report;
pub(super) mod session;
mod target;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use ting_core::envelope::{Envelope, RECEIVE_BATCH_MAX};
use ting_core::Keypair;
use ting_node::mqtt::{Gateway, GatewayConfig};
use ting_node::{Node, NodeConfig};

use super::workload::{self, Accounts};
use super::{cores, now_ms, TempDir};
use report::Report;
use session::Broker;

/// Warm-up before each measured window.
const WARM_UP: Duration = Duration::from_millis(500);
/// Target of DESIGN.md §8: paid data points over MQTT at least half the
/// broker's raw rate (here: of the lower of it and the verification capacity).
const TARGET_RATIO: f64 = 0.5;
/// Most envelopes a bench receiver checks in one `receive_batch`, and the
/// batch of the capacity run: the node's own verification batch.
const MSG_BATCH_MAX: usize = ting_core::limits::VERIFY_BATCH_TXS_MAX;
/// Length of the verification capacity run.
const VERIFY_WINDOW: Duration = Duration::from_secs(2);
/// Distinct batches the capacity run cycles through.
const VERIFY_SAMPLE_BATCHES: usize = 32;

const _: () = assert!(MSG_BATCH_MAX <= RECEIVE_BATCH_MAX);

#[derive(Debug, Args)]
pub struct MqttArgs {
    /// Length of each measured window.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Device clients publishing transactions, and sender/receiver pairs of messages.
    #[arg(long, default_value_t = 8)]
    pub devices: usize,
    /// Use this broker instead of embedding one: mqtt://HOST:PORT, or
    /// mqtts://HOST:PORT with --mqtt-tls-ca or --mqtt-tls-pin.
    #[arg(long, value_name = "URL", conflicts_with_all = ["mosquitto", "tls"])]
    pub mqtt_broker: Option<String>,
    /// With an mqtts:// --mqtt-broker: trust only the CA certificates in this file.
    #[arg(
        long,
        value_name = "FILE",
        requires = "mqtt_broker",
        conflicts_with = "mqtt_tls_pin"
    )]
    pub mqtt_tls_ca: Option<std::path::PathBuf>,
    /// With an mqtts:// --mqtt-broker: trust only the certificate with this SHA-256.
    #[arg(long, value_name = "SHA256", requires = "mqtt_broker")]
    pub mqtt_tls_pin: Option<String>,
    /// Start a Mosquitto (/usr/sbin/mosquitto) on a free port and measure it
    /// instead of the embedded broker.
    #[arg(long)]
    pub mosquitto: bool,
    /// Load this ting-mosquitto plugin into that Mosquitto, so that it checks
    /// every login and topic [default: none, an anonymous broker].
    #[arg(long, value_name = "FILE", requires = "mosquitto")]
    pub mosquitto_plugin: Option<std::path::PathBuf>,
    /// Clients and the node reach the broker (embedded, or --mosquitto) over
    /// TLS, with a self-signed certificate they pin.
    #[arg(long)]
    pub tls: bool,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
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
    let verify = verify_capacity(&accounts, args.devices);
    let target = target::choose(args, dir.path(), &accounts.genesis)?;
    let node = Node::start(NodeConfig::new(
        dir.path().join("node"),
        accounts.genesis.clone(),
        Keypair::from_seed(accounts.node_key.seed()),
    ))?;
    let gateway_cfg = GatewayConfig {
        mode: target.mode.clone(),
        key: Keypair::from_seed(accounts.node_key.seed()),
        client_id: None,
        connections_per_source: ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX,
        // The broker's capacity is what `logins_per_s` measures: no gate.
        logins_per_s: u32::MAX,
        tls: target.server_tls.clone(),
        broker_tls: target.client_tls.clone(),
    };
    let gateway = runtime.block_on(Gateway::start(Arc::clone(node.shared()), gateway_cfg))?;
    let url = gateway.broker().to_owned();
    eprintln!(
        "ting bench mqtt: broker {url} ({}), {} devices, {} s windows",
        target.label, args.devices, args.seconds
    );
    let result = broker(&url, &accounts, target.client_tls.clone())
        .and_then(|b| runtime.block_on(measure(&b, &accounts, args, verify.per_s)));
    node.shutdown();
    runtime.block_on(gateway.shutdown());
    let target_label = target.label.clone();
    drop(target);
    let m = result?;
    let report = Report {
        broker: url,
        label: target_label,
        tx_size: m.tx_size,
        msg_size: m.msg_size,
        verify,
        logins: m.logins,
        raw_tx: m.raw_tx,
        raw_msg: m.raw_msg,
        txs: m.txs,
        msgs: m.msgs,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print();
    }
    Ok(())
}

/// Where the clients connect, from the gateway's broker URL, and whom they
/// trust when it speaks TLS.
fn broker(
    url: &str,
    accounts: &Accounts,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> anyhow::Result<Broker> {
    let b = ting_core::broker_url::BrokerUrl::parse(url)
        .context("the gateway names its broker mqtt://HOST:PORT")?;
    if b.tls && tls.is_none() {
        bail!("the broker {url} speaks TLS and the benchmark was given no trust for it");
    }
    Ok(Broker {
        host: b.host,
        port: b.port,
        genesis_hash: accounts.genesis.hash(),
        tls: if b.tls { tls } else { None },
    })
}

/// The machine's batch verification rate of data envelopes like those of the
/// messages run, measured before the node starts.
fn verify_capacity(accounts: &Accounts, pairs: usize) -> super::capacity::Capacity {
    let count = VERIFY_SAMPLE_BATCHES * MSG_BATCH_MAX;
    let sample: Vec<Envelope> =
        flows::presign(1, count, "signing a verification sample", |_, n| {
            let p = usize::try_from(n).expect("a small index") % pairs;
            let to = accounts.senders[pairs + p].account();
            messages::data_envelope(&accounts.senders[p], to, n, &accounts.genesis.hash())
        })
        .concat();
    let bar = super::spinner("measuring verification capacity");
    let capacity = verify::measure(&sample, cores(), VERIFY_WINDOW);
    bar.finish_and_clear();
    capacity
}

/// What the broker runs measured.
#[derive(Debug)]
struct BrokerFigures {
    tx_size: usize,
    msg_size: usize,
    logins: logins::Logins,
    raw_tx: session::Rate,
    raw_msg: session::Rate,
    txs: flows::Measured,
    msgs: messages::Messages,
}

/// The broker runs, one after another.
async fn measure(
    broker: &Broker,
    accounts: &Accounts,
    args: &MqttArgs,
    verify_per_s: f64,
) -> anyhow::Result<BrokerFigures> {
    let window = Duration::from_secs(args.seconds);
    let node_account = accounts.node_key.account();
    let tx_size = workload::transfer(&accounts.senders, &accounts.genesis.hash(), 0, true)
        .bytes()
        .len();
    let msg_size =
        messages::data_envelope(&accounts.senders[0], node_account, 0, &broker.genesis_hash)
            .encode()
            .len();
    let logins = logins::login_rate(broker).await?;
    let raw_tx = flows::raw_rate(broker, args.devices, tx_size, window).await?;
    let raw_msg = flows::raw_rate(broker, args.devices, msg_size, window).await?;
    let txs = flows::tx_rate(broker, accounts, node_account, args.devices, window).await?;
    let msgs = messages::msg_rate(broker, accounts, args.devices, window, verify_per_s).await?;
    Ok(BrokerFigures {
        tx_size,
        msg_size,
        logins,
        raw_tx,
        raw_msg,
        txs,
        msgs,
    })
}
