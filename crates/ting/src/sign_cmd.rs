//! `ting sign` and `ting submit`: a transaction of any kind signed on one
//! machine (possibly one that never touches the network) and sent later,
//! from anywhere.
//!
//! `sign` takes the kind's fields as `ting transfer`, `ting device ...` and
//! `ting channel ...` take them, and the network and nonce either given
//! (`--genesis`, `--nonce`: fully offline) or read from the node; it is
//! valid for `--valid-for` (default an hour) from now. It prints the signed transaction as hex (default), base64 or the
//! API's JSON form; `submit` takes any of the three (or the API's
//! `{"hex": ...}` body), checks that it decodes, sends it and waits for the
//! commit.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Value};
use ting_agent::clock::now;
use ting_agent::clock::NetworkClock;
use ting_agent::files::{read_genesis, read_key};
use ting_agent::txtext::{self, tx_to_text, txs_from_text};
use ting_agent::wallet::{sign as sign_tx, valid_for, TxSlot};
use ting_agent::{channel_path, NodeClient, Role};
use ting_core::channel::payee::ClaimPolicy;
use ting_core::limits::TX_VALID_FOR_DEFAULT_MS;
use ting_core::{BlockHeight, ChannelProof, Hash32, Keypair, Nonce, SignedTx, TxKind};

use crate::channel_cmd::payee::{open_payee, parse_payment};
use crate::channel_cmd::payer::{prepare_open, prepare_top_up};
use crate::channel_cmd::{parse_channel, OpenFields, StateDir, TopUpFields};
use crate::failure::{bad_input, not_yet};
use crate::kinds::{
    messaging_key_kind, DeviceFields, LimitFields, MintFields, RegisterFields, SweepFields,
    TransferFields,
};
use crate::output::{emit, print_value, read_input};
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
    /// The network's genesis file, whose hash the transaction is bound to
    /// [default: the network the node serves].
    #[arg(long, value_name = "FILE", global = true)]
    pub genesis: Option<PathBuf>,
    /// How long from now the transaction may still apply, e.g. 10m, 2h, 1d
    /// [default: 1h]; after that it never will.
    #[arg(long, value_name = "DURATION", global = true)]
    pub valid_for: Option<String>,
    /// How to print the signed transaction.
    #[arg(long, value_enum, default_value = "hex", global = true)]
    pub format: TxFormat,
    // The node asked for what is not given (nonce, network, a channel's expiry).
    #[command(flatten)]
    pub node: crate::NodeArg,
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
    /// The signed transaction: hex, base64 or JSON, or several, one per line
    /// (sent in order); `@FILE` reads a file, `-` stdin.
    pub tx: String,
    /// Return once the node has admitted it, without waiting for the commit.
    #[arg(long)]
    pub no_wait: bool,
    #[command(flatten)]
    pub node: crate::NodeArg,
}

/// The network, nonce and validity: given, from the genesis file, or from the node.
async fn slot(args: &SignArgs, key: &Keypair, client: &NodeClient) -> anyhow::Result<TxSlot> {
    let (network, genesis, clock) = match &args.genesis {
        Some(path) => {
            let g = read_genesis(path)?;
            (g.network, g.hash(), NetworkClock::of(&g))
        }
        None => {
            let status = client
                .status()
                .await
                .context("reading the network (or give --genesis)")?;
            (status.network, status.genesis_hash, status.clock)
        }
    };
    let valid_ms = match &args.valid_for {
        Some(text) => crate::channel_cmd::parse_duration_ms(text)
            .map_err(|e| bad_input("bad_valid_for", format!("--valid-for: {e}")))?,
        None => TX_VALID_FOR_DEFAULT_MS,
    };
    let nonce = match args.nonce {
        Some(n) => Nonce(n),
        None => client
            .nonce(&key.account())
            .await
            .context("reading the sender's next nonce (or give --nonce)")?,
    };
    Ok(TxSlot {
        network,
        genesis,
        nonce,
        valid_until: valid_for(&clock, valid_ms),
    })
}

/// The proofs a claim or close carries: the payment's, or the payee's plan
/// from its kept best proof (several claims when the ledger's work bound
/// needs steps). A close with no payee file carries none.
fn proofs(f: &ProofFields, closing: bool) -> anyhow::Result<Vec<ChannelProof>> {
    let id = parse_channel(&f.channel)?;
    if let Some(text) = &f.payment {
        let payment = parse_payment(text)?;
        if payment.channel != id {
            return Err(bad_input(
                "wrong_channel",
                format!("the payment is for channel {}, not {id}", payment.channel),
            ));
        }
        return Ok(vec![payment.proof]);
    }
    // Only a payee that never kept a payment closes with no proof; a file
    // that is there but cannot be read is an error, never an empty close.
    if closing && !channel_path(&f.dir.state, Role::Payee, &id).exists() {
        return Ok(Vec::new());
    }
    let payee = open_payee(&f.dir.state, &id)?;
    let plan = payee.claim_plan(now(), &ClaimPolicy::ALWAYS)?;
    if plan.is_empty() && !closing {
        return Err(bad_input(
            "nothing_to_claim",
            format!("nothing new to claim on channel {id}"),
        ));
    }
    Ok(plan)
}

/// The kinds to sign, for consecutive nonces from the slot's: one, or for a
/// claim the ledger takes in steps, one per step (and a close after its
/// claims). A channel open also writes the payer's file.
async fn build(
    args: &SignArgs,
    key: &Keypair,
    slot: TxSlot,
    client: &NodeClient,
) -> anyhow::Result<(Vec<TxKind>, Value)> {
    let mut extra = Value::Null;
    let one = |k: TxKind| vec![k];
    let kinds = match &args.kind {
        SignKind::Transfer(f) => one(f.kind()?),
        SignKind::Mint(f) => one(f.kind()?),
        SignKind::RegisterDevice(f) => one(f.kind(&slot.genesis, &key.account())?),
        SignKind::SetSpendLimit(f) => one(f.kind()?),
        SignKind::Freeze(f) => one(f.freeze()?),
        SignKind::Unfreeze(f) => one(f.unfreeze()?),
        SignKind::Sweep(f) => one(f.kind()?),
        SignKind::SetMessagingKey => one(messaging_key_kind(key)),
        SignKind::ChannelOpen(f) => {
            let open = prepare_open(key, slot, f)?;
            extra = json!(open.id.to_hex());
            one(open.kind)
        }
        SignKind::ChannelClaim(f) => {
            let channel = parse_channel(&f.channel)?;
            proofs(f, false)?
                .into_iter()
                .map(|proof| TxKind::ChannelClaim { channel, proof })
                .collect()
        }
        SignKind::ChannelTopUp(f) => {
            let on_ledger = match f.expires_in {
                Some(_) => None,
                None => Some(client.channel(&parse_channel(&f.channel)?).await?),
            };
            one(prepare_top_up(key, f, on_ledger.as_ref())?.kind)
        }
        SignKind::ChannelClose(f) => {
            let channel = parse_channel(&f.channel)?;
            let mut steps = proofs(f, true)?;
            let last = steps.pop();
            let mut kinds: Vec<TxKind> = steps
                .into_iter()
                .map(|proof| TxKind::ChannelClaim { channel, proof })
                .collect();
            kinds.push(TxKind::ChannelClose {
                channel,
                proof: last,
            });
            kinds
        }
        SignKind::ChannelReclaim(f) => one(TxKind::ChannelReclaim {
            channel: parse_channel(&f.channel)?,
        }),
    };
    Ok((kinds, extra))
}

/// `tx` in the chosen form.
fn printed(tx: &SignedTx, format: TxFormat) -> String {
    let format = match format {
        TxFormat::Hex => txtext::TxFormat::Hex,
        TxFormat::Base64 => txtext::TxFormat::Base64,
        TxFormat::Json => txtext::TxFormat::Json,
    };
    tx_to_text(tx, format)
}

pub async fn sign(args: SignArgs, json_out: bool) -> anyhow::Result<()> {
    let Some(key_path) = &args.key else {
        return Err(bad_input(
            "invalid_field",
            "give the signing key with --key FILE",
        ));
    };
    let key = read_key(key_path)?;
    let client = args.node.client()?;
    let first = slot(&args, &key, &client).await?;
    let (kinds, channel) = build(&args, &key, first, &client).await?;
    let mut signed = Vec::with_capacity(kinds.len());
    let mut nonce = first.nonce;
    for kind in kinds {
        let slot = TxSlot { nonce, ..first };
        signed.push(sign_tx(&key, slot, kind));
        nonce = nonce
            .next()
            .ok_or_else(|| bad_input("overflow", "the nonce is at its maximum"))?;
    }
    let rows: Vec<Value> = signed
        .iter()
        .map(|tx| {
            json!({
                "tx_hash": tx.hash().to_hex(),
                "nonce": tx.nonce().0,
                "kind": tx.kind().name(),
                "tx": printed(tx, args.format),
            })
        })
        .collect();
    let mut out = rows[0].clone();
    out["sender"] = json!(key.account().to_did());
    out["network"] = json!(first.network.0);
    out["genesis"] = json!(first.genesis.to_hex());
    out["valid_until"] = json!(first.valid_until.0);
    out["format"] = json!(args
        .format
        .to_possible_value()
        .map(|v| v.get_name().to_owned()));
    out["channel"] = channel;
    out["txs"] = json!(rows);
    print_value(&out, json_out, |_| {
        let lines: Vec<String> = signed.iter().map(|tx| printed(tx, args.format)).collect();
        lines.join("\n")
    });
    if !json_out {
        for tx in &signed {
            eprintln!(
                "signed {} (nonce {} on network {}, tx {})",
                describe(tx.kind(), &tx.sender()),
                tx.nonce(),
                first.network,
                tx.hash()
            );
        }
        eprintln!("send with `ting submit` (several lines are sent in order)");
    }
    Ok(())
}

/// The most `submit` reads: a transaction is at most a few KiB in any form.
const SUBMIT_TEXT_BYTES_MAX: u64 = 64 * 1024;

fn read_text(arg: &str) -> anyhow::Result<String> {
    match arg.strip_prefix('@') {
        Some(path) => read_input(path, SUBMIT_TEXT_BYTES_MAX, "the transaction"),
        None if arg == "-" => read_input(arg, SUBMIT_TEXT_BYTES_MAX, "the transaction"),
        None => Ok(arg.to_owned()),
    }
}

pub async fn submit(args: SubmitArgs, json_out: bool) -> anyhow::Result<()> {
    let txs = txs_from_text(&read_text(&args.tx)?)
        .map_err(|e| bad_input(e.code, format!("the transaction: {}", e.message)))?;
    let client = args.node.client()?;
    let mut results = Vec::with_capacity(txs.len());
    for tx in &txs {
        // In order, and no further after one that did not land.
        let (value, line) = submit_one(&client, tx, args.no_wait).await?;
        if !json_out {
            emit(&line);
        }
        results.push(value);
    }
    if json_out {
        let out = match <[Value; 1]>::try_from(results) {
            Ok([one]) => one,
            Err(all) => json!({ "results": all }),
        };
        emit(&out.to_string());
    }
    Ok(())
}

/// The outcome of a transaction that had been committed before it was sent.
fn already(what: &str, hash: Hash32, height: BlockHeight, index: u32) -> (Value, String) {
    let out = json!({ "tx_hash": hash.to_hex(), "status": "committed", "height": height.0, "index": index, "already": true });
    let line = format!("{what}: already committed in block {height} at index {index} (tx {hash})");
    (out, line)
}

/// Sends one transaction; answers its outcome as JSON and as a line.
async fn submit_one(
    client: &NodeClient,
    tx: &SignedTx,
    no_wait: bool,
) -> anyhow::Result<(Value, String)> {
    let what = describe(tx.kind(), &tx.sender());
    let hash = tx.hash();
    if no_wait {
        let accepted = client.submit_nowait(tx).await?;
        let out = json!({ "tx_hash": accepted.to_hex(), "status": "accepted" });
        let line =
            format!("{what}: accepted as {accepted}; `ting tx {accepted}` shows it once committed");
        return Ok((out, line));
    }
    let refused = match client.submit(tx).await {
        // A copy of one that landed: the node answers with the first commit.
        Ok(c) if c.raw["resent"] == true => return Ok(already(&what, hash, c.height, c.index)),
        Ok(c) => {
            let line = committed_line(&what, &c);
            return Ok((c.raw, line));
        }
        Err(e) if e.code() == "bad_nonce" => e,
        Err(e) => return Err(anyhow::Error::new(e).context(format!("submitting {hash}"))),
    };
    // Sent before? Its nonce is used, perhaps by this very transaction.
    let check = client.nonce_check(tx).await?;
    if let Some(found) = &check.found {
        let (height, index) = (found.receipt.header.height, found.receipt.proof.index);
        return Ok(already(&what, hash, height, index));
    }
    if check.undecided(tx) {
        return Err(not_yet(format!(
            "a transaction with nonce {} is applied but not yet durable, perhaps this one; \
             `ting tx {hash}` shows it once it is",
            tx.nonce()
        )));
    }
    Err(anyhow::Error::new(refused).context(format!("submitting {hash}")))
}
