//! `ting keygen` and `ting genesis new`: make keys and genesis files.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use serde_json::json;
use ting_core::{AccountId, Amount, Genesis, Keypair, NetworkId, Timestamp};
use ting_node::files::{write_genesis, write_key};

use crate::node_cmd::{now_ms, random_seed};

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the key here (mode 0600); without it, print the seed to stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

pub fn keygen(args: &KeygenArgs, json_out: bool) -> anyhow::Result<()> {
    let key = Keypair::from_seed(random_seed());
    let account = key.account();
    if let Some(path) = &args.out {
        write_key(path, &key)?;
        if json_out {
            println!(
                "{}",
                json!({ "account": account.to_did(), "hex": account.to_hex(), "file": path.display().to_string() })
            );
        } else {
            println!(
                "{}\nwritten to {} (keep it private)",
                account.to_did(),
                path.display()
            );
        }
    } else if json_out {
        println!(
            "{}",
            json!({ "account": account.to_did(), "hex": account.to_hex(), "seed": hex::encode(key.seed()) })
        );
    } else {
        println!(
            "account {}\nseed    {}  (secret: anyone with it can spend)",
            account.to_did(),
            hex::encode(key.seed())
        );
    }
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

fn parse_id(what: &str, text: &str) -> anyhow::Result<AccountId> {
    AccountId::parse(text).with_context(|| format!("{what} {text:?}"))
}

pub fn genesis_new(args: &GenesisArgs) -> anyhow::Result<()> {
    let mut allocations = Vec::new();
    for a in &args.allocations {
        let Some((id, amount)) = a.split_once('=') else {
            bail!("--alloc takes ID=AMOUNT, not {a:?}");
        };
        let amount: u64 = amount
            .parse()
            .with_context(|| format!("amount in --alloc {a:?}"))?;
        allocations.push((parse_id("--alloc", id)?, Amount::new(amount)));
    }
    let genesis = Genesis {
        name: args.name.clone(),
        network: NetworkId(args.network_id),
        timestamp: Timestamp(now_ms()),
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
        allocations,
    };
    genesis.validate().context("the genesis is not valid")?;
    write_genesis(&args.out, &genesis)?;
    println!(
        "genesis {} written to {}",
        genesis.hash(),
        args.out.display()
    );
    Ok(())
}
