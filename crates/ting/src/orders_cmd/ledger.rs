//! The order-book transactions a person signs and sends at once: register
//! a class, place and cancel an order, settle and close a lease; and the
//! buyer's signed delivery count, made offline.
//!
//! Every flag is checked before anything is sent, and each error names the
//! flag. A settlement or close reads the lease first, proved, so that a
//! count for another lease, a count not above the last one or a signature
//! that is not the buyer's is refused here with a reason, not by the node.

use anyhow::Context;
use clap::Args;
use serde_json::json;
use ting_agent::wallet::{sign, TxSlot};
use ting_core::limits::{LEASE_GRACE_MS, ORDER_DEPOSIT, ORDER_EXPIRY_MAX_MS};
use ting_core::resource::class::check_definition;
use ting_core::resource::{DeliveryCount, Lease, LeaseId, OrderId, OrderTerms, Side};
use ting_core::{Amount, Signature, Timestamp, TxKind};

use crate::channel_cmd::parse_duration_ms;
use crate::failure::bad_input;
use crate::kinds::KeyArg;
use crate::market_cmd::ledger::send;
use crate::output::print_value;
use crate::wallet::committed_line;
use crate::NodeArg;

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The class: dotted parts of a-z, 0-9 and _, such as bandwidth.uplink.msg.
    #[arg(long)]
    pub class: String,
    /// What one unit is: msg, cpu_s, mb (a-z, 0-9 and _, at most 16).
    #[arg(long)]
    pub unit: String,
    /// How long a lease made by a fill runs, such as 1h (at most 30d).
    #[arg(long)]
    pub lease: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct PlaceArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The class the order trades.
    #[arg(long)]
    pub class: String,
    /// bid (to buy units) or ask (to sell them).
    #[arg(long)]
    pub side: String,
    /// Per unit, in base units: a bid's most, an ask's least.
    #[arg(long)]
    pub price: u64,
    /// Units.
    #[arg(long)]
    pub quantity: u64,
    /// How long the order may rest, such as 10m (at most 30d).
    #[arg(long, default_value = "1h")]
    pub expires_in: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The order id (64 hex digits).
    pub order: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct SignCountArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The lease (64 hex digits).
    #[arg(long)]
    pub lease: String,
    /// Units received so far on this lease, in all.
    #[arg(long)]
    pub count: u64,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct SettleArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The lease (64 hex digits).
    #[arg(long)]
    pub lease: String,
    /// The buyer's cumulative count.
    #[arg(long)]
    pub count: u64,
    /// The buyer's signature over it (128 hex digits, as `sign-count` prints it).
    #[arg(long)]
    pub signature: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct CloseArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The lease (64 hex digits).
    #[arg(long)]
    pub lease: String,
    /// A last count of the buyer's, paid before the rest goes back.
    #[arg(long, requires = "signature")]
    pub count: Option<u64>,
    /// The buyer's signature over the last count.
    #[arg(long, requires = "count")]
    pub signature: Option<String>,
    #[command(flatten)]
    pub node: NodeArg,
}

pub fn order_id(text: &str) -> anyhow::Result<OrderId> {
    OrderId::from_hex(text.trim()).ok_or_else(|| {
        bad_input(
            "bad_order_id",
            format!("{text:?} is not an order id: 64 hex digits, as `ting orders place` prints it"),
        )
    })
}

pub fn lease_id(text: &str) -> anyhow::Result<LeaseId> {
    LeaseId::from_hex(text.trim()).ok_or_else(|| {
        bad_input(
            "bad_lease_id",
            format!(
                "{text:?} is not a lease id: 64 hex digits, as `ting orders leases` lists them"
            ),
        )
    })
}

fn signature(text: &str) -> anyhow::Result<Signature> {
    let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == 64);
    let bytes = bytes.ok_or_else(|| {
        bad_input(
            "bad_signature",
            "--signature is 128 hex digits, as `ting orders sign-count` prints it",
        )
    })?;
    let mut s = [0u8; 64];
    s.copy_from_slice(&bytes);
    Ok(Signature(s))
}

pub async fn register(a: RegisterArgs, json_out: bool) -> anyhow::Result<()> {
    let lease_ms = parse_duration_ms(&a.lease)?;
    check_definition(&a.class, &a.unit, lease_ms).map_err(|e| {
        bad_input(
            "invalid_class",
            format!("--class, --unit or --lease: {}", e.0),
        )
    })?;
    let what = format!(
        "class {} registered: units of {}, leases of {}",
        a.class, a.unit, a.lease
    );
    let kind = TxKind::ClassRegister {
        name: a.class.clone(),
        unit: a.unit.clone(),
        lease_ms,
    };
    send(&a.node, &a.key, kind, what, json_out).await
}

fn order_terms(a: &PlaceArgs) -> anyhow::Result<OrderTerms> {
    let side =
        Side::from_name(&a.side).ok_or_else(|| bad_input("bad_side", "--side is bid or ask"))?;
    let expires_in = parse_duration_ms(&a.expires_in)?;
    if expires_in == 0 || expires_in > ORDER_EXPIRY_MAX_MS {
        return Err(bad_input(
            "bad_duration",
            "--expires-in is above zero and at most 30d",
        ));
    }
    let terms = OrderTerms {
        class: a.class.clone(),
        side,
        price: Amount::new(a.price),
        quantity: a.quantity,
        // Relative until `place` reads the network's clock (checked first,
        // before anything is asked of the node).
        expires_at: Timestamp(expires_in),
    };
    terms.check().map_err(|e| {
        bad_input(
            "invalid_order",
            format!("--class, --price or --quantity: {}", e.0),
        )
    })?;
    Ok(terms)
}

pub async fn place(a: PlaceArgs, json_out: bool) -> anyhow::Result<()> {
    let mut terms = order_terms(&a)?;
    let key = a.key.read()?;
    let client = a.node.client()?;
    let now = client.clock().await?.now();
    terms.expires_at = now.saturating_add_ms(terms.expires_at.0);
    let verified = a.node.verified_client().await?;
    // Before the first block no class can be registered (it takes a
    // transaction), so a node with no signed state yet proves none is.
    let registered = match verified.class(&terms.class).await {
        Ok(class) => class.is_some(),
        Err(e) if e.code() == "no_signed_state" => false,
        Err(e) => return Err(e.into()),
    };
    if !registered {
        return Err(bad_input(
            "unknown_class",
            format!(
                "no class {} is registered on this network: an issuer registers it with `ting \
                 orders register --key ISSUER.key --class {} --unit msg --lease 1h` (a dev \
                 node keeps its issuer's key in its data directory, as issuer.key); `ting orders \
                 classes` lists those there are",
                terms.class, terms.class
            ),
        ));
    }
    let slot = TxSlot::next(&client, &key.account()).await?;
    let id = OrderId::derive(&slot.genesis, &key.account(), slot.nonce);
    let kind = TxKind::OrderPlace {
        terms: terms.clone(),
    };
    let c = client
        .submit(&sign(&key, slot, kind))
        .await
        .with_context(|| format!("order_place by {}", key.account()))?;
    let resting = verified.order(&id).await?;
    let mut v = c.raw.clone();
    v["order"] = json!(id.to_hex());
    v["resting"] = json!(resting.as_ref().map(|o| o.remaining));
    // The id alone on stdout, so `ORDER=$(ting orders place ...)` works; the story on stderr.
    print_value(&v, json_out, |_| id.to_hex());
    if !json_out {
        let story = match &resting {
            Some(o) if o.remaining == terms.quantity => format!(
                "nothing crossed: all {} units rest at {} until it expires",
                o.remaining, terms.price
            ),
            Some(o) => format!(
                "{} units filled, {} rest at {}",
                terms.quantity - o.remaining,
                o.remaining,
                terms.price
            ),
            None => "it filled (or what was left went back): see `ting orders leases`".into(),
        };
        eprintln!(
            "{}\norder {id}: {} {} {} at {} each; {story}\nnext: `ting orders book {}`, \
             `ting orders leases --{} {}`",
            committed_line(
                &format!("order placed (deposit of {ORDER_DEPOSIT} put down, back when it ends)"),
                &c
            ),
            terms.side.name(),
            terms.quantity,
            terms.class,
            terms.price,
            terms.class,
            if terms.side == Side::Bid {
                "buyer"
            } else {
                "provider"
            },
            key.account(),
        );
    }
    Ok(())
}

pub async fn cancel(a: CancelArgs, json_out: bool) -> anyhow::Result<()> {
    let order = order_id(&a.order)?;
    let what = format!("order {order} cancelled (what it locked came back)");
    send(
        &a.node,
        &a.key,
        TxKind::OrderCancel { order },
        what,
        json_out,
    )
    .await
}

/// The lease, read with its proof; an ended or unknown one is refused here.
async fn open_lease(node: &NodeArg, id: &LeaseId) -> anyhow::Result<Lease> {
    let client = node.verified_client().await?;
    client.lease(id).await?.ok_or_else(|| {
        bad_input(
            "unknown_lease",
            format!("lease {id} is not open on the ledger (never made, or ended)"),
        )
    })
}

pub async fn sign_count(a: SignCountArgs, json_out: bool) -> anyhow::Result<()> {
    let lease = lease_id(&a.lease)?;
    let key = a.key.read()?;
    let open = open_lease(&a.node, &lease).await?;
    if open.buyer != key.account() {
        return Err(bad_input(
            "not_the_buyer",
            format!(
                "--key is {}, and lease {lease}'s buyer is {}",
                key.account(),
                open.buyer
            ),
        ));
    }
    if a.count > open.quantity {
        return Err(bad_input(
            "count_over_quantity",
            format!(
                "--count {} is over the lease's {} units",
                a.count, open.quantity
            ),
        ));
    }
    let genesis = a.node.client()?.genesis_hash().await?;
    let signature = DeliveryCount {
        lease,
        count: a.count,
    }
    .sign(&key, &genesis);
    let v = json!({
        "lease": lease.to_hex(),
        "count": a.count,
        "signature": signature.to_hex(),
        "pays": open.price.checked_mul(a.count.saturating_sub(open.delivered)).map(Amount::base_units),
    });
    print_value(&v, json_out, |_| signature.to_hex());
    if !json_out {
        eprintln!(
            "signed: {} of {} units delivered on lease {lease}; the provider presents it with \
             `ting orders settle --lease {lease} --count {} --signature ...`",
            a.count, open.quantity, a.count
        );
    }
    Ok(())
}

/// Checks a count against the open lease as the ledger will.
async fn checked_count(
    node: &NodeArg,
    lease: &LeaseId,
    count: u64,
    signature: &Signature,
) -> anyhow::Result<Lease> {
    let open = open_lease(node, lease).await?;
    if count <= open.delivered {
        return Err(bad_input(
            "stale_count",
            format!(
                "--count {count} is not above the {} units already paid for",
                open.delivered
            ),
        ));
    }
    if count > open.quantity {
        return Err(bad_input(
            "count_over_quantity",
            format!(
                "--count {count} is over the lease's {} units",
                open.quantity
            ),
        ));
    }
    let genesis = node.client()?.genesis_hash().await?;
    DeliveryCount {
        lease: *lease,
        count,
    }
    .verify(&genesis, &open.buyer, signature)
    .map_err(|_| {
        bad_input(
            "bad_count_signature",
            format!(
                "--signature is not the buyer {}'s over this count and lease",
                open.buyer
            ),
        )
    })?;
    Ok(open)
}

pub async fn settle(a: SettleArgs, json_out: bool) -> anyhow::Result<()> {
    let lease = lease_id(&a.lease)?;
    let signature = signature(&a.signature)?;
    let open = checked_count(&a.node, &lease, a.count, &signature).await?;
    let pays = open
        .price
        .checked_mul(a.count - open.delivered)
        .unwrap_or(Amount::MAX);
    let what = format!(
        "lease {lease} settled at {} of {} units: {pays} paid to the provider {}",
        a.count, open.quantity, open.provider
    );
    let kind = TxKind::LeaseSettle {
        lease,
        count: a.count,
        signature,
    };
    send(&a.node, &a.key, kind, what, json_out).await
}

pub async fn close(a: CloseArgs, json_out: bool) -> anyhow::Result<()> {
    let lease = lease_id(&a.lease)?;
    let count = match (a.count, &a.signature) {
        (Some(count), Some(sig)) => Some((count, signature(sig)?)),
        _ => None,
    };
    let open = match &count {
        Some((n, sig)) => checked_count(&a.node, &lease, *n, sig).await?,
        None => open_lease(&a.node, &lease).await?,
    };
    let key = a.key.read()?;
    let from = open.ends_at.saturating_add_ms(LEASE_GRACE_MS);
    let now = a.node.client()?.clock().await?.now();
    if key.account() != open.provider && now <= from {
        return Err(bad_input(
            "too_early_to_close_lease",
            format!(
                "only the provider {} may close lease {lease} before {from} (its end and grace)",
                open.provider
            ),
        ));
    }
    let delivered = count.as_ref().map_or(open.delivered, |(n, _)| *n);
    let back = open
        .price
        .checked_mul(open.quantity - delivered)
        .unwrap_or(Amount::MAX);
    let what = format!(
        "lease {lease} closed at {delivered} of {} units: {back} back to the buyer {}",
        open.quantity, open.buyer
    );
    send(
        &a.node,
        &a.key,
        TxKind::LeaseClose { lease, count },
        what,
        json_out,
    )
    .await
}
