//! The dashboard bench's node: its keys and genesis, the hub's history
//! written straight into the block log, the node started over it with its
//! index caught up, and its HTTP API served on a free port.
//!
//! History transaction `i < N` is a transfer of one unit from history sender
//! `i % H` (nonce `i / H`) to the hub, with `H = min(N, BLOCK_TXS_MAX)`, so
//! every prefix is valid and transaction `i` sits in block `1 + i /
//! BLOCK_TXS_MAX` at index `i % BLOCK_TXS_MAX` ([`location`]). Transaction
//! `N` is the loner's one transfer, to history sender 0: the loner's page is
//! a page with a history of a single row, and the hub's history stays `N`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ting_core::limits::{BLOCK_TXS_MAX, HTTP_REQUESTS_PER_SOURCE_MAX};
use ting_core::{
    Amount, Genesis, Hash32, Keypair, Nonce, Signature, SignedTx, Timestamp, TxBody, TxKind,
};
use ting_ledger::State;
use ting_node::http::sources::PerSource;
use ting_node::{Node, NodeConfig, Shared};
use tokio::sync::oneshot;

use super::super::recovery::{segment_bytes, LogWriter};
use super::super::workload::{keypair, par_map, BENCH_NETWORK};
use super::super::{now_ms, progress, spinner};
use super::Plan;

/// What the genesis gives each account: far more than any run spends.
const FUNDS_BASE_UNITS: u64 = 1 << 40;
/// Connections beyond the watchers' that the bench opens (the pages' one, and margin).
const EXTRA_CONNECTIONS: usize = 16;
/// Longest wait for the indexer to index the history.
const INDEX_WAIT_MAX: Duration = Duration::from_secs(900);
/// Key purposes (`workload::keypair`).
const NODE_PURPOSE: u8 = 0xd0;
const HUB_PURPOSE: u8 = 0xd1;
const LONER_PURPOSE: u8 = 0xd2;
const HISTORY_PURPOSE: u8 = 0xd3;
const QUIET_PURPOSE: u8 = 0xd4;
const WATCHED_PURPOSE: u8 = 0xd5;

/// Every key of a run.
#[derive(Debug)]
pub struct Keys {
    pub node: Keypair,
    /// The account with the long history.
    pub hub: Keypair,
    /// The account with one transaction.
    pub loner: Keypair,
    /// The senders of the hub's history.
    pub history: Vec<Keypair>,
    /// The senders of the window without watchers.
    pub quiet: Vec<Keypair>,
    /// The senders of the window with watchers: the watched accounts are theirs.
    pub watched: Vec<Keypair>,
    /// Transactions in the hub's history.
    pub history_txs: u64,
}

impl Keys {
    pub fn new(plan: &Plan) -> Keys {
        let h = usize::try_from(plan.history)
            .unwrap_or(usize::MAX)
            .min(BLOCK_TXS_MAX);
        let bar = progress((h + 2 * plan.senders) as u64, "deriving keys");
        let list = |purpose: u8, n: usize| par_map(n, &bar, |i| keypair(purpose, i as u64));
        let keys = Keys {
            node: keypair(NODE_PURPOSE, 0),
            hub: keypair(HUB_PURPOSE, 0),
            loner: keypair(LONER_PURPOSE, 0),
            history: list(HISTORY_PURPOSE, h),
            quiet: list(QUIET_PURPOSE, plan.senders),
            watched: list(WATCHED_PURPOSE, plan.senders),
            history_txs: plan.history,
        };
        bar.finish_and_clear();
        keys
    }

    pub fn genesis(&self) -> Genesis {
        let funded = [&self.hub, &self.loner]
            .into_iter()
            .chain(&self.history)
            .chain(&self.quiet)
            .chain(&self.watched);
        Genesis {
            name: "ting-bench-dashboard".into(),
            network: BENCH_NETWORK,
            timestamp: Timestamp(now_ms()),
            issuers: Vec::new(),
            sequencers: vec![self.node.account()],
            allocations: funded
                .map(|k| (k.account(), Amount::new(FUNDS_BASE_UNITS)))
                .collect(),
            clock: ting_core::LedgerClock::Real,
        }
    }

    /// History transaction `i` (see the module docs), with a zero signature.
    fn history_tx(&self, genesis: &Hash32, i: u64) -> SignedTx {
        let h = self.history.len() as u64;
        let (from, nonce, to) = if i < self.history_txs {
            let from = usize::try_from(i % h).expect("below the senders' count");
            (&self.history[from], i / h, self.hub.account())
        } else {
            (&self.loner, 0, self.history[0].account())
        };
        let body = TxBody {
            genesis: *genesis,
            sender: from.account(),
            nonce: Nonce(nonce),
            valid_until: Timestamp(u64::MAX),
            kind: TxKind::Transfer {
                to,
                amount: Amount::new(1),
                memo: Vec::new(),
            },
        };
        SignedTx::from_parts(body, Signature([0; 64]))
    }
}

/// Where the hub's history transaction `i` is: (block height, index in the block).
pub fn location(i: u64) -> (u64, u64) {
    let per_block = BLOCK_TXS_MAX as u64;
    (1 + i / per_block, i % per_block)
}

/// How long each step of making the node took.
#[derive(Debug, Clone, Copy)]
pub struct BuildFigures {
    /// Writing the history into the block log.
    pub write_s: f64,
    pub log_bytes: u64,
    pub blocks: u64,
    /// `Node::start`: replaying the log.
    pub start_s: f64,
    /// From the start until the query index reached the durable height.
    pub index_s: f64,
}

/// The node, started over the history with its index caught up.
#[derive(Debug)]
pub struct Built {
    pub node: Node,
    pub figures: BuildFigures,
}

pub fn build(dir: &Path, keys: &Keys, genesis: Genesis, plan: &Plan) -> anyhow::Result<Built> {
    let data = dir.join("node");
    let log_dir = data.join("blocks");
    let hash = genesis.hash();
    let written = Instant::now();
    let mut state = State::from_genesis(&genesis, 0);
    let writer = LogWriter {
        dir: &log_dir,
        genesis: &genesis,
        node_key: &keys.node,
    };
    writer.append(
        &mut state,
        (0, keys.history_txs + 1),
        "writing the hub's history",
        |i| keys.history_tx(&hash, i),
    )?;
    let blocks = state.height().0;
    drop(state);
    let write_s = written.elapsed().as_secs_f64();
    let log_bytes = segment_bytes(&log_dir)?;
    let bar = spinner("starting the node (replaying the history)");
    let started = Instant::now();
    let node = Node::start(config(&data, keys, genesis, plan))?;
    let start_s = started.elapsed().as_secs_f64();
    bar.set_message("indexing the history");
    let index_s = match wait_indexed(node.shared()) {
        Ok(()) => started.elapsed().as_secs_f64(),
        Err(e) => {
            node.shutdown();
            return Err(e);
        }
    };
    bar.finish_and_clear();
    Ok(Built {
        node,
        figures: BuildFigures {
            write_s,
            log_bytes,
            blocks,
            start_s,
            index_s,
        },
    })
}

/// The node's configuration: snapshots off (none is written in a window),
/// and room on the HTTP edge for every watcher's connection from 127.0.0.1
/// and its event stream.
fn config(data: &Path, keys: &Keys, genesis: Genesis, plan: &Plan) -> NodeConfig {
    let mut cfg = NodeConfig::new(
        data.to_path_buf(),
        genesis,
        Keypair::from_seed(keys.node.seed()),
    );
    cfg.snapshot_every_blocks = u64::MAX;
    cfg.snapshot_every_txs = u64::MAX;
    cfg.http_per_source = PerSource {
        connections: plan.watchers + EXTRA_CONNECTIONS,
        requests: HTTP_REQUESTS_PER_SOURCE_MAX,
    };
    cfg.event_streams_max = cfg.event_streams_max.max(plan.watchers + EXTRA_CONNECTIONS);
    cfg
}

/// Waits until the query index holds every durable block.
fn wait_indexed(shared: &Shared) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let durable = shared.durable.height();
        let indexed = shared.index.indexed_height()?;
        if indexed >= durable {
            return Ok(());
        }
        if started.elapsed() > INDEX_WAIT_MAX {
            bail!(
                "the index reached height {} of {} in {} s",
                indexed.0,
                durable.0,
                INDEX_WAIT_MAX.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Serves the node's HTTP API and dashboard on a free loopback port, on the
/// current runtime; the sender stops it.
pub async fn serve(shared: &Arc<Shared>) -> anyhow::Result<(SocketAddr, oneshot::Sender<()>)> {
    let listener = ting_node::http::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr().context("the listener's address")?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(ting_node::http::serve(
        listener,
        Arc::clone(shared),
        async {
            let _ = stopped.await;
        },
    ));
    Ok((addr, stop))
}
