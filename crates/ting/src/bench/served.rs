//! A node the benchmarks that need devices run in process: its gateway on
//! the embedded broker and its HTTP API, each on a free loopback port.

use std::sync::Arc;

use anyhow::Context;
use ting_core::{AccountId, Hash32, Keypair};
use ting_node::mqtt::{Gateway, GatewayConfig, MqttMode};
use ting_node::Node;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;

/// The node's broker and API, as the devices reach them.
#[derive(Debug)]
pub(super) struct Net {
    pub gateway: Gateway,
    pub node_url: String,
    pub broker_port: u16,
    pub genesis_hash: Hash32,
    pub sequencer: AccountId,
    /// Stops the HTTP API.
    pub http_stop: oneshot::Sender<()>,
}

/// Starts `node`'s gateway, signing as `node_key`, on its embedded broker
/// (a free port) and its HTTP API (another), on the current runtime.
pub(super) async fn serve(node: &Node, node_key: &Keypair) -> anyhow::Result<Net> {
    let shared = Arc::clone(node.shared());
    let cfg = GatewayConfig {
        mode: MqttMode::Embedded {
            listen: "127.0.0.1:0".parse().expect("an address"),
        },
        key: Keypair::from_seed(node_key.seed()),
        client_id: None,
        connections_per_source: ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX,
        logins_per_s: ting_node::mqtt::limits::MQTT_LOGINS_PER_S,
        tls: None,
        broker_tls: None,
    };
    let gateway = Gateway::start(Arc::clone(&shared), cfg).await?;
    let broker_port = gateway
        .listen_addr()
        .context("an embedded broker has an address")?
        .port();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let node_url = format!("http://{}", listener.local_addr()?);
    let (http_stop, stopped) = oneshot::channel::<()>();
    let genesis_hash = shared.state.read().expect("state lock").genesis_hash();
    tokio::spawn(ting_node::http::serve(listener, shared, async {
        let _ = stopped.await;
    }));
    Ok(Net {
        gateway,
        node_url,
        broker_port,
        genesis_hash,
        sequencer: node_key.account(),
        http_stop,
    })
}

/// A runtime of `workers` threads named `name`, for one side of a benchmark.
pub(super) fn runtime(name: &str, workers: usize) -> anyhow::Result<Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .enable_all()
        .build()?)
}

/// Runs `f` on `rt` (where the devices live) and answers what it made.
pub(super) async fn on<T: Send + 'static>(
    rt: &Handle,
    f: impl std::future::Future<Output = anyhow::Result<T>> + Send + 'static,
) -> anyhow::Result<T> {
    rt.spawn(f).await.context("a device's task panicked")?
}
