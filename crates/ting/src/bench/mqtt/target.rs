//! Which broker `ting bench mqtt` measures, and how its clients reach it: the
//! node's embedded broker, one the user runs (`--mqtt-broker`), or a Mosquitto
//! the benchmark starts itself (`--mosquitto`), with the `ting-mosquitto`
//! plugin when `--mosquitto-plugin` names it. `--tls` puts the embedded broker
//! or that Mosquitto behind TLS with a self-signed certificate that the node
//! and every client pin.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ting_agent::tls::TlsTrust;
use ting_core::Genesis;
use ting_node::mqtt::MqttMode;
use ting_node::tls::ServerTls;

use super::MqttArgs;

/// Where the benchmark looks for Mosquitto.
const MOSQUITTO: &str = "/usr/sbin/mosquitto";
/// How long a started Mosquitto may take to listen.
const MOSQUITTO_START_WAIT: Duration = Duration::from_secs(10);
/// Largest packet the benchmark's Mosquitto takes (the raw runs' payloads
/// and every envelope fit).
const MOSQUITTO_PACKET_BYTES_MAX: usize = 200_000;

/// The broker the gateway uses, and the TLS its clients need.
#[derive(Debug)]
pub(super) struct Target {
    pub mode: MqttMode,
    /// The embedded broker's identity with `--tls`.
    pub server_tls: Option<ServerTls>,
    /// What the node and the clients trust, for a TLS broker.
    pub client_tls: Option<Arc<rustls::ClientConfig>>,
    /// The Mosquitto this run started; stopped on drop.
    pub _mosquitto: Option<Mosquitto>,
    /// What the report calls the broker besides its address.
    pub label: String,
}

/// Settles the broker from the arguments; `dir` holds what it needs on disk.
pub(super) fn choose(args: &MqttArgs, dir: &Path, genesis: &Genesis) -> anyhow::Result<Target> {
    let server_tls = if args.tls {
        Some(ServerTls::dev(dir).context("make the benchmark's TLS certificate")?)
    } else {
        None
    };
    let pinned = match &server_tls {
        Some(t) => Some(Arc::new(TlsTrust::Pin(t.fingerprint).client_config()?)),
        None => None,
    };
    if let Some(url) = &args.mqtt_broker {
        let mode = ting_node::mqtt::parse_broker_url(url)?;
        let MqttMode::External { tls, .. } = &mode else {
            bail!("--mqtt-broker names an external broker");
        };
        let trust = crate::broker_probe::trust(
            url,
            *tls,
            args.mqtt_tls_ca.as_deref(),
            args.mqtt_tls_pin.as_deref(),
        )?;
        return Ok(Target {
            mode,
            server_tls: None,
            client_tls: trust.map(|(config, _)| config),
            _mosquitto: None,
            label: "external".into(),
        });
    }
    if args.mosquitto {
        let plugin = args.mosquitto_plugin.as_deref();
        let m = Mosquitto::start(dir, genesis, plugin, server_tls.as_ref())?;
        let label = match plugin {
            Some(_) => "Mosquitto with the ting-mosquitto plugin",
            None => "Mosquitto, anonymous (no plugin: logins not checked)",
        };
        return Ok(Target {
            mode: MqttMode::External {
                host: m.addr.ip().to_string(),
                port: m.addr.port(),
                tls: args.tls,
            },
            server_tls: None,
            client_tls: pinned,
            _mosquitto: Some(m),
            label: label.into(),
        });
    }
    Ok(Target {
        mode: MqttMode::Embedded {
            listen: "127.0.0.1:0".parse().expect("an address"),
        },
        server_tls,
        client_tls: pinned,
        _mosquitto: None,
        label: "embedded rmqtt".into(),
    })
}

/// A Mosquitto the benchmark started on a free loopback port; killed on drop.
#[derive(Debug)]
pub(super) struct Mosquitto {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Mosquitto {
    fn start(
        dir: &Path,
        genesis: &Genesis,
        plugin: Option<&Path>,
        tls: Option<&ServerTls>,
    ) -> anyhow::Result<Mosquitto> {
        if !Path::new(MOSQUITTO).exists() {
            bail!("--mosquitto needs Mosquitto at {MOSQUITTO}: sudo apt-get install -y mosquitto");
        }
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = dir.join("mosquitto.log");
        let conf = dir.join("mosquitto.conf");
        let text = conf_text(addr, dir, genesis, plugin, tls, &log)?;
        std::fs::write(&conf, text).context("write mosquitto.conf")?;
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("start mosquitto")?;
        let mut m = Mosquitto { child, addr, log };
        let deadline = Instant::now() + MOSQUITTO_START_WAIT;
        while TcpStream::connect(addr).is_err() {
            if m.child.try_wait()?.is_some() || Instant::now() > deadline {
                let log = std::fs::read_to_string(&m.log).unwrap_or_default();
                bail!("mosquitto did not start on {addr}; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(m)
    }
}

/// The benchmark Mosquitto's configuration: one listener, no persistence,
/// `TCP_NODELAY` as docs/operations.md advises (without it a TLS handshake
/// waits on delayed ACKs: 350 logins/s instead of thousands), the plugin
/// with the run's genesis when given, TLS when given.
fn conf_text(
    addr: SocketAddr,
    dir: &Path,
    genesis: &Genesis,
    plugin: Option<&Path>,
    tls: Option<&ServerTls>,
    log: &Path,
) -> anyhow::Result<String> {
    let mut text = format!(
        "listener {} 127.0.0.1\npersistence false\nmax_packet_size {MOSQUITTO_PACKET_BYTES_MAX}\nset_tcp_nodelay true\nlog_dest file {}\n\
         # As root Mosquitto would become the user `mosquitto`, who cannot read this run's directory.\nuser root\n",
        addr.port(),
        log.display()
    );
    if let Some(t) = tls {
        text.push_str(&format!(
            "certfile {}\nkeyfile {}\n",
            t.cert_path.display(),
            t.key_path.display()
        ));
    }
    match plugin {
        Some(path) => {
            let path = path
                .canonicalize()
                .with_context(|| format!("--mosquitto-plugin {}", path.display()))?;
            let genesis_path = dir.join("genesis.json");
            std::fs::write(&genesis_path, ting_core::files::genesis_file_text(genesis))?;
            text.push_str(&format!(
                "allow_anonymous false\nplugin {}\nplugin_opt_genesis {}\n",
                path.display(),
                genesis_path.display()
            ));
        }
        None => text.push_str("allow_anonymous true\n"),
    }
    Ok(text)
}
