//! The node's side of `ting channel`: `show` and `list`.

use serde_json::{json, Value};
use ting_agent::client::ChannelRole;
use ting_agent::clock::now;
use ting_agent::{DurablePayee, DurablePayer, StoreError};
use ting_core::{ChannelId, Timestamp};

use super::{parse_channel, ListArgs, RoleArg, ShowArgs};
use crate::kinds::parse_id;
use crate::output::{print_value, relative, text, utc_field};

pub async fn show(args: &ShowArgs, json_out: bool) -> anyhow::Result<()> {
    let id = parse_channel(&args.channel)?;
    let client = args.node.client()?;
    let ledger = client.get(&format!("/v1/channels/{}", id.to_hex())).await?;
    let local = local_state(&args.dir.state, &id)?;
    let out = json!({ "ledger": ledger, "local": local });
    print_value(&out, json_out, |v| human_show(&id, v));
    Ok(())
}

fn human_show(id: &ChannelId, v: &Value) -> String {
    let l = &v["ledger"];
    let mut out = format!(
        "channel {id}\n  {} from {} to {}\n  status {}, deposit {}, claimed {}, locked {}\n  expires {}{}; the payer may reclaim from {}",
        text(&l["mode"]),
        text(&l["payer"]),
        text(&l["payee"]),
        text(&l["status"]),
        l["deposit"],
        l["claimed"],
        l["locked"],
        utc_field(&l["expires_at_ms"]),
        l["expires_at_ms"].as_u64().map_or_else(String::new, |ms| format!(
            " ({})",
            relative(Timestamp(ms), now())
        )),
        utc_field(&l["reclaimable_at_ms"])
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

fn missing(e: &StoreError) -> bool {
    matches!(e, StoreError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
}

/// What this machine's channel files say about `id`, if it has any.
fn local_state(dir: &std::path::Path, id: &ChannelId) -> anyhow::Result<Value> {
    let payer = match DurablePayer::open(dir, id) {
        Ok(p) => json!({ "paid": p.payer().paid().base_units() }),
        Err(e) if missing(&e) => Value::Null,
        Err(e) => return Err(anyhow::Error::new(e).context("reading the payer's channel file")),
    };
    let payee = match DurablePayee::open(dir, id) {
        Ok(p) => json!({
            "paid": p.payee().paid().base_units(),
            "claimed": p.payee().claimed().base_units(),
            "unclaimed": p.payee().unclaimed().base_units(),
        }),
        Err(e) if missing(&e) => Value::Null,
        Err(e) => return Err(anyhow::Error::new(e).context("reading the payee's channel file")),
    };
    Ok(json!({ "payer": payer, "payee": payee }))
}

pub async fn list(args: &ListArgs, json_out: bool) -> anyhow::Result<()> {
    let account = parse_id("account", &args.account)?;
    let role = match args.role {
        RoleArg::Payer => ChannelRole::Payer,
        RoleArg::Payee => ChannelRole::Payee,
        RoleArg::Any => ChannelRole::Any,
    };
    let v = args.node.client()?.channels(&account, role).await?;
    print_value(&v, json_out, |v| {
        let rows = v["channels"].as_array().cloned().unwrap_or_default();
        if rows.is_empty() {
            return "no channels".to_owned();
        }
        rows.iter()
            .map(|c| {
                format!(
                    "{}  {:<10} {:<20} deposit {} claimed {}  expires {}",
                    text(&c["id"]),
                    text(&c["mode"]),
                    text(&c["status"]),
                    c["deposit"],
                    c["claimed"],
                    utc_field(&c["expires_at_ms"])
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    });
    Ok(())
}
