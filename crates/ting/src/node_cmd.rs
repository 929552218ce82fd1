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
//! A start that fails for want of a port or a broker writes nothing: the HTTP
//! listener is bound, the embedded broker's port checked (or an external
//! broker reached) before a dev network's keys and genesis are written or the
//! data directory is touched; and fresh dev keys are made only in an empty or
//! new data directory, never beside another network's log.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use ting_agent::clock::now;
use ting_agent::files::{read_genesis, read_key, write_genesis, write_key};
use ting_core::{Genesis, Keypair, NetworkId};
use ting_node::mqtt::{
    claim_listen, parse_broker_url, Gateway, GatewayConfig, MqttMode, MqttStartError,
};
use ting_node::open_files::OpenFiles;
use ting_node::tls::ServerTls;
use ting_node::{Node, NodeConfig, Shared};

use crate::broker_probe;
use crate::clock_args::ClockOptions;
use crate::failure::bad_input;
use crate::keys_cmd::random_seed;

mod storage_args;
mod witness;
use storage_args::StorageArgs;

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
    /// The sequencer key file [default: DATA_DIR/node.key]; for a witness,
    /// its own key [default: DATA_DIR/witness.key].
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
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Answer an external broker's HTTP auth calls at POST /v1/mqtt/auth and
    /// /v1/mqtt/acl (EMQX and others; docs/operations.md).
    #[arg(long)]
    pub mqtt_auth_hook: bool,
    /// How far the clock may disagree with its own monotonic count (a jump,
    /// either way) before the node stops cutting blocks until it agrees
    /// again, e.g. 60s, 10m, 2h [default: 60s].
    #[arg(long, value_name = "DURATION")]
    pub max_clock_step: Option<String>,
    /// Run ledger time N times faster than real time, from now: for
    /// simulations on a dev network.
    #[arg(long, value_name = "N", requires = "dev", value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    pub clock_speed: Option<u32>,
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Run as a witness of another node's chain: re-execute every block it
    /// serves and attest the headers that check out (needs --follow and
    /// --genesis; docs/witnesses.md).
    #[arg(long, requires = "follow", conflicts_with = "dev")]
    pub witness: bool,
    /// The node a witness follows: its HTTP API, `http://HOST:PORT`.
    #[arg(long, value_name = "URL", requires = "witness")]
    pub follow: Option<String>,
}

impl NodeArgs {
    /// The ledger clock the options name, read before anything is written.
    fn clock(&self) -> anyhow::Result<ClockOptions> {
        ClockOptions::parse(self.max_clock_step.as_deref(), self.clock_speed)
    }
}

/// TLS on the node's HTTP API and embedded MQTT broker (docs/security.md).
#[derive(Debug, Args)]
pub struct TlsArgs {
    /// Serve HTTPS and MQTT over TLS. With --dev and no certificate, the node
    /// makes a self-signed one (kept in DATA_DIR/tls) and prints the pin
    /// clients give to --tls-pin.
    #[arg(long)]
    pub tls: bool,
    /// The server certificate chain, PEM, leaf first (implies --tls).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key, PEM.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

impl TlsArgs {
    /// The identity to serve with: the given files, or a dev network's own;
    /// `None` without TLS.
    pub fn load(&self, data_dir: &Path, dev: bool) -> anyhow::Result<Option<ServerTls>> {
        let loaded = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => ServerTls::load(cert, key),
            _ if !self.tls => return Ok(None),
            _ if dev => ServerTls::dev(data_dir),
            _ => {
                return Err(bad_input(
                    "tls_needs_certificate",
                    "--tls without --dev needs --tls-cert FILE and --tls-key FILE",
                ))
            }
        };
        loaded
            .map(Some)
            .map_err(|e| bad_input(e.code(), e.to_string()))
    }
}

/// How a node (or the demo) does MQTT.
#[derive(Debug, Clone, Args)]
pub struct MqttArgs {
    /// Address of the embedded MQTT broker (port 0: any free port)
    /// [default: 127.0.0.1:1883; with --dev, a free port when that one is taken].
    #[arg(long, value_name = "ADDR")]
    pub mqtt_listen: Option<SocketAddr>,
    /// Use the MQTT broker at mqtt://HOST:PORT (or mqtts://HOST:PORT, over
    /// TLS) instead of embedding one.
    #[arg(long, value_name = "URL", conflicts_with_all = ["no_mqtt", "mqtt_listen"])]
    pub mqtt_broker: Option<String>,
    /// With an mqtts:// broker: trust only the CA certificates in this PEM
    /// file [default: the system's CAs].
    #[arg(
        long,
        value_name = "FILE",
        requires = "mqtt_broker",
        conflicts_with = "mqtt_tls_pin"
    )]
    pub mqtt_tls_ca: Option<PathBuf>,
    /// With an mqtts:// broker: trust only the certificate with this SHA-256
    /// fingerprint (64 hex digits).
    #[arg(long, value_name = "SHA256", requires = "mqtt_broker")]
    pub mqtt_tls_pin: Option<String>,
    /// The broker address /v1/status tells devices [default: the broker's own].
    #[arg(long, value_name = "URL", conflicts_with = "no_mqtt")]
    pub mqtt_advertise: Option<String>,
    /// Run without MQTT: no broker, no gateway.
    #[arg(long)]
    pub no_mqtt: bool,
    /// The embedded broker's limit on connections from one IP address; one
    /// more login is refused (raise it for devices behind one NAT).
    #[arg(long, value_name = "N", default_value_t = per_source_default(), value_parser = clap::value_parser!(u32).range(1..))]
    pub mqtt_per_source: u32,
    /// The embedded broker's limit on logins it checks a second; more are
    /// refused at once and the devices come back after their backoff.
    #[arg(long, value_name = "N", default_value_t = ting_node::mqtt::limits::MQTT_LOGINS_PER_S, value_parser = clap::value_parser!(u32).range(1..))]
    pub mqtt_logins_per_s: u32,
}

fn per_source_default() -> u32 {
    u32::try_from(ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX).expect("fits u32")
}

/// The MQTT set-up, decided (and the embedded broker's port checked) before
/// anything is written.
#[derive(Debug)]
pub struct MqttPlan {
    pub mode: MqttMode,
    pub connections_per_source: usize,
    pub logins_per_s: u32,
    /// The default port was taken and this free one is used instead.
    pub moved_from: Option<SocketAddr>,
    pub advertise: Option<String>,
    /// Whom the node trusts when the external broker speaks TLS.
    pub broker_tls: Option<Arc<rustls::ClientConfig>>,
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
            ting_core::broker_url::BrokerUrl::parse(url).ok_or_else(|| {
                bad_input(
                    "bad_broker_url",
                    format!(
                        "--mqtt-advertise {url:?} is not mqtt://HOST:PORT or mqtts://HOST:PORT"
                    ),
                )
            })?;
        }
        let advertise = self.mqtt_advertise.clone();
        if let Some(url) = &self.mqtt_broker {
            let mode = parse_broker_url(url)?;
            let mut broker_tls = None;
            if let MqttMode::External { host, port, tls } = &mode {
                let trust = broker_probe::trust(
                    url,
                    *tls,
                    self.mqtt_tls_ca.as_deref(),
                    self.mqtt_tls_pin.as_deref(),
                )?;
                broker_probe::probe(url, host, *port, trust.as_ref())?;
                broker_tls = trust.map(|(config, _)| config);
            }
            return Ok(Some(MqttPlan {
                mode,
                connections_per_source: usize::try_from(self.mqtt_per_source)
                    .expect("u32 fits usize"),
                logins_per_s: self.mqtt_logins_per_s,
                moved_from: None,
                advertise,
                broker_tls,
            }));
        }
        let wanted = self.mqtt_listen.unwrap_or(default);
        let (listen, moved_from) = match claim_listen(wanted) {
            Ok(addr) => (addr, None),
            Err(MqttStartError::ListenTaken { addr }) if fallback && self.mqtt_listen.is_none() => {
                (claim_listen(SocketAddr::new(addr.ip(), 0))?, Some(addr))
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Some(MqttPlan {
            mode: MqttMode::Embedded { listen },
            connections_per_source: usize::try_from(self.mqtt_per_source).expect("u32 fits usize"),
            logins_per_s: self.mqtt_logins_per_s,
            moved_from,
            advertise,
            broker_tls: None,
        }))
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
                return Err(bad_input(
                    "invalid_genesis",
                    format!(
                        "{} does not name the dev issuer key {}",
                        paths[2].display(),
                        paths[1].display()
                    ),
                ));
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
            return Err(bad_input(
                "partial_dev_network",
                format!(
                    "{} holds only part of a dev network (node.key, issuer.key, genesis.json); \
                     restore the missing files or use a new --data-dir",
                    dir.display()
                ),
            ));
        }
        if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
            // Fresh keys beside a foreign log would start a network the log is not of.
            return Err(bad_input(
                "not_a_dev_network",
                format!(
                    "{} holds data but no dev network (node.key, issuer.key, genesis.json); \
                     use an empty or new --data-dir, or start it with the --genesis it was made with",
                    dir.display()
                ),
            ));
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
            clock: ting_core::LedgerClock::Real,
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
        return Err(bad_input(
            "invalid_field",
            "give --genesis FILE (make one with `ting genesis new`), or run a development network with --dev",
        ));
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
        return Err(bad_input(
            "not_a_sequencer",
            format!(
                "the key {} ({}) is not a sequencer of {}; the node could sign no block",
                key_path.display(),
                key.account(),
                genesis_path.display()
            ),
        ));
    }
    Ok(NodeConfig::new(args.data_dir.clone(), genesis, key))
}

/// Starts the MQTT gateway of a started node, signing with `key`.
pub fn start_gateway(
    runtime: &tokio::runtime::Runtime,
    shared: &Arc<Shared>,
    key: &Keypair,
    plan: MqttPlan,
    tls: Option<ServerTls>,
) -> Result<Gateway, MqttStartError> {
    if let Some(url) = plan.advertise {
        let _ = shared.mqtt_broker.set(url);
    }
    let cfg = GatewayConfig {
        mode: plan.mode,
        key: Keypair::from_seed(key.seed()),
        client_id: None,
        connections_per_source: plan.connections_per_source,
        logins_per_s: plan.logins_per_s,
        tls,
        broker_tls: plan.broker_tls,
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

/// A node started the way `ting node` and `ting demo` start one.
#[derive(Debug)]
pub struct Started {
    pub node: Node,
    pub gateway: Option<Gateway>,
    /// The identity the HTTP API and the embedded broker serve with, if TLS.
    pub tls: Option<ServerTls>,
    /// The standard MQTT port was taken and this one was used instead.
    pub moved_from: Option<SocketAddr>,
}

impl Started {
    /// Binds the HTTP listener and plans MQTT (checking its port or broker)
    /// before `config` is made, so a start that fails for want of a port or a
    /// broker writes nothing; then starts the node and its gateway. Answers
    /// the started node and its bound HTTP listener, not yet serving.
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        http: SocketAddr,
        mqtt: &MqttArgs,
        fallback: bool,
        config: impl FnOnce(SocketAddr) -> anyhow::Result<(NodeConfig, Option<ServerTls>)>,
    ) -> anyhow::Result<(Started, tokio::net::TcpListener)> {
        let listener = runtime.block_on(ting_node::http::bind(http))?;
        let plan = mqtt.plan(fallback)?;
        let moved_from = plan.as_ref().and_then(|p| p.moved_from);
        // The address bound, not the one asked for: port 0 is a real port by now.
        let (cfg, tls) = config(listener.local_addr()?)?;
        let key = Keypair::from_seed(cfg.key.seed());
        let node = Node::start(cfg)?;
        let shared = Arc::clone(node.shared());
        let gateway = plan.map(|p| start_gateway(runtime, &shared, &key, p, tls.clone()));
        drop(shared);
        match gateway.transpose() {
            Ok(gateway) => Ok((
                Started {
                    node,
                    gateway,
                    tls,
                    moved_from,
                },
                listener,
            )),
            Err(e) => {
                node.shutdown();
                Err(e.into())
            }
        }
    }

    /// Drains the pipeline, then says goodbye on MQTT.
    pub fn stop(self, runtime: &tokio::runtime::Runtime) {
        self.node.shutdown();
        if let Some(g) = self.gateway {
            runtime.block_on(g.shutdown());
        }
    }
}

/// A dev network's node configuration, its files written now (the start
/// calls this only once its ports are settled).
pub fn dev_config(data_dir: &Path) -> anyhow::Result<NodeConfig> {
    let dev = DevNetwork::load(data_dir)?;
    dev.persist()?;
    let mut cfg = NodeConfig::new(data_dir.to_path_buf(), dev.genesis, dev.node_key);
    cfg.faucet = Some(dev.issuer);
    Ok(cfg)
}

/// Where the API is, and how to reach it (with TLS: the pin to trust).
fn http_line(addr: SocketAddr, tls: Option<&ServerTls>) -> String {
    match tls {
        None => format!(
            "http://{addr}  (try: ting status --node http://{addr})\n  WEB   http://{addr}/  the dashboard and explorer, in a browser"
        ),
        Some(t) => format!(
            "https://{addr}  certificate sha256 {pin}\n        (try: ting status --node https://{addr} --tls-pin {pin})\n  WEB   https://{addr}/  the dashboard and explorer, in a browser",
            pin = t.pin()
        ),
    }
}

/// The node's one start message: what it serves and where, and what to try.
fn start_message(args: &NodeArgs, started: &Started, files: OpenFiles) -> String {
    let shared = started.node.shared();
    let g = &shared.genesis;
    let report = started.node.report();
    format!(
        "ting node: serving network {} ({:?}, genesis {}) at height {}\n  HTTP  {}\n  MQTT  {}\n  files {files}\n  data  {} (recovered in {} ms: snapshot at height {}, {} blocks replayed){}",
        g.network,
        g.name,
        shared.genesis_hash,
        shared.durable.height(),
        http_line(args.http, started.tls.as_ref()),
        mqtt_line(started.gateway.as_ref(), started.moved_from),
        args.data_dir.display(),
        report.took.as_millis(),
        report.snapshot_height,
        report.replayed_blocks,
        if shared.faucet.is_some() { "; dev faucet on" } else { "" },
    )
}

pub fn run(args: &NodeArgs) -> anyhow::Result<()> {
    if args.witness {
        return witness::run(args);
    }
    // Before any socket: every device connection is an open file.
    let files = ting_node::open_files::raise();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let clock = args.clock()?;
    let (started, listener) = Started::start(&runtime, args.http, &args.mqtt, args.dev, |bound| {
        let mut cfg = if args.dev {
            dev_config(&args.data_dir)?
        } else {
            production_config(args)?
        };
        cfg.mqtt_auth_hook = args.mqtt_auth_hook;
        clock.apply(&mut cfg);
        args.storage.apply(&mut cfg, bound);
        Ok((cfg, args.tls.load(&args.data_dir, args.dev)?))
    })?;
    eprintln!("{}", start_message(args, &started, files));
    let shared = Arc::clone(started.node.shared());
    let serving =
        ting_node::http::serve_on(listener, started.tls.as_ref(), shared, shutdown_signal());
    runtime.block_on(serving)?;
    eprintln!("ting node: shutting down, draining the pipeline");
    started.stop(&runtime);
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
            mqtt_tls_ca: None,
            mqtt_tls_pin: None,
            mqtt_advertise: None,
            no_mqtt: false,
            mqtt_per_source: per_source_default(),
            mqtt_logins_per_s: ting_node::mqtt::limits::MQTT_LOGINS_PER_S,
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
        let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
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
        let broker = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = broker.local_addr().expect("address").port();
        let mut external = args(None);
        external.mqtt_broker = Some(format!("mqtt://127.0.0.1:{port}"));
        let plan = external.plan(false).expect("plan").expect("some");
        assert!(matches!(plan.mode, MqttMode::External { port: p, .. } if p == port));
        external.mqtt_advertise = Some("not a url".into());
        assert!(external.plan(false).is_err());
        drop(broker);
        external.mqtt_advertise = None;
        let away = external.plan(false).expect_err("nothing listens there");
        assert!(
            away.to_string().contains(&format!("127.0.0.1:{port}")),
            "{away}"
        );
    }
}
