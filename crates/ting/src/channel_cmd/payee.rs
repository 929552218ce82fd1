//! The payee's commands: `accept`, `claim`, `close`.
//!
//! A payee's channel file is made from the ledger's view of the channel the
//! first time a payment for it arrives; a payment that the file's terms
//! refuse because the payer topped up since (more deposit, a later expiry, a
//! queued chain) makes the CLI read the ledger again and retry once.

use anyhow::Context;
use serde_json::json;
use ting_agent::clock::now;
use ting_agent::wallet::sign_and_submit;
use ting_agent::{channel_path, DurableAcceptError, DurablePayee, NodeClient, Role};
use ting_core::channel::payee::{Accepted, ClaimPolicy, Payee};
use ting_core::{Amount, ChannelId, ChannelProof, Keypair, Payment, TxKind};

use super::{is_missing, no_channel_file, parse_channel, AcceptArgs, ClaimArgs, CloseArgs};
use crate::failure::{bad_input, refused};
use crate::output::print_value;
use crate::wallet::committed_line;

pub async fn accept(args: &AcceptArgs, json_out: bool) -> anyhow::Result<()> {
    let client = args.node.client()?;
    let (id, accepted) = accept_hex(&client, &args.dir.state, &args.payment).await?;
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

/// A payment given as hex on the command line, decoded.
pub fn parse_payment(text: &str) -> anyhow::Result<Payment> {
    let text = text.trim();
    if text.len() > 2 * Payment::BYTES_MAX {
        return Err(bad_input(
            "too_long",
            format!("a payment is at most {} bytes", Payment::BYTES_MAX),
        ));
    }
    let bytes =
        hex::decode(text).map_err(|_| bad_input("invalid_field", "the payment is not hex"))?;
    Payment::decode(&bytes)
        .map_err(|e| bad_input(e.code(), format!("the payment does not decode: {e}")))
}

async fn accept_hex(
    client: &NodeClient,
    dir: &std::path::Path,
    text: &str,
) -> anyhow::Result<(ChannelId, Accepted)> {
    let payment = parse_payment(text)?;
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
    client: &NodeClient,
    dir: &std::path::Path,
    id: &ChannelId,
) -> anyhow::Result<DurablePayee> {
    match DurablePayee::open(dir, id) {
        Ok(p) => return Ok(p),
        Err(e) if is_missing(&e) => {}
        Err(e) => return Err(anyhow::Error::new(e).context("reading the payee's channel file")),
    }
    let on_ledger = client.channel(id).await?;
    if on_ledger.status != "open" {
        return Err(refused(
            "channel_not_open",
            format!("channel {id} is {} on the ledger", on_ledger.status),
        ));
    }
    let Some(mode) = on_ledger.open_mode else {
        return Err(refused(
            "channel_past_first_chain",
            format!("channel {id} has moved past its first chain; this payee cannot start tracking it now"),
        ));
    };
    let mut payee = DurablePayee::create(dir, Payee::new(on_ledger.terms, mode))
        .context("cannot write the payee's channel file")?;
    if let Some(next) = on_ledger.next {
        payee.record_top_up(Amount::ZERO, on_ledger.terms.expires_at, Some(next))?;
    }
    Ok(payee)
}

/// Brings the payee's terms up to the ledger's: deposit, expiry, a queued chain.
async fn refresh(client: &NodeClient, payee: &mut DurablePayee) -> anyhow::Result<()> {
    let id = payee.payee().terms().channel;
    let on_ledger = client.channel(&id).await?;
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

/// The payee's file for `id`, which must exist.
pub fn open_payee(dir: &std::path::Path, id: &ChannelId) -> anyhow::Result<DurablePayee> {
    match DurablePayee::open(dir, id) {
        Ok(p) => Ok(p),
        Err(e) if is_missing(&e) => Err(no_channel_file("payee", id, dir)),
        Err(e) => Err(anyhow::Error::new(e).context("reading the payee's channel file")),
    }
}

pub async fn claim(args: &ClaimArgs, json_out: bool) -> anyhow::Result<()> {
    let key = args.key.read()?;
    let id = parse_channel(&args.channel)?;
    let client = args.node.client()?;
    if let Some(text) = &args.payment {
        let (paid_on, _) = accept_hex(&client, &args.dir.state, text).await?;
        if paid_on != id {
            return Err(bad_input(
                "wrong_channel",
                format!("the payment is for channel {paid_on}, not {id}"),
            ));
        }
    }
    let mut payee = open_payee(&args.dir.state, &id)?;
    let plan = payee.claim_plan(now(), &ClaimPolicy::ALWAYS)?;
    let claims = plan.len();
    for proof in plan {
        submit_claim(&client, &key, &mut payee, id, proof).await?;
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
    client: &NodeClient,
    key: &Keypair,
    payee: &mut DurablePayee,
    channel: ChannelId,
    proof: ChannelProof,
) -> anyhow::Result<()> {
    match sign_and_submit(client, key, TxKind::ChannelClaim { channel, proof }).await {
        Ok(_) => {}
        Err(e) if e.code() == "stale_claim" => {}
        Err(e) => return Err(anyhow::Error::new(e).context("claiming on the ledger")),
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

pub async fn close(args: &CloseArgs, json_out: bool) -> anyhow::Result<()> {
    let key = args.key.read()?;
    let id = parse_channel(&args.channel)?;
    let client = args.node.client()?;
    let mut plan = match DurablePayee::open(&args.dir.state, &id) {
        Ok(mut payee) => {
            let mut plan = payee.claim_plan(now(), &ClaimPolicy::ALWAYS)?;
            let last = plan.pop();
            for proof in plan {
                submit_claim(&client, &key, &mut payee, id, proof).await?;
            }
            last.map(|proof| (payee, proof))
        }
        Err(e) if is_missing(&e) => None,
        Err(e) => return Err(anyhow::Error::new(e).context("reading the payee's channel file")),
    };
    let proof = plan.as_ref().map(|(_, proof)| *proof);
    let committed = sign_and_submit(&client, &key, TxKind::ChannelClose { channel: id, proof })
        .await
        .context("closing the channel")?;
    if let Some((payee, proof)) = &mut plan {
        payee.record_claim(proof)?;
    }
    retire(&args.dir.state, Role::Payee, &id)?;
    print_value(&committed.raw, json_out, |_| {
        committed_line(&format!("closed channel {id}"), &committed)
    });
    Ok(())
}
