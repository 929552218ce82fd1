//! A node with a broker for the stream tests: its embedded broker, or a
//! Mosquitto it is a client of, and its HTTP API, each on a free port.

use std::sync::Arc;

use ting_core::AccountId;
use ting_node::mqtt::{Gateway, GatewayConfig, MqttMode};

use super::{free_port, gateway, node, sequencer, serve_http, Mosquitto};

/// The node, its broker and its API.
pub struct Net {
    _dir: tempfile::TempDir,
    pub node: ting_node::Node,
    pub gateway: Option<Gateway>,
    _mosquitto: Option<Mosquitto>,
    pub url: String,
    pub port: u16,
}

/// The node's embedded broker on a free loopback port (never 1883).
pub async fn embedded_gateway(shared: Arc<ting_node::Shared>) -> Gateway {
    let cfg = GatewayConfig {
        mode: MqttMode::Embedded {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        },
        key: sequencer(),
        client_id: None,
        connections_per_source: ting_node::mqtt::limits::MQTT_CONNECTIONS_PER_SOURCE_MAX,
        logins_per_s: ting_node::mqtt::limits::MQTT_LOGINS_PER_S,
        tls: None,
        broker_tls: None,
    };
    Gateway::start(shared, cfg)
        .await
        .expect("the gateway starts")
}

impl Net {
    /// A node whose genesis funds `funded` (and the device key), with the
    /// embedded broker or a Mosquitto.
    pub async fn start(embedded: bool, funded: &[(AccountId, u64)]) -> Net {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = node(dir.path(), funded);
        let shared = Arc::clone(node.shared());
        let (gateway, mosquitto, port) = if embedded {
            let g = embedded_gateway(Arc::clone(&shared)).await;
            let port = g.listen_addr().expect("an embedded broker").port();
            (g, None, port)
        } else {
            let port = free_port();
            let m = Mosquitto::start(port);
            (gateway(Arc::clone(&shared), port).await, Some(m), port)
        };
        let url = serve_http(shared).await;
        Net {
            _dir: dir,
            node,
            gateway: Some(gateway),
            _mosquitto: mosquitto,
            url,
            port,
        }
    }

    /// A device of `key` on this node's broker, once it has seen the node.
    pub async fn device(
        &self,
        key: ting_core::Keypair,
        dir: &std::path::Path,
    ) -> ting_agent::Device {
        let d = super::mqtt_device(key, dir, &self.url, self.port).await;
        d.wait_for_node(super::DEADLINE)
            .await
            .expect("the node is seen");
        d
    }

    /// Stops the node, then its gateway (as `Gateway::shutdown` asks).
    pub async fn stop(mut self) {
        let gateway = self.gateway.take();
        let node = self.node;
        tokio::task::spawn_blocking(move || node.shutdown())
            .await
            .expect("the node stops");
        if let Some(g) = gateway {
            g.shutdown().await;
        }
    }
}
