//! `ting`: the command-line interface of Ting.
//!
//! One binary for everything a user does: run a node (`ting node`), make keys
//! and genesis files, move money, control devices, sign transactions offline
//! and submit them later, fetch and check receipts, pay through channels,
//! benchmark, and run the demo. The CLI only parses arguments and prints:
//! talking to a node, reading key and genesis files and checking receipts is
//! `ting-agent`'s, the one client library. Commands that talk to a node take
//! `--node URL` (or `TING_NODE`), and for an `https://` node `--tls-ca FILE`
//! or `--tls-pin SHA256` (or `TING_TLS_CA`, `TING_TLS_PIN`) when the system's
//! CAs do not vouch for its certificate; every command takes `--json` for
//! scripts, and failures end with an exit status that says what kind they
//! were ([`failure::Exit`]).

mod bench;
mod broker_probe;
mod channel_cmd;
mod clock_args;
mod consent_cmd;
mod demo;
mod evidence_cmd;
mod failure;
mod keys_cmd;
mod kinds;
mod logging;
mod market_cmd;
mod migrate_cmd;
mod mqtt_cmd;
mod node_cmd;
mod orders_cmd;
mod output;
mod read_cmd;
mod sign_cmd;
mod stream_cmd;
mod wallet;
mod witness_policy;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ting_agent::{NodeClient, TlsTrust};

use crate::failure::{bad_input, Failed};

/// The node a command talks to. Global, so that a command with subcommands
/// of its own (`ting sign KIND`) takes it after them too.
#[derive(Debug, Clone, Args)]
pub struct NodeArg {
    /// The node's HTTP API: http://HOST:PORT, or https://HOST:PORT.
    #[arg(
        long = "node",
        value_name = "URL",
        env = "TING_NODE",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    #[command(flatten)]
    pub tls: TlsArg,
}

/// Which certificate an `https://` node (and an `mqtts://` broker) must show;
/// neither option: one from a CA the system trusts.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArg {
    /// Trust only the CA certificates in this PEM file (a private CA).
    #[arg(
        long = "tls-ca",
        value_name = "FILE",
        env = "TING_TLS_CA",
        conflicts_with = "tls_pin",
        global = true
    )]
    pub tls_ca: Option<PathBuf>,
    /// Trust only the certificate with this SHA-256 fingerprint (64 hex
    /// digits, colons allowed): a dev node's self-signed one, as it prints it.
    #[arg(
        long = "tls-pin",
        value_name = "SHA256",
        env = "TING_TLS_PIN",
        global = true
    )]
    pub tls_pin: Option<String>,
}

impl TlsArg {
    /// The trust the options name; a bad pin or CA file is bad input.
    pub fn trust(&self) -> anyhow::Result<TlsTrust> {
        TlsTrust::from_options(self.tls_ca.as_deref(), self.tls_pin.as_deref())
            .map_err(|e| bad_input(e.code(), e.to_string()))
    }
}

impl NodeArg {
    /// The client for the node, trusting what `--tls-ca` or `--tls-pin` say.
    /// Either one with a plain `http://` node is refused: it would promise a
    /// check that never happens.
    pub fn client(&self) -> anyhow::Result<NodeClient> {
        Ok(NodeClient::with_trust(&self.url, &self.trust()?)?)
    }

    /// A client that checks state proofs and receipts against the network
    /// and sequencer the node names in `/v1/status` (trust on first use, as
    /// a device set up with `DeviceConfig::discover` has it).
    pub async fn verified_client(&self) -> anyhow::Result<NodeClient> {
        let client = self.client()?;
        let status = client.status().await?;
        let verifier = ting_agent::Verifier::new(status.genesis_hash, status.sequencers.clone());
        Ok(client.verifying(std::sync::Arc::new(verifier)))
    }

    /// The TLS trust for this node (and the broker it names).
    pub fn trust(&self) -> anyhow::Result<TlsTrust> {
        let trust = self.tls.trust()?;
        let https = self.url.trim().starts_with("https://");
        if !https && !matches!(trust, TlsTrust::SystemRoots) {
            return Err(bad_input(
                "tls_without_https",
                format!(
                    "--tls-ca and --tls-pin (TING_TLS_CA, TING_TLS_PIN) are for an https:// node, and --node is {}",
                    self.url
                ),
            ));
        }
        Ok(trust)
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "ting",
    version,
    about = "Ting: a ledger and payment rails for machines that earn and spend.",
    after_help = "Exit status: 0 done, 1 failed, 2 bad input, 3 refused by the node or the \
                  ledger, 4 node unreachable or busy, 5 a check did not hold."
)]
struct Cli {
    /// Print results (and errors) as JSON on stdout, for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the water city: devices trading cartridges, data and relay on an accelerated clock, until Ctrl-C, --seconds or --days.
    Demo(demo::DemoArgs),
    /// Run a node.
    Node(node_cmd::NodeArgs),
    /// Make a new key (an account).
    Keygen(keys_cmd::KeygenArgs),
    /// Key files.
    #[command(subcommand)]
    Key(keys_cmd::KeyCmd),
    /// Genesis files.
    #[command(subcommand)]
    Genesis(keys_cmd::GenesisCmd),
    /// Read accounts: balance and controls, history.
    #[command(subcommand)]
    Account(read_cmd::AccountCmd),
    /// Send money.
    Transfer(wallet::TransferArgs),
    /// Create money as one of the network's issuers (named in its genesis).
    Mint(wallet::MintArgs),
    /// Owner controls over devices.
    #[command(subcommand)]
    Device(wallet::DeviceCmd),
    /// Payment channels: open, pay off the ledger, accept, claim, close.
    #[command(subcommand)]
    Channel(channel_cmd::ChannelCmd),
    /// Mint to an account from a dev node's faucet.
    Faucet(wallet::FaucetArgs),
    /// The node's status: network, height, supply, MQTT broker.
    Status(read_cmd::StatusArgs),
    /// Show a committed transaction.
    Tx(read_cmd::TxArgs),
    /// Fetch a transaction's receipt (with its Merkle proof and signed block header).
    Receipt(read_cmd::ReceiptArgs),
    /// Check a receipt offline against the network's genesis.
    VerifyReceipt(read_cmd::VerifyReceiptArgs),
    /// Check evidence against a sequencer offline: two blocks it signed at one height, or a
    /// block whose state root does not follow (re-run on the state it proves).
    VerifyEvidence(evidence_cmd::VerifyEvidenceArgs),
    /// Sign a transaction of any kind without sending it; prints its bytes.
    Sign(sign_cmd::SignArgs),
    /// Send a transaction signed earlier (by `ting sign` or any other client).
    Submit(sign_cmd::SubmitArgs),
    /// Consent records: what an owner lets a device sell, and their withdrawal.
    #[command(subcommand)]
    Consent(consent_cmd::ConsentCmd),
    /// Data streams: open, find, sell, buy, and the owner's view of earnings.
    #[command(subcommand)]
    Stream(stream_cmd::StreamCmd),
    /// The service market: offers, reputations, escrow holds; provide and buy a service.
    #[command(subcommand)]
    Market(market_cmd::MarketCmd),
    /// Bandwidth and compute on order books: classes, bids and asks, leases paid as delivered.
    #[command(subcommand)]
    Orders(orders_cmd::OrdersCmd),
    /// MQTT: login credentials for tools such as mosquitto_sub.
    #[command(subcommand)]
    Mqtt(mqtt_cmd::MqttCmd),
    /// Create or upgrade the block log's schema in a PostgreSQL database.
    Migrate(migrate_cmd::MigrateArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
}

/// Runs `f` on a single-threaded Tokio runtime: every client command is a
/// few requests in a row.
pub fn block_on<F: std::future::Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Node(args) => node_cmd::run(&args),
        Command::Keygen(args) => keys_cmd::keygen(&args, json),
        Command::Key(cmd) => keys_cmd::key(&cmd, json),
        Command::Genesis(cmd) => keys_cmd::genesis(&cmd, json),
        Command::Account(cmd) => block_on(read_cmd::account(cmd, json)),
        Command::Transfer(args) => block_on(wallet::transfer(args, json)),
        Command::Mint(args) => block_on(wallet::mint(args, json)),
        Command::Device(cmd) => block_on(wallet::device(cmd, json)),
        Command::Channel(cmd) => block_on(channel_cmd::run(cmd, json)),
        Command::Faucet(args) => block_on(wallet::faucet(args, json)),
        Command::Status(args) => block_on(read_cmd::status(args, json)),
        Command::Tx(args) => block_on(read_cmd::tx(args, json)),
        Command::Receipt(args) => block_on(read_cmd::receipt(args, json)),
        Command::VerifyReceipt(args) => read_cmd::verify_receipt(&args, json),
        Command::VerifyEvidence(args) => evidence_cmd::verify_evidence(&args, json),
        Command::Sign(args) => block_on(sign_cmd::sign(args, json)),
        Command::Submit(args) => block_on(sign_cmd::submit(args, json)),
        Command::Mqtt(cmd) => block_on(mqtt_cmd::run(cmd, json)),
        Command::Consent(cmd) => block_on(consent_cmd::run(cmd, json)),
        Command::Stream(cmd) => block_on(stream_cmd::run(cmd, json)),
        Command::Market(cmd) => block_on(market_cmd::run(cmd, json)),
        Command::Orders(cmd) => block_on(orders_cmd::run(cmd, json)),
        Command::Migrate(args) => migrate_cmd::run(&args, json),
        Command::Bench(cmd) => bench::run(&cmd),
    }
}

/// Any panic stops the process at once. A node is fail-stop: its pipeline
/// threads hold state that is ahead of the log, and restarting from the log
/// is always safe, while limping on after a broken invariant is not.
/// `Node::start` does this for panics on the node's own threads (`ting-...`);
/// the binary goes further and stops on a panic anywhere, an HTTP handler's
/// or the gateway's included, since it serves nothing but the node.
fn fail_stop_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        eprintln!("ting: a panic is a bug; stopping so that recovery starts from the durable log");
        std::process::abort();
    }));
}

/// Parses the command line; with `--json` anywhere in it, a usage error is
/// answered as JSON too.
fn parse() -> Result<Cli, ExitCode> {
    match Cli::try_parse() {
        Ok(cli) => Ok(cli),
        Err(e) if e.use_stderr() && std::env::args().any(|a| a == "--json") => {
            let first = e.to_string();
            let message = first
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            let failed = Failed {
                exit: failure::Exit::BadInput,
                code: "bad_arguments".into(),
                message: format!("{message} (see `ting --help`)"),
                tx_hash: None,
            };
            Err(failed.report(true))
        }
        Err(e) => e.exit(),
    }
}

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    logging::init();
    if matches!(cli.command, Command::Node(_) | Command::Demo(_)) {
        fail_stop_on_panic();
    }
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => Failed::classify(&e).report(json),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn node_arg(args: &[&str]) -> Result<NodeArg, clap::Error> {
        let cli = Cli::try_parse_from(["ting", "status"].iter().chain(args))?;
        match cli.command {
            Command::Status(status) => Ok(status.node),
            _ => unreachable!("parsed as status"),
        }
    }

    const PIN: &str = "5f3a0c9b7d1e2f4a6b8c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c";

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_pin_reaches_an_https_node_and_is_refused_for_a_plain_one() {
        let https =
            node_arg(&["--node", "https://127.0.0.1:8443", "--tls-pin", PIN]).expect("parses");
        assert!(matches!(https.trust().expect("a pin"), TlsTrust::Pin(_)));
        assert!(https.client().is_ok());
        let plain =
            node_arg(&["--node", "http://127.0.0.1:8080", "--tls-pin", PIN]).expect("parses");
        let err = plain.client().expect_err("a pin for plain HTTP");
        assert_eq!(Failed::classify(&err).code, "tls_without_https");
        assert_eq!(Failed::classify(&err).exit, failure::Exit::BadInput);
    }

    #[test]
    fn a_bad_pin_is_bad_input_and_a_pin_with_a_ca_file_is_a_usage_error() {
        let bad = node_arg(&["--node", "https://h", "--tls-pin", "abc"]).expect("parses");
        let f = Failed::classify(&bad.client().expect_err("a bad pin"));
        assert_eq!(
            (f.exit, f.code.as_str()),
            (failure::Exit::BadInput, "bad_tls_pin")
        );
        let both = node_arg(&[
            "--node",
            "https://h",
            "--tls-pin",
            PIN,
            "--tls-ca",
            "ca.pem",
        ]);
        assert!(
            both.is_err(),
            "conflicting options are refused by the parser"
        );
    }

    #[test]
    fn sign_takes_the_node_and_its_tls_options_after_the_kind() {
        let cli = Cli::try_parse_from([
            "ting",
            "sign",
            "transfer",
            "--to",
            "x",
            "--amount",
            "1",
            "--node",
            "https://h:1",
            "--tls-pin",
            PIN,
        ])
        .expect("parses");
        let Command::Sign(sign) = cli.command else {
            unreachable!("parsed as sign")
        };
        assert_eq!(sign.node.url, "https://h:1");
        assert_eq!(sign.node.tls.tls_pin.as_deref(), Some(PIN));
    }
}
