//! Reading the order books: classes, a book's depth and last fills, an
//! account's resting orders, open leases. `order` and a lease by id are
//! read with their proofs against the ledger's signed state; the lists and
//! the depth are the node's word (market data), and say so in `--json`
//! only by their shape, as the API's do.

use clap::Args;
use serde_json::{json, Value};
use ting_core::AccountId;

use super::ledger::{lease_id, order_id};
use crate::failure::bad_input;
use crate::output::print_value;
use crate::NodeArg;

/// Rows one list shows: the node's largest page.
const PAGE: u32 = 200;

#[derive(Debug, Args)]
pub struct ClassesArgs {
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct BookArgs {
    /// The class.
    pub class: String,
    /// Price levels a side, 1 to 50.
    #[arg(long, default_value_t = 10)]
    pub levels: u32,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct OrderArgs {
    /// The order id (64 hex digits).
    pub order: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct MineArgs {
    /// The account (did:key:... or its hex key).
    #[arg(long)]
    pub owner: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct LeasesArgs {
    /// One lease (64 hex digits), checked against the signed state.
    pub lease: Option<String>,
    /// Only leases this account buys.
    #[arg(long)]
    pub buyer: Option<String>,
    /// Only leases this account provides.
    #[arg(long)]
    pub provider: Option<String>,
    #[command(flatten)]
    pub node: NodeArg,
}

fn account(flag: &str, text: &str) -> anyhow::Result<AccountId> {
    AccountId::parse(text.trim()).map_err(|e| {
        bad_input(
            "bad_account",
            format!("{flag} {text:?} is not an account ({e}): a did:key or 64 hex digits"),
        )
    })
}

pub async fn classes(a: ClassesArgs, json_out: bool) -> anyhow::Result<()> {
    let v = a
        .node
        .client()?
        .get(&format!("/v1/classes?limit={PAGE}"))
        .await?;
    print_value(&v, json_out, |v| {
        let rows: Vec<String> = list(v, "classes")
            .iter()
            .map(|c| {
                format!(
                    "{}  unit {}  leases {} ms  traded {}  last price {}",
                    c["name"].as_str().unwrap_or("?"),
                    c["unit"].as_str().unwrap_or("?"),
                    c["lease_ms"],
                    c["traded"],
                    c["last_price"]
                )
            })
            .collect();
        if rows.is_empty() {
            "no class is registered yet: an issuer registers one with `ting orders register`".into()
        } else {
            rows.join("\n")
        }
    });
    Ok(())
}

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key].as_array().map_or(&[], Vec::as_slice)
}

pub async fn book(a: BookArgs, json_out: bool) -> anyhow::Result<()> {
    if !(1..=50).contains(&a.levels) {
        return Err(bad_input("bad_levels", "--levels is 1 to 50"));
    }
    let client = a.node.client()?;
    let v = client
        .get(&format!("/v1/books/{}?levels={}", a.class, a.levels))
        .await?;
    print_value(&v, json_out, |v| {
        let side = |key: &str| -> Vec<String> {
            list(v, key)
                .iter()
                .map(|l| {
                    format!(
                        "  {:>8} x {:<8} ({} orders)",
                        l["price"], l["units"], l["orders"]
                    )
                })
                .collect()
        };
        let mut out = vec![format!("{} at block {}", a.class, v["height"])];
        out.push("asks (lowest first):".into());
        out.extend(side("asks"));
        out.push("bids (highest first):".into());
        out.extend(side("bids"));
        out.push("last fills (newest first):".into());
        out.extend(list(v, "last_trades").iter().map(|t| {
            format!(
                "  {} x {} ({} took), lease {}",
                t["price"],
                t["units"],
                t["taker"].as_str().unwrap_or("?"),
                t["lease"].as_str().unwrap_or("?")
            )
        }));
        out.join("\n")
    });
    Ok(())
}

pub async fn order(a: OrderArgs, json_out: bool) -> anyhow::Result<()> {
    let id = order_id(&a.order)?;
    let client = a.node.verified_client().await?;
    let Some(o) = client.order(&id).await? else {
        return Err(bad_input(
            "unknown_order",
            format!("order {id} is not resting (never placed, filled, or ended)"),
        ));
    };
    let v = json!({
        "order": id.to_hex(),
        "owner": o.owner.to_did(),
        "class": o.terms.class,
        "side": o.terms.side.name(),
        "price": o.terms.price.base_units(),
        "quantity": o.terms.quantity,
        "remaining": o.remaining,
        "fills": o.fills,
        "expires_at_ms": o.terms.expires_at.0,
        "proved": true,
    });
    print_value(&v, json_out, |_| {
        format!(
            "order {id} (checked against the signed state): {} {} of {} {} at {}, {} left, {} fills",
            o.owner,
            o.terms.side.name(),
            o.terms.quantity,
            o.terms.class,
            o.terms.price,
            o.remaining,
            o.fills
        )
    });
    Ok(())
}

pub async fn mine(a: MineArgs, json_out: bool) -> anyhow::Result<()> {
    let owner = account("--owner", &a.owner)?;
    let v = a
        .node
        .client()?
        .get(&format!("/v1/orders?owner={}&limit={PAGE}", owner.to_did()))
        .await?;
    print_value(&v, json_out, |v| {
        let rows: Vec<String> = list(v, "orders")
            .iter()
            .map(|o| {
                let t = &o["terms"];
                format!(
                    "{}  {} {} at {}, {} left of {}",
                    o["order"].as_str().unwrap_or("?"),
                    t["side"].as_str().unwrap_or("?"),
                    t["class"].as_str().unwrap_or("?"),
                    t["price"],
                    o["remaining"],
                    t["quantity"]
                )
            })
            .collect();
        if rows.is_empty() {
            format!("{owner} has no order resting")
        } else {
            rows.join("\n")
        }
    });
    Ok(())
}

pub async fn leases(a: LeasesArgs, json_out: bool) -> anyhow::Result<()> {
    if let Some(text) = &a.lease {
        let id = lease_id(text)?;
        let client = a.node.verified_client().await?;
        let Some(l) = client.lease(&id).await? else {
            return Err(bad_input(
                "unknown_lease",
                format!("lease {id} is not open (never made, or ended)"),
            ));
        };
        let v = ting_api::resource::lease_json(&id, &l);
        print_value(&v, json_out, |_| {
            format!(
                "lease {id} (checked against the signed state): {} buys {} {} of {} at {}; {} paid for; ends at {}",
                l.buyer, l.quantity, l.class, l.provider, l.price, l.delivered, l.ends_at
            )
        });
        return Ok(());
    }
    let mut query = format!("/v1/leases?limit={PAGE}");
    if let Some(b) = &a.buyer {
        query.push_str(&format!("&buyer={}", account("--buyer", b)?.to_did()));
    }
    if let Some(p) = &a.provider {
        query.push_str(&format!("&provider={}", account("--provider", p)?.to_did()));
    }
    let v = a.node.client()?.get(&query).await?;
    print_value(&v, json_out, |v| {
        let rows: Vec<String> = list(v, "leases")
            .iter()
            .map(|l| {
                format!(
                    "{}  {} units of {} at {}, {} paid for, buyer {} provider {}",
                    l["lease"].as_str().unwrap_or("?"),
                    l["quantity"],
                    l["class"].as_str().unwrap_or("?"),
                    l["price"],
                    l["delivered"],
                    l["buyer"].as_str().unwrap_or("?"),
                    l["provider"].as_str().unwrap_or("?")
                )
            })
            .collect();
        if rows.is_empty() {
            "no lease is open for that".into()
        } else {
            rows.join("\n")
        }
    });
    Ok(())
}
