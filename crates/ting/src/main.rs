//! `ting`: the command-line interface of Ting.
//!
//! One binary for everything a user does: run a node (`ting node`), make keys
//! and genesis files, move money, control devices, fetch and check receipts
//! offline, pay through channels, benchmark, and run the demo. Commands that talk to a node take
//! `--node URL` (or `TING_NODE`); every command takes `--json` for scripts.

mod bench;
mod channel_cmd;
mod client;
mod demo;
mod keys_cmd;
mod node_cmd;
mod output;
mod wallet;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ting",
    version,
    about = "Ting: a ledger and payment rails for machines that earn and spend."
)]
struct Cli {
    /// The node to talk to.
    #[arg(
        long,
        global = true,
        env = "TING_NODE",
        default_value = "http://127.0.0.1:8080"
    )]
    node: String,
    /// Print results as JSON, for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the demo: a dev node with a live load of device payments, until Ctrl-C.
    Demo(demo::DemoArgs),
    /// Run a node.
    Node(node_cmd::NodeArgs),
    /// Make a new key (an account).
    Keygen(keys_cmd::KeygenArgs),
    /// Genesis files.
    #[command(subcommand)]
    Genesis(GenesisCmd),
    /// Read accounts.
    #[command(subcommand)]
    Account(AccountCmd),
    /// Send money.
    Transfer(wallet::TransferArgs),
    /// Owner controls over devices.
    #[command(subcommand)]
    Device(wallet::DeviceCmd),
    /// Payment channels: open, pay off the ledger, accept, claim, close.
    #[command(subcommand)]
    Channel(channel_cmd::ChannelCmd),
    /// Mint to an account from a dev node's faucet.
    Faucet {
        #[arg(long, value_name = "ID")]
        to: String,
        #[arg(long)]
        amount: u64,
    },
    /// The node's status.
    Status,
    /// Show a transaction and its receipt.
    Tx { hash: String },
    /// Fetch a transaction's receipt (with its Merkle proof and signed block header).
    Receipt {
        hash: String,
        /// Write it to a file instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check a receipt offline against the network's sequencer keys.
    VerifyReceipt(wallet::VerifyReceiptArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

#[derive(Debug, Subcommand)]
enum GenesisCmd {
    /// Write a new genesis file.
    New(keys_cmd::GenesisArgs),
}

#[derive(Debug, Subcommand)]
enum AccountCmd {
    /// Balance, nonce and device controls of an account.
    Show { id: String },
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    // The embedded broker logs every connection at info, and every connection
    // that ends (a device's reset, the node's own link at a clean shutdown) as an
    // error from its per-connection module; its other warnings are kept.
    let filter = EnvFilter::try_from_env("TING_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,rumqttd=warn,rumqttd::server::broker=off"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}

fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    let client = || client::Client::new(&cli.node);
    match &cli.command {
        Command::Demo(args) => demo::run(args),
        Command::Node(args) => node_cmd::run(args),
        Command::Keygen(args) => keys_cmd::keygen(args, json),
        Command::Genesis(GenesisCmd::New(args)) => keys_cmd::genesis_new(args),
        Command::VerifyReceipt(args) => wallet::verify_receipt(args, json),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Account(AccountCmd::Show { id }) => {
            let c = client()?;
            block_on(async { wallet::account_show(&c, id, json).await })
        }
        Command::Transfer(args) => {
            let c = client()?;
            block_on(async { wallet::transfer(&c, args, json).await })
        }
        Command::Device(cmd) => {
            let c = client()?;
            block_on(async { wallet::device(&c, cmd, json).await })
        }
        Command::Channel(cmd) => {
            let c = client()?;
            block_on(async { channel_cmd::run(&c, cmd, json).await })
        }
        Command::Faucet { to, amount } => {
            let c = client()?;
            block_on(async { wallet::faucet(&c, to, *amount, json).await })
        }
        Command::Status => {
            let c = client()?;
            block_on(async { wallet::show(&c, "/v1/status", None).await })
        }
        Command::Tx { hash } => {
            let c = client()?;
            block_on(async { wallet::show(&c, &format!("/v1/transactions/{hash}"), None).await })
        }
        Command::Receipt { hash, out } => {
            let c = client()?;
            block_on(async {
                wallet::show(&c, &format!("/v1/receipts/{hash}"), out.as_ref()).await
            })
        }
    }
}

/// Any panic stops the process at once. A node is fail-stop: its pipeline
/// threads hold state that is ahead of the log, and restarting from the log
/// is always safe, while limping on after a broken invariant is not.
fn fail_stop_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        eprintln!("ting: a panic is a bug; stopping so that recovery starts from the durable log");
        std::process::abort();
    }));
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    if matches!(cli.command, Command::Node(_) | Command::Demo(_)) {
        fail_stop_on_panic();
    }
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
