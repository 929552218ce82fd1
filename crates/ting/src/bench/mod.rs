//! `ting bench ...`: benchmarks that print a figure and its ratio to a ceiling measured in the same run.

use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Durable signed transfers through the node pipeline vs. the machine's verification capacity.
    Ledger(LedgerArgs),
}

#[derive(Debug, Args)]
pub struct LedgerArgs {
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: &BenchCmd) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Ledger(_) => anyhow::bail!("being written"),
    }
}
