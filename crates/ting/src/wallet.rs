//! Commands that sign one transaction with the next nonce, send it and wait
//! for its block to be durable: `transfer`, `mint`, `device ...`, and the
//! dev faucet.
//!
//! The key never leaves this process; `ting-agent` reads the network and the
//! nonce from the node, signs and submits.

use anyhow::Context;
use clap::{Args, Subcommand};
use ting_agent::client::Committed;
use ting_agent::wallet::{sign, sign_and_submit, TxSlot};
use ting_core::{Amount, TxKind};

use crate::kinds::{
    parse_id, DeviceFields, KeyArg, LimitFields, MintFields, RegisterFields, SweepFields,
    TransferFields,
};
use crate::output::print_value;
use crate::NodeArg;

#[derive(Debug, Args)]
pub struct TransferArgs {
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub fields: TransferFields,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct MintArgs {
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub fields: MintFields,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct FaucetArgs {
    /// Who receives the money (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub to: String,
    /// Base units to mint.
    #[arg(long)]
    pub amount: u64,
    #[command(flatten)]
    pub node: NodeArg,
}

/// An owner's command over one device: the owner's key, the node, the fields.
#[derive(Debug, Args)]
pub struct OwnerArgs<F: clap::Args> {
    #[command(flatten)]
    pub key: KeyArg,
    #[command(flatten)]
    pub fields: F,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Register a device under the owner KEY; the device co-signs with its own key.
    Register(OwnerArgs<RegisterFields>),
    /// Cap what a device may send per UTC day (`--per-day none` removes the cap).
    Limit(OwnerArgs<LimitFields>),
    /// Stop a device from sending (it can still receive).
    Freeze(OwnerArgs<DeviceFields>),
    /// Let a frozen device send again.
    Unfreeze(OwnerArgs<DeviceFields>),
    /// Move a device's funds to its owner, frozen or not.
    Sweep(OwnerArgs<SweepFields>),
}

/// One line saying where a transaction landed.
pub fn committed_line(what: &str, c: &Committed) -> String {
    format!(
        "{what}: committed in block {} at index {} (tx {})",
        c.height, c.index, c.tx_hash
    )
}

/// Signs `kind` with `key`'s next nonce, sends it, and prints where it landed as `what`.
async fn send(
    node: &NodeArg,
    key: &KeyArg,
    kind: anyhow::Result<TxKind>,
    what: String,
    json_out: bool,
) -> anyhow::Result<()> {
    let key = key.read()?;
    let kind = kind?;
    let client = node.client()?;
    let name = kind.name();
    let c = sign_and_submit(&client, &key, kind)
        .await
        .with_context(|| format!("{name} from {}", key.account()))?;
    print_value(&c.raw, json_out, |_| committed_line(&what, &c));
    Ok(())
}

pub async fn transfer(args: TransferArgs, json_out: bool) -> anyhow::Result<()> {
    let f = &args.fields;
    let what = format!("sent {} to {}", f.amount, f.to);
    send(&args.node, &args.key, f.kind(), what, json_out).await
}

pub async fn mint(args: MintArgs, json_out: bool) -> anyhow::Result<()> {
    let f = &args.fields;
    let what = format!("minted {} to {}", f.amount, f.to);
    send(&args.node, &args.key, f.kind(), what, json_out).await
}

pub async fn device(cmd: DeviceCmd, json_out: bool) -> anyhow::Result<()> {
    let (key, node) = match &cmd {
        DeviceCmd::Register(a) => (&a.key, &a.node),
        DeviceCmd::Limit(a) => (&a.key, &a.node),
        DeviceCmd::Freeze(a) | DeviceCmd::Unfreeze(a) => (&a.key, &a.node),
        DeviceCmd::Sweep(a) => (&a.key, &a.node),
    };
    let owner = key.read()?;
    let client = node.client()?;
    let slot = TxSlot::next(&client, &owner.account()).await?;
    let kind = match &cmd {
        DeviceCmd::Register(a) => a.fields.kind(&slot.genesis, &owner.account())?,
        DeviceCmd::Limit(a) => a.fields.kind()?,
        DeviceCmd::Freeze(a) => a.fields.freeze()?,
        DeviceCmd::Unfreeze(a) => a.fields.unfreeze()?,
        DeviceCmd::Sweep(a) => a.fields.kind()?,
    };
    let name = kind.name();
    let c = client
        .submit(&sign(&owner, slot, kind))
        .await
        .with_context(|| format!("{name} by {}", owner.account()))?;
    print_value(&c.raw, json_out, |_| committed_line(name, &c));
    Ok(())
}

pub async fn faucet(args: FaucetArgs, json_out: bool) -> anyhow::Result<()> {
    let to = parse_id("--to", &args.to)?;
    let client = args.node.client()?;
    let v = client
        .faucet(&to, Amount::new(args.amount))
        .await
        .context("the faucet (dev nodes only)")?;
    print_value(&v, json_out, |v| {
        format!(
            "minted {} to {to}: committed in block {}",
            args.amount, v["height"]
        )
    });
    Ok(())
}
