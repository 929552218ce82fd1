//! `ting node`: run a node, in dev mode or from a genesis file.
//!
//! Dev mode keeps everything in the data directory: on first start it makes
//! a node key, an issuer key and a genesis naming them (the issuer feeds the
//! faucet); later starts reuse them. Without `--dev` the genesis comes from
//! `--genesis FILE`, the key from `--key FILE` (default `DATA_DIR/node.key`),
//! and there is no faucet.
//!
//! MQTT (docs/mqtt.md §5): by default the node embeds a broker on
//! `--mqtt-listen` (127.0.0.1:1883; in dev mode a free port when that one is
//! taken, as it is wherever a system Mosquitto runs); `--mqtt-broker
//! mqtt://HOST:PORT` uses a broker already running instead, and `--no-mqtt`
//! turns MQTT off. Devices learn the broker from `/v1/status`
//! (`--mqtt-advertise` overrides what it says).
//!
//! A start that fails writes nothing: both listeners are bound (or their
//! ports checked) before a dev network's keys and genesis are written or the
//! data directory is touched.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use ting_agent::clock::now;
use ting_agent::files::{read_genesis, read_key, write_genesis, write_key};
use ting_core::{Genesis, Keypair, NetworkId};
use ting_node::mqtt::{parse_broker_url, Gateway, GatewayConfig, MqttMode, MqttStartError};
use ting_node::{Node, NodeConfig, Shared};

use crate::keys_cmd::random_seed;

/// The network id of dev networks.
pub const DEV_NETWORK: NetworkId = NetworkId(0x7e57);

/// Where the embedded MQTT broker listens unless told otherwise.
pub const DEFAULT_MQTT_LISTEN: &str = "127.0.0.1:1883";

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
    #[command(flatten)]
    pub mqtt: MqttArgs,
}

/// How a node (or the demo) does MQTT.
#[derive(Debug, Args)]
pub struct MqttArgs {
    /// Address of the embedded MQTT broker (port 0: any free port)
    /// [default: 127.0.0.1:1883; with --dev, a free port when that one is taken].
    #[arg(long, value_name = "ADDR")]
    pub mqtt_listen: Option<SocketAddr>,
    /// Use the MQTT broker at mqtt://HOST:PORT instead of embedding one.
    #[arg(long, value_name = "URL", conflicts_with_all = ["no_mqtt", "mqtt_listen"])]
    pub mqtt_broker: Option<String>,
    /// The broker address /v1/status tells devices [default: the broker's own].
    #[arg(long, value_name = "URL", conflicts_with = "no_mqtt")]
    pub mqtt_advertise: Option<String>,
    /// Run without MQTT: no broker, no gateway.
    #[arg(long)]
    pub no_mqtt: bool,
}

/// The MQTT set-up, decided (and the embedded broker's port checked) before
/// anything is written.
#[derive(Debug)]
pub struct MqttPlan {
    pub mode: MqttMode,
    /// The default port was taken and this free one is used instead.
    pub moved_from: Option<SocketAddr>,
    pub advertise: Option<String>,
}

impl MqttArgs {
    /// The plan the arguments ask for; `None` with `--no-mqtt`. With
    /// `fallback`, a taken default port is replaced by a free one.
    pub fn plan(&self, fallback: bool) -> anyhow::Result<Option<MqttPlan>> {
        let default: SocketAddr = DEFAULT_MQTT_LISTEN.parse().expect("a socket address");
        self.plan_with_default(fallback, default)
    }

    fn plan_with_default(
        &self,
        fallback: bool,
        default: SocketAddr,
    ) -> anyhow::Result<Option<MqttPlan>> {
        if self.no_mqtt {
            return Ok(None);
        }
        if let Some(url) = &self.mqtt_advertise {
            parse_broker_url(url).context("--mqtt-advertise")?;
        }
        let advertise = self.mqtt_advertise.clone();
        if let Some(url) = &self.mqtt_broker {
            let mode = parse_broker_url(url)?;
            return Ok(Some(MqttPlan {
                mode,
                moved_from: None,
                advertise,
            }));
        }
        let wanted = self.mqtt_listen.unwrap_or(default);
        let (listen, moved_from) = match claim(wanted) {
            Ok(addr) => (addr, None),
            Err(MqttStartError::ListenTaken { addr }) if fallback && self.mqtt_listen.is_none() => {
                (claim(SocketAddr::new(addr.ip(), 0))?, Some(addr))
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Some(MqttPlan {
            mode: MqttMode::Embedded { listen },
            moved_from,
            advertise,
        }))
    }
}

/// Checks that `addr` can be listened on and answers it with port 0 resolved.
/// The port is free again when this returns; the broker binds it moments later.
fn claim(addr: SocketAddr) -> Result<SocketAddr, MqttStartError> {
    match TcpListener::bind(addr) {
        Ok(l) => l
            .local_addr()
            .map_err(|source| MqttStartError::Bind { addr, source }),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Err(MqttStartError::ListenTaken { addr })
        }
        Err(source) => Err(MqttStartError::Bind { addr, source }),
    }
}

/// A dev network's keys and genesis: read from its data directory, or made
/// in memory to be written by [`DevNetwork::persist`] once the start is safe.
#[derive(Debug)]
pub struct DevNetwork {
    pub genesis: Genesis,
    pub node_key: Keypair,
    pub issuer: Keypair,
    dir: PathBuf,
    fresh: bool,
}

impl DevNetwork {
    /// The dev network of `dir`: read if it has one (all three files), made
    /// new in memory if it has none, refused if it has only some.
    pub fn load(dir: &Path) -> anyhow::Result<DevNetwork> {
        let paths = dev_paths(dir);
        let present: Vec<bool> = paths.iter().map(|p| p.exists()).collect();
        if present.iter().all(|p| *p) {
            let node_key = read_key(&paths[0])?;
            let issuer = read_key(&paths[1])?;
            let genesis = read_genesis(&paths[2])?;
            if !genesis.issuers.contains(&issuer.account()) {
                bail!(
                    "{} does not name the dev issuer key {}",
                    paths[2].display(),
                    paths[1].display()
                );
            }
            return Ok(DevNetwork {
                genesis,
                node_key,
                issuer,
                dir: dir.to_path_buf(),
                fresh: false,
            });
        }
        if present.iter().any(|p| *p) {
            bail!(
                "{} holds only part of a dev network (node.key, issuer.key, genesis.json); \
                 restore the missing files or use a new --data-dir",
                dir.display()
            );
        }
        let node_key = Keypair::from_seed(random_seed());
        let issuer = Keypair::from_seed(random_seed());
        let genesis = Genesis {
            name: "ting-dev".into(),
            network: DEV_NETWORK,
            timestamp: now(),
            issuers: vec![issuer.account()],
            sequencers: vec![node_key.account()],
            allocations: Vec::new(),
        };
        Ok(DevNetwork {
            genesis,
            node_key,
            issuer,
            dir: dir.to_path_buf(),
            fresh: true,
        })
    }

    /// Writes a new network's files (the keys first: a genesis without its
    /// keys would be useless); nothing for one read from disk.
    pub fn persist(&self) -> anyhow::Result<()> {
        if !self.fresh {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let [node, issuer, genesis] = dev_paths(&self.dir);
        write_key(&node, &self.node_key)?;
        write_key(&issuer, &self.issuer)?;
        write_genesis(&genesis, &self.genesis)?;
        Ok(())
    }
}

fn dev_paths(dir: &Path) -> [PathBuf; 3] {
    [
        dir.join("node.key"),
        dir.join("issuer.key"),
        dir.join("genesis.json"),
    ]
}

/// The genesis and keys of a production node, all read from files.
fn production_config(args: &NodeArgs) -> anyhow::Result<NodeConfig> {
    let Some(genesis_path) = &args.genesis else {
        bail!("give --genesis FILE (make one with `ting genesis new`), or run a development network with --dev");
    };
    let genesis = read_genesis(genesis_path)?;
    let key_path = args
        .key
        .clone()
        .unwrap_or_else(|| args.data_dir.join("node.key"));
    let key = read_key(&key_path).with_context(|| {
        format!(
            "the node needs its sequencer key; make one with `ting keygen --out {}` and name it in the genesis",
            key_path.display()
        )
    })?;
    if !genesis.sequencers.contains(&key.account()) {
        bail!(
            "the key {} ({}) is not a sequencer of {}; the node could sign no block",
            key_path.display(),
            key.account(),
            genesis_path.display()
        );
    }
    Ok(NodeConfig::new(args.data_dir.clone(), genesis, key))
}

/// Starts the MQTT gateway of a started node, signing with `key`.
pub fn start_gateway(
    runtime: &tokio::runtime::Runtime,
    shared: &Arc<Shared>,
    key: &Keypair,
    plan: MqttPlan,
) -> Result<Gateway, MqttStartError> {
    if let Some(url) = plan.advertise {
        let _ = shared.mqtt_broker.set(url);
    }
    let cfg = GatewayConfig {
        mode: plan.mode,
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

/// A line on the MQTT broker the node uses, for its start message.
pub fn mqtt_line(gateway: Option<&Gateway>, moved_from: Option<SocketAddr>) -> String {
    match (gateway, moved_from) {
        (None, _) => "off (--no-mqtt)".to_owned(),
        (Some(g), Some(taken)) => format!(
            "{}  ({taken} was taken, so a free port is used; devices find it in /v1/status)",
            g.broker()
        ),
        (Some(g), None) => format!("{}  (devices find it in /v1/status)", g.broker()),
    }
}

pub fn run(args: &NodeArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Everything that can fail for reasons outside the data directory comes first.
    let listener = runtime.block_on(ting_node::http::bind(args.http))?;
    let plan = args.mqtt.plan(args.dev)?;
    let moved_from = plan.as_ref().and_then(|p| p.moved_from);
    let cfg = if args.dev {
        let dev = DevNetwork::load(&args.data_dir)?;
        dev.persist()?;
        let mut cfg = NodeConfig::new(args.data_dir.clone(), dev.genesis, dev.node_key);
        cfg.faucet = Some(dev.issuer);
        cfg
    } else {
        production_config(args)?
    };
    let key = Keypair::from_seed(cfg.key.seed());
    let (network, name, genesis_hash) = (
        cfg.genesis.network,
        cfg.genesis.name.clone(),
        cfg.genesis.hash(),
    );
    let node = Node::start(cfg)?;
    let report = node.report().clone();
    let shared = Arc::clone(node.shared());
    let gateway = match plan
        .map(|p| start_gateway(&runtime, &shared, &key, p))
        .transpose()
    {
        Ok(g) => g,
        Err(e) => {
            drop(shared);
            node.shutdown();
            return Err(e.into());
        }
    };
    eprintln!(
        "ting node: serving network {network} ({name:?}, genesis {genesis_hash}) at height {}\n  HTTP  http://{}  (try: ting status --node http://{})\n  MQTT  {}\n  data  {} (recovered in {} ms: snapshot at height {}, {} blocks replayed){}",
        shared.durable.height(),
        args.http,
        args.http,
        mqtt_line(gateway.as_ref(), moved_from),
        args.data_dir.display(),
        report.took.as_millis(),
        report.snapshot_height,
        report.replayed_blocks,
        if shared.faucet.is_some() { "; dev faucet on" } else { "" },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(listen: Option<SocketAddr>) -> MqttArgs {
        MqttArgs {
            mqtt_listen: listen,
            mqtt_broker: None,
            mqtt_advertise: None,
            no_mqtt: false,
        }
    }

    fn listen_of(plan: Option<MqttPlan>) -> (SocketAddr, Option<SocketAddr>) {
        match plan.expect("a plan") {
            MqttPlan {
                mode: MqttMode::Embedded { listen },
                moved_from,
                ..
            } => (listen, moved_from),
            other => panic!("not embedded: {other:?}"),
        }
    }

    #[test]
    fn a_taken_default_port_moves_to_a_free_one_only_when_allowed() {
        let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
        let taken = holder.local_addr().expect("address");
        let (listen, moved) = listen_of(args(None).plan_with_default(true, taken).expect("plan"));
        assert_ne!(listen.port(), taken.port());
        assert_ne!(
            listen.port(),
            0,
            "the free port is resolved before the start line"
        );
        assert_eq!(moved, Some(taken));
        let refused = args(None)
            .plan_with_default(false, taken)
            .expect_err("no fallback");
        assert!(refused.to_string().contains("--mqtt-listen"), "{refused}");
        let explicit = args(Some(taken)).plan_with_default(true, taken);
        assert!(
            explicit.is_err(),
            "an address the user chose is never moved"
        );
    }

    #[test]
    fn no_mqtt_and_an_external_broker_bind_nothing() {
        let mut off = args(None);
        off.no_mqtt = true;
        assert!(off.plan(true).expect("plan").is_none());
        let mut external = args(None);
        external.mqtt_broker = Some("mqtt://broker.local:1884".into());
        let plan = external.plan(false).expect("plan").expect("some");
        assert!(matches!(plan.mode, MqttMode::External { port: 1884, .. }));
        external.mqtt_advertise = Some("not a url".into());
        assert!(external.plan(false).is_err());
    }
}
