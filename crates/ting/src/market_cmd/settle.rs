//! After `buy`: the buyer's device opened again from its state directory to
//! release the hold of a call with its sensor's signed evidence
//! (`confirm`), on its own word (`release`), or to hand it to the arbiter
//! (`dispute`), each through `ting_agent::market::Buyer` so the contract
//! file follows.
//!
//! `confirm` checks the evidence against the hold's rule before anything
//! leaves (the signer is the rule's device, every field meets its
//! condition), since the ledger's refusal would reach the buyer without its
//! reason. `release --hold` signs a plain `hold_release` for whoever else
//! may release (an arbiter under an arbiter rule, the payer's owner).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use ting_agent::files::read_key;
use ting_agent::market::contract::Contract;
use ting_agent::market::{Buyer, BuyerEvent, Policy};
use ting_agent::wallet::sign_and_submit;
use ting_api::market::evidence_json;
use ting_core::market::{Condition, Evidence, FieldRule, ReleaseRule};
use ting_core::{Hash32, TxKind};

use super::device::{drain, market_err, open};
use super::events::call_terms;
use super::words::release_words;
use super::{parse, DeviceArgs};
use crate::failure::{bad_input, refused};
use crate::output::print_value;
use crate::wallet::committed_line;

/// The longest reason a dispute hashes.
const REASON_BYTES_MAX: usize = 4096;

#[derive(Debug, Args)]
pub struct ConfirmArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// The call, as `ting market buy` printed it.
    pub call: String,
    /// What the device observed, NAME=VALUE (a whole number, or text; "812" in quotes is text);
    /// repeat for each, up to 8.
    #[arg(long = "field", value_name = "NAME=VALUE", required = true)]
    pub fields: Vec<String>,
    /// The key that signs the evidence: the hold's evidence device (default: this device's own
    /// key).
    #[arg(long, value_name = "FILE")]
    pub sensor_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// The call, as `ting market buy` printed it (the buyer's contract is released).
    #[arg(required_unless_present = "hold", conflicts_with = "hold")]
    pub call: Option<String>,
    /// Instead of a call: release this hold directly (an arbiter under an arbiter rule, the
    /// payer's owner).
    #[arg(long, value_name = "HOLD")]
    pub hold: Option<String>,
}

#[derive(Debug, Args)]
pub struct DisputeArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// The call, as `ting market buy` printed it.
    pub call: String,
    /// What went wrong, in words: the ledger keeps its SHA-256; give the arbiter the text.
    #[arg(long)]
    pub reason: String,
}

/// One rule of a template in words: `flow_ml_min >= 500`.
fn condition_words(r: &FieldRule) -> String {
    match &r.condition {
        Condition::Equals(t) => format!("{} = {}", r.name, String::from_utf8_lossy(t)),
        Condition::AtLeast(n) => format!("{} >= {n}", r.name),
        Condition::AtMost(n) => format!("{} <= {n}", r.name),
    }
}

/// The contract for `call` that can still be released, or why not.
fn releasable(buyer: &Buyer, call: &Hash32, a: &DeviceArgs) -> anyhow::Result<Contract> {
    let c = buyer.contract(call).ok_or_else(|| {
        bad_input(
            "unknown_contract",
            format!(
                "{} keeps no contract for call {call}: `ting market contracts \
                --key {}` lists the calls it has",
                a.state.dir(&a.key).display(),
                a.key.key.display()
            ),
        )
    })?;
    match c.status.as_str() {
        "accepted" | "releasing" => Ok(c.clone()),
        "calling" | "holding" => Err(bad_input(
            "not_yet_accepted",
            format!(
                "call {call} has no accepted hold yet ({}): `ting market buy` carries it on",
                c.status
            ),
        )),
        ended => Err(refused(
            "contract_ended",
            format!("call {call} has ended ({ended}); `ting market contracts` shows how"),
        )),
    }
}

async fn open_buyer(
    a: &DeviceArgs,
) -> anyhow::Result<(ting_agent::Device, super::device::StateLock, Buyer)> {
    let (device, lock) = open(&a.key, &a.state, &a.node).await?;
    let buyer = Buyer::open(&device, Policy::default()).map_err(market_err)?;
    Ok((device, lock, buyer))
}

pub async fn confirm(a: ConfirmArgs, json_out: bool) -> anyhow::Result<()> {
    let call = parse::call(&a.call)?;
    let fields = parse::fields(&a.fields)?;
    let sensor = a.sensor_key.as_deref().map(read_key).transpose()?;
    let (device, _lock, mut buyer) = open_buyer(&a.device).await?;
    let c = releasable(&buyer, &call, &a.device)?;
    let hold = c.hold.expect("an accepted contract names its hold");
    let ReleaseRule::Evidence {
        device: signer_wanted,
        template,
    } = &c.call.call.rule
    else {
        return Err(bad_input(
            "no_evidence_rule",
            format!(
                "hold {hold} is {}: evidence does not release it (`ting market \
                release` does, for the payer)",
                release_words(&call_terms(&c.call.call))
            ),
        ));
    };
    let signer = sensor.as_ref().unwrap_or(device.key());
    let signed_by = signer.account();
    if signed_by != *signer_wanted {
        return Err(bad_input(
            "not_the_evidence_device",
            format!(
                "hold {hold} is released by evidence signed by {signer_wanted}, \
                and this key is {signed_by}: give that device's key with \
                --sensor-key FILE"
            ),
        ));
    }
    let evidence = Evidence {
        hold,
        observed_at: device.now(),
        fields,
    };
    evidence
        .check()
        .map_err(|e| bad_input("invalid_evidence", format!("--field: {e}")))?;
    if let Err(field) = template.matches(&evidence) {
        let rule = template
            .rules
            .iter()
            .find(|r| r.name == field)
            .map(condition_words)
            .unwrap_or_default();
        return Err(bad_input(
            "evidence_mismatch",
            format!(
                "the evidence does not meet the hold's rule {rule}, so it would \
                not release hold {hold}: give --field {field} as the device \
                measured it"
            ),
        ));
    }
    let signed = evidence.sign(signer, &device.genesis_hash());
    let event = buyer
        .confirm(&device, &call, signed.clone())
        .await
        .map_err(market_err)?;
    let drained = drain(&device).await;
    device.shutdown().await;
    let (provider, price) = c
        .chosen
        .as_ref()
        .map(|(p, pr)| (*p, pr.price))
        .expect("an accepted contract names its provider");
    let status = match event {
        Some(BuyerEvent::Released { .. }) => "released",
        Some(BuyerEvent::Ended { .. }) => "ended",
        _ => {
            return Err(refused(
                "evidence_refused",
                format!(
                    "the ledger did not release hold {hold} with this evidence; the \
                    contract is back to accepted (`ting market hold show {hold}` \
                    shows its phase: a disputed hold takes no evidence)"
                ),
            ))
        }
    };
    let v = json!({
        "call": call.to_hex(),
        "hold": hold.to_hex(),
        "status": status,
        "provider": provider.to_did(),
        "amount": price.base_units(),
        "evidence": evidence_json(&signed),
        "provider_told": drained,
    });
    print_value(&v, json_out, |_| match status {
        "released" => format!(
            "released: {price} paid to {provider} with the evidence signed \
            by {signed_by}; hold {hold} ended"
        ),
        _ => format!(
            "hold {hold} had already ended when this evidence reached the ledger: \
            the provider, which it was passed to, presented it first (`ting market \
            reputation {provider} --category {}` shows the release)",
            c.call.call.category
        ),
    });
    Ok(())
}

pub async fn release(a: ReleaseArgs, json_out: bool) -> anyhow::Result<()> {
    if let Some(hold) = &a.hold {
        let hold = parse::hold(hold)?;
        let key = a.device.key.read()?;
        let client = a.device.node.client()?;
        let kind = TxKind::HoldRelease {
            hold,
            evidence: None,
        };
        let c = sign_and_submit(&client, &key, kind).await?;
        print_value(&c.raw, json_out, |_| {
            committed_line(&format!("hold {hold} released to its payee"), &c)
        });
        return Ok(());
    }
    let call = parse::call(a.call.as_deref().unwrap_or_default())?;
    let (device, _lock, mut buyer) = open_buyer(&a.device).await?;
    let c = releasable(&buyer, &call, &a.device)?;
    let hold = c.hold.expect("an accepted contract names its hold");
    let event = buyer.release(&device, &call).await.map_err(market_err)?;
    device.shutdown().await;
    let (provider, price) = c
        .chosen
        .as_ref()
        .map(|(p, pr)| (*p, pr.price))
        .expect("an accepted contract names its provider");
    let status = match event {
        Some(BuyerEvent::Released { .. }) => "released",
        Some(BuyerEvent::Ended { .. }) => "ended",
        _ => {
            return Err(refused(
                "release_refused",
                format!(
                    "the ledger did not release hold {hold}; `ting market hold show \
            {hold}` shows where it stands"
                ),
            ))
        }
    };
    let v = json!({
        "call": call.to_hex(),
        "hold": hold.to_hex(),
        "status": status,
        "provider": provider.to_did(),
        "amount": price.base_units(),
    });
    print_value(&v, json_out, |_| match status {
        "released" => {
            format!("released on the payer's word: {price} paid to {provider}; hold {hold} ended")
        }
        _ => format!("hold {hold} had already ended"),
    });
    Ok(())
}

pub async fn dispute(a: DisputeArgs, json_out: bool) -> anyhow::Result<()> {
    let call = parse::call(&a.call)?;
    if a.reason.trim().is_empty() || a.reason.len() > REASON_BYTES_MAX {
        return Err(bad_input(
            "bad_reason",
            format!("--reason says what went wrong in 1 to {REASON_BYTES_MAX} bytes"),
        ));
    }
    let reason = Hash32::digest(&[a.reason.as_bytes()]);
    let (device, _lock, mut buyer) = open_buyer(&a.device).await?;
    let c = releasable(&buyer, &call, &a.device)?;
    let hold = c.hold.expect("an accepted contract names its hold");
    let Some(arbiter) = c.call.call.arbiter else {
        return Err(bad_input(
            "no_arbiter",
            format!(
                "call {call} named no arbiter, so its hold cannot be disputed: \
                release it, or wait for its deadline and grace and take it back \
                (`ting market refund`)"
            ),
        ));
    };
    buyer
        .dispute(&device, &call, reason)
        .await
        .map_err(market_err)?;
    device.shutdown().await;
    let v = json!({
        "call": call.to_hex(),
        "hold": hold.to_hex(),
        "arbiter": arbiter.to_did(),
        "reason": a.reason,
        "reason_hash": reason.to_hex(),
    });
    print_value(&v, json_out, |_| {
        format!(
            "disputed hold {hold}: evidence no longer releases it, and the \
                arbiter {arbiter} decides\n  the ledger keeps the SHA-256 of \
                your reason, {reason}: give the arbiter the text itself\n  the \
                arbiter: ting market decide --key ARBITER.key {hold} --to-payee \
                N"
        )
    });
    Ok(())
}
