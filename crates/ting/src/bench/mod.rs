//! `ting bench ...`: benchmarks that print a figure and its ratio to a ceiling measured in the same run.
//!
//! Absolute rates move between machines; ratios taken in one run do not (much).
//! So `bench ledger` measures the machine's own Ed25519 verification capacity
//! before it pushes signed transfers through a real node, and reports the
//! throughput as a fraction of it. `bench recovery` times a restart over a
//! block log it builds itself. DESIGN.md §8 holds the targets; BENCHMARKS.md
//! the latest figures and how they were taken.

mod accounts;
mod bindings;
mod capacity;
mod channel;
mod dashboard;
mod devices;
mod drive;
mod driver;
mod firmware;
mod flood;
mod http;
mod ledger;
mod ledger_pg;
mod market;
mod mqtt;
mod orders;
mod proof;
mod recovery;
mod served;
mod stats;
mod stream;
mod witness;
mod workload;

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Durable signed transfers through the node pipeline vs. the machine's verification capacity.
    Ledger(LedgerArgs),
    /// Restart time over a block log of N transfers (full replay, and snapshot plus a tail),
    /// then over histories of 1 and 10 million transfers with a snapshot near the tip.
    /// Writes about 2 GB to a temporary directory and takes several minutes.
    Recovery(RecoveryArgs),
    /// Signed transactions and device messages over MQTT vs. the broker's raw rate.
    Mqtt(mqtt::MqttArgs),
    /// Payment channels on one core: hash-chain ticks and vouchers checked per second vs. bare SHA-256, and the payer's chain.
    Channel(ChannelArgs),
    /// Checking one account's state proof vs. one Ed25519 verification, and its size, at 1M accounts.
    Proof(ProofArgs),
    /// The device operations on a microcontroller: flash per operation for thumbv7em-none-eabihf
    /// (as built, with the curve's tables, with compact SHA-2) and of all of them for
    /// riscv32imc-unknown-none-elf, heap, stack and instructions (callgrind), and signing time vs.
    /// a bare Ed25519 signature. Builds crates/ting-device-check from a source checkout (a few
    /// minutes the first time); needs cargo, both targets (rustup target add) and valgrind.
    Firmware(firmware::FirmwareArgs),
    /// A data stream sold end to end on the embedded broker (issue 13): paid, verified points
    /// per second from a seller device to a buyer device vs. the broker's raw rate at one
    /// point's size, and the half-load latency from a reading to the buyer's opened point.
    Stream(stream::StreamArgs),
    /// Services bought and sold end to end through the node over MQTT (issue 14): contracts
    /// per second from call to release and their latency vs. bare contracts (the window and
    /// three transfer round trips), and hold transactions through the node vs. transfers.
    Market(market::MarketArgs),
    /// Order books (issue 15): order operations applied by the state machine on one core vs.
    /// transfers applied the same way, and order transactions through the node vs. transfers.
    Orders(orders::OrdersArgs),
    /// The dashboard (issue 17): the account page of an account with 1,000,000 transactions
    /// vs. the page of one with a single transaction, and pages deeper in its history;
    /// then the ledger's rate with 1,000 live page watchers (SSE streams, each on its own
    /// account) vs. the rate without, and the node's CPU per watcher. Writes about 200 MB
    /// to a temporary directory and takes a few minutes; `--quick` for about a minute.
    Dashboard(dashboard::DashboardArgs),
    /// How many devices one node holds: 100,000 device sessions (light ones
    /// that log in and subscribe as devices do, and 64 full SDK devices
    /// carrying transfers) against a `ting node` process, held 60 s; the
    /// node's memory per session; logins a second; a node restart and the
    /// reconnect storm; the node's CPU per transfer over MQTT vs. HTTP
    /// batches; device latency at half load. Needs an open-file limit above
    /// the device count (the bench and the node raise theirs as far as the
    /// system allows). About 5 minutes.
    Devices(devices::DevicesArgs),
    /// Witnesses (issue 20): the blocks per second a witness checks and
    /// re-executes from a saved log vs. the sequencer's rate on the same
    /// transfers in the same run (target >= 1), and a device checking one
    /// attestation.
    Witness(witness::WitnessArgs),
    /// The bindings (issue 21): transfers signed per second through libting from a C
    /// program (target >= 0.8) and through the Python package from Python (target >= 0.5),
    /// each vs. the same in Rust, same run, and the C library's code size. Builds
    /// crates/ting-c and bindings/python from the source checkout; needs cc, binutils and
    /// python3 (3.10+, or TING_PYTHON).
    Bindings(bindings::BindingsArgs),
}

/// How the benchmark hands transactions to the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via {
    /// In-process calls to the node's ingress (`Shared::submit`).
    Direct,
    /// `POST /v1/transactions/batch?wait=true` through the HTTP API, on 127.0.0.1.
    Http,
}

#[derive(Debug, Args)]
pub struct LedgerArgs {
    /// Length of the measured peak window, after a one-second warm-up.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Length of the measured window of the paced run at half the peak rate.
    #[arg(long, default_value_t = 5)]
    pub half_seconds: u64,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
    /// How transactions reach the node.
    #[arg(long, value_enum, default_value_t = Via::Direct)]
    pub via: Via,
    /// Concurrent HTTP clients (with `--via http`).
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Transfers per HTTP request (with `--via http`); must divide 16384.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Accounts funded in the genesis that send nothing, beside the senders:
    /// the state a city's node holds, which a snapshot must write.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub idle_accounts: usize,
    /// Instead of the throughput run: the memory of a node whose genesis funds N accounts.
    #[arg(long, value_name = "N")]
    pub accounts: Option<usize>,
    /// Also measure the ledger on PostgreSQL: `temp` (a throwaway cluster
    /// made with initdb) or a postgres:// URL, on whose server the bench
    /// makes and then drops two databases of its own (the role needs CREATEDB).
    #[arg(long, value_name = "URL|temp", value_parser = store_arg)]
    pub store: Option<String>,
    /// With --store: how many times the leader of three node processes is killed.
    #[arg(long, value_name = "N", default_value_t = 5, requires = "store",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub kills: u32,
}

/// `temp`, or a `postgres://` URL.
fn store_arg(text: &str) -> Result<String, String> {
    let t = text.trim();
    if t == "temp" || t.starts_with("postgres://") || t.starts_with("postgresql://") {
        Ok(t.to_owned())
    } else {
        Err(format!(
            "temp, or a postgres:// URL such as postgres://ting@127.0.0.1:5432/ting, not {t:?}"
        ))
    }
}

#[derive(Debug, Args)]
pub struct RecoveryArgs {
    /// Transfers in the block log replayed from genesis.
    #[arg(long, default_value_t = 1_000_000)]
    pub txs: u64,
    /// Transfers appended after the shutdown snapshot, replayed on the second restart.
    #[arg(long, default_value_t = 100_000)]
    pub tail_txs: u64,
    /// Sign every transfer (slow to build); by default signatures are left zero,
    /// which replay does not check.
    #[arg(long)]
    pub sign: bool,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ChannelArgs {
    /// Length of each measured window (SHA-256, ticks, jumps, vouchers, SHA-256 again).
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
    /// Ticks in the payer's chain (and the chain the ticks are checked on).
    #[arg(long, default_value_t = 1 << 20)]
    pub chain_len: u32,
    /// Ticks recomputed from the seed to estimate that strategy's cost per tick.
    #[arg(long, default_value_t = 200)]
    pub recompute_samples: u32,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProofArgs {
    /// Accounts in the state map the proofs come from.
    #[arg(long, default_value_t = 1_000_000)]
    pub accounts: u64,
    /// Length of each measured window (Ed25519, proof, whole answer, Ed25519 again).
    #[arg(long, default_value_t = 1.0)]
    pub seconds: f64,
    /// Print one JSON object instead of the human report.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: &BenchCmd) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Ledger(args) => match args.accounts {
            Some(n) => accounts::run(n, args.json),
            None => ledger::run(args),
        },
        BenchCmd::Recovery(args) => recovery::run(args),
        BenchCmd::Channel(args) => channel::run(args),
        BenchCmd::Proof(args) => proof::run(args),
        BenchCmd::Mqtt(args) => mqtt::run(args),
        BenchCmd::Firmware(args) => firmware::run(args),
        BenchCmd::Stream(args) => stream::run(args),
        BenchCmd::Market(args) => market::run(args),
        BenchCmd::Orders(args) => orders::run(args),
        BenchCmd::Dashboard(args) => dashboard::run(args),
        BenchCmd::Devices(args) => devices::run(args),
        BenchCmd::Witness(args) => witness::run(args),
        BenchCmd::Bindings(args) => bindings::run(args),
    }
}

/// A scratch directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub fn new(what: &str) -> anyhow::Result<TempDir> {
        TempDir::new_in(&std::env::temp_dir(), what)
    }

    /// A fresh directory under `base`.
    pub fn new_in(base: &Path, what: &str) -> anyhow::Result<TempDir> {
        let nonce: u64 = rand::random();
        let path = base.join(format!(
            "ting-bench-{what}-{}-{nonce:016x}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a leftover directory under /tmp is harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Resident memory of this process, in MiB (VmRSS from /proc/self/status).
pub(crate) fn rss_mib() -> f64 {
    ting_node::metrics::rss_bytes() as f64 / (1024.0 * 1024.0)
}

/// Worker threads for CPU-bound preparation: one per core.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub(crate) fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:<28} [{bar:30}] {pos}/{len} ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// A spinner on stderr for a step without a count.
pub(crate) fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_message(what.to_owned());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

pub(crate) fn now_ms() -> u64 {
    ting_agent::clock::now().0
}
