//! `ting keygen`, `ting key show` and `ting genesis new`: keys and genesis files.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;
use ting_agent::clock::now;
use ting_agent::files::{read_genesis, read_key, write_genesis, write_key};
use ting_core::{Amount, Genesis, Keypair, NetworkId};

use crate::failure::bad_input;
use crate::kinds::parse_id;
use crate::output::{print_value, utc};

/// A fresh seed from the operating system's generator.
pub fn random_seed() -> [u8; 32] {
    rand::random()
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the key here (mode 0600; never overwrites) and print its account;
    /// without it, print a new seed to stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// The account a key file holds (its did:key and hex), never its secret.
    Show {
        /// The key file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum GenesisCmd {
    /// Write a new genesis file.
    New(GenesisArgs),
    /// What a genesis file says, and its hash.
    Show {
        /// The genesis file.
        file: PathBuf,
    },
}

pub fn keygen(args: &KeygenArgs, json_out: bool) -> anyhow::Result<()> {
    let key = Keypair::from_seed(random_seed());
    let account = key.account();
    let Some(path) = &args.out else {
        let v = json!({ "account": account.to_did(), "hex": account.to_hex(), "seed": hex::encode(key.seed()) });
        print_value(&v, json_out, |_| {
            format!(
                "account {}\nseed    {}  (secret: anyone with it can spend)",
                account.to_did(),
                hex::encode(key.seed())
            )
        });
        return Ok(());
    };
    write_key(path, &key)?;
    let v = json!({ "account": account.to_did(), "hex": account.to_hex(), "file": path.display().to_string() });
    // The account alone on stdout, so `ID=$(ting keygen --out k.key)` works; the note to people on stderr.
    print_value(&v, json_out, |_| account.to_did());
    if !json_out {
        eprintln!(
            "key written to {} (mode 0600; keep it private: anyone with the file can spend)",
            path.display()
        );
    }
    Ok(())
}

pub fn key(cmd: &KeyCmd, json_out: bool) -> anyhow::Result<()> {
    let KeyCmd::Show { file } = cmd;
    let account = read_key(file)?.account();
    let v = json!({ "account": account.to_did(), "hex": account.to_hex(), "file": file.display().to_string() });
    print_value(&v, json_out, |_| {
        format!("account {}\nhex     {}", account.to_did(), account.to_hex())
    });
    Ok(())
}

#[derive(Debug, Args)]
pub struct GenesisArgs {
    /// Where to write the genesis file (refuses to overwrite).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The network id: transactions of other networks are refused.
    #[arg(long)]
    pub network_id: u32,
    /// A human name for the network.
    #[arg(long, default_value = "ting")]
    pub name: String,
    /// An account that may mint (repeatable).
    #[arg(long = "issuer", value_name = "ID")]
    pub issuers: Vec<String>,
    /// A key that may sign blocks (repeatable; at least one).
    #[arg(long = "sequencer", value_name = "ID", required = true)]
    pub sequencers: Vec<String>,
    /// An initial balance, ID=AMOUNT (repeatable).
    #[arg(long = "alloc", value_name = "ID=AMOUNT")]
    pub allocations: Vec<String>,
}

fn parse_allocation(text: &str) -> anyhow::Result<(ting_core::AccountId, Amount)> {
    let Some((id, amount)) = text.split_once('=') else {
        return Err(bad_input(
            "invalid_field",
            format!("--alloc takes ID=AMOUNT, not {text:?}"),
        ));
    };
    let amount: u64 = amount.trim().parse().map_err(|_| {
        bad_input(
            "bad_amount",
            format!("the amount in --alloc {text:?} is not a whole number of base units"),
        )
    })?;
    Ok((parse_id("--alloc", id)?, Amount::new(amount)))
}

pub fn genesis(cmd: &GenesisCmd, json_out: bool) -> anyhow::Result<()> {
    match cmd {
        GenesisCmd::New(args) => genesis_new(args, json_out),
        GenesisCmd::Show { file } => {
            let g = read_genesis(file)?;
            let v = json!({
                "file": file.display().to_string(),
                "genesis_hash": g.hash().to_hex(),
                "name": g.name,
                "network_id": g.network.0,
                "timestamp_ms": g.timestamp.0,
                "issuers": g.issuers.iter().map(|a| a.to_did()).collect::<Vec<_>>(),
                "sequencers": g.sequencers.iter().map(|a| a.to_did()).collect::<Vec<_>>(),
                "allocations": g.allocations.len(),
                "initial_supply": g.initial_supply().map(Amount::base_units),
            });
            print_value(&v, json_out, |_| human_genesis(&g));
            Ok(())
        }
    }
}

fn human_genesis(g: &Genesis) -> String {
    let list =
        |ids: &[ting_core::AccountId]| ids.iter().map(|a| format!("\n    {a}")).collect::<String>();
    format!(
        "genesis {}\n  network     {} ({})\n  created     {}\n  sequencers{}\n  issuers{}\n  allocations {} (initial supply {})",
        g.hash(),
        g.network,
        g.name,
        utc(g.timestamp),
        list(&g.sequencers),
        list(&g.issuers),
        g.allocations.len(),
        g.initial_supply().map_or(0, Amount::base_units),
    )
}

fn genesis_new(args: &GenesisArgs, json_out: bool) -> anyhow::Result<()> {
    let genesis = Genesis {
        name: args.name.clone(),
        network: NetworkId(args.network_id),
        timestamp: now(),
        issuers: args
            .issuers
            .iter()
            .map(|i| parse_id("--issuer", i))
            .collect::<Result<_, _>>()?,
        sequencers: args
            .sequencers
            .iter()
            .map(|s| parse_id("--sequencer", s))
            .collect::<Result<_, _>>()?,
        allocations: args
            .allocations
            .iter()
            .map(|a| parse_allocation(a))
            .collect::<Result<_, _>>()?,
        clock: ting_core::LedgerClock::Real,
    };
    genesis
        .validate()
        .map_err(|e| bad_input("invalid_genesis", format!("the genesis is not valid: {e}")))?;
    write_genesis(&args.out, &genesis)?;
    let v =
        json!({ "genesis_hash": genesis.hash().to_hex(), "file": args.out.display().to_string() });
    print_value(&v, json_out, |_| {
        format!(
            "genesis {} written to {}",
            genesis.hash(),
            args.out.display()
        )
    });
    Ok(())
}
