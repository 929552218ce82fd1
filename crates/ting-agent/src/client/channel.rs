//! A channel as `GET /v1/channels/{id}` shows it, read into the terms a
//! payer or payee keeps (docs/api.md §6.9).

use serde_json::Value;
use ting_core::channel::payer::ChannelTerms;
use ting_core::{Amount, ChainSegment, ChannelId, ChannelMode, NetworkId, Timestamp};

use super::views::{account, hash, number};
use super::HttpError;

/// A channel on the ledger.
#[derive(Clone, Debug)]
pub struct LedgerChannel {
    pub terms: ChannelTerms,
    /// The mode as the open set it, if the channel is still on its first chain.
    pub open_mode: Option<ChannelMode>,
    /// A queued chain (its segment number and anchor), if one is waiting.
    pub next: Option<(u32, ChainSegment)>,
    /// `open`, `closed_by_payee` or `reclaimed_by_payer`.
    pub status: String,
    pub raw: Value,
}

const WHAT: &str = "the node's channel";

fn segment(v: &Value, field_anchor: &str) -> Result<ChainSegment, HttpError> {
    let len = number(v, "chain_len", WHAT)?;
    Ok(ChainSegment {
        anchor: hash(v, field_anchor, WHAT)?,
        len: u32::try_from(len).map_err(|_| bad("chain_len"))?,
    })
}

fn bad(field: &str) -> HttpError {
    HttpError::BadResponse(format!("{WHAT} has an invalid `{field}`"))
}

impl LedgerChannel {
    pub(crate) fn from_json(
        network: NetworkId,
        id: &ChannelId,
        raw: Value,
    ) -> Result<LedgerChannel, HttpError> {
        let terms = ChannelTerms {
            network,
            channel: *id,
            payer: account(&raw, "payer", WHAT)?,
            payee: account(&raw, "payee", WHAT)?,
            deposit: Amount::new(number(&raw, "deposit", WHAT)?),
            expires_at: Timestamp(number(&raw, "expires_at_ms", WHAT)?),
        };
        let (open_mode, next) = match raw["mode"].as_str() {
            Some("voucher") => (Some(ChannelMode::Voucher), None),
            Some("hash_chain") => {
                let number_now = number(&raw, "segment", WHAT)?;
                let first = (number_now == 0)
                    .then(|| -> Result<ChannelMode, HttpError> {
                        Ok(ChannelMode::HashChain {
                            chain: segment(&raw, "anchor")?,
                            price: Amount::new(number(&raw, "price", WHAT)?),
                        })
                    })
                    .transpose()?;
                let next = match &raw["next"] {
                    Value::Null => None,
                    n => {
                        let following = number_now.checked_add(1).ok_or_else(|| bad("segment"))?;
                        let following = u32::try_from(following).map_err(|_| bad("segment"))?;
                        Some((following, segment(n, "anchor")?))
                    }
                };
                (first, next)
            }
            _ => return Err(bad("mode")),
        };
        Ok(LedgerChannel {
            terms,
            open_mode,
            next,
            status: raw["status"].as_str().unwrap_or("unknown").to_owned(),
            raw,
        })
    }

    /// A channel read from its proved ledger record; `raw` is the node's
    /// answer, kept for display.
    pub(crate) fn from_channel(
        network: NetworkId,
        id: &ChannelId,
        c: &ting_core::channel::Channel,
        raw: Value,
    ) -> LedgerChannel {
        use ting_core::channel::ChannelTerms as Ledger;
        let terms = ChannelTerms {
            network,
            channel: *id,
            payer: c.payer,
            payee: c.payee,
            deposit: c.deposit,
            expires_at: c.expires_at,
        };
        let (open_mode, next) = match &c.mode {
            Ledger::Voucher => (Some(ChannelMode::Voucher), None),
            Ledger::HashChain(h) => {
                let first = (h.segment == 0).then_some(ChannelMode::HashChain {
                    chain: h.current,
                    price: h.price,
                });
                let next = h
                    .next
                    .and_then(|n| h.segment.checked_add(1).map(|following| (following, n)));
                (first, next)
            }
        };
        LedgerChannel {
            terms,
            open_mode,
            next,
            status: c
                .closed
                .map_or("open", |closed| closed.by.name())
                .to_owned(),
            raw,
        }
    }
}
