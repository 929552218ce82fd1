//! `ting stream ...`: data streams from the command line (docs/streams.md).
//!
//! `open`, `consent` and `close` sign one transaction each (the seller
//! device's key, or its owner's for `consent` and `close`); `list` and
//! `show` read the ledger (`show` checks the state proof); `list --owner`
//! is the owner's view: each device's streams, what each buyer bought and
//! paid. `sell` and `buy` run a seller or a buyer device over the node's
//! broker ([`trade`]).

mod trade;

pub(crate) use trade::start_device;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use ting_agent::wallet::{sign, TxSlot};
use ting_core::stream::{EpochRule, FieldKind, FieldSpec, StreamId, StreamTerms};
use ting_core::{Amount, TxKind};

use crate::channel_cmd::parse_duration_ms;
use crate::consent_cmd::read_consent;
use crate::failure::bad_input;
use crate::kinds::{parse_id, KeyArg};
use crate::output::print_value;
use crate::wallet::committed_line;
use crate::NodeArg;

#[derive(Debug, Subcommand)]
pub enum StreamCmd {
    /// Register a stream this device KEY sells, under a consent record of its owner.
    Open(OpenArgs),
    /// Find open streams: by field, area, price, seller or owner (the owner's view of earnings).
    List(ListArgs),
    /// One stream, checked against the ledger's signed state.
    Show(ShowArgs),
    /// Name a new consent record in force (the seller device's or its owner's KEY).
    Consent(ConsentArgs),
    /// Close a stream (the seller device's or its owner's KEY); the deposit goes back.
    Close(CloseArgs),
    /// Sell: read readings from stdin (`FIELD VALUE [AT_MS]` per line), seal and publish them, sell keys.
    Sell(trade::SellArgs),
    /// Buy: follow a stream, pay per epoch within a budget, keep and export the points.
    Buy(trade::BuyArgs),
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The owner's consent record file (`ting consent new`).
    #[arg(long, value_name = "FILE")]
    pub consent: String,
    /// A field of the schema: NAME[:UNIT[:DECIMALS]] for a number, or NAME:location.
    #[arg(long = "field", value_name = "FIELD", required = true)]
    pub fields: Vec<String>,
    /// What one epoch's key costs, in base units.
    #[arg(long)]
    pub price: u64,
    /// An epoch is this many points.
    #[arg(long, conflicts_with = "epoch")]
    pub epoch_points: Option<u32>,
    /// An epoch is this long (such as 1h).
    #[arg(long)]
    pub epoch: Option<String>,
    /// Where the readings come from: a geohash prefix (such as u0m).
    #[arg(long)]
    pub area: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long)]
    pub field: Option<String>,
    #[arg(long)]
    pub area: Option<String>,
    #[arg(long)]
    pub max_price: Option<u64>,
    #[arg(long)]
    pub min_epochs: Option<u64>,
    /// The selling device (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub seller: Option<String>,
    /// The devices' owner (did:key or hex): what each of its devices sells and earns.
    #[arg(long, value_name = "ID")]
    pub owner: Option<String>,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The stream id (64 hex digits).
    pub stream: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct ConsentArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The stream id (64 hex digits).
    pub stream: String,
    /// The consent record now in force.
    #[arg(long, value_name = "FILE")]
    pub consent: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The stream id (64 hex digits).
    pub stream: String,
    #[command(flatten)]
    pub node: NodeArg,
}

pub async fn run(cmd: StreamCmd, json_out: bool) -> anyhow::Result<()> {
    match cmd {
        StreamCmd::Open(a) => open(a, json_out).await,
        StreamCmd::List(a) => list(a, json_out).await,
        StreamCmd::Show(a) => show(a, json_out).await,
        StreamCmd::Consent(a) => set_consent(a, json_out).await,
        StreamCmd::Close(a) => close(a, json_out).await,
        StreamCmd::Sell(a) => trade::sell(a, json_out).await,
        StreamCmd::Buy(a) => trade::buy(a, json_out).await,
    }
}

pub(crate) fn parse_stream(text: &str) -> anyhow::Result<StreamId> {
    StreamId::from_hex(text.trim()).ok_or_else(|| {
        bad_input(
            "bad_stream_id",
            format!("{text:?} is not a stream id (64 hex digits)"),
        )
    })
}

fn parse_field(text: &str) -> anyhow::Result<FieldSpec> {
    let parts: Vec<&str> = text.split(':').collect();
    let bad = |why: &str| bad_input("bad_field", format!("--field {text:?}: {why}"));
    let (name, kind, unit) = match parts.as_slice() {
        [name, "location"] => (*name, FieldKind::Location, ""),
        [name] => (*name, FieldKind::Number { decimals: 0 }, ""),
        [name, unit] => (*name, FieldKind::Number { decimals: 0 }, *unit),
        [name, unit, d] => {
            let decimals = d.parse().map_err(|_| bad("DECIMALS is 0 to 18"))?;
            (*name, FieldKind::Number { decimals }, *unit)
        }
        _ => return Err(bad("write NAME[:UNIT[:DECIMALS]] or NAME:location")),
    };
    Ok(FieldSpec {
        name: name.to_owned(),
        unit: unit.to_owned(),
        kind,
    })
}

async fn open(a: OpenArgs, json_out: bool) -> anyhow::Result<()> {
    let device = a.key.read()?;
    let client = a.node.client()?;
    let slot = TxSlot::next(&client, &device.account()).await?;
    let consent = read_consent(&a.consent, &slot.genesis)?;
    if consent.record.device != device.account() {
        return Err(bad_input(
            "not_our_consent",
            "the consent record is for another device: give that device's --key",
        ));
    }
    let epoch = match (a.epoch_points, &a.epoch) {
        (Some(n), None) => EpochRule::Points(n),
        (None, Some(d)) => EpochRule::Time(parse_duration_ms(d)?),
        _ => {
            return Err(bad_input(
                "bad_epoch",
                "give --epoch-points N or --epoch DURATION",
            ))
        }
    };
    let terms = StreamTerms {
        fields: a
            .fields
            .iter()
            .map(|f| parse_field(f))
            .collect::<anyhow::Result<_>>()?,
        price_per_epoch: Amount::new(a.price),
        epoch,
        area: a.area.clone(),
        consent: consent.hash(),
    };
    terms.check().map_err(|e| bad_input("invalid_terms", e.0))?;
    if terms.price_per_epoch < consent.record.min_price_per_epoch {
        return Err(bad_input(
            "below_min_price",
            format!(
                "the owner's consent asks at least {} per epoch",
                consent.record.min_price_per_epoch
            ),
        ));
    }
    let id = StreamId::derive(&slot.genesis, &device.account(), slot.nonce);
    let c = client
        .submit(&sign(&device, slot, TxKind::StreamOpen { terms }))
        .await
        .with_context(|| format!("stream_open by {}", device.account()))?;
    let mut v = c.raw.clone();
    v["stream"] = json!(id.to_hex());
    print_value(&v, json_out, |_| {
        format!(
            "{}\nstream {id}\nnext: sell into it with `ting stream sell --key ... --stream {id} --consent {}`",
            committed_line("stream opened (deposit put down)", &c),
            a.consent
        )
    });
    Ok(())
}

fn query(a: &ListArgs) -> anyhow::Result<String> {
    let mut q: Vec<String> = Vec::new();
    if let Some(f) = &a.field {
        q.push(format!("field={f}"));
    }
    if let Some(x) = &a.area {
        q.push(format!("area={x}"));
    }
    if let Some(p) = a.max_price {
        q.push(format!("max_price={p}"));
    }
    if let Some(e) = a.min_epochs {
        q.push(format!("min_epochs={e}"));
    }
    if let Some(s) = &a.seller {
        q.push(format!("seller={}", parse_id("--seller", s)?.to_hex()));
    }
    if let Some(o) = &a.owner {
        q.push(format!("owner={}", parse_id("--owner", o)?.to_hex()));
    }
    Ok(q.join("&"))
}

/// One stream in words: its terms, and what each buyer bought and paid.
fn stream_lines(s: &Value) -> String {
    let t = &s["terms"];
    let fields: Vec<String> = t["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} ({})",
                f["name"].as_str().unwrap_or(""),
                f["unit"].as_str().unwrap_or("")
            )
        })
        .collect();
    let epoch = t["epoch_points"]
        .as_u64()
        .map(|n| format!("{n} points"))
        .or_else(|| t["epoch_ms"].as_u64().map(|ms| format!("{ms} ms")))
        .unwrap_or_default();
    let d = &s["delivered"];
    let mut out = format!(
        "stream {}\n  seller {} (owner {})\n  fields {}; {} per epoch of {epoch}; area {}\n  consent {}\n  earned {} for {} epochs delivered",
        s["stream"].as_str().unwrap_or(""),
        s["seller"].as_str().unwrap_or(""),
        s["owner"].as_str().unwrap_or(""),
        fields.join(", "),
        t["price_per_epoch"],
        t["area"].as_str().unwrap_or(""),
        t["consent"].as_str().unwrap_or(""),
        d["paid"],
        d["epochs"],
    );
    for b in d["buyers"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n    buyer {}: {} epochs, paid {}",
            b["buyer"].as_str().unwrap_or(""),
            b["epochs"],
            b["paid"]
        ));
    }
    out
}

async fn list(a: ListArgs, json_out: bool) -> anyhow::Result<()> {
    let client = a.node.client()?;
    let base = query(&a)?;
    let mut all: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("/v1/streams?limit=200&{base}");
        if let Some(x) = &after {
            path.push_str(&format!("&after={x}"));
        }
        let page = client.get(&path).await?;
        all.extend(page["streams"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    let v = json!({ "streams": all });
    print_value(&v, json_out, |v| {
        let streams = v["streams"].as_array().cloned().unwrap_or_default();
        if streams.is_empty() {
            return "no open stream matches".into();
        }
        streams
            .iter()
            .map(stream_lines)
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}

async fn show(a: ShowArgs, json_out: bool) -> anyhow::Result<()> {
    let id = parse_stream(&a.stream)?;
    let client = a.node.verified_client().await?;
    let stream = client.stream(&id).await?.ok_or_else(|| {
        bad_input(
            "unknown_stream",
            format!("the ledger proves no open stream has id {id}"),
        )
    })?;
    let v = ting_api::stream::stream_json(&id, &stream);
    print_value(&v, json_out, stream_lines);
    Ok(())
}

async fn submit_named(
    node: &NodeArg,
    key: &KeyArg,
    kind: TxKind,
    what: &str,
    json_out: bool,
) -> anyhow::Result<()> {
    let key = key.read()?;
    let client = node.client()?;
    let slot = TxSlot::next(&client, &key.account()).await?;
    let c = client
        .submit(&sign(&key, slot, kind))
        .await
        .with_context(|| format!("{what} by {}", key.account()))?;
    print_value(&c.raw, json_out, |_| committed_line(what, &c));
    Ok(())
}

async fn set_consent(a: ConsentArgs, json_out: bool) -> anyhow::Result<()> {
    let stream = parse_stream(&a.stream)?;
    let genesis = a.node.client()?.genesis_hash().await?;
    let consent = read_consent(&a.consent, &genesis)?.hash();
    let kind = TxKind::StreamConsent { stream, consent };
    submit_named(&a.node, &a.key, kind, "consent record named", json_out).await
}

async fn close(a: CloseArgs, json_out: bool) -> anyhow::Result<()> {
    let stream = parse_stream(&a.stream)?;
    let kind = TxKind::StreamClose { stream };
    submit_named(
        &a.node,
        &a.key,
        kind,
        "stream closed (deposit returned)",
        json_out,
    )
    .await
}
