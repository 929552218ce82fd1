//! `ting node`: run a node, in dev mode or from a genesis file.
//!
//! Dev mode keeps everything in the data directory: on first start it makes
//! a node key, an issuer key and a genesis naming them (the issuer feeds the
//! faucet); later starts reuse them. Without `--dev` the genesis comes from
//! `--genesis FILE`, the key from `--key FILE` (default `DATA_DIR/node.key`),
//! and there is no faucet.
//!
//! MQTT (docs/mqtt.md §5): by default the node embeds a broker on
//! `--mqtt-listen` (127.0.0.1:1883); `--mqtt-broker mqtt://HOST:PORT` uses a
//! broker already running instead, and `--no-mqtt` turns MQTT off.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::Args;
use ting_core::{Genesis, Keypair, NetworkId, Timestamp};
use ting_node::files::{read_genesis, read_key, read_or_create_key, write_genesis};
use ting_node::mqtt::{parse_broker_url, Gateway, GatewayConfig, MqttMode, MqttStartError};
use ting_node::{Node, NodeConfig, Shared};

/// The network id of dev networks.
pub const DEV_NETWORK: NetworkId = NetworkId(0x7e57);

#[derive(Debug, Args)]
pub struct NodeArgs {
    /// Run a development network: keys and genesis kept in the data directory, faucet on.
    #[arg(long)]
    pub dev: bool,
    /// The genesis file (required without --dev).
    #[arg(long, value_name = "FILE", conflicts_with = "dev")]
    pub genesis: Option<PathBuf>,
    /// The sequencer key file [default: DATA_DIR/node.key].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Where the block log, snapshots and index live.
    #[arg(long, value_name = "DIR", default_value = "ting-data")]
    pub data_dir: PathBuf,
    /// Address of the HTTP API.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub http: SocketAddr,
    /// Address of the embedded MQTT broker (port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_MQTT_LISTEN)]
    pub mqtt_listen: SocketAddr,
    /// Use the MQTT broker at mqtt://HOST:PORT instead of embedding one.
    #[arg(long, value_name = "URL", conflicts_with = "no_mqtt")]
    pub mqtt_broker: Option<String>,
    /// Run without MQTT: no broker, no gateway.
    #[arg(long)]
    pub no_mqtt: bool,
}

/// Where the embedded MQTT broker listens unless told otherwise.
pub const DEFAULT_MQTT_LISTEN: &str = "127.0.0.1:1883";

pub fn random_seed() -> [u8; 32] {
    rand::random()
}

pub fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// The dev network of `dir`: made on first use, read afterwards.
pub fn dev_setup(dir: &Path) -> anyhow::Result<(Genesis, Keypair, Keypair)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let node_key = read_or_create_key(&dir.join("node.key"), random_seed)?;
    let issuer = read_or_create_key(&dir.join("issuer.key"), random_seed)?;
    let path = dir.join("genesis.json");
    let genesis = if path.exists() {
        read_genesis(&path)?
    } else {
        let genesis = Genesis {
            name: "ting-dev".into(),
            network: DEV_NETWORK,
            timestamp: Timestamp(now_ms()),
            issuers: vec![issuer.account()],
            sequencers: vec![node_key.account()],
            allocations: Vec::new(),
        };
        write_genesis(&path, &genesis)?;
        genesis
    };
    if !genesis.issuers.contains(&issuer.account()) {
        bail!(
            "{} does not name the dev issuer key in {}",
            path.display(),
            dir.display()
        );
    }
    Ok((genesis, node_key, issuer))
}

/// The node configuration the arguments describe.
pub fn config(args: &NodeArgs) -> anyhow::Result<NodeConfig> {
    if args.dev {
        let (genesis, key, issuer) = dev_setup(&args.data_dir)?;
        let mut cfg = NodeConfig::new(args.data_dir.clone(), genesis, key);
        cfg.faucet = Some(issuer);
        return Ok(cfg);
    }
    let Some(genesis_path) = &args.genesis else {
        bail!("give --genesis FILE (make one with `ting genesis new`), or run a development network with --dev");
    };
    let genesis = read_genesis(genesis_path)?;
    let key_path = args
        .key
        .clone()
        .unwrap_or_else(|| args.data_dir.join("node.key"));
    let key = read_key(&key_path).with_context(|| {
        format!("the node needs its sequencer key; make one with `ting keygen --out {}` and name it in the genesis", key_path.display())
    })?;
    Ok(NodeConfig::new(args.data_dir.clone(), genesis, key))
}

/// The MQTT set-up the arguments ask for; `None` with `--no-mqtt`.
pub fn mqtt_mode(args: &NodeArgs) -> anyhow::Result<Option<MqttMode>> {
    if args.no_mqtt {
        return Ok(None);
    }
    match &args.mqtt_broker {
        Some(url) => Ok(Some(parse_broker_url(url)?)),
        None => Ok(Some(MqttMode::Embedded {
            listen: args.mqtt_listen,
        })),
    }
}

/// Starts the MQTT gateway of a started node, signing with `key`.
pub fn start_gateway(
    runtime: &tokio::runtime::Runtime,
    shared: &Arc<Shared>,
    key: &Keypair,
    mode: MqttMode,
) -> Result<Gateway, MqttStartError> {
    let cfg = GatewayConfig {
        mode,
        key: Keypair::from_seed(key.seed()),
        client_id: None,
    };
    runtime.block_on(Gateway::start(Arc::clone(shared), cfg))
}

/// Waits for SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install the SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

pub fn run(args: &NodeArgs) -> anyhow::Result<()> {
    let cfg = config(args)?;
    let mqtt = mqtt_mode(args)?;
    let key = Keypair::from_seed(cfg.key.seed());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = runtime.block_on(ting_node::http::bind(args.http))?;
    let network = cfg.genesis.network;
    let node = Node::start(cfg)?;
    let report = node.report().clone();
    let shared = Arc::clone(node.shared());
    let height = shared.durable.height();
    let gateway = match mqtt
        .map(|m| start_gateway(&runtime, &shared, &key, m))
        .transpose()
    {
        Ok(g) => g,
        Err(e) => {
            drop(shared);
            node.shutdown();
            return Err(e.into());
        }
    };
    let mqtt_at = gateway
        .as_ref()
        .map_or("off".to_string(), |g| g.broker().to_string());
    tracing::info!(
        network = network.0,
        height = height.0,
        http = %args.http,
        mqtt = %mqtt_at,
        data_dir = %args.data_dir.display(),
        snapshot = report.snapshot_height,
        replayed_blocks = report.replayed_blocks,
        recovery_ms = u64::try_from(report.took.as_millis()).unwrap_or(u64::MAX),
        faucet = shared.faucet.is_some(),
        "ting node is serving"
    );
    eprintln!(
        "ting node serving http://{} and MQTT {mqtt_at} (network {}, height {}, data dir {})",
        args.http,
        network.0,
        height.0,
        args.data_dir.display()
    );
    runtime.block_on(ting_node::http::serve(listener, shared, shutdown_signal()))?;
    eprintln!("ting node: shutting down, draining the pipeline");
    node.shutdown();
    if let Some(g) = gateway {
        runtime.block_on(g.shutdown());
    }
    eprintln!("ting node: stopped cleanly");
    Ok(())
}
