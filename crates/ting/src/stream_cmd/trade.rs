//! `ting stream sell` and `ting stream buy`: a seller device and a buyer
//! device over the node's broker, for the shell (README "Sell a data
//! stream in five minutes").
//!
//! `sell` reads one reading per line from stdin, `FIELD VALUE [AT_MS]`
//! (a number is the integer in the schema's fixed point; a location a
//! geohash; the time defaults to now), applies the owner's consent record,
//! publishes sealed chunks and sells keys; after the input ends it keeps
//! answering key requests for `--linger`, then records the buyers'
//! acknowledgements on the ledger. `buy` opens a channel to the seller for
//! this stream (or uses the one it opened before), follows the stream and buys each epoch's key within its
//! budget until it holds `--points` points or `--for` has passed, then
//! writes what it bought as CSV or JSON.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::json;
use ting_agent::stream::follow::{self, Until};
use ting_agent::stream::{export, Buyer, BuyerError, BuyerSetup, Seller, SellerSetup};
use ting_agent::{Device, DeviceConfig, Message};
use ting_core::consent::filter::{Reading, Value};
use ting_core::consent::revocation::SignedRevocation;
use ting_core::stream::keyx::KeyRefusal;
use ting_core::{Amount, Timestamp};
use tokio::io::AsyncBufReadExt;

use super::parse_stream;
use crate::channel_cmd::parse_duration_ms;
use crate::consent_cmd::read_consent;
use crate::failure::bad_input;
use crate::kinds::KeyArg;
use crate::output::{print_value, read_input};
use crate::NodeArg;

/// Longest reading line read from stdin.
const READING_LINE_BYTES_MAX: usize = 256;
/// How long a device waits for the node's broker at start.
const CONNECT_WAIT: Duration = Duration::from_secs(15);

#[derive(Debug, Args)]
pub struct SellArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The stream (as `ting stream open` printed it).
    #[arg(long)]
    pub stream: String,
    /// The owner's consent record in force (the one the stream names).
    #[arg(long, value_name = "FILE")]
    pub consent: String,
    /// The owner's revocation of it, if it was withdrawn.
    #[arg(long, value_name = "FILE")]
    pub revocation: Option<String>,
    /// Where the device keeps its outbox, channels and stream logs.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// Points per signed chunk (1 to 256).
    #[arg(long, default_value_t = 16)]
    pub chunk_points: usize,
    /// How long to keep selling keys after the input ends.
    #[arg(long, default_value = "10s")]
    pub linger: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct BuyArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The stream to buy.
    #[arg(long)]
    pub stream: String,
    /// The most to spend on this stream's keys, over all runs, in base units.
    #[arg(long)]
    pub budget: u64,
    /// The deposit of the channel opened to the seller if there is none yet.
    #[arg(long, default_value_t = 1_000)]
    pub deposit: u64,
    /// Where the device keeps its outbox, channels and what it bought.
    #[arg(long, value_name = "DIR")]
    pub state: PathBuf,
    /// Stop once this many points are held.
    #[arg(long)]
    pub points: Option<usize>,
    /// Stop after this long (such as 60s).
    #[arg(long = "for", default_value = "60s")]
    pub for_: String,
    /// Write the points bought here: CSV, or JSON for a name ending in .json.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Create this file once the stream is followed (for scripts that start the seller after).
    #[arg(long, value_name = "FILE")]
    pub ready: Option<PathBuf>,
    /// A certifier's attestation file, when the consent admits buyers by category.
    #[arg(long, value_name = "FILE")]
    pub attestation: Option<String>,
    #[command(flatten)]
    pub node: NodeArg,
}

/// Starts the device of `key` on `state`, over the broker the node names,
/// and waits until the node answers there. `ting market` starts its devices
/// here too.
pub(crate) async fn start_device(
    key: &KeyArg,
    state: &std::path::Path,
    node: &NodeArg,
) -> anyhow::Result<Device> {
    let key = key.read()?;
    let config =
        DeviceConfig::discover_with(key, state.to_owned(), &node.url, node.trust()?).await?;
    if config.broker.is_none() {
        return Err(bad_input(
            "no_broker",
            "the node runs without MQTT; streams and market calls travel over its broker (start it with --dev)",
        ));
    }
    let device = Device::start(config)?;
    device.wait_for_node(CONNECT_WAIT).await?;
    Ok(device)
}

/// One reading line: `FIELD VALUE [AT_MS]`.
fn parse_reading(line: &str, now: Timestamp) -> anyhow::Result<(String, String, Timestamp)> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    let bad = || {
        bad_input(
            "bad_reading",
            format!("{line:?}: write FIELD VALUE [AT_MS]"),
        )
    };
    let (field, value) = match parts.as_slice() {
        [f, v] | [f, v, _] => (f.to_string(), v.to_string()),
        _ => return Err(bad()),
    };
    let at = match parts.get(2) {
        Some(t) => Timestamp(t.parse().map_err(|_| bad())?),
        None => now,
    };
    Ok((field, value, at))
}

pub async fn sell(a: SellArgs, json_out: bool) -> anyhow::Result<()> {
    let stream = parse_stream(&a.stream)?;
    let mut device = start_device(&a.key, &a.state, &a.node).await?;
    let consent = read_consent(&a.consent, &device.genesis_hash())?;
    let on_ledger =
        device.http().stream(&stream).await?.ok_or_else(|| {
            bad_input("unknown_stream", format!("no open stream has id {stream}"))
        })?;
    if on_ledger.seller != device.account() {
        return Err(bad_input(
            "not_seller",
            "this key is not the stream's seller",
        ));
    }
    let setup = SellerSetup {
        stream,
        terms: on_ledger.terms,
        consent,
        chunk_points: a.chunk_points,
    };
    let mut seller = Seller::open(&device, setup)?;
    if let Some(src) = &a.revocation {
        let text = read_input(src, 4096, "revocation")?;
        let bytes = hex::decode(text.trim())
            .map_err(|_| bad_input("bad_file", "the revocation is not hex"))?;
        let r = SignedRevocation::decode(&bytes, &device.genesis_hash())
            .map_err(|e| bad_input(e.code(), e.to_string()))?;
        seller.revoke(&device, &r)?;
    }
    eprintln!("selling stream {stream}: one reading per line on stdin (FIELD VALUE [AT_MS]); Ctrl-D ends the input");
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut input_open = true;
    let linger = parse_duration_ms(&a.linger)?;
    let mut linger_until = None;
    loop {
        let deadline =
            linger_until.unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            line = lines.next_line(), if input_open => match line? {
                Some(line) if line.trim().is_empty() => {}
                Some(line) if line.len() > READING_LINE_BYTES_MAX => {
                    return Err(bad_input("too_long", format!("a reading line is over {READING_LINE_BYTES_MAX} bytes")));
                }
                Some(line) => {
                    let (field, value, at) = parse_reading(&line, device.now())?;
                    let value = match value.parse::<i64>() {
                        Ok(n) => Value::Number(n),
                        Err(_) => Value::Geohash(&value),
                    };
                    seller.push(&device, Reading { field: &field, value, at })?;
                }
                None => {
                    input_open = false;
                    seller.tick(&device, device.now())?;
                    linger_until = Some(tokio::time::Instant::now() + Duration::from_millis(linger));
                    eprintln!("input ended; selling keys for {} more", a.linger);
                }
            },
            m = device.recv() => match m {
                Some(Message::KeyRequest { from, request }) => {
                    seller.answer(&device, from, &request).await?;
                }
                Some(Message::Delivery { from, note }) => seller.on_delivery(from, &note),
                Some(_) => {}
                None => break,
            },
            _ = tokio::time::sleep_until(deadline), if linger_until.is_some() => break,
        }
    }
    let recorded = seller.record_deliveries(&device).await?;
    let stats = seller.stats().clone();
    let earned: Vec<serde_json::Value> = seller
        .earned()
        .iter()
        .map(|(b, (e, p))| json!({ "buyer": b.to_did(), "epochs": e, "paid": p.base_units() }))
        .collect();
    device.shutdown().await;
    let v = json!({
        "stream": stream.to_hex(),
        "readings": stats.readings,
        "points": stats.points,
        "withheld": stats.withheld,
        "chunks": stats.chunks,
        "keys_sold": stats.keys_sold,
        "refused": stats.refused,
        "buyers": earned,
        "deliveries_recorded": recorded,
    });
    print_value(&v, json_out, |v| {
        format!(
            "sold {} keys; {} readings in, {} points out in {} chunks; withheld by the consent record: {}; buyers: {}",
            v["keys_sold"], v["readings"], v["points"], v["chunks"], v["withheld"], v["buyers"]
        )
    });
    Ok(())
}

pub async fn buy(a: BuyArgs, json_out: bool) -> anyhow::Result<()> {
    let stream = parse_stream(&a.stream)?;
    let mut device = start_device(&a.key, &a.state, &a.node).await?;
    let me = device.account();
    if device.http().messaging_key(&me).await?.is_none() {
        device.publish_messaging_key().await?;
    }
    let on_ledger =
        device.http().stream(&stream).await?.ok_or_else(|| {
            bad_input("unknown_stream", format!("no open stream has id {stream}"))
        })?;
    let channel = follow::channel_for(&device, &stream, on_ledger.seller, Amount::new(a.deposit))
        .await
        .map_err(|e| match e {
            BuyerError::BadChannelFile(_) => bad_input(e.code(), e.to_string()),
            other => other.into(),
        })?;
    let attestation = match &a.attestation {
        None => None,
        Some(src) => {
            let text = read_input(src, 4096, "attestation")?;
            let bytes = hex::decode(text.trim())
                .map_err(|_| bad_input("bad_file", "the attestation is not hex"))?;
            let a = ting_core::consent::attestation::SignedAttestation::decode(&bytes)
                .map_err(|e| bad_input(e.code(), format!("attestation {src}: {e}")))?;
            a.verify()
                .map_err(|e| bad_input("bad_attestation", format!("attestation {src}: {e}")))?;
            if a.attestation.buyer != me {
                return Err(bad_input(
                    "not_our_attestation",
                    "the attestation names another buyer",
                ));
            }
            Some(a)
        }
    };
    let setup = BuyerSetup {
        stream,
        channel,
        budget: Amount::new(a.budget),
        attestation,
    };
    let (mut buyer, mut held) = Buyer::open(&device, setup).await?;
    let until = Until {
        deadline: tokio::time::Instant::now() + Duration::from_millis(parse_duration_ms(&a.for_)?),
        points: a.points,
    };
    follow::settle(&device, until.deadline).await;
    if let Some(ready) = &a.ready {
        std::fs::write(ready, b"following\n")?;
    }
    eprintln!(
        "following stream {stream} through channel {channel}; budget {}",
        a.budget
    );
    let log_refusal =
        |refusal: &KeyRefusal| eprintln!("refused: {} ({})", refusal.code, refusal.message);
    follow::follow(&mut device, &mut buyer, &mut held, until, log_refusal, drop).await?;
    if let Some(out) = &a.out {
        let json_file = out.extension().and_then(|e| e.to_str()) == Some("json");
        if json_file {
            std::fs::write(out, export::json(buyer.terms(), &held).to_string())?;
        } else {
            let mut f = std::fs::File::create(out)?;
            export::csv(&mut f, buyer.terms(), &held)?;
        }
    }
    let stats = buyer.stats().clone();
    let spent = buyer.spent();
    device.shutdown().await;
    let v = json!({
        "stream": stream.to_hex(),
        "points": held.len(),
        "epochs_bought": buyer.epochs().count(),
        "spent": spent.base_units(),
        "refusals": stats.refusals,
        "refused_chunks": stats.refused_chunks,
        "out": a.out.as_ref().map(|p| p.display().to_string()),
    });
    print_value(&v, json_out, |v| {
        format!(
            "bought {} points in {} epochs for {}{}",
            v["points"],
            v["epochs_bought"],
            v["spent"],
            v["out"]
                .as_str()
                .map(|o| format!("; written to {o}"))
                .unwrap_or_default()
        )
    });
    Ok(())
}
