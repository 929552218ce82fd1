//! A node as `ting node --dev` runs it, in this process: a faucet, its
//! embedded broker on a free port (never 1883) and its HTTP API, for the
//! tests that run the examples.

use std::sync::Arc;

use ting_core::{Genesis, Timestamp};
use ting_node::mqtt::Gateway;
use ting_node::{Node, NodeConfig, Shared};

use super::{sequencer, serve_http, NET};

/// A dev-like node: a faucet, and its embedded broker on a free port (never 1883).
fn dev_node(dir: &std::path::Path) -> Node {
    let genesis = Genesis {
        name: "ting-agent-dev".into(),
        network: NET,
        timestamp: Timestamp(1_700_000_000_000),
        issuers: vec![sequencer().account()],
        sequencers: vec![sequencer().account()],
        allocations: Vec::new(),
        clock: ting_core::LedgerClock::Real,
    };
    let mut cfg = NodeConfig::new(dir.to_path_buf(), genesis, sequencer());
    cfg.verify_workers = 1;
    cfg.faucet = Some(sequencer());
    Node::start(cfg).expect("the node starts")
}

/// A node with its embedded broker and its HTTP API, as `ting node --dev` runs.
pub struct DevNode {
    _dir: tempfile::TempDir,
    pub node: Node,
    pub gateway: Option<Gateway>,
    pub url: String,
}

impl DevNode {
    pub async fn start() -> DevNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = dev_node(dir.path());
        let shared: Arc<Shared> = Arc::clone(node.shared());
        let gateway = super::net::embedded_gateway(Arc::clone(&shared)).await;
        let url = serve_http(shared).await;
        DevNode {
            _dir: dir,
            node,
            gateway: Some(gateway),
            url,
        }
    }

    pub fn gateway(&self) -> &Gateway {
        self.gateway.as_ref().expect("the gateway runs")
    }

    /// Stops the gateway (it says the node left), then the node.
    pub async fn stop(mut self) {
        if let Some(g) = self.gateway.take() {
            g.shutdown().await;
        }
        let node = self.node;
        tokio::task::spawn_blocking(move || node.shutdown())
            .await
            .expect("the node stops");
    }
}
