//! `ting bench market`: services bought and sold end to end through the
//! node over MQTT (issue 14), beside a ceiling measured in the same run, and
//! what a hold costs the node beside a transfer.
//!
//! One process holds a node with its embedded broker and HTTP API on free
//! ports, `--buyers` buyers and `--providers` providers, each a real
//! `ting_agent::Device` running the SDK's `Buyer` or `Provider`
//! (`ting_agent::market`) on a runtime of the devices' own. One after
//! another:
//!
//! - **ceiling** (`ceiling`): each buyer runs bare contracts back to back:
//!   it waits one proposal window, then makes three plain transfers through
//!   the node over MQTT, one after the other, each to its durable receipt
//!   (a contract has three transactions on its path: `hold_create`,
//!   `hold_accept`, `hold_release`). What the market does beyond that
//!   (the call, proposals, ranking with proved reputations, contract
//!   files, envelopes, the provider's proved check of the hold) is what the
//!   ratio to it measures.
//! - **contracts** (`contracts`): each buyer runs contracts back to back:
//!   a signed call, proposals for `--window-ms`, the policy's choice, the
//!   hold, the provider's proved check and `hold_accept`, then evidence
//!   signed by the buyer's own key and `hold_release` with it. A contract
//!   is timed from the call to the release's receipt. Providers price each
//!   call differently (`pricing`), so that every provider wins a share.
//! - **hold transactions** (`holds`): with the devices stopped and the
//!   broker and API shut, the node's own pipeline kept busy in process
//!   (`driver`, read from the node's counters as `bench ledger` reads
//!   them), first with plain transfers, then with holds (`hold_create`,
//!   `hold_accept`, `hold_release` with the payer's evidence, each counted
//!   as one transaction), then with holds the payer releases without
//!   evidence. `hold_tx_ratio` is the second rate over the first.
//!
//! A provider answers at most `CALLS_PER_BUYER_PER_MIN` (10) calls a
//! minute from one buyer account, so each buyer is a pool of devices used
//! in turn, each for at most that many calls a minute (`contracts::pool_size`).
//! All devices reach the node from 127.0.0.1, which the node's HTTP edge
//! counts as one source, so a run starts at most `net::DEVICES_MAX`.
//! Everything shares this machine's cores, so the ratios, not the absolute
//! rates, are the figures to compare between machines.

use super::served::{on, runtime};

mod buyer;
mod ceiling;
mod contracts;
mod holds;
mod net;
mod provider;
mod report;

use std::time::Duration;

use anyhow::ensure;
use clap::Args;
use tokio::runtime::Handle;

use super::TempDir;
use net::{Keys, Net};
use report::Report;

/// Warm-up before each measured window.
const WARM_UP: Duration = Duration::from_secs(1);
/// Issue 14's target: a hold's transactions through the node at least this
/// share of the rate of transfers.
const TARGET_HOLD_TX_RATIO: f64 = 0.8;

#[derive(Debug, Args)]
pub struct MarketArgs {
    /// Concurrent buyers, each running contracts back to back.
    #[arg(long, default_value_t = 8)]
    pub buyers: usize,
    /// Providers answering every call.
    #[arg(long, default_value_t = 4)]
    pub providers: usize,
    /// The proposal window of each call, in ms: the buyer decides when it closes.
    #[arg(long, default_value_t = 200)]
    pub window_ms: u64,
    /// Length of the measured window of contracts (and of the ceiling run), after a one-second warm-up.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Length of each measured window of transactions through the node
    /// (transfers, holds, holds released by the payer), after a one-second warm-up.
    #[arg(long, default_value_t = 3)]
    pub tx_seconds: u64,
    /// Funded senders of each transaction workload: more than a block holds,
    /// so that a block seldom repeats a sender.
    #[arg(long, default_value_t = 16_384)]
    pub tx_senders: usize,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &MarketArgs) -> anyhow::Result<()> {
    check(args)?;
    let node_rt = runtime("market-node", 2)?;
    let devices_rt = runtime("market-device", 2)?;
    let dir = TempDir::new("market")?;
    let pool = contracts::pool_size(args);
    let keys = Keys::new(args.buyers, pool, args.providers, args.tx_senders);
    let genesis = keys.genesis();
    let capacity = holds::capacity(&keys, &genesis.hash());
    let node = net::node(&dir.path().join("node"), &keys, genesis)?;
    let served = node_rt.block_on(net::serve(&node, &keys));
    let net = match served {
        Ok(net) => net,
        Err(e) => {
            node.shutdown();
            return Err(e);
        }
    };
    let market = node_rt.block_on(devices(
        args,
        &keys,
        &net,
        (node.shared(), dir.path()),
        devices_rt.handle(),
    ));
    let Net {
        gateway, http_stop, ..
    } = net;
    let _ = http_stop.send(());
    node_rt.block_on(gateway.shutdown());
    // The node alone from here: its pipeline, without broker or API.
    let txs = market.and_then(|m| {
        let txs = holds::measure(node.shared(), &keys, args, capacity)?;
        Ok((m, txs))
    });
    node.shutdown();
    let (market, txs) = txs?;
    let report = Report {
        window_ms: args.window_ms,
        seconds: args.seconds,
        tx_seconds: args.tx_seconds,
        buyers: args.buyers,
        providers: args.providers,
        pool,
        market,
        txs,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print();
    }
    Ok(())
}

fn check(args: &MarketArgs) -> anyhow::Result<()> {
    ensure!(args.buyers >= 1, "--buyers must be at least 1");
    ensure!(args.providers >= 1, "--providers must be at least 1");
    ensure!(
        (10..=60_000).contains(&args.window_ms),
        "--window-ms must be 10 to 60000"
    );
    ensure!(args.seconds >= 1, "--seconds must be at least 1");
    ensure!(args.tx_seconds >= 1, "--tx-seconds must be at least 1");
    ensure!(
        args.tx_senders >= 2,
        "--tx-senders must be at least 2 (a hold has a payer and a payee)"
    );
    let pool = contracts::pool_size(args);
    let devices = args.buyers.saturating_mul(pool) + args.providers;
    ensure!(
        devices <= net::DEVICES_MAX,
        "{devices} devices would be needed ({} buyers with pools of {pool}, {} providers); at most \
         {} are, as the node takes at most {} HTTP connections from one address: use fewer \
         buyers, fewer seconds or a longer window",
        args.buyers,
        args.providers,
        net::DEVICES_MAX,
        ting_core::limits::HTTP_CONNECTIONS_PER_SOURCE_MAX
    );
    Ok(())
}

/// Starts the devices, runs the ceiling and the contracts, stops the devices.
async fn devices(
    args: &MarketArgs,
    keys: &Keys,
    net: &Net,
    (node, dir): (&ting_node::Shared, &std::path::Path),
    rt: &Handle,
) -> anyhow::Result<contracts::Measured> {
    let bar = super::spinner("starting the buyers' and providers' devices");
    let start = contracts::start(setup(args), keys.devices(), net.reach(), dir.to_path_buf());
    let started = on(rt, start).await;
    bar.finish_and_clear();
    let parties = started?;
    eprintln!(
        "ting bench market: broker mqtt://127.0.0.1:{} (embedded rmqtt), {} buyers ({} devices), \
         {} providers, {} ms proposal window, {} s windows",
        net.broker_port,
        args.buyers,
        parties.buyer_devices(),
        args.providers,
        args.window_ms,
        args.seconds
    );
    let (parties, measured) = contracts::measure(parties, rt, node).await?;
    on(rt, async move {
        parties.shutdown().await;
        Ok(())
    })
    .await?;
    Ok(measured)
}

/// What the devices' side needs of the arguments.
fn setup(args: &MarketArgs) -> contracts::Setup {
    contracts::Setup {
        providers: args.providers,
        window: Duration::from_millis(args.window_ms),
        seconds: Duration::from_secs(args.seconds),
    }
}
