//! The payee's commands: `accept`, `claim`, `close`.
//!
//! A payee's channel file is made from the ledger's view of the channel the
//! first time a payment for it arrives; a payment that the file's terms
//! refuse because the payer topped up since (more deposit, a later expiry, a
//! queued chain) makes the CLI read the ledger again and retry once.

use anyhow::{bail, Context};
use serde_json::json;
use ting_agent::{channel_path, DurableAcceptError, DurablePayee, Role, StoreError};
use ting_core::channel::payee::{Accepted, ClaimPolicy, Payee};
use ting_core::{Amount, ChannelId, ChannelProof, Keypair, Payment, TxKind};
use ting_node::files::read_key;

use super::payer::print_done;
use super::{ledger, now, parse_channel, AcceptArgs, ClaimArgs, CloseArgs};
use crate::client::{Client, ClientError};
use crate::output::print_value;
use crate::wallet::sign_and_submit;

pub async fn accept(client: &Client, args: &AcceptArgs, json_out: bool) -> anyhow::Result<()> {
    let (id, accepted) = accept_hex(client, &args.dir.state, &args.payment).await?;
    let out = json!({
        "channel": id.to_hex(),
        "newly_paid": accepted.newly_paid.base_units(),
        "total": accepted.total.base_units(),
    });
    print_value(&out, json_out, |v| {
        format!(
            "payment good: {} newly paid, {} in all on channel {id}",
            v["newly_paid"], v["total"]
        )
    });
    Ok(())
}

async fn accept_hex(
    client: &Client,
    dir: &std::path::Path,
    text: &str,
) -> anyhow::Result<(ChannelId, Accepted)> {
    let text = text.trim();
    if text.len() > 2 * Payment::BYTES_MAX {
        bail!("a payment is at most {} bytes", Payment::BYTES_MAX);
    }
    let bytes = hex::decode(text).context("the payment is not hex")?;
    let payment = Payment::decode(&bytes).context("the payment does not decode")?;
    let id = payment.channel;
    let mut payee = open_or_create(client, dir, &id).await?;
    let accepted = match payee.accept_payment(&payment, now()) {
        Err(DurableAcceptError::Refused(e))
            if matches!(
                e.code(),
                "unknown_segment" | "over_deposit" | "channel_expired"
            ) =>
        {
            refresh(client, &mut payee).await?;
            payee.accept_payment(&payment, now())?
        }
        other => other?,
    };
    Ok((id, accepted))
}

/// The payee's file for `id`, made from the ledger's view if there is none yet.
async fn open_or_create(
    client: &Client,
    dir: &std::path::Path,
    id: &ChannelId,
) -> anyhow::Result<DurablePayee> {
    match DurablePayee::open(dir, id) {
        Ok(p) => return Ok(p),
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).context("reading the payee's channel file"),
    }
    let on_ledger = ledger::fetch(client, id).await?;
    if on_ledger.status != "open" {
        bail!("channel {id} is {} on the ledger", on_ledger.status);
    }
    let Some(mode) = on_ledger.open_mode else {
        bail!(
            "channel {id} has moved past its first chain; this payee cannot start tracking it now"
        );
    };
    let mut payee = DurablePayee::create(dir, Payee::new(on_ledger.terms, mode))
        .context("cannot write the payee's channel file")?;
    if let Some(next) = on_ledger.next {
        payee.record_top_up(Amount::ZERO, on_ledger.terms.expires_at, Some(next))?;
    }
    Ok(payee)
}

/// Brings the payee's terms up to the ledger's: deposit, expiry, a queued chain.
async fn refresh(client: &Client, payee: &mut DurablePayee) -> anyhow::Result<()> {
    let id = payee.payee().terms().channel;
    let on_ledger = ledger::fetch(client, &id).await?;
    let known = payee.payee().terms();
    let more = on_ledger
        .terms
        .deposit
        .checked_sub(known.deposit)
        .unwrap_or(Amount::ZERO);
    let expires = on_ledger.terms.expires_at.max(known.expires_at);
    match payee.record_top_up(more, expires, on_ledger.next) {
        Err(e) if e.code() == "segment_queued" => payee.record_top_up(more, expires, None)?,
        other => other?,
    }
    Ok(())
}

pub async fn claim(client: &Client, args: &ClaimArgs, json_out: bool) -> anyhow::Result<()> {
    let key = read_key(&args.key)?;
    let id = parse_channel(&args.channel)?;
    if let Some(text) = &args.payment {
        let (paid_on, _) = accept_hex(client, &args.dir.state, text).await?;
        if paid_on != id {
            bail!("the payment is for channel {paid_on}, not {id}");
        }
    }
    let mut payee = DurablePayee::open(&args.dir.state, &id).with_context(|| {
        format!("no payee state for channel {id}: accept a payment first, or pass --payment")
    })?;
    let plan = payee.claim_plan(now(), &ClaimPolicy::ALWAYS)?;
    let claims = plan.len();
    for proof in plan {
        submit_claim(client, &key, &mut payee, id, proof).await?;
    }
    let out = json!({
        "channel": id.to_hex(),
        "claims": claims,
        "claimed": payee.payee().claimed().base_units(),
    });
    print_value(&out, json_out, |v| {
        if claims == 0 {
            format!(
                "nothing to claim on channel {id}: {} claimed already",
                v["claimed"]
            )
        } else {
            format!(
                "claimed in {claims} transaction(s): {} in all on channel {id}",
                v["claimed"]
            )
        }
    });
    Ok(())
}

/// Submits one claim and records it; a claim the ledger already holds counts as done.
async fn submit_claim(
    client: &Client,
    key: &Keypair,
    payee: &mut DurablePayee,
    channel: ChannelId,
    proof: ChannelProof,
) -> anyhow::Result<()> {
    match sign_and_submit(client, key, TxKind::ChannelClaim { channel, proof }).await {
        Ok(_) => {}
        Err(e) if refusal_code(&e) == Some("stale_claim") => {}
        Err(e) => return Err(e),
    }
    payee.record_claim(&proof)?;
    Ok(())
}

/// Moves a settled channel's file aside (`.closed`), so no later payment is
/// taken for it from this machine's stale view.
pub(crate) fn retire(dir: &std::path::Path, role: Role, id: &ChannelId) -> anyhow::Result<()> {
    let path = channel_path(dir, role, id);
    match std::fs::rename(&path, path.with_extension("closed")) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot move {} aside", path.display()))
        }
        _ => Ok(()),
    }
}

fn refusal_code(e: &anyhow::Error) -> Option<&str> {
    match e.downcast_ref::<ClientError>() {
        Some(ClientError::Api { code, .. }) => Some(code.as_str()),
        _ => None,
    }
}

pub async fn close(client: &Client, args: &CloseArgs, json_out: bool) -> anyhow::Result<()> {
    let key = read_key(&args.key)?;
    let id = parse_channel(&args.channel)?;
    let mut plan = match DurablePayee::open(&args.dir.state, &id) {
        Ok(mut payee) => {
            let mut plan = payee.claim_plan(now(), &ClaimPolicy::ALWAYS)?;
            let last = plan.pop();
            for proof in plan {
                submit_claim(client, &key, &mut payee, id, proof).await?;
            }
            last.map(|proof| (payee, proof))
        }
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).context("reading the payee's channel file"),
    };
    let proof = plan.as_ref().map(|(_, proof)| *proof);
    let result = sign_and_submit(client, &key, TxKind::ChannelClose { channel: id, proof }).await?;
    if let Some((payee, proof)) = &mut plan {
        payee.record_claim(proof)?;
    }
    retire(&args.dir.state, Role::Payee, &id)?;
    print_done(&result, json_out, &format!("closed channel {id}"));
    Ok(())
}
