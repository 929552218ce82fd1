//! What an order costs the node beside a transfer: the node's pipeline
//! kept busy in process (`driver`), first with round-robin transfers, then
//! with the order workload (`flow`), each on senders of its own, on one
//! node with interval snapshots off (as `bench market` runs its holds).
//! The workload is made against a copy of the node's state after the
//! class is registered, so every operation applies in submission order.

use std::sync::Arc;
use std::time::Duration;

use ting_core::limits::{QUEUE_TXS_MAX, VERIFY_BATCH_TXS_MAX, VERIFY_QUEUE_TXS_MAX};
use ting_core::{Amount, Genesis, Keypair, SignedTx, Timestamp};
use ting_node::{Node, NodeConfig, Shared};

use super::super::capacity::{self, Capacity};
use super::super::drive::{settle, Phase};
use super::super::workload::{self, par_map, BENCH_NETWORK};
use super::super::{cores, driver, now_ms, progress, spinner, TempDir};
use super::flow::{self, Mix};
use super::{OrdersArgs, WARM_UP};

const CAPACITY_SECONDS: f64 = 1.0;
const CAPACITY_SAMPLE_BATCHES: usize = 8;
/// Workload prepared beyond what the capacity could consume.
const HEADROOM: f64 = 1.3;
/// Transactions kept unanswered: a quarter second of the verification
/// capacity, within the node's queues and at least four batches (see
/// `bench market`).
const INFLIGHT_SECONDS: f64 = 0.25;
const INFLIGHT_MIN: usize = 4 * VERIFY_BATCH_TXS_MAX;
/// Key purposes (`workload::keypair`).
const NODE_PURPOSE: u8 = 0x73;
const ISSUER_PURPOSE: u8 = 0x74;
const TRANSFER_PURPOSE: u8 = 0x75;
const ORDER_PURPOSE: u8 = 0x76;

#[derive(Debug)]
pub(super) struct NodeFigures {
    pub capacity: Capacity,
    pub transfers: Phase,
    pub orders: Phase,
    pub inflight: usize,
    pub mix: Mix,
    pub senders: usize,
}

impl NodeFigures {
    pub fn tx_ratio(&self) -> f64 {
        self.orders.window.rate() / self.transfers.window.rate().max(1e-9)
    }
}

struct Keys {
    node: Keypair,
    issuer: Keypair,
    transfers: Vec<Keypair>,
    orders: Vec<Keypair>,
}

impl Keys {
    fn new(senders: usize) -> Keys {
        let bar = progress(2 * senders as u64, "deriving sender keys");
        let list = |purpose: u8| par_map(senders, &bar, |i| workload::keypair(purpose, i as u64));
        let (transfers, orders) = (list(TRANSFER_PURPOSE), list(ORDER_PURPOSE));
        bar.finish_and_clear();
        Keys {
            node: workload::keypair(NODE_PURPOSE, 0),
            issuer: workload::keypair(ISSUER_PURPOSE, 0),
            transfers,
            orders,
        }
    }

    fn genesis(&self) -> Genesis {
        Genesis {
            name: "ting-bench-orders".into(),
            network: BENCH_NETWORK,
            timestamp: Timestamp(now_ms()),
            issuers: vec![self.issuer.account()],
            sequencers: vec![self.node.account()],
            allocations: self
                .transfers
                .iter()
                .chain(&self.orders)
                .map(|k| (k.account(), Amount::new(1 << 40)))
                .collect(),
            clock: ting_core::LedgerClock::Real,
        }
    }
}

pub(super) fn measure(args: &OrdersArgs) -> anyhow::Result<NodeFigures> {
    let keys = Keys::new(args.tx_senders);
    let genesis = keys.genesis();
    let hash = genesis.hash();
    let sample: Vec<SignedTx> = workload::signed_chunks(
        &keys.transfers,
        &hash,
        CAPACITY_SAMPLE_BATCHES,
        VERIFY_BATCH_TXS_MAX,
    )
    .into_iter()
    .flatten()
    .collect();
    let bar = spinner("measuring verification capacity");
    let capacity = capacity::measure(&sample, cores(), CAPACITY_SECONDS);
    bar.finish_and_clear();
    let dir = TempDir::new("orders")?;
    let mut cfg = NodeConfig::new(
        dir.path().join("node"),
        genesis,
        Keypair::from_seed(keys.node.seed()),
    );
    cfg.snapshot_every_blocks = u64::MAX;
    cfg.snapshot_every_txs = u64::MAX;
    let node = Node::start(cfg)?;
    let measured = run(node.shared(), &keys, args, capacity);
    node.shutdown();
    measured
}

fn run(
    shared: &Arc<Shared>,
    keys: &Keys,
    args: &OrdersArgs,
    capacity: Capacity,
) -> anyhow::Result<NodeFigures> {
    let window = Duration::from_secs(args.tx_seconds);
    let inflight = whole(capacity.per_s * INFLIGHT_SECONDS)
        .clamp(INFLIGHT_MIN, QUEUE_TXS_MAX.min(VERIFY_QUEUE_TXS_MAX));
    let needed = capacity.per_s * (WARM_UP + window).as_secs_f64() * HEADROOM + inflight as f64;
    let register = {
        let state = shared.state.read().expect("state lock");
        flow::register(&keys.issuer, &state)
    };
    let until_done = Duration::from_secs(3_600);
    driver::run(
        shared,
        vec![vec![register]],
        inflight,
        Duration::ZERO,
        until_done,
    )?;
    let mut dry = shared.state.read().expect("state lock").clone();
    let bar = spinner("making the order workload");
    let flow = flow::make(
        &mut dry,
        &keys.orders,
        whole(needed),
        Timestamp(now_ms()),
        args.seed,
    );
    bar.finish_and_clear();
    drop(dry);
    let orders = sign(&flow, &keys.orders);
    let hash = shared.state.read().expect("state lock").genesis_hash();
    let chunks = whole(needed / VERIFY_BATCH_TXS_MAX as f64);
    let transfers = workload::signed_chunks(&keys.transfers, &hash, chunks, VERIFY_BATCH_TXS_MAX);
    let transfers = peak(shared, transfers, inflight, window, "transfers")?;
    let orders = peak(shared, orders, inflight, window, "orders")?;
    Ok(NodeFigures {
        capacity,
        transfers,
        orders,
        inflight,
        mix: flow.mix,
        senders: args.tx_senders,
    })
}

/// Keeps the pipeline busy with `chunks` for a warm-up and the window,
/// the query index caught up first.
fn peak(
    shared: &Arc<Shared>,
    chunks: Vec<Vec<SignedTx>>,
    inflight: usize,
    window: Duration,
    what: &str,
) -> anyhow::Result<Phase> {
    let bar = spinner("waiting for the indexer to catch up");
    settle(shared);
    bar.set_message(format!("{what}: keeping the pipeline busy"));
    let phase = driver::run(shared, chunks, inflight, WARM_UP, window);
    bar.finish_and_clear();
    phase
}

/// The workload signed on every core, in chunks of the verification batch.
fn sign(flow: &flow::Flow, senders: &[Keypair]) -> Vec<Vec<SignedTx>> {
    let n = flow.bodies.len();
    let bar = progress(n as u64, "signing the orders");
    let chunks = n.div_ceil(VERIFY_BATCH_TXS_MAX);
    let out = par_map(chunks, &bar, |c| {
        let from = c * VERIFY_BATCH_TXS_MAX;
        let to = (from + VERIFY_BATCH_TXS_MAX).min(n);
        bar.inc((to - from) as u64 - 1);
        flow.bodies[from..to]
            .iter()
            .map(|(s, body)| body.clone().sign(&senders[*s]))
            .collect()
    });
    bar.finish_and_clear();
    out
}

/// `v` rounded up to a count; `v` is a non-negative count far below `usize::MAX`.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn whole(v: f64) -> usize {
    v.max(0.0).ceil() as usize
}
