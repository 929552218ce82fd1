//! The node `ting bench market` runs on, set up as a deployment would be:
//! a genesis that funds every buyer device, every provider and the senders
//! of the transaction workloads; a node with its embedded broker and HTTP
//! API on free ports (never 1883); and how a device reaches them. The
//! benchmark knows the network, so no device learns it on first use.

use std::time::Duration;

use ting_agent::{Device, DeviceConfig, TlsTrust};
use ting_core::{AccountId, Amount, Genesis, Hash32, Keypair, Timestamp};
use ting_node::{Node, NodeConfig};

use super::super::now_ms;
use super::super::workload::{self, par_map, BENCH_NETWORK};

/// What the genesis gives each account: far more than a run spends (a
/// hold locks its price and `HOLD_DEPOSIT`, which comes back).
const FUNDS_BASE_UNITS: u64 = 1 << 40;
/// The most devices a run starts. Each keeps its HTTP connections to the
/// node open (one, or two when its link and its app ask at once), and all
/// of them come from 127.0.0.1, one source to the node, which takes at
/// most `HTTP_CONNECTIONS_PER_SOURCE_MAX` (128) connections from one
/// source and closes the rest at once: past it the devices' reads fail
/// ("connection closed before message completed"), as they did with 112
/// devices. Half the limit leaves room for two each.
pub(super) const DEVICES_MAX: usize = ting_core::limits::HTTP_CONNECTIONS_PER_SOURCE_MAX / 2;
/// How long a device may take to see the node on the broker.
const NODE_WAIT: Duration = Duration::from_secs(10);

/// Key purposes (`workload::keypair`): distinct from every other benchmark's.
const NODE_PURPOSE: u8 = 0x6d;
const BUYER_PURPOSE: u8 = 0x6b;
const PROVIDER_PURPOSE: u8 = 0x6c;
/// The three transaction workloads: transfers, holds released by
/// evidence, holds released by the payer.
pub(super) const TX_PURPOSES: [u8; 3] = [0x60, 0x61, 0x62];

/// The run's keys.
#[derive(Debug)]
pub(super) struct Keys {
    pub node: Keypair,
    /// `buyers` pools of `pool` devices each, pool by pool.
    pub buyers: Vec<Vec<Keypair>>,
    pub providers: Vec<Keypair>,
    /// One sender list per transaction workload (`TX_PURPOSES`).
    pub tx_senders: [Vec<Keypair>; 3],
}

impl Keys {
    pub fn new(buyers: usize, pool: usize, providers: usize, tx_senders: usize) -> Keys {
        let index = |i: usize| u64::try_from(i).expect("a small index");
        let buyers = (0..buyers)
            .map(|b| {
                (0..pool)
                    .map(|d| workload::keypair(BUYER_PURPOSE, index(b * pool + d)))
                    .collect()
            })
            .collect();
        let providers = (0..providers)
            .map(|p| workload::keypair(PROVIDER_PURPOSE, index(p)))
            .collect();
        let bar = super::super::progress(3 * tx_senders as u64, "deriving sender keys");
        let derive =
            |purpose: u8| par_map(tx_senders, &bar, |i| workload::keypair(purpose, index(i)));
        let tx_senders = TX_PURPOSES.map(derive);
        bar.finish_and_clear();
        Keys {
            node: workload::keypair(NODE_PURPOSE, 0),
            buyers,
            providers,
            tx_senders,
        }
    }

    /// A genesis like `ting node --dev`'s, funding every account of the run.
    pub fn genesis(&self) -> Genesis {
        let devices = self.buyers.iter().flatten().chain(&self.providers);
        let senders = self.tx_senders.iter().flatten();
        Genesis {
            name: "ting-bench-market".into(),
            network: BENCH_NETWORK,
            timestamp: Timestamp(now_ms()),
            issuers: Vec::new(),
            sequencers: vec![self.node.account()],
            allocations: devices
                .chain(senders)
                .map(|k| (k.account(), Amount::new(FUNDS_BASE_UNITS)))
                .collect(),
            clock: ting_core::LedgerClock::Real,
        }
    }

    /// Copies of the devices' keys, to move onto the devices' runtime.
    pub fn devices(&self) -> DeviceKeys {
        let copy = |k: &Keypair| Keypair::from_seed(k.seed());
        DeviceKeys {
            buyers: self
                .buyers
                .iter()
                .map(|pool| pool.iter().map(copy).collect())
                .collect(),
            providers: self.providers.iter().map(copy).collect(),
        }
    }
}

/// The buyers' pools and the providers' keys.
#[derive(Debug)]
pub(super) struct DeviceKeys {
    pub buyers: Vec<Vec<Keypair>>,
    pub providers: Vec<Keypair>,
}

pub(super) use super::super::served::Net;

/// How a device reaches the node: what every device's config repeats.
#[derive(Clone, Debug)]
pub(super) struct Reach {
    pub node_url: String,
    pub broker_port: u16,
    pub genesis_hash: Hash32,
    pub sequencer: AccountId,
}

impl Net {
    pub(super) fn reach(&self) -> Reach {
        Reach {
            node_url: self.node_url.clone(),
            broker_port: self.broker_port,
            genesis_hash: self.genesis_hash,
            sequencer: self.sequencer,
        }
    }
}

/// A node for the run, its data in `dir`: the default configuration but
/// for interval snapshots, which are off. A snapshot written in one
/// workload's window and not in another's would move `hold_tx_ratio` by its
/// own cost, which `bench ledger` measures apart; the snapshot thread still
/// replays every block, as it does between snapshots.
pub(super) fn node(dir: &std::path::Path, keys: &Keys, genesis: Genesis) -> anyhow::Result<Node> {
    let mut cfg = NodeConfig::new(
        dir.to_path_buf(),
        genesis,
        Keypair::from_seed(keys.node.seed()),
    );
    cfg.snapshot_every_blocks = u64::MAX;
    cfg.snapshot_every_txs = u64::MAX;
    Ok(Node::start(cfg)?)
}

/// Starts the node's gateway and HTTP API ([`super::super::served`]).
pub(super) async fn serve(node: &Node, keys: &Keys) -> anyhow::Result<Net> {
    super::super::served::serve(node, &keys.node).await
}

/// Starts the device of `key`, its state in `dir`, on the current runtime,
/// and waits until it sees the node.
pub(super) async fn start_device(
    reach: &Reach,
    key: Keypair,
    dir: std::path::PathBuf,
) -> anyhow::Result<Device> {
    let config = DeviceConfig {
        key,
        state_dir: dir,
        network: BENCH_NETWORK,
        sequencers: vec![reach.sequencer],
        genesis_hash: reach.genesis_hash,
        node_url: reach.node_url.clone(),
        broker: Some(ting_agent::Broker {
            host: "127.0.0.1".into(),
            port: reach.broker_port,
            tls: false,
        }),
        tls: TlsTrust::SystemRoots,
        seed: rand::random(),
        clock: ting_agent::clock::NetworkClock::REAL,
        witnesses: ting_core::witness::WitnessPolicy::default(),
    };
    let device = Device::start(config)?;
    device.wait_for_node(NODE_WAIT).await?;
    Ok(device)
}
