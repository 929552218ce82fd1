//! The node's side of `ting channel`: reading a channel's terms from the API,
//! submitting channel transactions, `show` and `list`.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use ting_agent::{DurablePayee, DurablePayer, StoreError};
use ting_core::channel::payer::ChannelTerms;
use ting_core::{
    AccountId, Amount, ChainSegment, ChannelId, ChannelMode, Hash32, NetworkId, Timestamp,
};

use super::{parse_channel, ListArgs, ShowArgs};
use crate::client::Client;
use crate::output::print_value;
use crate::wallet::parse_id;

/// A channel as `GET /v1/channels/{id}` shows it, read into core types.
pub struct LedgerChannel {
    pub terms: ChannelTerms,
    /// The mode as the open set it, if the channel is still on its first chain.
    pub open_mode: Option<ChannelMode>,
    /// A queued chain (its segment number and anchor), if one is waiting.
    pub next: Option<(u32, ChainSegment)>,
    pub status: String,
}

pub async fn fetch(client: &Client, id: &ChannelId) -> anyhow::Result<LedgerChannel> {
    let network = crate::wallet::network_id(client).await?;
    let raw = client.get(&format!("/v1/channels/{}", id.to_hex())).await?;
    parse(network, id, raw)
}

fn parse(network: NetworkId, id: &ChannelId, raw: Value) -> anyhow::Result<LedgerChannel> {
    let terms = ChannelTerms {
        network,
        channel: *id,
        payer: account(&raw, "payer")?,
        payee: account(&raw, "payee")?,
        deposit: Amount::new(number(&raw, "deposit")?),
        expires_at: Timestamp(number(&raw, "expires_at_ms")?),
    };
    let (open_mode, next) = match raw["mode"].as_str() {
        Some("voucher") => (Some(ChannelMode::Voucher), None),
        Some("hash_chain") => {
            let segment = number(&raw, "segment")?;
            let chain = ChainSegment {
                anchor: hash(&raw["anchor"])?,
                len: u32::try_from(number(&raw, "chain_len")?).context("chain_len")?,
            };
            let first = (segment == 0).then_some(ChannelMode::HashChain {
                chain,
                price: Amount::new(number(&raw, "price")?),
            });
            let next = match &raw["next"] {
                Value::Null => None,
                n => Some((
                    u32::try_from(segment + 1).context("segment")?,
                    ChainSegment {
                        anchor: hash(&n["anchor"])?,
                        len: u32::try_from(number(n, "chain_len")?).context("chain_len")?,
                    },
                )),
            };
            (first, next)
        }
        other => bail!("the node shows an unknown channel mode {other:?}"),
    };
    Ok(LedgerChannel {
        terms,
        open_mode,
        next,
        status: raw["status"].as_str().unwrap_or("unknown").to_owned(),
    })
}

fn number(v: &Value, field: &str) -> anyhow::Result<u64> {
    v[field]
        .as_u64()
        .with_context(|| format!("the node's channel has no number {field:?}"))
}

fn account(v: &Value, field: &str) -> anyhow::Result<AccountId> {
    let text = v[field]
        .as_str()
        .with_context(|| format!("the node's channel has no {field:?}"))?;
    parse_id(field, text)
}

fn hash(v: &Value) -> anyhow::Result<Hash32> {
    v.as_str()
        .and_then(Hash32::from_hex)
        .context("the node's channel has a bad anchor")
}

pub async fn show(client: &Client, args: &ShowArgs, json_out: bool) -> anyhow::Result<()> {
    let id = parse_channel(&args.channel)?;
    let ledger = client.get(&format!("/v1/channels/{}", id.to_hex())).await?;
    let local = local_state(&args.dir.state, &id)?;
    let out = json!({ "ledger": ledger, "local": local });
    print_value(&out, json_out, |v| human_show(&id, v));
    Ok(())
}

/// A JSON value as plain text: strings without their quotes.
fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn human_show(id: &ChannelId, v: &Value) -> String {
    let l = &v["ledger"];
    let mut out = format!(
        "channel {id}\n  {} from {} to {}\n  status {}, deposit {}, claimed {}, locked {}\n  expires at {} ms, reclaimable from {} ms",
        text(&l["mode"]),
        text(&l["payer"]),
        text(&l["payee"]),
        text(&l["status"]),
        l["deposit"],
        l["claimed"],
        l["locked"],
        l["expires_at_ms"],
        l["reclaimable_at_ms"]
    );
    if let Some(ticks) = l["total_ticks"].as_u64() {
        out += &format!(
            "\n  ticks: {} claimed of {ticks}, {} each",
            l["claimed_index"], l["price"]
        );
    }
    let local = &v["local"];
    if !local["payer"].is_null() {
        out += &format!(
            "\n  this machine pays: {} paid so far",
            local["payer"]["paid"]
        );
    }
    if !local["payee"].is_null() {
        let p = &local["payee"];
        out += &format!(
            "\n  this machine is paid: {} received, {} claimed on the ledger",
            p["paid"], p["claimed"]
        );
    }
    out
}

/// What this machine's channel files say about `id`, if it has any.
fn local_state(dir: &std::path::Path, id: &ChannelId) -> anyhow::Result<Value> {
    let payer = match DurablePayer::open(dir, id) {
        Ok(p) => json!({ "paid": p.payer().paid().base_units() }),
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Value::Null
        }
        Err(e) => return Err(e).context("reading the payer's channel file"),
    };
    let payee = match DurablePayee::open(dir, id) {
        Ok(p) => json!({
            "paid": p.payee().paid().base_units(),
            "claimed": p.payee().claimed().base_units(),
            "unclaimed": p.payee().unclaimed().base_units(),
        }),
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Value::Null
        }
        Err(e) => return Err(e).context("reading the payee's channel file"),
    };
    Ok(json!({ "payer": payer, "payee": payee }))
}

pub async fn list(client: &Client, args: &ListArgs, json_out: bool) -> anyhow::Result<()> {
    let account = parse_id("account", &args.account)?;
    if !matches!(args.role.as_str(), "payer" | "payee" | "any") {
        bail!("--role must be payer, payee or any, not {:?}", args.role);
    }
    let path = format!(
        "/v1/accounts/{}/channels?role={}",
        account.to_did(),
        args.role
    );
    let v = client.get(&path).await?;
    print_value(&v, json_out, |v| {
        let rows = v["channels"].as_array().cloned().unwrap_or_default();
        if rows.is_empty() {
            return "no channels".to_owned();
        }
        rows.iter()
            .map(|c| {
                format!(
                    "{}  {:<10} {:<20} deposit {} claimed {}",
                    c["id"].as_str().unwrap_or("?"),
                    c["mode"].as_str().unwrap_or("?"),
                    c["status"].as_str().unwrap_or("?"),
                    c["deposit"],
                    c["claimed"]
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}
