//! `ting consent ...`: an owner writes, reads and withdraws the consent
//! record that says what its device may sell (docs/streams.md §1).
//!
//! Records and revocations are files of one line: their signed bytes in
//! hex. `new` and `revoke` sign with the owner's key, offline but for the
//! network's genesis hash (read from the node); `show` reads a record (and
//! a revocation of it, if given) and says it in words.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use ting_core::consent::revocation::{Revocation, SignedRevocation};
use ting_core::consent::{
    AggregateOp, BuyerRule, ConsentRecord, FieldRule, FieldUse, SignedConsent,
};
use ting_core::{Amount, Hash32, Timestamp};

use crate::channel_cmd::parse_duration_ms;
use crate::failure::bad_input;
use crate::kinds::{parse_id, KeyArg};
use crate::output::{print_value, read_input};
use crate::NodeArg;

/// Longest consent or revocation file read: a record at its limits in hex.
const CONSENT_FILE_BYTES_MAX: u64 = 64 * 1024;

#[derive(Debug, Subcommand)]
pub enum ConsentCmd {
    /// Write a consent record for a device, signed by its owner KEY.
    New(NewArgs),
    /// Show a consent record in words (and a revocation of it, if given).
    Show(ShowArgs),
    /// Withdraw a consent record, signed by its owner KEY: from now on
    /// nothing more leaves the device, and no key of a later epoch is sold.
    Revoke(RevokeArgs),
    /// As a certifier KEY, attest that a buyer belongs to a category (for
    /// records that admit buyers by category).
    Attest(AttestArgs),
}

#[derive(Debug, Args)]
pub struct AttestArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The buyer (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub buyer: String,
    /// The category, such as utility.water.
    #[arg(long)]
    pub category: String,
    /// How long it holds, such as 365d.
    #[arg(long, default_value = "365d")]
    pub valid_for: String,
    /// Where to write it (hex, one line).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The device whose data it is (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub device: String,
    /// A field and what may leave of it: NAME=raw[:ROUND], NAME=sum:WINDOW[:ROUND],
    /// NAME=mean:WINDOW[:ROUND] or NAME=location:CHARS (WINDOW such as 1h or 1d).
    /// A field not named is refused.
    #[arg(long = "allow", value_name = "RULE")]
    pub allow: Vec<String>,
    /// An account that may buy (did:key or hex); repeat for more.
    #[arg(long = "buyer", value_name = "ID")]
    pub buyers: Vec<String>,
    /// Buyers a certifier vouches for: CATEGORY=CERTIFIER[,CERTIFIER...].
    #[arg(long = "buyer-category", value_name = "RULE")]
    pub categories: Vec<String>,
    /// What the data may be used for, in words.
    #[arg(long)]
    pub purpose: String,
    /// The lowest price per epoch a stream under this record may ask, in base units.
    #[arg(long)]
    pub min_price: u64,
    /// How long the record holds, such as 365d.
    #[arg(long, default_value = "365d")]
    pub valid_for: String,
    /// Where to write the signed record (hex, one line).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The consent record file.
    pub file: String,
    /// A revocation file to check against it.
    #[arg(long, value_name = "FILE")]
    pub revocation: Option<String>,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The consent record file to withdraw.
    #[arg(long, value_name = "FILE")]
    pub consent: String,
    /// Where to write the signed revocation (hex, one line).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub node: NodeArg,
}

pub async fn run(cmd: ConsentCmd, json_out: bool) -> anyhow::Result<()> {
    match cmd {
        ConsentCmd::New(a) => new(a, json_out).await,
        ConsentCmd::Show(a) => show(a, json_out).await,
        ConsentCmd::Revoke(a) => revoke(a, json_out).await,
        ConsentCmd::Attest(a) => attest(a, json_out).await,
    }
}

/// Writes `bytes` as one line of hex to a new file (never over an old one), synced.
fn write_new(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => bad_input(
                "file_exists",
                format!("{} exists; choose another --out", path.display()),
            ),
            _ => bad_input("io", format!("cannot create {}: {e}", path.display())),
        })?;
    f.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())?;
    f.sync_all()?;
    Ok(())
}

async fn attest(a: AttestArgs, json_out: bool) -> anyhow::Result<()> {
    let certifier = a.key.read()?;
    let client = a.node.client()?;
    let genesis = client.genesis_hash().await?;
    let now_ms = client.clock().await?.now().0;
    let attestation = ting_core::consent::attestation::Attestation {
        genesis,
        certifier: certifier.account(),
        buyer: parse_id("--buyer", &a.buyer)?,
        category: a.category.clone(),
        expires_at: Timestamp(now_ms.saturating_add(parse_duration_ms(&a.valid_for)?)),
    };
    let signed = attestation.sign(&certifier).ok_or_else(|| {
        bad_input(
            "bad_category",
            "the category is 1 to 48 bytes (such as utility.water)",
        )
    })?;
    write_new(&a.out, &signed.encode())?;
    let v = json!({
        "file": a.out.display().to_string(),
        "certifier": certifier.account().to_did(),
        "buyer": signed.attestation.buyer.to_did(),
        "category": a.category,
        "expires_at_ms": signed.attestation.expires_at.0,
    });
    print_value(&v, json_out, |_| {
        format!(
            "wrote {}: {} vouches that {} is in {}; the buyer gives it with ting stream buy --attestation FILE",
            a.out.display(),
            certifier.account(),
            signed.attestation.buyer,
            a.category
        )
    });
    Ok(())
}

/// A use: `raw[:ROUND]`, `sum:WINDOW[:ROUND]`, `mean:WINDOW[:ROUND]`, `location:CHARS`.
fn parse_use(text: &str) -> anyhow::Result<FieldUse> {
    let bad = |why: &str| bad_input("bad_rule", format!("--allow {text:?}: {why}"));
    let parts: Vec<&str> = text.split(':').collect();
    let number = |s: &str, what: &str| {
        s.parse::<u64>()
            .map_err(|_| bad(&format!("{what} {s:?} is not a whole number")))
    };
    let round = |i: usize| parts.get(i).map_or(Ok(1), |s| number(s, "ROUND"));
    Ok(match parts.as_slice() {
        ["raw"] | ["raw", _] => FieldUse::Raw {
            round_to: round(1)?,
        },
        [op @ ("sum" | "mean"), window] | [op @ ("sum" | "mean"), window, _] => {
            FieldUse::Aggregate {
                op: if *op == "sum" {
                    AggregateOp::Sum
                } else {
                    AggregateOp::Mean
                },
                window_ms: parse_duration_ms(window)?,
                round_to: round(2)?,
            }
        }
        ["location", chars] => FieldUse::Location {
            chars: u8::try_from(number(chars, "CHARS")?).map_err(|_| bad("CHARS is 1 to 12"))?,
        },
        _ => {
            return Err(bad(
                "use raw[:ROUND], sum:WINDOW[:ROUND], mean:WINDOW[:ROUND] or location:CHARS",
            ))
        }
    })
}

fn parse_rule(text: &str) -> anyhow::Result<FieldRule> {
    let (name, use_) = text.split_once('=').ok_or_else(|| {
        bad_input(
            "bad_rule",
            format!("--allow {text:?}: write NAME=USE, such as hardness=raw"),
        )
    })?;
    Ok(FieldRule {
        name: name.trim().to_owned(),
        use_: parse_use(use_.trim())?,
    })
}

fn parse_category(text: &str) -> anyhow::Result<BuyerRule> {
    let (category, certifiers) = text.split_once('=').ok_or_else(|| {
        bad_input(
            "bad_rule",
            format!("--buyer-category {text:?}: write CATEGORY=CERTIFIER[,CERTIFIER...]"),
        )
    })?;
    Ok(BuyerRule::Category {
        category: category.trim().to_owned(),
        certifiers: certifiers
            .split(',')
            .map(|c| parse_id("a certifier", c))
            .collect::<anyhow::Result<_>>()?,
    })
}

async fn new(a: NewArgs, json_out: bool) -> anyhow::Result<()> {
    let owner = a.key.read()?;
    let client = a.node.client()?;
    let genesis = client.genesis_hash().await?;
    let now = client.clock().await?.now().0;
    let mut buyers: Vec<BuyerRule> = a
        .buyers
        .iter()
        .map(|b| parse_id("--buyer", b).map(BuyerRule::Account))
        .collect::<anyhow::Result<_>>()?;
    for c in &a.categories {
        buyers.push(parse_category(c)?);
    }
    let record = ConsentRecord {
        genesis,
        owner: owner.account(),
        device: parse_id("--device", &a.device)?,
        issued_at: Timestamp(now),
        expires_at: Timestamp(now.saturating_add(parse_duration_ms(&a.valid_for)?)),
        min_price_per_epoch: Amount::new(a.min_price),
        purpose: a.purpose,
        fields: a
            .allow
            .iter()
            .map(|r| parse_rule(r))
            .collect::<anyhow::Result<_>>()?,
        buyers,
    };
    let signed = record
        .sign(&owner)
        .map_err(|e| bad_input(e.code(), e.to_string()))?;
    write_new(&a.out, &signed.encode())?;
    let v = consent_json(&signed, None, now);
    print_value(&v, json_out, |v| {
        format!(
            "wrote {} — consent {} for device {}\n{}",
            a.out.display(),
            v["hash"].as_str().unwrap_or(""),
            v["device"].as_str().unwrap_or(""),
            "name this hash in the stream's terms: ting stream open --consent FILE ..."
        )
    });
    Ok(())
}

/// Reads a one-line hex file (or `-`) of at most the consent limit.
fn read_hex(source: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    let text = read_input(source, CONSENT_FILE_BYTES_MAX, what)?;
    hex::decode(text.trim())
        .map_err(|_| bad_input("bad_file", format!("{what} {source} is not hex")))
}

/// The consent record in `source`, checked (signature, rules, network).
pub fn read_consent(source: &str, genesis: &Hash32) -> anyhow::Result<SignedConsent> {
    let bytes = read_hex(source, "consent record")?;
    SignedConsent::decode(&bytes, genesis)
        .map_err(|e| bad_input(e.code(), format!("consent record {source}: {e}")))
}

fn use_json(u: &FieldUse) -> Value {
    match *u {
        FieldUse::Refused => json!({ "use": "refused" }),
        FieldUse::Raw { round_to } => json!({ "use": "raw", "round_to": round_to }),
        FieldUse::Aggregate {
            op,
            window_ms,
            round_to,
        } => json!({
            "use": if op == AggregateOp::Sum { "sum" } else { "mean" },
            "window_ms": window_ms,
            "round_to": round_to,
        }),
        FieldUse::Location { chars } => json!({ "use": "location", "chars": chars }),
    }
}

fn consent_json(c: &SignedConsent, revoked: Option<&SignedRevocation>, now: u64) -> Value {
    let r = &c.record;
    let buyers: Vec<Value> = r
        .buyers
        .iter()
        .map(|b| match b {
            BuyerRule::Account(id) => json!({ "account": id.to_did() }),
            BuyerRule::Category {
                category,
                certifiers,
            } => json!({
                "category": category,
                "certifiers": certifiers.iter().map(|c| c.to_did()).collect::<Vec<_>>(),
            }),
        })
        .collect();
    let fields: Vec<Value> = r
        .fields
        .iter()
        .map(|f| {
            let mut v = use_json(&f.use_);
            v["name"] = json!(f.name);
            v
        })
        .collect();
    json!({
        "hash": c.hash().to_hex(),
        "owner": r.owner.to_did(),
        "device": r.device.to_did(),
        "purpose": r.purpose,
        "issued_at_ms": r.issued_at.0,
        "expires_at_ms": r.expires_at.0,
        "min_price_per_epoch": r.min_price_per_epoch.base_units(),
        "fields": fields,
        "buyers": buyers,
        "in_force": r.in_force(Timestamp(now)) && revoked.is_none_or(|v| now < v.revocation.revoked_at.0),
        "revoked_at_ms": revoked.map(|v| v.revocation.revoked_at.0),
    })
}

fn human(v: &Value) -> String {
    let mut out = format!(
        "consent {}\n  owner   {}\n  device  {}\n  purpose {}\n  min price per epoch {}\n  in force: {}",
        v["hash"].as_str().unwrap_or(""),
        v["owner"].as_str().unwrap_or(""),
        v["device"].as_str().unwrap_or(""),
        v["purpose"].as_str().unwrap_or(""),
        v["min_price_per_epoch"],
        v["in_force"],
    );
    if let Some(at) = v["revoked_at_ms"].as_u64() {
        out.push_str(&format!(
            " (revoked from {})",
            crate::output::utc(Timestamp(at))
        ));
    }
    for f in v["fields"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n  {}: {}",
            f["name"].as_str().unwrap_or(""),
            use_words(f)
        ));
    }
    out.push_str("\n  any other field: refused");
    for b in v["buyers"].as_array().into_iter().flatten() {
        match b["account"].as_str() {
            Some(id) => out.push_str(&format!("\n  buyer {id}")),
            None => out.push_str(&format!(
                "\n  buyers in {} vouched for by {}",
                b["category"].as_str().unwrap_or(""),
                b["certifiers"]
            )),
        }
    }
    out
}

/// A field's rule in words: `raw`, `daily sum`, `mean over 3600000 ms`, ...
fn use_words(f: &Value) -> String {
    let round = f["round_to"].as_u64().filter(|r| *r > 1);
    let rounded = round
        .map(|r| format!(", rounded to {r}"))
        .unwrap_or_default();
    match f["use"].as_str().unwrap_or("") {
        "raw" => format!("as read{rounded}"),
        op @ ("sum" | "mean") => {
            let window = match f["window_ms"].as_u64() {
                Some(86_400_000) => "a day".to_owned(),
                Some(3_600_000) => "an hour".to_owned(),
                Some(ms) => format!("{ms} ms"),
                None => String::new(),
            };
            format!("only the {op} over {window}{rounded}")
        }
        "location" => format!("a position cut to {} geohash characters", f["chars"]),
        _ => "refused".into(),
    }
}

async fn show(a: ShowArgs, json_out: bool) -> anyhow::Result<()> {
    let client = a.node.client()?;
    let genesis = client.genesis_hash().await?;
    let consent = read_consent(&a.file, &genesis)?;
    let revocation = match &a.revocation {
        None => None,
        Some(src) => {
            let bytes = read_hex(src, "revocation")?;
            let r = SignedRevocation::decode(&bytes, &genesis)
                .map_err(|e| bad_input(e.code(), format!("revocation {src}: {e}")))?;
            if !r.revokes(&consent) {
                return Err(bad_input(
                    "not_this_consent",
                    format!("revocation {src} withdraws another record"),
                ));
            }
            Some(r)
        }
    };
    let v = consent_json(&consent, revocation.as_ref(), client.clock().await?.now().0);
    print_value(&v, json_out, human);
    Ok(())
}

async fn revoke(a: RevokeArgs, json_out: bool) -> anyhow::Result<()> {
    let owner = a.key.read()?;
    let client = a.node.client()?;
    let genesis = client.genesis_hash().await?;
    let consent = read_consent(&a.consent, &genesis)?;
    if consent.record.owner != owner.account() {
        return Err(bad_input(
            "not_owner",
            "only the record's owner may withdraw it: give the owner's --key",
        ));
    }
    let signed = Revocation::of(&consent, client.clock().await?.now())
        .sign(&owner)
        .map_err(|e| bad_input(e.code(), e.to_string()))?;
    write_new(&a.out, &signed.encode())?;
    let v = json!({
        "consent": consent.hash().to_hex(),
        "revoked_at_ms": signed.revocation.revoked_at.0,
        "file": a.out.display().to_string(),
    });
    print_value(&v, json_out, |_| {
        format!(
            "wrote {}: consent {} is withdrawn from now on; give it to the device (ting stream sell --revocation FILE, once: the device keeps it) and keep it to show",
            a.out.display(),
            consent.hash()
        )
    });
    Ok(())
}
