//! The payer's commands: `open`, `pay`, `top-up`, `reclaim`.
//!
//! Chain seeds are derived from the payer's secret key, the channel and the
//! segment number, so a lost channel file (or a crash between a top-up's
//! commit and its local record) never loses a seed: the same key makes it again.

use anyhow::Context;
use serde_json::json;
use ting_agent::client::LedgerChannel;
use ting_agent::clock::now;
use ting_agent::files::read_key;
use ting_agent::wallet::{sign, sign_and_submit, TxSlot};
use ting_agent::{channel_path, DurablePayer, Role};
use ting_core::channel::payer::{
    chain_segment, derive_chain_seed, ChannelTerms, NewSegment, Payer,
};
use ting_core::limits::CHAIN_LEN_MAX;
use ting_core::{Amount, ChannelId, ChannelMode, Keypair, Timestamp, TxKind};

use super::{no_channel_file, parse_channel, parse_duration_ms, Mode, OpenArgs, OpenFields};
use super::{PayArgs, ReclaimArgs, TopUpArgs, TopUpFields};
use crate::failure::bad_input;
use crate::kinds::parse_id;
use crate::output::{print_value, utc};
use crate::wallet::committed_line;

fn expiry_from_now(text: &str) -> anyhow::Result<Timestamp> {
    let ms = parse_duration_ms(text)?;
    Ok(Timestamp(now().0.saturating_add(ms)))
}

/// A channel open ready to sign, its payer's file already written.
#[derive(Debug)]
pub struct PreparedOpen {
    pub id: ChannelId,
    pub expires_at: Timestamp,
    pub mode: &'static str,
    pub kind: TxKind,
}

/// The payer's side of a new channel for `slot`, written to its file before
/// anything leaves (the seed is never only in flight), and the open to sign.
pub fn prepare_open(key: &Keypair, slot: TxSlot, f: &OpenFields) -> anyhow::Result<PreparedOpen> {
    f.check()?;
    let payee = parse_id("--payee", &f.payee)?;
    let id = ChannelId::derive(&slot.genesis, &key.account(), slot.nonce);
    let terms = ChannelTerms {
        network: slot.network,
        channel: id,
        payer: key.account(),
        payee,
        deposit: Amount::new(f.deposit),
        expires_at: expiry_from_now(&f.expires_in)?,
    };
    let (payer, mode) = match f.mode {
        Mode::Voucher => (Payer::open_voucher(terms), ChannelMode::Voucher),
        Mode::HashChain => {
            let price = f.price.unwrap_or(1);
            let affordable = u32::try_from(f.deposit / price).unwrap_or(u32::MAX);
            let len = f.ticks.unwrap_or(affordable.min(CHAIN_LEN_MAX));
            let segment = NewSegment {
                seed: derive_chain_seed(key, &id, 0),
                len,
            };
            Payer::open_hash_chain(terms, Amount::new(price), segment)
                .map_err(|e| bad_input(e.code(), format!("cannot open this chain: {e}")))?
        }
    };
    DurablePayer::create(&f.dir.state, payer).context("cannot write the payer's channel file")?;
    Ok(PreparedOpen {
        id,
        expires_at: terms.expires_at,
        mode: mode.name(),
        kind: TxKind::ChannelOpen {
            payee,
            deposit: Amount::new(f.deposit),
            expires_at: terms.expires_at,
            mode,
        },
    })
}

impl OpenFields {
    /// What can be found wrong before any file is read or any node asked.
    pub fn check(&self) -> anyhow::Result<()> {
        parse_id("--payee", &self.payee)?;
        parse_duration_ms(&self.expires_in)?;
        if self.mode == Mode::Voucher && (self.price.is_some() || self.ticks.is_some()) {
            return Err(bad_input(
                "invalid_field",
                "--price and --ticks are for hash-chain channels; a voucher channel is paid \
                 in amounts (`channel pay --amount N --key FILE`)",
            ));
        }
        if self.price == Some(0) {
            return Err(bad_input(
                "invalid_field",
                "--price must be at least 1 base unit per tick",
            ));
        }
        Ok(())
    }
}

pub async fn open(args: &OpenArgs, json_out: bool) -> anyhow::Result<()> {
    args.fields.check()?;
    let key = args.key.read()?;
    let client = args.node.client()?;
    let slot = TxSlot::next(&client, &key.account()).await?;
    let PreparedOpen {
        id,
        expires_at,
        mode: mode_name,
        kind,
    } = prepare_open(&key, slot, &args.fields)?;
    let committed = match client.submit(&sign(&key, slot, kind)).await {
        Ok(c) => c,
        Err(e) => {
            let path = channel_path(&args.fields.dir.state, Role::Payer, &id);
            if e.is_refusal() && ting_core::tx::refusal_is_final(e.code()) {
                // The channel can never exist, so its file must not either.
                let _ = std::fs::remove_file(&path);
                return Err(anyhow::Error::new(e).context("opening the channel"));
            }
            if e.is_refusal() {
                // Refused on today's state: the signed open could still apply
                // until its valid_until, so the file with its chain's seed stays.
                let context = format!(
                    "opening the channel (refused for now; the open could still apply until {}, so the payer file {} is kept: remove it after that, or once another transaction of this key has committed)",
                    utc(slot.valid_until),
                    path.display()
                );
                return Err(anyhow::Error::new(e).context(context));
            }
            return Err(anyhow::Error::new(e).context("opening the channel"));
        }
    };
    let out = json!({
        "channel": id.to_hex(),
        "mode": mode_name,
        "deposit": args.fields.deposit,
        "expires_at_ms": expires_at.0,
        "receipt": committed.raw,
    });
    print_value(&out, json_out, |_| {
        format!(
            "opened channel {id} ({mode_name}, deposit {}, expires {})\n{}",
            args.fields.deposit,
            utc(expires_at),
            committed_line("  the open", &committed)
        )
    });
    Ok(())
}

pub fn pay(args: &PayArgs, json_out: bool) -> anyhow::Result<()> {
    let id = parse_channel(&args.channel)?;
    let dir = &args.dir.state;
    let mut payer = match DurablePayer::open(dir, &id) {
        Ok(p) => p,
        Err(e) if super::is_missing(&e) => return Err(no_channel_file("payer", &id, dir)),
        Err(e) => return Err(anyhow::Error::new(e).context("reading the payer's channel file")),
    };
    let payment = match (args.units, args.amount, &args.key) {
        (Some(units), None, _) => payer.pay(units, now())?,
        (None, Some(amount), Some(key)) => {
            let key = read_key(key)?;
            payer.pay_amount(Amount::new(amount), now(), &key)?
        }
        _ => return Err(bad_input(
            "invalid_field",
            "give --units for a hash-chain channel, or --amount and --key for a voucher channel",
        )),
    };
    let out = json!({
        "channel": id.to_hex(),
        "payment_hex": hex::encode(payment.encode()),
        "paid_total": payer.payer().paid().base_units(),
    });
    print_value(&out, json_out, |v| {
        v["payment_hex"].as_str().unwrap_or_default().to_owned()
    });
    if !json_out {
        eprintln!(
            "paid {} in all on channel {id}; give the payment above to the payee (`ting channel accept`)",
            payer.payer().paid().base_units()
        );
    }
    Ok(())
}

/// A top-up ready to sign, and what the payer's file records once it commits.
#[derive(Debug)]
pub struct PreparedTopUp {
    pub kind: TxKind,
    pub expires_at: Timestamp,
    pub local: Option<DurablePayer>,
    pub extension: Option<NewSegment>,
}

/// The top-up `f` asks for, as a kind to sign, after bringing the payer's
/// file (if this machine has one) up to the ledger. `on_ledger` is the
/// channel as the node shows it, when the node can be asked.
pub fn prepare_top_up(
    key: &Keypair,
    f: &TopUpFields,
    on_ledger: Option<&LedgerChannel>,
) -> anyhow::Result<PreparedTopUp> {
    let id = parse_channel(&f.channel)?;
    let expires_at = match (&f.expires_in, on_ledger) {
        (Some(text), _) => expiry_from_now(text)?,
        (None, Some(l)) => l.terms.expires_at,
        (None, None) => {
            return Err(bad_input(
                "invalid_field",
                "give --expires-in: without the node, the channel's expiry is not known",
            ))
        }
    };
    let mut local = DurablePayer::open(&f.dir.state, &id).ok();
    if let (Some(payer), Some(l)) = (&mut local, on_ledger) {
        catch_up(payer, l, key)?;
    }
    let extension = match f.extend_ticks {
        None => None,
        Some(len) => {
            let Some(payer) = &local else {
                return Err(no_channel_file("payer", &id, &f.dir.state));
            };
            let number = payer
                .payer()
                .next_segment_number()
                .context("this channel cannot take another chain now")?;
            let seed = derive_chain_seed(key, &id, number);
            let segment = chain_segment(&id, number, NewSegment { seed, len })?;
            Some((NewSegment { seed, len }, segment))
        }
    };
    let kind = TxKind::ChannelTopUp {
        channel: id,
        amount: Amount::new(f.amount),
        expires_at,
        extension: extension.map(|(_, s)| s),
    };
    Ok(PreparedTopUp {
        kind,
        expires_at,
        local,
        extension: extension.map(|(n, _)| n),
    })
}

pub async fn top_up(args: &TopUpArgs, json_out: bool) -> anyhow::Result<()> {
    let key = args.key.read()?;
    let f = &args.fields;
    let id = parse_channel(&f.channel)?;
    let client = args.node.client()?;
    let on_ledger = client.channel(&id).await?;
    let PreparedTopUp {
        kind,
        expires_at,
        local,
        extension,
    } = prepare_top_up(&key, f, Some(&on_ledger))?;
    if f.amount == 0 && f.expires_in.is_none() && f.extend_ticks.is_none() {
        let out = json!({ "channel": id.to_hex(), "submitted": false });
        print_value(&out, json_out, |_| {
            format!("channel {id}: the payer's file agrees with the ledger; nothing to top up")
        });
        return Ok(());
    }
    let committed = sign_and_submit(&client, &key, kind)
        .await
        .context("topping up the channel")?;
    if let Some(mut payer) = local {
        payer
            .top_up(Amount::new(f.amount), expires_at, extension)
            .context("the top-up committed on the ledger, but the payer's channel file could not record it; `ting channel top-up` with nothing to add repairs it")?;
    }
    print_value(&committed.raw, json_out, |_| {
        committed_line(&format!("topped up channel {id}"), &committed)
    });
    Ok(())
}

/// Records in the payer's file a top-up the ledger holds but the file does not
/// (a crash between a top-up's commit and its local record). Its queued chain
/// is made again from the key and must match the ledger's anchor.
fn catch_up(
    payer: &mut DurablePayer,
    on_ledger: &LedgerChannel,
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
                anyhow::bail!("the chain queued on channel {id} was not made from this key");
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

pub async fn reclaim(args: &ReclaimArgs, json_out: bool) -> anyhow::Result<()> {
    let key = args.key.read()?;
    let id = parse_channel(&args.channel)?;
    let client = args.node.client()?;
    let committed = sign_and_submit(&client, &key, TxKind::ChannelReclaim { channel: id })
        .await
        .context("reclaiming the channel")?;
    super::payee::retire(&args.dir.state, Role::Payer, &id)?;
    print_value(&committed.raw, json_out, |_| {
        committed_line(
            &format!("reclaimed what was left in channel {id}"),
            &committed,
        )
    });
    Ok(())
}
