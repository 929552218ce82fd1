//! `ting sign` and `ting submit`: a transaction of any kind signed on one
//! machine (possibly one that never touches the network) and sent later,
//! from anywhere.
//!
//! `sign` takes the kind's fields as `ting transfer`, `ting device ...` and
//! `ting channel ...` take them, and the network and nonce either given
//! (`--network` or `--genesis`, `--nonce`: fully offline) or read from the
//! node. It prints the signed transaction as hex (default), base64 or the
//! API's JSON form; `submit` takes any of the three (or the API's
//! `{"hex": ...}` body), checks that it decodes, sends it and waits for the
//! commit.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use base64::Engine;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use ting_agent::files::{read_genesis, read_key};
use ting_agent::wallet::{sign as sign_tx, TxSlot};
use ting_agent::NodeClient;
use ting_api::{SubmitTx, TxJson};
use ting_core::{ChannelProof, Keypair, NetworkId, Nonce, SignedTx, TxKind};

use crate::channel_cmd::payee::{open_payee, parse_payment};
use crate::channel_cmd::payer::prepare_open;
use crate::channel_cmd::{parse_channel, OpenFields, StateDir, TopUpFields};
use crate::failure::bad_input;
use crate::kinds::{
    messaging_key_kind, DeviceFields, LimitFields, MintFields, RegisterFields, SweepFields,
    TransferFields,
};
use crate::output::print_value;
use crate::read_cmd::describe;
use crate::wallet::committed_line;

#[derive(Debug, Args)]
pub struct SignArgs {
    #[command(subcommand)]
    pub kind: SignKind,
    /// The signing key file.
    #[arg(long, value_name = "FILE", global = true)]
    pub key: Option<PathBuf>,
    /// The nonce to sign for [default: the sender's next, read from the node].
    #[arg(long, global = true)]
    pub nonce: Option<u64>,
    /// The network id [default: from --genesis, else read from the node].
    #[arg(long, global = true, conflicts_with = "genesis")]
    pub network: Option<u32>,
    /// The network's genesis file, for its network id.
    #[arg(long, value_name = "FILE", global = true)]
    pub genesis: Option<PathBuf>,
    /// How to print the signed transaction.
    #[arg(long, value_enum, default_value = "hex", global = true)]
    pub format: TxFormat,
    /// The node asked for what is not given (nonce, network, a channel's expiry).
    #[arg(
        long = "node",
        value_name = "URL",
        env = "TING_NODE",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub node: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TxFormat {
    /// The canonical bytes in hex.
    Hex,
    /// The canonical bytes in standard base64.
    Base64,
    /// The API's JSON form of the transaction (docs/api.md §4).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum SignKind {
    /// Send money.
    Transfer(TransferFields),
    /// Create money (the key must be an issuer's).
    Mint(MintFields),
    /// Register a device under the key (the device's key co-signs).
    RegisterDevice(RegisterFields),
    /// Cap a device's daily spending.
    SetSpendLimit(LimitFields),
    /// Stop a device from sending.
    Freeze(DeviceFields),
    /// Let a frozen device send again.
    Unfreeze(DeviceFields),
    /// Move a device's funds to its owner.
    Sweep(SweepFields),
    /// Publish the messaging key derived from the signing key (for encrypted envelopes).
    SetMessagingKey,
    /// Open a payment channel (writes the payer's channel file first, as `channel open` does).
    ChannelOpen(OpenFields),
    /// Claim on a channel with a payment, or the payee's kept best proof.
    ChannelClaim(ProofFields),
    /// Add to a channel's deposit or time, or queue more ticks.
    ChannelTopUp(TopUpFields),
    /// Settle a channel as its payee, with a last proof if there is one.
    ChannelClose(ProofFields),
    /// Take back what a channel holds after its expiry and grace.
    ChannelReclaim(ChannelField),
}

/// Where a channel proof comes from.
#[derive(Debug, Args)]
pub struct ProofFields {
    #[arg(long, value_name = "ID")]
    pub channel: String,
    /// A payment (hex, as `channel pay` prints it) whose proof to use;
    /// without it, the payee's kept best proof from --state.
    #[arg(long, value_name = "HEX")]
    pub payment: Option<String>,
    #[command(flatten)]
    pub dir: StateDir,
}

#[derive(Debug, Args)]
pub struct ChannelField {
    #[arg(long, value_name = "ID")]
    pub channel: String,
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The signed transaction: hex, base64 or JSON; `@FILE` reads a file, `-` stdin.
    pub tx: String,
    /// Return once the node has admitted it, without waiting for the commit.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub node: crate::NodeArg,
}

/// The network and nonce: given, from the genesis file, or from the node.
async fn slot(args: &SignArgs, key: &Keypair, client: &NodeClient) -> anyhow::Result<TxSlot> {
    let network = match (args.network, &args.genesis) {
        (Some(n), _) => Some(NetworkId(n)),
        (None, Some(path)) => Some(read_genesis(path)?.network),
        (None, None) => None,
    };
    let network = match network {
        Some(n) => n,
        None => {
            client
                .status()
                .await
                .context("reading the network id (or give --network or --genesis)")?
                .network
        }
    };
    let nonce = match args.nonce {
        Some(n) => Nonce(n),
        None => client
            .nonce(&key.account())
            .await
            .context("reading the sender's next nonce (or give --nonce)")?,
    };
    Ok(TxSlot { network, nonce })
}

/// The proof `f` names: the payment's, or the payee's next planned claim
/// (`last` for a close, which must carry the final one).
fn proof(f: &ProofFields, last: bool) -> anyhow::Result<Option<ChannelProof>> {
    let id = parse_channel(&f.channel)?;
    if let Some(text) = &f.payment {
        let payment = parse_payment(text)?;
        if payment.channel != id {
            return Err(bad_input(
                "wrong_channel",
                format!("the payment is for channel {}, not {id}", payment.channel),
            ));
        }
        return Ok(Some(payment.proof));
    }
    let payee = match open_payee(&f.dir.state, &id) {
        Ok(p) => p,
        Err(_) if last => return Ok(None),
        Err(e) => return Err(e),
    };
    let plan = payee.claim_plan(
        ting_agent::clock::now(),
        &ting_core::channel::payee::ClaimPolicy::ALWAYS,
    )?;
    if last && plan.len() > 1 {
        return Err(bad_input(
            "claims_first",
            format!(
                "the payee's best proof needs {} claims; sign the claims first (`ting sign channel-claim`), then the close",
                plan.len() - 1
            ),
        ));
    }
    match plan.first() {
        Some(p) => Ok(Some(*p)),
        None if last => Ok(None),
        None => Err(bad_input(
            "nothing_to_claim",
            format!("nothing new to claim on channel {id}"),
        )),
    }
}

/// The kind to sign; a channel open also writes the payer's file.
async fn build(
    args: &SignArgs,
    key: &Keypair,
    slot: TxSlot,
    client: &NodeClient,
) -> anyhow::Result<(TxKind, Value)> {
    let mut extra = Value::Null;
    let kind = match &args.kind {
        SignKind::Transfer(f) => f.kind()?,
        SignKind::Mint(f) => f.kind()?,
        SignKind::RegisterDevice(f) => f.kind(slot.network, &key.account())?,
        SignKind::SetSpendLimit(f) => f.kind()?,
        SignKind::Freeze(f) => f.freeze()?,
        SignKind::Unfreeze(f) => f.unfreeze()?,
        SignKind::Sweep(f) => f.kind()?,
        SignKind::SetMessagingKey => messaging_key_kind(key),
        SignKind::ChannelOpen(f) => {
            let open = prepare_open(key, slot, f)?;
            extra = json!({ "channel": open.id.to_hex(), "payer_file_in": f.dir.state.display().to_string() });
            open.kind
        }
        SignKind::ChannelClaim(f) => TxKind::ChannelClaim {
            channel: parse_channel(&f.channel)?,
            proof: proof(f, false)?.expect("a claim's proof is required"),
        },
        SignKind::ChannelTopUp(f) => {
            let on_ledger = match f.expires_in {
                Some(_) => None,
                None => Some(client.channel(&parse_channel(&f.channel)?).await?),
            };
            crate::channel_cmd::payer::prepare_top_up(key, f, on_ledger.as_ref())?.kind
        }
        SignKind::ChannelClose(f) => TxKind::ChannelClose {
            channel: parse_channel(&f.channel)?,
            proof: proof(f, true)?,
        },
        SignKind::ChannelReclaim(f) => TxKind::ChannelReclaim {
            channel: parse_channel(&f.channel)?,
        },
    };
    Ok((kind, extra))
}

pub async fn sign(args: SignArgs, json_out: bool) -> anyhow::Result<()> {
    let Some(key_path) = &args.key else {
        return Err(bad_input(
            "invalid_field",
            "give the signing key with --key FILE",
        ));
    };
    let key = read_key(key_path)?;
    let client = NodeClient::new(&args.node)?;
    let slot = slot(&args, &key, &client).await?;
    let (kind, extra) = build(&args, &key, slot, &client).await?;
    let tx = sign_tx(&key, slot, kind);
    let bytes = tx.bytes();
    let as_json = serde_json::to_value(TxJson::from_tx(&tx)).expect("a transaction serializes");
    let printed = match args.format {
        TxFormat::Hex => hex::encode(bytes),
        TxFormat::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
        TxFormat::Json => as_json.to_string(),
    };
    let out = json!({
        "tx_hash": tx.hash().to_hex(),
        "sender": tx.sender().to_did(),
        "network": slot.network.0,
        "nonce": slot.nonce.0,
        "kind": tx.kind().name(),
        "tx": printed,
        "format": args.format.to_possible_value().map(|v| v.get_name().to_owned()),
        "channel": extra["channel"],
    });
    print_value(&out, json_out, |_| printed.clone());
    if !json_out {
        eprintln!(
            "signed {} (nonce {} on network {}, tx {}); send it with `ting submit`",
            describe(tx.kind(), &tx.sender()),
            slot.nonce,
            slot.network,
            tx.hash()
        );
    }
    Ok(())
}

/// The most `submit` reads: a transaction is at most a few KiB in any form.
const SUBMIT_TEXT_BYTES_MAX: u64 = 64 * 1024;

fn read_text(arg: &str) -> anyhow::Result<String> {
    let mut text = String::new();
    let source = if arg == "-" {
        Some(Box::new(std::io::stdin()) as Box<dyn Read>)
    } else if let Some(path) = arg.strip_prefix('@') {
        let file = std::fs::File::open(path)
            .map_err(|e| bad_input("file_not_found", format!("cannot open {path}: {e}")))?;
        Some(Box::new(file) as Box<dyn Read>)
    } else {
        None
    };
    match source {
        Some(r) => {
            r.take(SUBMIT_TEXT_BYTES_MAX)
                .read_to_string(&mut text)
                .map_err(|e| bad_input("io", format!("cannot read the transaction: {e}")))?;
            Ok(text)
        }
        None => Ok(arg.to_owned()),
    }
}

/// Reads a signed transaction in any of the forms `sign` prints, or the
/// API's submission body.
pub fn parse_tx(text: &str) -> anyhow::Result<SignedTx> {
    let text = text.trim();
    let bad = |e: ting_api::FormError| bad_input(e.code, format!("the transaction: {}", e.message));
    if text.starts_with('{') {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| bad_input("invalid_json", format!("the transaction is not JSON: {e}")))?;
        let is_body = ["hex", "base64", "json"]
            .iter()
            .any(|k| value.get(k).is_some());
        return if is_body {
            let body: SubmitTx = serde_json::from_value(value)
                .map_err(|e| bad_input("invalid_json", format!("the transaction: {e}")))?;
            body.to_tx().map_err(bad)
        } else {
            let form: TxJson = serde_json::from_value(value)
                .map_err(|e| bad_input("invalid_json", format!("the transaction: {e}")))?;
            form.to_tx().map_err(bad)
        };
    }
    let bytes = if text.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|_| bad_input("invalid_field", "odd-length hex"))?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| {
                bad_input(
                    "invalid_field",
                    "the transaction is neither hex, base64 nor JSON",
                )
            })?
    };
    ting_api::decode_tx(&bytes).map_err(bad)
}

pub async fn submit(args: SubmitArgs, json_out: bool) -> anyhow::Result<()> {
    let tx = parse_tx(&read_text(&args.tx)?)?;
    let client = args.node.client()?;
    let what = describe(tx.kind(), &tx.sender());
    if args.no_wait {
        let hash = client.submit_nowait(&tx).await?;
        let out = json!({ "tx_hash": hash.to_hex(), "status": "accepted" });
        print_value(&out, json_out, |_| {
            format!("{what}: accepted as {hash}; `ting tx {hash}` shows it once committed")
        });
        return Ok(());
    }
    let committed = match client.submit(&tx).await {
        Ok(c) => c,
        // Sent before: its nonce is used, perhaps by this very transaction.
        Err(e) if e.code() == "bad_nonce" => match client.transaction(&tx.hash()).await {
            Ok(found) => {
                let out = json!({ "tx_hash": tx.hash().to_hex(), "status": "committed", "height": found.receipt.header.height.0, "index": found.receipt.proof.index, "already": true });
                print_value(&out, json_out, |_| {
                    format!(
                        "{what}: already committed in block {} at index {} (tx {})",
                        found.receipt.header.height,
                        found.receipt.proof.index,
                        tx.hash()
                    )
                });
                return Ok(());
            }
            Err(_) => {
                return Err(anyhow::Error::new(e).context(format!("submitting {}", tx.hash())))
            }
        },
        Err(e) => return Err(anyhow::Error::new(e).context(format!("submitting {}", tx.hash()))),
    };
    print_value(&committed.raw, json_out, |_| {
        committed_line(&what, &committed)
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ting_core::{Amount, TxBody};

    #[test]
    fn a_signed_transaction_reads_back_from_every_printed_form() {
        let key = Keypair::from_seed([3; 32]);
        let tx = TxBody {
            network: NetworkId(7),
            sender: key.account(),
            nonce: Nonce(4),
            kind: TxKind::Transfer {
                to: Keypair::from_seed([4; 32]).account(),
                amount: Amount::new(9),
                memo: b"x".to_vec(),
            },
        }
        .sign(&key);
        let bytes = tx.bytes();
        let forms = [
            hex::encode(bytes),
            base64::engine::general_purpose::STANDARD.encode(bytes),
            serde_json::to_string(&TxJson::from_tx(&tx)).expect("json"),
            json!({ "hex": hex::encode(bytes) }).to_string(),
        ];
        for form in forms {
            assert_eq!(parse_tx(&format!(" {form}\n")).expect(&form), tx);
        }
        for bad in ["zz", "{\"hex\": 1}", "abc", ""] {
            assert!(parse_tx(bad).is_err(), "{bad}");
        }
    }
}
