//! `ting bench orders`: the order books (issue 15) on one core and through
//! the node, each beside a ceiling measured in the same run.
//!
//! - **on one core** (`core`): the order workload (`flow`: placements that
//!   cross about one time in five and fill against what rests, and
//!   cancellations) applied by the state machine, against as many
//!   transfers applied the same way from the same state.
//!   `matching_ops_per_s_core` is the rate of the order operations;
//!   `order_apply_ratio` the time of one over the time of one transfer
//!   between two accounts nothing else in the block touches (target at
//!   most 2); `order_apply_ratio_round_robin` the same against `bench
//!   ledger`'s round-robin transfers, whose recipient is the next sender,
//!   so that a block re-hashes about one state-map key per transfer.
//! - **through the node** (`node`): the node's pipeline kept busy in
//!   process with signed transfers, then with the signed order workload.
//!   `order_tx_ratio` is the second rate over the first (target at least
//!   0.8).
//!
//! Everything shares this machine's cores, so the ratios, not the absolute
//! rates, are the figures to compare between machines.

mod core;
mod flow;
mod node;

use std::time::Duration;

use anyhow::ensure;
use clap::Args;
use serde_json::json;

use super::stats::format_cores;

/// Warm-up before each measured window through the node.
const WARM_UP: Duration = Duration::from_secs(1);
/// Issue 15's targets.
const TARGET_APPLY_RATIO: f64 = 2.0;
const TARGET_TX_RATIO: f64 = 0.8;

#[derive(Debug, Args)]
pub struct OrdersArgs {
    /// Order operations applied on one core (and as many transfers).
    #[arg(long, default_value_t = 200_000)]
    pub ops: usize,
    /// Senders of the one-core workloads.
    #[arg(long, default_value_t = 4_096)]
    pub senders: usize,
    /// Runs of each one-core workload; the fastest counts.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Length of each measured window through the node (transfers, then
    /// orders), after a one-second warm-up.
    #[arg(long, default_value_t = 3)]
    pub tx_seconds: u64,
    /// Funded senders of each workload through the node: more than a block
    /// holds, so that a block seldom repeats a sender.
    #[arg(long, default_value_t = 16_384)]
    pub tx_senders: usize,
    /// Seed of the order workloads (prices, sides, quantities, cancels).
    #[arg(long, default_value_t = 20_261_205)]
    pub seed: u64,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &OrdersArgs) -> anyhow::Result<()> {
    ensure!(args.ops >= 1, "--ops must be at least 1");
    ensure!(args.senders >= 1, "--senders must be at least 1");
    ensure!(args.rounds >= 1, "--rounds must be at least 1");
    ensure!(args.tx_seconds >= 1, "--tx-seconds must be at least 1");
    ensure!(args.tx_senders >= 2, "--tx-senders must be at least 2");
    let on_core = core::measure(args)?;
    let through = node::measure(args)?;
    let report = json!({
        "matching_ops_per_s_core": on_core.ops_per_s(),
        "order_apply_ns": on_core.order_ns,
        "transfer_apply_ns": on_core.transfer_ns,
        "order_apply_ratio": on_core.apply_ratio(),
        "transfer_round_robin_apply_ns": on_core.transfer_next_ns,
        "order_apply_ratio_round_robin": on_core.apply_ratio_next(),
        "target_order_apply_ratio": TARGET_APPLY_RATIO,
        "core_ops": on_core.ops,
        "core_senders": on_core.senders,
        "core_rounds": on_core.rounds,
        "core_places": on_core.mix.places,
        "core_cancels": on_core.mix.cancels,
        "core_fills": on_core.mix.fills,
        "core_units_filled": on_core.mix.units,
        "core_resting_at_end": on_core.resting,
        "core_warm_ops": on_core.ops,
        "core_warm_resting": on_core.warm_resting,
        "core_state_records": on_core.records,
        "order_tx_ratio": through.tx_ratio(),
        "target_order_tx_ratio": TARGET_TX_RATIO,
        "order_txs_per_s": through.orders.window.rate(),
        "transfers_per_s": through.transfers.window.rate(),
        "verify_capacity_per_s": through.capacity.per_s,
        "node_senders": through.senders,
        "node_inflight": through.inflight,
        "node_order_places": through.mix.places,
        "node_order_cancels": through.mix.cancels,
        "node_order_fills": through.mix.fills,
        "seed": args.seed,
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("ting bench orders (seed {})", args.seed);
    println!(
        "  on one core, from a book warmed by {} operations ({} resting, {} orders and leases in the state):",
        on_core.ops, on_core.warm_resting, on_core.records
    );
    println!(
        "  {:.0} order operations/s ({} places, {} cancels, {} fills of {} units; {} resting at the end)",
        on_core.ops_per_s(),
        on_core.mix.places,
        on_core.mix.cancels,
        on_core.mix.fills,
        on_core.mix.units,
        on_core.resting
    );
    println!(
        "  order_apply_ratio {:.2} ({:.0} ns an order operation, {:.0} ns a transfer between parties apart; target <= {TARGET_APPLY_RATIO}: {})",
        on_core.apply_ratio(),
        on_core.order_ns,
        on_core.transfer_ns,
        verdict(on_core.apply_ratio() <= TARGET_APPLY_RATIO)
    );
    println!(
        "  against round-robin transfers ({:.0} ns, a block re-hashing about one key per transfer): {:.2}",
        on_core.transfer_next_ns,
        on_core.apply_ratio_next()
    );
    println!(
        "  through the node: {:.0} order tx/s, {:.0} transfers/s; order_tx_ratio {:.2} (target >= {TARGET_TX_RATIO}: {})",
        through.orders.window.rate(),
        through.transfers.window.rate(),
        through.tx_ratio(),
        verdict(through.tx_ratio() >= TARGET_TX_RATIO)
    );
    println!(
        "  verification capacity {:.0}/s on {} threads; node cores during orders: {}",
        through.capacity.per_s,
        through.capacity.threads,
        format_cores(&through.orders.cpu)
    );
    Ok(())
}
