//! Commands that read: `account show|history`, `status`, `tx`, `receipt`,
//! and `verify-receipt`, which checks a receipt offline.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use ting_agent::client::TxRecord;
use ting_agent::files::read_genesis;
use ting_agent::trust::{CheckError, Trust};
use ting_core::{Hash32, Receipt, TxKind};

use crate::failure::{bad_input, NotValid};
use crate::kinds::parse_id;
use crate::output::{emit, print_value, read_input, text, utc, utc_field};
use crate::NodeArg;

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Balance, nonce and device controls of an account.
    Show {
        /// The account (did:key or hex).
        id: String,
        #[command(flatten)]
        node: NodeArg,
    },
    /// The transactions an account sent or received, newest first.
    History {
        /// The account (did:key or hex).
        id: String,
        /// How many to list (1 to 500).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Start below this position (`HEIGHT:INDEX`, as the previous page printed).
        #[arg(long, value_name = "CURSOR")]
        before: Option<String>,
        #[command(flatten)]
        node: NodeArg,
    },
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Wait up to this long for the node to answer (`30s`): for scripts that
    /// have just started one.
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct TxArgs {
    /// The transaction's hash (64 hex digits).
    pub hash: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct ReceiptArgs {
    /// The transaction's hash (64 hex digits).
    pub hash: String,
    /// Write it to a file instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct VerifyReceiptArgs {
    /// The receipt JSON (from `ting receipt HASH` or GET /v1/receipts/HASH); `-` for stdin.
    pub receipt: PathBuf,
    /// The network's genesis file: gives the genesis hash and the sequencer keys.
    #[arg(long, value_name = "FILE", required_unless_present = "sequencer")]
    pub genesis: Option<PathBuf>,
    /// A sequencer key to trust instead of a genesis (repeatable; needs --genesis-hash).
    #[arg(
        long,
        value_name = "ID",
        requires = "genesis_hash",
        conflicts_with = "genesis"
    )]
    pub sequencer: Vec<String>,
    /// The genesis hash (64 hex digits, as `ting status` shows it), with --sequencer.
    #[arg(long, value_name = "HEX")]
    pub genesis_hash: Option<String>,
    #[command(flatten)]
    pub witnesses: crate::witness_policy::WitnessArgs,
}

fn parse_hash(text: &str) -> anyhow::Result<Hash32> {
    Hash32::from_hex(text.trim()).ok_or_else(|| {
        bad_input(
            "invalid_field",
            format!("{text:?} is not a transaction hash (64 hex digits)"),
        )
    })
}

pub async fn account(cmd: AccountCmd, json_out: bool) -> anyhow::Result<()> {
    match cmd {
        AccountCmd::Show { id, node } => {
            let id = parse_id("account", &id)?;
            let v = node.client()?.account(&id).await?;
            print_value(&v, json_out, human_account);
        }
        AccountCmd::History {
            id,
            limit,
            before,
            node,
        } => {
            let id = parse_id("account", &id)?;
            let client = node.client()?;
            let v = client.history(&id, limit, before.as_deref()).await?;
            if json_out {
                emit(&v.to_string());
                return Ok(());
            }
            let mut lines = Vec::new();
            for row in v["transactions"].as_array().into_iter().flatten() {
                let hash = parse_hash(row["tx_hash"].as_str().unwrap_or(""))?;
                let record = client.transaction(&hash).await?;
                lines.push(history_line(&record, &id));
            }
            if lines.is_empty() {
                lines.push("no transactions".to_owned());
            }
            if let Some(next) = v["next"].as_str() {
                lines.push(format!("older: --before {next}"));
            }
            emit(&lines.join("\n"));
        }
    }
    Ok(())
}

fn human_account(v: &Value) -> String {
    let mut out = format!(
        "account {}\nbalance {}\nnonce   {}",
        text(&v["id"]),
        v["balance"],
        v["nonce"]
    );
    if let Some(key) = v["messaging_key"].as_str() {
        out += &format!("\nmessaging key {key}");
    }
    if let Some(d) = v["device"].as_object() {
        let per_day = match &d["per_day"] {
            Value::Null => "none".to_owned(),
            n => n.to_string(),
        };
        out += &format!(
            "\ndevice of {}\n  limit per day {per_day}\n  spent today   {}\n  frozen        {}",
            text(&d["owner"]),
            d["spent_today"],
            if d["frozen"] == true { "yes" } else { "no" }
        );
    }
    out
}

/// One history row: when, where, what, from whom to whom.
fn history_line(r: &TxRecord, me: &ting_core::AccountId) -> String {
    let h = &r.receipt.header;
    let tx = &r.tx;
    let direction = if tx.sender() == *me { "out" } else { "in " };
    format!(
        "{}  block {} tx {}  {direction}  {}  ({})",
        utc(h.timestamp),
        h.height,
        r.receipt.proof.index,
        describe(tx.kind(), &tx.sender()),
        tx.hash()
    )
}

/// A transaction kind in words.
pub fn describe(kind: &TxKind, sender: &ting_core::AccountId) -> String {
    match kind {
        TxKind::Transfer { to, amount, memo } => {
            let memo = if memo.is_empty() {
                String::new()
            } else {
                format!(" memo {:?}", String::from_utf8_lossy(memo))
            };
            format!("transfer {amount} from {sender} to {to}{memo}")
        }
        TxKind::Mint { to, amount } => format!("mint {amount} by {sender} to {to}"),
        TxKind::RegisterDevice { device, .. } => format!("register device {device} under {sender}"),
        TxKind::SetSpendLimit { device, per_day } => match per_day {
            Some(a) => format!("limit device {device} to {a} per day"),
            None => format!("remove the daily limit of device {device}"),
        },
        TxKind::Freeze { device } => format!("freeze device {device}"),
        TxKind::Unfreeze { device } => format!("unfreeze device {device}"),
        TxKind::Sweep { device, amount } => {
            format!("sweep {amount} from device {device} to {sender}")
        }
        TxKind::SetMessagingKey { .. } => format!("messaging key of {sender}"),
        TxKind::ChannelOpen { payee, deposit, .. } => {
            format!("open a channel from {sender} to {payee} with {deposit}")
        }
        TxKind::ChannelClaim { channel, .. } => format!("claim on channel {channel}"),
        TxKind::ChannelTopUp {
            channel, amount, ..
        } => format!("top up channel {channel} by {amount}"),
        TxKind::ChannelClose { channel, .. } => format!("close channel {channel}"),
        TxKind::ChannelReclaim { channel } => format!("reclaim channel {channel}"),
        TxKind::StreamOpen { terms } => format!(
            "open a stream by {sender} at {} per epoch in area {}",
            terms.price_per_epoch, terms.area
        ),
        TxKind::StreamConsent { stream, .. } => format!("new consent record for stream {stream}"),
        TxKind::StreamDelivery { stream, ack } => format!(
            "delivery on stream {stream}: {} epochs for {} to {}",
            ack.delivery.epochs, ack.delivery.paid, ack.delivery.buyer
        ),
        TxKind::StreamClose { stream } => format!("close stream {stream}"),
        TxKind::HoldCreate { terms } => format!(
            "hold {} from {sender} for {} ({}) until {}",
            terms.amount, terms.payee, terms.category, terms.deadline
        ),
        TxKind::HoldAccept { hold } => format!("accept hold {hold}"),
        TxKind::HoldRelease { hold, evidence } => match evidence {
            Some(_) => format!("release hold {hold} on evidence"),
            None => format!("release hold {hold}"),
        },
        TxKind::HoldRefund { hold } => format!("refund hold {hold}"),
        TxKind::HoldDispute { hold, .. } => format!("dispute hold {hold}"),
        TxKind::HoldDecide { hold, to_payee } => {
            format!("decide hold {hold}: {to_payee} to the payee")
        }
        TxKind::OfferOpen { terms } => format!(
            "offer {} by {sender} at {} in area {:?}",
            terms.category, terms.price, terms.area
        ),
        TxKind::OfferUpdate { offer, .. } => format!("update offer {offer}"),
        TxKind::OfferClose { offer } => format!("close offer {offer}"),
        TxKind::ClassRegister {
            name,
            unit,
            lease_ms,
        } => format!("register resource class {name} in {unit}, leases of {lease_ms} ms"),
        TxKind::OrderPlace { terms } => format!(
            "{} {} {} at {} by {sender}",
            terms.side.name(),
            terms.quantity,
            terms.class,
            terms.price
        ),
        TxKind::OrderCancel { order } => format!("cancel order {order}"),
        TxKind::LeaseSettle { lease, count, .. } => {
            format!("settle lease {lease} at {count} units delivered")
        }
        TxKind::LeaseClose { lease, count } => match count {
            Some((count, _)) => format!("close lease {lease} at {count} units delivered"),
            None => format!("close lease {lease}"),
        },
    }
}

/// How often `status --wait` asks again.
const STATUS_POLL: std::time::Duration = std::time::Duration::from_millis(100);

pub async fn status(args: StatusArgs, json_out: bool) -> anyhow::Result<()> {
    let client = args.node.client()?;
    let wait_ms = args
        .wait
        .as_deref()
        .map(crate::channel_cmd::parse_duration_ms)
        .transpose()?
        .unwrap_or(0);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(wait_ms);
    let s = loop {
        match client.status().await {
            Ok(s) => break s,
            Err(e) if e.is_transient() && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(STATUS_POLL).await;
            }
            Err(e) => return Err(e.into()),
        }
    };
    print_value(&s.raw, json_out, |v| {
        let mqtt = s.mqtt.clone().unwrap_or_else(|| "off".to_owned());
        let faucet = s
            .faucet
            .map_or_else(|| "none".to_owned(), |f| f.to_string());
        let role = role_line(&v["role"]);
        format!(
            "node {}\n  network      {} ({})\n  genesis      {}\n  sequencer    {}\n  role         {role}\n  height       {} (durable {}, indexed {})\n  accounts     {}\n  supply       {}\n  MQTT broker  {mqtt}\n  faucet       {faucet}",
            args.node.url,
            s.network,
            s.name,
            s.genesis_hash,
            s.sequencer,
            s.height,
            s.durable_height,
            v["indexed_height"],
            v["accounts"],
            v["supply"],
        )
    });
    Ok(())
}

/// `/v1/status`'s `role` in words: alone, leading in an epoch, or following a leader.
fn role_line(role: &serde_json::Value) -> String {
    match role["kind"].as_str() {
        Some("leader") => format!(
            "leader (epoch {}): it seals the blocks of the nodes on its database",
            role["epoch"]
        ),
        Some("follower") => match role["leader"].as_object() {
            Some(l) => format!(
                "follower of the leader at {} (epoch {}): submissions sent here are forwarded to it",
                l.get("address").and_then(|a| a.as_str()).filter(|a| !a.is_empty()).unwrap_or("an address it did not give"),
                l.get("epoch").map_or_else(String::new, ToString::to_string)
            ),
            None => "follower, no leader yet (a failover is under way)".to_owned(),
        },
        Some("single") | None => "single (its own block log)".to_owned(),
        Some(other) => other.to_owned(),
    }
}

pub async fn tx(args: TxArgs, json_out: bool) -> anyhow::Result<()> {
    let hash = parse_hash(&args.hash)?;
    let r = args.node.client()?.transaction(&hash).await?;
    print_value(&r.raw, json_out, |_| {
        let h = &r.receipt.header;
        format!(
            "transaction {}\n  {}\n  sender     {} (nonce {})\n  committed  block {} index {}, {}\n  block hash {}",
            r.tx.hash(),
            describe(r.tx.kind(), &r.tx.sender()),
            r.tx.sender(),
            r.tx.nonce(),
            h.height,
            r.receipt.proof.index,
            utc(h.timestamp),
            h.hash()
        )
    });
    Ok(())
}

pub async fn receipt(args: ReceiptArgs, json_out: bool) -> anyhow::Result<()> {
    let hash = parse_hash(&args.hash)?;
    let (_, raw) = args.node.client()?.receipt(&hash).await?;
    let text = serde_json::to_string_pretty(&raw)? + "\n";
    match &args.out {
        Some(file) => {
            std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))?;
            let out = json!({ "tx_hash": hash.to_hex(), "file": file.display().to_string() });
            print_value(&out, json_out, |_| {
                format!("receipt of {hash} written to {}", file.display())
            });
        }
        None if json_out => emit(&raw.to_string()),
        None => emit(text.trim_end()),
    }
    Ok(())
}

/// The most a receipt file may hold: a proof for the largest block is about 1 KiB.
const RECEIPT_BYTES_MAX: u64 = 1024 * 1024;

fn read_receipt(path: &std::path::Path) -> anyhow::Result<Receipt> {
    let what = path.display().to_string();
    let text = read_input(&what, RECEIPT_BYTES_MAX, "the receipt")?;
    ting_agent::txtext::receipt_from_text(&text).map_err(|e| {
        bad_input(
            "bad_receipt",
            format!("{what} is not a receipt: {}", e.message),
        )
    })
}

/// Checks a receipt offline: header signature by a trusted sequencer, Merkle path to its root.
pub fn verify_receipt(args: &VerifyReceiptArgs, json_out: bool) -> anyhow::Result<()> {
    let receipt = read_receipt(&args.receipt)?;
    let trust = match &args.genesis {
        Some(path) => {
            Trust::from_genesis(&read_genesis(path)?, format!("genesis {}", path.display()))
        }
        None => Trust {
            genesis_hash: parse_genesis_hash(
                args.genesis_hash
                    .as_deref()
                    .context("--genesis-hash is needed with --sequencer")?,
            )?,
            sequencers: args
                .sequencer
                .iter()
                .map(|s| parse_id("--sequencer", s))
                .collect::<Result<_, _>>()?,
            source: "the given sequencer keys".into(),
        },
    };
    if let Err(e) = trust.check(&receipt) {
        return Err(not_valid(&e));
    }
    let h = &receipt.header;
    let witnessed = crate::witness_policy::check(h, &args.witnesses)?;
    let v = json!({
        "valid": true,
        "tx_hash": receipt.tx_hash.to_hex(),
        "height": h.height.0,
        "index": receipt.proof.index,
        "block_hash": h.hash().to_hex(),
        "timestamp_ms": h.timestamp.0,
        "sequencer": h.sequencer.to_did(),
        "witnesses": witnessed,
    });
    print_value(&v, json_out, |v| {
        let witnessed = match v["witnesses"]["attested_by"].as_array() {
            Some(by) => format!(
                "; attested by {} of the witnesses trusted ({} needed)",
                by.len(),
                v["witnesses"]["needed"]
            ),
            None => String::new(),
        };
        format!(
            "valid: transaction {} is at index {} of block {} ({}), signed by {}{witnessed}",
            text(&v["tx_hash"]),
            v["index"],
            v["height"],
            utc_field(&v["timestamp_ms"]),
            text(&v["sequencer"])
        )
    });
    Ok(())
}

fn parse_genesis_hash(text: &str) -> anyhow::Result<Hash32> {
    Hash32::from_hex(text.trim()).ok_or_else(|| {
        bad_input(
            "bad_genesis_hash",
            format!("--genesis-hash {text:?} is not 64 hex digits; `ting status` shows the genesis hash"),
        )
    })
}

fn not_valid(e: &CheckError) -> anyhow::Error {
    NotValid {
        code: e.code(),
        message: e.to_string(),
    }
    .into()
}
