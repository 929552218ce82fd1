//! Wallet and owner commands: accounts, transfers, devices, the faucet, receipts.
//!
//! Each command that changes the ledger reads the network id and the
//! sender's next nonce from the node, signs locally (the key never leaves
//! this process), submits the canonical bytes and waits for the commit.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use ting_core::tx::device_consent_message;
use ting_core::{AccountId, Amount, Keypair, NetworkId, Nonce, TxBody, TxKind};
use ting_node::files::{read_genesis, read_key};
use ting_node::http::json::receipt_from_json;

use crate::client::Client;
use crate::output::print_value;

#[derive(Debug, Args)]
pub struct TransferArgs {
    /// The sender's key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// The recipient (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub to: String,
    /// Base units to send.
    #[arg(long)]
    pub amount: u64,
    /// A note of up to 64 bytes.
    #[arg(long)]
    pub memo: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCmd {
    /// Register a device under the owner KEY; the device co-signs with its own key.
    Register {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, value_name = "FILE")]
        device_key: PathBuf,
        /// Free text describing the device (up to 256 bytes).
        #[arg(long, default_value = "")]
        metadata: String,
    },
    /// Cap what a device may send per UTC day (`--per-day none` removes the cap).
    Limit {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, value_name = "ID")]
        device: String,
        #[arg(long, value_name = "AMOUNT|none")]
        per_day: String,
    },
    /// Stop a device from sending (it can still receive).
    Freeze {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, value_name = "ID")]
        device: String,
    },
    /// Let a frozen device send again.
    Unfreeze {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, value_name = "ID")]
        device: String,
    },
    /// Move a device's funds to its owner, frozen or not.
    Sweep {
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        #[arg(long, value_name = "ID")]
        device: String,
        #[arg(long)]
        amount: u64,
    },
}

#[derive(Debug, Args)]
pub struct VerifyReceiptArgs {
    /// The receipt JSON (from `ting receipt HASH` or GET /v1/receipts/HASH); `-` for stdin.
    pub receipt: PathBuf,
    /// The network's genesis file: gives the network id and the sequencer keys.
    #[arg(long, value_name = "FILE", required_unless_present = "sequencer")]
    pub genesis: Option<PathBuf>,
    /// A sequencer key to trust instead of a genesis (repeatable; needs --network-id).
    #[arg(long, value_name = "ID", requires = "network_id")]
    pub sequencer: Vec<String>,
    #[arg(long)]
    pub network_id: Option<u32>,
}

pub(crate) fn parse_id(what: &str, text: &str) -> anyhow::Result<AccountId> {
    AccountId::parse(text).with_context(|| format!("{what} {text:?} is not an account id"))
}

/// Signs `kind` as `key` with its next nonce, submits it, and waits for the commit.
pub async fn sign_and_submit(
    client: &Client,
    key: &Keypair,
    kind: TxKind,
) -> anyhow::Result<Value> {
    let network = network_id(client).await?;
    let nonce = next_nonce(client, &key.account()).await?;
    submit_signed(client, key, network, nonce, kind).await
}

/// The network the node serves.
pub async fn network_id(client: &Client) -> anyhow::Result<NetworkId> {
    let status = client.get("/v1/status").await?;
    let network = status["network"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .context("status has no network id")?;
    Ok(NetworkId(network))
}

/// The nonce `account`'s next transaction must carry.
pub async fn next_nonce(client: &Client, account: &AccountId) -> anyhow::Result<Nonce> {
    let account = client
        .get(&format!("/v1/accounts/{}", account.to_did()))
        .await?;
    let nonce = account["nonce"].as_u64().context("account has no nonce")?;
    Ok(Nonce(nonce))
}

/// Signs `kind` with the given nonce, submits it, and waits for the commit.
pub async fn submit_signed(
    client: &Client,
    key: &Keypair,
    network: NetworkId,
    nonce: Nonce,
    kind: TxKind,
) -> anyhow::Result<Value> {
    let tx = TxBody {
        network,
        sender: key.account(),
        nonce,
        kind,
    }
    .sign(key);
    let body = json!({ "hex": hex::encode(tx.bytes()) });
    Ok(client.post("/v1/transactions?wait=true", &body).await?)
}

pub async fn transfer(client: &Client, args: &TransferArgs, json_out: bool) -> anyhow::Result<()> {
    let key = read_key(&args.key)?;
    let memo = args.memo.clone().unwrap_or_default().into_bytes();
    if memo.len() > ting_core::limits::MEMO_BYTES_MAX {
        bail!(
            "--memo is {} bytes; the limit is {}",
            memo.len(),
            ting_core::limits::MEMO_BYTES_MAX
        );
    }
    let kind = TxKind::Transfer {
        to: parse_id("--to", &args.to)?,
        amount: Amount::new(args.amount),
        memo,
    };
    let result = sign_and_submit(client, &key, kind).await?;
    print_value(&result, json_out, |v| {
        format!(
            "sent {} to {}: committed in block {} as {}",
            args.amount,
            args.to,
            v["height"],
            v["tx_hash"].as_str().unwrap_or("?")
        )
    });
    Ok(())
}

fn device_kind(cmd: &DeviceCmd, network: NetworkId) -> anyhow::Result<(PathBuf, TxKind)> {
    Ok(match cmd {
        DeviceCmd::Register {
            key,
            device_key,
            metadata,
        } => {
            let owner = read_key(key)?;
            let device = read_key(device_key)?;
            let metadata = metadata.clone().into_bytes();
            if metadata.len() > ting_core::limits::METADATA_BYTES_MAX {
                bail!(
                    "--metadata is over {} bytes",
                    ting_core::limits::METADATA_BYTES_MAX
                );
            }
            let consent =
                device_consent_message(network, &owner.account(), &device.account(), &metadata);
            let kind = TxKind::RegisterDevice {
                device: device.account(),
                device_signature: device.sign(&consent),
                metadata,
            };
            (key.clone(), kind)
        }
        DeviceCmd::Limit {
            key,
            device,
            per_day,
        } => {
            let per_day = match per_day.as_str() {
                "none" => None,
                n => Some(Amount::new(
                    n.parse().context("--per-day takes an amount or `none`")?,
                )),
            };
            (
                key.clone(),
                TxKind::SetSpendLimit {
                    device: parse_id("--device", device)?,
                    per_day,
                },
            )
        }
        DeviceCmd::Freeze { key, device } => (
            key.clone(),
            TxKind::Freeze {
                device: parse_id("--device", device)?,
            },
        ),
        DeviceCmd::Unfreeze { key, device } => (
            key.clone(),
            TxKind::Unfreeze {
                device: parse_id("--device", device)?,
            },
        ),
        DeviceCmd::Sweep {
            key,
            device,
            amount,
        } => (
            key.clone(),
            TxKind::Sweep {
                device: parse_id("--device", device)?,
                amount: Amount::new(*amount),
            },
        ),
    })
}

pub async fn device(client: &Client, cmd: &DeviceCmd, json_out: bool) -> anyhow::Result<()> {
    let status = client.get("/v1/status").await?;
    let network = status["network"]
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .context("status has no network id")?;
    let (key_path, kind) = device_kind(cmd, NetworkId(network))?;
    let owner = read_key(&key_path)?;
    let name = kind.name();
    let result = sign_and_submit(client, &owner, kind).await?;
    print_value(&result, json_out, |v| {
        format!(
            "{name}: committed in block {} as {}",
            v["height"],
            v["tx_hash"].as_str().unwrap_or("?")
        )
    });
    Ok(())
}

pub async fn account_show(client: &Client, id: &str, json_out: bool) -> anyhow::Result<()> {
    let id = parse_id("account", id)?;
    let v = client.get(&format!("/v1/accounts/{}", id.to_did())).await?;
    print_value(&v, json_out, |v| {
        let mut out = format!(
            "account {}\nbalance {}\nnonce   {}",
            v["id"].as_str().unwrap_or("?"),
            v["balance"],
            v["nonce"]
        );
        if let Some(d) = v["device"].as_object() {
            out += &format!(
                "\ndevice of {}\n  limit per day {}\n  spent today   {}\n  frozen        {}",
                d["owner"].as_str().unwrap_or("?"),
                if d["per_day"].is_null() {
                    "none".to_owned()
                } else {
                    d["per_day"].to_string()
                },
                d["spent_today"],
                d["frozen"]
            );
        }
        out
    });
    Ok(())
}

pub async fn faucet(client: &Client, to: &str, amount: u64, json_out: bool) -> anyhow::Result<()> {
    let to = parse_id("--to", to)?;
    let v = client
        .post(
            "/v1/faucet",
            &json!({ "to": to.to_did(), "amount": amount }),
        )
        .await?;
    print_value(&v, json_out, |v| {
        format!("minted {amount} to {}: block {}", to.to_did(), v["height"])
    });
    Ok(())
}

pub async fn show(client: &Client, path: &str, out: Option<&PathBuf>) -> anyhow::Result<()> {
    let v = client.get(path).await?;
    let text = serde_json::to_string_pretty(&v)?;
    match out {
        Some(file) => std::fs::write(file, text + "\n")
            .with_context(|| format!("writing {}", file.display()))?,
        None => println!("{text}"),
    }
    Ok(())
}

/// Checks a receipt offline: header signature by a trusted sequencer, Merkle path to its root.
pub fn verify_receipt(args: &VerifyReceiptArgs, json_out: bool) -> anyhow::Result<()> {
    let text = if args.receipt.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin().lock())?
    } else {
        std::fs::read_to_string(&args.receipt)
            .with_context(|| format!("reading {}", args.receipt.display()))?
    };
    let value: Value = serde_json::from_str(&text).context("the receipt is not JSON")?;
    let receipt =
        receipt_from_json(&value).map_err(|e| anyhow::anyhow!("the receipt is malformed: {e}"))?;
    let (network, sequencers) = match &args.genesis {
        Some(path) => {
            let g = read_genesis(path)?;
            (g.network, g.sequencers)
        }
        None => (
            NetworkId(
                args.network_id
                    .context("--network-id is needed with --sequencer")?,
            ),
            args.sequencer
                .iter()
                .map(|s| parse_id("--sequencer", s))
                .collect::<Result<_, _>>()?,
        ),
    };
    match receipt.verify(network, &sequencers) {
        Ok(()) => {
            let v = json!({
                "valid": true,
                "tx_hash": receipt.tx_hash.to_hex(),
                "height": receipt.header.height.0,
                "index": receipt.proof.index,
                "block_hash": receipt.header.hash().to_hex(),
                "sequencer": receipt.header.sequencer.to_did(),
            });
            print_value(&v, json_out, |v| {
                format!(
                    "valid: transaction {} is at index {} of block {} signed by {}",
                    v["tx_hash"].as_str().unwrap_or("?"),
                    v["index"],
                    v["height"],
                    v["sequencer"].as_str().unwrap_or("?")
                )
            });
            Ok(())
        }
        Err(e) => {
            if json_out {
                println!(
                    "{}",
                    json!({ "valid": false, "code": e.code(), "message": e.to_string() })
                );
            }
            bail!("the receipt does NOT verify: {e}")
        }
    }
}
