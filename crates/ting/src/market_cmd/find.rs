//! The market's reads: offers and holds found by filters (the node's word,
//! a hint), and one offer, one hold or one reputation in one category
//! checked against the ledger's signed state (`NodeClient::offer`, `hold`,
//! `reputation`, which believe only what their proofs show).
//!
//! An ended hold or a closed offer is an answer, proved, not a failure:
//! `hold show` says so and succeeds, so a script can ask until it ends.

use clap::Args;
use serde_json::{json, Value};
use ting_agent::client::market::{OfferQuery, FIND_PAGES_MAX};
use ting_api::market::{hold_json, offer_json, reputation_json};

use super::parse;
use super::words::{hold_lines, offer_lines, reputation_lines};
use crate::failure::bad_input;
use crate::kinds::parse_id;
use crate::output::print_value;
use crate::NodeArg;

/// The most a page of holds holds (docs/api.md §6.14).
const HOLDS_PAGE_MAX: usize = 200;
const CHECKED: &str = "(checked against the ledger's signed state)";
const SCORE_NOTE: &str = "a score is the share of value released, times b/(b+2) for b \
    distinct buyers: a record one buyer stands behind scores a third";

#[derive(Debug, Args)]
pub struct OffersArgs {
    /// Offers in this category or under it (water finds water.cartridge.replace).
    #[arg(long)]
    pub category: Option<String>,
    /// A place, as a geohash (such as u4pruydq): offers whose area holds it.
    #[arg(long)]
    pub area: Option<String>,
    /// Providers scoring at least this in the offer's category: 50% or 500000 (ppm).
    #[arg(long)]
    pub min_score: Option<String>,
    /// One provider's offers (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub provider: Option<String>,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct OfferShowArgs {
    /// The offer id (64 hex digits).
    pub offer: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct ReputationArgs {
    /// The provider (did:key or hex).
    pub provider: String,
    /// Exactly this category, checked against the signed state; without it, every category.
    #[arg(long)]
    pub category: Option<String>,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct HoldsArgs {
    /// Holds this account pays (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub payer: Option<String>,
    /// Holds that pay this account (did:key or hex).
    #[arg(long, value_name = "ID")]
    pub payee: Option<String>,
    /// open (not yet accepted by the payee), accepted or disputed.
    #[arg(long)]
    pub phase: Option<String>,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct HoldShowArgs {
    /// The hold id (64 hex digits).
    pub hold: String,
    #[command(flatten)]
    pub node: NodeArg,
}

fn offer_query(a: &OffersArgs) -> anyhow::Result<OfferQuery> {
    Ok(OfferQuery {
        category: a
            .category
            .as_deref()
            .map(|c| parse::category("--category", c))
            .transpose()?,
        area: a
            .area
            .as_deref()
            .map(|x| parse::area("--area", x))
            .transpose()?,
        min_score_ppm: a
            .min_score
            .as_deref()
            .map(|s| parse::score("--min-score", s))
            .transpose()?,
        provider: a
            .provider
            .as_deref()
            .map(|p| parse_id("--provider", p))
            .transpose()?,
    })
}

pub async fn offers(a: OffersArgs, json_out: bool) -> anyhow::Result<()> {
    let query = offer_query(&a)?;
    let hints = a.node.client()?.find_offers(&query).await?;
    let v = json!({ "offers": hints.iter().map(|h| h.raw.clone()).collect::<Vec<_>>() });
    print_value(&v, json_out, |_| {
        if hints.is_empty() {
            return "no listed offer matches; a wider --category or --area, or no \
                --min-score, finds more"
                .into();
        }
        let mut out: Vec<String> = hints.iter().map(|h| offer_lines(&h.raw)).collect();
        out.push(
            "(as the node lists them: `ting market offer show OFFER` checks \
                one against the signed state)"
                .into(),
        );
        out.join("\n")
    });
    Ok(())
}

pub async fn offer_show(a: OfferShowArgs, json_out: bool) -> anyhow::Result<()> {
    let id = parse::offer(&a.offer)?;
    let client = a.node.verified_client().await?;
    let Some(offer) = client.offer(&id).await? else {
        let v = json!({ "offer": id.to_hex(), "listed": false });
        print_value(&v, json_out, |_| {
            format!("the ledger proves offer {id} is not listed: it was closed, or never listed")
        });
        return Ok(());
    };
    let reputation = client
        .reputation(&offer.provider, &offer.terms.category)
        .await?;
    let mut v = offer_json(&id, &offer, reputation.as_ref());
    v["listed"] = json!(true);
    print_value(&v, json_out, |v| format!("{}\n  {CHECKED}", offer_lines(v)));
    Ok(())
}

pub async fn reputation(a: ReputationArgs, json_out: bool) -> anyhow::Result<()> {
    let provider = parse_id("provider", &a.provider)?;
    let Some(category) = a.category.as_deref() else {
        let hints = a.node.client()?.reputations(&provider).await?;
        let v = json!({
            "provider": provider.to_did(),
            "reputations": hints.iter().map(|h| h.raw.clone()).collect::<Vec<_>>(),
        });
        print_value(&v, json_out, |_| {
            if hints.is_empty() {
                return format!("{provider} has no recorded outcome in any category: a newcomer");
            }
            let lines: Vec<String> = hints
                .iter()
                .map(|h| format!("  {}", reputation_lines(&h.raw)))
                .collect();
            format!(
                "reputation of {provider}\n{}\n  ({SCORE_NOTE}; --category C \
                    checks one against the signed state)",
                lines.join("\n")
            )
        });
        return Ok(());
    };
    let category = parse::category("--category", category)?;
    let client = a.node.verified_client().await?;
    let record = client.reputation(&provider, &category).await?;
    let v = match &record {
        Some(r) => reputation_json(r),
        None => json!({ "provider": provider.to_did(), "category": category, "record": null }),
    };
    print_value(&v, json_out, |v| match record {
        Some(_) => format!(
            "reputation of {provider}\n  {}\n  {CHECKED}\n  ({SCORE_NOTE})",
            reputation_lines(v)
        ),
        None => format!(
            "the ledger proves {provider} has no recorded outcome in exactly \
                {category}: a newcomer there (`ting market reputation \
                {provider}` lists the categories it has a record in)"
        ),
    });
    Ok(())
}

fn holds_query(a: &HoldsArgs) -> anyhow::Result<String> {
    let mut q = Vec::new();
    if let Some(p) = &a.payer {
        q.push(format!("payer={}", parse_id("--payer", p)?.to_hex()));
    }
    if let Some(p) = &a.payee {
        q.push(format!("payee={}", parse_id("--payee", p)?.to_hex()));
    }
    if let Some(phase) = &a.phase {
        if !["open", "accepted", "disputed"].contains(&phase.as_str()) {
            return Err(bad_input(
                "bad_phase",
                format!(
                    "--phase {phase:?}: write open (not yet accepted by the payee), \
                    accepted or disputed"
                ),
            ));
        }
        q.push(format!("phase={phase}"));
    }
    Ok(q.join("&"))
}

pub async fn holds(a: HoldsArgs, json_out: bool) -> anyhow::Result<()> {
    let query = holds_query(&a)?;
    let client = a.node.client()?;
    let mut all: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..FIND_PAGES_MAX {
        let mut path = format!("/v1/holds?limit={HOLDS_PAGE_MAX}");
        if !query.is_empty() {
            path.push('&');
            path.push_str(&query);
        }
        if let Some(x) = &after {
            path.push_str(&format!("&after={x}"));
        }
        let page = client.get(&path).await?;
        all.extend(page["holds"].as_array().cloned().unwrap_or_default());
        match page["next"].as_str() {
            Some(n) if after.as_deref() != Some(n) => after = Some(n.to_owned()),
            _ => break,
        }
    }
    let v = json!({ "holds": all });
    print_value(&v, json_out, |_| {
        if all.is_empty() {
            return "no open hold matches (a hold that ended is not kept in the \
                state: its history is in its payer's `ting account history`)"
                .into();
        }
        let mut out: Vec<String> = all.iter().map(hold_lines).collect();
        out.push(
            "(as the node lists them: `ting market hold show HOLD` checks \
            one against the signed state)"
                .into(),
        );
        out.join("\n")
    });
    Ok(())
}

pub async fn hold_show(a: HoldShowArgs, json_out: bool) -> anyhow::Result<()> {
    let id = parse::hold(&a.hold)?;
    let client = a.node.verified_client().await?;
    let Some(hold) = client.hold(&id).await? else {
        let v = json!({ "hold": id.to_hex(), "open": false });
        print_value(&v, json_out, |_| {
            format!(
                "the ledger proves hold {id} is not open: it ended (released, \
                refunded or decided), or was never made"
            )
        });
        return Ok(());
    };
    let mut v = hold_json(&id, &hold);
    v["open"] = json!(true);
    print_value(&v, json_out, |v| format!("{}\n  {CHECKED}", hold_lines(v)));
    Ok(())
}
