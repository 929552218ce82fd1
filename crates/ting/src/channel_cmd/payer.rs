//! The payer's commands: `open`, `pay`, `top-up`, `reclaim`.
//!
//! Chain seeds are derived from the payer's secret key, the channel and the
//! segment number, so a lost channel file (or a crash between a top-up's
//! commit and its local record) never loses a seed: the same key makes it again.

use anyhow::{bail, Context};
use serde_json::{json, Value};
use ting_agent::{channel_path, DurablePayer, Role};
use ting_core::channel::payer::{
    chain_segment, derive_chain_seed, ChannelTerms, NewSegment, Payer,
};
use ting_core::limits::CHAIN_LEN_MAX;
use ting_core::{Amount, ChannelId, ChannelMode, Keypair, Timestamp, TxKind};
use ting_node::files::read_key;

use super::{ledger, now, parse_channel, parse_duration_ms, Mode, OpenArgs, PayArgs};
use super::{ReclaimArgs, TopUpArgs};
use crate::client::{Client, ClientError};
use crate::output::print_value;
use crate::wallet::{network_id, next_nonce, parse_id, sign_and_submit, submit_signed};

fn expiry_from_now(text: &str) -> anyhow::Result<Timestamp> {
    let ms = parse_duration_ms(text)?;
    Ok(Timestamp(now().0.saturating_add(ms)))
}

pub async fn open(client: &Client, args: &OpenArgs, json_out: bool) -> anyhow::Result<()> {
    let key = read_key(&args.key)?;
    let payee = parse_id("--payee", &args.payee)?;
    let network = network_id(client).await?;
    let nonce = next_nonce(client, &key.account()).await?;
    let id = ChannelId::derive(network, &key.account(), nonce);
    let terms = ChannelTerms {
        network,
        channel: id,
        payer: key.account(),
        payee,
        deposit: Amount::new(args.deposit),
        expires_at: expiry_from_now(&args.expires_in)?,
    };
    let (payer, mode) = match args.mode {
        Mode::Voucher => (Payer::open_voucher(terms), ChannelMode::Voucher),
        Mode::HashChain => {
            if args.price == 0 {
                bail!("--price must be at least 1 base unit per tick");
            }
            let affordable = u32::try_from(args.deposit / args.price).unwrap_or(u32::MAX);
            let len = args.ticks.unwrap_or(affordable.min(CHAIN_LEN_MAX));
            let segment = NewSegment {
                seed: derive_chain_seed(&key, &id, 0),
                len,
            };
            Payer::open_hash_chain(terms, Amount::new(args.price), segment)
                .context("cannot open this chain")?
        }
    };
    let dir = &args.dir.state;
    // The payer's file exists before the open leaves: the seed is never only in flight.
    DurablePayer::create(dir, payer).context("cannot write the payer's channel file")?;
    let kind = TxKind::ChannelOpen {
        payee,
        deposit: Amount::new(args.deposit),
        expires_at: terms.expires_at,
        mode,
    };
    let result = match submit_signed(client, &key, network, nonce, kind).await {
        Ok(v) => v,
        Err(e) => {
            if is_refusal(&e) {
                // Refused: the channel does not exist, so its file must not either.
                let _ = std::fs::remove_file(channel_path(dir, Role::Payer, &id));
            }
            return Err(e);
        }
    };
    let out = json!({
        "channel": id.to_hex(),
        "mode": mode.name(),
        "deposit": args.deposit,
        "expires_at_ms": terms.expires_at.0,
        "receipt": result,
    });
    print_value(&out, json_out, |v| {
        format!(
            "opened channel {} ({}, deposit {}) in block {}",
            id,
            v["mode"].as_str().unwrap_or("?"),
            args.deposit,
            v["receipt"]["height"]
        )
    });
    Ok(())
}

/// Whether `e` is the node refusing the transaction (so it will never commit).
fn is_refusal(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<ClientError>(),
        Some(ClientError::Api { status, .. }) if status.is_client_error()
    )
}

pub fn pay(args: &PayArgs, json_out: bool) -> anyhow::Result<()> {
    let id = parse_channel(&args.channel)?;
    let mut payer = DurablePayer::open(&args.dir.state, &id)
        .with_context(|| format!("no payer state for channel {id} in {:?}", args.dir.state))?;
    let payment = match (args.units, args.amount, &args.key) {
        (Some(units), None, _) => payer.pay(units, now())?,
        (None, Some(amount), Some(key)) => {
            let key = read_key(key)?;
            payer.pay_amount(Amount::new(amount), now(), &key)?
        }
        _ => bail!(
            "give --units for a hash-chain channel, or --amount and --key for a voucher channel"
        ),
    };
    let out = json!({
        "channel": id.to_hex(),
        "payment_hex": hex::encode(payment.encode()),
        "paid_total": payer.payer().paid().base_units(),
    });
    print_value(&out, json_out, |v| {
        format!(
            "{}\n(paid {} in all on this channel; give the line above to the payee)",
            v["payment_hex"].as_str().unwrap_or(""),
            v["paid_total"]
        )
    });
    Ok(())
}

pub async fn top_up(client: &Client, args: &TopUpArgs, json_out: bool) -> anyhow::Result<()> {
    let key = read_key(&args.key)?;
    let id = parse_channel(&args.channel)?;
    let on_ledger = ledger::fetch(client, &id).await?;
    let expires_at = match &args.expires_in {
        Some(text) => expiry_from_now(text)?,
        None => on_ledger.terms.expires_at,
    };
    let mut local = DurablePayer::open(&args.dir.state, &id).ok();
    if let Some(payer) = &mut local {
        catch_up(payer, &on_ledger, &key)?;
    }
    if args.amount == 0 && args.expires_in.is_none() && args.extend_ticks.is_none() {
        let out = json!({ "channel": id.to_hex(), "submitted": false });
        print_value(&out, json_out, |_| {
            format!("channel {id}: the payer's file agrees with the ledger; nothing to top up")
        });
        return Ok(());
    }
    let extension = match args.extend_ticks {
        None => None,
        Some(len) => {
            let Some(payer) = &local else {
                bail!(
                    "queuing more ticks needs the payer's channel file in {:?}",
                    args.dir.state
                );
            };
            let number = payer
                .payer()
                .next_segment_number()
                .context("this channel cannot take another chain now")?;
            let seed = derive_chain_seed(&key, &id, number);
            let segment = chain_segment(&id, number, NewSegment { seed, len })?;
            Some((NewSegment { seed, len }, segment))
        }
    };
    let kind = TxKind::ChannelTopUp {
        channel: id,
        amount: Amount::new(args.amount),
        expires_at,
        extension: extension.map(|(_, s)| s),
    };
    let result = sign_and_submit(client, &key, kind).await?;
    if let Some(payer) = &mut local {
        payer
            .top_up(Amount::new(args.amount), expires_at, extension.map(|(n, _)| n))
            .context("the top-up committed on the ledger, but the payer's channel file could not record it")?;
    }
    print_done(&result, json_out, &format!("topped up channel {id}"));
    Ok(())
}

/// Records in the payer's file a top-up the ledger holds but the file does not
/// (a crash between a top-up's commit and its local record). Its queued chain
/// is made again from the key and must match the ledger's anchor.
fn catch_up(
    payer: &mut DurablePayer,
    on_ledger: &ledger::LedgerChannel,
    key: &Keypair,
) -> anyhow::Result<()> {
    let known = payer.payer().terms();
    let id = known.channel;
    let more = on_ledger.terms.deposit.checked_sub(known.deposit);
    let missing_chain = on_ledger
        .next
        .filter(|(number, _)| payer.payer().next_segment_number() == Some(*number));
    let later = on_ledger.terms.expires_at > known.expires_at;
    let Some(more) = more.filter(|m| !m.is_zero() || missing_chain.is_some() || later) else {
        return Ok(());
    };
    let extension = match missing_chain {
        None => None,
        Some((number, segment)) => {
            let seed = derive_chain_seed(key, &id, number);
            let ours = chain_segment(
                &id,
                number,
                NewSegment {
                    seed,
                    len: segment.len,
                },
            )?;
            if ours != segment {
                bail!("the chain queued on channel {id} was not made from this key");
            }
            Some(NewSegment {
                seed,
                len: segment.len,
            })
        }
    };
    payer
        .top_up(more, on_ledger.terms.expires_at, extension)
        .context("cannot bring the payer's channel file up to the ledger")?;
    Ok(())
}

pub async fn reclaim(client: &Client, args: &ReclaimArgs, json_out: bool) -> anyhow::Result<()> {
    let key = read_key(&args.key)?;
    let id = parse_channel(&args.channel)?;
    let result = sign_and_submit(client, &key, TxKind::ChannelReclaim { channel: id }).await?;
    super::payee::retire(&args.dir.state, Role::Payer, &id)?;
    print_done(
        &result,
        json_out,
        &format!("reclaimed what was left in channel {id}"),
    );
    Ok(())
}

pub(crate) fn print_done(result: &Value, json_out: bool, what: &str) {
    print_value(result, json_out, |v| {
        format!(
            "{what}: committed in block {} as {}",
            v["height"],
            v["tx_hash"].as_str().unwrap_or("?")
        )
    });
}
