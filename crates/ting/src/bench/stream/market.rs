//! The market `ting bench stream` measures, set up as a deployment would be:
//! a node with its embedded broker and HTTP API on free ports (never 1883),
//! a genesis that funds an owner, the owner's device (the seller) and a
//! buyer; the owner registers the device and signs a consent record that
//! names the buyer; the device opens its stream on the ledger; the buyer
//! publishes its messaging key and opens a channel to the seller, which the
//! seller takes up. Each device is a real `ting_agent::Device` that logs in
//! to the broker; the caller runs each on a runtime of its own.

use std::time::Duration;

use anyhow::Context;
use ting_agent::stream::{Buyer, BuyerSetup, Seller, SellerSetup};
use ting_agent::{ChannelOffer, Device, DeviceConfig, TlsTrust};
use ting_core::consent::{BuyerRule, ConsentRecord, FieldRule, FieldUse, SignedConsent};
use ting_core::stream::{EpochRule, FieldKind, FieldSpec, StreamId, StreamTerms};
use ting_core::tx::device_consent_message;
use ting_core::{AccountId, Amount, ChannelId, Genesis, Hash32, Keypair, Timestamp, TxKind};
use ting_node::{Node, NodeConfig};

use super::super::now_ms;
use super::super::workload::{self, BENCH_NETWORK};

/// What the genesis gives the owner, the seller and the buyer: far more
/// than a run spends (the stream's deposit, a channel, fees).
const FUNDS_BASE_UNITS: u64 = 1 << 40;
/// Price of one epoch's key, in base units: low, so the budget never binds.
pub(super) const PRICE_PER_EPOCH: u64 = 1;
/// Ticks in the buyer's channel (one base unit each): one per epoch bought,
/// far more epochs than a run at any rate this machine reaches goes through.
const CHANNEL_TICKS: u32 = 100_000;
/// How long the consent record and the channel hold.
const VALID_FOR_MS: u64 = 3_600_000;
/// How long a device may take to see the node on the broker.
const NODE_WAIT: Duration = Duration::from_secs(10);
/// The schema's one field: a number, the time it was read (µs since the
/// benchmark's origin), so that the buyer can time each point.
pub(super) const FIELD: &str = "reading";
/// Key purpose of this benchmark's accounts (`workload::keypair`).
const KEY_PURPOSE: u8 = 0x5d;

/// The run's keys.
#[derive(Debug)]
pub(super) struct Keys {
    pub node: Keypair,
    pub owner: Keypair,
    pub seller: Keypair,
    pub buyer: Keypair,
}

impl Keys {
    pub fn new() -> Keys {
        Keys {
            node: workload::keypair(KEY_PURPOSE, 0),
            owner: workload::keypair(KEY_PURPOSE, 1),
            seller: workload::keypair(KEY_PURPOSE, 2),
            buyer: workload::keypair(KEY_PURPOSE, 3),
        }
    }

    /// A genesis like `ting node --dev`'s, funding the owner, the seller and the buyer.
    pub fn genesis(&self) -> Genesis {
        Genesis {
            name: "ting-bench-stream".into(),
            network: BENCH_NETWORK,
            timestamp: Timestamp(now_ms()),
            issuers: Vec::new(),
            sequencers: vec![self.node.account()],
            allocations: [&self.owner, &self.seller, &self.buyer]
                .iter()
                .map(|k| (k.account(), Amount::new(FUNDS_BASE_UNITS)))
                .collect(),
            clock: ting_core::LedgerClock::Real,
        }
    }
}

pub(super) use super::super::served::Net;

/// Starts the node's gateway and HTTP API ([`super::super::served`]).
pub(super) async fn serve(node: &Node, keys: &Keys) -> anyhow::Result<Net> {
    super::super::served::serve(node, &keys.node).await
}

/// A node for the run, its data in `dir`.
pub(super) fn node(dir: &std::path::Path, keys: &Keys) -> anyhow::Result<Node> {
    let cfg = NodeConfig::new(
        dir.to_path_buf(),
        keys.genesis(),
        Keypair::from_seed(keys.node.seed()),
    );
    Ok(Node::start(cfg)?)
}

/// How a device of `key` with its state in `dir` reaches this node: the
/// benchmark knows the network, so nothing is learned on first use.
pub(super) fn device_config(net: &Net, key: &Keypair, dir: std::path::PathBuf) -> DeviceConfig {
    DeviceConfig {
        key: Keypair::from_seed(key.seed()),
        state_dir: dir,
        network: BENCH_NETWORK,
        sequencers: vec![net.sequencer],
        genesis_hash: net.genesis_hash,
        node_url: net.node_url.clone(),
        broker: Some(ting_agent::Broker {
            host: "127.0.0.1".into(),
            port: net.broker_port,
            tls: false,
        }),
        tls: TlsTrust::SystemRoots,
        seed: rand::random(),
        clock: ting_agent::clock::NetworkClock::REAL,
        witnesses: ting_core::witness::WitnessPolicy::default(),
    }
}

/// Starts a device on the current runtime and waits until it sees the node.
pub(super) async fn start_device(config: DeviceConfig) -> anyhow::Result<Device> {
    let device = Device::start(config)?;
    device.wait_for_node(NODE_WAIT).await?;
    Ok(device)
}

/// The owner registers the seller device (with the device's signature).
pub(super) async fn register(owner: &Device, keys: &Keys, genesis: &Hash32) -> anyhow::Result<()> {
    let metadata = b"ting bench stream: a meter".to_vec();
    let seller = keys.seller.account();
    let message = device_consent_message(genesis, &keys.owner.account(), &seller, &metadata);
    let register = TxKind::RegisterDevice {
        device: seller,
        device_signature: keys.seller.sign(&message),
        metadata,
    };
    owner
        .submit(register)
        .await
        .context("register the seller device")?;
    Ok(())
}

/// The owner's consent: the one field leaves raw, to the buyer alone.
pub(super) fn consent(keys: &Keys, genesis: &Hash32) -> anyhow::Result<SignedConsent> {
    let now = now_ms();
    let record = ConsentRecord {
        genesis: *genesis,
        owner: keys.owner.account(),
        device: keys.seller.account(),
        issued_at: Timestamp(now.saturating_sub(60_000)),
        expires_at: Timestamp(now.saturating_add(VALID_FOR_MS)),
        min_price_per_epoch: Amount::new(PRICE_PER_EPOCH),
        purpose: "ting bench stream".into(),
        fields: vec![FieldRule {
            name: FIELD.into(),
            use_: FieldUse::Raw { round_to: 1 },
        }],
        buyers: vec![BuyerRule::Account(keys.buyer.account())],
    };
    Ok(record.sign(&keys.owner)?)
}

/// The stream's terms: one number field, epochs of `epoch_points` points.
pub(super) fn terms(consent: &SignedConsent, epoch_points: u32) -> StreamTerms {
    StreamTerms {
        fields: vec![FieldSpec {
            name: FIELD.into(),
            unit: "us".into(),
            kind: FieldKind::Number { decimals: 0 },
        }],
        price_per_epoch: Amount::new(PRICE_PER_EPOCH),
        epoch: EpochRule::Points(epoch_points),
        area: "u0m".into(),
        consent: consent.hash(),
    }
}

/// The seller device opens its stream on the ledger and its `Seller`.
pub(super) async fn open_seller(
    config: DeviceConfig,
    terms: StreamTerms,
    consent: SignedConsent,
    chunk_points: usize,
) -> anyhow::Result<(Device, Seller)> {
    let device = start_device(config).await?;
    let stream = device
        .open_stream(terms.clone())
        .await
        .context("open the stream")?;
    let setup = SellerSetup {
        stream,
        terms,
        consent,
        chunk_points,
    };
    let seller = Seller::open(&device, setup)?;
    Ok((device, seller))
}

/// The buyer device publishes its messaging key and opens a channel to `seller`.
pub(super) async fn open_channel(
    config: DeviceConfig,
    seller: AccountId,
) -> anyhow::Result<(Device, ChannelId)> {
    let device = start_device(config).await?;
    device
        .publish_messaging_key()
        .await
        .context("publish the buyer's messaging key")?;
    let offer = ChannelOffer {
        payee: seller,
        deposit: Amount::new(u64::from(CHANNEL_TICKS) * PRICE_PER_EPOCH),
        price: Amount::new(PRICE_PER_EPOCH),
        ticks: CHANNEL_TICKS,
        expires_at: Timestamp(now_ms().saturating_add(VALID_FOR_MS)),
    };
    let channel = device.open_channel(offer).await?;
    Ok((device, channel))
}

/// The seller takes up the buyer's channel, so that its payments count.
pub(super) async fn accept(device: Device, channel: ChannelId) -> anyhow::Result<Device> {
    device.accept_channel(&channel).await?;
    Ok(device)
}

/// The buyer opens its `Buyer` on the stream, with a budget of every tick
/// of its channel, and waits until the broker delivers it the stream's chunks.
pub(super) async fn open_buyer(
    device: Device,
    stream: StreamId,
    channel: ChannelId,
) -> anyhow::Result<(Device, Buyer)> {
    let setup = BuyerSetup {
        stream,
        channel,
        budget: Amount::new(u64::from(CHANNEL_TICKS) * PRICE_PER_EPOCH),
        attestation: None,
    };
    let (buyer, earlier) = Buyer::open(&device, setup).await?;
    anyhow::ensure!(earlier.is_empty(), "a fresh buyer has bought nothing");
    let deadline = tokio::time::Instant::now() + NODE_WAIT;
    while !device.streams_settled() {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the buyer's subscription to the stream was not acknowledged in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok((device, buyer))
}
