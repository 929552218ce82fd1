//! The market's transactions that a person signs and sends at once, with
//! no device running: listing and closing an offer, an arbiter's decision,
//! and taking a hold's money back.
//!
//! An offer's terms name the SHA-256 of its full text: the file given with
//! `--text`, or, without one, a short text made from the flags (printed, so
//! the provider can publish exactly what was hashed). `decide` and `refund`
//! read the hold first, proved, to refuse what cannot apply with a reason
//! and to say where the money goes.

use std::io::Read;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use ting_agent::wallet::{sign, sign_and_submit, TxSlot};
use ting_core::limits::{OFFER_DELIVERY_MS_MAX, OFFER_DEPOSIT, OFFER_WARRANTY_MS_MAX};
use ting_core::market::{Hold, HoldId, OfferId, OfferTerms};
use ting_core::{Amount, Hash32, TxKind};

use super::parse;
use crate::failure::bad_input;
use crate::kinds::KeyArg;
use crate::output::print_value;
use crate::wallet::committed_line;
use crate::NodeArg;

/// The longest offer text hashed.
const OFFER_TEXT_BYTES_MAX: u64 = 1024 * 1024;

#[derive(Debug, Args)]
pub struct OfferOpenArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// What it sells: a dotted category, such as water.cartridge.replace.
    #[arg(long)]
    pub category: String,
    /// Where it serves: a geohash prefix such as u4pr (empty for anywhere).
    #[arg(long)]
    pub area: String,
    /// What it usually asks, in base units.
    #[arg(long)]
    pub price: u64,
    /// How long it usually takes to deliver, such as 2h (at most 366d).
    #[arg(long)]
    pub deliver_in: String,
    /// How long its work is warranted, such as 90d (at most five years).
    #[arg(long, default_value = "0s")]
    pub warranty: String,
    /// The offer's full text (up to 1 MiB); its SHA-256 is listed. Without
    /// it, a text made from these flags is hashed.
    #[arg(long, value_name = "FILE")]
    pub text: Option<String>,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct OfferCloseArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The offer id (64 hex digits).
    pub offer: String,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The disputed hold (64 hex digits).
    pub hold: String,
    /// What goes to the payee, in base units (at most the hold's amount); the rest goes back to
    /// the payer.
    #[arg(long)]
    pub to_payee: u64,
    #[command(flatten)]
    pub node: NodeArg,
}

#[derive(Debug, Args)]
pub struct RefundArgs {
    #[command(flatten)]
    pub key: KeyArg,
    /// The hold (64 hex digits).
    pub hold: String,
    #[command(flatten)]
    pub node: NodeArg,
}

/// The text hashed when no `--text` is given: the terms, one per line.
fn terms_text(t: &OfferTerms) -> String {
    format!(
        "ting market offer\ncategory {}\narea {}\nprice {}\ndelivery_ms {}\nwarranty_ms {}\n",
        t.category,
        t.area,
        t.price.base_units(),
        t.delivery_ms,
        t.warranty_ms
    )
}

/// The SHA-256 of the file `path`, at most [`OFFER_TEXT_BYTES_MAX`] bytes.
fn hash_file(path: &str) -> anyhow::Result<Hash32> {
    let file = std::fs::File::open(path).map_err(|e| {
        bad_input(
            "file_not_found",
            format!("cannot open the offer text {path}: {e}"),
        )
    })?;
    let mut bytes = Vec::new();
    file.take(OFFER_TEXT_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad_input("io", format!("cannot read the offer text {path}: {e}")))?;
    if bytes.len() as u64 > OFFER_TEXT_BYTES_MAX {
        return Err(bad_input(
            "too_long",
            format!("the offer text {path} is over 1 MiB; list the hash of a shorter one"),
        ));
    }
    Ok(Hash32::digest(&[&bytes]))
}

fn offer_terms(a: &OfferOpenArgs) -> anyhow::Result<OfferTerms> {
    let five_years = "at most five years (1826d)";
    Ok(OfferTerms {
        category: parse::category("--category", &a.category)?,
        area: parse::area("--area", &a.area)?,
        price: parse::amount("--price", a.price)?,
        delivery_ms: parse::duration(
            "--deliver-in",
            &a.deliver_in,
            1,
            OFFER_DELIVERY_MS_MAX,
            "from 1ms to 366d",
        )?,
        warranty_ms: parse::duration(
            "--warranty",
            &a.warranty,
            0,
            OFFER_WARRANTY_MS_MAX,
            five_years,
        )?,
        terms: Hash32([0; 32]),
    })
}

pub async fn offer_open(a: OfferOpenArgs, json_out: bool) -> anyhow::Result<()> {
    let mut terms = offer_terms(&a)?;
    let built = match &a.text {
        Some(path) => {
            terms.terms = hash_file(path)?;
            None
        }
        None => {
            let text = terms_text(&terms);
            terms.terms = Hash32::digest(&[text.as_bytes()]);
            Some(text)
        }
    };
    terms.check().map_err(|e| bad_input("invalid_offer", e.0))?;
    let key = a.key.read()?;
    let client = a.node.client()?;
    let slot = TxSlot::next(&client, &key.account()).await?;
    let id = OfferId::derive(&slot.genesis, &key.account(), slot.nonce);
    let kind = TxKind::OfferOpen {
        terms: terms.clone(),
    };
    let c = client
        .submit(&sign(&key, slot, kind))
        .await
        .with_context(|| format!("offer_open by {}", key.account()))?;
    let mut v = c.raw.clone();
    v["offer"] = json!(id.to_hex());
    v["terms_hash"] = json!(terms.terms.to_hex());
    v["terms_text"] = json!(built);
    // The id alone on stdout, so `OFFER=$(ting market offer open ...)` works; the story on stderr.
    print_value(&v, json_out, |_| id.to_hex());
    if !json_out {
        let hashed = match (&a.text, &built) {
            (Some(path), _) => format!("the SHA-256 of {path}"),
            (None, Some(text)) => format!(
                "the SHA-256 of this text, made from the flags (give --text FILE \
                    to list your own):\n    {}",
                text.trim_end().replace('\n', "\n    ")
            ),
            (None, None) => String::new(),
        };
        eprintln!(
            "{}\noffer {id}: {} in {} for {}; its terms are {hashed}\nnext: \
                answer calls with `ting market provide --key {} --category {} \
                --area {} --price {} --deliver-in {} --offer {id}`",
            committed_line(
                &format!("offer listed (deposit of {OFFER_DEPOSIT} put down)"),
                &c
            ),
            terms.category,
            if terms.area.is_empty() {
                "anywhere"
            } else {
                &terms.area
            },
            terms.price,
            a.key.key.display(),
            terms.category,
            terms.area,
            terms.price,
            a.deliver_in,
        );
    }
    Ok(())
}

/// Signs `kind` with `key`'s next nonce, sends it and prints where it
/// landed as `what` (the order-book commands use it too).
pub(crate) async fn send(
    node: &NodeArg,
    key: &KeyArg,
    kind: TxKind,
    what: String,
    json_out: bool,
) -> anyhow::Result<()> {
    let key = key.read()?;
    let client = node.client()?;
    let name = kind.name();
    let c = sign_and_submit(&client, &key, kind)
        .await
        .with_context(|| format!("{name} by {}", key.account()))?;
    print_value(&c.raw, json_out, |_| committed_line(&what, &c));
    Ok(())
}

pub async fn offer_close(a: OfferCloseArgs, json_out: bool) -> anyhow::Result<()> {
    let offer = parse::offer(&a.offer)?;
    let what = format!("offer {offer} closed (deposit returned)");
    send(
        &a.node,
        &a.key,
        TxKind::OfferClose { offer },
        what,
        json_out,
    )
    .await
}

/// The open hold `id`, proved, or why it cannot be acted on.
async fn open_hold(node: &NodeArg, id: &HoldId) -> anyhow::Result<Hold> {
    node.verified_client()
        .await?
        .hold(id)
        .await?
        .ok_or_else(|| {
            crate::failure::refused(
                "unknown_hold",
                format!(
                    "the ledger proves hold {id} is not open: it ended (released, \
                refunded or decided), or was never made"
                ),
            )
        })
}

pub async fn decide(a: DecideArgs, json_out: bool) -> anyhow::Result<()> {
    let hold = parse::hold(&a.hold)?;
    let h = open_hold(&a.node, &hold).await?;
    let amount = h.terms.amount;
    if Amount::new(a.to_payee) > amount {
        return Err(bad_input(
            "decision_over_amount",
            format!("--to-payee {} is more than the hold's {amount}", a.to_payee),
        ));
    }
    let rest = amount.base_units() - a.to_payee;
    let what = format!(
        "decided: {} to the payee {}, {rest} and the deposit {} back to the payer {}",
        a.to_payee, h.terms.payee, h.deposit, h.payer
    );
    let kind = TxKind::HoldDecide {
        hold,
        to_payee: Amount::new(a.to_payee),
    };
    send(&a.node, &a.key, kind, what, json_out).await
}

pub async fn refund(a: RefundArgs, json_out: bool) -> anyhow::Result<()> {
    let hold = parse::hold(&a.hold)?;
    let h = open_hold(&a.node, &hold).await?;
    let who = a.key.read()?.account();
    let by = if who == h.terms.payee {
        "given back by the payee"
    } else {
        "taken back"
    };
    let what = format!(
        "refunded ({by}): {} and the deposit {} back to the payer {}",
        h.terms.amount, h.deposit, h.payer
    );
    send(&a.node, &a.key, TxKind::HoldRefund { hold }, what, json_out).await
}
